"""The ejection chain as a last stage, replayed on finished discovery cells.

  PYTHONPATH=. python results/discovery/probes/eject_replay.py OUT.json [LENGTHS] [ROWS] [MARGIN]

For every finished cell of ``results/discovery/discovery_default.cells.json``
at LENGTHS (comma-separated, default all) and ROWS (comma-separated row
names, default all), runs ``Eject(margin=MARGIN, climb=Insertion(rounds=R,
name='reclimb'))`` (MARGIN default 0) scored by ``Independent(slot_losses=True)`` (R: the default refine's rounds
at L) from the cell's order with the cell's seed, and records the order it
ends on, whether the task counts it as friendly, the chain's best move, the
order-profiles and the seconds (``chain_seconds``: the chain's alone). A stage appended to the default after its
last one starts from the cell's order and draws nothing at random, so this is
what the default with that stage would end on. Cells already in OUT are
skipped (rerun to resume); OUT is rewritten after each cell.
"""
import json
import os
import sys
import time

import jax
import numpy as np

import lopro
from lopro import results
from lopro import strategies
from experiments.tables import discovery

out_path = sys.argv[1]
lengths = ({int(x) for x in sys.argv[2].split(',')} if len(sys.argv) > 2
           and sys.argv[2] else None)
rows = (set(sys.argv[3].split(',')) if len(sys.argv) > 3 and sys.argv[3]
        else None)
margin = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
cells = json.load(open('results/discovery/discovery_default.cells.json'))
done = json.load(open(out_path)) if os.path.exists(out_path) else {}
for key, cell in cells['cells'].items():
  if 'order' not in cell or key in done:
    continue
  if lengths and cell['length'] not in lengths:
    continue
  if rows and cell['row'] not in rows:
    continue
  length, seed = cell['length'], cell['seed']
  name, kwargs = discovery.DISCOVERY_ROWS[cell['row']]
  task = lopro.get_task(name, length, **kwargs)
  rounds = 12 if length <= 10 else 6
  strategy = strategies.Eject(margin=margin, climb=strategies.Insertion(
      rounds=rounds, name='reclimb'))
  estimator = lopro.Independent(slot_losses=True)
  start = np.array(cell['order'].split(), np.int64)
  state = strategy.init(jax.random.key(seed), length, start[None])
  t0, profiled, chain, chain_seconds = time.perf_counter(), 0, [], None
  while len(perms := strategy.ask(state)):
    profile = lopro.profile_orders(perms, task, seed=seed,
                                   estimator=estimator)
    profiled += len(perms)
    if strategy.wants_slot_losses(state):
      chain.append(float(profile.scores[0]))
      state = strategy.tell(state, perms, profile.scores,
                            slot_losses=profile.slot_losses)
    else:
      state = strategy.tell(state, perms, profile.scores)
    if chain_seconds is None and not strategy.wants_slot_losses(state):
      chain_seconds = time.perf_counter() - t0
  order, score = strategy.best(state)
  done[key] = dict(
      row=cell['row'], length=length, seed=seed, before=cell['match'],
      start=start.tolist(), order=order.tolist(),
      match=task.friendly_match(order), score=score, chain_scores=chain,
      chain_best=int(np.argmin(chain)), profiled=profiled,
      seconds=time.perf_counter() - t0,
      chain_seconds=chain_seconds or time.perf_counter() - t0, margin=margin,
      local_optimum=bool(state['local_optimum']),
      cell_seconds=cell['seconds'])
  print(f'{key}: {cell["match"]} -> {done[key]["match"]} (chain best move '
        f'{done[key]["chain_best"]}, {profiled} orders, '
        f'{done[key]["seconds"]:.0f} s)', flush=True)
  results.atomic_write_json(out_path, done)
