"""Tests of lopro.estimators.mixture: one model trained on a mixture of orders.

Training programs are the costly compiles (evaluation programs are cheap),
so the plumbing tests share one (``SMALL`` on relu at L=4) and the learning
tests one each for the told and the paper-literal model.
"""

import dataclasses
import math

import chex
import jax
import numpy as np
import optax
import pytest

import lopro
from lopro import orders
from lopro import scores
from lopro import train as train_lib
from lopro.estimators import mixture

from conftest import LEARNING_TRAIN

TASK = lopro.get_task('relu', 4)
SMALL = lopro.Mixture(
    train=lopro.TrainConfig(steps=20, width=16, num_heads=2, batch_size=8,
                            warmup_steps=2),
    num_checkpoints=2, num_heldout=16)
LEARNING = lopro.Mixture(train=LEARNING_TRAIN, num_checkpoints=4,
                         num_heldout=64)


def perms(num, seed=0, length=4):
  return orders.sample_orders(jax.random.key(seed), num, length)


def slot_task(length):
  """y[i] = i: the targets name their own slot, whatever the inputs."""
  return lopro.function_task('slots', lambda x: list(range(length)),
                             input_length=2, length=length,
                             input_range=(0, 1), target_range=(0, length - 1),
                             pool_size=4)


def distinct_first_slots(num, length, seed=0):
  """``num`` random orders whose first slots differ (so the first emitted
  token identifies the order among them)."""
  rows = orders.sample_orders(jax.random.key(seed), 200, length)
  _, first = np.unique(rows[:, 0], return_index=True)
  return rows[np.sort(first)[:num]]


def test_shapes_checkpoints_and_final_score():
  p = perms(5)
  seen = []
  prof = SMALL.profile(TASK, p, 0, callback=seen.append)
  chex.assert_shape(prof.losses, (5, 2))
  assert prof.losses.dtype == np.float32 and prof.scores.dtype == np.float32
  np.testing.assert_array_equal(prof.loss_steps, [10, 20])
  assert prof.loss_steps.dtype == np.int64
  # 'final' averages the last 10% of the 2 checkpoints: the last one.
  np.testing.assert_allclose(prof.scores, prof.losses[:, -1], rtol=1e-6)
  assert np.all(np.isfinite(prof.losses)) and prof.nonfinite.size == 0
  # Held-out losses are cross-entropies over relu's 46 target values,
  # lowered by 20 steps of training.
  assert np.all(prof.losses > 0)
  assert np.all(prof.losses[:, -1] < math.log(TASK.target_vocab))
  timings = prof.timings
  assert timings['order_steps'] == 20 and timings['model_reused'] is False
  assert timings['heldout_examples'] == 5 * 2 * 16
  assert np.isfinite(timings['train_loss_final'])
  assert prof.to_dict()['loss_steps'] == [10, 20]
  assert prof.estimator is SMALL
  assert [s.chunk for s in seen] == [1, 2]
  assert all(s.num_chunks == 2 and s.orders_done == 5 for s in seen)
  assert seen[-1].eta_s == 0.0


def test_same_seed_same_profile_other_seed_differs():
  p = perms(5)
  a, b = SMALL.profile(TASK, p, 0), SMALL.profile(TASK, p, 0)
  np.testing.assert_array_equal(a.losses, b.losses)
  c = SMALL.profile(TASK, p, 1)
  assert not np.allclose(a.losses, c.losses)


def test_cost_is_one_model_and_one_program_for_any_number_of_orders():
  p = perms(40, seed=1)
  p[39] = p[0]  # the same order, read by another evaluation call
  SMALL.profile(TASK, p[:3], 0)
  programs = mixture.training_programs.cache_info().misses
  evaluations = mixture.evaluation_program.cache_info().misses
  prof = SMALL.profile(TASK, p, 4)
  assert mixture.training_programs.cache_info().misses == programs
  assert mixture.evaluation_program.cache_info().misses == evaluations
  assert prof.timings['order_steps'] == 20
  assert p.shape[0] > mixture.eval_group(lopro.Runtime())
  np.testing.assert_array_equal(prof.losses[39], prof.losses[0])
  # Distinct orders get distinct losses (L=4 has 24; duplicates agree).
  assert len(np.unique(prof.scores)) == len(np.unique(p, axis=0))


@pytest.mark.parametrize('runtime', [lopro.Runtime(vmap_group=2),
                                     lopro.Runtime(vmap_group=5)])
def test_runtime_does_not_change_results(runtime):
  # The evaluation group (here 2 or 5 orders per call instead of 16, with
  # the last call padded) lays the forward passes out differently.
  p = perms(7, seed=2)
  default = SMALL.profile(TASK, p, 3)
  other = SMALL.profile(TASK, p, 3, runtime=runtime)
  np.testing.assert_allclose(other.losses, default.losses, rtol=1e-5)
  np.testing.assert_array_equal(other.ranking, default.ranking)


