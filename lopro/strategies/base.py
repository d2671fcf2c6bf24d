"""The ask/tell protocol every search strategy answers, and its plain state.

A strategy proposes populations of orders and learns from their scores; it
never trains a model itself, so any scorer can drive it: lopro's estimators
(``lopro.search_order``), a synthetic function in a test, or a user's own
training loop or cluster job between two populations:

  s = lopro.strategies.Hierarchical()
  state = s.init(key, 8)
  while len(perms := s.ask(state)):
    state = s.tell(state, perms, my_scores(perms))   # lower is friendlier
  order, score = s.best(state)

  class Strategy(Protocol):
    def init(self, key, length, starts=None) -> State: ...
    def ask(self, state) -> int64[N, L]      # N == 0 when finished
    def tell(self, state, perms, scores) -> State: ...
    def best(self, state) -> (int64[L], float)

A strategy is a frozen dataclass of settings; everything that changes during
a search lives in the state: a plain dict of None, bools, ints, floats,
strings, numpy arrays and nested dicts, so ``save_state`` writes it as JSON
(or npz) and ``load_state`` brings it back to continue the same search in
another process. ``ask`` is pure: ``init`` and ``tell`` compute the next
population and keep it in the state. NaN and inf scores count as +inf: those
orders rank last and never crash a search. Ties are broken by first
occurrence (a stable sort), so a search is a deterministic function of its
key and its scores.

Every built-in state holds these keys, which the driver reads:
  'pending'        int64[N, L], what ``ask`` returns
  'stage'          the name of that profiling run (e.g. 'global k=2')
  'kept'           int64[M, L], what the last ``tell`` carried on
  'local_optimum'  whether the best order is a local optimum of the last
                   neighbourhood searched

Dimension letters: N orders asked, M orders kept, L target length.
"""

from __future__ import annotations

import io
import json
import os
from typing import Any, Protocol, runtime_checkable

import jax
import jax.numpy as jnp
import numpy as np

from lopro import orders
from lopro import results

State = dict[str, Any]
_NONE = '__none__'


@runtime_checkable
class Strategy(Protocol):
  """Proposes orders to profile and learns from their scores (ask/tell)."""

  def init(self, key: jax.Array, length: int,
           starts: np.ndarray | None = None) -> State:
    """A fresh search over orders of ``length`` (from ``starts``, if given:
    int[S, L] orders to begin from, e.g. an earlier strategy's best)."""

  def ask(self, state: State) -> np.ndarray:
    """int64[N, L], the orders to score next; N == 0 when finished."""

  def tell(self, state: State, perms: np.ndarray,
           scores: np.ndarray) -> State:
    """The state after ``perms`` (as asked) scored ``scores`` float[N]."""

  def best(self, state: State) -> tuple[np.ndarray, float]:
    """(int64[L], score): the best order found so far."""


# --------------------------------------------------------------------------
# Helpers the strategies share.
# --------------------------------------------------------------------------


def check_length(length: Any) -> int:
  """``length`` as an int, or ValueError unless it is an int >= 1."""
  if isinstance(length, bool) or not isinstance(length, (int, np.integer)) or (
      length < 1):
    raise ValueError(f'length must be an int >= 1, got {length!r}')
  return int(length)


def check_name(strategy: Any) -> None:
  """ValueError unless ``strategy.name`` (its runs' prefix) is a non-empty
  str."""
  if not isinstance(strategy.name, str) or not strategy.name:
    raise ValueError(f'{type(strategy).__name__}.name must be a non-empty '
                     f'str, got {strategy.name!r}')


def new_state(key: jax.Array, length: int, **fields: Any) -> State:
  """A state with the conventional keys, the key's data and ``fields``."""
  check_length(length)
  state = dict(key=np.asarray(jax.random.key_data(key)), length=int(length),
               pending=np.zeros((0, int(length)), np.int64), stage='',
               kept=np.zeros((0, int(length)), np.int64),
               local_optimum=False)
  state.update(fields)
  return state


def state_key(state: State) -> jax.Array:
  """The typed JAX key a state was started from."""
  return jax.random.wrap_key_data(jnp.asarray(state['key'], jnp.uint32))


def check_starts(starts, length: int) -> np.ndarray | None:
  """int64[S, L] validated start orders, or None."""
  if starts is None:
    return None
  return orders.validate_orders(np.atleast_2d(starts), length)


def ask(state: State) -> np.ndarray:
  """The pending orders of a built-in state (a copy)."""
  return np.array(state['pending'], dtype=np.int64)


