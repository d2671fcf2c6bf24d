"""Tests of lopro.profile: the vmapped, chunked loss profiler."""

import dataclasses

import chex
import jax
import numpy as np
import pytest

import lopro
from lopro import orders
from lopro import profile as profile_lib

# Tiny: tests check equalities and plumbing, not learning.
TINY = lopro.ProfileConfig(steps=8, width=16, num_heads=2, batch_size=8,
                           warmup_steps=2)


def _perms(length, num, seed=0):
  return orders.sample_orders(jax.random.key(seed), num, length)


def test_shapes_and_types():
  perms = _perms(5, 3)
  prof = lopro.profile_orders(perms, 'relu', config=TINY)
  dims = chex.Dimensions(O=3, T=TINY.steps, L=5)
  chex.assert_shape(prof.losses, dims['OT'])
  chex.assert_shape(prof.scores, dims['O'])
  chex.assert_shape(prof.ranking, dims['O'])
  assert prof.losses.dtype == np.float32 and prof.scores.dtype == np.float32
  np.testing.assert_array_equal(np.sort(prof.ranking), np.arange(3))
  np.testing.assert_array_equal(prof.perms, perms)
  assert np.all(np.isfinite(prof.losses))
  # Default score: mean of the last 10% of steps (here 1 of 8).
  np.testing.assert_allclose(prof.scores, prof.losses[:, -1], rtol=1e-6)
  assert np.all(np.diff(prof.scores[prof.ranking]) >= 0)
  assert prof.to_dict()['perms'] == perms.tolist()


def test_vmapped_member_equals_order_profiled_alone():
  perms = _perms(5, 5, seed=1)
  together = lopro.profile_orders(perms, 'relu', config=TINY, seed=3)
  for i, perm in enumerate(perms):
    alone = lopro.profile_orders(perm[None], 'relu', config=TINY, seed=3)
    np.testing.assert_allclose(alone.losses[0], together.losses[i], rtol=1e-4)


def test_matches_the_single_order_training_function():
  task = lopro.get_task('relu', length=5)
  perm = orders.reverse(5)
  prof = lopro.profile_orders(perm[None], task, config=TINY, seed=7)
  losses = jax.jit(lopro.make_train(task, TINY))(jax.random.key(7), perm)
  np.testing.assert_allclose(prof.losses[0], np.asarray(losses), rtol=1e-4)


def test_chunking_and_padding_do_not_change_results():
  perms = _perms(5, 5, seed=2)
  whole = lopro.profile_orders(perms, 'relu', config=TINY)
  chunked = lopro.profile_orders(
      perms, 'relu', config=dataclasses.replace(TINY, chunk_size=2))
  np.testing.assert_allclose(chunked.losses, whole.losses, rtol=1e-4)


def test_compiles_once_per_chunk_shape():
  config = dataclasses.replace(TINY, chunk_size=4, learning_rate=2e-3)
  first = lopro.profile_orders(_perms(5, 9), 'relu', config=config)
  assert first.timings['compile_s'] > 0
  # 9 orders = 3 chunks of 4 compiled once; a new population, seed and score
  # reuse the compiled program.
  again = lopro.profile_orders(
      _perms(5, 7, seed=5), 'relu', seed=4,
      config=dataclasses.replace(config, score='auc'))
  assert again.timings['compile_s'] == 0.0
  assert profile_lib.chunk_shape(9, 4) == 4
  assert profile_lib.chunk_shape(3, 256) == 4
  assert profile_lib.chunk_shape(1, 256) == 1
  assert profile_lib.chunk_shape(300, 256) == 256


