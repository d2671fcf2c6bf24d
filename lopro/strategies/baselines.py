"""Baselines: random search, exhaustive enumeration, a permutation GA.

Unlike the hierarchical search, these compare scores across profiling runs,
which assumes an order's score does not depend on its batch (true of
independent profiles with common random numbers and of a universal model,
not of a mixture's). By default the random search and the evolution get the
budget of order-profiles that ``Hierarchical()`` may spend.

Dimension letters: N orders, L target length.
"""

from __future__ import annotations

import dataclasses
import json
import math

import jax
import numpy as np

from lopro import neighbourhoods
from lopro import orders as orders_lib
from lopro.strategies import base
from lopro.strategies import hierarchical

# Exhaustive search enumerates L! orders; 7! = 5,040.
MAX_EXHAUSTIVE_LENGTH = 7
# Evolution stops early after this many generations that found no new order.
MAX_STALE_GENERATIONS = 50
# Evolution re-mutates a child that duplicates a known order this many times.
MAX_DUPLICATE_RETRIES = 10


def _need_int(owner: str, name: str, value, low: int, high=None,
              optional: bool = False) -> None:
  if optional and value is None:
    return
  if (isinstance(value, bool) or not isinstance(value, int) or value < low
      or (high is not None and value > high)):
    bounds = f'>= {low}' if high is None else f'in {low}..{high}'
    raise ValueError(f'{owner}.{name} must be an int {bounds}'
                     f'{" or None" if optional else ""}, got {value!r}')


def _budget(budget: int | None, length: int) -> int:
  """The budget, or ``Hierarchical().max_profiles(L)`` for None."""
  if budget is None:
    return hierarchical.Hierarchical().max_profiles(length)
  return budget


def _batches(state: base.State, name: str, perms: np.ndarray,
             batch_size: int) -> base.State:
  """Sets the next batch of ``perms`` (from ``state['offset']``) pending."""
  offset = state['offset']
  return dict(state, pending=perms[offset:offset + batch_size],
              stage=(f'{name} batch {offset // batch_size}'
                     if offset < perms.shape[0] else ''))


def _factorial_or_inf(length: int) -> float:
  return math.factorial(length) if length <= 20 else math.inf


def _running_best(state: base.State, perms: np.ndarray,
                  scores: np.ndarray) -> base.State:
  """Keeps the best order over all batches (strictly lower replaces)."""
  i = int(base.rank(scores)[0])
  if state['best_order'] is None or scores[i] < state['best_score']:
    state.update(best_order=perms[i], best_score=float(scores[i]))
  state['kept'] = state['best_order'][None]
  return state


def _best(state: base.State) -> tuple[np.ndarray, float]:
  if state['best_order'] is None:
    raise ValueError('best: nothing has been scored yet')
  return np.array(state['best_order']), float(state['best_score'])


@dataclasses.dataclass(frozen=True)
class RandomSearch:
  """Distinct uniform orders in batches; the best is kept.

  Attributes:
    budget: orders profiled (at most L!); None:
      ``Hierarchical().max_profiles(L)``.
    batch_size: most orders per profiling run.

  ``starts`` given to ``init`` are profiled first, within the budget.
  """
  budget: int | None = None
  batch_size: int = 512

  def __post_init__(self):
    _need_int('RandomSearch', 'budget', self.budget, 1, optional=True)
    _need_int('RandomSearch', 'batch_size', self.batch_size, 1)

  def max_profiles(self, length: int) -> int:
    """Orders profiled at length L (at most L!)."""
    return min(_budget(self.budget, length), _factorial_or_inf(length))

  def init(self, key: jax.Array, length: int,
           starts: np.ndarray | None = None) -> base.State:
    length = base.check_length(length)
    starts = base.check_starts(starts, length)
    state = base.new_state(key, length, offset=0, best_order=None,
                           best_score=math.inf,
                           starts=(np.zeros((0, length), np.int64)
                                   if starts is None else starts))
    return _batches(state, 'random', self._perms(state), self.batch_size)

  def _perms(self, state: base.State) -> np.ndarray:
    """The whole sequence of orders to profile, regenerated from the key."""
    length, starts = state['length'], state['starts']
    random_key = hierarchical.method_keys(base.state_key(state))[3]
    budget = _budget(self.budget, length)
    drawn = neighbourhoods.sample_distinct(
        neighbourhoods.host_rng(random_key), budget - starts.shape[0], length,
        {row.tobytes() for row in starts})
    return np.concatenate([starts, drawn])[:budget]

  def ask(self, state: base.State) -> np.ndarray:
    return base.ask(state)

  def tell(self, state: base.State, perms: np.ndarray,
           scores: np.ndarray) -> base.State:
    perms, scores = base.check_tell(state, perms, scores)
    state = _running_best(dict(state), perms, scores)
    state['offset'] += perms.shape[0]
    return _batches(state, 'random', self._perms(state), self.batch_size)

  def best(self, state: base.State) -> tuple[np.ndarray, float]:
    return _best(state)