def test_scores_depend_on_the_batch_so_they_are_not_reusable():
  p = perms(6, seed=7)
  first = SMALL.profile(TASK, p[:3], 2)
  second = SMALL.profile(TASK, p[1:], 2)
  # Orders 1 and 2 in both batches: another mixture, another model.
  assert not np.allclose(first.scores[1:], second.scores[:2])
  assert not SMALL.reusable and not lopro.Mixture().reusable


def test_nonfinite_scores_rank_last():
  p = perms(4, seed=3)
  nan_second = lambda l: np.where(np.arange(len(l)) == 1, np.nan, l[:, -1])
  prof = dataclasses.replace(SMALL, score=nan_second).profile(TASK, p, 0)
  assert np.isposinf(prof.scores[1]) and prof.ranking[-1] == 1
  np.testing.assert_array_equal(prof.nonfinite, [1])
  assert np.all(np.isfinite(prof.scores[[0, 2, 3]]))


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
  task = slot_task(length)
  p = distinct_first_slots(k, length)
  told = LEARNING.profile(task, p, 0)
  assert np.all(told.scores < 0.02), told.scores
  assert told.timings['order_steps'] == LEARNING_TRAIN.steps
  np.testing.assert_array_equal(told.loss_steps, [50, 100, 150, 200])
  literal = dataclasses.replace(LEARNING, slot_embedding=False).profile(
      task, p, 0)
  first_slot_probs = np.exp(-length * literal.scores)
  assert abs(first_slot_probs.sum() - 1) < 0.05, first_slot_probs
  assert np.all(first_slot_probs < 0.6), first_slot_probs
  np.testing.assert_allclose(literal.scores.mean(), math.log(k) / length,
                             atol=0.03)


# ---------------------------------------------------------------------------
# The pieces.


def test_draw_orders_mixes_candidates_and_random_orders():
  length, batch = 8, 4000
  cands = np.stack([np.arange(length), np.arange(length)[::-1]]).astype(
      np.int32)
  table = np.concatenate([cands, np.zeros((2, length), np.int32)])  # padding
  key = jax.random.key(0)
  for fraction, low, high in ((0.0, 0.0, 0.0), (0.25, 0.22, 0.28),
                              (1.0, 1.0, 1.0)):
    rows = np.asarray(mixture.draw_orders(key, table, 2, batch, fraction))
    chex.assert_shape(rows, (batch, length))
    assert rows.dtype == np.int32
    # Every row is a permutation (the zero padding is never drawn).
    np.testing.assert_array_equal(np.sort(rows, axis=1),
                                  np.broadcast_to(np.arange(length),
                                                  rows.shape))
    candidate = np.any(np.all(rows[:, None] == cands[None], axis=2), axis=1)
    # A random order of 8 slots is a candidate with probability 2/8!.
    assert low <= 1 - candidate.mean() <= high, (fraction, candidate.mean())
    if fraction < 1:  # both candidates are drawn, about equally
      reverse = np.all(rows[candidate] == cands[1], axis=1)
      assert 0.45 < reverse.mean() < 0.55, reverse.mean()
  random_rows = np.asarray(mixture.draw_orders(key, table, 2, batch, 1.0))
  assert len(np.unique(random_rows, axis=0)) > 0.9 * batch
  # Every slot is equally likely in every position of a random order.
  for position in range(length):
    counts = np.bincount(random_rows[:, position], minlength=length)
    assert np.all(np.abs(counts - batch / length) < 100), counts


@pytest.mark.parametrize('slot_embedding', [True, False])
@pytest.mark.parametrize('group', [1, 5])
def test_heldout_losses_equal_each_orders_full_run(slot_embedding, group):
  # heldout_losses runs the inputs' layers once per call; each order's loss
  # is still the mean cross-entropy of the model reading the whole sequence.
  task = lopro.get_task('square19', 6)
  train = lopro.TrainConfig(num_layers=2, width=16, num_heads=2)
  init, _, heldout_losses = mixture.make_mixture_fns(task, train,
                                                     slot_embedding, 0.0)
  params = init(jax.random.key(0)).params
  inputs, targets = task.sample(jax.random.key(1), 8)
  p = perms(group, seed=2, length=6)
  model = train_lib.make_model(task, train, slot_embedding=slot_embedding)
  expected = []
  for order in p:
    order = np.broadcast_to(order, targets.shape)
    tokens, labels = train_lib.encode(task, inputs, targets, order)
    logits = model.apply({'params': params}, tokens, 6,
                         slots=order if slot_embedding else None)
    expected.append(optax.softmax_cross_entropy_with_integer_labels(
        logits, labels).mean())
  got = jax.jit(heldout_losses)(params, inputs, targets, p)
  chex.assert_shape(got, (group,))
  np.testing.assert_allclose(got, expected, rtol=1e-5)
  assert group == 1 or np.ptp(got) > 1e-4


