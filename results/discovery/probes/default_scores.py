"""Scores given orders with the default method's first-stage estimator.

  python results/discovery/probes/default_scores.py TASK L SEED "ORDER" ...

Profiles forward, the orders given (space-separated slots) and, for each,
the order with its input-copy slot moved to the front, with
``lopro.default_method(L)``'s estimator and the search's seed, so a search's
end point can be set against forward under the very model the search used:
forward scoring lower means the search stopped short (a search miss), the
end point scoring lower means the estimator misranks (a profiler miss).
"""
import sys

import numpy as np

import lopro

name, length, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
task = lopro.get_task(name, length)
_, estimator = lopro.default_method(length)
given = [np.array([int(s) for s in arg.split()]) for arg in sys.argv[4:]]
copy_slot = int(task.chain[0]) if getattr(task, 'chain', None) is not None \
    else 0
labels, perms = ['forward'], [np.arange(length)]
for k, order in enumerate(given):
  labels.append(f'given {k}')
  perms.append(order)
  front = np.concatenate([[copy_slot], order[order != copy_slot]])
  labels.append(f'given {k}, slot {copy_slot} first')
  perms.append(front)
profile = lopro.profile_orders(np.stack(perms), task, estimator=estimator,
                               seed=seed)
for label, perm, score in zip(labels, perms, np.asarray(profile.scores)):
  print(f'{name} L={length} seed {seed} {label}: {score:.5f}  '
        f'friendly={task.is_friendly(perm)}', flush=True)
