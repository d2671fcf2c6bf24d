"""Builds an order front to back from per-slot losses (a probe).

  PYTHONPATH=. python results/discovery/probes/greedy_build.py ROW L SEED STEPS [REST]

ROW is a discovery row (relu, sine, index_d2, planted_13, ...). At position
k, with the prefix P chosen so far, every slot s not in P is tried as
``P + [s] + rest`` (rest: the other slots in the order of REST, default the
order the discovery table's cell (ROW, L, SEED) ended on, else forward
reversed), each profiled by one model per order (``Independent(steps=STEPS,
slot_losses=True)``), and the slot whose own loss is lowest is appended.
Causal attention means slot s's loss at position k reads P alone, so the
choice does not depend on the rest, only the training does. Prints each
position's pick, the rank among the candidates of the first slot of the
friendly order not yet chosen, and at
the end the order built, whether the task counts it friendly, its score
and the rest order's score at STEPS, and the time.
"""
import json
import sys
import time

import numpy as np

import lopro
from experiments.tables import discovery

row, length, seed, steps = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                            int(sys.argv[4]))
name, kwargs = discovery.DISCOVERY_ROWS[row]
task = lopro.get_task(name, length, **kwargs)
if len(sys.argv) > 5:
  rest = [int(x) for x in sys.argv[5].split()]
else:
  cells = json.load(open('results/discovery/discovery_default.cells.json'))
  cell = cells['cells'].get(f'{row} L={length} seed={seed}', {})
  rest = ([int(x) for x in cell['order'].split()] if 'order' in cell
          else list(range(length))[::-1])
estimator = lopro.Independent(train=lopro.TrainConfig(steps=steps),
                              slot_losses=True)
friendly = [int(x) for x in task.friendly_order]
t0, prefix, profiled = time.perf_counter(), [], 0
while len(prefix) < length - 1:
  left = [s for s in rest if s not in prefix]
  perms = np.array([prefix + [s] + [r for r in left if r != s]
                    for s in left])
  profile = lopro.profile_orders(perms, task, seed=seed, estimator=estimator)
  profiled += len(perms)
  own = profile.slot_losses[np.arange(len(left)), left]
  pick = left[int(np.argmin(own))]
  ranked = [left[i] for i in np.argsort(own)]
  k, want = len(prefix), next(s for s in friendly if s not in prefix)
  print(f'k={k:2d} pick {pick:2d} (loss {own.min():.4f}); friendly next '
        f'{want} rank {ranked.index(want) + 1}/{len(left)} '
        f'(loss {own[left.index(want)]:.4f}); next best {ranked[1]} '
        f'{np.sort(own)[1]:.4f}  {time.perf_counter() - t0:.0f}s', flush=True)
  prefix.append(pick)
order = prefix + [s for s in rest if s not in prefix]
final = lopro.profile_orders(np.array([order, rest]), task, seed=seed,
                             estimator=lopro.Independent(
                                 train=lopro.TrainConfig(steps=steps)))
print(json.dumps(dict(
    row=row, length=length, seed=seed, steps=steps, rest=rest, order=order,
    match=task.friendly_match(np.array(order)),
    score=float(final.scores[0]), rest_score=float(final.scores[1]),
    profiled=profiled, seconds=round(time.perf_counter() - t0))), flush=True)
