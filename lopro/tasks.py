"""Tasks: what the model must produce, and in which orders that is easy.

A ``Task`` bundles a pure JAX sampler ``sample(key, n) -> (inputs, targets)``
with the value ranges the model's vocabulary needs and the orders that are
known to matter (``friendly_order``, ``reference_orders``).

Built-in tasks are made by ``get_task(name, length, **params)`` (memoised:
the same arguments give the same object). Users make their own from a plain
Python function with ``chain_task`` (a recurrence ``y_i = f(x_i, y_{i-1})``)
or ``function_task`` (any map from inputs to targets); nothing else in lopro
needs to change.

Every sampler draws its inputs with ``jax.random.randint`` and computes the
targets from them with a pure function (table lookups, ``lax.scan``), so it
can be jitted, vmapped and called inside ``lax.scan``. Per-task functions
``f`` over the 19 x 19 value grid are tabulated once on the host in exact
integer / float64 arithmetic, so float32 rounding can never change a target.

Dimension letters: B examples, Lx input length, L target length.

References:
  Sato, Kawamoto & Kera, "Discovering Learning-Friendly Generation Orders for
  Sequential Computation", arXiv 2506.23875 (tasks RELU, SQUARE-19, INDEX,
  PROD; CUBIC, SINE, TRIANGLE, MLP and delay systems are named there but not
  defined, so the definitions here are lopro's own).
"""

from __future__ import annotations

import dataclasses
import functools
import inspect
import json
import math
import operator
import threading
import types
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lopro import orders

__all__ = [
    'Task', 'get_task', 'TASKS', 'task_names', 'chain_task', 'function_task',
    'step_table', 'relu_task', 'square19_task', 'cubic_task', 'sine_task',
    'triangle_task', 'mlp_task', 'planted_task', 'index_task', 'prod_task',
    'delay_task',
]

SampleFn = Callable[[jax.Array, int], tuple[jax.Array, jax.Array]]
TargetFn = Callable[[jax.Array], jax.Array]

# Values of x (and of y, except relu's) in the chain tasks.
_LO, _HI = -9, 9
_SMALL = (_LO, _HI)
# Seed of the fixed random MLP behind the 'mlp' task's table.
MLP_SEED = 19
MLP_HIDDEN = 32
# chain_task refuses tables with more entries than this (host memory/time).
MAX_TABLE_ENTRIES = 1 << 22
# The default delay system: s0_t <- s0_{t-1}, s1_{t-2}; s1_t <- s1_{t-1},
# s0_{t-1} (0-indexed variables, (parent, delay) pairs).
DEFAULT_PARENTS = (((0, 1), (1, 2)), ((1, 1), (0, 1)))


