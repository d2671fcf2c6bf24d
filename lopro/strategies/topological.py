"""A combinator: any strategy, searching the valid orders of a graph only.

  task = lopro.get_task('delay', 12)
  strategy, estimator = lopro.default_method(task.length)
  lopro.search_order(task, estimator=estimator,
                     strategy=Topological(strategy, task.depends_on))

is "the default search, over the topological sorts of the task's dependency
graph": for a system whose dependencies are known, the question is which
valid order trains, not whether an invalid one might.

The inner strategy searches all orders as usual; every order it asks is
replaced by its nearest topological sort (``lopro.orders.topological_repair``:
a valid order stays as it is), the distinct repaired orders are asked
instead, and each of the inner strategy's orders is told the score of its
repair (and its repair's per-slot losses, for an inner ``Eject``). The inner
search so runs on a landscape that is flat between orders with the same
repair, and ``best`` is the repair of its best order, valid by
construction. ``search_order`` reads ``estimator_for`` and ``stages``
through to the inner strategy, so a ``Pipeline``'s stages keep their
estimators.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import numpy as np

from lopro import orders
from lopro.strategies import base


@dataclasses.dataclass(frozen=True)
class Topological:
  """Runs ``strategy`` over the topological sorts of ``depends_on`` only.

  Attributes:
    strategy: the inner strategy (any ask/tell strategy).
    depends_on: the dependency graph (``Task.depends_on``: for every slot,
      the slots it depends on); L slots, acyclic.
  """
  strategy: Any
  depends_on: tuple[tuple[int, ...], ...]

  def __post_init__(self):
    if not isinstance(self.strategy, base.Strategy):
      raise ValueError(f'Topological needs a strategy, got '
                       f'{self.strategy!r}')
    graph = orders.dependency_graph(self.depends_on)
    if not orders.is_acyclic(graph):
      raise ValueError(f'Topological: the dependency graph has a cycle: '
                       f'{graph!r}')
    object.__setattr__(self, 'depends_on', graph)

  @property
  def stages(self) -> tuple[tuple[Any, Any], ...]:
    """The inner strategy's stages (a ``Pipeline``'s), else none."""
    return getattr(self.strategy, 'stages', ())

  def max_profiles(self, length: int) -> int:
    """At most the inner strategy's order-profiles (repairs only merge)."""
    return self.strategy.max_profiles(length)

  def estimator_for(self, state: base.State) -> Any:
    """The inner strategy's estimator for what it asks now (None: the
    driver's)."""
    chooser = getattr(self.strategy, 'estimator_for', None)
    return chooser(state['inner']) if chooser else None

  def init(self, key: jax.Array, length: int,
           starts: np.ndarray | None = None) -> base.State:
    length = base.check_length(length)
    if length != len(self.depends_on):
      raise ValueError(f'Topological: the graph has {len(self.depends_on)} '
                       f'slots, the search L = {length}')
    state = base.new_state(key, length, inner=self.strategy.init(
        key, length, base.check_starts(starts, length)))
    return self._expose(state)

  def ask(self, state: base.State) -> np.ndarray:
    return base.ask(state)

  def wants_slot_losses(self, state: base.State) -> bool:
    """Whether the inner strategy reads per-slot losses now."""
    wants = getattr(self.strategy, 'wants_slot_losses', None)
    return bool(wants and wants(state['inner']))

  def tell(self, state: base.State, perms: np.ndarray, scores: np.ndarray,
           slot_losses: np.ndarray | None = None) -> base.State:
    """Tells each order the inner strategy asked its repair's score (and,
    when it reads them, its repair's per-slot losses: a slot's loss is the
    same slot's wherever the repair emits it)."""
    perms, scores = base.check_tell(state, perms, scores)
    index_of = {row.tobytes(): i for i, row in enumerate(perms)}
    asked = self.strategy.ask(state['inner'])
    repaired = orders.topological_repair(asked, self.depends_on)
    rows = np.array([index_of[row.tobytes()] for row in repaired], np.int64)
    if self.wants_slot_losses(state):
      if slot_losses is None:
        raise ValueError('Topological: the inner strategy reads per-slot '
                         'losses; none were given')
      inner = self.strategy.tell(state['inner'], asked, scores[rows],
                                 slot_losses=np.asarray(slot_losses)[rows])
    else:
      inner = self.strategy.tell(state['inner'], asked, scores[rows])
    return self._expose(dict(state, inner=inner))

  def best(self, state: base.State) -> tuple[np.ndarray, float]:
    order, score = self.strategy.best(state['inner'])
    return orders.topological_repair(order, self.depends_on), score

  def _expose(self, state: base.State) -> base.State:
    """The driver's keys from the inner state: its pending orders repaired
    (distinct, in first-asked order), its kept ones repaired."""
    inner = state['inner']
    pending = np.asarray(self.strategy.ask(inner), np.int64)
    if pending.shape[0]:
      repaired = orders.topological_repair(pending, self.depends_on)
      first = {}
      for row in repaired:
        first.setdefault(row.tobytes(), row)
      pending = np.stack(list(first.values()))
    kept = np.asarray(inner.get('kept', pending[:0]), np.int64)
    if kept.shape[0]:
      kept = orders.topological_repair(kept, self.depends_on)
    return dict(state, pending=pending, stage=inner.get('stage', ''),
                kept=kept, local_optimum=bool(inner.get('local_optimum',
                                                        False)))
