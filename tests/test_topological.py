"""Tests for lopro.strategies.topological."""

import dataclasses

import jax
import numpy as np
import pytest

import lopro
from conftest import FunctionEstimator
from conftest import kendall_scorer
from conftest import run_strategy
from lopro import orders
from lopro import search
from lopro import strategies

# Two chains of 4 slots, 0-1-2-3 and 4-5-6-7, with 5 also after 1 and 2
# after 4: many valid orders (55), most orders invalid.
GRAPH = ((), (0,), (1, 4), (2,), (), (4, 1), (5,), (6,))
# The friendliest valid order of the synthetic scorers below.
TARGET = np.array([4, 0, 1, 5, 2, 6, 3, 7])


def test_every_order_asked_is_valid_and_the_best_valid_one_is_found():
  assert orders.is_topological(TARGET, GRAPH)
  inner = strategies.Hierarchical()
  wrapped = strategies.Topological(inner, GRAPH)
  runs, state = run_strategy(wrapped, kendall_scorer(TARGET), 8, seed=1)
  asked = np.concatenate([perms for _, perms, _, _ in runs])
  assert all(orders.is_topological(p, GRAPH) for p in asked)
  for _, perms, _, kept in runs:  # distinct within a population
    assert len({tuple(p) for p in perms.tolist()}) == len(perms)
    assert all(orders.is_topological(p, GRAPH) for p in kept)
  order, score = wrapped.best(state)
  np.testing.assert_array_equal(order, TARGET)
  assert score == 0.0
  # The inner search ran on the repaired landscape: its best order repairs
  # to the target, and it was told the score of that repair.
  inner_order, inner_score = inner.best(state['inner'])
  np.testing.assert_array_equal(
      orders.topological_repair(inner_order, GRAPH), TARGET)
  assert inner_score == 0.0
  assert len(asked) <= wrapped.max_profiles(8)


def test_the_driver_scores_stages_with_their_estimators_and_can_resume(
    tmp_path):
  target = TARGET.copy()
  coarse = FunctionEstimator(lambda p: np.zeros(len(p)))
  fine = FunctionEstimator(kendall_scorer(target))
  pipe = strategies.Pipeline(
      (strategies.RandomSearch(budget=6), coarse),
      (strategies.Insertion(rounds=8, name='refine'), fine))
  wrapped = strategies.Topological(pipe, GRAPH)
  assert wrapped.stages == pipe.stages
  task = dataclasses.replace(lopro.get_task('relu', 8), depends_on=GRAPH)
  result = search.search_order(task, strategy=wrapped, estimator=fine,
                               seed=0, checkpoint_dir=str(tmp_path))
  np.testing.assert_array_equal(result.order, target)
  assert orders.is_topological(result.order, task)
  # The random stage was scored by its own estimator, the climb by its own.
  assert len(coarse.calls) == 1 and len(coarse.calls[0]) <= 6
  assert [r.estimator_index for r in result.history][:1] == [1]
  for perms in coarse.calls + fine.calls:
    assert all(orders.is_topological(p, GRAPH) for p in perms)
  # The finished search is read back from its checkpoint.
  again = search.search_order(task, strategy=wrapped, estimator=fine,
                              seed=0, checkpoint_dir=str(tmp_path))
  np.testing.assert_array_equal(again.order, target)
  assert len(fine.calls) == len(result.history) - 1


def test_a_saved_state_continues_the_same_search(tmp_path):
  wrapped = strategies.Topological(strategies.Hierarchical(), GRAPH)
  scorer = kendall_scorer(TARGET)
  straight, _ = run_strategy(wrapped, scorer, 8, seed=2)
  state = wrapped.init(jax.random.key(2), 8)
  for _ in range(2):
    perms = wrapped.ask(state)
    state = wrapped.tell(state, perms, scorer(perms))
  path = str(tmp_path / 'state.json')
  strategies.save_state(path, state)
  state = strategies.load_state(path)
  rest = []
  while len(perms := wrapped.ask(state)):
    rest.append(perms)
    state = wrapped.tell(state, perms, scorer(perms))
  assert len(rest) == len(straight) - 2
  for perms, (_, want, _, _) in zip(rest, straight[2:]):
    np.testing.assert_array_equal(perms, want)


def test_bad_settings_are_refused():
  with pytest.raises(ValueError, match='needs a strategy'):
    strategies.Topological('hierarchical', GRAPH)
  with pytest.raises(ValueError, match='has a cycle'):
    strategies.Topological(strategies.Hierarchical(), ((1,), (0,)))
  with pytest.raises(ValueError, match='states no dependency graph'):
    strategies.Topological(strategies.Hierarchical(), None)
  wrapped = strategies.Topological(strategies.Hierarchical(), GRAPH)
  with pytest.raises(ValueError, match='the graph has 8 slots, the search '
                     'L = 6'):
    wrapped.init(jax.random.key(0), 6)
  state = wrapped.init(jax.random.key(0), 8)
  with pytest.raises(ValueError, match='not the .* orders ask returned'):
    wrapped.tell(state, wrapped.ask(state)[:1], [0.0])


def test_an_inner_eject_is_told_its_repairs_slot_losses():
  inner = strategies.Eject(depth=1)
  wrapped = strategies.Topological(inner, GRAPH)
  state = wrapped.init(jax.random.key(0), 8, TARGET[None])
  assert wrapped.wants_slot_losses(state)
  perms = wrapped.ask(state)
  np.testing.assert_array_equal(perms, TARGET[None])
  with pytest.raises(ValueError, match='reads per-slot losses; none'):
    wrapped.tell(state, perms, np.array([1.0]))
  losses = np.zeros((1, 8))
  losses[0, 6] = 5.0  # slot 6 costs the most: the chain moves it last
  state = wrapped.tell(state, perms, np.array([1.0]), slot_losses=losses)
  moved = np.array([4, 0, 1, 5, 2, 3, 7, 6])  # invalid: 7 needs 6
  np.testing.assert_array_equal(inner.ask(state['inner']), moved[None])
  repaired = orders.topological_repair(moved, GRAPH)
  assert orders.is_topological(repaired, GRAPH)
  np.testing.assert_array_equal(wrapped.ask(state), repaired[None])
  # The repair scores better: the chain ends on the inner order, and the
  # search on its repair.
  state = wrapped.tell(state, repaired[None], np.array([0.5]),
                       slot_losses=np.ones((1, 8)))
  assert not len(wrapped.ask(state))
  order, score = wrapped.best(state)
  np.testing.assert_array_equal(order, repaired)
  assert score == 0.5
  np.testing.assert_array_equal(state['inner']['chain_scores'], [1.0, 0.5])
