"""Tests of lopro.estimators.base: the protocol, Profile, Runtime, describe
and finish, without training anything."""

import dataclasses
import json

import jax
import numpy as np
import pytest

import lopro
from lopro import scores
from lopro import sharding
from lopro.estimators import base

from conftest import FunctionEstimator
from conftest import TINY_TRAIN

ESTIMATORS = [
    lopro.Independent(train=TINY_TRAIN),
    lopro.Halving(train=TINY_TRAIN, eta=2, rungs=2),
    lopro.Mixture(train=TINY_TRAIN, num_checkpoints=2, num_heldout=8),
    lopro.Universal(train=TINY_TRAIN, num_checkpoints=2, num_heldout=8),
]


# ---------------------------------------------------------------------------
# The protocol.


@pytest.mark.parametrize('estimator, reusable', [
    (lopro.Independent(), True),
    (lopro.Independent(common_random_numbers=False), False),
    (lopro.Independent(num_seeds=3), True),
    (lopro.Halving(), False),
    (lopro.Halving(common_random_numbers=False), False),
    (lopro.Mixture(), False),
    (lopro.Mixture(random_order_fraction=0.5), False),
    (lopro.Universal(), True),
])
def test_every_estimator_answers_the_protocol_and_its_reusable_flag(
    estimator, reusable):
  assert isinstance(estimator, base.Estimator)
  assert estimator.reusable is reusable


def test_a_user_estimator_answers_the_protocol():
  assert isinstance(FunctionEstimator(lambda p: p[:, 0]), base.Estimator)
  assert not isinstance(object(), base.Estimator)
  assert not isinstance(TINY_TRAIN, base.Estimator)


@pytest.mark.parametrize('estimator', ESTIMATORS,
                         ids=lambda e: type(e).__name__)
def test_estimators_are_frozen_hashable_and_equal_by_value(estimator):
  twin = dataclasses.replace(estimator)
  assert twin == estimator and hash(twin) == hash(estimator)
  assert twin is not estimator
  assert len({estimator, twin}) == 1
  other = dataclasses.replace(estimator, score=scores.auc())
  assert other != estimator
  with pytest.raises(dataclasses.FrozenInstanceError):
    estimator.score = scores.auc()
  # Equal estimators describe equally (they key checkpoints).
  assert base.describe(twin) == base.describe(estimator)
  assert base.describe(other) != base.describe(estimator)


def test_estimators_of_different_kinds_differ():
  assert len(set(ESTIMATORS)) == 4
  assert lopro.Independent() != lopro.Independent(num_seeds=2)
  assert lopro.Mixture() != lopro.Mixture(slot_embedding=False)


@pytest.mark.parametrize('make, match', [
    (lambda: lopro.Independent(train=lopro.EvalConfig()),
     'Independent.train must be a lopro.TrainConfig, got EvalConfig'),
    (lambda: lopro.Halving(train={'steps': 8}),
     'Halving.train must be a lopro.TrainConfig, got dict'),
    (lambda: lopro.Mixture(train=None), 'Mixture.train must be'),
    (lambda: lopro.Universal(train=3), 'Universal.train must be'),
    (lambda: lopro.Independent(score='final'),
     r"Independent.score must be a callable losses -> scores .*got 'final'"),
    (lambda: lopro.Halving(score=None), 'Halving.score must be a callable'),
    (lambda: lopro.Mixture(score=0.1), 'Mixture.score must be a callable'),
    (lambda: lopro.Universal(score='auc'), 'Universal.score must be'),
])
def test_estimators_check_train_and_score(make, match):
  with pytest.raises(ValueError, match=match):
    make()