def test_chunk_plan_groups_and_one_program_for_every_size():
  grouped = dataclasses.replace(TINY, chunk_size=16, vmap_group=4)
  assert profile_lib.chunk_plan(3, grouped) == (16, 4)
  assert profile_lib.chunk_plan(40, grouped) == (16, 4)
  assert profile_lib.chunk_plan(
      3, dataclasses.replace(grouped, chunk_size=10)) == (12, 4)
  if jax.default_backend() == 'cpu':
    assert profile_lib.chunk_plan(5, TINY) == (256, profile_lib.CPU_VMAP_GROUP)
  # Sizes 3, 6 and 13 all run on the one program compiled for size 3, and
  # each equals the same orders profiled alone.
  perms = _perms(5, 13, seed=4)
  first = lopro.profile_orders(perms[:3], 'relu', config=grouped)
  assert first.timings['compile_s'] > 0
  six = lopro.profile_orders(perms[:6], 'relu', config=grouped)
  whole = lopro.profile_orders(perms, 'relu', config=grouped)
  assert six.timings['compile_s'] == whole.timings['compile_s'] == 0.0
  np.testing.assert_allclose(whole.losses[:6], six.losses, rtol=1e-4)
  np.testing.assert_allclose(whole.losses[:3], first.losses, rtol=1e-4)
  assert np.all(whole.losses > 0)  # no row left from an unrun group


def test_progress_callback_per_chunk():
  seen = []
  lopro.profile_orders(_perms(5, 5), 'relu',
                       config=dataclasses.replace(TINY, chunk_size=2),
                       callback=seen.append)
  assert [p.chunk for p in seen] == [1, 2, 3]
  assert [p.orders_done for p in seen] == [2, 4, 5]
  assert seen[-1].eta_s == 0.0 and all(p.orders_per_s > 0 for p in seen)


def test_same_seed_same_scores_other_seed_differs():
  perms = _perms(5, 3)
  a = lopro.profile_orders(perms, 'relu', config=TINY, seed=0)
  b = lopro.profile_orders(perms, 'relu', config=TINY, seed=0)
  c = lopro.profile_orders(perms, 'relu', config=TINY, seed=1)
  np.testing.assert_array_equal(a.scores, b.scores)
  assert not np.allclose(a.scores, c.scores)


def test_common_random_numbers_switch():
  perms = np.stack([orders.identity(5)] * 2)
  crn = lopro.profile_orders(perms, 'relu', config=TINY)
  np.testing.assert_array_equal(crn.losses[0], crn.losses[1])
  independent = lopro.profile_orders(
      perms, 'relu',
      config=dataclasses.replace(TINY, common_random_numbers=False))
  assert not np.allclose(independent.losses[0], independent.losses[1])


@pytest.mark.parametrize('name', ['relu', 'square19'])
def test_friendly_order_ranks_first_of_16_with_default_config(name):
  length = 8
  task = lopro.get_task(name, length=length)
  perms = np.concatenate([task.friendly_order[None],
                          orders.reverse(length)[None],
                          _perms(length, 14, seed=11)])
  prof = lopro.profile_orders(perms, task)
  assert prof.ranking[0] == 0, prof.scores
  if name == 'relu':
    assert prof.rank_of(orders.reverse(length)) >= 8, prof.scores


def test_absurd_learning_rate_gives_inf_scores_ranked_last_without_raising():
  config = dataclasses.replace(TINY, learning_rate=1e30)
  prof = lopro.profile_orders(_perms(4, 3), 'relu', config=config)
  assert np.all(np.isposinf(prof.scores))
  np.testing.assert_array_equal(prof.nonfinite, [0, 1, 2])
  np.testing.assert_array_equal(np.sort(prof.ranking), [0, 1, 2])


def test_nonfinite_rows_rank_last():
  losses = np.array([[3.0, 2.0], [1.0, np.nan], [2.0, 1.5], [np.inf, 0.1],
                     [1.0, 0.5]], np.float32)
  scores = lopro.score_losses(losses, 'final', fraction=0.5)
  np.testing.assert_array_equal(scores, [2.0, np.inf, 1.5, np.inf, 0.5])
  np.testing.assert_array_equal(profile_lib.rank_scores(scores),
                                [4, 2, 0, 1, 3])


def test_score_functions_on_a_hand_built_matrix():
  losses = np.array([[4.0, 3.0, 2.0, 1.0], [4.0, 4.0, 4.0, 2.0]])
  np.testing.assert_allclose(lopro.score_losses(losses, 'final', 0.25),
                             [1.0, 2.0])
  np.testing.assert_allclose(lopro.score_losses(losses, 'final', 0.5),
                             [1.5, 3.0])
  np.testing.assert_allclose(lopro.score_losses(losses, 'auc'), [2.5, 3.5])
  # Slope: last window minus first window, (1.5 - 3.5) and (3 - 4); a bigger
  # drop is lower.
  np.testing.assert_allclose(lopro.score_losses(losses, 'slope', 0.5),
                             [-2.0, -1.0])
  np.testing.assert_allclose(
      lopro.score_losses(losses, lambda l: l.min(axis=1)), [1.0, 2.0])
  with pytest.raises(ValueError, match='returned shape'):
    lopro.score_losses(losses, lambda l: l)