def _frozen_array(order) -> np.ndarray:
  array = np.array(order, dtype=np.int64)
  array.setflags(write=False)
  return array


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
  """A sequence task with a fixed-length target.

  Compared (and hashed) by identity, so that compiled training functions can
  be cached per task; ``get_task`` returns the same object for the same
  arguments.

  On construction the orders are validated and made read-only, and
  ``reference_orders`` is completed with 'forward', 'reverse' and (when
  ``friendly_order`` is set) 'friendly' if they are missing.

  Attributes:
    name: short name, e.g. ``'relu'``.
    length: L, the target length.
    input_length: Lx, the input length.
    input_range: inclusive (lo, hi) of every input value.
    target_range: inclusive (lo, hi) of every target value.
    sample_fn: pure, jit- and vmap-able ``(key, n) -> (int32[n, Lx],
      int32[n, L])``, targets in stored order; ``n`` is a Python int.
    friendly_order: int[L] known to be easy, or None.
    reference_orders: name -> int[L]; always has 'forward' and 'reverse',
      and 'friendly' when ``friendly_order`` is set.
    params: the JSON-serialisable arguments the task was built from.
  """
  name: str
  length: int
  input_length: int
  input_range: tuple[int, int]
  target_range: tuple[int, int]
  sample_fn: SampleFn
  friendly_order: np.ndarray | None = None
  reference_orders: Mapping[str, np.ndarray] = dataclasses.field(
      default_factory=dict)
  params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

  def __post_init__(self):
    if not isinstance(self.name, str) or not self.name:
      raise ValueError(f'task name must be a non-empty str, got {self.name!r}')
    length = _as_int('length', self.length)
    input_length = _as_int('input_length', self.input_length)
    if length < 1 or input_length < 1:
      raise ValueError(f'task {self.name!r}: length and input_length must be '
                       f'>= 1, got {self.length} and {self.input_length}')
    if not callable(self.sample_fn):
      raise ValueError(f'task {self.name!r}: sample_fn must be callable, got '
                       f'{self.sample_fn!r}')
    set_ = functools.partial(object.__setattr__, self)
    set_('length', length)
    set_('input_length', input_length)
    set_('input_range', _as_range('input_range', self.input_range))
    set_('target_range', _as_range('target_range', self.target_range))
    friendly = None
    if self.friendly_order is not None:
      friendly = _frozen_array(_check_order(self.friendly_order, length,
                                            'friendly_order'))
    set_('friendly_order', friendly)
    refs = {'forward': orders.identity(length),
            'reverse': orders.reverse(length)}
    if friendly is not None:
      refs['friendly'] = friendly
    given = dict(self.reference_orders)
    if (friendly is not None and 'friendly' in given
        and not np.array_equal(np.asarray(given['friendly']), friendly)):
      raise ValueError(f'task {self.name!r}: reference_orders["friendly"] '
                       'differs from friendly_order')
    for key, order in given.items():
      refs[key] = _check_order(order, length, f'reference_orders[{key!r}]')
    set_('reference_orders',
         {key: _frozen_array(order) for key, order in refs.items()})

  @property
  def input_vocab(self) -> int:
    return self.input_range[1] - self.input_range[0] + 1

  @property
  def target_vocab(self) -> int:
    return self.target_range[1] - self.target_range[0] + 1

  def sample(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """Draws ``n`` examples: (inputs int32[n, Lx], targets int32[n, L])."""
    return self.sample_fn(key, n)

  @property
  def has_target_fn(self) -> bool:
    """Whether ``targets_from_inputs`` works (False for pool-based tasks)."""
    return getattr(self.sample_fn, 'targets', None) is not None

  def targets_from_inputs(self, inputs) -> jax.Array:
    """The targets of given inputs, by the same pure function sampling uses.

    Available for every built-in task and for ``chain_task``; not for
    ``function_task`` (its targets come from a pre-computed pool) nor for a
    Task built directly around an arbitrary ``sample_fn``.

    Args:
      inputs: int[B, Lx] (or int[Lx] for one example), values within
        ``input_range``. Host arrays and lists are range-checked; traced
        arrays are not (out-of-range values give unspecified targets).

    Returns:
      int32[B, L] (or int32[L]) targets in stored order.

    Raises:
      ValueError: the task has no target function, or wrong shape/range.
    """
    fn = getattr(self.sample_fn, 'targets', None)
    if fn is None:
      raise ValueError(f'task {self.name!r} has no target function (its '
                       'targets come from a pool or a custom sample_fn)')
    if isinstance(inputs, (list, tuple, np.ndarray)):
      host = np.asarray(inputs)
      if not np.issubdtype(host.dtype, np.integer):
        raise ValueError(f'inputs must be integers, got dtype {host.dtype}')
      lo, hi = self.input_range
      if host.size and (host.min() < lo or host.max() > hi):
        raise ValueError(f'task {self.name!r}: inputs must lie in '
                         f'{lo}..{hi}, got values {host.min()}..{host.max()}')
    array = jnp.asarray(inputs, dtype=jnp.int32)
    single = array.ndim == 1
    if single:
      array = array[None]
    if array.ndim != 2 or array.shape[1] != self.input_length:
      raise ValueError(f'task {self.name!r}: inputs must have shape '
                       f'[B, {self.input_length}], got {tuple(array.shape)}')
    targets = getattr(self.sample_fn, 'targets_jit', fn)(array)
    return targets[0] if single else targets


# ---------------------------------------------------------------------------
# Argument checking.


def _as_int(what: str, value) -> int:
  """An int from an int-like value; refuses bools, floats and strings."""
  if isinstance(value, (bool, np.bool_)):
    raise ValueError(f'{what} must be an int, got bool {value!r}')
  try:
    return operator.index(value)
  except TypeError:
    raise ValueError(f'{what} must be an int, got {value!r} '
                     f'({type(value).__name__})') from None


def _as_range(what: str, value) -> tuple[int, int]:
  try:
    lo, hi = value
  except (TypeError, ValueError):
    raise ValueError(f'{what} must be an inclusive (lo, hi) pair of ints, '
                     f'got {value!r}') from None
  lo, hi = _as_int(f'{what}[0]', lo), _as_int(f'{what}[1]', hi)
  if lo > hi:
    raise ValueError(f'{what} must have lo <= hi, got {value!r}')
  return lo, hi


def _check_order(order, length: int, what: str) -> np.ndarray:
  try:
    return orders.validate_order(order, length)
  except ValueError as e:
    raise ValueError(f'{what} is not a permutation of 0..{length - 1}: '
                     f'{e}') from None


def _check_length(name: str, length, minimum: int = 2) -> int:
  length = _as_int(f'task {name!r} length', length)
  if length < minimum:
    raise ValueError(f'task {name!r} needs length >= {minimum}, got {length}')
  return length


def _chain_or_identity(chain, length: int) -> np.ndarray:
  if chain is None:
    return orders.identity(length)
  return _check_order(chain, length, 'chain')


# ---------------------------------------------------------------------------
# Samplers: draw inputs, then compute targets with a pure function.


@dataclasses.dataclass(frozen=True, eq=False)
class _Sampler:
  """``(key, n) -> (inputs, targets)`` with uniform inputs in ``[lo, hi]``.

  Attributes:
    input_length: Lx.
    input_range: inclusive (lo, hi).
    targets: pure ``int32[B, Lx] -> int32[B, L]``.
  """
  input_length: int
  input_range: tuple[int, int]
  targets: TargetFn

  def __call__(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    lo, hi = self.input_range
    inputs = _uniform_ints(key, n, self.input_length, lo, hi)
    return inputs, self.targets_jit(inputs)

  @functools.cached_property
  def targets_jit(self) -> TargetFn:
    # Compiled once per input shape when called eagerly; inlined under an
    # outer jit/vmap/scan.
    return jax.jit(lambda inputs: self.targets(inputs).astype(jnp.int32))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def _uniform_ints(key: jax.Array, n: int, width: int, lo: int,
                  hi: int) -> jax.Array:
  """int32[n, width] uniform in lo..hi (one compile shared by all tasks)."""
  return jax.random.randint(key, (n, width), lo, hi + 1, dtype=jnp.int32)


def _chain_targets(step: Callable[[jax.Array, jax.Array], jax.Array],
                   inputs: jax.Array, chain: np.ndarray) -> jax.Array:
  """Runs ``y[chain[k]] = step(x[chain[k]], y[chain[k-1]])`` along a chain.

  Args:
    step: vectorised ``(x int32[B], y_prev int32[B]) -> int32[B]``.
    inputs: int32[B, L].
    chain: int[L], a permutation; ``y[chain[0]] = x[chain[0]]``.

  Returns:
    int32[B, L], targets in stored order.
  """
  xs = inputs[:, chain]  # [B, L] in chain order
  first = xs[:, 0]

  def body(prev, x):
    y = step(x, prev)
    return y, y

  _, rest = jax.lax.scan(body, first, xs[:, 1:].T)  # [L-1, B]
  ys = jnp.concatenate([first[None], rest], axis=0).T  # [B, L] chain order
  return ys[:, orders.invert_order(chain)]


def _table_step(table: np.ndarray, x_lo: int, y_lo: int):
  """A vectorised step looking ``f(x, y) = table[x - x_lo, y - y_lo]`` up."""
  num_y = table.shape[1]
  flat = np.asarray(table, dtype=np.int32).reshape(-1)

  def step(x, y):
    return jnp.asarray(flat)[(x - x_lo) * num_y + (y - y_lo)]

  return step


def _relu_step(x, y):
  return jnp.maximum(x + y, 0)


def _make_chain_task(name: str, length: int, step, chain: np.ndarray,
                     input_range: tuple[int, int],
                     target_range: tuple[int, int],
                     params: dict[str, Any]) -> Task:
  targets = functools.partial(_chain_targets, step, chain=chain)
  sampler = _Sampler(length, input_range,
                     lambda inputs: targets(inputs.astype(jnp.int32)))
  return Task(name=name, length=length, input_length=length,
              input_range=input_range, target_range=target_range,
              sample_fn=sampler, friendly_order=chain,
              params={'chain': chain.tolist(), **params})


# ---------------------------------------------------------------------------
# The 19 x 19 step tables of the chain tasks.


def _c19(r):
  """Maps a residue mod 19 to {-9..9}: r if r <= 9 else r - 19."""
  return np.where(r <= 9, r, r - 19)


def _grid() -> tuple[np.ndarray, np.ndarray]:
  values = np.arange(_LO, _HI + 1, dtype=np.int64)
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
  return {name: _frozen_array(table) for name, table in tables.items()}


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
  length = _check_length('relu', length)
  chain = _chain_or_identity(chain, length)
  return _make_chain_task('relu', length, _relu_step, chain, _SMALL,
                          (_LO, _HI * length), {})


def _table_task(name: str, length: int, chain) -> Task:
  length = _check_length(name, length)
  chain = _chain_or_identity(chain, length)
  step = _table_step(step_table(name), _LO, _LO)
  return _make_chain_task(name, length, step, chain, _SMALL, _SMALL, {})


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
  length = _check_length('planted', length)
  order_seed = _as_int('order_seed', order_seed)
  if order_seed < 0:
    raise ValueError(f'order_seed must be >= 0, got {order_seed}')
  chain = np.random.default_rng(order_seed).permutation(length)
  task = _make_chain_task('planted', length, _relu_step, chain, _SMALL,
                          (_LO, _HI * length), {})
  return dataclasses.replace(task, params={'order_seed': order_seed})


def index_task(length: int = 8, *, d: int = 2) -> Task:
  """INDEX: ``y_i = x[(y_{i-1} + ... + y_{i-d}) mod L]``, x uniform in 0..L-1.

  Terms with ``i - j < 0`` count as 0, so ``y_0 = x_0``; indexing is
  0-based. The friendly order is the identity.

  Args:
    length: L >= 2.
    d: window size, 1 <= d <= L (the paper uses 2, 4, 8).

  Returns:
    The Task.
  """
  length = _check_length('index', length)
  d = _as_int('d', d)
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
              sample_fn=_Sampler(length, rng, targets),
              friendly_order=orders.identity(length), params={'d': d})


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
  length = _check_length('prod', length)
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
              sample_fn=_Sampler(length, digit, targets),
              friendly_order=orders.reverse(length), params={})


