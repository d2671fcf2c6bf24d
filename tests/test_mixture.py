"""Tests of lopro.mixture: one model trained on a mixture of orders."""

import dataclasses
import math

import chex
import jax
import numpy as np
import pytest

import lopro
from lopro import mixture
from lopro import orders
from lopro import search

# Tiny, but enough steps to learn the identifiable task below.
TINY = lopro.ProfileConfig(mode='mixture', steps=200, width=32, num_heads=2,
                           batch_size=32, learning_rate=1e-2, warmup_steps=10,
                           num_checkpoints=4, num_heldout=64)
# Shared by the plumbing tests (one compile: relu at L=4).
SMALL = dataclasses.replace(TINY, steps=20, num_checkpoints=2)


def _slot_task(length):
  """y[i] = i: the targets name their own slot, whatever the inputs."""
  return lopro.function_task('slots', lambda x: list(range(length)),
                             input_length=2, length=length,
                             input_range=(0, 1), target_range=(0, length - 1),
                             pool_size=4)


def _distinct_first_slots(num, length, seed=0):
  """``num`` random orders whose first slots differ (so the first emitted
  token identifies the order among them)."""
  rows = orders.sample_orders(jax.random.key(seed), 200, length)
  _, first = np.unique(rows[:, 0], return_index=True)
  return rows[np.sort(first)[:num]]


def test_shapes_checkpoints_and_final_score():
  perms = orders.sample_orders(jax.random.key(0), 5, 4)
  prof = lopro.profile_orders(perms, 'relu', config=SMALL)
  dims = chex.Dimensions(O=5, C=2)
  chex.assert_shape(prof.losses, dims['OC'])
  np.testing.assert_array_equal(prof.loss_steps, [10, 20])
  # 'final' averages the last 10% of the 2 checkpoints: the last one.
  np.testing.assert_allclose(prof.scores, prof.losses[:, -1], rtol=1e-6)
  assert prof.config.mode == 'mixture' and prof.timings['order_steps'] == 20
  assert prof.to_dict()['loss_steps'] == [10, 20]
  # The mode argument overrides the config's.
  again = lopro.profile_orders(perms, 'relu', mode='mixture',
                               config=dataclasses.replace(SMALL,
                                                          mode='independent'))
  np.testing.assert_array_equal(again.losses, prof.losses)


def test_each_example_is_trained_and_read_in_its_own_order():
  # y[i] = i and k orders with distinct first slots. Told the slot it emits
  # next, the model emits every slot's id: loss ~0 for every order. Not
  # told (the paper-literal variant), it must guess the first slot among k,
  # after which the prefix identifies the order: order o's loss is
  # -log(p_o) / L, p_o the model's probability of o's first slot, and the
  # p_o of the k orders sum to 1 (each ~1/k). Either holds only if every
  # example is trained, and every order read, with labels and slots in that
  # example's own order.
  length, k = 5, 4
  task = _slot_task(length)
  perms = _distinct_first_slots(k, length)
  told = lopro.profile_orders(perms, task, config=TINY)
  assert np.all(told.scores < 0.02), told.scores
  literal = lopro.profile_orders(
      perms, task, config=dataclasses.replace(TINY, slot_embedding=False))
  first_slot_probs = np.exp(-length * literal.scores)
  assert abs(first_slot_probs.sum() - 1) < 0.05, first_slot_probs
  assert np.all(first_slot_probs < 0.6), first_slot_probs
  np.testing.assert_allclose(literal.scores.mean(), math.log(k) / length,
                             atol=0.03)


def test_cost_is_one_model_and_one_program_for_any_number_of_orders():
  perms = orders.sample_orders(jax.random.key(1), 40, 4)
  perms[39] = perms[0]  # the same order, read by another evaluation call
  lopro.profile_orders(perms[:3], 'relu', config=SMALL)
  before = len(mixture._COMPILED)
  prof = lopro.profile_orders(perms, 'relu', config=SMALL, seed=4)
  assert len(mixture._COMPILED) == before and prof.timings['compile_s'] == 0
  assert prof.timings['order_steps'] == 20
  assert perms.shape[0] > mixture.eval_group(SMALL)
  np.testing.assert_array_equal(prof.losses[39], prof.losses[0])
  # Distinct orders get distinct losses (L=4 has 24; duplicates agree).
  assert len(np.unique(prof.scores)) == len(np.unique(perms, axis=0))


