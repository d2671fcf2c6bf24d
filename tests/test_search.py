"""Tests for lopro.search, the driver, with synthetic estimators."""

import json
import os
import signal
import subprocess
import sys
import time
from unittest import mock

import numpy as np
import pytest

import lopro
from conftest import adjacency_scorer
from conftest import FunctionEstimator
from conftest import hidden_order
from conftest import kendall_scorer
from lopro import search
from lopro import strategies

RELU8 = lopro.get_task('relu', length=8)


def _strip_time(result):
  data = result.to_dict()
  data['wall_time'] = 0.0
  for record in data['history']:
    record['seconds'] = 0.0
  return data


def test_the_driver_runs_the_strategy_it_is_given():
  h = hidden_order(8, 0)
  estimator = FunctionEstimator(kendall_scorer(h), reusable=False)
  seen = []
  result = search.search_order(RELU8, strategy=strategies.Hierarchical.paper(),
                               estimator=estimator, callback=seen.append)
  # One record per estimator call, holding what the estimator profiled.
  assert len(estimator.calls) == len(result.history) == len(seen) == 10
  for call, record in zip(estimator.calls, result.history):
    np.testing.assert_array_equal(call, record.candidates)
    np.testing.assert_array_equal(record.scores, kendall_scorer(h)(call))
    assert record.num_reused == 0 and record.estimator == 'FunctionEstimator'
  assert result.num_profiled == 562
  assert result.score == kendall_scorer(h)(result.order[None])[0]
  assert result.strategy['type'] == 'Hierarchical'
  assert result.strategy['insertion_rounds'] == 0


@pytest.mark.parametrize('strategy', [strategies.Hierarchical.paper(),
                                      strategies.Hierarchical()])
def test_reuse_finds_the_same_with_fewer_profiles(strategy):
  for seed in range(3):
    scorer = adjacency_scorer(hidden_order(8, seed))
    literal = FunctionEstimator(scorer, reusable=False)
    reusing = FunctionEstimator(scorer, reusable=True)
    a = search.search_order(RELU8, strategy=strategy, estimator=literal,
                            seed=seed)
    b = search.search_order(RELU8, strategy=strategy, estimator=reusing,
                            seed=seed)
    np.testing.assert_array_equal(a.order, b.order)
    assert a.score == b.score
    # Same runs, same candidates and scores; only the spend differs.
    assert [r.name for r in a.history] == [r.name for r in b.history]
    for x, y in zip(a.history, b.history):
      np.testing.assert_array_equal(x.candidates, y.candidates)
      np.testing.assert_array_equal(x.scores, y.scores)
    seen = np.concatenate(reusing.calls)
    assert len({tuple(r) for r in seen.tolist()}) == len(seen)  # never twice
    assert b.num_profiled == len(seen) == sum(
        len(r.candidates) - r.num_reused for r in b.history)
    assert b.num_profiled < a.num_profiled


def test_each_estimator_keeps_its_own_scores():
  h = hidden_order(8, 0)
  coarse = FunctionEstimator(adjacency_scorer(h))
  fine = FunctionEstimator(kendall_scorer(h))
  pipe = strategies.Pipeline((strategies.Hierarchical(), coarse),
                             (strategies.Insertion(rounds=4, name='refine'),
                              fine))
  result = search.search_order(RELU8, strategy=pipe, estimator=coarse)
  for estimator in (coarse, fine):
    seen = np.concatenate(estimator.calls)
    assert len({tuple(r) for r in seen.tolist()}) == len(seen)
  coarse_rows = {tuple(r) for r in np.concatenate(coarse.calls).tolist()}
  fine_rows = {tuple(r) for r in np.concatenate(fine.calls).tolist()}
  assert coarse_rows & fine_rows  # the refine stage re-scored some orders
  refine = [r for r in result.history if r.name.startswith('refine')]
  assert refine and all(r.estimator_index == 1 for r in refine)
  for record in refine:
    np.testing.assert_array_equal(record.scores,
                                  kendall_scorer(h)(record.candidates))
  np.testing.assert_array_equal(result.order, h)


def test_the_driver_asks_default_method_for_init():
  with pytest.raises(ValueError, match='init applies to the default method'):
    search.search_order('relu', init='structured',
                        strategy=strategies.Hierarchical())
  # The driver asks default_method for it (here with a synthetic scorer).
  asked = []

  def fake_default(length, init=None):
    asked.append((length, init))
    return (strategies.Hierarchical(initial=strategies.StructuredInit()),
            FunctionEstimator(kendall_scorer(np.arange(length))))

  with mock.patch.object(search, 'default_method', fake_default):
    result = search.search_order('relu', length=6, init='structured')
  assert asked == [(6, 'structured')]
  np.testing.assert_array_equal(result.order, np.arange(6))


