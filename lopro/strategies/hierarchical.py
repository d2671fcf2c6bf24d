"""The hierarchical global-local search of the paper, as ask/tell.

Made exact where the paper is silent:
  * Initial population: T = (K+1)! orders. ``RandomInit()``: T uniform
    orders (repeats are dropped before profiling). ``StructuredInit(b)``:
    every ordering of the blocks of b of the forward and of the reverse
    order (a shorter tail is its own block), deduplicated; a uniform random
    subset when more than T, topped up with distinct uniform orders when
    fewer (the paper's P_b).
  * Global stage, k = 1..K: the k blocks of an order have sizes differing by
    at most one, larger first; every survivor is expanded by all k!
    orderings (the identity included, so survivors are profiled again, as
    in the paper's mixture runs); deduplicated (first occurrence kept); the
    best floor(T/(k+1)!) (at least 1) survive.
  * Local stage, l = 2..floor(L/2): (a) the current order plus every
    re-ordering inside one block of size l (a shorter tail is its own
    block; at most ``max_block_perms`` per block, subsampled beyond), best
    kept; (b) that order plus all cyclic shifts and pairwise swaps of its
    blocks (the paper's floor(L/l) block reorderings Q' are unspecified),
    best kept. The current order is candidate 0 and wins ties, so a step
    never gets worse. ``local_rounds`` > 1 repeats the pass while the
    previous pass moved (the paper runs it once).
  * Beyond the paper, on by default: insertion rounds (``Insertion``) from
    the local stage's result and from the next ``num_starts - 1`` best
    distinct orders of the last global run; the lowest end point wins.
    ``Hierarchical.paper()`` turns them off. Replayed on the full score
    landscapes of relu, square19 and a planted chain at L=8, the paper's
    search ends on the landscape's best order in 26/140 runs, with
    insertion rounds from 3 starts in 136/140
    (``results/search_study/README.md``).

References: Sato, Kawamoto & Kera, arXiv 2506.23875, §4 (Eq. 4.2-4.4).

Dimension letters: L target length, K global depth, T = (K+1)! global
population size, M survivors.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import numpy as np

from lopro import neighbourhoods
from lopro import orders as orders_lib
from lopro.strategies import base
from lopro.strategies import insertion

# T = (K+1)! orders are profiled per global stage; 9! = 362,880 is the most.
MAX_DEPTH = 8


def method_keys(key: jax.Array) -> jax.Array:
  """Five named keys of a search: init, top-up, local, random, evolution.

  One split of the search's key, shared by the strategies so that each
  draws the same numbers as lopro 0.1's searches did from the same seed.
  """
  return jax.random.split(key, 5)


@dataclasses.dataclass(frozen=True)
class RandomInit:
  """The paper's P_r: T uniformly random orders."""

  def population(self, key: jax.Array, length: int, size: int) -> np.ndarray:
    init_key = method_keys(key)[0]
    return orders_lib.sample_orders(init_key, size, length)


@dataclasses.dataclass(frozen=True)
class StructuredInit:
  """The paper's P_b: block permutations of forward and reverse.

  Attributes:
    block: b, the block size (the paper fixes 5).
  """
  block: int = 5

  def __post_init__(self):
    if isinstance(self.block, bool) or not isinstance(self.block, int) or (
        self.block < 1):
      raise ValueError(f'StructuredInit.block must be an int >= 1, got '
                       f'{self.block!r}')

  def population(self, key: jax.Array, length: int, size: int) -> np.ndarray:
    init_key, topup_key = method_keys(key)[:2]
    return neighbourhoods.structured_population(init_key, topup_key, length,
                                                size, self.block)


def default_depth(length: int) -> int:
  """The paper's global depth K for target length L.

  K = 4 for L <= 8, 5 for L = 9 and 6 for L >= 10 (PAPER.md Table 2),
  capped to 1 <= K <= L-1 so that short orders still split into K blocks.
  """
  depth = 4 if length <= 8 else 5 if length == 9 else 6
  return max(1, min(depth, length - 1))


