"""How well do other profiling models rank a finished delay row's orders?

  python results/delay/probes/profile_spearman.py SYSTEM SEED EST W L STEPS...

Reads the finished row ``SYSTEM seed=SEED`` of
``results/delay/delay_systems.cells.json`` (its orders and their measured
success), profiles the same hand-designed and random orders and the searched
order for each of STEPS training steps, seed SEED, and prints every score,
the time of each profile and Spearman's rho of score against success over
the hand-designed and random orders (the table's rho; negative is the good
sign). EST is ``independent`` (one model per order, batch 32, as the
search's refine stage) or ``universal`` (one any-order model, batch 128, as
the search's first stage); the model has width W and L layers.
"""
import json
import os
import sys
import time

import numpy as np
from scipy import stats

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.dirname(os.path.abspath(__file__))))))
# pylint: disable=wrong-import-position
from experiments.tables import delay  # noqa: E402
import lopro  # noqa: E402
from lopro import orders  # noqa: E402

name, seed = sys.argv[1], int(sys.argv[2])
kind, width, layers = sys.argv[3], int(sys.argv[4]), int(sys.argv[5])
steps_list = [int(s) for s in sys.argv[6:]]
ESTIMATORS = {
    'independent': lambda train: lopro.Independent(train=train),
    'universal': lambda train: lopro.Universal(train=train),
}
BATCH = {'independent': 32, 'universal': 128}
cells = os.path.join(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))), 'delay_systems.cells.json')
with open(cells) as f:
  row = json.load(f)['cells'][f'{name} seed={seed}']
labels = [o['name'] for o in row['orders']] + ['searched']
strings = [o['order'] for o in row['orders']] + [row['searched']['order']]
success = np.array([o['success'] for o in row['orders']]
                   + [row['searched']['success']])
perms = np.stack([orders.order_from_string(s) for s in strings])
task = delay.system_task(name)
for steps in steps_list:
  start = time.time()
  profile = lopro.profile_orders(
      perms, task, seed=seed, estimator=ESTIMATORS[kind](lopro.TrainConfig(
          steps=steps, batch_size=BATCH[kind], width=width,
          num_layers=layers)))
  scores = np.asarray(profile.scores)
  print(f'{kind} {width}x{layers}, {steps} steps ({time.time() - start:.0f} s):',
        flush=True)
  for label, string, rate, score in zip(labels, strings, success, scores):
    print(f'  {label:15s} {string:30s} {100 * rate:5.1f}% {score:.4f}')
  rho = stats.spearmanr(scores[:-1], success[:-1])
  print(f'  Spearman (without searched): {rho.statistic:.3f} '
        f'(p {rho.pvalue:.2g})', flush=True)