def test_checkpoint_steps_and_segments():
  np.testing.assert_array_equal(mixture.checkpoint_steps(20, 2), [10, 20])
  np.testing.assert_array_equal(mixture.checkpoint_steps(1000, 4),
                                [250, 500, 750, 1000])
  np.testing.assert_array_equal(mixture.checkpoint_steps(10, 3), [3, 7, 10])
  np.testing.assert_array_equal(mixture.checkpoint_steps(5, 1), [5])
  assert mixture.segments(10, 3) == ((0, 3), (3, 4), (7, 3))
  assert mixture.segments(20, 2) == ((0, 10), (10, 10))
  for steps, c in ((7, 7), (100, 3), (13, 5)):
    parts = mixture.segments(steps, c)
    assert sum(n for _, n in parts) == steps and len(parts) == c
    assert all(n >= 1 for _, n in parts)


def test_pieces_cover_a_segment_in_runs_of_at_most_size():
  assert mixture.pieces(0, 2500, 1000) == ((0, 1000), (1000, 1000),
                                           (2000, 500))
  assert mixture.pieces(750, 250, 1000) == ((750, 250),)
  assert mixture.pieces(3, 7, 3) == ((3, 3), (6, 3), (9, 1))


def test_training_in_pieces_gives_the_model_of_one_run(monkeypatch):
  train = lopro.TrainConfig(steps=4, batch_size=4, width=8, num_heads=2)
  perms = np.arange(4)[None]

  def trained(num_checkpoints):
    return list(mixture.train_checkpoints(TASK, train, True, 0.5,
                                          num_checkpoints, perms, 3, 1))

  logged = []
  monkeypatch.setattr(mixture.logging, 'info',
                      lambda msg, *args: logged.append(msg % args))
  # Two checkpoints of 2 steps: one piece each, nothing logged here.
  (_, _, _), (_, params, loss) = trained(2)
  assert not logged
  # One checkpoint of 4 steps in pieces of 2 (the same compiled program):
  # the same model, with progress after steps 2 and 4.
  monkeypatch.setattr(mixture, 'PIECE_STEPS', 2)
  [(c, params2, loss2)] = trained(1)
  assert c == 0 and loss == loss2
  jax.tree.map(np.testing.assert_array_equal, params, params2)
  assert [m.split(': ')[1].split(',')[0] for m in logged] == [
      'step 2/4', 'step 4/4']


def test_capacity_and_eval_group():
  assert mixture.capacity(1, 256) == 256
  assert mixture.capacity(256, 256) == 256
  assert mixture.capacity(257, 256) == 512
  assert mixture.capacity(5040, 256) == 8192
  assert mixture.capacity(5, 4) == 8
  assert mixture.eval_group(lopro.Runtime(vmap_group=3)) == 3
  assert mixture.eval_group(lopro.Runtime(vmap_group=3), 2) == 6
  if jax.default_backend() == 'cpu':
    assert mixture.eval_group(lopro.Runtime()) == mixture.CPU_EVAL_GROUP
  else:
    assert mixture.eval_group(lopro.Runtime(chunk_size=8), 2) == 8


def test_heldout_examples_are_fixed_by_the_seed():
  x, y = mixture.heldout_examples(TASK, 16, 0)
  assert x.shape == (16, 4) and y.shape == (16, 4) and x.dtype == np.int32
  np.testing.assert_array_equal(y, TASK.targets_from_inputs(x))
  again, _ = mixture.heldout_examples(TASK, 16, 0)
  np.testing.assert_array_equal(x, again)
  assert not np.array_equal(x, mixture.heldout_examples(TASK, 16, 1)[0])


# ---------------------------------------------------------------------------
# The estimator's fields.


def test_defaults_hashable_and_equal_by_value():
  default = lopro.Mixture()
  assert (default.train.steps, default.train.batch_size) == (1000, 128)
  assert default.slot_embedding and default.num_checkpoints == 4
  assert default.num_heldout == 256 and default.random_order_fraction == 0.0
  assert default.score == scores.final()
  twin = lopro.Mixture(train=SMALL.train, num_checkpoints=2, num_heldout=16)
  assert twin == SMALL and hash(twin) == hash(SMALL)
  assert dataclasses.replace(SMALL, random_order_fraction=0.5) != SMALL


@pytest.mark.parametrize('field, value, match', [
    ('random_order_fraction', 1.0,
     r'random_order_fraction must be a number in \[0, 1\) \(1 is '
     r'lopro.Universal\(\)\), got 1.0'),
    ('random_order_fraction', 1.5, r'in \[0, 1\).*got 1.5'),
    ('random_order_fraction', -0.1, r'in \[0, 1\).*got -0.1'),
    ('random_order_fraction', True, r'in \[0, 1\).*got True'),
    ('random_order_fraction', '0.5', r"in \[0, 1\).*got '0.5'"),
    ('num_checkpoints', 0, 'Mixture.num_checkpoints must be an int >= 1, '
     'got 0'),
    ('num_checkpoints', 21, 'Mixture.num_checkpoints=21 exceeds '
     'train.steps=20'),
    ('num_heldout', 0, 'Mixture.num_heldout must be an int >= 1, got 0'),
    ('slot_embedding', 1, 'Mixture.slot_embedding must be a bool, got 1'),
    ('score', None, 'Mixture.score must be a callable'),
])
def test_bad_fields(field, value, match):
  with pytest.raises(ValueError, match=match):
    dataclasses.replace(SMALL, **{field: value})