def test_bad_arguments():
  estimator = FunctionEstimator(kendall_scorer(np.arange(5)))
  with pytest.raises(ValueError, match='strategy must answer init/ask/tell'):
    search.search_order('relu', length=5, strategy='hierarchical',
                        estimator=estimator)
  with pytest.raises(ValueError, match='estimator must answer profile'):
    search.search_order('relu', length=5, estimator='universal')
  with pytest.raises(ValueError, match='seed must be an int'):
    search.search_order('relu', length=5, estimator=estimator, seed=1.5)
  with pytest.raises(ValueError, match='unknown task'):
    search.search_order('nope', estimator=estimator)
  with pytest.raises(ValueError, match='L <= 7'):
    search.search_order(RELU8, strategy=strategies.Exhaustive(),
                        estimator=estimator)
  with pytest.raises(ValueError, match='too deep'):
    search.search_order('relu', length=5, estimator=estimator,
                        strategy=strategies.Hierarchical(depth=5))


def test_nan_scores_never_crash_and_rank_last():
  every = search.search_order(
      'relu', length=6, estimator=FunctionEstimator(
          lambda p: np.full(len(p), np.nan)))
  assert every.score == np.inf and every.to_dict()['score'] == 'inf'
  assert all(r.num_nonfinite == len(r.candidates) for r in every.history)
  json.dumps(every.to_dict())


def test_result_round_trips_through_json_and_files(tmp_path):
  result = search.search_order(
      'relu', length=6, estimator=FunctionEstimator(kendall_scorer(
          hidden_order(6, 0))))
  back = search.SearchResult.from_dict(json.loads(json.dumps(
      result.to_dict())))
  assert back.to_dict() == result.to_dict()
  result.save(str(tmp_path), note='x')
  assert json.loads((tmp_path / 'result.json').read_text())['note'] == 'x'
  assert search.SearchResult.load(str(tmp_path)).to_dict() == result.to_dict()


class Crash(Exception):
  pass


def _crashing(fn, after_calls):
  calls = [0]

  def score(perms):
    calls[0] += 1
    if calls[0] > after_calls:
      raise Crash('simulated crash')
    return fn(perms)

  return score


@pytest.mark.parametrize('strategy', [
    strategies.Hierarchical(), strategies.Evolution(budget=300),
    strategies.RandomSearch(budget=300, batch_size=100)])
def test_resume_after_a_crash_gives_the_same_result(tmp_path, strategy):
  h = hidden_order(8, 7)
  straight = FunctionEstimator(kendall_scorer(h))
  expected = search.search_order(RELU8, strategy=strategy, estimator=straight,
                                 seed=5)
  directory = str(tmp_path / 'ckpt')
  with pytest.raises(Crash):
    search.search_order(RELU8, strategy=strategy, seed=5,
                        estimator=FunctionEstimator(
                            _crashing(kendall_scorer(h), 2)),
                        checkpoint_dir=directory)
  saved = json.loads(open(os.path.join(directory, search.STATE_FILE)).read())
  assert not saved['done'] and len(saved['history']) >= 2
  resumed_estimator = FunctionEstimator(kendall_scorer(h))
  resumed = search.search_order(RELU8, strategy=strategy, seed=5,
                                estimator=resumed_estimator,
                                checkpoint_dir=directory)
  # Only the remaining calls were made: the ones a straight run makes from
  # its 3rd call on.
  assert len(resumed_estimator.calls) == len(straight.calls) - 2
  for a, b in zip(resumed_estimator.calls, straight.calls[2:]):
    np.testing.assert_array_equal(a, b)
  assert _strip_time(resumed) == _strip_time(expected)
  # Finished: a rerun returns the stored result without scoring.
  again = FunctionEstimator(kendall_scorer(h))
  final = search.search_order(RELU8, strategy=strategy, seed=5,
                              estimator=again, checkpoint_dir=directory)
  assert again.calls == [] and final.to_dict() == resumed.to_dict()


def test_a_checkpoint_from_other_arguments_is_refused(tmp_path):
  directory = str(tmp_path)
  estimator = FunctionEstimator(kendall_scorer(hidden_order(6, 0)))
  kwargs = dict(estimator=estimator, checkpoint_dir=directory)
  search.search_order('relu', length=6, seed=1, **kwargs)
  with pytest.raises(ValueError, match='different arguments: seed was 1, '
                     'now 2'):
    search.search_order('relu', length=6, seed=2, **kwargs)
  with pytest.raises(ValueError, match='strategy.depth was None, now 3'):
    search.search_order('relu', length=6, seed=1, **kwargs,
                        strategy=strategies.Hierarchical(depth=3))
  with pytest.raises(ValueError, match="task.name was 'relu', now 'square19'"):
    search.search_order('square19', length=6, seed=1, **kwargs)
  with pytest.raises(ValueError, match='estimator'):
    search.search_order('relu', length=6, seed=1, checkpoint_dir=directory,
                        estimator=FunctionEstimator(np.zeros_like,
                                                    reusable=False))


