"""Tests of lopro.estimators.independent: one model per order, vmapped.

Compiles dominate, so the tests share three programs: TINY_TRAIN on relu
at L=5 under the default Runtime, the same under ``SMALL_CHUNKS`` (chunks
of 4 in groups of 2), and a diverging run; one ``vmap(make_train)`` is the
reference for every order.
"""

import dataclasses
import functools

import jax
import numpy as np
import pytest

import lopro
from lopro import orders
from lopro import scores
from lopro.estimators import independent

from conftest import TINY_INDEPENDENT
from conftest import TINY_TRAIN

LENGTH = 5
TASK = lopro.get_task('relu', LENGTH)
SMALL_CHUNKS = lopro.Runtime(chunk_size=4, vmap_group=2)
# An absurd learning rate diverges after the first step; without common
# random numbers every order starts from its own init.
DIVERGING = lopro.Independent(
    train=dataclasses.replace(TINY_TRAIN, learning_rate=1e30),
    common_random_numbers=False)


def perms(num, seed=0):
  return orders.sample_orders(jax.random.key(seed), num, LENGTH)


def profile(perms_, estimator=TINY_INDEPENDENT, seed=0, **kwargs):
  return estimator.profile(TASK, perms_, seed, **kwargs)


@functools.cache
def reference_train():
  """``vmap(make_train)`` over (keys [O], orders [O, L]) for 5 orders,
  compiled without backend optimisation (faster to compile; the same
  numbers to float32 precision)."""
  keys = jax.random.split(jax.random.key(0), 5)
  return jax.jit(jax.vmap(lopro.make_train(TASK, TINY_TRAIN))).lower(
      keys, perms(5)).compile({'xla_backend_optimization_level': 0})


def test_shapes_types_and_default_score():
  p = perms(3)
  prof = profile(p)
  steps = TINY_TRAIN.steps
  assert prof.losses.shape == (3, steps) and prof.scores.shape == (3,)
  assert prof.losses.dtype == np.float32 and prof.scores.dtype == np.float32
  assert prof.ranking.dtype == np.int64
  np.testing.assert_array_equal(prof.perms, p)
  np.testing.assert_array_equal(prof.loss_steps, np.arange(1, steps + 1))
  assert np.all(np.isfinite(prof.losses)) and prof.nonfinite.size == 0
  # Default score: mean of the last 10% of steps (here 1 of 8).
  np.testing.assert_allclose(prof.scores, prof.losses[:, -1], rtol=1e-6)
  np.testing.assert_array_equal(prof.ranking, np.argsort(prof.scores,
                                                         kind='stable'))
  assert prof.estimator is TINY_INDEPENDENT and prof.task == 'relu'
  assert prof.seed == 0 and prof.rung is None
  assert prof.timings['order_steps'] == 3 * steps
  assert prof.timings['devices'] == jax.device_count()
  for name in ('compile_s', 'run_s', 'total_s', 'orders_per_s',
               'order_steps_per_s'):
    assert prof.timings[name] >= 0
  # An untrained model guesses among the 46 target values.
  assert abs(prof.losses[0, 0] - np.log(TASK.target_vocab)) < 1.0


def test_matches_the_single_order_training_function():
  p = perms(5, seed=1)
  prof = profile(p, seed=7)
  keys = jax.vmap(lambda _: jax.random.key(7))(np.arange(5))
  expected = np.asarray(reference_train()(keys, p))
  np.testing.assert_allclose(prof.losses, expected, rtol=1e-4, atol=1e-6)


def test_vmapped_member_equals_order_profiled_alone():
  p = perms(5, seed=1)
  together = profile(p, seed=3)
  for i, perm in enumerate(p):
    alone = profile(perm[None], seed=3)
    np.testing.assert_allclose(alone.losses[0], together.losses[i], rtol=1e-5)
    assert alone.scores[0] == pytest.approx(together.scores[i], rel=1e-5)


def test_runtime_does_not_change_results_and_compiles_once_per_shape():
  p = perms(9, seed=2)
  whole = profile(p)
  seen = []
  chunked = profile(p, runtime=SMALL_CHUNKS, callback=seen.append)
  np.testing.assert_allclose(chunked.losses, whole.losses, rtol=1e-5)
  np.testing.assert_array_equal(chunked.ranking, whole.ranking)
  # 9 orders in chunks of 4: one progress report per chunk.
  assert [s.chunk for s in seen] == [1, 2, 3]
  assert [s.orders_done for s in seen] == [4, 8, 9]
  assert all(s.num_chunks == 3 and s.num_orders == 9 for s in seen)
  assert seen[-1].eta_s == 0.0 and all(s.orders_per_s > 0 for s in seen)
  # Another size, seed and score reuse the compiled program.
  misses = independent.compiled_chunk.cache_info().misses
  again = profile(perms(3, seed=5), dataclasses.replace(
      TINY_INDEPENDENT, score=scores.auc()), seed=4, runtime=SMALL_CHUNKS)
  assert independent.compiled_chunk.cache_info().misses == misses
  np.testing.assert_allclose(again.scores, again.losses.mean(axis=1),
                             rtol=1e-6)
  # ... and its orders equal the same orders in the whole layout.
  np.testing.assert_allclose(again.losses, profile(perms(3, seed=5),
                                                   seed=4).losses, rtol=1e-5)


def test_same_seed_same_scores_other_seed_differs():
  p = perms(3)
  a, b, c = profile(p, seed=0), profile(p, seed=0), profile(p, seed=1)
  np.testing.assert_array_equal(a.scores, b.scores)
  np.testing.assert_array_equal(a.losses, b.losses)
  assert not np.allclose(a.scores, c.scores)


