"""Does the universal model's learning curve rank forward first near it at L=40?

python results/discovery/probes/universal_checkpoints_L40.py TASK STEPS CHECKPOINTS "FOUND" [WIDTH [SEED]]

Trains one Universal model (width WIDTH, default 32; batch 128; seed SEED,
default 0) with CHECKPOINTS held-out evaluations, scores forward, its 39 adjacent swaps and FOUND on 512 held-out
examples, and prints forward's rank at every checkpoint and under auc().
"""
import sys
import time

import numpy as np

import lopro
from lopro import neighbourhoods
from lopro import scores as scores_lib

task, steps, ckpts = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
L = 40
found = np.array([int(x) for x in sys.argv[4].split()])
width = int(sys.argv[5]) if len(sys.argv) > 5 else 32
seed = int(sys.argv[6]) if len(sys.argv) > 6 else 0
t = lopro.get_task(task, L)
fwd = np.arange(L)
p = np.concatenate([neighbourhoods.insertion_moves(fwd, 1), found[None]])
est = lopro.Universal(train=lopro.TrainConfig(steps=steps, batch_size=128,
                                              width=width),
                      num_checkpoints=ckpts, num_heldout=512)
t0 = time.time()
prof = lopro.profile_orders(p, t, seed=seed, estimator=est)
print(task, 'steps', steps, 'width', width, 'seed', seed,
      'time %.0fs' % (time.time() - t0))
rank = lambda s: int(np.sum(s < s[0])) + 1
for c in range(prof.losses.shape[1]):
  s = prof.losses[:, c]
  print('checkpoint step %6d  fwd %.5f found %.5f  fwd rank %2d of %d' % (
      prof.loss_steps[c], s[0], s[-1], rank(s), len(p)))
for name, sc in (('auc', scores_lib.auc()), ('final', scores_lib.final()),
                 ('last half', scores_lib.final(0.5))):
  s = scores_lib.score_losses(prof.losses, sc)
  print('%-10s fwd rank %2d of %d, best %s' % (name, rank(s), len(p),
                                                p[int(np.argmin(s))][:6]))
