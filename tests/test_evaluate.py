"""Tests of lopro.evaluate: decoding, mapping back, the held-out set, configs
and tiny end-to-end evaluations."""

import dataclasses
import functools
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lopro
from lopro import evaluate
from lopro import train as train_lib

from conftest import TINY_EVAL

PERMS4 = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])
TASK4 = lopro.get_task('relu', 4)


def oracle_logits_fn(task, order, vocab):
  """A 'model' that is given the answer: one-hot logits of y[order]."""
  def logits_fn(tokens):
    inputs = tokens[:, :task.input_length] + task.input_range[0]
    targets = task.targets_from_inputs(inputs)
    labels = jnp.take(targets, order, axis=-1) - task.target_range[0]
    return jax.nn.one_hot(labels, vocab) * 10.0
  return logits_fn


# ---------------------------------------------------------------------------
# Decoding and scoring.


@pytest.mark.parametrize('order', [[0, 1, 2, 3, 4, 5], [5, 3, 1, 0, 2, 4]])
def test_oracle_model_succeeds_on_every_example(order):
  task = lopro.get_task('square19', 6)
  order = np.array(order)
  inputs, targets = task.sample(jax.random.key(0), 300)
  generated = evaluate.greedy_decode(
      oracle_logits_fn(task, order, task.target_vocab), task, inputs, order)
  # Generation order: the decoded row is y[order].
  np.testing.assert_array_equal(generated, np.asarray(targets)[:, order])
  success, accuracy = evaluate.exact_match(generated, targets, order)
  assert float(success) == 1.0
  np.testing.assert_array_equal(accuracy, np.ones(6))


def test_decoding_feeds_back_its_own_tokens():
  # A model that outputs its previous output + 1: position t sees the token
  # written for t-1, so outputs count up 0, 1, 2, 3.
  task = TASK4
  lo = task.target_range[0]

  def count_up(tokens):
    n = tokens.shape[0]
    prev = tokens[:, task.input_length:]  # SEP, y_0, y_1, y_2 tokens
    previous_value = prev - task.input_vocab - 1 + lo
    value = jnp.where(prev == task.input_vocab, 0, previous_value + 1)
    return jax.nn.one_hot(value - lo, task.target_vocab).reshape(
        n, task.length, -1)

  inputs, _ = task.sample(jax.random.key(1), 5)
  generated = evaluate.greedy_decode(count_up, task, inputs, np.arange(4))
  np.testing.assert_array_equal(generated, np.tile([0, 1, 2, 3], (5, 1)))


def test_random_model_almost_never_succeeds():
  task = lopro.get_task('relu', 8)
  order = np.arange(8)
  inputs, targets = task.sample(jax.random.key(2), 1000)

  def random_logits(tokens):
    key = jax.random.fold_in(jax.random.key(3), tokens.sum())
    return jax.random.normal(key, tokens.shape[:1] + (8, task.target_vocab))

  generated = evaluate.greedy_decode(random_logits, task, inputs, order)
  success, accuracy = evaluate.exact_match(generated, targets, order)
  assert float(success) < 0.01
  assert np.all(np.asarray(accuracy) < 0.3)


def test_exact_match_maps_back_to_stored_order():
  order = np.array([2, 0, 1])
  targets = np.array([[5, 6, 7], [1, 2, 3]])
  # Generation order y[order]: row 0 exact, row 1 wrong in stored slot 0.
  generated = np.array([[7, 5, 6], [3, 9, 2]])
  success, accuracy = evaluate.exact_match(generated, targets, order)
  assert float(success) == 0.5
  np.testing.assert_allclose(accuracy, [0.5, 1.0, 1.0])
  np.testing.assert_array_equal(
      evaluate.to_stored_order(jnp.asarray(generated), order),
      [[5, 6, 7], [9, 2, 3]])


# ---------------------------------------------------------------------------
# The held-out set.


def test_heldout_is_disjoint_from_training_and_profiling_streams():
  task = lopro.get_task('relu', 3)  # 19^3 = 6859 distinct inputs only
  config = dataclasses.replace(TINY_EVAL, num_heldout=300)
  x, y = evaluate.heldout_set(task, config, seed=0)
  assert x.shape == (300, 3) and y.shape == (300, 3) and x.dtype == np.int32
  np.testing.assert_array_equal(y, task.targets_from_inputs(x))
  seen = evaluate.training_inputs(task, config, seed=0)
  assert seen.shape == (300 * 32 + 50 * 16, 3)
  seen_rows = {tuple(r) for r in seen.tolist()}
  held_rows = [tuple(r) for r in x.tolist()]
  assert len(set(held_rows)) == 300  # no repeats
  assert not seen_rows & set(held_rows)
  # The streams are the ones training uses: the profile's first batch
  # (Independent's run key is key(seed)) and the evaluation run's.
  _, data_key, _ = train_lib.split_run_key(jax.random.key(0))
  first = np.asarray(task.sample(jax.random.fold_in(data_key, 0), 16)[0])
  np.testing.assert_array_equal(seen[300 * 32:300 * 32 + 16], first)
  _, eval_key, _ = train_lib.split_run_key(evaluate._run_key(0))
  last = np.asarray(task.sample(jax.random.fold_in(eval_key, 299), 32)[0])
  np.testing.assert_array_equal(seen[299 * 32:300 * 32], last)
  # Another seed, another held-out set.
  other, _ = evaluate.heldout_set(task, config, seed=1)
  assert not np.array_equal(other, x)