def test_a_search_starts_from_the_orders_it_is_given(tmp_path):
  h = hidden_order(6, 3)
  start = h[::-1].copy()
  estimator = FunctionEstimator(kendall_scorer(h))
  result = search.search_order(
      'relu', length=6, strategy=strategies.Insertion(rounds=20),
      estimator=estimator, starts=start,
      checkpoint_dir=str(tmp_path / 'a'))
  # The climb's first round is the start's insertion neighbourhood, and it
  # climbs from reverse all the way to the hidden order.
  np.testing.assert_array_equal(estimator.calls[0],
                                lopro.neighbourhoods.insertion_moves(start))
  np.testing.assert_array_equal(result.order, h)
  # The starts key the checkpoint: other starts are refused by name.
  with pytest.raises(ValueError, match='different arguments: starts'):
    search.search_order('relu', length=6, strategy=strategies.Insertion(
        rounds=20), estimator=estimator, starts=h,
                        checkpoint_dir=str(tmp_path / 'a'))
  with pytest.raises(ValueError, match=r'starts: perms\[0\] = \[0, 1, 1'):
    search.search_order('relu', length=6, estimator=estimator,
                        starts=[0, 1, 1, 3, 4, 5])
  with pytest.raises(ValueError, match='starts: perms have length 5'):
    search.search_order('relu', length=6, estimator=estimator,
                        starts=np.arange(5))


def test_a_corrupt_checkpoint_is_refused(tmp_path):
  (tmp_path / search.STATE_FILE).write_text('{"fingerprint": ')
  with pytest.raises(ValueError, match='corrupt'):
    search.search_order('relu', length=6, checkpoint_dir=str(tmp_path),
                        estimator=FunctionEstimator(np.zeros_like))


_SLOW_SEARCH = r'''
import sys, time
import numpy as np
import lopro
sys.path.insert(0, sys.argv[2])
from conftest import FunctionEstimator, adjacency_scorer, hidden_order
scorer = adjacency_scorer(hidden_order(8, 7))
def slow(perms):
  time.sleep(0.2)
  return scorer(perms)
lopro.search_order('relu', length=8, seed=3, checkpoint_dir=sys.argv[1],
                   strategy=lopro.strategies.Hierarchical(),
                   estimator=FunctionEstimator(slow))
'''


def test_sigkill_and_resume_gives_the_uninterrupted_result(tmp_path):
  directory = str(tmp_path / 'ckpt')
  path = os.path.join(directory, search.STATE_FILE)
  proc = subprocess.Popen([sys.executable, '-c', _SLOW_SEARCH, directory,
                           os.path.dirname(__file__)])
  try:
    deadline = time.time() + 120
    while time.time() < deadline:
      try:
        with open(path) as f:
          if len(json.load(f)['history']) >= 3:
            break
      except (OSError, ValueError):
        pass
      time.sleep(0.05)
    else:
      pytest.fail('the search never wrote 3 profiling runs')
    os.kill(proc.pid, signal.SIGKILL)
  finally:
    proc.kill()
    proc.wait(timeout=30)
  with open(path) as f:
    saved = json.load(f)  # a SIGKILL never leaves a half-written state
  assert not saved['done'] and len(saved['history']) >= 3

  scorer = adjacency_scorer(hidden_order(8, 7))
  resumed_estimator = FunctionEstimator(scorer)
  resumed = search.search_order(
      RELU8, seed=3, checkpoint_dir=directory,
      strategy=strategies.Hierarchical(), estimator=resumed_estimator)
  straight_estimator = FunctionEstimator(scorer)
  straight = search.search_order(RELU8, seed=3,
                                 strategy=strategies.Hierarchical(),
                                 estimator=straight_estimator)
  np.testing.assert_array_equal(resumed.order, straight.order)
  assert resumed.num_profiled == straight.num_profiled
  # At most the run in flight was lost: the logged runs were not redone.
  assert len(resumed_estimator.calls) == (len(straight_estimator.calls)
                                          - len(saved['history']))


@pytest.mark.usefixtures('optimised')  # hundreds of 150-step runs
def test_real_search_recovers_relu_friendly_order_at_l6():
  # Depth 3 (24 orders per global run) and two local passes, each order
  # profiled for 150 steps of the default explorer.
  result = lopro.search_order(
      'relu', length=6, seed=0,
      strategy=strategies.Hierarchical.paper(depth=3, local_rounds=2),
      estimator=lopro.Independent(train=lopro.TrainConfig(steps=150)),
      runtime=lopro.Runtime(chunk_size=4))
  np.testing.assert_array_equal(result.order, np.arange(6))
  assert result.local_optimum
  assert result.num_profiled == sum(len(r.candidates) - r.num_reused
                                    for r in result.history)


def test_a_resumed_search_tells_the_callback_what_it_read(tmp_path):
  h = hidden_order(8, 2)
  with pytest.raises(Crash):
    search.search_order(RELU8, strategy=strategies.Hierarchical(), seed=1,
                        estimator=FunctionEstimator(_crashing(
                            kendall_scorer(h), 3)),
                        checkpoint_dir=str(tmp_path))
  told = []
  result = search.search_order(RELU8, strategy=strategies.Hierarchical(),
                               seed=1, checkpoint_dir=str(tmp_path),
                               estimator=FunctionEstimator(kendall_scorer(h)),
                               callback=told.append)
  assert [r.resumed for r in told[:3]] == [True] * 3
  assert not any(r.resumed for r in told[3:])
  assert [r.name for r in told] == [r.name for r in result.history]
  assert not any(r.resumed for r in result.history)
