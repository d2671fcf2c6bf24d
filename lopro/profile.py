"""Loss profiling: train briefly on every candidate order and rank the orders.

``profile_orders`` vmaps the *whole* training run (init, data, ``lax.scan``
over steps) over a fixed-size chunk of orders, pads the last chunk and loops
over chunks, so one profile compiles once whatever the number of orders, and
later profiles with the same task, config and chunk shape compile not at all.

Dimension letters: O orders, C orders per chunk, L target length, T steps.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np

from lopro import orders as orders_lib
from lopro import sharding
from lopro import tasks as tasks_lib
from lopro import train as train_lib

MODES = ('independent', 'mixture')
SCHEDULES = ('full', 'halving')
SCORES = ('final', 'auc', 'slope')
ScoreFn = Callable[[np.ndarray], np.ndarray]
# Orders vmapped together on a CPU. Per order, groups of 8 were 6-17% slower
# than groups of 32 on full chunks (O=64, 2 interleaved repeats), and both
# beat one vmap over 64 or more (cache locality). But a group of 8 pads at
# most 7 orders per profile, not 31: a search's ~20 small profiles (a few to
# 120 new orders each) come out about 20% cheaper with 8.
CPU_VMAP_GROUP = 8


@dataclasses.dataclass(frozen=True)
class ProfileConfig(train_lib.TrainConfig):
  """How orders are profiled. Inherits model/optimiser fields of TrainConfig.

  Attributes:
    mode: 'independent' (one model per order, vmapped) or 'mixture' (one
      model trained on a mixture of all orders, as in the paper).
    chunk_size: most orders trained at once; bounds memory.
    common_random_numbers: every order gets the same init and data stream,
      so loss differences come from the order alone.
    score: 'final' (mean loss over the last ``score_fraction`` of steps),
      'auc' (mean over all steps), 'slope' (mean of the first
      ``score_fraction`` minus mean of the last, negated so lower is better),
      or a callable ``losses float[O, T] -> scores float[O]``.
    score_fraction: share of steps the 'final' and 'slope' scores average.
    vmap_group: orders trained in lockstep (one vmap) inside a chunk. With a
      group, the chunk has the fixed shape ``chunk_size`` (rounded up to
      whole groups) and a loop runs only the groups that hold orders: one
      compiled program serves every profile size, and at most group-1
      padded orders are trained. None picks ``CPU_VMAP_GROUP`` on a CPU
      (where a narrow vmap stays in cache) and, on accelerators, no groups:
      one vmap over a power-of-two chunk. Results do not depend on it.
    schedule: 'full' (every order trains all ``steps``) or 'halving'
      (successive halving, independent mode only): rung r = 0..rungs-1
      trains the best ceil(O / eta^r) orders for s * eta^r more steps,
      continuing (not restarting) their runs, where
      s = steps // (1 + eta + ... + eta^(rungs-1)); survivors of the last
      rung have trained s * (1 + ... + eta^(rungs-1)) <= ``steps`` steps.
    eta: halving's elimination factor (an int >= 2).
    rungs: halving's number of rungs (>= 1; 1 is a full profile of s steps).
    slot_embedding: mixture mode: tell the model at every target position
      which stored slot it emits next (and which slot the token it reads
      came from), as sigma-GPT's double positional encoding. False is the
      paper-literal variant: the model must infer the order from the prefix.
    num_checkpoints: mixture mode: held-out evaluations of every order, at
      evenly spaced steps ending at ``steps``; ``Profile.losses`` has one
      column per checkpoint.
    num_heldout: mixture mode: held-out examples every order is evaluated
      on (the same examples for every order).
    random_order_fraction: mixture mode: share of training examples whose
      order is drawn uniformly from all L! orders instead of from the
      candidates. 0 is the paper's mixture. 1 trains a *universal* model
      that never sees the candidates: it does not favour the majority of a
      narrow population (a local search's neighbourhood), one model per
      seed scores every order, so it is trained once and reused, and its
      scores carry over between profiles of the same seed.
  """
  mode: str = 'independent'
  chunk_size: int = 256
  common_random_numbers: bool = True
  score: str | ScoreFn = 'final'
  score_fraction: float = 0.1
  vmap_group: int | None = None
  schedule: str = 'full'
  eta: int = 2
  rungs: int = 4
  slot_embedding: bool = True
  num_checkpoints: int = 4
  num_heldout: int = 256
  random_order_fraction: float = 0.0

  def __post_init__(self):
    super().__post_init__()
    if self.mode not in MODES:
      raise ValueError(f'mode must be one of {MODES}, got {self.mode!r}')
    if (isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, int)
        or self.chunk_size <= 0):
      raise ValueError(
          f'chunk_size must be a positive int, got {self.chunk_size!r}')
    if not callable(self.score) and self.score not in SCORES:
      raise ValueError(f'score must be one of {SCORES} or a callable, '
                       f'got {self.score!r}')
    if self.vmap_group is not None and (
        isinstance(self.vmap_group, bool) or not isinstance(self.vmap_group, int)
        or self.vmap_group <= 0):
      raise ValueError(
          f'vmap_group must be a positive int or None, got {self.vmap_group!r}')
    if not 0.0 < self.score_fraction <= 1.0:
      raise ValueError(
          f'score_fraction must be in (0, 1], got {self.score_fraction!r}')
    if self.schedule not in SCHEDULES:
      raise ValueError(f'schedule must be one of {SCHEDULES}, got '
                       f'{self.schedule!r}')
    for name, low in (('eta', 2), ('rungs', 1), ('num_checkpoints', 1),
                      ('num_heldout', 1)):
      value = getattr(self, name)
      if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f'{name} must be an int >= {low}, got {value!r}')
    if not isinstance(self.slot_embedding, bool):
      raise ValueError(
          f'slot_embedding must be a bool, got {self.slot_embedding!r}')
    if self.schedule == 'halving':
      if self.mode != 'independent':
        raise ValueError("schedule='halving' works in mode='independent' "
                         f'only, got mode={self.mode!r}')
      if self.halving_base_steps < 1:
        raise ValueError(
            f'steps={self.steps} is too few for {self.rungs} rungs with '
            f'eta={self.eta}: the first rung needs steps // '
            f'{self._rung_units} >= 1')
    fraction = self.random_order_fraction
    if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
        or not 0.0 <= fraction <= 1.0):
      raise ValueError('random_order_fraction must be a number in [0, 1], '
                       f'got {fraction!r}')
    if fraction and self.mode != 'mixture':
      raise ValueError('random_order_fraction applies to mode=\'mixture\' '
                       f'only, got mode={self.mode!r}')
    if self.mode == 'mixture' and self.num_checkpoints > self.steps:
      raise ValueError(f'num_checkpoints={self.num_checkpoints} exceeds '
                       f'steps={self.steps}')

  @property
  def universal(self) -> bool:
    """Mixture mode trained on uniformly random orders only: the model and
    every order's score depend on the seed, not on the other candidates."""
    return self.mode == 'mixture' and self.random_order_fraction == 1.0

  @property
  def _rung_units(self) -> int:
    return sum(self.eta ** r for r in range(self.rungs))

  @property
  def halving_base_steps(self) -> int:
    """s, the steps of halving's first rung (rung r trains s * eta^r)."""
    return self.steps // self._rung_units

  def halving_plan(self, num_orders: int) -> list[tuple[int, int]]:
    """[(orders kept, steps trained) for each rung] of a halving profile.

    Rung r keeps ceil(O / eta^r) orders (at least 1) and trains them for
    s * eta^r more steps.
    """
    return [(max(1, -(-num_orders // self.eta ** r)),
             self.halving_base_steps * self.eta ** r)
            for r in range(self.rungs)]

  def checkpoint_steps(self) -> np.ndarray:
    """int64[C], the steps after which mixture mode evaluates every order."""
    return np.linspace(0, self.steps, self.num_checkpoints + 1)[1:].round(
        ).astype(np.int64)

  @classmethod
  def mixture(cls, **overrides) -> ProfileConfig:
    """Mixture mode with a budget in the paper's range: one model, 1,000
    steps of batch 128 (the paper: 800-1,600 steps of 128; PAPER.md §2).

    At L=8 this ranked the friendly order 1st of friendly + reverse + 126
    random for relu and square19 (2 seeds each); 300 steps of 32 (the
    independent defaults) left margins of ~0.005 nats and missed once.
    """
    return cls(**{**dict(mode='mixture', steps=1000, batch_size=128),
                  **overrides})

  def to_dict(self) -> dict[str, Any]:
    """The fields as JSON types; a callable score is named by its qualname."""
    config = dataclasses.asdict(self)
    if callable(config['score']):
      config['score'] = getattr(config['score'], '__qualname__', 'callable')
    return config


@dataclasses.dataclass(frozen=True)
class Progress:
  """What a progress callback is told after every chunk."""
  chunk: int
  num_chunks: int
  orders_done: int
  num_orders: int
  elapsed_s: float
  orders_per_s: float
  eta_s: float


@dataclasses.dataclass
class Profile:
  """Result of ``profile_orders``; plain numpy, serialisable with to_dict().

  Attributes:
    perms: int64[O, L], the profiled orders.
    losses: float32[O, T], training loss of every order at every step.
    scores: float32[O], lower is friendlier; +inf for NaN/inf losses.
    ranking: int64[O], indices into ``perms``, best first.
    nonfinite: int64[N], indices of orders whose losses were not finite.
    task: the task's name.
    config: the ProfileConfig used.
    seed: the seed used.
    timings: compile_s, run_s, total_s, orders_per_s, order_steps_per_s,
      order_steps (training steps summed over models: O*T independent, T
      mixture, less with halving).
    loss_steps: int64[T'], the training steps after which each column of
      ``losses`` was measured (1..T for independent runs; the checkpoints in
      mixture mode). None means 1..T.
    rung: int64[O], halving only: the last rung each order trained in; the
      ranking puts later rungs first. None otherwise.
  """
  perms: np.ndarray
  losses: np.ndarray
  scores: np.ndarray
  ranking: np.ndarray
  nonfinite: np.ndarray
  task: str
  config: ProfileConfig
  seed: int
  timings: dict[str, float]
  loss_steps: np.ndarray | None = None
  rung: np.ndarray | None = None

  @property
  def best(self) -> np.ndarray:
    """int64[L], the friendliest order."""
    return self.perms[self.ranking[0]]

  def rank_of(self, order) -> int:
    """0-based rank of ``order`` (which must be among ``perms``)."""
    order = np.asarray(order)
    hits = np.flatnonzero(np.all(self.perms == order, axis=1))
    if hits.size == 0:
      raise ValueError(f'order {order.tolist()} was not profiled')
    return int(np.flatnonzero(self.ranking == hits[0])[0])

  def to_dict(self) -> dict[str, Any]:
    return dict(task=self.task, seed=self.seed, config=self.config.to_dict(),
                perms=self.perms.tolist(), scores=self.scores.tolist(),
                ranking=self.ranking.tolist(),
                nonfinite=self.nonfinite.tolist(), timings=self.timings,
                loss_steps=(None if self.loss_steps is None
                            else self.loss_steps.tolist()),
                rung=None if self.rung is None else self.rung.tolist())


def score_losses(losses: np.ndarray, score: str | ScoreFn = 'final',
                 fraction: float = 0.1) -> np.ndarray:
  """One number per order from its loss curve; lower is friendlier.

  Args:
    losses: float[O, T].
    score: 'final', 'auc', 'slope' or a callable (see ProfileConfig).
    fraction: share of steps that 'final' and 'slope' average.

  Returns:
    float32[O]; +inf wherever an order's losses are not all finite, or its
    score is not finite.
  """
  losses = np.asarray(losses, dtype=np.float64)
  if losses.ndim != 2 or losses.shape[1] == 0:
    raise ValueError(f'losses must be float[O, T] with T > 0, got shape '
                     f'{losses.shape}')
  window = max(1, int(round(fraction * losses.shape[1])))
  with np.errstate(invalid='ignore', over='ignore'):
    if callable(score):
      scores = np.asarray(score(losses), dtype=np.float64)
      if scores.shape != losses.shape[:1]:
        raise ValueError(f'score callable returned shape {scores.shape}, '
                         f'expected {losses.shape[:1]}')
    elif score == 'final':
      scores = losses[:, -window:].mean(axis=1)
    elif score == 'auc':
      scores = losses.mean(axis=1)
    elif score == 'slope':
      # The early drop, first window minus last window; a larger drop is
      # friendlier, so it is negated.
      scores = losses[:, -window:].mean(axis=1) - losses[:, :window].mean(
          axis=1)
    else:
      raise ValueError(f'unknown score {score!r}; expected one of {SCORES} '
                       'or a callable')
  bad = ~np.all(np.isfinite(losses), axis=1) | ~np.isfinite(scores)
  return np.where(bad, np.inf, scores).astype(np.float32)


def rank_scores(scores: np.ndarray) -> np.ndarray:
  """Indices best first; NaN and +inf last, ties kept in input order."""
  scores = np.where(np.isnan(scores), np.inf, scores)
  return np.argsort(scores, kind='stable')


def resolve_task(task: str | tasks_lib.Task, length: int) -> tasks_lib.Task:
  """Returns the Task for a name (built at ``length``) or checks a Task."""
  if isinstance(task, tasks_lib.Task):
    if task.length != length:
      raise ValueError(f'perms have length {length} but task {task.name!r} '
                       f'has length {task.length}')
    return task
  if isinstance(task, str):
    return tasks_lib.get_task(task, length=length)
  raise ValueError(f'task must be a task name or a lopro.Task, got '
                   f'{type(task).__name__}')


def chunk_shape(num_orders: int, chunk_size: int) -> int:
  """Orders per compiled chunk without groups: the next power of two, capped
  at chunk_size.

  Few distinct shapes keep compiles rare across profiles of varying size
  (search stages), without padding 16 orders up to a chunk of 256.
  """
  return min(chunk_size, 1 << max(0, (num_orders - 1).bit_length()))


def chunk_plan(num_orders: int, config: ProfileConfig,
               num_devices: int = 1) -> tuple[int, int]:
  """(C orders per compiled chunk, G orders per lockstep group).

  C is a multiple of ``num_devices``: each device trains C/N orders, in
  groups of G. With a group (a CPU by default), C/N is ``chunk_size / N``
  rounded up to whole groups whatever ``num_orders``, and only the groups
  that hold orders run. Without one (accelerators), each device runs one
  vmap: G = C/N = ``chunk_shape(ceil(num_orders / N), ceil(chunk_size /
  N))``.
  """
  group = config.vmap_group
  if group is None and jax.default_backend() == 'cpu':
    group = CPU_VMAP_GROUP
  per_device_cap = -(-config.chunk_size // num_devices)
  if group is None:
    group = chunk_shape(-(-num_orders // num_devices), per_device_cap)
    return group * num_devices, group
  group = min(group, per_device_cap)
  return -(-per_device_cap // group) * group * num_devices, group


def pack_chunk(orders: np.ndarray, chunk: int, group: int, num_devices: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Lays out n orders in a chunk of C slots over N devices.

  Orders are dealt round-robin over the devices (equal shares), and fill
  each device's slots from the front, so a device runs only its first
  ceil(share / G) groups. Empty slots hold copies of the first order; their
  groups do not run, or their results are dropped.

  Args:
    orders: int[n], the orders' indices (into perms, keys, states).

  Returns:
    (index int64[C]: the order index in every slot, rows int64[n]: the slot
    of each order, num_groups int32[N]: groups each device runs).
  """
  orders = np.asarray(orders)
  rows = sharding.round_robin(len(orders), num_devices, chunk // num_devices)
  index = np.full(chunk, orders[0])
  index[rows] = orders
  num_groups = -(-sharding.device_counts(len(orders), num_devices) // group)
  return index, rows, num_groups.astype(np.int32)


def key_data(keys: jax.Array) -> np.ndarray:
  """uint32[..., K]: the raw data of typed PRNG keys, on the host."""
  return np.asarray(jax.random.key_data(keys))


_COMPILED: dict[tuple[Any, ...], Any] = {}


def _compiled_chunk(task: tasks_lib.Task, config: ProfileConfig, chunk: int,
                    group: int, mesh: Mesh):
  """The compiled ``(key [K], keys [C, K], orders int32[C, L], num_groups
  int32[N]) -> losses float32[C, T]``, sharded over the orders of ``mesh``.

  Keys are raw key data (``key_data``). Each device holds C/N orders as
  C/(N G) groups of G; a loop with a traced trip count trains its first
  ``num_groups[device]`` groups, each as one vmap of ``train``, and leaves
  the rest of its output zero. So one program serves any number of orders
  up to C, at the cost of whole groups.

  With common random numbers the single ``key`` drives every order and
  ``keys`` is ignored; otherwise ``keys[c]`` drives order ``c``. Compiled
  once per (task, config, C, G, mesh) and kept.

  Returns:
    (compiled function, seconds spent compiling now: 0 when cached).
  """
  train_config = train_lib.base_config(config)
  cache_key = (task, train_config, config.common_random_numbers, chunk, group,
               mesh)
  if cache_key in _COMPILED:
    return _COMPILED[cache_key], 0.0
  train = train_lib.make_train(task, train_config)
  crn = config.common_random_numbers
  local = chunk // mesh.size
  slots = local // group

  def local_fn(key, keys, perms, num_groups):
    key = jax.random.wrap_key_data(key)
    keys = jax.random.wrap_key_data(keys).reshape(slots, group)
    perms = perms.reshape(slots, group, task.length)

    def run_group(i, losses):
      if crn:
        out = jax.vmap(lambda p: train(key, p))(perms[i])
      else:
        out = jax.vmap(train)(keys[i], perms[i])
      return losses.at[i].set(out)

    losses = jnp.zeros((slots, group, config.steps), jnp.float32)
    losses = jax.lax.fori_loop(0, num_groups[0], run_group, losses)
    return losses.reshape(local, config.steps)

  start = time.perf_counter()
  data = key_data(jax.random.key(0))
  fn = sharding.shard_orders(
      local_fn, mesh,
      in_specs=(sharding.REPLICATED, sharding.SHARDED, sharding.SHARDED,
                sharding.SHARDED),
      out_specs=sharding.SHARDED)
  compiled = fn.lower(
      sharding.abstract(data, mesh, sharding.REPLICATED),
      sharding.abstract(
          jax.ShapeDtypeStruct((chunk,) + data.shape, data.dtype), mesh),
      sharding.abstract(
          jax.ShapeDtypeStruct((chunk, task.length), np.int32), mesh),
      sharding.abstract(
          jax.ShapeDtypeStruct((mesh.size,), np.int32), mesh)).compile()
  _COMPILED[cache_key] = compiled
  return compiled, time.perf_counter() - start


def profile_chunks(perms: np.ndarray, task: tasks_lib.Task,
                   config: ProfileConfig, seed: int, mesh: Mesh
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, jax.Array]]:
  """Trains validated ``perms`` chunk by chunk, leaving losses on devices.

  The engine of independent ``profile_orders``, for callers who want the
  loss matrix to stay sharded (``profile_orders`` gathers it).

  Args:
    perms: int64[O, L], validated permutations.
    task: the Task (length L).
    config: a ProfileConfig (independent mode, full schedule).
    seed: root seed, as in ``profile_orders``.
    mesh: a ``sharding.make_mesh`` mesh.

  Yields:
    (orders int64[n]: indices into ``perms``, rows int64[n]: the rows of
    ``losses`` that hold them, losses float32[C, T]: sharded over the mesh's
    devices along C).
  """
  num_orders = perms.shape[0]
  chunk, group = chunk_plan(num_orders, config, mesh.size)
  compiled, _ = _compiled_chunk(task, config, chunk, group, mesh)
  key = jax.random.key(seed)
  shared_key = sharding.put(key_data(key), mesh, sharding.REPLICATED)
  order_keys = key_data(jax.vmap(lambda i: jax.random.fold_in(key, i))(
      np.arange(num_orders)))
  for lo in range(0, num_orders, chunk):
    hi = min(lo + chunk, num_orders)
    index, rows, num_groups = pack_chunk(np.arange(lo, hi), chunk, group,
                                         mesh.size)
    out = compiled(shared_key, *sharding.put(
        (order_keys[index], perms[index].astype(np.int32), num_groups), mesh))
    yield np.arange(lo, hi), rows, out


def profile_orders(perms, task: str | tasks_lib.Task = 'relu', *,
                   config: ProfileConfig | None = None, seed: int = 0,
                   mode: str | None = None,
                   callback: Callable[[Progress], None] | None = None,
                   mesh: Mesh | None = None) -> Profile:
  """Trains a small transformer briefly on every order and ranks the orders.

  Independent mode trains one model per order (vmapped); with
  ``config.schedule='halving'`` by successive halving (``lopro.halving``).
  Mixture mode trains one model on a mixture of all the orders and reads
  each order's held-out loss at checkpoints (``lopro.mixture``).

  Args:
    perms: int[O, L], each row a permutation of ``0..L-1``; the model emits
      ``y[perm]``.
    task: a task name (built at length L with ``lopro.get_task``) or a Task.
    config: a ProfileConfig; defaults to ``ProfileConfig()``.
    seed: root seed; every order gets the same init and data stream when
      ``config.common_random_numbers`` (the default).
    mode: overrides ``config.mode``: 'independent' or 'mixture'.
    callback: called with a ``Progress`` after every chunk (mixture mode:
      every checkpoint).
    mesh: devices to shard the orders over (``lopro.sharding.make_mesh``);
      None uses every device JAX sees, of every process.

  Returns:
    A Profile with losses float32[O, T] (mixture mode: [O, checkpoints]),
    scores float32[O] and ranking [O].

  Raises:
    ValueError: perms that are not permutations, an empty batch, a task the
      length does not fit, an unknown task or mode, a bad config.

  References:
    Sato, Kawamoto & Kera, arXiv 2506.23875, §4 (loss profiling).
  """
  start = time.perf_counter()
  config = ProfileConfig() if config is None else config
  if not isinstance(config, ProfileConfig):
    raise ValueError(f'config must be a ProfileConfig, got '
                     f'{type(config).__name__}')
  if mode is not None:
    if mode not in MODES:
      raise ValueError(f'mode must be one of {MODES}, got {mode!r}')
    config = dataclasses.replace(config, mode=mode)
  if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
    raise ValueError(f'seed must be an int, got {seed!r}')
  perms = orders_lib.validate_orders(perms)
  task = resolve_task(task, perms.shape[1])
  mesh = sharding.check_mesh(mesh)
  if config.mode == 'mixture':
    from lopro import mixture  # pylint: disable=g-import-not-at-top
    return mixture.profile_mixture(perms, task, config, int(seed), callback,
                                   mesh)
  if config.schedule == 'halving':
    from lopro import halving  # pylint: disable=g-import-not-at-top
    return halving.profile_halving(perms, task, config, int(seed), callback,
                                   mesh)

  num_orders = perms.shape[0]
  chunk, group = chunk_plan(num_orders, config, mesh.size)
  _, compile_s = _compiled_chunk(task, config, chunk, group, mesh)
  num_chunks = -(-num_orders // chunk)
  losses = np.empty((num_orders, config.steps), np.float32)
  run_start = time.perf_counter()
  for c, (done, rows, out) in enumerate(
      profile_chunks(perms, task, config, int(seed), mesh)):
    losses[done] = sharding.to_host(out)[rows]
    hi = int(done[-1]) + 1
    elapsed = time.perf_counter() - run_start
    rate = hi / elapsed
    info = Progress(chunk=c + 1, num_chunks=num_chunks, orders_done=hi,
                    num_orders=num_orders, elapsed_s=elapsed,
                    orders_per_s=rate, eta_s=(num_orders - hi) / rate)
    logging.info('profile %s: chunk %d/%d, %d/%d orders, %.1f orders/s, '
                 'ETA %.0fs', task.name, info.chunk, num_chunks, hi,
                 num_orders, rate, info.eta_s)
    if callback is not None:
      callback(info)
  run_s = time.perf_counter() - run_start

  scores = score_losses(losses, config.score, config.score_fraction)
  nonfinite = np.flatnonzero(~np.all(np.isfinite(losses), axis=1))
  if nonfinite.size:
    logging.warning('profile %s: %d orders had non-finite losses; they rank '
                    'last', task.name, nonfinite.size)
  total_s = time.perf_counter() - start
  timings = dict(compile_s=compile_s, run_s=run_s, total_s=total_s,
                 orders_per_s=num_orders / run_s,
                 order_steps_per_s=num_orders * config.steps / run_s,
                 order_steps=int(num_orders * config.steps),
                 devices=mesh.size)
  return Profile(perms=perms, losses=losses, scores=scores,
                 ranking=rank_scores(scores), nonfinite=nonfinite,
                 task=task.name, config=config, seed=int(seed),
                 timings=timings,
                 loss_steps=np.arange(1, config.steps + 1, dtype=np.int64))
