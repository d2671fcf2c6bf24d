"""The built-in tasks of the paper and lopro, and their registry.

``get_task(name, length, **params)`` builds one (memoised: the same arguments
give the same object, so programs compiled per task are reused). Per-task
functions ``f`` over the 19 x 19 value grid are tabulated once on the host
in exact integer / float64 arithmetic, so float32 rounding can never change
a target.

Dimension letters: B examples, Lx input length, L target length.

References:
  Sato, Kawamoto & Kera, "Discovering Learning-Friendly Generation Orders for
  Sequential Computation", arXiv 2506.23875 (tasks RELU, SQUARE-19, INDEX,
  PROD; CUBIC, SINE, TRIANGLE, MLP and delay systems are named there but not
  defined, so the definitions here are lopro's own).
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import math
import threading
import types
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lopro import orders
from lopro.tasks.base import as_int
from lopro.tasks.base import chain_or_identity
from lopro.tasks.base import check_length
from lopro.tasks.base import frozen_array
from lopro.tasks.base import HI
from lopro.tasks.base import LO
from lopro.tasks.base import make_chain_task
from lopro.tasks.base import relu_step
from lopro.tasks.base import SMALL
from lopro.tasks.base import table_step
from lopro.tasks.base import Task
from lopro.tasks.base import UniformSampler
from lopro.tasks.delay import delay_task

# Seed of the fixed random MLP behind the 'mlp' task's table.
MLP_SEED = 19
MLP_HIDDEN = 32

# ---------------------------------------------------------------------------
# The 19 x 19 step tables of the chain tasks.


def _c19(r):
  """Maps a residue mod 19 to {-9..9}: r if r <= 9 else r - 19."""
  return np.where(r <= 9, r, r - 19)


def _grid() -> tuple[np.ndarray, np.ndarray]:
  values = np.arange(LO, HI + 1, dtype=np.int64)
  return np.meshgrid(values, values, indexing='ij')  # x, y


def _mlp_table() -> np.ndarray:
  """The 'mlp' table: a random 2-layer tanh MLP, quantised by rank.

  ``u = (x/9, y/9)``, ``h = tanh(u W1 + b1)`` with 32 hidden units,
  ``out = h W2 + b2``, weights drawn by ``np.random.default_rng(MLP_SEED)``
  (W1, b1 ~ N(0, 2^2); W2 ~ N(0, 1/32); b2 ~ N(0, 1)). The 361 outputs are
  ranked (stable sort, so ties break by flat index) and split into 19
  equal-count bins of 19 entries, bin b giving the value ``b - 9``: every
  value of {-9..9} appears exactly 19 times.
  """
  rng = np.random.default_rng(MLP_SEED)
  w1 = 2.0 * rng.standard_normal((2, MLP_HIDDEN))
  b1 = 2.0 * rng.standard_normal(MLP_HIDDEN)
  w2 = rng.standard_normal(MLP_HIDDEN) / math.sqrt(MLP_HIDDEN)
  b2 = rng.standard_normal()
  x, y = _grid()
  u = np.stack([x, y], axis=-1).reshape(-1, 2) / 9.0
  out = np.tanh(u @ w1 + b1) @ w2 + b2
  ranks = np.empty(out.size, dtype=np.int64)
  ranks[np.argsort(out, kind='stable')] = np.arange(out.size)
  bins = ranks * 19 // out.size
  return (bins - 9).reshape(19, 19)


def _tables() -> dict[str, np.ndarray]:
  x, y = _grid()
  tables = {
      'square19': _c19((x**2 + y**2) % 19),
      'cubic': _c19((x**3 + y**3) % 19),
      'sine': np.round(9.0 * np.sin((x + y).astype(np.float64))),
      'triangle': np.abs((x + y) % 36 - 18) - 9,
      'mlp': _mlp_table(),
  }
  return {name: frozen_array(table) for name, table in tables.items()}


_TABLES = _tables()


def step_table(name: str) -> np.ndarray:
  """The step function of a table chain task, as a read-only table.

  Args:
    name: one of 'square19', 'cubic', 'sine', 'triangle', 'mlp'.

  Returns:
    int64[19, 19] with ``table[x + 9, y + 9] = f(x, y)`` for x, y in -9..9.
  """
  if name not in _TABLES:
    raise ValueError(f'no step table for {name!r}; tables exist for: '
                     f'{", ".join(_TABLES)}')
  return _TABLES[name]


# ---------------------------------------------------------------------------
# Built-in tasks.


def relu_task(length: int = 8, *, chain=None) -> Task:
  """RELU: ``y_i = max(x_i + y_{i-1}, 0)``, x uniform in -9..9.

  ``y[chain[0]] = x[chain[0]]`` may be negative, later values are in 0..9k,
  so the target range is (-9, 9 L).

  Args:
    length: L >= 2.
    chain: int[L], the permutation the recurrence runs along (default
      identity); it is also the friendly order.

  Returns:
    The Task.
  """
  length = check_length('relu', length)
  chain = chain_or_identity(chain, length)
  return make_chain_task('relu', length, relu_step, chain, SMALL,
                         (LO, HI * length), {})


def _table_task(name: str, length: int, chain) -> Task:
  length = check_length(name, length)
  chain = chain_or_identity(chain, length)
  step = table_step(step_table(name), LO, LO)
  return make_chain_task(name, length, step, chain, SMALL, SMALL, {})


def square19_task(length: int = 8, *, chain=None) -> Task:
  """SQUARE-19: ``y_i = c((x_i² + y_{i-1}²) mod 19)``; x, y in -9..9.

  ``c(r) = r if r <= 9 else r - 19``. Example: x = [7, -2, 4, 1, 3] gives
  y = [7, -4, -6, -1, -9]. Arguments as in ``relu_task``.
  """
  return _table_task('square19', length, chain)


def cubic_task(length: int = 8, *, chain=None) -> Task:
  """CUBIC: ``y_i = c((x_i³ + y_{i-1}³) mod 19)`` (non-negative residue).

  Arguments as in ``relu_task``; x, y in -9..9.
  """
  return _table_task('cubic', length, chain)


def sine_task(length: int = 8, *, chain=None) -> Task:
  """SINE: ``y_i = round(9 sin(x_i + y_{i-1}))``, in float64 on the host.

  Arguments as in ``relu_task``; x, y in -9..9 (no ties arise in rounding).
  """
  return _table_task('sine', length, chain)


def triangle_task(length: int = 8, *, chain=None) -> Task:
  """TRIANGLE: ``y_i = tri(x_i + y_{i-1})``, ``tri(z) = |z mod 36 - 18| - 9``.

  Arguments as in ``relu_task``; x, y in -9..9.
  """
  return _table_task('triangle', length, chain)


def mlp_task(length: int = 8, *, chain=None) -> Task:
  """MLP: ``y_i = M[x_i, y_{i-1}]``, M a fixed 19 x 19 table in -9..9.

  M comes from a random 2-layer MLP with a fixed seed, quantised into
  equal-count bins (see ``step_table('mlp')`` and ``_mlp_table``). Arguments
  as in ``relu_task``.
  """
  return _table_task('mlp', length, chain)


def planted_task(length: int = 8, *, order_seed: int = 0) -> Task:
  """PLANTED: RELU along a random chain, the friendly order to be found.

  Args:
    length: L >= 2.
    order_seed: the chain is ``np.random.default_rng(order_seed)
      .permutation(L)``.

  Returns:
    The Task; its friendly order is the planted chain.
  """
  length = check_length('planted', length)
  order_seed = as_int('order_seed', order_seed)
  if order_seed < 0:
    raise ValueError(f'order_seed must be >= 0, got {order_seed}')
  chain = np.random.default_rng(order_seed).permutation(length)
  task = make_chain_task('planted', length, relu_step, chain, SMALL,
                         (LO, HI * length), {})
  return dataclasses.replace(task, params={'order_seed': order_seed})


def index_task(length: int = 8, *, d: int = 2) -> Task:
  """INDEX: ``y_i = x[(y_{i-1} + ... + y_{i-d}) mod L]``, x uniform in 0..L-1.

  Terms with ``i - j < 0`` count as 0, so ``y_0 = x_0``; indexing is
  0-based. The friendly order is the identity. Slot 0 copies an input, so
  it is free (``free_slots``), as a chain's first slot is: a target that
  reads y_0 can read x_0 instead, which is no further away (the paper counts
  ``1 0 2 3 ...`` as found at L=13).

  Args:
    length: L >= 2.
    d: window size, 1 <= d <= L (the paper uses 2, 4, 8).

  Returns:
    The Task.
  """
  length = check_length('index', length)
  d = as_int('d', d)
  if not 1 <= d <= length:
    raise ValueError(f'task \'index\': d must be in 1..L={length}, got {d}')

  def targets(inputs):
    batch = inputs.shape[0]

    def body(window, _):  # window [B, d], most recent first
      p = jnp.sum(window, axis=1) % length
      y = jnp.take_along_axis(inputs, p[:, None], axis=1)[:, 0]
      window = jnp.concatenate([y[:, None], window[:, :-1]], axis=1)
      return window, y

    window = jnp.zeros((batch, d), jnp.int32)
    _, ys = jax.lax.scan(body, window, None, length=length)
    return ys.T

  rng = (0, length - 1)
  return Task(name='index', length=length, input_length=length,
              input_range=rng, target_range=rng,
              sample_fn=UniformSampler(length, rng, targets),
              friendly_order=orders.identity(length), params={'d': d},
              free_slots=(0,),
              depends_on=tuple(tuple(range(max(0, i - d), i))
                               for i in range(length)))


def prod_task(length: int = 8) -> Task:
  """PROD: the 2n digits of a·b for two n-digit numbers, as written.

  Digits of a and b are uniform in 0..9 (leading zeros allowed); inputs are
  a's digits then b's, most significant first (Lx = 2n); targets are the 2n
  digits of a·b, most significant first, zero-padded. The friendly order is
  the reverse (least significant digit first). Computed by digit-wise
  schoolbook multiplication with carries, so int32 never overflows.

  Args:
    length: L = 2n, even and >= 2.

  Returns:
    The Task.
  """
  length = check_length('prod', length)
  if length % 2:
    raise ValueError(f'task \'prod\' needs an even length (two n-digit '
                     f'operands give L = 2n), got {length}')
  n = length // 2

  def targets(inputs):
    a = inputs[:, n - 1::-1]  # least significant digit first
    b = inputs[:, :n - 1:-1]
    columns = jnp.zeros((inputs.shape[0], length), jnp.int32)
    for i in range(n):
      columns += jnp.pad(a[:, i:i + 1] * b, ((0, 0), (i, n - i)))

    def carry_step(carry, column):
      value = column + carry
      return value // 10, value % 10

    _, digits = jax.lax.scan(carry_step, jnp.zeros_like(columns[:, 0]),
                             columns.T)  # [L, B] least significant first
    return digits.T[:, ::-1]

  digit = (0, 9)
  return Task(name='prod', length=length, input_length=length,
              input_range=digit, target_range=digit,
              sample_fn=UniformSampler(length, digit, targets),
              friendly_order=orders.reverse(length), params={})


# ---------------------------------------------------------------------------
# Registry.

TASKS: Mapping[str, Callable[..., Task]] = types.MappingProxyType({
    'relu': relu_task,
    'square19': square19_task,
    'cubic': cubic_task,
    'sine': sine_task,
    'triangle': triangle_task,
    'mlp': mlp_task,
    'planted': planted_task,
    'index': index_task,
    'prod': prod_task,
    'delay': delay_task,
})


def task_names() -> tuple[str, ...]:
  """Names of the built-in tasks, in DESIGN.md's order."""
  return tuple(TASKS)


