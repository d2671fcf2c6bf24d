"""The default structured-init search with its universal model scored another way.

  python results/discovery/probes/structured_variants.py TASK L VARIANT [SEED]

VARIANT: default (the default's universal model), aucN (N held-out
checkpoints, the mean over them: lopro.scores.auc()), wWsS (a universal
model W wide trained S steps), refineaucN (the default search, then up to 6
insertion rounds from its order scored by the same universal training run
read at N checkpoints, their mean: a learning curve, not the converged
model's loss, ranks near-equal orders). Prints the order found, whether it is
friendly, forward's and the found order's scores, the order-profiles and
the time, then the order-profiles and seconds of each stage.
"""
import dataclasses
import sys
import time

from absl import logging
import numpy as np

import lopro
from lopro import scores as scores_lib
from lopro import search as search_lib
from lopro import strategies

name, length, variant = sys.argv[1], int(sys.argv[2]), sys.argv[3]
seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
task = lopro.get_task(name, length)
strategy, scorer = search_lib.default_method(length, init='structured')
if variant.startswith('auc'):
  scorer = dataclasses.replace(scorer, num_checkpoints=int(variant[3:]),
                               score=scores_lib.auc())
if variant.startswith('refineauc'):
  strategy = strategies.Pipeline(
      (strategy, scorer),
      (strategies.Insertion(rounds=6, name='refine'),
       dataclasses.replace(scorer, num_checkpoints=int(variant[9:]),
                           score=scores_lib.auc())))
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
# Where the order-profiles and the time went, by stage (global, local,
# insertion): profiled orders and seconds.
stages = {}
for record in result.history:
  kind = record.name.split()[0]
  done, secs = stages.get(kind, (0, 0.0))
  stages[kind] = (done + len(record.candidates) - record.num_reused,
                  secs + record.seconds)
print('  by stage:', ', '.join(f'{k} {n} orders {s:.0f} s'
                               for k, (n, s) in stages.items()), flush=True)