@dataclasses.dataclass(frozen=True)
class Exhaustive:
  """Every order of length L <= 7, lexicographically, in batches.

  Attributes:
    batch_size: most orders per profiling run.
  """
  batch_size: int = 512

  def __post_init__(self):
    _need_int('Exhaustive', 'batch_size', self.batch_size, 1)

  def max_profiles(self, length: int) -> int:
    """L! orders."""
    return math.factorial(length)

  def init(self, key: jax.Array, length: int,
           starts: np.ndarray | None = None) -> base.State:
    """Starts the enumeration (``starts`` are among the L! orders anyway)."""
    length = base.check_length(length)
    del starts
    if length > MAX_EXHAUSTIVE_LENGTH:
      raise ValueError(
          f'exhaustive search is limited to L <= {MAX_EXHAUSTIVE_LENGTH}; '
          f'L = {length} has {math.factorial(length)} orders')
    state = base.new_state(key, length, offset=0, best_order=None,
                           best_score=math.inf)
    return _batches(state, 'exhaustive', orders_lib.all_orders(length),
                    self.batch_size)

  def ask(self, state: base.State) -> np.ndarray:
    return base.ask(state)

  def tell(self, state: base.State, perms: np.ndarray,
           scores: np.ndarray) -> base.State:
    perms, scores = base.check_tell(state, perms, scores)
    state = _running_best(dict(state), perms, scores)
    state['offset'] += perms.shape[0]
    # Every order scored: the best is the global optimum.
    state['local_optimum'] = True
    return _batches(state, 'exhaustive',
                    orders_lib.all_orders(state['length']), self.batch_size)

  def best(self, state: base.State) -> tuple[np.ndarray, float]:
    return _best(state)


def order_crossover(rng: np.random.Generator, first: np.ndarray,
                    second: np.ndarray) -> np.ndarray:
  """OX1: a slice of ``first`` in place, the rest in ``second``'s sequence."""
  length = first.shape[0]
  i, j = np.sort(rng.choice(length + 1, 2, replace=False))
  child = np.full(length, -1, dtype=np.int64)
  child[i:j] = first[i:j]
  taken = set(first[i:j].tolist())
  fill = [g for g in np.roll(second, -j).tolist() if g not in taken]
  positions = [(j + t) % length for t in range(length - (j - i))]
  child[positions] = fill
  return child


def mutate(rng: np.random.Generator, order: np.ndarray) -> np.ndarray:
  """Swap two positions or invert a segment (equal odds)."""
  order = order.copy()
  if order.shape[0] < 2:
    return order
  i, j = np.sort(rng.choice(order.shape[0], 2, replace=False))
  if rng.random() < 0.5:
    order[i], order[j] = order[j], order[i]
  else:
    order[i:j + 1] = order[i:j + 1][::-1]
  return order


