"""Tasks from a user's plain Python function: ``chain_task``, ``function_task``.

``chain_task`` tabulates a step ``y_i = f(x_i, y_{i-1})`` once on the host
and samples by table lookups in JAX; ``function_task`` computes a fixed pool
of examples from any function of the inputs and samples from it. Nothing
else in lopro needs to change for either.

Dimension letters: B examples, Lx input length, L target length, P pool size.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence

import jax.numpy as jnp
import numpy as np

from lopro.tasks.base import as_int
from lopro.tasks.base import as_range
from lopro.tasks.base import chain_or_identity
from lopro.tasks.base import check_length
from lopro.tasks.base import check_order
from lopro.tasks.base import make_chain_task
from lopro.tasks.base import PoolSampler
from lopro.tasks.base import SMALL
from lopro.tasks.base import table_step
from lopro.tasks.base import Task

# chain_task refuses tables with more entries than this (host memory/time).
MAX_TABLE_ENTRIES = 1 << 22

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
               *, input_range: tuple[int, int] = SMALL,
               target_range: tuple[int, int] = SMALL,
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
  length = check_length(name, length)
  input_range = as_range('input_range', input_range)
  target_range = as_range('target_range', target_range)
  (x_lo, x_hi), (y_lo, y_hi) = input_range, target_range
  if x_lo < y_lo or x_hi > y_hi:
    raise ValueError(f'input_range {input_range} must lie inside '
                     f'target_range {target_range}, since y[chain[0]] = '
                     'x[chain[0]]')
  chain = chain_or_identity(chain, length)
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
  return make_chain_task(name, length, table_step(table, x_lo, y_lo), chain,
                         input_range, target_range, params)


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
  input_length = as_int('input_length', input_length)
  if input_length < 1:
    raise ValueError(f'input_length must be >= 1, got {input_length}')
  length = check_length(name, length)
  input_range = as_range('input_range', input_range)
  target_range = as_range('target_range', target_range)
  pool_size = as_int('pool_size', pool_size)
  if pool_size < 1:
    raise ValueError(f'pool_size must be >= 1, got {pool_size}')
  seed = as_int('seed', seed)
  if friendly_order is not None:
    friendly_order = check_order(friendly_order, length, 'friendly_order')
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
  sampler = PoolSampler(jnp.asarray(pool_x, dtype=jnp.int32),
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
