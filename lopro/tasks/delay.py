"""DELAY: coupled variables with delayed couplings, a multi-variate recurrence.

The paper's case study of "delay dynamical systems": learnability varies
among the valid topological sorts of the dependency graph. Inputs and
targets are stored variable-major; the friendly order is the time-major
interleave.

Dimension letters: B examples, m variables, n steps, L = m n.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from lopro import orders
from lopro.tasks.base import as_int
from lopro.tasks.base import check_length
from lopro.tasks.base import SMALL
from lopro.tasks.base import Task
from lopro.tasks.base import UniformSampler

# The default delay system: s0_t <- s0_{t-1}, s1_{t-2}; s1_t <- s1_{t-1},
# s0_{t-1} (0-indexed variables, (parent, delay) pairs).
DEFAULT_PARENTS = (((0, 1), (1, 2)), ((1, 1), (0, 1)))


def check_parents(parents) -> tuple[tuple[tuple[int, int], ...], ...]:
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
      j = as_int(f'parents[{k}] parent', j)
      delay = as_int(f'parents[{k}] delay', delay)
      if not 0 <= j < m:
        raise ValueError(f'parents[{k}] names parent {j}, not a variable in '
                         f'0..{m - 1}')
      if delay < 1:
        raise ValueError(f'parents[{k}] has delay {delay} for parent {j}; '
                         'every delay must be >= 1')
      checked.append((j, delay))
    result.append(tuple(checked))
  return tuple(result)


def dependencies(parents, n: int) -> tuple[tuple[int, ...], ...]:
  """depends_on of a delay system: slot ``k n + t`` depends on ``j n + t -
  δ`` for every (j, δ) in ``parents[k]`` with ``t - δ >= 0``."""
  return tuple(tuple(j * n + t - delay for j, delay in parents[k]
                     if t - delay >= 0)
               for k in range(len(parents)) for t in range(n))


def hand_designed_orders(parents, n: int) -> dict[str, np.ndarray]:
  """The orders a person would try first, each only where it is valid.

  Slot ``k n + t`` holds ``s^k_t``; every order here is a topological sort
  of ``dependencies(parents, n)``:

    time_major      all variables at t = 0, then at t = 1, ... (always
                    valid: every delay is >= 1);
    variable_major  all steps of one variable, then the next, the variables
                    in an order where each comes after its parents (only
                    when the variables' coupling graph has no cycle);
    diagonal        the wavefront of the (t, k) grid: s^k_t at step t + k,
                    variables in index order within a wavefront;
    lagged_blocks   blocks of b steps, b the smallest delay between two
                    variables: within a block each variable's b steps in
                    turn (b = 1 is time-major, and is left out).

  An order equal to an earlier one is left out.
  """
  m = len(parents)
  graph = dependencies(parents, n)
  found = {'time_major': np.array([k * n + t for t in range(n)
                                   for k in range(m)])}
  coupling = tuple(tuple(sorted({j for j, _ in parents[k] if j != k}))
                   for k in range(m))
  variables = orders.topological_sorts(coupling, 1)
  if variables.shape[0]:
    found['variable_major'] = np.array([k * n + t for k in variables[0]
                                        for t in range(n)])
  found['diagonal'] = np.array(
      [k * n + t for _, k, t in sorted((t + k, k, t) for k in range(m)
                                       for t in range(n))])
  cross = [delay for k in range(m) for j, delay in parents[k] if j != k]
  block = min(cross) if cross else n
  if block > 1:
    found['lagged_blocks'] = np.array(
        [k * n + t for start in range(0, n, block) for k in range(m)
         for t in range(start, min(start + block, n))])
  out = {}
  for name, order in found.items():
    if orders.is_topological(order, graph) and not any(
        np.array_equal(order, kept) for kept in out.values()):
      out[name] = order
  return out


def delay_task(length: int = 8, *, parents=None) -> Task:
  """DELAY: m coupled variables over n steps with delayed couplings.

  ``s^k_t = c((x^k_t + sum_{(j, δ) in parents[k]} s^j_{t-δ})² mod 19)``,
  with ``s = 0`` before ``t = 0`` and x uniform in -9..9. Inputs and
  targets are stored variable-major: slot ``k n + t`` holds ``x^k_t`` and
  ``s^k_t`` (L = Lx = m n). The friendly order is the time-major interleave
  ``[s^0_0, s^1_0, ..., s^0_1, ...]`` for the default system, where it trains
  to 100% exact-match success at L=16 and the stored (variable-major) order,
  which is not a topological sort there, to 0% (``results/table1/README.md``,
  Table 1); for other parents no friendly order is known (None).
  ``reference_orders`` holds the ``hand_designed_orders`` valid for the
  system; ``depends_on`` its ``dependencies``.

  Args:
    length: L, a multiple of m with L >= 2.
    parents: for each variable k, a sequence of (parent j, delay δ) pairs,
      ``0 <= j < m`` and ``δ >= 1``; default ``DEFAULT_PARENTS``: s0_t <-
      s0_{t-1}, s1_{t-2}; s1_t <- s1_{t-1}, s0_{t-1}.

  Returns:
    The Task.
  """
  parents = check_parents(DEFAULT_PARENTS if parents is None else parents)
  m = len(parents)
  length = check_length('delay', length)
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

  hand = hand_designed_orders(parents, n)
  return Task(name='delay', length=length, input_length=length,
              input_range=SMALL, target_range=SMALL,
              sample_fn=UniformSampler(length, SMALL, targets),
              friendly_order=(hand['time_major'] if parents == DEFAULT_PARENTS
                              else None),
              reference_orders=hand,
              params={'parents': [[list(p) for p in pairs]
                                  for pairs in parents]},
              depends_on=dependencies(parents, n))


def _c19_jnp(r):
  return jnp.where(r <= 9, r, r - 19)
