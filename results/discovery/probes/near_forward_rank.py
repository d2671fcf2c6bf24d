"""Where friendly orders rank in the insertion neighbourhood of a miss.

  python results/discovery/probes/near_forward_rank.py TASK L ESTIMATOR ORDER [SEED]

TASK as in refine_variants.py (index_d2, sine, ...), ORDER the order a
search ended on ("0 1 2 3 8 4 5 6 7 9"), ESTIMATOR one of ind300, ind1000,
ind1000x2 (Independent, 1,000 steps, 2 seeds), ind3000, halving (150 / 450 /
1,050 steps, eta 2), halving700 (100 / 300 / 700, eta 2). Profiles ORDER and
its (L-1)^2 insertion neighbours, prints the ranks of the friendly orders
among them (exact or equivalent; none when ORDER is two moves away), the best
friendly score against the best score, the best order, ORDER's own rank and
the time.
"""
import sys
import time

import numpy as np

import lopro
from lopro import neighbourhoods

name, length, variant, order = (sys.argv[1], int(sys.argv[2]), sys.argv[3],
                                np.array(sys.argv[4].split(), np.int64))
seed = int(sys.argv[5]) if len(sys.argv) > 5 else 0
kwargs = {}
if name.startswith('index_d'):
  name, kwargs = 'index', {'d': int(name[len('index_d'):])}
task = lopro.get_task(name, length, **kwargs)
estimator = {
    'ind300': lopro.Independent(),
    'ind1000': lopro.Independent(train=lopro.TrainConfig(steps=1000)),
    'ind1000x2': lopro.Independent(train=lopro.TrainConfig(steps=1000),
                                   num_seeds=2),
    'ind3000': lopro.Independent(train=lopro.TrainConfig(steps=3000)),
    'halving': lopro.Halving(train=lopro.TrainConfig(steps=1050), eta=2,
                             rungs=3),
    'halving700': lopro.Halving(train=lopro.TrainConfig(steps=700), eta=2,
                                rungs=3),
}[variant]
perms = neighbourhoods.insertion_moves(order)
t0 = time.time()
profile = lopro.profile_orders(perms, task, estimator=estimator, seed=seed)
seconds = time.time() - t0
ranking = np.asarray(profile.ranking)
scores = np.asarray(profile.scores)
friendly = [i for i in range(len(perms)) if task.is_friendly(perms[i])]
ranks = [int(np.where(ranking == i)[0][0]) + 1 for i in friendly]
best = ranking[0]
best_friendly = min(scores[friendly], default=np.nan)
print(f'{sys.argv[1]} L={length} {variant} seed={seed} from {sys.argv[4]}:',
      f'{len(perms)} orders, friendly ranks {sorted(ranks)},',
      f'best friendly {best_friendly:.4f} vs best {scores[best]:.4f}',
      f'({" ".join(map(str, perms[best]))}), start rank',
      int(np.where(ranking == 0)[0][0]) + 1, f'{seconds:.0f} s', flush=True)