@dataclasses.dataclass(frozen=True)
class Evolution:
  """A permutation genetic algorithm that never profiles an order twice.

  A population of ``population_size`` distinct uniform orders (``starts``
  first, if given). Each generation keeps the ``elite`` best unchanged and
  fills the rest with children: two parents by tournament selection
  (``tournament_size``, with replacement), order crossover OX1 with
  probability ``crossover_rate`` (else a copy of the first parent), then
  with probability ``mutation_rate`` a swap or an inversion; a child equal
  to an already-scored order is mutated again (up to 10 times) to look for
  a new one. Only new orders are profiled and count towards ``budget``; the
  last generation is truncated to meet it exactly. Stops early only when no
  new order turns up for 50 generations or all L! orders are scored.

  Attributes:
    budget: orders profiled; None: ``Hierarchical().max_profiles(L)``.
    population_size, tournament_size, elite: as above.
    mutation_rate, crossover_rate: probabilities, as above.

  References: Davis 1985 (order crossover, "Applying adaptive algorithms to
  epistatic domains", IJCAI); Goldberg 1989 (Genetic Algorithms in Search,
  Optimization and Machine Learning: tournament selection, elitism,
  swap/inversion mutation).
  """
  budget: int | None = None
  population_size: int = 64
  tournament_size: int = 3
  mutation_rate: float = 0.5
  crossover_rate: float = 0.9
  elite: int = 2

  def __post_init__(self):
    _need_int('Evolution', 'budget', self.budget, 1, optional=True)
    _need_int('Evolution', 'population_size', self.population_size, 2)
    _need_int('Evolution', 'tournament_size', self.tournament_size, 1,
              self.population_size)
    _need_int('Evolution', 'elite', self.elite, 0, self.population_size - 1)
    for name in ('mutation_rate', 'crossover_rate'):
      value = getattr(self, name)
      if (isinstance(value, bool) or not isinstance(value, (int, float))
          or not 0.0 <= value <= 1.0):
        raise ValueError(f'Evolution.{name} must be a probability in [0, 1], '
                         f'got {value!r}')

  def max_profiles(self, length: int) -> int:
    """Most orders profiled at length L."""
    return min(_budget(self.budget, length), _factorial_or_inf(length))

  def init(self, key: jax.Array, length: int,
           starts: np.ndarray | None = None) -> base.State:
    length = base.check_length(length)
    evolution_key = hierarchical.method_keys(key)[4]
    population_key, operator_key = jax.random.split(evolution_key)
    budget = _budget(self.budget, length)
    size = min(self.population_size, budget)
    starts = base.check_starts(starts, length)
    starts = np.zeros((0, length), np.int64) if starts is None else starts
    population = np.concatenate([starts, neighbourhoods.sample_distinct(
        neighbourhoods.host_rng(population_key), size - min(
            size, starts.shape[0]), length,
        {row.tobytes() for row in starts})])[:size]
    rng = neighbourhoods.host_rng(operator_key)
    return base.new_state(
        key, length, generation=0, spent=0, stale=0, budget=budget,
        population=population, pending=population, stage='evolution gen 0',
        scored=np.zeros((0, length), np.int64), scored_values=np.zeros(0),
        best_order=None, best_score=math.inf,
        rng=json.dumps(rng.bit_generator.state))

  def ask(self, state: base.State) -> np.ndarray:
    return base.ask(state)

  def tell(self, state: base.State, perms: np.ndarray,
           scores: np.ndarray) -> base.State:
    perms, scores = base.check_tell(state, perms, scores)
    state = _running_best(dict(state), perms, scores)
    state.update(scored=np.concatenate([state['scored'], perms]),
                 scored_values=np.concatenate([state['scored_values'],
                                               scores]),
                 spent=state['spent'] + perms.shape[0],
                 kept=state['population'])
    return self._next_generation(state)

  def best(self, state: base.State) -> tuple[np.ndarray, float]:
    return _best(state)

  def _next_generation(self, state: base.State) -> base.State:
    """Breeds generations until one has new orders (pending) or it stops."""
    length, budget = state['length'], state['budget']
    cache = {row.tobytes(): float(v) for row, v in
             zip(state['scored'], state['scored_values'])}
    total = math.factorial(length) if length <= 20 else math.inf
    rng = np.random.default_rng()
    rng.bit_generator.state = json.loads(state['rng'])
    population = state['population']
    while (state['spent'] < budget and len(cache) < total
           and state['stale'] < MAX_STALE_GENERATIONS):
      state['generation'] += 1
      fitness = np.array([cache[row.tobytes()] for row in population])
      ranked = base.rank(fitness)
      elites = population[ranked[:self.elite]]

      def tournament():
        entrants = rng.integers(0, population.shape[0], self.tournament_size)
        return population[entrants[base.rank(fitness[entrants])[0]]]

      children, fresh = [], {}
      for _ in range(self.population_size - elites.shape[0]):
        first, second = tournament(), tournament()
        if rng.random() < self.crossover_rate:
          child = order_crossover(rng, first, second)
        else:
          child = first.copy()
        if rng.random() < self.mutation_rate:
          child = mutate(rng, child)
        for _ in range(MAX_DUPLICATE_RETRIES):
          if child.tobytes() not in cache and child.tobytes() not in fresh:
            break
          child = mutate(rng, child)
        if child.tobytes() not in cache and child.tobytes() not in fresh:
          fresh[child.tobytes()] = child
        children.append(child)
      new = list(fresh.values())[:budget - state['spent']]
      keep = {row.tobytes() for row in new}
      children = [c for c in children
                  if c.tobytes() in cache or c.tobytes() in keep]
      population = np.concatenate(
          [elites, np.asarray(children, dtype=np.int64).reshape(-1, length)])
      if not new:
        state['stale'] += 1
        continue
      state['stale'] = 0
      return dict(state, population=population, pending=np.stack(new),
                  stage=f'evolution gen {state["generation"]}',
                  rng=json.dumps(rng.bit_generator.state))
    return dict(state, population=population,
                pending=np.zeros((0, length), np.int64), stage='',
                rng=json.dumps(rng.bit_generator.state))
