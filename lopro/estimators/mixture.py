"""The paper's estimator: one model trained on a mixture of all the orders.

Instead of one model per order, a single model is trained on a stream in
which every example carries one order drawn uniformly from the O candidates,
and every order's loss is then read on a held-out set with that one model
(research/PAPER.md §2, P1-P2). Training costs the same whatever O; only the
held-out evaluation grows with O, and it is a forward pass vectorised over
orders. The training and evaluation machinery here also serves
``Universal`` (``universal.py``), a model trained on random orders only.

Choices where the paper is silent (PAPER.md §7, open question 5):
  * Each training example draws its order uniformly, with replacement, from
    the O orders (the paper's union of T reordered copies, subsampled).
  * A mixture favours the majority of its population: trained on one
    order's insertion neighbourhood (relu, L=13) it ranked that order 1st of
    145 although two neighbours are friendlier. With
    ``random_order_fraction`` f, a share f of the examples draws its order
    uniformly from all L! orders instead (``Universal`` is f = 1).
  * With ``slot_embedding`` (the default) the model is told, at every target
    position, which stored slot it emits next and which slot the token it
    reads came from (sigma-GPT's double positional encoding, Pannatier et
    al. 2024). ``slot_embedding=False`` is the paper-literal variant: the
    model must infer the order from the prefix it has generated.
  * The held-out set is ``num_heldout`` fresh examples from their own key,
    the same for every order. It is not deduplicated against the training
    stream: a short run does not memorise. A task with a fixed held-out set
    (``Task.heldout``, a dataset's held-out part) gives them instead, drawn
    uniformly with replacement from that set with the same key.
  * Losses are read at ``num_checkpoints`` evenly spaced steps, so
    ``Profile.losses`` is float32[O, C] with ``Profile.loss_steps`` the
    steps; the default score with C = 4 is the last checkpoint, the paper's
    "loss after E epochs".

Scores of one mixture profile are comparable among its orders only: they
come from a model trained on that very mixture, so they are not reusable.

Dimension letters: O orders, P order capacity, G orders per evaluation call,
B batch, M held-out examples, L target length, Lx input length, C checkpoints.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterable, Iterator
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np
import optax

from lopro import scores as scores_lib
from lopro import sharding
from lopro import train as train_lib
from lopro.estimators import base
from lopro.tasks import base as tasks_lib

# Orders evaluated per call on a CPU; accelerators use ``chunk_size``. One
# call holds G*M sequences. With M=128 held-out examples, 4 orders per call
# scored 1.7x as many orders/s as 16 at L=8, 13 and 40 (640 / 416 / 64 vs
# 383 / 252 / 36 on 2 cores, side by side in one run): the calls stay in
# cache.
CPU_EVAL_GROUP = 4


@dataclasses.dataclass(frozen=True)
class Mixture:
  """One model on a mixture of the candidates: the paper's estimator.

  Attributes:
    train: the one model's training run (1,000 steps of batch 128, the
      paper's 800-1,600 steps of 128).
    slot_embedding: tell the model which stored slot each position emits
      (False: the paper-literal model, which must infer it).
    num_checkpoints: held-out evaluations of every order, at evenly spaced
      steps ending at ``train.steps``; one loss column each.
    num_heldout: M, held-out examples every order is evaluated on.
    random_order_fraction: share of training examples whose order is drawn
      from all L! orders instead of the candidates, in [0, 1) (1 is
      ``Universal``).
    score: losses [O, C] -> scores [O]; the last checkpoint by default.
  """
  train: train_lib.TrainConfig = train_lib.TrainConfig(steps=1000,
                                                       batch_size=128)
  slot_embedding: bool = True
  num_checkpoints: int = 4
  num_heldout: int = 256
  random_order_fraction: float = 0.0
  score: scores_lib.Score = scores_lib.final()

  # A score comes from a model trained on its own batch.
  reusable = False

  def __post_init__(self):
    check_mixture_fields('Mixture', self)
    if not isinstance(self.slot_embedding, bool):
      raise ValueError('Mixture.slot_embedding must be a bool, got '
                       f'{self.slot_embedding!r}')
    fraction = self.random_order_fraction
    if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
        or not 0.0 <= fraction < 1.0):
      raise ValueError('Mixture.random_order_fraction must be a number in '
                       f'[0, 1) (1 is lopro.Universal()), got {fraction!r}')

  def profile(self, task: tasks_lib.Task, perms: np.ndarray, seed: int, *,
              callback: base.ProgressFn | None = None,
              runtime: base.Runtime | None = None) -> base.Profile:
    """Trains one model on the mixture of ``perms`` and scores each order.

    Args:
      task: the task, of length L.
      perms: int64[O, L], validated permutations.
      seed: root seed of the init, data, order draws and held-out set.
      callback: told a ``Progress`` after every checkpoint's evaluation.
      runtime: evaluation group and devices; the model trains on each
        process's default device, the evaluation is sharded over orders.

    Returns:
      A Profile with losses float32[O, C] (held-out loss of every order at
      every checkpoint) and ``loss_steps`` the checkpoints.

    References:
      Sato, Kawamoto & Kera, arXiv 2506.23875, §4 (P1-P2, Eq. 4.1).
    """
    return profile_mixture(self, task, perms, seed, self.slot_embedding,
                           float(self.random_order_fraction), callback,
                           runtime)


def check_mixture_fields(name: str, estimator: Any) -> None:
  """Checks train, score, num_checkpoints and num_heldout."""
  base.check_train(name, estimator.train)
  base.check_score(name, estimator.score)
  base.check_int(estimator, 'num_checkpoints', 1)
  base.check_int(estimator, 'num_heldout', 1)
  if estimator.num_checkpoints > estimator.train.steps:
    raise ValueError(f'{name}.num_checkpoints={estimator.num_checkpoints} '
                     f'exceeds train.steps={estimator.train.steps}')


def checkpoint_steps(steps: int, num_checkpoints: int) -> np.ndarray:
  """int64[C], the steps after which every order is evaluated."""
  return np.linspace(0, steps, num_checkpoints + 1)[1:].round().astype(
      np.int64)


def segments(steps: int, num_checkpoints: int) -> tuple[tuple[int, int], ...]:
  """((start step, steps), ...) between consecutive checkpoints."""
  ends = checkpoint_steps(steps, num_checkpoints)
  starts = np.concatenate([[0], ends[:-1]])
  return tuple((int(s), int(e - s)) for s, e in zip(starts, ends))


# Training runs in pieces of at most this many steps, each logged with an ETA,
# so that a long one-off training (the universal model at L=40 trains for
# about 9 minutes on 2 CPU cores) shows progress. Every step draws its data
# from the global step index, so the pieces give the model one run would.
PIECE_STEPS = 1000


def pieces(first: int, steps: int, size: int
           ) -> tuple[tuple[int, int], ...]:
  """((start step, steps), ...): steps first..first+steps-1 in runs of at
  most ``size``."""
  return tuple((s, min(size, first + steps - s))
               for s in range(first, first + steps, size))


def draw_orders(key: jax.Array, perms: jax.Array, num_orders: jax.Array,
                batch_size: int, random_order_fraction: float) -> jax.Array:
  """The orders of one training batch: int32[B, L].

  Each row is ``perms[i]`` for a uniform i < ``num_orders``, or, with
  probability ``random_order_fraction``, a uniformly random permutation of
  0..L-1 (``jax.random.permutation`` of each row). A fraction of 0 (1)
  never draws a random (candidate) order.

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
  identity = jnp.arange(perms.shape[1], dtype=jnp.int32)
  random = jax.random.permutation(
      shuffle_key, jnp.broadcast_to(identity, (batch_size, perms.shape[1])),
      axis=1, independent=True)
  if random_order_fraction == 1.0:
    return random
  picks = jax.random.randint(pick_key, (batch_size,), 0, num_orders)
  coins = jax.random.bernoulli(coin_key, random_order_fraction, (batch_size,))
  return jnp.where(coins[:, None], random, perms[picks].astype(jnp.int32))


