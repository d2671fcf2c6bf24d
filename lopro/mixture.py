"""Mixture-mode loss profiling: one model trained on a mixture of all orders.

The paper's estimator (research/PAPER.md §2, P1-P2): instead of one model per
order, a single model is trained on a dataset in which every example carries
one order drawn uniformly from the O candidates, and every order's loss is
then read on a held-out set with that one model. Training costs the same
whatever O; only the held-out evaluation grows with O, and it is a forward
pass vectorised over orders.

Choices where the paper is silent (PAPER.md §7, open question 5):
  * Each training example draws its order uniformly, with replacement, from
    the O orders (the paper's union of T reordered copies, subsampled).
  * A mixture favours the majority of its population: trained on one
    order's insertion neighbourhood (relu, L=13) it ranked that order 1st of
    145 although two neighbours are friendlier. With
    ``random_order_fraction`` f, a share f of the examples draws its order
    uniformly from all L! orders instead. f=1 is a universal any-order
    model (sigma-GPT's training): it never sees the candidates, so it is
    trained once per (task, config, seed), kept in memory and reused by
    every later profile, and its scores are comparable across profiles.
  * With ``slot_embedding`` (the default) the model is told, at every target
    position, which stored slot it emits next and which slot the token it
    reads came from (sigma-GPT's double positional encoding, Pannatier et
    al. 2024). ``slot_embedding=False`` is the paper-literal variant: the
    model must infer the order from the prefix it has generated.
  * The held-out set is ``num_heldout`` fresh examples from their own key,
    the same for every order. It is not deduplicated against the training
    stream: a short run does not memorise.
  * Losses are read at ``num_checkpoints`` evenly spaced steps, so
    ``Profile.losses`` is float32[O, C] with ``Profile.loss_steps`` the
    steps; the default 'final' score with C = 4 is the last checkpoint, the
    paper's "loss after E epochs".

Scores of one mixture profile are comparable among its orders only: they
come from a model trained on that very mixture.

Dimension letters: O orders, P order capacity, G orders per evaluation call,
B batch, M held-out examples, L target length, Lx input length, C checkpoints.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, NamedTuple

from absl import logging
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np
import optax

from lopro import profile as profile_lib
from lopro import sharding
from lopro import tasks as tasks_lib
from lopro import train as train_lib

# Orders evaluated per call on a CPU; accelerators use ``chunk_size``. One
# call holds G*M sequences.
CPU_EVAL_GROUP = 16


class _Programs(NamedTuple):
  init: Any  # key -> TrainState
  segments: dict[int, Any]  # n -> (state, keys, perms, O, start) -> state, []
  evaluate: Any  # (params, inputs, targets, perms [G, L]) -> float32[G]
  compile_s: float


_COMPILED: dict[tuple[Any, ...], _Programs] = {}
# Universal models (random_order_fraction=1): their params at every
# checkpoint and final train loss, per (task, config, seed); a few at most.
_UNIVERSAL: dict[tuple[Any, ...], tuple[list[Any], float]] = {}
_UNIVERSAL_KEPT = 4


def draw_orders(key: jax.Array, perms: jax.Array, num_orders: jax.Array,
                batch_size: int, random_order_fraction: float) -> jax.Array:
  """The orders of one training batch: int32[B, L].

  Each row is ``perms[i]`` for a uniform i < ``num_orders``, or, with
  probability ``random_order_fraction``, a uniformly random permutation of
  0..L-1. A fraction of 0 (1) never draws a random (candidate) order.

  Args:
    key: PRNG key.
    perms: int[P, L], the candidates (rows >= num_orders are padding).
    num_orders: how many rows of ``perms`` are candidates.
    batch_size: B.
    random_order_fraction: the share of random orders, a Python float.
  """
  if random_order_fraction == 0.0:
    picks = jax.random.randint(key, (batch_size,), 0, num_orders)
    return perms[picks].astype(jnp.int32)
  pick_key, coin_key, shuffle_key = jax.random.split(key, 3)
  length = perms.shape[1]
  noise = jax.random.uniform(shuffle_key, (batch_size, length))
  random = jnp.argsort(noise, axis=1).astype(jnp.int32)
  if random_order_fraction == 1.0:
    return random
  picks = jax.random.randint(pick_key, (batch_size,), 0, num_orders)
  coins = jax.random.bernoulli(coin_key, random_order_fraction, (batch_size,))
  return jnp.where(coins[:, None], random, perms[picks].astype(jnp.int32))


def capacity(num_orders: int, config: profile_lib.ProfileConfig) -> int:
  """P, the padded size of the order table the training program reads.

  A power of two, at least ``chunk_size``: profiles of up to ``chunk_size``
  orders share one program, and larger ones compile once per doubling.
  """
  return max(config.chunk_size, 1 << max(0, (num_orders - 1).bit_length()))


def eval_group(config: profile_lib.ProfileConfig, num_devices: int = 1
               ) -> int:
  """G, orders per held-out evaluation call: a multiple of the devices.

  Per device ``vmap_group``, else ``CPU_EVAL_GROUP`` on a CPU, else
  ``chunk_size / num_devices`` (rounded up).
  """
  if config.vmap_group is not None:
    per_device = config.vmap_group
  elif jax.default_backend() == 'cpu':
    per_device = CPU_EVAL_GROUP
  else:
    per_device = -(-config.chunk_size // num_devices)
  return per_device * num_devices


def make_mixture_fns(task: tasks_lib.Task,
                     config: profile_lib.ProfileConfig):
  """The pure pieces of a mixture run (not jitted).

  Returns:
    (init, run, heldout_loss):
    ``init(key) -> TrainState``;
    ``run(state, data_key, dropout_key, perms int[P, L], num_orders,
    start_step, num_steps) -> (state, losses float32[num_steps])``, where
    every example of every step draws its order from ``perms[:num_orders]``;
    ``heldout_loss(params, inputs int[M, Lx], targets int[M, L], order
    int[L]) -> float32``, the mean token cross-entropy of ``order``.
  """
  model = train_lib.make_model(task, config,
                               slot_embedding=config.slot_embedding)
  optimizer = train_lib.make_optimizer(config)
  length = task.length

  def apply(params, inputs, targets, orders, dropout_key=None):
    tokens, labels = train_lib.encode(task, inputs, targets, orders)
    rngs = None if dropout_key is None else {'dropout': dropout_key}
    slots = orders if config.slot_embedding else None
    logits = model.apply({'params': params}, tokens, length,
                         deterministic=dropout_key is None, rngs=rngs,
                         slots=slots)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, labels).mean()

  def init(key):
    tokens = jnp.zeros((1, task.input_length + length), jnp.int32)
    slots = (jnp.arange(length)[None] if config.slot_embedding else None)
    params = model.init(key, tokens, length, slots=slots)['params']
    return train_lib.TrainState(params, optimizer.init(params))

  def run(state, data_key, dropout_key, perms, num_orders, start_step,
          num_steps: int):
    def step(state, i):
      step_index = start_step + i
      sample_key, pick_key = jax.random.split(
          jax.random.fold_in(data_key, step_index))
      inputs, targets = task.sample(sample_key, config.batch_size)
      batch_orders = draw_orders(pick_key, perms, num_orders,
                                 config.batch_size,
                                 config.random_order_fraction)
      dropout = (jax.random.fold_in(dropout_key, step_index)
                 if config.dropout else None)
      loss, grads = jax.value_and_grad(apply)(
          state.params, inputs, targets, batch_orders, dropout)
      updates, opt_state = optimizer.update(grads, state.opt_state,
                                            state.params)
      params = optax.apply_updates(state.params, updates)
      return train_lib.TrainState(params, opt_state), loss.astype(jnp.float32)

    return jax.lax.scan(step, state, jnp.arange(num_steps))

  def heldout_loss(params, inputs, targets, order):
    orders = jnp.broadcast_to(order, targets.shape)
    return apply(params, inputs, targets, orders).astype(jnp.float32)

  return init, run, heldout_loss


def _segments(config: profile_lib.ProfileConfig) -> list[tuple[int, int]]:
  """[(start step, steps)] between consecutive checkpoints."""
  ends = config.checkpoint_steps()
  starts = np.concatenate([[0], ends[:-1]])
  return [(int(s), int(e - s)) for s, e in zip(starts, ends)]


def _compiled(task: tasks_lib.Task, config: profile_lib.ProfileConfig,
              perm_capacity: int, group: int, mesh: Mesh) -> _Programs:
  """The jitted and compiled programs, cached per shapes and settings.

  Training runs on one device (the default one of each process), so its
  programs do not depend on the mesh and are cached without it; the
  held-out evaluation is sharded over the orders of ``mesh``, with params
  and held-out examples replicated.
  """
  lengths = sorted({n for _, n in _segments(config)})
  train_key = (task, train_lib.base_config(config), config.slot_embedding,
               config.random_order_fraction, perm_capacity, tuple(lengths))
  eval_key = (task, train_lib.base_config(config), config.slot_embedding,
              config.num_heldout, group, mesh)
  if train_key in _COMPILED and eval_key in _COMPILED:
    return _Programs(*_COMPILED[train_key], _COMPILED[eval_key], 0.0)
  start = time.perf_counter()
  init, run, heldout_loss = make_mixture_fns(task, config)
  key = jax.random.key(0)
  state = jax.eval_shape(init, key)
  if train_key not in _COMPILED:
    perms = jax.ShapeDtypeStruct((perm_capacity, task.length), np.int32)
    scalar = jax.ShapeDtypeStruct((), np.int32)
    segments = {
        n: jax.jit(lambda s, dk, rk, p, o, t, n=n: run(s, dk, rk, p, o, t, n)
                   ).lower(state, key, key, perms, scalar, scalar).compile()
        for n in lengths}
    _COMPILED[train_key] = (jax.jit(init).lower(key).compile(), segments)
  if eval_key not in _COMPILED:
    inputs = jax.ShapeDtypeStruct((config.num_heldout, task.input_length),
                                  np.int32)
    targets = jax.ShapeDtypeStruct((config.num_heldout, task.length),
                                   np.int32)
    replicated = sharding.REPLICATED
    _COMPILED[eval_key] = sharding.shard_orders(
        jax.vmap(heldout_loss, in_axes=(None, None, None, 0)), mesh,
        (replicated, replicated, replicated, sharding.SHARDED),
        sharding.SHARDED).lower(
            sharding.abstract(state.params, mesh, replicated),
            sharding.abstract(inputs, mesh, replicated),
            sharding.abstract(targets, mesh, replicated),
            sharding.abstract(jax.ShapeDtypeStruct((group, task.length),
                                                   np.int32), mesh)).compile()
  return _Programs(*_COMPILED[train_key], _COMPILED[eval_key],
                   time.perf_counter() - start)


def profile_mixture(perms: np.ndarray, task: tasks_lib.Task,
                    config: profile_lib.ProfileConfig, seed: int,
                    callback: Callable[[profile_lib.Progress], None] | None
                    = None, mesh: Mesh | None = None) -> profile_lib.Profile:
  """``profile_orders(..., mode='mixture')``; see the module docstring.

  Args:
    perms: int64[O, L], validated permutations.
    task: the Task (length L).
    config: a ProfileConfig with mode='mixture'.
    seed: root seed of the init, data, order draws and held-out set.
    callback: called with a Progress after every checkpoint's evaluation.
    mesh: the devices the held-out evaluation is sharded over; None for
      all. Every process trains the one model on its default device.

  Returns:
    A Profile with losses float32[O, C] (held-out loss of every order at
    every checkpoint), ``loss_steps`` the checkpoints, scores and ranking.

  References:
    Sato, Kawamoto & Kera, arXiv 2506.23875, §4 (P1-P2, Eq. 4.1).
  """
  start = time.perf_counter()
  num_orders = perms.shape[0]
  # A universal model never reads the candidates: the smallest table.
  table_size = capacity(1 if config.universal else num_orders, config)
  mesh = sharding.check_mesh(mesh)
  group = eval_group(config, mesh.size)
  programs = _compiled(task, config, table_size, group, mesh)
  init_key, data_key, dropout_key, heldout_key = jax.random.split(
      jax.random.key(seed), 4)
  table = np.zeros((table_size, task.length), np.int32)
  table[:] = perms[0]
  table[:min(num_orders, table_size)] = perms[:table_size]
  inputs, targets = task.sample(heldout_key, config.num_heldout)
  inputs, targets = sharding.put(
      (inputs.astype(jnp.int32), targets.astype(jnp.int32)), mesh,
      sharding.REPLICATED)
  num_calls = -(-num_orders // group)
  padded = np.concatenate(
      [perms, np.repeat(perms[:1], num_calls * group - num_orders, axis=0)]
  ).astype(np.int32)
  calls = [sharding.put(padded[i * group:(i + 1) * group], mesh)
           for i in range(num_calls)]

  run_start = time.perf_counter()
  segments = _segments(config)
  universal_key = (task, train_lib.base_config(config), config.slot_embedding,
                   tuple(segments), int(seed))
  cached = _UNIVERSAL.get(universal_key) if config.universal else None
  if cached is None:
    state = programs.init(init_key)
  losses = np.empty((num_orders, len(segments)), np.float32)
  checkpoints, train_loss = [], np.nan
  for c, (first, steps) in enumerate(segments):
    if cached is None:
      state, segment_losses = programs.segments[steps](
          state, data_key, dropout_key, table, np.int32(num_orders),
          np.int32(first))
      train_loss = float(np.asarray(segment_losses)[-1])
      checkpoints.append(sharding.to_host(state.params))
    else:
      checkpoints, train_loss = cached
    params = sharding.put(checkpoints[c], mesh, sharding.REPLICATED)
    column = [programs.evaluate(params, inputs, targets, orders)
              for orders in calls]
    losses[:, c] = np.concatenate([sharding.to_host(x) for x in column]
                                  )[:num_orders]
    elapsed = time.perf_counter() - run_start
    eta = elapsed / (c + 1) * (len(segments) - c - 1)
    info = profile_lib.Progress(
        chunk=c + 1, num_chunks=len(segments), orders_done=num_orders,
        num_orders=num_orders, elapsed_s=elapsed,
        orders_per_s=num_orders / elapsed, eta_s=eta)
    logging.info('profile %s (mixture%s): checkpoint %d/%d at step %d, %d '
                 'orders, mixture train loss %.3f, ETA %.0fs', task.name,
                 ', universal model reused' if cached else '', c + 1,
                 len(segments), first + steps, num_orders, train_loss, eta)
    if callback is not None:
      callback(info)
  run_s = time.perf_counter() - run_start
  if config.universal and cached is None:
    while len(_UNIVERSAL) >= _UNIVERSAL_KEPT:
      del _UNIVERSAL[next(iter(_UNIVERSAL))]
    _UNIVERSAL[universal_key] = (checkpoints, train_loss)

  scores = profile_lib.score_losses(losses, config.score,
                                    config.score_fraction)
  nonfinite = np.flatnonzero(~np.all(np.isfinite(losses), axis=1))
  if nonfinite.size:
    logging.warning('profile %s (mixture): %d orders had non-finite held-out '
                    'losses; they rank last', task.name, nonfinite.size)
  timings = dict(compile_s=programs.compile_s, run_s=run_s,
                 total_s=time.perf_counter() - start,
                 orders_per_s=num_orders / run_s,
                 order_steps=0 if cached else int(config.steps),
                 order_steps_per_s=(0 if cached else config.steps) / run_s,
                 model_reused=cached is not None,
                 heldout_examples=int(num_orders * len(segments)
                                      * config.num_heldout),
                 train_loss_final=train_loss,
                 devices=mesh.size)
  return profile_lib.Profile(
      perms=perms, losses=losses, scores=scores,
      ranking=profile_lib.rank_scores(scores), nonfinite=nonfinite,
      task=task.name, config=config, seed=int(seed), timings=timings,
      loss_steps=config.checkpoint_steps())
