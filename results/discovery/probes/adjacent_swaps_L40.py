import time, sys, numpy as np, lopro
from lopro import neighbourhoods
task, L = sys.argv[1], int(sys.argv[2])
start = np.array([int(x) for x in sys.argv[3].split(',')]) if len(sys.argv) > 3 else None
t = lopro.get_task(task, L)
if start is None:
  start = np.arange(L); start[[1, 2]] = start[[2, 1]]
nb = neighbourhoods.insertion_moves(start, 1)
for s in (0,):
  t0 = time.time()
  sc = lopro.profile_orders(nb, t, seed=s).scores
  fwd = int(np.where((nb == t.friendly_order).all(1))[0][0]) if any((nb == t.friendly_order).all(1)) else None
  best = nb[int(np.argmin(sc))]
  print(task, L, 'seed', s, 'orders', len(nb), 'start score %.4f' % sc[0], 'friendly in nb', fwd is not None,
        'rank of friendly', None if fwd is None else int(np.sum(sc < sc[fwd])) + 1, 'best', best.tolist()[:6], 'score %.4f' % sc.min(), '%.0fs' % (time.time() - t0), flush=True)