def test_too_few_heldout_examples_is_a_clear_error():
  task = lopro.function_task('tiny_pool', lambda x: x, input_length=2,
                             length=2, input_range=(0, 3),
                             target_range=(0, 3), pool_size=20, seed=0)
  with pytest.raises(ValueError, match="task 'tiny_pool': found only .* of "
                     'num_heldout=200 held-out examples'):
    evaluate.heldout_set(task, TINY_EVAL, seed=0)


# ---------------------------------------------------------------------------
# Configs.


def test_presets():
  paper = lopro.EvalConfig.paper().train
  assert (paper.num_layers, paper.width, paper.mlp_ratio * paper.width,
          paper.dropout, paper.learning_rate, paper.lr_schedule,
          paper.batch_size, paper.warmup_steps) == (
              6, 512, 2048, 0.1, 5e-5, 'linear', 128, 0)
  cpu = lopro.EvalConfig.preset('cpu')
  assert cpu == lopro.EvalConfig() == lopro.EvalConfig.cpu()
  assert (cpu.train.num_layers, cpu.train.width, cpu.train.batch_size) == (
      2, 128, 128)
  assert cpu.num_heldout == 1000
  # The profile stream excluded by default is Independent()'s.
  default = lopro.Independent().train
  assert (cpu.profile_steps, cpu.profile_batch_size) == (
      default.steps, default.batch_size)
  assert lopro.EvalConfig.preset('paper', steps=10).train.steps == 10
  assert evaluate.PRESETS == ('cpu', 'paper')


def test_overrides_go_to_the_config_that_has_the_field():
  config = lopro.EvalConfig.cpu(steps=10, width=64, num_heldout=5,
                                decode_batch=7)
  assert config.train == dataclasses.replace(evaluate.CPU_TRAIN, steps=10,
                                             width=64)
  assert (config.num_heldout, config.decode_batch) == (5, 7)
  assert config.profile_steps == lopro.EvalConfig().profile_steps
  paper = lopro.EvalConfig.paper(dropout=0.0, profile_batch_size=8)
  assert paper.train.dropout == 0.0 and paper.train.num_layers == 6
  assert paper.profile_batch_size == 8


def test_configs_are_frozen_hashable_and_serialisable():
  assert hash(lopro.EvalConfig.cpu()) == hash(lopro.EvalConfig())
  with pytest.raises(dataclasses.FrozenInstanceError):
    TINY_EVAL.num_heldout = 3
  record = TINY_EVAL.to_dict()
  assert record['train']['steps'] == 300 and record['num_heldout'] == 200
  json.dumps(record)


@pytest.mark.parametrize('make, match', [
    (lambda: lopro.EvalConfig.preset('gpu'),
     r"unknown EvalConfig preset 'gpu'; known: \['cpu', 'paper'\]"),
    (lambda: lopro.EvalConfig(num_heldout=0),
     'num_heldout must be a positive int, got 0'),
    (lambda: lopro.EvalConfig(decode_batch=-1),
     'decode_batch must be a positive int, got -1'),
    (lambda: lopro.EvalConfig(profile_steps=1.5),
     r'profile_steps must be a positive int, got 1\.5'),
    (lambda: lopro.EvalConfig(train={'steps': 3}),
     'EvalConfig.train must be a lopro.TrainConfig, got dict'),
    (lambda: lopro.EvalConfig.cpu(steps=0),
     'steps must be a positive int, got 0'),
    (lambda: lopro.EvalConfig.cpu(num_heldout=0),
     'num_heldout must be a positive int, got 0'),
])
def test_bad_configs(make, match):
  with pytest.raises(ValueError, match=match):
    make()


def test_a_train_override_replaces_the_training_run():
  train = lopro.TrainConfig(steps=7)
  assert lopro.EvalConfig.cpu(train=train).train == train
  assert lopro.EvalConfig.paper(train=train, steps=9).train.steps == 9
  assert lopro.EvalConfig.preset('cpu', num_heldout=5).num_heldout == 5
  with pytest.raises(ValueError, match=r"unknown EvalConfig override\(s\) "
                     r"\['stepz'\]"):
    lopro.EvalConfig.cpu(stepz=1)