_CACHE_LOCK = threading.Lock()
_RAW_CACHE: dict[Any, Task] = {}
_CANONICAL_CACHE: dict[Any, Task] = {}


def _freeze(value) -> Any:
  """A hashable cache key for an argument (lists/arrays become tuples)."""
  if isinstance(value, np.ndarray):
    value = value.tolist()
  if isinstance(value, Mapping):
    return ('dict',) + tuple(sorted((str(k), _freeze(v))
                                    for k, v in value.items()))
  if isinstance(value, (list, tuple, range)):
    return tuple(_freeze(v) for v in value)
  if isinstance(value, (bool, np.bool_, float, np.floating)):
    return (type(value).__name__, value)  # so that True != 1 and 2.0 != 2
  if isinstance(value, np.integer):
    return int(value)
  return value


def parse_task_params(items) -> dict[str, int]:
  """Task parameters from ``name=int`` strings (command-line flags).

  Example: ``['order_seed=5', 'd=2'] -> {'order_seed': 5, 'd': 2}``.

  Raises:
    ValueError: an item that is not ``name=int``.
  """
  params = {}
  for item in items:
    name, sep, value = str(item).partition('=')
    try:
      if not sep or not name.strip():
        raise ValueError
      params[name.strip()] = int(value)
    except ValueError:
      raise ValueError(f'task parameter {item!r} is not name=int, e.g. '
                       f'order_seed=5') from None
  return params


