"""Per-slot held-out losses of a universal model at L=40.

  python results/discovery/probes/universal_slot_losses_L40.py TASK STEPS WIDTH

Trains one Universal model (batch 128, seed 0), then prints, for forward and
for forward with one slot pulled to position 1 (24, 39, 10), the mean loss
over the 40 emitted tokens on 512 held-out examples and every slot that
costs more than 0.05 nats. A slot the model has not learnt costs as much
wherever it is emitted, so orders that move it score as well as forward.
"""
import sys

import jax.numpy as jnp
import numpy as np
import optax

import lopro
from lopro import train as train_lib
from lopro.estimators import mixture
from lopro.estimators import universal

L = 40
name, steps, width = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
task = lopro.get_task(name, L)
config = lopro.TrainConfig(steps=steps, batch_size=128, width=width)
(_, params, _), = universal.trained_model(task, config, 1, 0)
model = train_lib.make_model(task, config, slot_embedding=True)
inputs, targets = mixture.heldout_examples(task, 512, 0)


def slot_losses(order):
  orders = jnp.broadcast_to(jnp.asarray(order), targets.shape)
  tokens, labels = train_lib.encode(task, inputs, targets, orders)
  logits = model.apply({'params': params}, tokens, L, deterministic=True,
                       slots=orders)
  return np.asarray(optax.softmax_cross_entropy_with_integer_labels(
      logits, labels).mean(0))


forward = np.arange(L)
for label, slot in (('forward', None), ('24@1', 24), ('39@1', 39),
                    ('10@1', 10)):
  order = forward if slot is None else np.insert(np.delete(forward, slot), 1,
                                                 slot)
  losses = slot_losses(order)
  print(f'{name} width {width} {steps} steps {label}: mean {losses.mean():.4f};',
        ' '.join(f'slot {order[k]}: {losses[k]:.2f}'
                 for k in range(L) if losses[k] > 0.05), flush=True)