def capacity(num_orders: int, chunk_size: int) -> int:
  """P, the padded size of the order table the training program reads.

  A power of two, at least ``chunk_size``: profiles of up to ``chunk_size``
  orders share one program, and larger ones compile once per doubling.
  """
  return max(chunk_size, 1 << max(0, (num_orders - 1).bit_length()))


def eval_group(runtime: base.Runtime, num_devices: int = 1) -> int:
  """G, orders per held-out evaluation call: a multiple of the devices.

  Per device ``vmap_group``, else ``CPU_EVAL_GROUP`` on a CPU, else
  ``chunk_size / num_devices`` (rounded up).
  """
  if runtime.vmap_group is not None:
    per_device = runtime.vmap_group
  elif jax.default_backend() == 'cpu':
    per_device = CPU_EVAL_GROUP
  else:
    per_device = -(-runtime.chunk_size // num_devices)
  return per_device * num_devices


def make_mixture_fns(task: tasks_lib.Task, train: train_lib.TrainConfig,
                     slot_embedding: bool, random_order_fraction: float):
  """The pure pieces of a mixture run (not jitted).

  Returns:
    (init, run, heldout_losses):
    ``init(key) -> TrainState``;
    ``run(state, data_key, dropout_key, perms int[P, L], num_orders,
    start_step, num_steps) -> (state, losses float32[num_steps])``, where
    every example of every step draws its order with ``draw_orders``;
    ``heldout_losses(params, inputs int[M, Lx], targets int[M, L], orders
    int[G, L]) -> float32[G]``, the mean token cross-entropy of each order
    (the inputs' layers run once for all G).
  """
  model = train_lib.make_model(task, train, slot_embedding=slot_embedding)
  optimizer = train_lib.make_optimizer(train)
  length = task.length

  def apply(params, inputs, targets, orders, dropout_key=None):
    tokens, labels = train_lib.encode(task, inputs, targets, orders)
    rngs = None if dropout_key is None else {'dropout': dropout_key}
    slots = orders if slot_embedding else None
    logits = model.apply({'params': params}, tokens, length,
                         deterministic=dropout_key is None, rngs=rngs,
                         slots=slots)
    return optax.softmax_cross_entropy_with_integer_labels(
        logits, labels).mean()

  def init(key):
    tokens = jnp.zeros((1, task.input_length + length), jnp.int32)
    slots = jnp.arange(length)[None] if slot_embedding else None
    params = model.init(key, tokens, length, slots=slots)['params']
    return train_lib.TrainState(params, optimizer.init(params))

  def run(state, data_key, dropout_key, perms, num_orders, start_step,
          num_steps: int):
    def step(state, i):
      step_index = start_step + i
      sample_key, pick_key = jax.random.split(
          jax.random.fold_in(data_key, step_index))
      inputs, targets = task.sample(sample_key, train.batch_size)
      batch_orders = draw_orders(pick_key, perms, num_orders,
                                 train.batch_size, random_order_fraction)
      dropout = (jax.random.fold_in(dropout_key, step_index)
                 if train.dropout else None)
      loss, grads = jax.value_and_grad(apply)(
          state.params, inputs, targets, batch_orders, dropout)
      updates, opt_state = optimizer.update(grads, state.opt_state,
                                            state.params)
      params = optax.apply_updates(state.params, updates)
      return train_lib.TrainState(params, opt_state), loss.astype(jnp.float32)

    return jax.lax.scan(step, state, jnp.arange(num_steps))

  def heldout_losses(params, inputs, targets, orders):
    # The inputs come first and attention is causal, so their layers do not
    # depend on the order: run them once (sown), then each order's targets.
    prefix = task.input_length
    tokens, _ = train_lib.encode(task, inputs, targets, orders[0])
    _, sown = model.apply(
        {'params': params}, tokens[:, :prefix], 0,
        slots=jnp.zeros((len(targets), 0), jnp.int32) if slot_embedding
        else None, mutable='intermediates')
    context = tuple(sown['intermediates'][f'block_{i}_input'][0]
                    for i in range(train.num_layers))

    def loss(order):
      order = jnp.broadcast_to(order, targets.shape)
      tokens, labels = train_lib.encode(task, inputs, targets, order)
      logits = model.apply({'params': params}, tokens[:, prefix:], length,
                           slots=order if slot_embedding else None,
                           context=context)
      return optax.softmax_cross_entropy_with_integer_labels(
          logits, labels).mean().astype(jnp.float32)

    return jax.vmap(loss)(orders)

  return init, run, heldout_losses


@functools.lru_cache(maxsize=16)
def training_programs(task: tasks_lib.Task, train: train_lib.TrainConfig,
                      slot_embedding: bool, random_order_fraction: float,
                      perm_capacity: int, lengths: tuple[int, ...]):
  """(init, {n: segment of n steps}) compiled for one order-table size.

  Training runs on one device (the default one of each process), so these
  programs do not depend on the mesh.
  """
  init, run, _ = make_mixture_fns(task, train, slot_embedding,
                                  random_order_fraction)
  key = jax.random.key(0)
  state = jax.eval_shape(init, key)
  perms = jax.ShapeDtypeStruct((perm_capacity, task.length), np.int32)
  scalar = jax.ShapeDtypeStruct((), np.int32)
  programs = {
      n: jax.jit(lambda s, dk, rk, p, o, t, n=n: run(s, dk, rk, p, o, t, n)
                 ).lower(state, key, key, perms, scalar, scalar).compile()
      for n in lengths}
  return jax.jit(init).lower(key).compile(), programs


@functools.lru_cache(maxsize=16)
def evaluation_program(task: tasks_lib.Task, train: train_lib.TrainConfig,
                       slot_embedding: bool, num_heldout: int, group: int,
                       mesh: Mesh):
  """``(params, inputs, targets, perms [G, L]) -> float32[G]`` held-out
  losses, sharded over the orders of ``mesh`` (params and examples
  replicated)."""
  init, _, heldout_losses = make_mixture_fns(task, train, slot_embedding,
                                             0.0)
  params = jax.eval_shape(init, jax.random.key(0)).params
  inputs = jax.ShapeDtypeStruct((num_heldout, task.input_length), np.int32)
  targets = jax.ShapeDtypeStruct((num_heldout, task.length), np.int32)
  replicated = sharding.REPLICATED
  return sharding.shard_orders(
      heldout_losses, mesh,
      (replicated, replicated, replicated, sharding.SHARDED),
      sharding.SHARDED).lower(
          sharding.abstract(params, mesh, replicated),
          sharding.abstract(inputs, mesh, replicated),
          sharding.abstract(targets, mesh, replicated),
          sharding.abstract(jax.ShapeDtypeStruct((group, task.length),
                                                 np.int32), mesh)).compile()


def train_checkpoints(task: tasks_lib.Task, train: train_lib.TrainConfig,
                      slot_embedding: bool, random_order_fraction: float,
                      num_checkpoints: int, perms: np.ndarray, seed: int,
                      chunk_size: int) -> Iterator[tuple[int, Any, float]]:
  """Compiles (or takes) the training programs, then returns an iterator
  that trains the one model segment by segment and yields (checkpoint
  index, host params, the segment's last training loss) after each.

  The order table holds ``perms`` padded to ``capacity`` rows (1 row when
  ``random_order_fraction`` is 1: the table is never read).
  """
  num_orders = perms.shape[0]
  universal = random_order_fraction == 1.0
  table_size = capacity(1 if universal else num_orders, chunk_size)
  parts = [pieces(first, steps, PIECE_STEPS)
           for first, steps in segments(train.steps, num_checkpoints)]
  init, programs = training_programs(
      task, train, slot_embedding, random_order_fraction, table_size,
      tuple(sorted({n for part in parts for _, n in part})))
  init_key, data_key, dropout_key, _ = jax.random.split(jax.random.key(seed),
                                                        4)
  table = np.zeros((table_size, task.length), np.int32)
  table[:] = perms[0]
  table[:min(num_orders, table_size)] = perms[:table_size]

  def run():
    state, start = init(init_key), time.perf_counter()
    for c, part in enumerate(parts):
      for first, steps in part:
        state, losses = programs[steps](state, data_key, dropout_key, table,
                                        np.int32(num_orders), np.int32(first))
        loss, done = float(np.asarray(losses)[-1]), first + steps
        if len(part) > 1:  # checkpoints are logged by the caller
          elapsed = time.perf_counter() - start
          logging.info('training %s L=%d: step %d/%d, train loss %.3f, ETA '
                       '%.0fs', task.name, task.length, done, train.steps,
                       loss, elapsed / done * (train.steps - done))
      yield c, sharding.to_host(state.params), loss

  return run()


def heldout_examples(task: tasks_lib.Task, num_heldout: int, seed: int
                     ) -> tuple[np.ndarray, np.ndarray]:
  """The M held-out examples of a mixture profile: (int32[M, Lx], [M, L]).

  Sampled from the task, or, when it has a fixed held-out set
  (``task.heldout``), drawn from that set uniformly with replacement.
  """
  heldout_key = jax.random.split(jax.random.key(seed), 4)[3]
  if task.heldout is not None:
    inputs, targets = tasks_lib.draw_from_pool(heldout_key, num_heldout,
                                               *task.heldout)
  else:
    inputs, targets = task.sample(heldout_key, num_heldout)
  return np.asarray(inputs, np.int32), np.asarray(targets, np.int32)


def profile_mixture(estimator: Any, task: tasks_lib.Task, perms: np.ndarray,
                    seed: int, slot_embedding: bool,
                    random_order_fraction: float,
                    callback: base.ProgressFn | None,
                    runtime: base.Runtime | None,
                    checkpoints: Iterable[tuple[int, Any, float]] | None = None,
                    model_reused: bool = False, start: float | None = None,
                    train_s: float = 0.0) -> base.Profile:
  """Trains (or takes) the one model and reads every order's held-out loss.

  Args:
    estimator: a Mixture or Universal (train, num_checkpoints, num_heldout,
      score).
    task, perms, seed, callback, runtime: as ``Mixture.profile``.
    slot_embedding: whether the model is told the slots.
    random_order_fraction: the share of random orders in training.
    checkpoints: an iterable of (index, host params, train loss) to use
      instead of training on ``perms`` (a Universal's model).
    model_reused: whether ``checkpoints`` came from memory (no training
      was spent on this profile).
    start: when the caller's profile began (``time.perf_counter()``), so
      that ``total_s`` includes work done before this call.
    train_s: seconds the caller spent training ``checkpoints`` now.
  """
  start = time.perf_counter() if start is None else start
  runtime = base.Runtime() if runtime is None else runtime
  mesh = runtime.resolved_mesh()
  num_orders = perms.shape[0]
  train = estimator.train
  group = eval_group(runtime, mesh.size)
  evaluate, compile_s = base.build(evaluation_program, task, train,
                                   slot_embedding, estimator.num_heldout,
                                   group, mesh)
  reused = model_reused
  if checkpoints is None:
    hits = training_programs.cache_info().hits
    start_training = time.perf_counter()
    checkpoints = train_checkpoints(
        task, train, slot_embedding, random_order_fraction,
        estimator.num_checkpoints, perms, seed, runtime.chunk_size)
    if training_programs.cache_info().hits == hits:
      compile_s += time.perf_counter() - start_training
  inputs, targets = sharding.put(
      heldout_examples(task, estimator.num_heldout, seed), mesh,
      sharding.REPLICATED)
  num_calls = -(-num_orders // group)
  padded = np.concatenate(
      [perms, np.repeat(perms[:1], num_calls * group - num_orders, axis=0)]
  ).astype(np.int32)
  calls = [sharding.put(padded[i * group:(i + 1) * group], mesh)
           for i in range(num_calls)]
  steps = checkpoint_steps(train.steps, estimator.num_checkpoints)
  losses = np.empty((num_orders, steps.size), np.float32)
  run_start, train_loss = time.perf_counter(), np.nan
  for c, params, train_loss in checkpoints:
    params = sharding.put(params, mesh, sharding.REPLICATED)
    column = [evaluate(params, inputs, targets, orders) for orders in calls]
    losses[:, c] = np.concatenate([sharding.to_host(x) for x in column]
                                  )[:num_orders]
    elapsed = time.perf_counter() - run_start
    eta = elapsed / (c + 1) * (steps.size - c - 1)
    info = base.Progress(
        chunk=c + 1, num_chunks=steps.size, orders_done=num_orders,
        num_orders=num_orders, elapsed_s=elapsed,
        orders_per_s=num_orders / elapsed, eta_s=eta)
    logging.info('profile %s (%s): checkpoint %d/%d at step %d, %d orders, '
                 'train loss %.3f, ETA %.0fs', task.name,
                 type(estimator).__name__ + (', model reused' if reused
                                             else ''),
                 c + 1, steps.size, steps[c], num_orders, train_loss, eta)
    if callback is not None:
      callback(info)
  run_s = time.perf_counter() - run_start
  order_steps = 0 if reused else int(train.steps)
  return base.finish(
      estimator, task, perms, losses, seed, start, run_s,
      dict(compile_s=compile_s, order_steps=order_steps,
           order_steps_per_s=order_steps / max(run_s, 1e-9),
           model_reused=reused, train_s=train_s,
           heldout_examples=int(num_orders * steps.size
                                * estimator.num_heldout),
           train_loss_final=train_loss, devices=mesh.size),
      steps)
