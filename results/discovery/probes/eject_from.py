"""The ejection chain, then an insertion climb, from a search's end order.

  PYTHONPATH=. python results/discovery/probes/eject_from.py TASK L SEED "ORDER"

TASK: a row of the discovery table (index_d2, sine, planted_13, ...;
``experiments.tables.discovery.DISCOVERY_ROWS``; run from the repository root
with ``PYTHONPATH=.``). Runs
``Pipeline((Eject(), Independent(slot_losses=True)), (Insertion(rounds=6,
name='reclimb'), Independent()))`` from ORDER, seed SEED (every profile uses
it, as a search's stages do), and prints every profiling run: the chain's
orders with their scores, then the climb's rounds; then the end order and
whether the task counts it as friendly. Asks whether the chain takes a
search's miss (a local optimum of the insertion climb) to the friendly order.
"""
import sys
import time

import jax
import numpy as np

import lopro
from experiments.tables import discovery
from lopro import strategies

name, length, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
start = np.array(sys.argv[4].split(), np.int64)
task_name, kwargs = discovery.DISCOVERY_ROWS[name]
task = lopro.get_task(task_name, length, **kwargs)
strategy = strategies.Pipeline(
    (strategies.Eject(), lopro.Independent(slot_losses=True)),
    (strategies.Insertion(rounds=6, name='reclimb'), lopro.Independent()))
state = strategy.init(jax.random.key(seed), length, start[None])
t0 = time.time()
while len(perms := strategy.ask(state)):
  stage = state['stage']
  profile = lopro.profile_orders(perms, task, seed=seed,
                                 estimator=strategy.estimator_for(state))
  if strategy.wants_slot_losses(state):
    state = strategy.tell(state, perms, profile.scores,
                          slot_losses=profile.slot_losses)
  else:
    state = strategy.tell(state, perms, profile.scores)
  best = perms[int(np.argmin(profile.scores))]
  print(f'{stage:12s} {len(perms):4d} orders, best {np.min(profile.scores):.4f}'
        f' {" ".join(map(str, best))} ({task.friendly_match(best)}), '
        f'{time.time() - t0:.0f} s', flush=True)
order, score = strategy.best(state)
print(f'end: {" ".join(map(str, order))} {score:.4f} '
      f'{task.friendly_match(order)} ({time.time() - t0:.0f} s)')
