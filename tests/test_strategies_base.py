"""Tests for lopro.strategies.base: the protocol, tell checks, saved states."""

import json
import os
import subprocess
import sys

import jax
import numpy as np
import pytest

import lopro
from conftest import hidden_order
from conftest import kendall_scorer
from conftest import run_strategy
from lopro import strategies
from lopro.strategies import base

# Every strategy, small enough to finish in a fraction of a second.
STRATEGIES = {
    'hierarchical': 'strategies.Hierarchical()',
    'paper': 'strategies.Hierarchical.paper(local_rounds=2)',
    'structured': 'strategies.Hierarchical(initial=strategies.'
                  'StructuredInit(block=3), depth=3)',
    'insertion': 'strategies.Insertion(rounds=5)',
    'random': 'strategies.RandomSearch(budget=300, batch_size=64)',
    'exhaustive': 'strategies.Exhaustive(batch_size=200)',
    'evolution': 'strategies.Evolution(budget=300, population_size=32)',
    'pipeline': 'strategies.Pipeline(strategies.Hierarchical.paper(depth=3), '
                'strategies.Insertion(rounds=3, name="refine"))',
}
LENGTH = {'exhaustive': 6}


@pytest.mark.parametrize('name', list(STRATEGIES))
def test_every_strategy_answers_the_protocol(name):
  strategy = eval(STRATEGIES[name])  # pylint: disable=eval-used
  assert isinstance(strategy, base.Strategy)
  assert hash(strategy) == hash(eval(STRATEGIES[name]))  # pylint: disable=eval-used


# The second half of every saved search, in one new process: load each
# saved state, finish it with the same scorer, print the results as JSON.
_FINISH = r"""
import json, sys
from lopro import strategies
sys.path.insert(0, sys.argv[1])
from conftest import hidden_order, kendall_scorer
out = {}
for spec, path, length in json.loads(sys.argv[2]):
  strategy = eval(spec)
  state = strategies.load_state(path)
  scorer = kendall_scorer(hidden_order(length, 7))
  count = 0
  while len(perms := strategy.ask(state)):
    state = strategy.tell(state, perms, scorer(perms))
    count += len(perms)
  order, score = strategy.best(state)
  out[path] = [order.tolist(), score, count]
print(json.dumps(out))
"""


def test_saved_mid_search_and_finished_in_a_new_process(tmp_path):
  jobs, expected = [], {}
  for name, spec in STRATEGIES.items():
    length = LENGTH.get(name, 8)
    strategy = eval(spec)  # pylint: disable=eval-used
    scorer = kendall_scorer(hidden_order(length, 7))
    runs, final = run_strategy(strategy, scorer, length, seed=3)
    order, score = strategy.best(final)
    assert len(runs) >= 3, name
    # The same search, stopped after its 2nd run and saved.
    state = strategy.init(jax.random.key(3), length)
    for _ in range(2):
      perms = strategy.ask(state)
      state = strategy.tell(state, perms, scorer(perms))
    for suffix in ('.json', '.npz'):
      path = str(tmp_path / f'{name}{suffix}')
      strategies.save_state(path, state)
      np.testing.assert_array_equal(
          strategy.ask(strategies.load_state(path)), strategy.ask(state))
      jobs.append((spec, path, length))
      expected[path] = [order.tolist(), score,
                        sum(len(r[1]) for r in runs[2:])]
  out = subprocess.run(
      [sys.executable, '-c', _FINISH, os.path.dirname(__file__),
       json.dumps(jobs)], check=True, capture_output=True, text=True)
  assert json.loads(out.stdout) == expected


def test_state_round_trips_every_kind_of_value(tmp_path):
  state = dict(a=None, b=True, c=3, d=-np.inf, e='global k=2',
               f=np.array([[0, 2, 1]]), g=np.array([1.5, np.inf, np.nan]),
               h=dict(i=np.zeros((0, 3), np.int64), j=float('inf')),
               k=np.array([7, 9], np.uint32))
  for suffix in ('.json', '.npz'):
    path = str(tmp_path / f's{suffix}')
    strategies.save_state(path, state)
    back = strategies.load_state(path)
    assert set(back) == set(state) and set(back['h']) == {'i', 'j'}
    assert back['a'] is None and back['b'] is True and back['c'] == 3
    assert back['d'] == -np.inf and back['e'] == 'global k=2'
    assert back['h']['j'] == np.inf
    for key in ('f', 'g', 'k'):
      np.testing.assert_array_equal(back[key], state[key])
      assert back[key].dtype == state[key].dtype
    assert back['h']['i'].shape == (0, 3)
  with pytest.raises(ValueError, match='may hold None, numbers, strings'):
    strategies.save_state(str(tmp_path / 'x.json'), dict(bad=[1, 2]))
  (tmp_path / 'junk.json').write_text('{"a": ')
  with pytest.raises(ValueError, match='not a saved strategy state'):
    strategies.load_state(str(tmp_path / 'junk.json'))


def test_tell_refuses_what_ask_did_not_ask():
  strategy = strategies.Hierarchical()
  state = strategy.init(jax.random.key(0), 6)
  perms = strategy.ask(state)
  with pytest.raises(ValueError, match=r'not the \d+ orders ask returned'):
    strategy.tell(state, perms[::-1], np.zeros(len(perms)))
  with pytest.raises(ValueError, match=r'scores of shape \(3,\) for \d+'):
    strategy.tell(state, perms, np.zeros(3))
  with pytest.raises(ValueError, match='must be float'):
    strategy.tell(state, perms, ['x'] * len(perms))
  done = strategies.Insertion(rounds=0).init(jax.random.key(0), 6)
  with pytest.raises(ValueError, match='the search is finished'):
    strategies.Insertion(rounds=0).tell(done, np.zeros((0, 6), int), [])
  with pytest.raises(ValueError, match='length must be an int >= 1'):
    strategy.init(jax.random.key(0), 0)


def test_ask_is_pure_and_returns_a_copy():
  strategy = strategies.Hierarchical()
  state = strategy.init(jax.random.key(0), 8)
  first = strategy.ask(state)
  first[:] = 0
  np.testing.assert_array_equal(strategy.ask(state), strategy.ask(state))
  assert strategy.ask(state).any()


@pytest.mark.usefixtures('optimised')  # dozens of 150-step runs
def test_a_user_loop_drives_a_strategy_with_lopro_profiles():
  # The loop of the docs, with lopro's own estimator as the scorer.
  task = lopro.get_task('relu', length=4)
  estimator = lopro.Independent(train=lopro.TrainConfig(steps=150))
  strategy = strategies.Hierarchical.paper(depth=2)
  state = strategy.init(jax.random.key(0), task.length)
  while len(perms := strategy.ask(state)):
    scores = lopro.profile_orders(perms, task, estimator=estimator).scores
    state = strategy.tell(state, perms, scores)
  order, _ = strategy.best(state)
  np.testing.assert_array_equal(order, np.arange(4))