def test_capacity_is_a_power_of_two_at_least_chunk_size():
  config = lopro.ProfileConfig(mode='mixture')
  assert mixture.capacity(1, config) == 256
  assert mixture.capacity(256, config) == 256
  assert mixture.capacity(257, config) == 512
  assert mixture.capacity(5040, config) == 8192


def test_nonfinite_scores_rank_last():
  perms = orders.sample_orders(jax.random.key(3), 4, 4)
  prof = lopro.profile_orders(
      perms, 'relu', config=dataclasses.replace(
          SMALL, score=lambda l: np.where(np.arange(4) == 1, np.nan, l[:, -1])))
  assert np.isinf(prof.scores[1]) and prof.ranking[-1] == 1


def test_draw_orders_mixes_candidates_and_random_orders():
  length, batch = 8, 4000
  perms = np.stack([np.arange(length), np.arange(length)[::-1]]).astype(
      np.int32)
  table = np.concatenate([perms, np.zeros((2, length), np.int32)])  # padding
  key = jax.random.key(0)
  for fraction, low, high in ((0.0, 0.0, 0.0), (0.25, 0.22, 0.28),
                              (1.0, 1.0, 1.0)):
    rows = np.asarray(mixture.draw_orders(key, table, 2, batch, fraction))
    chex.assert_shape(rows, (batch, length))
    np.testing.assert_array_equal(np.sort(rows, axis=1),
                                  np.broadcast_to(np.arange(length),
                                                  rows.shape))
    candidate = np.any(np.all(rows[:, None] == perms[None], axis=2), axis=1)
    # A random order of 8 slots is a candidate with probability 2/8!.
    assert low <= 1 - candidate.mean() <= high, (fraction, candidate.mean())
    if fraction < 1:  # both candidates are drawn (padding never: sorted)
      reverse = np.all(rows[candidate] == perms[1], axis=1)
      assert 0.45 < reverse.mean() < 0.55, reverse.mean()
  random_rows = np.asarray(mixture.draw_orders(key, table, 2, batch, 1.0))
  assert len(np.unique(random_rows, axis=0)) > 0.9 * batch


def test_universal_model_scores_do_not_depend_on_the_other_orders():
  config = dataclasses.replace(SMALL, random_order_fraction=1.0)
  assert config.universal and not SMALL.universal
  perms = orders.sample_orders(jax.random.key(7), 30, 4)
  mixture._UNIVERSAL.clear()
  first = lopro.profile_orders(perms[:3], 'relu', config=config, seed=2)
  assert not first.timings['model_reused']
  second = lopro.profile_orders(perms[1:], 'relu', config=config, seed=2)
  assert second.timings['model_reused']
  assert second.timings['order_steps'] == 0
  np.testing.assert_array_equal(second.scores[:2], first.scores[1:])
  # The kept model is the one a fresh run trains: clearing gives the same.
  mixture._UNIVERSAL.clear()
  fresh = lopro.profile_orders(perms[1:], 'relu', config=config, seed=2)
  assert not fresh.timings['model_reused']
  np.testing.assert_array_equal(fresh.scores, second.scores)
  # Another seed trains another model; the paper's mixture depends on the
  # orders it is trained with.
  other = lopro.profile_orders(perms[:3], 'relu', config=config, seed=3)
  assert not other.timings['model_reused']
  assert not np.array_equal(other.scores, first.scores)
  paper = [lopro.profile_orders(p, 'relu', config=SMALL, seed=2).scores
           for p in (perms[:3], perms[1:])]
  assert not np.array_equal(paper[0][1:], paper[1][:2])


def test_universal_search_trains_once_and_reuses_scores():
  config = dataclasses.replace(SMALL, random_order_fraction=1.0)
  mixture._UNIVERSAL.clear()
  result = lopro.search_order('relu', length=4, seed=0, profile_config=config)
  assert sorted(result.order.tolist()) == [0, 1, 2, 3]
  assert len(mixture._UNIVERSAL) == 1
  assert sum(r.num_reused for r in result.history) > 0