@pytest.mark.parametrize('call, match', [
    (lambda: lopro.evaluate_order(np.arange(3), 'relu',
                                  config=lopro.TrainConfig()),
     'config must be an EvalConfig, got TrainConfig'),
    (lambda: lopro.evaluate_order([0, 0, 1], 'relu', config=TINY_EVAL),
     'not a permutation.*duplicated'),
    (lambda: lopro.evaluate_order([[0, 1], [1, 0]], 'relu', config=TINY_EVAL),
     '1-D'),
    (lambda: lopro.evaluate_orders(PERMS4, 'relu', config=TINY_EVAL,
                                   seed=0.5), 'seed must be an int, got 0.5'),
    (lambda: lopro.evaluate_orders(PERMS4, 'relu', config=TINY_EVAL,
                                   seed=True), 'seed must be an int'),
    (lambda: lopro.evaluate_orders([[0, 1, 2]], 'prod', config=TINY_EVAL),
     "task 'prod' needs an even length"),
    (lambda: lopro.evaluate_orders(PERMS4, lopro.get_task('relu', 5),
                                   config=TINY_EVAL),
     'perms have length 4 but task'),
    (lambda: lopro.evaluate_grid(PERMS4, 'relu', config=TINY_EVAL, seeds=[]),
     'seeds must be a non-empty sequence of ints'),
    (lambda: lopro.evaluate_grid(PERMS4, 'relu', config=TINY_EVAL,
                                 seeds=[0, 1.0]), 'seeds must be a non-empty'),
])
def test_bad_arguments(call, match):
  with pytest.raises(ValueError, match=match):
    call()


# ---------------------------------------------------------------------------
# End to end: TINY_EVAL on relu at L=4, one program per number of seeds.


@functools.cache
def evaluated(seed=0):
  """evaluate_orders(PERMS4) under TINY_EVAL, made once per seed."""
  return lopro.evaluate_orders(PERMS4, TASK4, config=TINY_EVAL, seed=seed)


def test_tiny_end_to_end_forward_beats_reverse():
  forward, reverse = evaluated()
  for r, order in ((forward, PERMS4[0]), (reverse, PERMS4[1])):
    np.testing.assert_array_equal(r.order, order)
    assert r.losses.shape == (300,) and r.steps == 300
    assert r.position_accuracy.shape == (4,) and r.num_heldout == 200
    assert r.task == 'relu' and r.seed == 0 and r.config is TINY_EVAL
    assert r.losses[-20:].mean() < r.losses[:20].mean()
    assert r.wall_time > 0
    # The success rate is a share of 200 examples, at most the worst slot's
    # accuracy.
    assert (r.success_rate * 200) == pytest.approx(
        round(r.success_rate * 200), abs=1e-3)
    assert r.success_rate <= r.position_accuracy.min() + 1e-6
  # Measured: forward 0.77, reverse 0.38.
  assert forward.success_rate > reverse.success_rate + 0.2
  assert forward.success_rate > 0.6
  # y_0 = x_0 is a copy: learnt in either order.
  assert forward.position_accuracy[0] > 0.9
  assert reverse.position_accuracy[0] > 0.9
  record = forward.to_dict()
  assert record['order_string'] == '0 1 2 3'
  assert record['config']['train']['steps'] == 300
  json.dumps(record)


def test_grid_over_seeds_equals_one_seed_at_a_time():
  # The same task and config as above, so evaluate_orders reuses its
  # program; the grid compiles one for two seeds.
  grid = lopro.evaluate_grid(PERMS4, TASK4, config=TINY_EVAL, seeds=[0, 1])
  assert [[r.seed for r in row] for row in grid] == [[0, 0], [1, 1]]
  for a, b in zip(evaluated(0), grid[0]):
    np.testing.assert_allclose(a.losses, b.losses, rtol=1e-4, atol=1e-5)
    assert abs(a.success_rate - b.success_rate) <= 0.02
    np.testing.assert_allclose(a.position_accuracy, b.position_accuracy,
                               atol=0.02)
  assert not np.allclose(grid[0][0].losses, grid[1][0].losses)
  # A seed's results do not depend on its place in the grid.
  swapped = lopro.evaluate_grid(PERMS4, TASK4, config=TINY_EVAL,
                                seeds=[1, 0])
  assert [[r.seed for r in row] for row in swapped] == [[1, 1], [0, 0]]
  for s, t in ((0, 1), (1, 0)):
    for a, b in zip(swapped[s], grid[t]):
      np.testing.assert_allclose(a.losses, b.losses, rtol=1e-4, atol=1e-5)
      assert abs(a.success_rate - b.success_rate) <= 0.02