def get_task(name: str, length: int = 8, **params: Any) -> Task:
  """The built-in task ``name`` of target length L.

  Memoised: the same arguments (lists, tuples and arrays alike, defaults
  spelled out or not) give the same ``Task`` object, so compiled programs
  cached per task are reused.

  Args:
    name: one of ``task_names()`` (case-insensitive).
    length: L.
    **params: the task's own arguments, e.g. ``chain=`` (chain tasks),
      ``order_seed=`` (planted), ``d=`` (index), ``parents=`` (delay).

  Returns:
    The Task.

  Raises:
    ValueError: unknown name (the message lists the known ones), a length the
      task cannot make, unknown parameters, or bad parameter values.
  """
  if not isinstance(name, str) or name.lower() not in TASKS:
    raise ValueError(f'unknown task {name!r}; known tasks: '
                     f'{", ".join(task_names())}')
  name = name.lower()
  builder = TASKS[name]
  length = check_length(name, length)
  accepted = [p for p in inspect.signature(builder).parameters
              if p != 'length']
  unknown = sorted(set(params) - set(accepted))
  if unknown:
    raise ValueError(f'unknown parameter(s) {", ".join(map(repr, unknown))} '
                     f'for task {name!r}; it accepts: '
                     f'{", ".join(accepted) or "no parameters"}')
  raw_key = (name, length, _freeze(params))
  try:
    hash(raw_key)
  except TypeError:
    raw_key = None
  with _CACHE_LOCK:
    if raw_key is not None and raw_key in _RAW_CACHE:
      return _RAW_CACHE[raw_key]
  task = builder(length, **params)
  canonical_key = (name, length, json.dumps(dict(task.params), sort_keys=True))
  with _CACHE_LOCK:
    task = _CANONICAL_CACHE.setdefault(canonical_key, task)
    if raw_key is not None:
      _RAW_CACHE[raw_key] = task
  return task
