"""The default structured-init search with its universal model scored another way.

  python results/discovery/probes/structured_variants.py TASK L VARIANT [SEED]

VARIANT: default (the default's universal model), aucN (N held-out
checkpoints, the mean over them: lopro.scores.auc()), wWsS (a universal
model W wide trained S steps). Prints the order found, whether it is
friendly, forward's and the found order's scores, the order-profiles and
the time.
"""
import dataclasses
import sys
import time

from absl import logging
import numpy as np

import lopro
from lopro import scores as scores_lib
from lopro import search as search_lib

name, length, variant = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
task = lopro.get_task(name, length)
strategy, scorer = search_lib.default_method(length, init='structured')
if variant.startswith('auc'):
  scorer = dataclasses.replace(scorer, num_checkpoints=int(variant[3:]),
                               score=scores_lib.auc())
if variant.startswith('w'):
  width, steps = (int(v) for v in variant[1:].split('s'))
  scorer = dataclasses.replace(scorer, train=dataclasses.replace(
      scorer.train, width=width, steps=steps))
logging.set_verbosity(logging.INFO)
t0 = time.time()
result = lopro.search_order(task, strategy=strategy, estimator=scorer,
                            seed=seed)
seconds = time.time() - t0
both = lopro.profile_orders(np.stack([np.arange(length), result.order]), task,
                            seed=seed, estimator=scorer).scores
print(f'{name} L={length} {variant} seed={seed}:',
      ' '.join(map(str, result.order)), task.friendly_match(result.order),
      f'forward {both[0]:.5f} found {both[1]:.5f}',
      f'{result.num_profiled} profiles {seconds:.0f} s', flush=True)
