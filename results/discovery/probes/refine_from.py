"""Insertion rounds from a given order, scored by a universal learning curve.

  python results/discovery/probes/refine_from.py TASK L SEED CHECKPOINTS "ORDER"

Climbs by single-slot insertion moves (up to 6 rounds) from ORDER, every
order scored by the default method's universal model at L (its training run
and SEED) read at CHECKPOINTS evenly spaced held-out evaluations, their mean
(``lopro.scores.auc()``): the learning curve rather than the converged
model's loss. Prints each round's best order and score, whether it is
friendly, and the time. Asks whether a search's end point that the final
checkpoint misranks is climbed back to forward by the curve.
"""
import dataclasses
import sys
import time

import jax
import numpy as np

import lopro
from lopro import scores as scores_lib
from lopro import strategies

name, length, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
checkpoints = int(sys.argv[4])
start = np.array([int(s) for s in sys.argv[5].split()])
task = lopro.get_task(name, length)
_, scorer = lopro.default_method(length)
scorer = dataclasses.replace(scorer, num_checkpoints=checkpoints,
                             score=scores_lib.auc())
strategy = strategies.Insertion(rounds=6, name='refine')
state = strategy.init(jax.random.key(seed), length, start[None])
t0 = time.time()
while len(perms := strategy.ask(state)):
  scores = lopro.profile_orders(perms, task, estimator=scorer,
                                seed=seed).scores
  state = strategy.tell(state, perms, scores)
  # The climb's current order (``best`` is set when the climb ends).
  order, score = state['kept'][0], float(np.min(scores))
  print(f'{name} L={length} seed {seed} auc{checkpoints}: round of '
        f'{len(perms)} orders (the current order scores {scores[0]:.5f}), '
        f'best {score:.5f}', ' '.join(map(str, order)),
        task.friendly_match(order), f'{time.time() - t0:.0f} s', flush=True)
