"""Tests of lopro.halving: successive-halving loss profiles.

Compiles dominate the run time (10-20 s each on a busy 2-core CPU), so every
halving profile here shares one compiled program (one task, train config,
chunk shape and s = 1), and one vmapped ``make_train`` of all 13 steps is the
reference for every order.
"""

import dataclasses
import functools

import jax
import numpy as np
import pytest

import lopro
from lopro import halving as halving_lib
from lopro import orders

# Tiny. steps=13 gives s = 1 for eta=3 (rungs of 1, 3, 9 steps: 13 in all)
# and for eta=2 (1, 2, 4: 7 in all). A linear decay makes the learning-rate
# horizon (config.steps) matter. Chunks of 4 orders in groups of 2, fixed on
# every backend, so 9 orders take 3 chunks and every rung is re-packed.
HALVING = lopro.ProfileConfig(
    steps=13, width=16, num_heads=2, batch_size=8, warmup_steps=2,
    lr_schedule='linear', chunk_size=4, vmap_group=2, schedule='halving',
    eta=3, rungs=3)
NUM_ORDERS = 9
LENGTH = 5
SEED = 3


def _perms(num=NUM_ORDERS, seed=0):
  return orders.sample_orders(jax.random.key(seed), num, LENGTH)


def _ends(config):
  """Steps trained after each rung."""
  return np.cumsum([steps for _, steps in config.halving_plan(1)])


def _halving(eta=3, crn=True):
  """(halving profile of _perms(), its Progress reports), made once."""
  return _cached_halving(eta, crn)


@functools.cache
def _cached_halving(eta, crn):
  config = dataclasses.replace(HALVING, eta=eta, common_random_numbers=crn)
  seen = []
  prof = lopro.profile_orders(_perms(), 'relu', config=config, seed=SEED,
                              callback=seen.append)
  return prof, seen


def _reference(crn=True):
  """float32[O, 13]: each order trained alone for all 13 steps, in one vmap
  of ``make_train``, keyed as profile_orders keys independent orders."""
  key = jax.random.key(SEED)
  keys = jax.vmap(lambda i: key if crn else jax.random.fold_in(key, i))(
      np.arange(NUM_ORDERS))
  return np.asarray(_reference_train()(keys, _perms()))


@functools.cache
def _reference_train():
  """The compiled ``vmap(make_train)`` over (keys [O], orders [O, L]).

  It is compiled without backend optimisation (7 s rather than 19 s on a
  busy CPU; the same numbers to float32 precision here).
  """
  task = lopro.get_task('relu', length=LENGTH)
  train_config = lopro.TrainConfig(**{
      f.name: getattr(HALVING, f.name)
      for f in dataclasses.fields(lopro.TrainConfig)})
  keys = jax.random.split(jax.random.key(0), NUM_ORDERS)
  return jax.jit(jax.vmap(lopro.make_train(task, train_config))).lower(
      keys, _perms()).compile({'xla_backend_optimization_level': 0})


