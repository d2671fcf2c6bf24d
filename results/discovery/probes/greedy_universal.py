"""Builds an order front to back from a universal model's per-slot losses.

  PYTHONPATH=. python results/discovery/probes/greedy_universal.py ROW L SEED LAYERS [WIDTH] [STEPS] [BEAM]

Trains (or reuses) the universal model of the default's size at L with
LAYERS layers (WIDTH, STEPS: the default's unless given), then builds an
order one position at a time: with the prefix P chosen so far, the model's
held-out loss (128 examples) of each remaining slot s at position k reads P
and s alone (causal attention; the model is told which slot each position
emits), and a beam of BEAM (default 1: greedy) prefixes with the lowest
summed loss is kept. Prints the order built, whether the task counts it
friendly, its summed loss against the friendly order's, and the time.
"""
import dataclasses
import json
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import lopro
from lopro import orders
from lopro import search as search_lib
from lopro import train as train_lib
from lopro.estimators import mixture
from lopro.estimators import universal
from experiments.tables import discovery

row, length, seed, layers = (sys.argv[1], int(sys.argv[2]), int(sys.argv[3]),
                             int(sys.argv[4]))
name, kwargs = discovery.DISCOVERY_ROWS[row]
task = lopro.get_task(name, length, **kwargs)
_, scorer = search_lib.default_method(length)
config = dataclasses.replace(scorer.train, num_layers=layers)
if len(sys.argv) > 5:
  config = dataclasses.replace(config, width=int(sys.argv[5]))
if len(sys.argv) > 6:
  config = dataclasses.replace(config, steps=int(sys.argv[6]))
beam = int(sys.argv[7]) if len(sys.argv) > 7 else 1
t0 = time.time()
(_, params, _), = universal.trained_model(task, config, 1, seed)
train_s = time.time() - t0
inputs, targets = mixture.heldout_examples(task, 128, seed)
model = train_lib.make_model(task, config, slot_embedding=True)


@jax.jit
def position_losses(perms):
  """float32[G, L]: mean held-out loss at every position of each order."""
  def one(order):
    order = jnp.broadcast_to(order, targets.shape)
    tokens, labels = train_lib.encode(task, inputs, targets, order)
    logits = model.apply({'params': params}, tokens, length, slots=order)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, labels).mean(axis=0)
  return jax.vmap(one)(perms)


beams = [([], 0.0)]
for k in range(length):
  grown = []
  for prefix, total in beams:
    left = [s for s in range(length) if s not in prefix]
    perms = np.array([prefix + [s] + [r for r in left if r != s]
                      for s in left])
    at_k = np.asarray(position_losses(jnp.asarray(perms)))[:, k]
    grown += [(prefix + [s], total + float(at_k[i]))
              for i, s in enumerate(left)]
  grown.sort(key=lambda item: item[1])
  beams = grown[:beam]
order, total = beams[0]
friendly = np.asarray(task.friendly_order)
friendly_total = float(np.asarray(position_losses(
    jnp.asarray(friendly[None])))[0].sum())
print(json.dumps(dict(
    row=row, length=length, seed=seed, layers=layers, width=config.width,
    steps=config.steps, beam=beam, order=orders.order_to_string(order),
    match=task.friendly_match(np.array(order)), summed_loss=round(total, 4),
    friendly_summed_loss=round(friendly_total, 4), train_s=round(train_s),
    seconds=round(time.time() - t0))), flush=True)
