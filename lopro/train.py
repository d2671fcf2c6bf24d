"""Training one model on one generation order, as a pure function.

``make_train(task, config)`` returns ``train(key, order) -> losses float32[T]``:
initialisation, data and ``lax.scan`` over steps all inside one function, so
that ``profile.py`` can ``jax.vmap`` the whole run over orders. The pieces
(``init`` and ``run``) are exposed too, so that a run can be continued.

Dimension letters: B batch, L target length, Lx input length, T steps,
V target vocabulary.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lopro import model as model_lib
from lopro.tasks import base as tasks_lib

_LR_SCHEDULES = ('constant', 'linear', 'cosine')


def check_int(config: Any, name: str, low: int, what: str = '',
              bound: str = '') -> None:
  """Raises ValueError unless field ``name`` of the (frozen) dataclass
  ``config`` is an int >= ``low``; a numpy int is stored as a Python int.

  The message reads ``'{what}{name} must be {bound}, got ...'``, ``bound``
  defaulting to ``'an int >= {low}'``.
  """
  value = getattr(config, name)
  if (isinstance(value, (bool, np.bool_))
      or not isinstance(value, (int, np.integer)) or value < low):
    raise ValueError(f'{what}{name} must be {bound or f"an int >= {low}"}, '
                     f'got {value!r}')
  object.__setattr__(config, name, int(value))


def check_positive(config: Any, names: tuple[str, ...]) -> None:
  """Raises ValueError unless every named field of ``config`` is an int > 0."""
  for name in names:
    check_int(config, name, 1, bound='a positive int')


@dataclasses.dataclass(frozen=True)
class TrainConfig:
  """Model size and optimisation of one training run.

  Attributes:
    num_layers: transformer blocks.
    width: model width D.
    num_heads: attention heads; must divide ``width``.
    mlp_ratio: MLP hidden size over D.
    dropout: dropout rate in [0, 1).
    steps: T, optimiser steps.
    batch_size: B, fresh examples per step.
    learning_rate: peak learning rate of AdamW.
    lr_schedule: 'constant', 'linear' (decay to 0) or 'cosine', after warmup.
    warmup_steps: linear warmup from 0.
    weight_decay: AdamW decoupled weight decay.
    grad_clip: global-norm gradient clipping; 0 disables it.
  """
  num_layers: int = 1
  width: int = 32
  num_heads: int = 2
  mlp_ratio: int = 4
  dropout: float = 0.0
  steps: int = 300
  batch_size: int = 32
  learning_rate: float = 3e-3
  lr_schedule: str = 'constant'
  warmup_steps: int = 20
  weight_decay: float = 0.0
  grad_clip: float = 1.0

  def __post_init__(self):
    check_positive(self, ('num_layers', 'width', 'num_heads', 'mlp_ratio',
                          'steps', 'batch_size'))
    if self.width % self.num_heads:
      raise ValueError(f'num_heads={self.num_heads} must divide '
                       f'width={self.width}')
    for name in ('dropout', 'learning_rate', 'weight_decay', 'grad_clip'):
      value = getattr(self, name)
      if (isinstance(value, (bool, np.bool_))
          or not isinstance(value, (int, float, np.integer, np.floating))
          or not np.isfinite(value)):
        raise ValueError(f'{name} must be a finite number, got {value!r}')
      object.__setattr__(self, name, float(value))
    if not 0.0 <= self.dropout < 1.0:
      raise ValueError(f'dropout must be in [0, 1), got {self.dropout!r}')
    if not self.learning_rate > 0:
      raise ValueError(
          f'learning_rate must be positive, got {self.learning_rate!r}')
    if self.lr_schedule not in _LR_SCHEDULES:
      raise ValueError(f'lr_schedule must be one of {_LR_SCHEDULES}, '
                       f'got {self.lr_schedule!r}')
    check_int(self, 'warmup_steps', 0)
    if self.weight_decay < 0 or self.grad_clip < 0:
      raise ValueError('weight_decay and grad_clip must be >= 0, got '
                       f'{self.weight_decay!r}, {self.grad_clip!r}')


class TrainState(NamedTuple):
  params: Any
  opt_state: Any


class TrainFns(NamedTuple):
  """The pieces of a training run for one task and config.

  Attributes:
    init: ``init(key) -> TrainState``; does not depend on the order.
    run: ``run(state, data_key, dropout_key, order, start_step, num_steps)
      -> (state, losses float32[num_steps])``; continues a run. ``num_steps``
      must be a Python int; ``start_step`` may be traced. With
      ``slot_losses=True`` (one order, int[L]) the losses are a pair:
      (float32[num_steps], float32[num_steps, L]), the second each target
      slot's loss at each step, by stored slot index.
    apply: ``apply(params, inputs, targets, order) -> logits [B, L, V]``
      under teacher forcing, targets in stored order, logits in generation
      order.
    model: the flax module.
  """
  init: Callable[..., TrainState]
  run: Callable[..., tuple[TrainState, jax.Array]]
  apply: Callable[..., jax.Array]
  model: model_lib.Transformer


def encode(task: tasks_lib.Task, inputs: jax.Array, targets: jax.Array,
           order: jax.Array) -> tuple[jax.Array, jax.Array]:
  """Builds model tokens and labels for targets emitted in ``order``.

  Token ids: inputs ``0..Vx-1``, then SEP ``= Vx``, then targets
  ``Vx+1 .. Vx+V``. The model reads ``inputs, SEP, y[order][:-1]`` and must
  predict ``y[order]``.

  Args:
    task: the task (for value ranges).
    inputs: int[B, Lx].
    targets: int[B, L] in stored order.
    order: int[L], or int[B, L] for one order per example (mixture mode).

  Returns:
    (tokens int32[B, Lx + L], labels int32[B, L]) with labels in
    ``0..V-1``, in generation order.
  """
  x = inputs - task.input_range[0]
  if order.ndim == 1:
    ordered = jnp.take(targets, order, axis=-1)
  else:
    ordered = jnp.take_along_axis(targets, order, axis=-1)
  labels = ordered - task.target_range[0]
  sep = jnp.full(x.shape[:-1] + (1,), task.input_vocab, x.dtype)
  y = labels[..., :-1] + task.input_vocab + 1
  tokens = jnp.concatenate([x, sep, y], axis=-1)
  return tokens.astype(jnp.int32), labels.astype(jnp.int32)


def make_schedule(config: TrainConfig) -> optax.Schedule:
  """The learning rate: linear warmup from 0, then the configured decay.

  optax's warmup schedules, except a linear decay (optax has no warmup
  variant of it), which joins two linear schedules.
  """
  peak, warmup = config.learning_rate, config.warmup_steps
  if config.lr_schedule == 'cosine':
    return optax.warmup_cosine_decay_schedule(
        0.0, peak, warmup, max(config.steps, warmup + 1))
  if config.lr_schedule == 'constant':
    return (optax.warmup_constant_schedule(0.0, peak, warmup) if warmup
            else optax.constant_schedule(peak))
  decay = optax.linear_schedule(peak, 0.0, max(config.steps - warmup, 1))
  if not warmup:
    return decay
  return optax.join_schedules(
      [optax.linear_schedule(0.0, peak, warmup), decay], [warmup])


def make_optimizer(config: TrainConfig) -> optax.GradientTransformation:
  """AdamW on ``make_schedule``, after global-norm gradient clipping."""
  adamw = optax.adamw(make_schedule(config), weight_decay=config.weight_decay)
  if config.grad_clip:
    return optax.chain(optax.clip_by_global_norm(config.grad_clip), adamw)
  return adamw


def make_model(task: tasks_lib.Task, config: TrainConfig, *,
               slot_embedding: bool = False) -> model_lib.Transformer:
  """The transformer sized for ``task``'s vocabulary and lengths; with
  ``slot_embedding`` it is told the stored slot of every target position."""
  return model_lib.Transformer(
      vocab_size=task.input_vocab + 1 + task.target_vocab,
      output_size=task.target_vocab,
      max_len=task.input_length + task.length,
      num_layers=config.num_layers, width=config.width,
      num_heads=config.num_heads, mlp_ratio=config.mlp_ratio,
      dropout=config.dropout,
      slot_vocab=task.length if slot_embedding else 0)


def make_train_fns(task: tasks_lib.Task, config: TrainConfig) -> TrainFns:
  """Builds the pure pieces of a training run on ``task``.

  Args:
    task: the task to learn.
    config: model and optimiser settings.

  Returns:
    ``TrainFns``; none of them is jitted (callers jit or vmap them).
  """
  model = make_model(task, config)
  optimizer = make_optimizer(config)
  length = task.length

  def apply(params, inputs, targets, order, dropout_key=None):
    tokens, _ = encode(task, inputs, targets, order)
    rngs = None if dropout_key is None else {'dropout': dropout_key}
    return model.apply({'params': params}, tokens, length,
                       deterministic=dropout_key is None, rngs=rngs)

  def init(key: jax.Array) -> TrainState:
    dummy = jnp.zeros((1, task.input_length + length), jnp.int32)
    params = model.init(key, dummy, length)['params']
    return TrainState(params, optimizer.init(params))

  def loss_fn(params, inputs, targets, order, dropout_key):
    _, labels = encode(task, inputs, targets, order)
    logits = apply(params, inputs, targets, order,
                   dropout_key if config.dropout else None)
    per_token = optax.softmax_cross_entropy_with_integer_labels(
        logits, labels)  # [B, L], generation order
    return per_token.mean(), per_token

  def run(state: TrainState, data_key: jax.Array, dropout_key: jax.Array,
          order: jax.Array, start_step, num_steps: int,
          slot_losses: bool = False):
    def step(state, i):
      step_index = start_step + i
      batch_key = jax.random.fold_in(data_key, step_index)
      inputs, targets = task.sample(batch_key, config.batch_size)
      (loss, per_token), grads = jax.value_and_grad(loss_fn, has_aux=True)(
          state.params, inputs, targets, order,
          jax.random.fold_in(dropout_key, step_index))
      updates, opt_state = optimizer.update(grads, state.opt_state,
                                            state.params)
      params = optax.apply_updates(state.params, updates)
      out = loss.astype(jnp.float32)
      if slot_losses:
        by_slot = jnp.zeros(length, jnp.float32).at[order].set(
            per_token.mean(axis=0).astype(jnp.float32))
        out = (out, by_slot)
      return TrainState(params, opt_state), out

    return jax.lax.scan(step, state, jnp.arange(num_steps))

  return TrainFns(init=init, run=run, apply=apply, model=model)


def split_run_key(key: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
  """The named keys of one run: (init_key, data_key, dropout_key)."""
  init_key, data_key, dropout_key = jax.random.split(key, 3)
  return init_key, data_key, dropout_key


def make_train(task: tasks_lib.Task, config: TrainConfig, *,
               slot_losses: bool = False) -> Callable[..., Any]:
  """Returns ``train(key, order) -> losses float32[T]`` (not jitted).

  ``train`` initialises a model from ``key``, draws a fresh batch every step
  from ``fold_in(data_key, step)`` and trains on targets emitted in
  ``order``. It is pure, so it can be jitted or vmapped over keys and orders.
  With ``slot_losses=True`` it returns ``(losses float32[T], float32[T, L])``,
  the second each target slot's training loss at each step (stored slot
  index), which says which slots an order makes hard.
  """
  fns = make_train_fns(task, config)

  def train(key: jax.Array, order: jax.Array) -> Any:
    init_key, data_key, dropout_key = split_run_key(key)
    state = fns.init(init_key)
    _, losses = fns.run(state, data_key, dropout_key, order, 0, config.steps,
                        slot_losses=slot_losses)
    return losses

  return train