def test_check_int():
  owner = lopro.Independent()
  base.check_int(owner, 'num_seeds', 1)
  for bad in (0, True, 2.0, '3', None):
    object.__setattr__(owner, 'num_seeds', bad)
    with pytest.raises(ValueError, match=f'Independent.num_seeds must be an '
                       f'int >= 1, got {bad!r}'):
      base.check_int(owner, 'num_seeds', 1)
  # A numpy int is taken, and stored as a Python int.
  assert lopro.Independent(num_seeds=np.int64(2)).num_seeds == 2
  assert type(lopro.Independent(num_seeds=np.int64(2)).num_seeds) is int


# ---------------------------------------------------------------------------
# Runtime.


def test_runtime_defaults_equality_and_mesh():
  runtime = lopro.Runtime()
  assert (runtime.chunk_size, runtime.vmap_group, runtime.mesh) == (256, None,
                                                                    None)
  assert lopro.Runtime(chunk_size=4) == lopro.Runtime(chunk_size=4)
  assert hash(lopro.Runtime(vmap_group=2)) == hash(lopro.Runtime(vmap_group=2))
  mesh = runtime.resolved_mesh()
  assert mesh.size == jax.device_count()
  assert mesh.axis_names == (sharding.AXIS,)
  one = sharding.make_mesh(1)
  assert lopro.Runtime(mesh=one).resolved_mesh() is one


@pytest.mark.parametrize('kwargs, match', [
    (dict(chunk_size=0), 'chunk_size must be a positive int, got 0'),
    (dict(chunk_size=2.0), r'chunk_size must be a positive int, got 2\.0'),
    (dict(chunk_size=True), 'chunk_size must be a positive int, got True'),
    (dict(vmap_group=0), 'vmap_group must be a positive int, got 0'),
    (dict(vmap_group=-2), 'vmap_group must be a positive int, got -2'),
    (dict(mesh='cpu'), "mesh must be a 1-D jax.sharding.Mesh with axis "),
])
def test_runtime_rejects_bad_values(kwargs, match):
  with pytest.raises(ValueError, match=match):
    lopro.Runtime(**kwargs)


# ---------------------------------------------------------------------------
# describe.


def test_describe_estimators_scores_and_configs():
  described = base.describe(lopro.Independent(train=TINY_TRAIN))
  assert described['type'] == 'Independent'
  assert described['score'] == {'type': 'Final', 'fraction': 0.1}
  assert described['train']['type'] == 'TrainConfig'
  assert described['train']['steps'] == 8
  assert described['common_random_numbers'] is True
  assert described['num_seeds'] == 1
  json.dumps(described)
  assert base.describe(lopro.Mixture())['slot_embedding'] is True
  assert base.describe(scores.auc()) == {'type': 'Auc'}


def test_fields_added_later_are_described_only_when_set():
  # Insertion.max_shift came after cell files and checkpoints were written:
  # at its default the description is the one those files hold.
  assert base.describe(lopro.strategies.Insertion()) == {
      'type': 'Insertion', 'rounds': 4, 'name': 'insertion'}
  assert base.describe(lopro.strategies.Insertion(max_shift=2))[
      'max_shift'] == 2


def test_describe_plain_values_numpy_and_callables():
  assert base.describe({'a': (1, np.int64(2)), 3: np.array([1.5])}) == {
      'a': [1, 2], '3': [1.5]}
  assert base.describe(np.float32(0.5)) == 0.5
  assert base.describe(np.bool_(True)) is True
  assert base.describe(None) is None
  assert base.describe(len) == 'len'

  def my_score(losses):
    return losses[:, -1]

  assert base.describe(my_score).endswith('my_score')
  # An estimator holding a plain function describes it by name.
  described = base.describe(lopro.Independent(score=my_score))
  assert described['score'].endswith('my_score')
  assert base.describe(lopro.Runtime())['chunk_size'] == 256


def test_key_data_is_raw_uint32():
  data = base.key_data(jax.random.key(3))
  assert data.dtype == np.uint32 and isinstance(data, np.ndarray)
  np.testing.assert_array_equal(
      jax.random.key_data(jax.random.wrap_key_data(data)), data)
  keys = base.key_data(jax.random.split(jax.random.key(0), 5))
  assert keys.shape[0] == 5