@pytest.mark.parametrize('field, value, match', [
    ('random_order_fraction', 1.5,
     r'random_order_fraction must be a number in \[0, 1\], got 1.5'),
    ('random_order_fraction', True,
     r'random_order_fraction must be a number in \[0, 1\], got True'),
    ('num_checkpoints', 0, 'num_checkpoints must be an int >= 1, got 0'),
    ('num_checkpoints', 500, 'num_checkpoints=500 exceeds steps=200'),
    ('num_heldout', 0, 'num_heldout must be an int >= 1, got 0'),
    ('slot_embedding', 1, 'slot_embedding must be a bool, got 1'),
    ('schedule', 'halving', "halving' works in mode='independent' only"),
])
def test_bad_config(field, value, match):
  with pytest.raises(ValueError, match=match):
    dataclasses.replace(TINY, **{field: value})
  with pytest.raises(ValueError, match="random_order_fraction applies to "
                     "mode='mixture' only, got mode='independent'"):
    lopro.ProfileConfig(random_order_fraction=0.5)


@pytest.mark.parametrize('method', ['hierarchical', 'random', 'evolution',
                                    'exhaustive'])
def test_every_search_method_runs_in_mixture_mode(method):
  result = lopro.search_order(
      'relu', length=4, method=method, seed=0, profile_config=SMALL,
      config=search.SearchConfig(budget=30 if method != 'hierarchical'
                                 else None))
  assert sorted(result.order.tolist()) == [0, 1, 2, 3]
  # A mixture score depends on the orders trained with it: none is reused.
  assert all(r.num_reused == 0 for r in result.history)
  assert result.num_profiled == sum(len(r.candidates)
                                    for r in result.history)


def test_hybrid_search_profiles_small_runs_independently_and_reuses_them():
  small = lopro.ProfileConfig(steps=8, width=16, batch_size=8, warmup_steps=2)
  result = lopro.search_order(
      'relu', length=4, seed=0, profile_config=SMALL,
      small_profile_config=small, small_below=10)
  assert sorted(result.order.tolist()) == [0, 1, 2, 3]
  big = [r for r in result.history if len(r.candidates) >= 10]
  few = [r for r in result.history if len(r.candidates) < 10]
  assert big and few
  # Mixture runs are never reused; independent runs reuse known scores.
  assert all(r.num_reused == 0 for r in big)
  assert sum(r.num_reused for r in few) > 0
  with pytest.raises(ValueError, match='small_below must be an int >= 0'):
    lopro.search_order('relu', length=4, small_below=-1)


def test_hybrid_with_universal_mixture_keeps_the_two_profilers_apart():
  # Both profilers' scores are reusable, but never across profilers: every
  # small run's scores are the independent profiler's, every large run's
  # the universal model's (each order's score depends on neither the
  # other orders nor the run, with common random numbers).
  small = lopro.ProfileConfig(steps=8, width=16, batch_size=8, warmup_steps=2)
  universal = dataclasses.replace(SMALL, random_order_fraction=1.0)
  result = lopro.search_order(
      'relu', length=4, seed=0, profile_config=universal,
      small_profile_config=small, small_below=10)
  big = [r for r in result.history if len(r.candidates) >= 10]
  few = [r for r in result.history if len(r.candidates) < 10]
  assert big and few
  for runs, config in ((big, universal), (few, small)):
    perms = np.concatenate([r.candidates for r in runs])
    scores = np.concatenate([r.scores for r in runs])
    np.testing.assert_allclose(
        scores, lopro.profile_orders(perms, 'relu', config=config,
                                     seed=0).scores, rtol=1e-6)
  # Orders scored in both kinds of run were profiled by both.
  assert sum(r.num_reused for r in result.history) > 0


def test_refine_rounds_score_one_model_per_order_averaged_over_seeds():
  small = lopro.ProfileConfig(steps=8, width=16, batch_size=8, warmup_steps=2)
  universal = dataclasses.replace(SMALL, random_order_fraction=1.0)
  result = lopro.search_order(
      'relu', length=4, seed=5, profile_config=universal,
      config=search.SearchConfig(refine_rounds=2),
      refine_profile_config=small, refine_seeds=2)
  refine = [r for r in result.history if r.name.startswith('refine')]
  assert refine
  perms = np.concatenate([r.candidates for r in refine])
  expected = np.mean([lopro.profile_orders(perms, 'relu', config=small,
                                           seed=s).scores for s in (5, 6)],
                     axis=0)
  np.testing.assert_allclose(np.concatenate([r.scores for r in refine]),
                             expected, rtol=1e-6)
  assert result.score == refine[-1].best_score
  with pytest.raises(ValueError, match='refine_seeds must be an int >= 1'):
    lopro.search_order('relu', length=4, refine_seeds=0)
  with pytest.raises(ValueError, match='must not be a population-dependent'):
    lopro.search_order('relu', length=4, refine_profile_config=SMALL)
