"""A combinator: strategies run one after another, each with its estimator.

  Pipeline((Hierarchical(), lopro.Universal()),
           (Insertion(rounds=6, name='refine'),
            lopro.Independent(num_seeds=2)))

is "the hierarchical search scored by one universal model, then insertion
moves from its result scored one model per order, averaged over two seeds":
a coarse, cheap scorer over the whole space, then a fine one near the end.
Each stage starts from the previous stage's best order (``init``'s
``starts``). As an ask/tell strategy it runs like any other; ``search_order``
also reads ``estimator_for(state)`` to score each stage's populations with
its own estimator (None: the driver's estimator).

Stage i draws from ``fold_in(key, i)``, stage 0 from the key itself (so a
one-stage pipeline is the same search as its strategy).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np

from lopro.strategies import base


@dataclasses.dataclass(frozen=True)
class Pipeline:
  """Runs its stages in sequence, each from the previous one's best order.

  Attributes:
    stages: ((strategy, estimator or None), ...); a bare strategy is
      taken as (strategy, None).
  """
  stages: tuple[tuple[Any, Any], ...]

  def __init__(self, *stages):
    pairs = []
    for stage in stages:
      strategy, estimator = (stage if isinstance(stage, tuple)
                             else (stage, None))
      if not isinstance(strategy, base.Strategy):
        raise ValueError('Pipeline stages must be strategies or (strategy, '
                         f'estimator) pairs, got {stage!r}')
      pairs.append((strategy, estimator))
    if not pairs:
      raise ValueError('Pipeline needs at least one stage')
    object.__setattr__(self, 'stages', tuple(pairs))

  def max_profiles(self, length: int) -> int:
    """Most order-profiles: the sum of the stages' budgets."""
    return sum(strategy.max_profiles(length) for strategy, _ in self.stages)

  def estimator_for(self, state: base.State) -> Any:
    """The estimator of the stage that asks now (None: the driver's)."""
    strategy, estimator = self.stages[state['index']]
    if estimator is None and hasattr(strategy, 'estimator_for'):
      return strategy.estimator_for(state['sub'])
    return estimator

  def init(self, key: jax.Array, length: int,
           starts: np.ndarray | None = None) -> base.State:
    length = base.check_length(length)
    state = base.new_state(key, length, index=0, best_order=None,
                           best_score=math.inf, sub=self.stages[0][0].init(
                               key, length, starts))
    return self._advance(state)

  def ask(self, state: base.State) -> np.ndarray:
    return base.ask(state)

  def wants_slot_losses(self, state: base.State) -> bool:
    """Whether the stage that asks now reads per-slot losses
    (``lopro.strategies.Eject``)."""
    strategy = self.stages[state['index']][0]
    wants = getattr(strategy, 'wants_slot_losses', None)
    return bool(wants and wants(state['sub']))

  def tell(self, state: base.State, perms: np.ndarray, scores: np.ndarray,
           slot_losses: np.ndarray | None = None) -> base.State:
    strategy = self.stages[state['index']][0]
    if self.wants_slot_losses(state):
      sub = strategy.tell(state['sub'], perms, scores,
                          slot_losses=slot_losses)
    else:
      sub = strategy.tell(state['sub'], perms, scores)
    order, score = strategy.best(sub)
    state = dict(state, sub=sub, best_order=np.asarray(order),
                 best_score=float(score), kept=sub['kept'],
                 local_optimum=sub['local_optimum'])
    return self._advance(state)

  def best(self, state: base.State) -> tuple[np.ndarray, float]:
    if state['best_order'] is None:
      raise ValueError('best: nothing has been scored yet')
    return np.array(state['best_order']), float(state['best_score'])

  def _advance(self, state: base.State) -> base.State:
    """Moves to the next stage while the current one asks for nothing."""
    while (not state['sub']['pending'].shape[0]
           and state['index'] + 1 < len(self.stages)):
      index = state['index'] + 1
      starts = (None if state['best_order'] is None
                else np.asarray(state['best_order'])[None])
      key = jax.random.fold_in(base.state_key(state), index)
      state = dict(state, index=index, sub=self.stages[index][0].init(
          key, state['length'], starts))
    return dict(state, pending=state['sub']['pending'],
                stage=state['sub']['stage'])
