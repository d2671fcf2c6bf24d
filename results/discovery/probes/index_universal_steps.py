"""Does a longer-trained universal model rank index d=2's forward order first?

  python results/discovery/probes/index_universal_steps.py [L]

Scores forward, the order the default search found at L=13, reverse and 13
random orders (the set of index_L13.py) with universal models of width 32
trained 3,000 / 6,000 / 12,000 steps (batch 128), seed 0.
"""
import sys
import time

import jax
import numpy as np

import lopro
from lopro import orders

length = int(sys.argv[1]) if len(sys.argv) > 1 else 13
task = lopro.get_task('index', length, d=2)
found = [8, 2, 3, 10, 5, 9, 0, 1, 7, 11, 12, 4, 6][:length]
rand = np.asarray(orders.sample_orders(jax.random.key(7), length, 13))
perms = np.concatenate([np.array([np.arange(length), found,
                                  np.arange(length)[::-1]]), rand])
for steps in (3000, 6000, 12000):
  t0 = time.time()
  scores = lopro.profile_orders(perms, task, seed=0, estimator=lopro.Universal(
      train=lopro.TrainConfig(steps=steps, batch_size=128, width=32))).scores
  print(f'universal w32 {steps} steps: forward {scores[0]:.4f} found '
        f'{scores[1]:.4f} reverse {scores[2]:.4f}, forward ranked '
        f'{int(np.sum(scores < scores[0])) + 1}/{len(scores)}, '
        f'{time.time() - t0:.0f} s', flush=True)