def _check_parents(parents) -> tuple[tuple[tuple[int, int], ...], ...]:
  """Validates delay parents: per variable k, (parent j, delay >= 1) pairs."""
  if isinstance(parents, (str, bytes)) or not isinstance(
      parents, (Sequence, np.ndarray)):
    raise ValueError('parents must be a sequence (one entry per variable) of '
                     f'(parent, delay) pairs, got {parents!r}')
  m = len(parents)
  if m < 1:
    raise ValueError('parents must describe at least one variable, got []')
  result = []
  for k, pairs in enumerate(parents):
    checked = []
    try:
      pairs = list(pairs)
    except TypeError:
      raise ValueError(f'parents[{k}] must be a sequence of (parent, delay) '
                       f'pairs, got {pairs!r}') from None
    for pair in pairs:
      try:
        j, delay = pair
      except (TypeError, ValueError):
        raise ValueError(f'parents[{k}] has {pair!r}, not a (parent, delay) '
                         'pair') from None
      j = _as_int(f'parents[{k}] parent', j)
      delay = _as_int(f'parents[{k}] delay', delay)
      if not 0 <= j < m:
        raise ValueError(f'parents[{k}] names parent {j}, not a variable in '
                         f'0..{m - 1}')
      if delay < 1:
        raise ValueError(f'parents[{k}] has delay {delay} for parent {j}; '
                         'every delay must be >= 1')
      checked.append((j, delay))
    result.append(tuple(checked))
  return tuple(result)


