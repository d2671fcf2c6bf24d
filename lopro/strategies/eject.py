"""Ejection chain: leaves a local optimum by moving the hardest slot last.

An insertion climb can stop on an order that interleaves two runs of the
friendly one, e.g. at sine L=12 ``7 0 1 8 9 2 3 10 4 11 5 6``: slot 7 comes
before 6, so it is hard; moved to the end it is easy but 8, now without 7,
is hard, and so on: forward is five insertions away and every single move on
the way scores no better. A profile's per-slot losses say which slot costs.
From its start the chain moves the slot with the highest loss (among those
not moved yet) to the end, profiles the new order and repeats, up to
``depth`` times; the lowest-scoring order of the chain, the start included,
is its result (the start on ties). Emitted last, a slot has every other
slot before it, so it is as easy as it can be made; the slots that needed
it then cost, and are moved next. With ``climb`` (e.g. an ``Insertion``),
when the chain's best beats its start, the climb runs from it; when it does
not, the search ends on the start at once.

At sine L=12 (seed 0) the chain from that order reaches forward after five
moves, and forward is the chain's best
(``results/discovery/probes/ejection_chain.py``). It is a large move, not a
climb: a ``Pipeline`` runs it after an insertion climb has stopped.

It needs the per-slot losses of each order it asks for: score it with
``Independent(slot_losses=True)``. The driver passes them to a strategy whose
``wants_slot_losses(state)`` is true, as ``tell(..., slot_losses=...)``.

Dimension letters: L target length.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np

from lopro import orders as orders_lib
from lopro.strategies import base


@dataclasses.dataclass(frozen=True)
class Eject:
  """Moves the hardest slot to the end, again and again, from one start.

  Attributes:
    depth: most moves (each profiles one order); None: L - 1, every slot
      but one moved once.
    name: the prefix of the runs' names: ``'<name> m=0'`` profiles the
      start, ``'<name> m=k'`` the order after k moves.
    climb: None, or a strategy (``Insertion(...)``) run from the chain's
      best order when it beats the start, scored by the same estimator.
    margin: how clearly the chain's best must beat the start to replace
      it: by more than ``margin * |start's score|`` (0: any win). A chain
      reaches orders far from its start, which a short profile can misjudge
      (at sine L=13 a 300-step one scores a far order 3.4% below forward).

  ``init(key, length, starts)`` starts from ``starts[0]``; without starts,
  from one uniformly random order drawn from ``key``.
  """
  depth: int | None = None
  name: str = 'eject'
  climb: Any = None
  margin: float = 0.0

  def __post_init__(self):
    if self.depth is not None and (
        isinstance(self.depth, bool) or not isinstance(self.depth, int)
        or self.depth < 0):
      raise ValueError(f'Eject.depth must be None or an int >= 0, got '
                       f'{self.depth!r}')
    base.check_name(self)
    if (isinstance(self.margin, bool)
        or not isinstance(self.margin, (int, float))
        or not 0.0 <= self.margin < 1.0):
      raise ValueError(f'Eject.margin must be a number in [0, 1), got '
                       f'{self.margin!r}')
    if self.climb is not None and not isinstance(self.climb, base.Strategy):
      raise ValueError(f'Eject.climb must be None or a strategy, got '
                       f'{self.climb!r}')

  def num_moves(self, length: int) -> int:
    """Moves in a chain at length L."""
    return max(0, length - 1) if self.depth is None else self.depth

  def max_profiles(self, length: int) -> int:
    """Most order-profiles: the start, one per move, and the climb's."""
    climb = 0 if self.climb is None else self.climb.max_profiles(length)
    return 1 + self.num_moves(length) + climb

  def wants_slot_losses(self, state: base.State) -> bool:
    """During the chain: every move reads the last order's slot losses."""
    return state['climb'] is None

  def init(self, key: jax.Array, length: int,
           starts: np.ndarray | None = None) -> base.State:
    length = base.check_length(length)
    starts = base.check_starts(starts, length)
    start = (orders_lib.sample_orders(key, 1, length)[0] if starts is None
             else starts[0])
    return base.new_state(
        key, length, pending=np.asarray(start, np.int64)[None],
        stage=f'{self.name} m=0', moved=np.zeros(0, np.int64),
        chain=np.zeros((0, length), np.int64), chain_scores=np.zeros(0),
        best_order=np.asarray(start, np.int64), best_score=math.inf,
        climb=None)

  def ask(self, state: base.State) -> np.ndarray:
    return base.ask(state)

  def tell(self, state: base.State, perms: np.ndarray, scores: np.ndarray,
           slot_losses: np.ndarray | None = None) -> base.State:
    """Records the order's score; moves its hardest unmoved slot last.

    Args:
      state: the state.
      perms: int[1, L], the order asked for.
      scores: float[1].
      slot_losses: float[1, L], its loss per slot (stored slot index);
        NaN counts as the highest.

    Raises:
      ValueError: as ``base.check_tell``, or slot losses missing or of the
        wrong shape.
    """
    if state['climb'] is not None:
      return self._tell_climb(state, perms, scores)
    perms, scores = base.check_tell(state, perms, scores)
    length = state['length']
    if slot_losses is None:
      raise ValueError('Eject needs the per-slot losses of every order it '
                       'asks for: score it with Independent(slot_losses=True)')
    slot_losses = np.asarray(slot_losses, np.float64)
    if slot_losses.shape != (1, length):
      raise ValueError(f'tell: got slot losses of shape {slot_losses.shape}; '
                       f'expected (1, {length})')
    order = perms[0]
    chain = np.concatenate([state['chain'], order[None]])
    chain_scores = np.append(state['chain_scores'], scores[0])
    best = int(base.rank(chain_scores)[0])
    start = chain_scores[0]
    bar = start - self.margin * abs(start) if np.isfinite(start) else np.inf
    if best and not chain_scores[best] < bar:
      best = 0  # not a clear win: the start stays
    state = dict(state, chain=chain, chain_scores=chain_scores,
                 best_order=chain[best], best_score=float(chain_scores[best]),
                 local_optimum=best == 0, kept=order[None])
    moved = np.asarray(state['moved'], np.int64)
    if moved.shape[0] >= self.num_moves(length):
      return self._finish_chain(state)
    losses = np.where(np.isnan(slot_losses[0]), np.inf, slot_losses[0])
    losses[moved] = -np.inf
    hardest = int(np.argmax(losses))  # first on ties
    moved = np.append(moved, hardest)
    following = np.append(order[order != hardest], hardest)
    return dict(state, moved=moved, pending=following[None],
                stage=f'{self.name} m={moved.shape[0]}')

  def best(self, state: base.State) -> tuple[np.ndarray, float]:
    return np.array(state['best_order']), float(state['best_score'])

  def _finish_chain(self, state: base.State) -> base.State:
    """Ends the search, or starts the climb if the chain beat its start."""
    done = dict(state, pending=np.zeros((0, state['length']), np.int64),
                stage='')
    if self.climb is None or state['local_optimum']:
      return done
    key = jax.random.fold_in(base.state_key(state), 1)
    sub = self.climb.init(key, state['length'],
                          np.asarray(state['best_order'])[None])
    if not sub['pending'].shape[0]:
      return done
    return dict(state, climb=sub, pending=sub['pending'], stage=sub['stage'])

  def _tell_climb(self, state: base.State, perms: np.ndarray,
                  scores: np.ndarray) -> base.State:
    sub = self.climb.tell(state['climb'], perms, scores)
    state = dict(state, climb=sub, pending=sub['pending'], stage=sub['stage'],
                 kept=sub['kept'])
    if not sub['pending'].shape[0]:
      order, score = self.climb.best(sub)
      state.update(best_order=np.asarray(order), best_score=float(score),
                   local_optimum=bool(sub['local_optimum']))
    return state
