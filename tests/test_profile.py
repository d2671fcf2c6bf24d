"""Tests of lopro.profile: ``profile_orders``, the front door of profiling."""

import jax
import numpy as np
import pytest

import lopro
from lopro import orders
from lopro import profile as profile_lib

from conftest import FunctionEstimator
from conftest import TINY_INDEPENDENT


class Recorder(FunctionEstimator):
  """A FunctionEstimator that also records its keyword arguments."""

  def __init__(self, fn=lambda p: p[:, 0]):
    super().__init__(fn)
    self.kwargs = []

  def profile(self, task, perms, seed, *, callback=None, runtime=None):
    self.kwargs.append(dict(task=task, seed=seed, callback=callback,
                            runtime=runtime))
    return super().profile(task, perms, seed)


def perms(num, length=5, seed=0):
  return orders.sample_orders(jax.random.key(seed), num, length)


def test_arguments_reach_the_estimator_validated():
  estimator = Recorder()
  runtime = lopro.Runtime(chunk_size=4)
  callback = lambda progress: None
  given = [[2, 0, 1, 3], [3, 1, 0, 2]]
  prof = lopro.profile_orders(given, 'relu', estimator=estimator,
                              seed=np.int64(4), callback=callback,
                              runtime=runtime)
  (call,) = estimator.kwargs
  assert call['task'] is lopro.get_task('relu', 4)  # built at perms' length
  assert call['seed'] == 4 and type(call['seed']) is int
  assert call['callback'] is callback and call['runtime'] is runtime
  (seen,) = estimator.calls
  assert seen.dtype == np.int64
  np.testing.assert_array_equal(seen, given)
  np.testing.assert_array_equal(prof.scores, [2.0, 3.0])
  np.testing.assert_array_equal(prof.ranking, [0, 1])


def test_a_task_object_is_used_as_given():
  task = lopro.get_task('square19', 5, chain=[4, 3, 2, 1, 0])
  estimator = Recorder()
  lopro.profile_orders(perms(2), task, estimator=estimator)
  assert estimator.kwargs[0]['task'] is task
  user = lopro.chain_task('mulmod', lambda x, y: (x * y + 3) % 10, length=5,
                          input_range=(0, 9), target_range=(0, 9))
  prof = lopro.profile_orders(perms(2), user, estimator=estimator)
  assert estimator.kwargs[1]['task'] is user and prof.task == 'mulmod'


def test_the_default_task_is_relu():
  estimator = Recorder()
  lopro.profile_orders(perms(2, length=6), estimator=estimator)
  assert estimator.kwargs[0]['task'] is lopro.get_task('relu', 6)


def test_equals_the_estimator_called_directly():
  p = perms(4, seed=1)
  task = lopro.get_task('relu', 5)
  front = lopro.profile_orders(p, 'relu', estimator=TINY_INDEPENDENT, seed=2)
  direct = TINY_INDEPENDENT.profile(task, p, 2)
  np.testing.assert_array_equal(front.losses, direct.losses)
  np.testing.assert_array_equal(front.ranking, direct.ranking)
  assert front.estimator is TINY_INDEPENDENT


@pytest.mark.usefixtures('optimised')  # 8 orders x 300 steps
def test_friendly_order_ranks_first_with_the_default_estimator():
  # The default estimator (Independent(), 300 steps of a width-32 model)
  # tells relu's friendly order from 6 random ones and the reverse, which
  # ranks in the last half (measured: friendly 0.47, the next best 0.79,
  # the reverse last at 1.06).
  length = 6
  task = lopro.get_task('relu', length)
  p = np.concatenate([task.friendly_order[None], orders.reverse(length)[None],
                      perms(6, length=length, seed=11)])
  prof = lopro.profile_orders(p, task)
  assert prof.estimator == lopro.Independent()
  assert prof.losses.shape == (8, 300)
  assert prof.ranking[0] == 0, prof.scores
  assert prof.rank_of(orders.reverse(length)) >= 4, prof.scores
  np.testing.assert_array_equal(prof.best, task.friendly_order)


@pytest.mark.parametrize('bad, match', [
    ([[0, 1, 1, 3]], 'not a permutation.*duplicated'),
    ([[0, 1, 2, 4]], 'out of range'),
    ([[0.0, 1.0, 2.0, 3.0]], 'integer dtype'),
    (np.zeros((0, 4), int), 'empty batch'),
    ([], 'empty batch'),
    ([0, 1, 2, 3], '2-D'),
    ([[0, 1], [0, 1, 2]], 'rectangular'),
])
def test_bad_perms_rejected_before_profiling(bad, match):
  estimator = Recorder()
  with pytest.raises(ValueError, match=match):
    lopro.profile_orders(bad, 'relu', estimator=estimator)
  assert not estimator.calls


@pytest.mark.parametrize('kwargs, match', [
    (dict(task='nope'), r"unknown task 'nope'.*relu"),
    (dict(task=lopro.get_task('relu', 6)),
     "perms have length 5 but task 'relu' has length 6"),
    (dict(task='prod'), "task 'prod' needs an even length"),
    (dict(task=3), 'task must be a task name or a lopro.Task, got int'),
    (dict(estimator='mixture'), 'estimator must answer profile'),
    (dict(estimator=lopro.TrainConfig()), 'estimator must answer profile'),
    (dict(seed=1.0), 'seed must be an int, got 1.0'),
    (dict(seed=True), 'seed must be an int, got True'),
    (dict(seed='0'), "seed must be an int, got '0'"),
    (dict(runtime=lopro.TrainConfig()), 'runtime must be a lopro.Runtime'),
    (dict(runtime=4), 'runtime must be a lopro.Runtime, got 4'),
])
def test_bad_arguments_rejected_before_profiling(kwargs, match):
  kwargs.setdefault('estimator', Recorder())
  estimator = kwargs['estimator']
  with pytest.raises(ValueError, match=match):
    lopro.profile_orders(perms(2), **kwargs)
  if isinstance(estimator, Recorder):
    assert not estimator.calls


def test_resolve_task_and_checks():
  assert profile_lib.resolve_task('RELU', 7) is lopro.get_task('relu', 7)
  with pytest.raises(ValueError, match='length 4 but task'):
    profile_lib.resolve_task(lopro.get_task('relu', 5), 4)
  assert profile_lib.check_seed(np.int32(3)) == 3
  profile_lib.check_estimator(lopro.Halving())
  with pytest.raises(ValueError, match='e.g. lopro.Independent'):
    profile_lib.check_estimator(None)
