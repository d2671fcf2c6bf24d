"""Tests of lopro.estimators.universal: one any-order model, trained once
per (task, training run, seed) and reused by every profile."""

import dataclasses
import time

import jax
import numpy as np
import pytest

import lopro
from lopro import orders
from lopro import scores
from lopro.estimators import mixture
from lopro.estimators import universal

TASK = lopro.get_task('relu', 4)
TRAIN = lopro.TrainConfig(steps=20, width=16, num_heads=2, batch_size=8,
                          warmup_steps=2)
UNIVERSAL = lopro.Universal(train=TRAIN, num_checkpoints=2, num_heldout=16)
SEED = 2


def perms(num, seed=0):
  return orders.sample_orders(jax.random.key(seed), num, 4)


def test_second_profile_trains_nothing_and_scores_orders_the_same():
  p = perms(30, seed=7)
  first = UNIVERSAL.profile(TASK, p[:3], SEED)
  assert first.timings['order_steps'] == (
      0 if first.timings['model_reused'] else TRAIN.steps)
  programs = mixture.training_programs.cache_info()
  second = UNIVERSAL.profile(TASK, p[1:], SEED)
  assert second.timings['model_reused'] is True
  assert second.timings['order_steps'] == 0
  # Nothing was compiled or trained for it.
  after = mixture.training_programs.cache_info()
  assert (after.hits, after.misses) == (programs.hits, programs.misses)
  # Orders 1 and 2 score the same in both batches, at another position and
  # in another evaluation call (29 orders take two calls of 16).
  np.testing.assert_allclose(second.losses[:2], first.losses[1:], rtol=1e-6)
  np.testing.assert_array_equal(second.loss_steps, [10, 20])
  assert second.losses.shape == (29, 2)
  np.testing.assert_allclose(second.scores, second.losses[:, -1], rtol=1e-6)
  reversed_batch = UNIVERSAL.profile(TASK, p[::-1], SEED)
  np.testing.assert_allclose(reversed_batch.losses[::-1][1:], second.losses,
                             rtol=1e-6)


def test_an_order_alone_scores_as_in_a_batch():
  p = perms(5, seed=8)
  together = UNIVERSAL.profile(TASK, p, SEED)
  for i, perm in enumerate(p):
    alone = UNIVERSAL.profile(TASK, perm[None], SEED)
    assert alone.timings['model_reused']
    np.testing.assert_allclose(alone.losses[0], together.losses[i], rtol=1e-6)


def test_runtime_does_not_change_results():
  p = perms(9, seed=9)
  default = UNIVERSAL.profile(TASK, p, SEED)
  for runtime in (lopro.Runtime(chunk_size=4, vmap_group=2),
                  lopro.Runtime(chunk_size=1, vmap_group=4)):
    other = UNIVERSAL.profile(TASK, p, SEED, runtime=runtime)
    assert other.timings['model_reused']
    np.testing.assert_allclose(other.losses, default.losses, rtol=1e-5)


def test_kept_model_is_the_one_a_fresh_run_trains():
  kept = universal.trained_model(TASK, TRAIN, 2, SEED)
  assert [c for c, _, _ in kept] == [0, 1]
  fresh = list(mixture.train_checkpoints(TASK, TRAIN, True, 1.0, 2,
                                         np.arange(4)[None], SEED, 1))
  # The kept run is cut at 12 checkpoints, the fresh one at 2: different
  # programs, equal up to float rounding (XLA may fuse them differently).
  # Not the attention's key bias: softmax ignores it, so its gradient is
  # rounding noise, which Adam scales up to the learning rate.
  for (c, params, loss), (c2, params2, loss2) in zip(kept, fresh):
    assert c == c2 and loss == pytest.approx(loss2, rel=1e-6)
    for (path, a), b in zip(jax.tree_util.tree_leaves_with_path(params),
                            jax.tree.leaves(params2)):
      if "['key']['bias']" not in jax.tree_util.keystr(path):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
  hits = universal.training_run.cache_info().hits
  again = universal.trained_model(TASK, TRAIN, 2, SEED)
  assert universal.training_run.cache_info().hits == hits + 1
  assert all(p is q for (_, p, _), (_, q, _) in zip(again, kept))