def delay_task(length: int = 8, *, parents=None) -> Task:
  """DELAY: m coupled variables over n steps with delayed couplings.

  ``s^k_t = c((x^k_t + sum_{(j, δ) in parents[k]} s^j_{t-δ})² mod 19)``,
  with ``s = 0`` before ``t = 0`` and x uniform in -9..9. Inputs and
  targets are stored variable-major: slot ``k n + t`` holds ``x^k_t`` and
  ``s^k_t`` (L = Lx = m n). The friendly order is the time-major interleave
  ``[s^0_0, s^1_0, ..., s^0_1, ...]`` (a topological sort, valid since every
  delay is >= 1); ``reference_orders`` also has 'time_major' (= friendly)
  and 'variable_major' (= identity, which is not a topological sort of the
  default system).

  Args:
    length: L, a multiple of m with L >= 2.
    parents: for each variable k, a sequence of (parent j, delay δ) pairs,
      ``0 <= j < m`` and ``δ >= 1``; default ``DEFAULT_PARENTS``: s0_t <-
      s0_{t-1}, s1_{t-2}; s1_t <- s1_{t-1}, s0_{t-1}.

  Returns:
    The Task.
  """
  parents = _check_parents(DEFAULT_PARENTS if parents is None else parents)
  m = len(parents)
  length = _check_length('delay', length)
  if length % m:
    raise ValueError(f'task \'delay\' length must be divisible by the number '
                     f'of variables m={m}, got {length}')
  n = length // m
  max_delay = max([delay for pairs in parents for _, delay in pairs] + [1])

  def targets(inputs):
    batch = inputs.shape[0]
    x = inputs.reshape(batch, m, n)

    def body(history, x_t):  # history[:, δ-1, j] = s^j_{t-δ}; x_t [B, m]
      new = []
      for k in range(m):
        z = x_t[:, k]
        for j, delay in parents[k]:
          z = z + history[:, delay - 1, j]
        new.append(_c19_jnp(z * z % 19))
      s_t = jnp.stack(new, axis=1)
      history = jnp.concatenate([s_t[:, None], history[:, :-1]], axis=1)
      return history, s_t

    history = jnp.zeros((batch, max_delay, m), jnp.int32)
    _, s = jax.lax.scan(body, history, jnp.moveaxis(x, 2, 0))  # [n, B, m]
    return jnp.transpose(s, (1, 2, 0)).reshape(batch, length)

  time_major = np.array([k * n + t for t in range(n) for k in range(m)])
  return Task(name='delay', length=length, input_length=length,
              input_range=_SMALL, target_range=_SMALL,
              sample_fn=_Sampler(length, _SMALL, targets),
              friendly_order=time_major,
              reference_orders={'time_major': time_major,
                                'variable_major': orders.identity(length)},
              params={'parents': [[list(p) for p in pairs]
                                  for pairs in parents]})