@pytest.mark.parametrize('eta', [3, 2])
def test_rung_sizes_steps_and_shapes(eta):
  prof, _ = _halving(eta=eta)
  config = prof.config
  plan = config.halving_plan(NUM_ORDERS)
  for r in range(config.rungs):
    assert (prof.rung >= r).sum() == -(-NUM_ORDERS // eta ** r) == plan[r][0]
  ends = _ends(config)
  total = int(ends[-1])
  assert total == (13 if eta == 3 else 7)
  assert prof.losses.shape == (NUM_ORDERS, total)
  assert prof.losses.dtype == np.float32 and prof.scores.dtype == np.float32
  assert prof.rung.dtype == np.int64 and prof.ranking.dtype == np.int64
  np.testing.assert_array_equal(prof.loss_steps, np.arange(1, total + 1))
  trained = ends[prof.rung]
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


@pytest.mark.parametrize('eta, crn', [(3, True), (2, True), (3, False)])
def test_survivors_continue_their_runs_rather_than_restart(eta, crn):
  prof, _ = _halving(eta=eta, crn=crn)
  reference = _reference(crn=crn)
  trained = _ends(prof.config)[prof.rung]
  # Every order's curve is the prefix of its uninterrupted 13-step run; with
  # eta=3 the last survivor's is the whole run.
  for h, f, t in zip(prof.losses, reference, trained):
    np.testing.assert_allclose(h[:t], f[:t], rtol=1e-4, atol=1e-6)
  if eta == 3:
    assert trained.max() == reference.shape[1]
  if not crn:
    # Keyed by the order's index in perms, not its place in a chunk: the
    # streams differ from the common ones.
    assert not np.allclose(prof.losses[:, 0], _halving()[0].losses[:, 0])


@pytest.mark.parametrize('eta', [3, 2])
def test_ranking_puts_last_rung_first_and_keeps_eliminated_scores(eta):
  prof, _ = _halving(eta=eta)
  reference = _reference()
  ends = _ends(prof.config)
  ranked_rungs = prof.rung[prof.ranking]
  assert np.all(np.diff(ranked_rungs) <= 0)
  assert ranked_rungs[0] == prof.config.rungs - 1
  assert np.all(np.isfinite(prof.scores)) and prof.nonfinite.size == 0
  for r in range(prof.config.rungs):
    in_rung = prof.ranking[ranked_rungs == r]
    assert np.all(np.diff(prof.scores[in_rung]) >= 0)
    # Each order keeps the configured score of its trained prefix.
    expected = lopro.score_losses(reference[in_rung, :ends[r]], 'final', 0.1)
    np.testing.assert_allclose(prof.scores[in_rung], expected, rtol=1e-4)
  # The survivors of rung r were the best of rung r - 1 by its scores.
  for r in range(1, prof.config.rungs):
    reached = np.flatnonzero(prof.rung >= r - 1)
    prefix = lopro.score_losses(reference[reached, :ends[r - 1]])
    kept = (prof.rung >= r).sum()
    best = reached[np.argsort(prefix, kind='stable')[:kept]]
    np.testing.assert_array_equal(np.sort(best),
                                  np.flatnonzero(prof.rung >= r))
  np.testing.assert_array_equal(prof.best, prof.perms[prof.ranking[0]])


def test_progress_per_chunk_and_one_program_for_every_rung_and_size():
  prof, seen = _halving(eta=2)
  # 9, 5 and 3 orders in chunks of 4: 3 + 2 + 1 chunks, 17 order-runs.
  assert [p.chunk for p in seen] == [1, 2, 3, 4, 5, 6]
  assert all(p.num_chunks == 6 and p.num_orders == 17 for p in seen)
  assert [p.orders_done for p in seen] == [4, 8, 9, 13, 14, 17]
  assert seen[-1].eta_s == 0.0 and all(p.orders_per_s > 0 for p in seen)
  # eta=3 was compiled first or reuses it; either way both share a program,
  # as do another size, seed and CRN setting.
  first = min(_halving()[0].timings['compile_s'], prof.timings['compile_s'])
  assert first == 0.0
  again = lopro.profile_orders(
      _perms(6, seed=1), 'relu', seed=5,
      config=dataclasses.replace(HALVING, common_random_numbers=False))
  assert again.timings['compile_s'] == 0.0
  assert [(again.rung >= r).sum() for r in range(3)] == [6, 2, 1]


def test_bad_configs_rejected():
  with pytest.raises(ValueError, match="schedule='halving' works in "
                     "mode='independent' only, got mode='mixture'"):
    dataclasses.replace(HALVING, mode='mixture')
  with pytest.raises(ValueError, match='steps=12 is too few for 3 rungs '
                     'with eta=3'):
    dataclasses.replace(HALVING, steps=12)
  with pytest.raises(ValueError, match='eta must be an int >= 2, got 1'):
    dataclasses.replace(HALVING, eta=1)


def nan_for_first_row(losses):
  """The 'final' score, but NaN for the first row."""
  scores = losses[:, -1].copy()
  scores[0] = np.nan
  return scores


def test_nan_score_gets_inf_and_ranks_last_without_raising():
  config = dataclasses.replace(HALVING, score=nan_for_first_row)
  prof = lopro.profile_orders(_perms(), 'relu', config=config, seed=SEED)
  # In every rung the lowest-index order still in scores NaN: it gets +inf
  # and is eliminated (in the last rung, ranked below the finite ones).
  for r in range(config.rungs):
    first = np.flatnonzero(prof.rung >= r)[0]
    assert np.isposinf(prof.scores[first])
    if r < config.rungs - 1:
      assert prof.rung[first] == r
  assert prof.nonfinite.size == 0  # their losses were finite
  ranked = prof.scores[prof.ranking]
  assert np.all(np.isfinite(ranked[:-config.rungs]))
  assert np.all(np.isposinf(ranked[-config.rungs:]))
  assert prof.ranking[-1] == 0  # the earliest rung of the non-finite last


def test_nonfinite_losses_counted_on_trained_prefix_and_ranked_last():
  nan = np.nan
  losses = np.array([[2.0, nan, nan, nan],     # rung 0, finite
                     [1.0, 1.0, 0.5, 0.4],     # rung 1
                     [1.0, np.inf, nan, nan],  # rung 1, diverged
                     [nan, nan, nan, nan],     # rung 0, diverged
                     [1.0, 0.9, 0.3, 0.2]],    # rung 1
                    np.float32)
  trained = np.array([1, 4, 4, 1, 4])
  np.testing.assert_array_equal(halving_lib._nonfinite(losses, trained),
                                [2, 3])
  scores = np.array([2.0, 0.4, np.inf, np.inf, 0.2], np.float32)
  rung = np.array([0, 1, 1, 0, 1])
  np.testing.assert_array_equal(halving_lib._rank(scores, rung),
                                [4, 1, 0, 2, 3])
  # NaN scores count as +inf.
  scores[1] = np.nan
  np.testing.assert_array_equal(halving_lib._rank(scores, rung),
                                [4, 0, 1, 2, 3])
