import time, numpy as np, jax, lopro
from lopro import orders
t = lopro.get_task('index', 13, d=2)
found = [8,2,3,10,5,9,0,1,7,11,12,4,6]
rand = np.asarray(orders.sample_orders(jax.random.key(7), 13, 13))
p = np.concatenate([np.array([np.arange(13), found, np.arange(13)[::-1]]), rand])
for steps in (300, 1000):
  for s in (0, 1):
    t0 = time.time()
    sc = lopro.profile_orders(p, t, seed=s, estimator=lopro.Independent(train=lopro.TrainConfig(steps=steps))).scores
    print('independent', steps, s, 'fwd %.4f found %.4f rev %.4f rank of fwd %d/%d' % (sc[0], sc[1], sc[2], int(np.sum(sc < sc[0])) + 1, len(sc)), '%.0fs' % (time.time() - t0), flush=True)
for w in (32, 64):
  t0 = time.time()
  sc = lopro.profile_orders(p, t, seed=0, estimator=lopro.Universal(train=lopro.TrainConfig(steps=3000, batch_size=128, width=w))).scores
  print('universal w', w, 'fwd %.4f found %.4f rev %.4f rank of fwd %d/%d' % (sc[0], sc[1], sc[2], int(np.sum(sc < sc[0])) + 1, len(sc)), '%.0fs' % (time.time() - t0), flush=True)
