"""Tests of lopro.estimators.halving: successive-halving loss profiles.

Compiles dominate the run time, so every halving profile here shares one
pair of compiled programs (one task, train config, chunk shape and s = 1),
and one vmapped ``make_train`` of all 13 steps is the reference for every
order.
"""

import dataclasses
import functools

import jax
import numpy as np
import pytest

import lopro
from lopro import orders
from lopro import scores
from lopro.estimators import halving as halving_lib

# steps=13 gives s = 1 for eta=3 (rungs of 1, 3, 9 steps: 13 in all) and for
# eta=2 (1, 2, 4: 7 in all). A linear decay makes the learning-rate horizon
# (train.steps) matter.
TRAIN = lopro.TrainConfig(steps=13, width=16, num_heads=2, batch_size=8,
                          warmup_steps=2, lr_schedule='linear')
HALVING = lopro.Halving(train=TRAIN, eta=3, rungs=3)
# Chunks of 4 orders in groups of 2 on every backend, so 9 orders take 3
# chunks and every rung is re-packed.
RUNTIME = lopro.Runtime(chunk_size=4, vmap_group=2)
NUM_ORDERS = 9
LENGTH = 5
SEED = 3
TASK = lopro.get_task('relu', LENGTH)


def perms(num=NUM_ORDERS, seed=0):
  return orders.sample_orders(jax.random.key(seed), num, LENGTH)


def ends(estimator):
  """Steps trained after each rung."""
  return np.cumsum([steps for _, steps in estimator.plan(1)])


@functools.cache
def halving(eta=3, crn=True):
  """(the halving profile of perms(), its Progress reports), made once."""
  estimator = dataclasses.replace(HALVING, eta=eta,
                                  common_random_numbers=crn)
  seen = []
  prof = estimator.profile(TASK, perms(), SEED, callback=seen.append,
                           runtime=RUNTIME)
  return prof, seen


def reference(crn=True):
  """float32[O, 13]: each order trained alone for all 13 steps, in one vmap
  of ``make_train``, keyed as Halving keys its orders."""
  key = jax.random.key(SEED)
  keys = jax.vmap(lambda i: key if crn else jax.random.fold_in(key, i))(
      np.arange(NUM_ORDERS))
  return np.asarray(reference_train()(keys, perms()))


@functools.cache
def reference_train():
  """The compiled ``vmap(make_train)`` over (keys [O], orders [O, L]),
  without backend optimisation (faster to compile; the same numbers to
  float32 precision here)."""
  keys = jax.random.split(jax.random.key(0), NUM_ORDERS)
  return jax.jit(jax.vmap(lopro.make_train(TASK, TRAIN))).lower(
      keys, perms()).compile({'xla_backend_optimization_level': 0})


def test_plan_and_base_steps():
  assert HALVING.base_steps == 1
  assert HALVING.plan(9) == [(9, 1), (3, 3), (1, 9)]
  assert HALVING.plan(10) == [(10, 1), (4, 3), (2, 9)]
  assert HALVING.plan(1) == [(1, 1), (1, 3), (1, 9)]
  two = dataclasses.replace(HALVING, eta=2)
  assert two.base_steps == 1 and two.plan(9) == [(9, 1), (5, 2), (3, 4)]
  default = lopro.Halving()  # 300 steps, eta 2, 4 rungs: s = 300 // 15
  assert default.base_steps == 20
  assert default.plan(16) == [(16, 20), (8, 40), (4, 80), (2, 160)]
  one = lopro.Halving(train=TRAIN, rungs=1)
  assert one.base_steps == 13 and one.plan(5) == [(5, 13)]