def _c19_jnp(r):
  return jnp.where(r <= 9, r, r - 19)


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
  length = _check_length(name, length)
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
  canonical_key = (name, length, json.dumps(task.params, sort_keys=True))
  with _CACHE_LOCK:
    task = _CANONICAL_CACHE.setdefault(canonical_key, task)
    if raw_key is not None:
      _RAW_CACHE[raw_key] = task
  return task


# ---------------------------------------------------------------------------
# User-built tasks.


def _integral(value, what: str) -> int:
  """An int from a step output; integral floats are accepted."""
  if isinstance(value, (bool, np.bool_)):
    raise ValueError(f'{what} returned bool {value!r}, expected an int')
  if isinstance(value, (float, np.floating)):
    if not math.isfinite(value) or not float(value).is_integer():
      raise ValueError(f'{what} returned {value!r}, expected an int (round '
                       'it?)')
    return int(value)
  try:
    return operator.index(value)
  except TypeError:
    raise ValueError(f'{what} returned {value!r} ({type(value).__name__}), '
                     'expected an int') from None


def chain_task(name: str, step_fn: Callable[[int, int], int], length: int,
               *, input_range: tuple[int, int] = _SMALL,
               target_range: tuple[int, int] = _SMALL,
               chain=None) -> Task:
  """A chain task ``y_i = step_fn(x_i, y_{i-1})`` from a plain Python function.

  ``step_fn`` is called on the host for every x in ``input_range`` and every
  y in ``target_range``; sampling then looks the table up in JAX, so
  ``step_fn`` may use anything (``max``, ``math.sin``, ...). Along ``chain``:
  ``y[chain[0]] = x[chain[0]]``, ``y[chain[k]] = step_fn(x[chain[k]],
  y[chain[k-1]])``. Inputs are uniform in ``input_range``.

  Args:
    name: the task's name.
    step_fn: ``(x: int, y_prev: int) -> int``; integral floats are accepted.
    length: L >= 2.
    input_range: inclusive (lo, hi) of x.
    target_range: inclusive (lo, hi) of y; must contain ``input_range``
      (since ``y[chain[0]] = x[chain[0]]``) and every output of ``step_fn``.
    chain: int[L], default identity; it is also the friendly order.

  Returns:
    A new Task (not memoised) with ``params = {'step_fn': qualified name,
    'chain', 'input_range', 'target_range'}``.

  Raises:
    ValueError: bad length, ranges or chain; ``input_range`` not inside
      ``target_range``; a table over ``MAX_TABLE_ENTRIES``; ``step_fn``
      raising, returning a non-integer, or a value outside ``target_range``
      (the message names the first such (x, y)).
  """
  if not isinstance(name, str) or not name:
    raise ValueError(f'task name must be a non-empty str, got {name!r}')
  if not callable(step_fn):
    raise ValueError(f'step_fn must be callable, got {step_fn!r}')
  length = _check_length(name, length)
  input_range = _as_range('input_range', input_range)
  target_range = _as_range('target_range', target_range)
  (x_lo, x_hi), (y_lo, y_hi) = input_range, target_range
  if x_lo < y_lo or x_hi > y_hi:
    raise ValueError(f'input_range {input_range} must lie inside '
                     f'target_range {target_range}, since y[chain[0]] = '
                     'x[chain[0]]')
  chain = _chain_or_identity(chain, length)
  num_x, num_y = x_hi - x_lo + 1, y_hi - y_lo + 1
  if num_x * num_y > MAX_TABLE_ENTRIES:
    raise ValueError(f'step table would have {num_x} x {num_y} entries, more '
                     f'than MAX_TABLE_ENTRIES={MAX_TABLE_ENTRIES}; narrow the '
                     'ranges')
  table = np.empty((num_x, num_y), dtype=np.int64)
  for x in range(x_lo, x_hi + 1):
    for y in range(y_lo, y_hi + 1):
      where = f'step_fn({x}, {y})'
      try:
        value = step_fn(x, y)
      except Exception as e:  # the user's function: report where it failed
        raise ValueError(f'{where} raised {e!r}') from e
      value = _integral(value, where)
      if not y_lo <= value <= y_hi:
        raise ValueError(f'{where} = {value} is outside target_range '
                         f'{target_range} (first offending x={x}, y={y})')
      table[x - x_lo, y - y_lo] = value
  params = {'step_fn': getattr(step_fn, '__qualname__', repr(step_fn)),
            'input_range': list(input_range),
            'target_range': list(target_range)}
  return _make_chain_task(name, length, _table_step(table, x_lo, y_lo), chain,
                          input_range, target_range, params)