def check_tell(state: State, perms, scores) -> tuple[np.ndarray, np.ndarray]:
  """Checks a tell against the pending orders; returns (perms, scores).

  Scores come back as float64 with NaN and inf (of either sign) as +inf.

  Raises:
    ValueError: nothing is pending, the orders are not the asked ones, or
      the scores are not one number per order.
  """
  pending = np.asarray(state['pending'])
  if not pending.shape[0]:
    raise ValueError('tell: the search is finished (ask returned no orders)')
  perms = np.asarray(perms)
  if perms.shape != pending.shape or not np.array_equal(perms, pending):
    raise ValueError(f'tell: got orders of shape {perms.shape} that are not '
                     f'the {pending.shape[0]} orders ask returned')
  try:
    scores = np.asarray(scores, dtype=np.float64)
  except (TypeError, ValueError) as e:
    raise ValueError(f'tell: scores must be float[{pending.shape[0]}]: {e}'
                     ) from None
  if scores.shape != (pending.shape[0],):
    raise ValueError(f'tell: got scores of shape {scores.shape} for '
                     f'{pending.shape[0]} orders; expected '
                     f'({pending.shape[0]},)')
  return pending.astype(np.int64), np.where(np.isfinite(scores), scores,
                                            np.inf)


def rank(scores: np.ndarray) -> np.ndarray:
  """Indices best first; stable, so ties keep first occurrence."""
  return np.argsort(scores, kind='stable')


# --------------------------------------------------------------------------
# Saving and loading states.
# --------------------------------------------------------------------------


def encode_state(state: State) -> Any:
  """The state as JSON types (arrays tagged with their dtype)."""
  if isinstance(state, dict):
    return {str(k): encode_state(v) for k, v in state.items()}
  if isinstance(state, np.ndarray):
    return {'__array__': results.to_jsonable(state), 'dtype': str(
        state.dtype), 'shape': list(state.shape)}
  if isinstance(state, (float, np.floating)):
    value = float(state)
    return value if np.isfinite(value) else {'__float__': str(value)}
  if isinstance(state, (np.integer, np.bool_)):
    return state.item()
  if state is None or isinstance(state, (bool, int, str)):
    return state
  raise ValueError(f'a strategy state may hold None, numbers, strings, '
                   f'arrays and dicts only, got {type(state).__name__}')


def decode_state(data: Any) -> State:
  """Inverse of ``encode_state``."""
  if isinstance(data, dict):
    if '__array__' in data:
      values = data['__array__']
      dtype = np.dtype(data['dtype'])
      if dtype.kind == 'f':
        values = np.array([float(v) for v in np.ravel(np.array(
            values, dtype=object))], dtype=np.float64)
      return np.asarray(values, dtype=dtype).reshape(data['shape'])
    if '__float__' in data:
      return float(data['__float__'])
    return {k: decode_state(v) for k, v in data.items()}
  return data


def _flatten(state: State, prefix: str = '') -> dict[str, np.ndarray]:
  out = {}
  for k, v in state.items():
    name = f'{prefix}{k}'
    if '/' in k:
      raise ValueError(f'state key {k!r} must not contain "/"')
    if isinstance(v, dict):
      out.update(_flatten(v, name + '/'))
    elif v is None:
      out[name] = np.array(_NONE)
    else:
      encode_state(v)  # type check
      out[name] = np.asarray(v)
  return out


def save_state(path: str, state: State) -> None:
  """Writes a state atomically: npz for a ``.npz`` path, else JSON."""
  if os.fspath(path).endswith('.npz'):
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **_flatten(state))
    results.atomic_write_bytes(path, buffer.getvalue())
  else:
    results.atomic_write_bytes(
        path, json.dumps(encode_state(state), separators=(',', ':')).encode())


def load_state(path: str) -> State:
  """Reads a state written by ``save_state``.

  Raises:
    ValueError: the file is not a saved state.
  """
  try:
    if os.fspath(path).endswith('.npz'):
      state: State = {}
      with np.load(path) as data:
        for name in data.files:
          *parents, leaf = name.split('/')
          node = state
          for p in parents:
            node = node.setdefault(p, {})
          value = data[name]
          if value.ndim == 0:
            value = value.item()
            if value == _NONE:
              value = None
          node[leaf] = value
      return state
    with open(path) as f:
      return decode_state(json.load(f))
  except (OSError, ValueError, KeyError) as e:
    raise ValueError(f'{path} is not a saved strategy state: {e}') from None
