"""Held-out scoring with and without running the inputs' layers once.

Side by side in one process, interleaved: the universal/mixture held-out
evaluation of G orders as one full-sequence pass per order (vmapped) against
``mixture.make_mixture_fns``'s ``heldout_losses`` (the inputs' layers once per
call, every order's targets after them). Usage:

  python results/speed/probes/prefix_context.py [output.json]
"""
import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lopro
from lopro import train as train_lib
from lopro.estimators import mixture

GROUP, HELDOUT, CALLS, REPEATS = mixture.CPU_EVAL_GROUP, 128, 30, 3


def full_pass(task, train):
  """The evaluation before: each order reads the whole sequence."""
  model = train_lib.make_model(task, train, slot_embedding=True)

  def one(params, inputs, targets, order):
    order = jnp.broadcast_to(order, targets.shape)
    tokens, labels = train_lib.encode(task, inputs, targets, order)
    logits = model.apply({'params': params}, tokens, task.length, slots=order)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, labels).mean()

  return jax.jit(jax.vmap(one, in_axes=(None, None, None, 0)))


def main(output):
  rows = []
  for name, length, width in [('square19', 13, 32), ('square19', 40, 64),
                              ('relu', 40, 64)]:
    task = lopro.get_task(name, length)
    train = lopro.TrainConfig(width=width, batch_size=128)
    init, _, heldout_losses = mixture.make_mixture_fns(task, train, True, 0.0)
    params = init(jax.random.key(0)).params
    inputs, targets = task.sample(jax.random.key(1), HELDOUT)
    perms = np.asarray(lopro.orders.sample_orders(jax.random.key(2), GROUP,
                                                  length))
    fns = dict(full=full_pass(task, train), context=jax.jit(heldout_losses))
    values = {k: np.asarray(f(params, inputs, targets, perms))
              for k, f in fns.items()}
    best = dict(full=np.inf, context=np.inf)
    for _ in range(REPEATS):
      for k, f in fns.items():
        start = time.perf_counter()
        for _ in range(CALLS):
          f(params, inputs, targets, perms).block_until_ready()
        best[k] = min(best[k], (time.perf_counter() - start) / CALLS)
    row = dict(task=name, length=length, width=width,
               input_length=task.input_length,
               orders_per_s={k: GROUP / v for k, v in best.items()},
               speedup=best['full'] / best['context'],
               max_abs_loss_diff=float(np.abs(values['full']
                                              - values['context']).max()))
    print(json.dumps(row), flush=True)
    rows.append(row)
  with open(output, 'w') as f:
    json.dump(dict(device=str(jax.devices()[0].device_kind),
                   cpu_count=jax.local_device_count(), group=GROUP,
                   heldout=HELDOUT, calls=CALLS, repeats=REPEATS,
                   rows=rows), f, indent=1)


if __name__ == '__main__':
  main(sys.argv[1] if len(sys.argv) > 1 else 'prefix_context.json')