@dataclasses.dataclass(frozen=True, eq=False)
class _PoolSampler:
  """Draws examples uniformly (with replacement) from a fixed pool."""
  inputs: jax.Array  # int32[P, Lx]
  targets_pool: jax.Array  # int32[P, L]
  targets = None  # no target function: see Task.targets_from_inputs

  def __call__(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    return _draw_from_pool(key, n, self.inputs, self.targets_pool)


@functools.partial(jax.jit, static_argnums=1)
def _draw_from_pool(key: jax.Array, n: int, inputs: jax.Array,
                    targets: jax.Array) -> tuple[jax.Array, jax.Array]:
  """n rows drawn uniformly with replacement from a pool [P, Lx], [P, L]."""
  index = jax.random.randint(key, (n,), 0, inputs.shape[0])
  return jnp.take(inputs, index, axis=0), jnp.take(targets, index, axis=0)


def function_task(name: str, fn: Callable[[list[int]], Sequence[int]], *,
                  input_length: int, length: int,
                  input_range: tuple[int, int],
                  target_range: tuple[int, int], pool_size: int = 100_000,
                  seed: int = 0, friendly_order=None) -> Task:
  """A task whose targets are any Python function of the inputs.

  A finite pool of ``pool_size`` examples is generated once on the host
  (inputs uniform in ``input_range`` from ``np.random.default_rng(seed)``,
  targets ``fn(inputs)``), and ``sample`` draws uniformly with replacement
  from it in JAX. So the task is the empirical distribution of the pool,
  not the infinite one; the paper also trains on a fixed set of 100k
  examples. Hold-out evaluation on such a task sees pool examples too.

  Args:
    name: the task's name.
    fn: ``(x: list[int] of length Lx) -> sequence of L ints`` (integral
      floats are accepted).
    input_length: Lx >= 1.
    length: L >= 2.
    input_range: inclusive (lo, hi) of inputs.
    target_range: inclusive (lo, hi) of targets.
    pool_size: P >= 1, examples in the pool.
    seed: numpy seed of the pool's inputs.
    friendly_order: int[L] or None.

  Returns:
    A new Task (not memoised); ``params`` has the scalar arguments and fn's
    qualified name.

  Raises:
    ValueError: bad sizes, ranges or friendly order; ``fn`` raising, or
      returning the wrong number of targets, non-integers or values outside
      ``target_range`` (the message names the first bad example).
  """
  if not isinstance(name, str) or not name:
    raise ValueError(f'task name must be a non-empty str, got {name!r}')
  if not callable(fn):
    raise ValueError(f'fn must be callable, got {fn!r}')
  input_length = _as_int('input_length', input_length)
  if input_length < 1:
    raise ValueError(f'input_length must be >= 1, got {input_length}')
  length = _check_length(name, length)
  input_range = _as_range('input_range', input_range)
  target_range = _as_range('target_range', target_range)
  pool_size = _as_int('pool_size', pool_size)
  if pool_size < 1:
    raise ValueError(f'pool_size must be >= 1, got {pool_size}')
  seed = _as_int('seed', seed)
  if friendly_order is not None:
    friendly_order = _check_order(friendly_order, length, 'friendly_order')
  lo, hi = input_range
  rng = np.random.default_rng(seed)
  pool_x = rng.integers(lo, hi + 1, size=(pool_size, input_length))
  rows = []
  for i, x in enumerate(pool_x.tolist()):
    try:
      y = fn(list(x))
    except Exception as e:  # the user's function: report where it failed
      raise ValueError(f'fn raised {e!r} on example {i}, inputs {x}') from e
    try:
      y = list(y)
    except TypeError:
      raise ValueError(f'fn returned {y!r} on example {i}, inputs {x}; '
                       'expected a sequence of ints') from None
    if len(y) != length:
      raise ValueError(f'fn returned {len(y)} targets on example {i}, '
                       f'inputs {x}; expected length {length}: {y}')
    rows.append(y)
  pool_y = np.asarray(rows)
  if pool_y.dtype == bool or not (np.issubdtype(pool_y.dtype, np.integer) or
                                  np.issubdtype(pool_y.dtype, np.floating)):
    bad = next(i for i, row in enumerate(rows)
               if not all(isinstance(v, (int, np.integer, float, np.floating))
                          and not isinstance(v, (bool, np.bool_))
                          for v in row))
    raise ValueError(f'fn returned non-integer targets on example {bad}, '
                     f'inputs {pool_x[bad].tolist()}: {rows[bad]}')
  if np.issubdtype(pool_y.dtype, np.floating):
    integral = np.isfinite(pool_y) & (pool_y == np.round(pool_y))
    if not integral.all():
      bad = int(np.argmin(integral.all(axis=1)))
      raise ValueError(f'fn returned non-integer targets on example {bad}, '
                       f'inputs {pool_x[bad].tolist()}: {rows[bad]}')
  y_lo, y_hi = target_range
  outside = ((pool_y < y_lo) | (pool_y > y_hi)).any(axis=1)
  if outside.any():
    bad = int(np.argmax(outside))
    raise ValueError(f'fn returned targets outside target_range '
                     f'{target_range} on example {bad}, inputs '
                     f'{pool_x[bad].tolist()}: {rows[bad]}')
  sampler = _PoolSampler(jnp.asarray(pool_x, dtype=jnp.int32),
                         jnp.asarray(pool_y.astype(np.int64),
                                     dtype=jnp.int32))
  params = {'fn': getattr(fn, '__qualname__', repr(fn)),
            'input_length': input_length, 'input_range': list(input_range),
            'target_range': list(target_range), 'pool_size': pool_size,
            'seed': seed}
  return Task(name=name, length=length, input_length=input_length,
              input_range=input_range, target_range=target_range,
              sample_fn=sampler, friendly_order=friendly_order,
              params=params)