@pytest.mark.parametrize('eta', [3, 2])
def test_rung_sizes_steps_and_shapes(eta):
  prof, _ = halving(eta=eta)
  estimator = prof.estimator
  plan = estimator.plan(NUM_ORDERS)
  for r in range(estimator.rungs):
    assert (prof.rung >= r).sum() == -(-NUM_ORDERS // eta ** r) == plan[r][0]
  total = int(ends(estimator)[-1])
  assert total == (13 if eta == 3 else 7)
  assert prof.losses.shape == (NUM_ORDERS, total)
  assert prof.losses.dtype == np.float32 and prof.scores.dtype == np.float32
  assert prof.rung.dtype == np.int64 and prof.ranking.dtype == np.int64
  np.testing.assert_array_equal(prof.loss_steps, np.arange(1, total + 1))
  trained = ends(estimator)[prof.rung]
  for row, t in zip(prof.losses, trained):
    assert np.all(np.isfinite(row[:t])) and np.all(np.isnan(row[t:]))
  # eta=3: 9*1 + 3*3 + 1*9; eta=2: 9*1 + 5*2 + 3*4.
  assert prof.timings['order_steps'] == trained.sum() == (
      27 if eta == 3 else 31)
  for name in ('compile_s', 'run_s', 'total_s', 'orders_per_s',
               'order_steps_per_s'):
    assert prof.timings[name] >= 0
  np.testing.assert_array_equal(np.sort(prof.ranking), np.arange(NUM_ORDERS))
  assert prof.to_dict()['rung'] == prof.rung.tolist()
  assert prof.nonfinite.size == 0  # NaN after an order's last rung is not


@pytest.mark.parametrize('eta, crn', [(3, True), (2, True), (3, False)])
def test_survivors_equal_uninterrupted_runs(eta, crn):
  prof, _ = halving(eta=eta, crn=crn)
  expected = reference(crn=crn)
  trained = ends(prof.estimator)[prof.rung]
  # Every order's curve is the prefix of its uninterrupted 13-step run; with
  # eta=3 the last survivor's is the whole run.
  for h, f, t in zip(prof.losses, expected, trained):
    np.testing.assert_allclose(h[:t], f[:t], rtol=1e-4, atol=1e-6)
  if eta == 3:
    assert trained.max() == expected.shape[1]
  if not crn:
    # Keyed by the order's index in perms, not its place in a chunk: the
    # streams differ from the common ones.
    assert not np.allclose(prof.losses[:, 0], halving()[0].losses[:, 0])


@pytest.mark.parametrize('eta', [3, 2])
def test_ranking_puts_last_rung_first_and_keeps_eliminated_scores(eta):
  prof, _ = halving(eta=eta)
  expected = reference()
  rung_ends = ends(prof.estimator)
  ranked_rungs = prof.rung[prof.ranking]
  assert np.all(np.diff(ranked_rungs) <= 0)
  assert ranked_rungs[0] == prof.estimator.rungs - 1
  assert np.all(np.isfinite(prof.scores))
  for r in range(prof.estimator.rungs):
    in_rung = prof.ranking[ranked_rungs == r]
    assert np.all(np.diff(prof.scores[in_rung]) >= 0)
    # Each order keeps the score of its trained prefix.
    np.testing.assert_allclose(
        prof.scores[in_rung],
        scores.score_losses(expected[in_rung, :rung_ends[r]], scores.final()),
        rtol=1e-4)
  # The survivors of rung r were the best of rung r - 1 by its scores.
  for r in range(1, prof.estimator.rungs):
    reached = np.flatnonzero(prof.rung >= r - 1)
    prefix = scores.score_losses(expected[reached, :rung_ends[r - 1]],
                                 scores.final())
    kept = (prof.rung >= r).sum()
    best = reached[np.argsort(prefix, kind='stable')[:kept]]
    np.testing.assert_array_equal(np.sort(best),
                                  np.flatnonzero(prof.rung >= r))
  np.testing.assert_array_equal(prof.best, prof.perms[prof.ranking[0]])


def test_progress_per_chunk_and_one_program_for_every_rung_and_size():
  prof, seen = halving(eta=2)
  # 9, 5 and 3 orders in chunks of 4: 3 + 2 + 1 chunks, 17 order-runs.
  assert [p.chunk for p in seen] == [1, 2, 3, 4, 5, 6]
  assert all(p.num_chunks == 6 and p.num_orders == 17 for p in seen)
  assert [p.orders_done for p in seen] == [4, 8, 9, 13, 14, 17]
  assert seen[-1].eta_s == 0.0 and all(p.orders_per_s > 0 for p in seen)
  halving()
  # Every rung, eta, size, seed and CRN setting shares one pair of programs.
  misses = halving_lib._compiled_programs.cache_info().misses
  again = dataclasses.replace(HALVING, common_random_numbers=False).profile(
      TASK, perms(6, seed=1), 5, runtime=RUNTIME)
  assert halving_lib._compiled_programs.cache_info().misses == misses
  assert [(again.rung >= r).sum() for r in range(3)] == [6, 2, 1]


def nan_for_first_row(losses):
  """The 'final' score, but NaN for the first row."""
  out = losses[:, -1].copy()
  out[0] = np.nan
  return out


def test_nan_score_gets_inf_is_eliminated_and_ranks_last():
  estimator = dataclasses.replace(HALVING, score=nan_for_first_row)
  prof = estimator.profile(TASK, perms(), SEED, runtime=RUNTIME)
  # In every rung the lowest-index order still in scores NaN: it gets +inf
  # and is eliminated (in the last rung, ranked below the finite ones).
  for r in range(estimator.rungs):
    first = np.flatnonzero(prof.rung >= r)[0]
    assert np.isposinf(prof.scores[first])
    if r < estimator.rungs - 1:
      assert prof.rung[first] == r
  ranked = prof.scores[prof.ranking]
  assert np.all(np.isfinite(ranked[:-estimator.rungs]))
  assert np.all(np.isposinf(ranked[-estimator.rungs:]))
  assert prof.ranking[-1] == 0  # the earliest rung of the non-finite last
  np.testing.assert_array_equal(np.sort(prof.nonfinite),
                                np.flatnonzero(np.isposinf(prof.scores)))


def test_rank_orders_finite_scores_by_later_rung_then_score():
  scores_ = np.array([2.0, 0.4, np.inf, np.inf, 0.2], np.float32)
  rung = np.array([0, 1, 1, 0, 1])
  np.testing.assert_array_equal(halving_lib._rank(scores_, rung),
                                [4, 1, 0, 2, 3])
  # NaN scores count as +inf.
  scores_[1] = np.nan
  np.testing.assert_array_equal(halving_lib._rank(scores_, rung),
                                [4, 0, 1, 2, 3])
  # Ties keep index order.
  np.testing.assert_array_equal(
      halving_lib._rank(np.ones(4, np.float32), np.array([1, 0, 1, 0])),
      [0, 2, 1, 3])


@pytest.mark.parametrize('kwargs, match', [
    (dict(train=dataclasses.replace(TRAIN, steps=12)),
     'train.steps=12 is too few for 3 rungs with eta=3: the first rung needs '
     r'steps // 13 >= 1'),
    (dict(eta=1), 'Halving.eta must be an int >= 2, got 1'),
    (dict(eta=2.5), r'Halving.eta must be an int >= 2, got 2\.5'),
    (dict(rungs=0), 'Halving.rungs must be an int >= 1, got 0'),
    (dict(common_random_numbers=None),
     'Halving.common_random_numbers must be a bool, got None'),
    (dict(score='final'), 'Halving.score must be a callable'),
])
def test_bad_fields(kwargs, match):
  with pytest.raises(ValueError, match=match):
    dataclasses.replace(HALVING, **kwargs)


def test_not_reusable_hashable_and_equal_by_value():
  assert not HALVING.reusable and not lopro.Halving().reusable
  twin = lopro.Halving(train=dataclasses.replace(TRAIN), eta=3, rungs=3)
  assert twin == HALVING and hash(twin) == hash(HALVING)
  assert dataclasses.replace(HALVING, eta=2) != HALVING
