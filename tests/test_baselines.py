"""Tests for lopro.strategies.baselines: random, exhaustive, evolution."""

import jax
import numpy as np
import pytest

from conftest import adjacency_scorer
from conftest import hidden_order
from conftest import kendall_scorer
from conftest import run_strategy as run
from lopro import orders
from lopro import strategies
from lopro.strategies import baselines


def _rows(array):
  return {tuple(r) for r in np.asarray(array).tolist()}


def test_random_search_distinct_batches_and_budget():
  h = hidden_order(7, 0)
  strategy = strategies.RandomSearch(budget=1200, batch_size=500)
  runs, state = run(strategy, kendall_scorer(h), 7, seed=1)
  assert [r[0] for r in runs] == ['random batch 0', 'random batch 1',
                                  'random batch 2']
  assert [r[1].shape[0] for r in runs] == [500, 500, 200]
  seen = np.concatenate([r[1] for r in runs])
  assert len(_rows(seen)) == 1200
  order, score = strategy.best(state)
  assert score == kendall_scorer(h)(seen).min()
  assert score == kendall_scorer(h)(order[None])[0]
  assert not state['local_optimum']
  # A budget above L! is capped at L!; the default budget is Hierarchical's.
  capped_runs, capped = run(strategies.RandomSearch(budget=100),
                            kendall_scorer(np.arange(4)), 4)
  assert sum(r[1].shape[0] for r in capped_runs) == 24
  assert strategies.RandomSearch(budget=100).best(capped)[1] == 0
  assert strategies.RandomSearch().max_profiles(8) == 1162


def test_random_search_profiles_its_starts_first():
  starts = np.stack([hidden_order(6, 1), hidden_order(6, 2)])
  strategy = strategies.RandomSearch(budget=30, batch_size=10)
  state = strategy.init(jax.random.key(0), 6, starts=starts)
  np.testing.assert_array_equal(strategy.ask(state)[:2], starts)


def test_random_baseline_is_worse_than_hierarchical_at_l8():
  hier, rand = [], []
  paper = strategies.Hierarchical.paper()
  for seed in range(8):
    scorer = kendall_scorer(hidden_order(8, seed))
    _, h = run(paper, scorer, 8, seed=seed)
    _, r = run(strategies.RandomSearch(budget=562), scorer, 8, seed=seed)
    hier.append(paper.best(h)[1])
    rand.append(strategies.RandomSearch().best(r)[1])
  assert np.mean(hier) < np.mean(rand)


def test_exhaustive_finds_the_optimum_and_refuses_l8():
  h = hidden_order(5, 0)
  runs, state = run(strategies.Exhaustive(), adjacency_scorer(h), 5)
  seen = np.concatenate([r[1] for r in runs])
  np.testing.assert_array_equal(seen, orders.all_orders(5))
  order, score = strategies.Exhaustive().best(state)
  np.testing.assert_array_equal(order, h)
  assert score == 0 and state['local_optimum']
  assert strategies.Exhaustive().max_profiles(5) == 120
  with pytest.raises(ValueError, match='L <= 7.*40320'):
    strategies.Exhaustive().init(jax.random.key(0), 8)


def test_evolution_budget_exact_and_improves():
  for seed in range(3):
    h = hidden_order(8, seed)
    scorer = kendall_scorer(h)
    strategy = strategies.Evolution(budget=500, population_size=40)
    runs, state = run(strategy, scorer, 8, seed=seed)
    seen = np.concatenate([r[1] for r in runs])
    assert seen.shape[0] == 500 == len(_rows(seen))  # never re-profiled
    assert runs[0][0] == 'evolution gen 0' and runs[0][1].shape[0] == 40
    order, score = strategy.best(state)
    assert score < runs[0][2].min()
    assert score == scorer(seen).min() == scorer(order[None])[0]
  runs, _ = run(strategies.Evolution(), kendall_scorer(hidden_order(8, 0)), 8)
  assert sum(r[1].shape[0] for r in runs) == 1162  # Hierarchical's budget


def test_order_crossover_and_mutation_keep_permutations():
  rng = np.random.default_rng(0)
  for _ in range(200):
    a, b = rng.permutation(9), rng.permutation(9)
    child = baselines.order_crossover(rng, a, b)
    orders.validate_order(child, 9)
    orders.validate_order(baselines.mutate(rng, child), 9)
  # OX1 by hand: slice [2:5] of a in place, the rest in b's sequence from 5.
  a, b = np.array([0, 1, 2, 3, 4, 5, 6]), np.array([6, 5, 4, 3, 2, 1, 0])

  class Cuts:
    def choice(self, *args, **kwargs):
      return np.array([5, 2])

  np.testing.assert_array_equal(baselines.order_crossover(Cuts(), a, b),
                                [6, 5, 2, 3, 4, 1, 0])


@pytest.mark.parametrize('make, match', [
    (lambda: strategies.RandomSearch(budget=0), 'budget must be an int >= 1'),
    (lambda: strategies.RandomSearch(batch_size=True), 'batch_size'),
    (lambda: strategies.Evolution(population_size=1), 'population_size'),
    (lambda: strategies.Evolution(tournament_size=100), 'tournament_size'),
    (lambda: strategies.Evolution(mutation_rate=1.5), 'mutation_rate.*1.5'),
    (lambda: strategies.Evolution(crossover_rate=-0.1), 'crossover_rate'),
    (lambda: strategies.Evolution(elite=64), 'elite.*64'),
])
def test_settings_are_validated(make, match):
  with pytest.raises(ValueError, match=match):
    make()


@pytest.mark.parametrize('strategy', [strategies.RandomSearch(budget=200),
                                      strategies.Evolution(budget=200)])
def test_nan_and_inf_scores_rank_last(strategy):
  h = hidden_order(8, 5)
  kendall = kendall_scorer(h)

  def nasty(perms):
    s = kendall(perms)
    s[perms[:, 0] == h[1]] = np.nan
    s[perms[:, 0] == h[2]] = -np.inf
    return s

  _, state = run(strategy, nasty, 8)
  order, score = strategy.best(state)
  assert np.isfinite(score) and order[0] not in h[1:3]
