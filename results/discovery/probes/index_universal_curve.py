"""Does the universal model's learning curve rank index d=2's forward first?

  python results/discovery/probes/index_universal_curve.py L SEED [STEPS WIDTH]

The default first stage at 11 <= L <= 13 scores orders by one universal
model (width 32, 3,000 steps) at its end, which ranks index d=2's forward
order 2nd of 16 at L=13 (``index_universal_steps.py``). Here the same
training run (or STEPS, WIDTH) is read at 6 evenly spaced checkpoints:
forward, the order the default search ended on at (L, SEED) where the table
has one, reverse and 13 random orders, seed SEED; prints forward's rank at
each checkpoint and by the mean over them (``lopro.scores.auc()``).
"""
import json
import sys
import time

import jax
import numpy as np

import lopro
from lopro import orders
from lopro import scores as scores_lib

length, seed = int(sys.argv[1]), int(sys.argv[2])
steps = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
width = int(sys.argv[4]) if len(sys.argv) > 4 else 32
task = lopro.get_task('index', length, d=2)
cells = json.load(open('results/discovery/discovery_default.cells.json'))
cell = cells['cells'].get(f'index_d2 L={length} seed={seed}')
found = (orders.order_from_string(cell['order']) if cell
         else orders.reverse(length))
rand = np.asarray(orders.sample_orders(jax.random.key(7), 13, length))
perms = np.concatenate([np.stack([orders.identity(length), found,
                                  orders.reverse(length)]), rand])
t0 = time.time()
profile = lopro.profile_orders(perms, task, seed=seed, estimator=lopro.Universal(
    train=lopro.TrainConfig(steps=steps, batch_size=128, width=width),
    num_checkpoints=6, score=scores_lib.auc()))
losses = np.asarray(profile.losses)
print(f'index d=2 L={length} seed {seed}, universal w{width} {steps} steps '
      f'({time.time() - t0:.0f} s); found: {" ".join(map(str, found))} '
      f'({cell["match"] if cell else "no cell: reverse twice"})')
for c, step in enumerate(profile.loss_steps):
  column = losses[:, c]
  print(f'  step {int(step):5d}: forward {column[0]:.4f} found '
        f'{column[1]:.4f} best other {np.min(column[1:]):.4f}, forward '
        f'rank {int(np.sum(column < column[0])) + 1}/{len(column)}')
s = np.asarray(profile.scores)
print(f'  mean of the 6: forward {s[0]:.4f} found {s[1]:.4f} best other '
      f'{np.min(s[1:]):.4f}, forward rank {int(np.sum(s < s[0])) + 1}/'
      f'{len(s)}', flush=True)
