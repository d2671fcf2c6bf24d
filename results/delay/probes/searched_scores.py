"""One model per order scores a delay system's searched order against its
hand-designed ones.

  python results/delay/probes/searched_scores.py SYSTEM SEED "ORDER" [W L]

SYSTEM as in ``experiments/tables/delay.SYSTEMS``. Profiles every
hand-designed order and ORDER with ``Independent`` at 300 steps (the search's
refine profile) and 1,000 steps, seed SEED, and prints their scores (lower
is better), whether each is a topological sort, and the time of each profile.
W and L set the profiling model's width and layers (default: the
``TrainConfig`` default, 32 and 1).
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
# pylint: disable=wrong-import-position
from experiments.tables import delay  # noqa: E402
import lopro  # noqa: E402
from lopro import orders  # noqa: E402
from lopro.tasks import delay as delay_tasks  # noqa: E402

name, seed = sys.argv[1], int(sys.argv[2])
order = np.array(sys.argv[3].split(), np.int64)
model = {}
if len(sys.argv) > 4:
  model = dict(width=int(sys.argv[4]), num_layers=int(sys.argv[5]))
task = delay.system_task(name)
parents, n = delay.SYSTEMS[name]
named = dict(delay_tasks.hand_designed_orders(parents, n), searched=order)
perms = np.stack(list(named.values()))
for steps in (300, 1000):
  start = time.time()
  profile = lopro.profile_orders(
      perms, task, seed=seed,
      estimator=lopro.Independent(train=lopro.TrainConfig(steps=steps, **model)))
  print(f'{steps} steps ({time.time() - start:.0f} s):', flush=True)
  for (label, perm), score in zip(named.items(), np.asarray(profile.scores)):
    valid = 'topological' if orders.is_topological(perm, task) else 'not topological'
    print(f'  {label:15s} {orders.order_to_string(perm):30s} {score:.4f} '
          f'({valid})', flush=True)
