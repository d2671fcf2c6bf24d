"""Tests for lopro.strategies.insertion."""

import jax
import numpy as np
import pytest

from conftest import adjacency_scorer
from conftest import hidden_order
from conftest import kendall_scorer
from lopro import neighbourhoods
from lopro import strategies

Insertion = strategies.Insertion


def test_climbs_one_move_at_a_time_to_a_local_optimum():
  h = hidden_order(8, 4)
  start = np.array(h)
  start[[0, 5]] = start[[5, 0]]  # two insertions away from h
  strategy = Insertion(rounds=10)
  state = strategy.init(jax.random.key(0), 8, starts=start[None])
  names, current = [], start
  while len(perms := strategy.ask(state)):
    names.append(state['stage'])
    # Each round is the current order and its insertion neighbourhood.
    np.testing.assert_array_equal(perms, neighbourhoods.insertion_moves(
        current))
    state = strategy.tell(state, perms, kendall_scorer(h)(perms))
    current = state['kept'][0]
  order, score = strategy.best(state)
  np.testing.assert_array_equal(order, h)
  assert score == 0 and state['local_optimum']
  # Swapping two slots 5 apart takes at least two insertions, then one
  # round confirms the optimum.
  assert names[0] == 'insertion r=1' and 3 <= len(names) <= 10


def test_stops_after_rounds_without_claiming_an_optimum():
  h = hidden_order(8, 1)
  strategy = Insertion(rounds=1)
  state = strategy.init(jax.random.key(0), 8, starts=h[::-1][None])
  perms = strategy.ask(state)
  state = strategy.tell(state, perms, kendall_scorer(h)(perms))
  assert len(strategy.ask(state)) == 0
  order, score = strategy.best(state)
  assert score > 0 and not state['local_optimum']
  assert score == kendall_scorer(h)(order[None])[0]


def test_several_starts_keep_the_first_end_unless_a_later_is_lower():
  h = hidden_order(8, 2)
  scorer = adjacency_scorer(h)
  starts = np.stack([h[::-1], h, np.roll(h, 3)])
  strategy = Insertion(rounds=3, name='refine')
  state = strategy.init(jax.random.key(0), 8, starts=starts)
  names = []
  while len(perms := strategy.ask(state)):
    names.append(state['stage'])
    state = strategy.tell(state, perms, scorer(perms))
  assert names[0] == 'refine r=1'
  assert 'start 2 refine r=1' in names and 'start 3 refine r=1' in names
  # Start 2 is h itself: its first round confirms it.
  np.testing.assert_array_equal(strategy.best(state)[0], h)
  assert strategy.max_profiles(8, num_starts=3) == 3 * 3 * 50


def test_without_starts_climbs_from_a_random_order_of_the_key():
  a = Insertion().init(jax.random.key(3), 6)
  b = Insertion().init(jax.random.key(3), 6)
  np.testing.assert_array_equal(a['pending'], b['pending'])
  assert a['pending'].shape == (1 + 5 * 5, 6)


def test_nothing_to_climb():
  # rounds=0, or L=1: finished at once, best is the start at +inf.
  for strategy, length in ((Insertion(rounds=0), 5), (Insertion(), 1)):
    state = strategy.init(jax.random.key(0), length,
                          starts=np.arange(length)[None])
    assert len(strategy.ask(state)) == 0
    assert strategy.best(state)[1] == np.inf


def test_a_restricted_climb_moves_slots_at_most_max_shift():
  h = hidden_order(10, 2)
  start = np.array(h)
  start[[3, 4]] = start[[4, 3]]
  start[[7, 8]] = start[[8, 7]]  # two adjacent swaps away from h
  strategy = Insertion(rounds=5, max_shift=1)
  state = strategy.init(jax.random.key(0), 10, starts=start[None])
  rounds = 0
  while len(perms := strategy.ask(state)):
    assert perms.shape == (10, 10)  # the order and its 9 adjacent swaps
    assert strategy.max_profiles(10) == 5 * 10
    state = strategy.tell(state, perms, kendall_scorer(h)(perms))
    rounds += 1
  order, score = strategy.best(state)
  np.testing.assert_array_equal(order, h)
  assert score == 0 and state['local_optimum'] and rounds == 3


@pytest.mark.parametrize('kwargs, match', [
    (dict(max_shift=0), 'max_shift must be None or an int >= 1, got 0'),
    (dict(max_shift=True), 'max_shift must be None or an int >= 1'),
    (dict(rounds=-1), 'rounds must be an int >= 0, got -1'),
    (dict(rounds=1.5), 'rounds must be an int >= 0, got 1.5'),
    (dict(name=''), "name must be a non-empty str, got ''"),
])
def test_settings_are_validated(kwargs, match):
  with pytest.raises(ValueError, match=match):
    Insertion(**kwargs)
  with pytest.raises(ValueError, match='not a permutation'):
    Insertion().init(jax.random.key(0), 4, starts=[[0, 0, 1, 2]])