def test_callable_score_in_config():
  prof = lopro.profile_orders(
      _perms(5, 3), 'relu',
      config=dataclasses.replace(TINY, score=lambda l: -l[:, 0]))
  np.testing.assert_allclose(prof.scores, -prof.losses[:, 0], rtol=1e-6)


@pytest.mark.parametrize('perms, match', [
    ([[0, 1, 1, 3]], 'not a permutation.*duplicated'),
    ([[0, 1, 2, 4]], 'out of range'),
    ([[0.0, 1.0, 2.0, 3.0]], 'integer dtype'),
    (np.zeros((0, 4), int), 'empty batch'),
    ([0, 1, 2, 3], '2-D'),
    ([[0, 1], [0, 1, 2]], 'rectangular'),
])
def test_bad_perms_rejected(perms, match):
  with pytest.raises(ValueError, match=match):
    lopro.profile_orders(perms, 'relu', config=TINY)


def test_bad_task_and_config_rejected():
  perms = _perms(5, 2)
  with pytest.raises(ValueError, match=r"unknown task 'nope'.*relu"):
    lopro.profile_orders(perms, 'nope', config=TINY)
  with pytest.raises(ValueError, match='length 5 but task'):
    lopro.profile_orders(perms, lopro.get_task('relu', length=6), config=TINY)
  with pytest.raises(ValueError, match='prod.*even'):
    lopro.profile_orders(perms, 'prod', config=TINY)
  with pytest.raises(ValueError, match='task must be'):
    lopro.profile_orders(perms, 3, config=TINY)
  with pytest.raises(ValueError, match="mode must be one of.*'bogus'"):
    lopro.profile_orders(perms, 'relu', config=TINY, mode='bogus')
  with pytest.raises(ValueError, match='config must be a ProfileConfig'):
    lopro.profile_orders(perms, 'relu', config=lopro.TrainConfig())


@pytest.mark.parametrize('field, value, match', [
    ('steps', 0, 'steps must be a positive int, got 0'),
    ('batch_size', -4, 'batch_size must be a positive int, got -4'),
    ('width', 0, 'width must be a positive int, got 0'),
    ('chunk_size', 0, 'chunk_size must be a positive int, got 0'),
    ('score', 'best', "score must be one of .*'best'"),
    ('score_fraction', 0.0, 'score_fraction must be in'),
    ('mode', 'x', "mode must be one of .*'x'"),
])
def test_config_validation(field, value, match):
  with pytest.raises(ValueError, match=match):
    lopro.ProfileConfig(**{field: value})


def test_vmap_group_does_not_change_results():
  perms = _perms(5, 6, seed=9)
  # One vmap over a group of 8 (TINY's program on a CPU, shared with other
  # tests) against three lockstep groups of 2.
  whole = lopro.profile_orders(
      perms, 'relu', config=dataclasses.replace(TINY, vmap_group=8))
  grouped = lopro.profile_orders(
      perms, 'relu', config=dataclasses.replace(TINY, vmap_group=2))
  np.testing.assert_allclose(grouped.losses, whole.losses, rtol=1e-4)
  with pytest.raises(ValueError, match='vmap_group must be a positive int'):
    lopro.ProfileConfig(vmap_group=0)


def test_user_task_from_a_plain_python_function_is_profiled():
  task = lopro.chain_task('mulmod', lambda x, y: (x * y + 3) % 10, length=5,
                          input_range=(0, 9), target_range=(0, 9))
  prof = lopro.profile_orders(_perms(5, 3), task, config=TINY)
  assert prof.task == 'mulmod' and prof.losses.shape == (3, TINY.steps)
  assert np.all(np.isfinite(prof.scores))
  # The vocabulary follows the task's ranges: 10 input values, SEP and 10
  # targets; the first loss is near log(10) from a fresh head.
  assert abs(prof.losses[0, 0] - np.log(10)) < 0.7
