"""Insertion climb: best-improvement steps over single-slot insertion moves.

From a start order, each round profiles the order and all its (L-1)^2
insertion neighbours (one slot taken out and put back at any other
position, adjacent swaps included) and moves to the best; it stops when the
order itself is best (a local optimum of the insertion neighbourhood) or
after ``rounds`` rounds. With several starts each is climbed in turn and the
end point with the lowest score wins (the first start's end unless a later
one is strictly lower).

This is lopro's move beyond the paper's local stage: it fixes the misses a
block move cannot, e.g. ``1 2 3 4 5 6 0 7``, one insertion from forward. The
hierarchical search runs it after its local stage (``insertion_rounds``),
and a ``Pipeline`` runs it with a finer estimator after a coarse one
(``Insertion(name='refine')``).

Dimension letters: S starts, L target length.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np

from lopro import neighbourhoods
from lopro import orders as orders_lib
from lopro.estimators import base as estimators_base
from lopro.strategies import base


@dataclasses.dataclass(frozen=True)
class Insertion:
  """Climbs from each start by single-slot insertion moves.

  Attributes:
    rounds: most rounds per start (each profiles 1 + (L-1)^2 orders).
    name: the prefix of the runs' names: ``'<name> r=1'`` for the first
      start, ``'start 2 <name> r=1'`` for the second, ...
    max_shift: None (every insertion), or how far a slot may move: the
      restricted neighbourhood of long orders (1: the L-1 adjacent swaps;
      w: about (2w-1)L orders a round instead of (L-1)^2).

  ``init(key, length, starts)`` climbs from ``starts`` (int[S, L]); without
  starts, from one uniformly random order drawn from ``key``.
  """
  rounds: int = 4
  name: str = 'insertion'
  max_shift: int | None = dataclasses.field(
      default=None, metadata={estimators_base.OMIT_DEFAULT: True})

  def __post_init__(self):
    if (isinstance(self.rounds, bool) or not isinstance(self.rounds, int)
        or self.rounds < 0):
      raise ValueError(f'Insertion.rounds must be an int >= 0, got '
                       f'{self.rounds!r}')
    base.check_name(self)
    if self.max_shift is not None and (
        isinstance(self.max_shift, bool) or not isinstance(self.max_shift, int)
        or self.max_shift < 1):
      raise ValueError(f'Insertion.max_shift must be None or an int >= 1, '
                       f'got {self.max_shift!r}')

  def max_profiles(self, length: int, num_starts: int = 1) -> int:
    """Most order-profiles from ``num_starts`` starts."""
    return num_starts * self.rounds * neighbourhoods.num_insertion_moves(
        length, self.max_shift)

  def init(self, key: jax.Array, length: int,
           starts: np.ndarray | None = None) -> base.State:
    length = base.check_length(length)
    starts = base.check_starts(starts, length)
    if starts is None:
      starts = orders_lib.sample_orders(key, 1, length)
    state = base.new_state(key, length, starts=starts, start_index=0,
                           round=0, best_order=starts[0].copy(),
                           best_score=math.inf)
    return self._begin(state)

  def ask(self, state: base.State) -> np.ndarray:
    return base.ask(state)

  def tell(self, state: base.State, perms: np.ndarray,
           scores: np.ndarray) -> base.State:
    perms, scores = base.check_tell(state, perms, scores)
    state = dict(state)
    best = int(base.rank(scores)[0])
    order, score, optimum = perms[best], float(scores[best]), best == 0
    state['round'] += 1
    state['kept'] = order[None]
    if not optimum and state['round'] < self.rounds:
      return self._ask_round(state, order)
    if state['start_index'] == 0 or score < state['best_score']:
      state.update(best_order=order, best_score=score, local_optimum=optimum)
    state['start_index'] += 1
    state['round'] = 0
    return self._begin(state)

  def best(self, state: base.State) -> tuple[np.ndarray, float]:
    return np.array(state['best_order']), float(state['best_score'])

  def _begin(self, state: base.State) -> base.State:
    """Starts the climb from the next start, or finishes."""
    starts = state['starts']
    if (state['start_index'] >= starts.shape[0] or self.rounds == 0
        or state['length'] < 2):
      return dict(state, pending=np.zeros((0, state['length']), np.int64),
                  stage='')
    return self._ask_round(state, starts[state['start_index']])

  def _ask_round(self, state: base.State, order: np.ndarray) -> base.State:
    index = state['start_index']
    prefix = self.name if index == 0 else f'start {index + 1} {self.name}'
    return dict(state, pending=neighbourhoods.insertion_moves(
        order, self.max_shift),
                stage=f'{prefix} r={state["round"] + 1}')
