"""Evaluation: train a model on one order, decode greedily, count exact matches.

``evaluate_order(order, task)`` trains a (larger) transformer on targets
emitted in ``order``, then decodes a held-out set greedily, one target token
at a time in that order, maps the prediction back to stored order and
reports the share of examples whose whole target is right (the paper's
success rate) and the accuracy of every target slot.

Held-out set: examples drawn from their own key and *rejected* when their
inputs occur in the evaluation run's training stream or in the profiling
stream of the same seed (``Independent()``'s unless the config says
otherwise), so it is disjoint from both, by construction and checked. Repeats
inside the held-out set are dropped too. Targets are a function of the
inputs in every built-in task, so disjoint inputs mean disjoint examples.
A task with a fixed held-out set (``Task.heldout``, e.g. a dataset's
held-out part, ``lopro.dataset_task``) is decoded on that set instead: its
first ``num_heldout`` examples (all of them when it has fewer), disjoint by
construction from the training part it never samples.

``evaluate_orders`` trains several orders at once (vmapped, common random
numbers: the same init, data and held-out set for every order).

Dimension letters: O orders, N held-out examples, L target length, Lx input
length, V target vocabulary, T steps.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lopro import orders as orders_lib
from lopro import profile as profile_lib
from lopro import results
from lopro import train as train_lib
from lopro.tasks import base as tasks_lib

# fold_in salts that keep the evaluation's streams apart from the profile's
# (whose run key is jax.random.key(seed) itself).
_TRAIN_STREAM = 1
_HELDOUT_STREAM = 2
# Held-out candidates drawn per round, as a multiple of the examples needed.
_OVERSAMPLE = 2
_MAX_HELDOUT_ROUNDS = 50
# Steps of a training stream regenerated at once to build the exclusion set.
_STREAM_CHUNK = 512


# The cpu preset's model and training: 2 layers of width 128, batch 128,
# 3,000 steps of AdamW with warmup and linear decay (about 3 min per order on
# 2 CPU cores at L = 8).
CPU_TRAIN = train_lib.TrainConfig(
    num_layers=2, width=128, num_heads=4, steps=3000, batch_size=128,
    learning_rate=1e-3, lr_schedule='linear', warmup_steps=100)
# The paper's final model (research/PAPER.md §5): 6 layers, width 512, FFN
# 2048, dropout 0.1, AdamW with linear decay from 5e-5, batch 128, 10 epochs
# of 10^5 samples (7,813 steps; the paper trains on a fixed set, lopro on a
# fresh stream). The number of heads and the warmup are not given; 8 and 0.
PAPER_TRAIN = train_lib.TrainConfig(
    num_layers=6, width=512, num_heads=8, mlp_ratio=4, dropout=0.1,
    learning_rate=5e-5, lr_schedule='linear', warmup_steps=0, batch_size=128,
    steps=7813)


@dataclasses.dataclass(frozen=True)
class EvalConfig:
  """The evaluation model, its training, the held-out set.

  Attributes:
    train: the evaluation model and its training (``CPU_TRAIN`` by default;
      ``EvalConfig.paper()`` has the paper's final model).
    num_heldout: N, held-out examples decoded (the paper's evaluation set
      has 1,000); fewer when a task's fixed held-out set (``Task.heldout``)
      has fewer.
    decode_batch: held-out examples decoded at once (bounds memory).
    profile_steps, profile_batch_size: the profiling stream of the same
      seed (``Independent()``'s by default), whose inputs are excluded from
      the held-out set too.
  """
  train: train_lib.TrainConfig = CPU_TRAIN
  num_heldout: int = 1000
  decode_batch: int = 1000
  profile_steps: int = train_lib.TrainConfig().steps
  profile_batch_size: int = train_lib.TrainConfig().batch_size

  def __post_init__(self):
    if not isinstance(self.train, train_lib.TrainConfig):
      raise ValueError(f'EvalConfig.train must be a lopro.TrainConfig, got '
                       f'{type(self.train).__name__}')
    train_lib.check_positive(self, ('num_heldout', 'decode_batch',
                                    'profile_steps', 'profile_batch_size'))

  @classmethod
  def cpu(cls, **overrides) -> EvalConfig:
    """The cpu preset; ``overrides`` name EvalConfig or TrainConfig fields,
    e.g. ``EvalConfig.cpu(steps=1000)``."""
    return cls._with(CPU_TRAIN, overrides)

  @classmethod
  def paper(cls, **overrides) -> EvalConfig:
    """The paper's final model; overrides as in ``cpu``."""
    return cls._with(PAPER_TRAIN, overrides)

  @classmethod
  def preset(cls, name: str, **overrides) -> EvalConfig:
    """``'cpu'`` or ``'paper'``."""
    if name not in PRESETS:
      raise ValueError(f'unknown EvalConfig preset {name!r}; known: '
                       f'{list(PRESETS)}')
    return getattr(cls, name)(**overrides)

  @classmethod
  def _with(cls, train: train_lib.TrainConfig, overrides) -> EvalConfig:
    """The preset ``train`` (or ``overrides['train']``) with the overrides
    of TrainConfig fields, and the overrides of EvalConfig's own."""
    overrides = dict(overrides)
    train = overrides.pop('train', train)
    own = {f.name for f in dataclasses.fields(cls)}
    known = own | {f.name for f in dataclasses.fields(train_lib.TrainConfig)}
    unknown = sorted(set(overrides) - known)
    if unknown:
      raise ValueError(f'unknown EvalConfig override(s) {unknown}; known: '
                       f'{sorted(known)}')
    if not isinstance(train, train_lib.TrainConfig):
      raise ValueError(f'EvalConfig.train must be a lopro.TrainConfig, got '
                       f'{type(train).__name__}')
    train = dataclasses.replace(
        train, **{k: v for k, v in overrides.items() if k not in own})
    return cls(train=train, **{k: v for k, v in overrides.items()
                               if k in own})

  def to_dict(self) -> dict[str, Any]:
    return results.to_jsonable(dataclasses.asdict(self))


PRESETS = ('cpu', 'paper')


@dataclasses.dataclass
class EvalResult:
  """How well a model trained on one order does on held-out examples.

  Attributes:
    order: int[L], the generation order.
    success_rate: share of held-out examples whose whole target was
      produced exactly (greedy decoding, mapped back to stored order).
    position_accuracy: float[L], accuracy of each target slot, stored order.
    losses: float32[T], the training loss per step.
    steps: T.
    num_heldout: N.
    wall_time: seconds of the whole evaluation call (shared by the orders
      of one ``evaluate_orders`` call).
    task: task name.
    seed: the seed.
    config: the EvalConfig.
  """
  order: np.ndarray
  success_rate: float
  position_accuracy: np.ndarray
  losses: np.ndarray
  steps: int
  num_heldout: int
  wall_time: float
  task: str
  seed: int
  config: EvalConfig

  def to_dict(self) -> dict[str, Any]:
    out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
           if f.name != 'config'}
    out['order_string'] = orders_lib.order_to_string(self.order)
    out['config'] = self.config.to_dict()
    return results.to_jsonable(out)


# --------------------------------------------------------------------------
# Held-out set.
# --------------------------------------------------------------------------


@functools.partial(jax.jit, static_argnums=(0, 3))
def _draw_inputs(task: tasks_lib.Task, data_key: jax.Array,
                 step_indices: jax.Array, batch_size: int) -> jax.Array:
  """Inputs of the training batches at ``step_indices``: int[S, B, Lx].

  Jitted once per (task, batch size, number of steps): keys and steps are
  arguments, so every seed and stream reuses the program.
  """
  return jax.vmap(lambda i: task.sample(
      jax.random.fold_in(data_key, i), batch_size)[0])(step_indices)


def _stream_inputs(task: tasks_lib.Task, data_key: jax.Array, steps: int,
                   batch_size: int) -> np.ndarray:
  """The inputs a training run with ``data_key`` sees: int[steps*B, Lx]."""
  parts = []
  for start in range(0, steps, _STREAM_CHUNK):
    index = np.arange(start, min(start + _STREAM_CHUNK, steps))
    # Pad to a fixed chunk so the draw compiles once per batch size.
    padded = np.resize(index, _STREAM_CHUNK)
    parts.append(np.asarray(
        _draw_inputs(task, data_key, padded, batch_size))[:index.size])
  return np.concatenate(parts).reshape(-1, task.input_length)


def _row_keys(rows: np.ndarray) -> list[bytes]:
  return [r.tobytes() for r in np.ascontiguousarray(rows, dtype=np.int32)]


def training_inputs(task: tasks_lib.Task, config: EvalConfig,
                    seed: int) -> np.ndarray:
  """Every input row of the evaluation run's and the profile's streams.

  Returns:
    int32[steps * batch + profile_steps * profile_batch, Lx].
  """
  _, eval_data_key, _ = train_lib.split_run_key(_run_key(seed))
  _, profile_data_key, _ = train_lib.split_run_key(jax.random.key(seed))
  return np.concatenate([
      _stream_inputs(task, eval_data_key, config.train.steps,
                     config.train.batch_size),
      _stream_inputs(task, profile_data_key, config.profile_steps,
                     config.profile_batch_size)]).astype(np.int32)


def heldout_set(task: tasks_lib.Task, config: EvalConfig,
                seed: int) -> tuple[np.ndarray, np.ndarray]:
  """N distinct examples whose inputs no training or profiling step sees.

  A task with a fixed held-out set (``task.heldout``) gives its first
  ``config.num_heldout`` examples instead (fewer when the set has fewer),
  the same for every seed.

  Returns:
    (inputs int32[N, Lx], targets int32[N, L]), targets in stored order.

  Raises:
    ValueError: the task has too few examples outside the training streams
      (e.g. a small ``function_task`` pool that training covers).
  """
  if task.heldout is not None:
    inputs, targets = task.heldout
    need = min(config.num_heldout, inputs.shape[0])
    return np.array(inputs[:need]), np.array(targets[:need])
  seen = set(_row_keys(training_inputs(task, config, seed)))
  key = jax.random.fold_in(jax.random.key(seed), _HELDOUT_STREAM)
  need = config.num_heldout
  inputs, targets = [], []
  for round_index in range(_MAX_HELDOUT_ROUNDS):
    x, y = task.sample(jax.random.fold_in(key, round_index),
                       _OVERSAMPLE * need)
    x, y = np.asarray(x, np.int32), np.asarray(y, np.int32)
    for row_x, row_y, row_key in zip(x, y, _row_keys(x)):
      if row_key not in seen:
        seen.add(row_key)  # also keeps the held-out set free of repeats
        inputs.append(row_x)
        targets.append(row_y)
        if len(inputs) == need:
          return np.stack(inputs), np.stack(targets)
  raise ValueError(
      f'task {task.name!r}: found only {len(inputs)} of num_heldout={need} '
      f'held-out examples outside the {config.train.steps} x '
      f'{config.train.batch_size} '
      f'training and profiling examples; lower num_heldout or use a task '
      f'with more distinct inputs')


# --------------------------------------------------------------------------
# Decoding and scoring.
# --------------------------------------------------------------------------


def greedy_decode(logits_fn, task: tasks_lib.Task, inputs: jax.Array,
                  order: jax.Array) -> jax.Array:
  """Generates the target one token at a time, greedily, in ``order``.

  Args:
    logits_fn: ``tokens int32[N, Lx+L] -> logits [N, L, V]`` of the positions
      that predict the L targets (SEP and the emitted targets); causal, so a
      position never sees the placeholders after it.
    task: the task (token ranges).
    inputs: int[N, Lx].
    order: int[L].

  Returns:
    int32[N, L] predicted target values in *generation* order.
  """
  length, offset = task.length, task.input_length + 1
  x = (inputs - task.input_range[0]).astype(jnp.int32)
  sep = jnp.full(x.shape[:-1] + (1,), task.input_vocab, jnp.int32)
  tokens = jnp.concatenate(
      [x, sep, jnp.zeros(x.shape[:-1] + (length - 1,), jnp.int32)], axis=-1)
  del order  # the model knows the order only through training

  def step(t, carry):
    tokens, labels = carry
    label = jnp.argmax(logits_fn(tokens)[:, t], axis=-1).astype(jnp.int32)
    labels = labels.at[:, t].set(label)
    # The token for y_t goes in position offset + t; the last one is unused.
    write = jnp.minimum(offset + t, offset + length - 2)
    new = jnp.where(t < length - 1, label + task.input_vocab + 1,
                    tokens[:, write])
    tokens = tokens.at[:, write].set(new)
    return tokens, labels

  labels = jnp.zeros(x.shape[:-1] + (length,), jnp.int32)
  _, labels = jax.lax.fori_loop(0, length, step, (tokens, labels))
  return labels + task.target_range[0]


def to_stored_order(generated: jax.Array, order: jax.Array) -> jax.Array:
  """Values in generation order ``[..., L]`` back in stored order."""
  return jnp.zeros_like(generated).at[..., order].set(generated)


def exact_match(generated: jax.Array, targets: jax.Array,
                order: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(success rate, accuracy per stored slot float[L]) of a decoded set.

  Args:
    generated: int[N, L], predictions in generation order.
    targets: int[N, L], truth in stored order.
    order: int[L].
  """
  correct = to_stored_order(generated, order) == targets
  return jnp.all(correct, axis=-1).mean(), correct.mean(axis=0)


# --------------------------------------------------------------------------
# Evaluation.
# --------------------------------------------------------------------------


def _run_key(seed: int) -> jax.Array:
  return jax.random.fold_in(jax.random.key(seed), _TRAIN_STREAM)


@functools.lru_cache(maxsize=16)
def _compiled_eval(task: tasks_lib.Task, config: EvalConfig,
                   num_orders: int, num_seeds: int):
  """jit of ``(keys [S], perms [O, L], x [S, N, Lx], y [S, N, L]) ->
  (losses [S, O, T], success [S, O], accuracy [S, O, L])``, cached per
  (task, config, O, S)."""
  fns = train_lib.make_train_fns(task, config.train)
  length = task.length

  def one(key, order, inputs, targets):
    init_key, data_key, dropout_key = train_lib.split_run_key(key)
    state = fns.init(init_key)
    state, losses = fns.run(state, data_key, dropout_key, order, 0,
                            config.train.steps)

    def logits_fn(tokens):
      return fns.model.apply({'params': state.params}, tokens, length,
                             deterministic=True)

    def decode(batch):
      return greedy_decode(logits_fn, task, batch, order)

    n = inputs.shape[0]
    size = min(config.decode_batch, n)
    num_batches = -(-n // size)
    # Pad with copies of the first rows to whole decode batches; dropped.
    padded = jnp.concatenate([inputs, inputs[:num_batches * size - n]])
    generated = jax.lax.map(decode, padded.reshape(num_batches, size, -1))
    generated = generated.reshape(num_batches * size, length)[:n]
    success, accuracy = exact_match(generated, targets, order)
    return losses, success, accuracy

  over_orders = jax.vmap(one, in_axes=(None, 0, None, None))
  return jax.jit(jax.vmap(over_orders, in_axes=(0, None, 0, 0)))


def evaluate_grid(perms, task: str | tasks_lib.Task, *,
                  config: EvalConfig | None = None,
                  seeds=(0,)) -> list[list[EvalResult]]:
  """Evaluates every order under every seed in one vmapped run.

  Each seed has its own init, training stream and held-out set; within a
  seed every order shares them (common random numbers).

  Args:
    perms: int[O, L] orders.
    task: a task name (built at length L) or a Task.
    config: an EvalConfig; defaults to ``EvalConfig()`` (the cpu preset).
    seeds: S seeds.

  Returns:
    ``results[s][o]``, an EvalResult per seed and order.

  Raises:
    ValueError: bad perms, task, config or seeds; too few held-out examples;
      a task with fewer training examples than a batch (a small dataset).
  """
  start = time.perf_counter()
  config = EvalConfig() if config is None else config
  if not isinstance(config, EvalConfig):
    raise ValueError(f'config must be an EvalConfig, got '
                     f'{type(config).__name__}')
  seeds = list(seeds)
  if not seeds or any(isinstance(s, bool) or not isinstance(
      s, (int, np.integer)) for s in seeds):
    raise ValueError(f'seeds must be a non-empty sequence of ints, got '
                     f'{seeds!r}')
  perms = orders_lib.validate_orders(perms)
  task = profile_lib.resolve_task(task, perms.shape[1])
  tasks_lib.check_batch_size(task, config.train.batch_size,
                             'EvalConfig.train.batch_size')
  sets = [heldout_set(task, config, int(s)) for s in seeds]
  inputs = np.stack([x for x, _ in sets])
  targets = np.stack([y for _, y in sets])
  keys = jnp.stack([_run_key(int(s)) for s in seeds])
  fn = _compiled_eval(task, config, perms.shape[0], len(seeds))
  losses, success, accuracy = jax.device_get(
      fn(keys, perms.astype(np.int32), inputs, targets))
  wall = time.perf_counter() - start
  return [[EvalResult(order=perms[o], success_rate=float(success[s, o]),
                      position_accuracy=np.asarray(accuracy[s, o]),
                      losses=np.asarray(losses[s, o]),
                      steps=config.train.steps,
                      num_heldout=inputs.shape[1], wall_time=wall,
                      task=task.name, seed=int(seed), config=config)
           for o in range(perms.shape[0])]
          for s, seed in enumerate(seeds)]


def evaluate_orders(perms, task: str | tasks_lib.Task, *,
                    config: EvalConfig | None = None,
                    seed: int = 0) -> list[EvalResult]:
  """Trains one model per order (vmapped) and measures exact-match success.

  Every order gets the same initialisation, training stream and held-out
  set (common random numbers), so differences come from the order.

  Args:
    perms: int[O, L] orders.
    task: a task name (built at length L) or a Task.
    config: an EvalConfig; defaults to ``EvalConfig()`` (the cpu preset).
    seed: seed of the init, the training stream and the held-out set.

  Returns:
    One EvalResult per order, in the order of ``perms``.

  Raises:
    ValueError: bad perms, task or config; too few held-out examples.
  """
  if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
    raise ValueError(f'seed must be an int, got {seed!r}')
  return evaluate_grid(perms, task, config=config, seeds=[seed])[0]


def evaluate_order(order, task: str | tasks_lib.Task, *,
                   config: EvalConfig | None = None,
                   seed: int = 0) -> EvalResult:
  """Trains a model on ``order`` and measures its exact-match success.

  Args:
    order: int[L], the generation order (the model emits ``y[order]``).
    task: a task name (built at length L) or a Task.
    config: an EvalConfig; defaults to ``EvalConfig()`` (the cpu preset).
    seed: seed of the init, the training stream and the held-out set.

  Returns:
    An EvalResult: ``success_rate``, ``position_accuracy`` (stored order),
    ``losses``, ``steps``, ``wall_time``.

  References:
    Sato, Kawamoto & Kera, arXiv 2506.23875, §5 (success rate).
  """
  order = orders_lib.validate_order(order)
  return evaluate_orders(order[None], task, config=config, seed=seed)[0]
