"""What item 4's evaluation costs: one cell's three orders, cpu preset.

  python results/discovery/probes/eval_time.py TASK L

Times the held-out set's construction, then ``lopro.evaluate_orders`` of
forward, reverse and one rotation (a cell evaluates 3 orders) with the cpu
preset cut to 10 and to 60 training steps, seed 0; each call compiles its
own program and decodes the 1,000 held-out examples, so the difference of
the two is 50 training steps of 3 orders.
"""
import sys
import time

import numpy as np

import lopro
from lopro import evaluate

name, length = sys.argv[1], int(sys.argv[2])
task = lopro.get_task(name, length)
perms = np.stack([np.arange(length), np.arange(length)[::-1],
                  np.roll(np.arange(length), 1)])
start = time.time()
evaluate.heldout_set(task, lopro.EvalConfig.cpu(), 0)
print(f'held-out set (3,000-step streams excluded): '
      f'{time.time() - start:.1f} s', flush=True)
for steps in (10, 60):
  start = time.time()
  lopro.evaluate_orders(perms, task, config=lopro.EvalConfig.cpu(steps=steps),
                        seed=0)
  print(f'{name} L={length}, {steps} steps, 3 orders: '
        f'{time.time() - start:.1f} s', flush=True)
