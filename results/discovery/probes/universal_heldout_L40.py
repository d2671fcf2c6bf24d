import time, sys, numpy as np, lopro
from lopro import neighbourhoods
task, L = sys.argv[1], 40
found = np.array([int(x) for x in sys.argv[2].split()])
t = lopro.get_task(task, L)
fwd = np.arange(L)
nb = neighbourhoods.insertion_moves(fwd, 1)
p = np.concatenate([nb, found[None]])
train = lopro.TrainConfig(steps=12000, batch_size=128, width=32)
for m in (128, 512, 2048):
  t0 = time.time()
  sc = lopro.profile_orders(p, t, seed=0, estimator=lopro.Universal(train=train, num_heldout=m)).scores
  print(task, 'heldout', m, 'fwd %.5f found %.5f' % (sc[0], sc[-1]), 'rank of fwd among fwd+39 swaps+found', int(np.sum(sc < sc[0])) + 1, 'of', len(p), 'best', p[int(np.argmin(sc))][:8].tolist(), '%.0fs' % (time.time() - t0), flush=True)
