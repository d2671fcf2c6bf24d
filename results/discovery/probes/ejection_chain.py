"""Does moving the hardest slot to the end, repeatedly, leave a search's miss?

  PYTHONPATH=. python results/discovery/probes/ejection_chain.py TASK L SEED "ORDER" [DEPTH]

TASK: a row of the discovery table (index_d2, sine, planted_13, ...;
``experiments.tables.discovery.DISCOVERY_ROWS``; run from the repository root
with ``PYTHONPATH=.``). From ORDER
(a miss that ended at a local optimum of the insertion climb), a chain of up
to DEPTH (default L-1) moves: train one model on the current order (the
refine's model, ``TrainConfig()``: 1 layer, width 32, 300 steps, seed SEED),
read its per-slot loss on 512 fresh examples, and move the slot with the
highest loss (among those not moved yet) to the end. Every state of the chain
is then profiled as the refine profiles (``Independent()``, seed SEED) next to
the friendly order, and printed with its per-slot peak, its score and whether
the task counts it as friendly.

The question: can a move guided by per-slot losses leave a local optimum that
no single insertion leaves (a slot emitted before what it depends on is the
one that costs; with everything before it, it is as easy as it can be)?
"""
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lopro
from experiments.tables import discovery
from lopro import train as train_lib

name, length, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
order = np.array(sys.argv[4].split(), np.int64)
depth = int(sys.argv[5]) if len(sys.argv) > 5 else length - 1
task_name, kwargs = discovery.DISCOVERY_ROWS[name]
task = lopro.get_task(task_name, length, **kwargs)
config = train_lib.TrainConfig()
fns = train_lib.make_train_fns(task, config)


@jax.jit
def slot_losses(key, perm):
  """float32[L]: the held-out loss of each slot (stored index)."""
  init_key, data_key, dropout_key = train_lib.split_run_key(key)
  state, _ = fns.run(fns.init(init_key), data_key, dropout_key, perm, 0,
                     config.steps)
  inputs, targets = task.sample(jax.random.fold_in(key, 10**6), 512)
  _, labels = train_lib.encode(task, inputs, targets, perm)
  logits = fns.apply(state.params, inputs, targets, perm)
  per_position = optax.softmax_cross_entropy_with_integer_labels(
      logits, labels).mean(axis=0)
  return jnp.zeros(length).at[perm].set(per_position)


start = time.time()
key = jax.random.key(seed)
chain, moved, current = [order], [], order
for _ in range(depth):
  losses = np.array(slot_losses(key, jnp.asarray(current, jnp.int32)))
  losses[moved] = -np.inf
  hardest = int(np.argmax(losses))
  print(f'{" ".join(map(str, current))}: hardest slot {hardest} '
        f'({losses[hardest]:.3f} nats)', flush=True)
  moved.append(hardest)
  current = np.append(current[current != hardest], hardest)
  chain.append(current)
print(f'chain built in {time.time() - start:.0f} s', flush=True)

perms = np.stack([task.friendly_order] + chain)
profile = lopro.profile_orders(perms, task, seed=seed,
                               estimator=lopro.Independent())
scores = np.asarray(profile.scores)
print(f'friendly {" ".join(map(str, task.friendly_order))}: {scores[0]:.4f}')
for step, (perm, score) in enumerate(zip(chain, scores[1:])):
  print(f'move {step}: {" ".join(map(str, perm))}: {score:.4f} '
        f'{task.friendly_match(perm)}')
best = 1 + int(np.argmin(scores[1:]))
print(f'best of the chain: move {best - 1}, '
      f'{task.friendly_match(perms[best])} ({time.time() - start:.0f} s)')