@dataclasses.dataclass(frozen=True)
class Hierarchical:
  """Global stage over block orderings, then local moves inside blocks.

  Attributes:
    depth: K, T = (K+1)! orders per global run; None picks
      ``default_depth(L)``. At most ``MAX_DEPTH`` and max(1, L-1).
    initial: the initial population, ``RandomInit()`` (the paper's P_r) or
      ``StructuredInit()`` (P_b).
    local_rounds: how many times the local pass (l = 2..floor(L/2)) may
      run; a pass is repeated only while the previous one moved.
    max_block_perms: most re-orderings tried inside one block; blocks with
      l! above it (l >= 8, L >= 16) get the identity plus
      ``max_block_perms - 1`` distinct uniform re-orderings.
    insertion_rounds: beyond the paper: most insertion rounds per start
      after the local stage; 0 is the paper's search.
    num_starts: beyond the paper: insertion rounds also from the next
      ``num_starts - 1`` best distinct orders of the last global run.

  ``Hierarchical()`` is the search that works best in our measurements;
  ``Hierarchical.paper()`` is the paper's exactly.
  """
  depth: int | None = None
  initial: RandomInit | StructuredInit = RandomInit()
  local_rounds: int = 1
  max_block_perms: int = 5040
  insertion_rounds: int = 4
  num_starts: int = 3

  @classmethod
  def paper(cls, **overrides) -> Hierarchical:
    """The paper's hierarchical search: no insertion rounds, one start."""
    return cls(**{'insertion_rounds': 0, 'num_starts': 1, **overrides})

  def __post_init__(self):
    def need(name, low, high=None, optional=False):
      value = getattr(self, name)
      if optional and value is None:
        return
      if (isinstance(value, bool) or not isinstance(value, int)
          or value < low or (high is not None and value > high)):
        bounds = f'>= {low}' if high is None else f'in {low}..{high}'
        raise ValueError(f'Hierarchical.{name} must be an int {bounds}'
                         f'{" or None" if optional else ""}, got {value!r}')

    need('depth', 1, MAX_DEPTH, optional=True)
    need('local_rounds', 1)
    need('max_block_perms', 2)
    need('insertion_rounds', 0)
    need('num_starts', 1)
    if not isinstance(self.initial, (RandomInit, StructuredInit)):
      raise ValueError('Hierarchical.initial must be RandomInit() or '
                       f'StructuredInit(), got {self.initial!r}')
    if self.num_starts > 1 and self.insertion_rounds == 0:
      raise ValueError(
          f'Hierarchical.num_starts={self.num_starts} needs insertion_rounds '
          '>= 1: extra starts are refined by insertion moves alone; use '
          'num_starts=1 with insertion_rounds=0 (the paper\'s search)')

  def resolved_depth(self, length: int) -> int:
    if self.depth is None:
      return default_depth(length)
    if self.depth > max(1, length - 1):
      raise ValueError(f'Hierarchical.depth={self.depth} is too deep for '
                       f'length {length}: it must be at most '
                       f'{max(1, length - 1)}')
    return self.depth

  def max_profiles(self, length: int) -> int:
    """Most order-profiles of a search at length L (reuse spends less).

    K*T for the global stage, plus for each local pass the exact local
    counts: sum over l of (1 + sum over blocks (min(size!, max_block_perms)
    - 1)) inside-block candidates and the distinct block reorderings, plus
    ``num_starts * insertion_rounds * (1 + (L-1)^2)``. Example, L = 8 with
    the paper's search: 4*120 + (5 + 10) + (12 + 6) + (47 + 2) = 562.
    """
    depth = self.resolved_depth(length)
    total = depth * math.factorial(depth + 1)
    local = 0
    for block in range(2, length // 2 + 1):
      sizes = neighbourhoods.fixed_block_sizes(length, block)
      local += 1 + sum(neighbourhoods.num_inside_moves(s, self.max_block_perms)
                       - 1 for s in sizes)
      local += neighbourhoods.num_block_moves(len(sizes))
    climbs = self._climb().max_profiles(length, self.num_starts)
    return total + self.local_rounds * local + climbs

  def init(self, key: jax.Array, length: int,
           starts: np.ndarray | None = None) -> base.State:
    """Starts the global stage; ``starts`` replace the first random orders
    of the initial population."""
    length = base.check_length(length)
    depth = self.resolved_depth(length)
    size = math.factorial(depth + 1)
    population = self.initial.population(key, length, size)
    starts = base.check_starts(starts, length)
    if starts is not None:
      population = orders_lib.unique_orders(
          np.concatenate([starts, population]))[0][:size]
    state = base.new_state(key, length, phase='global', depth=depth,
                           size=size, k=1, order=population[0], score=math.inf,
                           extra_starts=np.zeros((0, length), np.int64),
                           round=0, block=2, part='inside', moved=False,
                           climb=None)
    return self._ask_global(state, population)

  def ask(self, state: base.State) -> np.ndarray:
    return base.ask(state)

  def tell(self, state: base.State, perms: np.ndarray,
           scores: np.ndarray) -> base.State:
    perms, scores = base.check_tell(state, perms, scores)
    state = dict(state)
    if state['phase'] == 'global':
      return self._tell_global(state, perms, scores)
    if state['phase'] == 'global final':
      best = base.rank(scores)[:1]
      state['kept'] = perms[best]
      return self._end_global(state, perms[best[0]], float(scores[best[0]]))
    if state['phase'] == 'local':
      return self._tell_local(state, perms, scores)
    climb = self._climb()
    state['climb'] = climb.tell(state['climb'], perms, scores)
    return self._mirror_climb(state)

  def best(self, state: base.State) -> tuple[np.ndarray, float]:
    if state['climb'] is not None:
      return self._climb().best(state['climb'])
    return np.array(state['order']), float(state['score'])

  # Global stage.

  def _ask_global(self, state: base.State,
                  population: np.ndarray) -> base.State:
    columns = orders_lib.block_reorderings(np.arange(state['length']),
                                           state['k'])
    candidates = population[:, columns].reshape(-1, state['length'])
    return dict(state, pending=orders_lib.unique_orders(candidates)[0],
                stage=f'global k={state["k"]}')

  def _tell_global(self, state, perms, scores) -> base.State:
    k, size = state['k'], state['size']
    ranked = base.rank(scores)
    keep = ranked[:max(1, size // math.factorial(k + 1))]
    population = perms[keep]
    state.update(kept=population, order=population[0],
                 score=float(scores[keep[0]]))
    if k < state['depth']:
      state['k'] = k + 1
      return self._ask_global(state, population)
    # The extra starts: the next best distinct orders of this last run.
    others = perms[ranked]
    state['extra_starts'] = others[:self.num_starts]  # filtered at the end
    if population.shape[0] > 1:
      return dict(state, phase='global final', pending=population,
                  stage='global final')
    return self._end_global(state, population[0], state['score'])

  def _end_global(self, state, order, score) -> base.State:
    others = state['extra_starts']
    others = others[~np.all(others == order, axis=1)]
    state.update(order=order, score=score,
                 extra_starts=others[:self.num_starts - 1])
    if state['length'] // 2 >= 2:
      state.update(phase='local', round=0, block=2, part='inside',
                   moved=False)
      return self._ask_local(state)
    return self._end_local(state, local_optimum=False)

  # Local stage.

  def _ask_local(self, state: base.State) -> base.State:
    rnd, block = state['round'], state['block']
    prefix = 'local' if rnd == 0 else f'local r={rnd + 1}'
    if state['part'] == 'inside':
      local_key = method_keys(base.state_key(state))[2]
      block_key = jax.random.fold_in(jax.random.fold_in(local_key, rnd),
                                     block)
      pending = neighbourhoods.inside_block_moves(
          state['order'], block, self.max_block_perms, block_key)
    else:
      pending = neighbourhoods.block_moves(state['order'], block)
    return dict(state, pending=pending,
                stage=f'{prefix} l={block} {state["part"]}')

  def _tell_local(self, state, perms, scores) -> base.State:
    best = int(base.rank(scores)[0])
    state.update(moved=bool(state['moved'] or best != 0), order=perms[best],
                 score=float(scores[best]), kept=perms[best][None])
    if state['part'] == 'inside':
      state['part'] = 'blocks'
      return self._ask_local(state)
    if state['block'] < state['length'] // 2:
      state.update(block=state['block'] + 1, part='inside')
      return self._ask_local(state)
    if state['moved'] and state['round'] + 1 < self.local_rounds:
      state.update(round=state['round'] + 1, block=2, part='inside',
                   moved=False)
      return self._ask_local(state)
    # L < 4 has no local stage, hence no neighbourhood to be optimal in.
    return self._end_local(state, local_optimum=not state['moved'])

  # Insertion rounds.

  def _climb(self) -> insertion.Insertion:
    return insertion.Insertion(rounds=self.insertion_rounds)

  def _end_local(self, state, local_optimum: bool) -> base.State:
    state['local_optimum'] = bool(local_optimum)
    if self.insertion_rounds == 0 or state['length'] < 2:
      return dict(state, phase='done',
                  pending=np.zeros((0, state['length']), np.int64), stage='')
    starts = np.concatenate([state['order'][None], state['extra_starts']])
    state.update(phase='insertion', climb=self._climb().init(
        base.state_key(state), state['length'], starts))
    return self._mirror_climb(state)

  def _mirror_climb(self, state: base.State) -> base.State:
    climb = state['climb']
    state.update(pending=climb['pending'], stage=climb['stage'])
    if climb['kept'].shape[0]:
      state.update(kept=climb['kept'], local_optimum=climb['local_optimum'])
    if not climb['pending'].shape[0]:
      state['phase'] = 'done'
    return state
