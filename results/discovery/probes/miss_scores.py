"""One model per order scores a miss against the friendly order and reverse.

  python results/discovery/probes/miss_scores.py TASK L SEED "ORDER"

TASK as in refine_variants.py (index_d2, sine, ...). Profiles the task's
friendly order, ORDER and reverse with ``Independent`` at 300 steps (the
refine's profile) and 1,000 steps, seed SEED, and prints their scores (lower
is better) and the time of each profile.
"""
import sys
import time

import numpy as np

import lopro

name, length, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
order = np.array(sys.argv[4].split(), np.int64)
kwargs = {}
if name.startswith('index_d'):
  name, kwargs = 'index', {'d': int(name[len('index_d'):])}
task = lopro.get_task(name, length, **kwargs)
perms = np.stack([task.friendly_order, order, np.arange(length)[::-1]])
for steps in (300, 1000):
  start = time.time()
  profile = lopro.profile_orders(
      perms, task, seed=seed,
      estimator=lopro.Independent(train=lopro.TrainConfig(steps=steps)))
  friendly, miss, reverse = np.asarray(profile.scores)
  print(f'{steps} steps: friendly {friendly:.4f}, order {miss:.4f}, '
        f'reverse {reverse:.4f} ({time.time() - start:.0f} s)', flush=True)