# ---------------------------------------------------------------------------
# finish and Profile.

PERMS = np.array([[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1], [2, 0, 1]])
LOSSES = np.array([[3.0, 2.0], [1.0, np.nan], [2.0, 1.5], [np.inf, 0.1],
                   [1.0, 0.5]], np.float32)
TASK = lopro.get_task('relu', 3)


def make_profile():
  estimator = lopro.Independent(score=scores.final(0.5))
  return base.finish(estimator, TASK, PERMS, LOSSES, 7, start=0.0,
                     run_s=2.0, timings={'compile_s': 1.0},
                     loss_steps=np.array([1, 2]))


def test_finish_scores_ranks_and_marks_nonfinite_orders():
  prof = make_profile()
  assert prof.scores.dtype == np.float32
  np.testing.assert_array_equal(prof.scores, [2.0, np.inf, 1.5, np.inf, 0.5])
  np.testing.assert_array_equal(prof.ranking, [4, 2, 0, 1, 3])
  np.testing.assert_array_equal(prof.nonfinite, [1, 3])
  assert prof.task == 'relu' and prof.seed == 7
  assert prof.timings['compile_s'] == 1.0 and prof.timings['run_s'] == 2.0
  assert prof.timings['orders_per_s'] == pytest.approx(2.5)
  assert prof.timings['total_s'] > 0
  np.testing.assert_array_equal(prof.best, [2, 0, 1])
  assert prof.rung is None


def test_finish_marks_orders_whose_score_is_not_finite():
  def nan_second(losses):
    return np.where(np.arange(len(losses)) == 1, np.nan, losses[:, -1])

  finite = np.ones((3, 2), np.float32)
  prof = base.finish(lopro.Independent(score=nan_second), TASK, PERMS[:3],
                     finite, 0, 0.0, 1.0, {}, np.array([1, 2]))
  np.testing.assert_array_equal(prof.scores, [1.0, np.inf, 1.0])
  np.testing.assert_array_equal(prof.nonfinite, [1])
  np.testing.assert_array_equal(prof.ranking, [0, 2, 1])


def test_finish_keeps_given_scores_ranking_and_rung():
  # Halving's path: NaN marks untrained steps, so only the scores count.
  losses = np.array([[1.0, np.nan], [1.0, 0.5], [2.0, np.nan]], np.float32)
  prof = base.finish(lopro.Halving(), TASK, PERMS[:3], losses, 0, 0.0, 1.0,
                     {}, np.array([1, 2]),
                     scores=np.array([1.0, 0.5, np.inf], np.float32),
                     ranking=np.array([1, 0, 2]), rung=np.array([0, 1, 0]))
  np.testing.assert_array_equal(prof.nonfinite, [2])
  np.testing.assert_array_equal(prof.ranking, [1, 0, 2])
  np.testing.assert_array_equal(prof.rung, [0, 1, 0])


def test_profile_rank_of_and_to_dict():
  prof = make_profile()
  assert prof.rank_of([1, 0, 2]) == 1
  assert prof.rank_of(np.array([2, 0, 1])) == 0
  assert prof.rank_of([0, 2, 1]) == 4
  with pytest.raises(ValueError, match=r'order \[1, 2, 0\] was not profiled'):
    prof.rank_of([1, 2, 0])
  record = prof.to_dict()
  assert record['perms'] == PERMS.tolist()
  assert record['ranking'] == [4, 2, 0, 1, 3]
  assert record['nonfinite'] == [1, 3]
  assert record['loss_steps'] == [1, 2] and record['rung'] is None
  assert record['estimator']['type'] == 'Independent'
  assert record['estimator']['score'] == {'type': 'Final', 'fraction': 0.5}
  assert record['task'] == 'relu' and record['seed'] == 7
  assert record['scores'][1] == float('inf')
  assert lopro.Profile is base.Profile