def test_num_seeds_averages_single_seed_profiles():
  p = perms(4, seed=3)
  two = lopro.Independent(train=TINY_TRAIN, num_seeds=2)
  seen = []
  prof = profile(p, two, seed=5, callback=seen.append)
  single = [profile(p, seed=s) for s in (5, 6)]
  np.testing.assert_allclose(prof.scores,
                             (single[0].scores + single[1].scores) / 2,
                             rtol=1e-6)
  np.testing.assert_allclose(prof.losses,
                             (single[0].losses + single[1].losses) / 2,
                             rtol=1e-6)
  assert not np.allclose(single[0].scores, single[1].scores)
  assert prof.timings['order_steps'] == 2 * 4 * TINY_TRAIN.steps
  assert prof.seed == 5
  assert [s.orders_done for s in seen] == [4, 8]
  assert all(s.num_orders == 8 and s.num_chunks == 2 for s in seen)
  # The mean of seed-averaged scores is reusable like a single seed's.
  assert two.reusable


def test_common_random_numbers_give_one_order_one_curve():
  p = np.stack([orders.identity(LENGTH)] * 2 + [orders.reverse(LENGTH)])
  prof = profile(p)
  np.testing.assert_array_equal(prof.losses[0], prof.losses[1])
  assert not np.allclose(prof.losses[0], prof.losses[2])
  # The same init and data: the untrained first loss is close.
  assert abs(prof.losses[0, 0] - prof.losses[2, 0]) < 0.5


def test_diverging_runs_score_inf_rank_last_and_streams_differ():
  p = np.stack([orders.identity(LENGTH)] * 3)
  prof = profile(p, DIVERGING)
  assert np.all(np.isposinf(prof.scores))
  np.testing.assert_array_equal(prof.nonfinite, [0, 1, 2])
  np.testing.assert_array_equal(prof.ranking, [0, 1, 2])
  assert not np.all(np.isfinite(prof.losses[:, -1]))
  # Before the first update the losses are finite; without common random
  # numbers each copy of the order has its own init and data.
  assert np.all(np.isfinite(prof.losses[:, 0]))
  assert len(set(prof.losses[:, 0].tolist())) == 3
  assert not DIVERGING.reusable


def test_callable_score():
  prof = profile(perms(3), dataclasses.replace(TINY_INDEPENDENT,
                                               score=lambda l: -l[:, 0]))
  np.testing.assert_allclose(prof.scores, -prof.losses[:, 0], rtol=1e-6)
  assert prof.ranking[0] == np.argmax(prof.losses[:, 0])


@pytest.mark.parametrize('kwargs, match', [
    (dict(common_random_numbers=1),
     'Independent.common_random_numbers must be a bool, got 1'),
    (dict(num_seeds=0), 'Independent.num_seeds must be an int >= 1, got 0'),
    (dict(num_seeds=True), 'num_seeds must be an int >= 1, got True'),
    (dict(num_seeds=2.0), r'num_seeds must be an int >= 1, got 2\.0'),
])
def test_bad_fields(kwargs, match):
  with pytest.raises(ValueError, match=match):
    lopro.Independent(**kwargs)


def test_defaults():
  estimator = lopro.Independent()
  assert estimator.train == lopro.TrainConfig()
  assert estimator.score == scores.final()
  assert estimator.common_random_numbers and estimator.num_seeds == 1
  assert estimator.reusable
  assert estimator == lopro.Independent(train=lopro.TrainConfig(),
                                        score=scores.final(0.1))


# ---------------------------------------------------------------------------
# Chunk layout.


def test_chunk_shape():
  assert independent.chunk_shape(9, 4) == 4
  assert independent.chunk_shape(3, 256) == 4
  assert independent.chunk_shape(1, 256) == 1
  assert independent.chunk_shape(300, 256) == 256
  assert independent.chunk_shape(17, 256) == 32


def test_chunk_plan():
  grouped = lopro.Runtime(chunk_size=16, vmap_group=4)
  assert independent.chunk_plan(3, grouped) == (16, 4)
  assert independent.chunk_plan(40, grouped) == (16, 4)
  assert independent.chunk_plan(3, lopro.Runtime(chunk_size=10,
                                                 vmap_group=4)) == (12, 4)
  assert independent.chunk_plan(3, lopro.Runtime(chunk_size=2,
                                                 vmap_group=4)) == (2, 2)
  # Over 4 devices: 16 / 4 = 4 per device, one group each.
  assert independent.chunk_plan(3, grouped, 4) == (16, 4)
  assert independent.chunk_plan(3, lopro.Runtime(chunk_size=16,
                                                 vmap_group=8), 4) == (16, 4)
  if jax.default_backend() == 'cpu':
    assert independent.chunk_plan(5, lopro.Runtime()) == (
        256, independent.CPU_VMAP_GROUP)
  else:  # one vmap per device over a power of two
    assert independent.chunk_plan(5, lopro.Runtime()) == (8, 8)


def test_pack_chunk_deals_orders_round_robin():
  index, rows, num_groups = independent.pack_chunk(np.arange(10, 15), 8, 2,
                                                   1)
  np.testing.assert_array_equal(index, [10, 11, 12, 13, 14, 10, 10, 10])
  np.testing.assert_array_equal(rows, [0, 1, 2, 3, 4])
  np.testing.assert_array_equal(num_groups, [3])
  assert num_groups.dtype == np.int32
  # Two devices of 4 slots: orders alternate, each device fills its front.
  index, rows, num_groups = independent.pack_chunk(np.arange(5), 8, 2, 2)
  np.testing.assert_array_equal(index[rows], np.arange(5))
  assert sorted(rows.tolist()) == [0, 1, 2, 4, 5]
  np.testing.assert_array_equal(num_groups, [2, 1])