def test_checkpoint_counts_that_divide_the_kept_points_share_one_run():
  train = dataclasses.replace(TRAIN, steps=24)
  ends = universal.trained_model(TASK, train, 1, SEED + 7)
  runs = universal.training_run.cache_info()
  # 3 and 12 checkpoints read the same run: nothing is trained again.
  for count, steps in ((3, [8, 16, 24]), (12, list(range(2, 25, 2)))):
    curve = universal.trained_model(TASK, train, count, SEED + 7)
    assert [c for c, _, _ in curve] == list(range(count))
    np.testing.assert_array_equal(
        mixture.checkpoint_steps(train.steps, count), steps)
    jax.tree.map(np.testing.assert_array_equal, curve[-1][1], ends[0][1])
  assert universal.training_run.cache_info().misses == runs.misses
  # 5 checkpoints (steps 5, 10, 14, 19, 24) are not kept: a run of their
  # own, whose end is the shared run's end (data follow the global step).
  own = universal.own_run.cache_info().misses
  five = universal.trained_model(TASK, train, 5, SEED + 7)
  assert universal.own_run.cache_info().misses == own + 1
  assert len(five) == 5
  jax.tree.map(np.testing.assert_array_equal, five[-1][1], ends[0][1])


def test_another_seed_trains_another_model_the_score_does_not():
  p = perms(4, seed=10)
  base = UNIVERSAL.profile(TASK, p, SEED)
  other_seed = UNIVERSAL.profile(TASK, p, SEED + 1)
  assert not np.allclose(other_seed.scores, base.scores)
  # The held-out set and score are not part of the model: a Universal that
  # differs only there reuses it.
  hits = universal.training_run.cache_info().hits
  auc = dataclasses.replace(UNIVERSAL, score=scores.auc())
  prof = auc.profile(TASK, p, SEED)
  assert prof.timings['model_reused']
  assert universal.training_run.cache_info().hits == hits + 1
  np.testing.assert_allclose(prof.scores, base.losses.mean(axis=1),
                             rtol=1e-6)


def test_timings_of_a_first_profile_include_its_training():
  # A seed no other test uses, so the model is trained in this call.
  orders = perms(2)
  start = time.perf_counter()
  prof = UNIVERSAL.profile(TASK, orders, 1234)
  wall = time.perf_counter() - start
  assert not prof.timings['model_reused'] and prof.timings['train_s'] > 0
  assert wall >= prof.timings['total_s'] >= prof.timings['train_s'] + (
      prof.timings['run_s'])
  assert prof.timings['total_s'] >= 0.5 * wall
  again = UNIVERSAL.profile(TASK, orders, 1234)
  assert again.timings['model_reused'] and again.timings['train_s'] == 0


def test_defaults_reusable_hashable_and_equal_by_value():
  default = lopro.Universal()
  assert (default.train.steps, default.train.batch_size) == (3000, 128)
  assert default.num_checkpoints == 1 and default.num_heldout == 128
  assert default.score == scores.final()
  assert default.reusable and UNIVERSAL.reusable
  twin = lopro.Universal(train=dataclasses.replace(TRAIN),
                         num_checkpoints=2, num_heldout=16)
  assert twin == UNIVERSAL and hash(twin) == hash(UNIVERSAL)
  assert dataclasses.replace(UNIVERSAL, num_heldout=8) != UNIVERSAL
  assert not hasattr(default, 'random_order_fraction')


@pytest.mark.parametrize('field, value, match', [
    ('num_checkpoints', 0, 'Universal.num_checkpoints must be an int >= 1, '
     'got 0'),
    ('num_checkpoints', 21, 'Universal.num_checkpoints=21 exceeds '
     'train.steps=20'),
    ('num_heldout', -1, 'Universal.num_heldout must be an int >= 1, got -1'),
    ('num_heldout', 2.0, r'Universal.num_heldout must be an int >= 1, '
     r'got 2\.0'),
    ('train', 'big', 'Universal.train must be a lopro.TrainConfig, got str'),
])
def test_bad_fields(field, value, match):
  with pytest.raises(ValueError, match=match):
    dataclasses.replace(UNIVERSAL, **{field: value})
