"""Search strategies: ask/tell over plain, saveable state.

  Hierarchical   the paper's global-local search (``.paper()``: exactly the
                 paper's), plus insertion rounds from 3 starts by default
  Insertion      best-improvement climbs over single-slot insertion moves
  Eject          an ejection chain: the hardest slot (per-slot losses)
                 moved to the end, again and again
  RandomSearch   distinct uniform orders
  Exhaustive     every order (L <= 7)
  Evolution      a permutation genetic algorithm
  Pipeline       strategies one after another, each with its own estimator
  Topological    any strategy, over the topological sorts of a graph only

``base.py`` holds the protocol, the state conventions and ``save_state`` /
``load_state``.
"""

from lopro.strategies.base import load_state
from lopro.strategies.base import save_state
from lopro.strategies.base import State
from lopro.strategies.base import Strategy
from lopro.strategies.baselines import Evolution
from lopro.strategies.baselines import Exhaustive
from lopro.strategies.baselines import RandomSearch
from lopro.strategies.eject import Eject
from lopro.strategies.hierarchical import Hierarchical
from lopro.strategies.hierarchical import RandomInit
from lopro.strategies.hierarchical import StructuredInit
from lopro.strategies.insertion import Insertion
from lopro.strategies.pipeline import Pipeline
from lopro.strategies.topological import Topological

__all__ = ['Eject', 'Evolution', 'Exhaustive', 'Hierarchical', 'Insertion', 'Pipeline',
           'RandomInit', 'RandomSearch', 'State', 'Strategy', 'StructuredInit',
           'Topological', 'load_state', 'save_state']
