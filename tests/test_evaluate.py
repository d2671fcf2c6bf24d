"""Tests of lopro.evaluate: decoding, mapping back, held-out set, end to end."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import lopro
from lopro import evaluate
from lopro import tasks

# A tiny evaluation: 1 layer, width 32, 300 steps, 200 held-out examples.
TINY = evaluate.EvalConfig(num_layers=1, width=32, num_heads=2, steps=300,
                           batch_size=32, learning_rate=3e-3,
                           lr_schedule='constant', warmup_steps=10,
                           num_heldout=200, decode_batch=64,
                           profile_steps=50, profile_batch_size=16)


PERMS4 = np.array([[0, 1, 2, 3], [3, 2, 1, 0]])


def oracle_logits_fn(task, order, vocab):
  """A 'model' that is given the answer: one-hot logits of y[order]."""
  def logits_fn(tokens):
    inputs = tokens[:, :task.input_length] + task.input_range[0]
    targets = task.targets_from_inputs(inputs)
    labels = jnp.take(targets, order, axis=-1) - task.target_range[0]
    return jax.nn.one_hot(labels, vocab) * 10.0
  return logits_fn


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
  # A model that copies its previous output + 1 (stored order irrelevant):
  # position t sees the token written for t-1, so outputs count up 0, 1, 2.
  task = lopro.get_task('relu', 4)
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


def test_heldout_is_disjoint_from_training_and_profiling_streams():
  task = lopro.get_task('relu', 3)  # 19^3 = 6859 distinct inputs only
  config = dataclasses.replace(TINY, num_heldout=300)
  x, y = evaluate.heldout_set(task, config, seed=0)
  assert x.shape == (300, 3) and y.shape == (300, 3)
  np.testing.assert_array_equal(y, task.targets_from_inputs(x))
  seen = evaluate.training_inputs(task, config, seed=0)
  assert seen.shape == (300 * 32 + 50 * 16, 3)
  seen_rows = {tuple(r) for r in seen.tolist()}
  held_rows = [tuple(r) for r in x.tolist()]
  assert len(set(held_rows)) == 300  # no repeats
  assert not seen_rows & set(held_rows)
  # The streams are the ones training uses: the profile's first batch.
  _, data_key, _ = lopro.train.split_run_key(jax.random.key(0))
  first = np.asarray(task.sample(jax.random.fold_in(data_key, 0), 16)[0])
  np.testing.assert_array_equal(seen[300 * 32:300 * 32 + 16], first)


def test_too_few_heldout_examples_is_a_clear_error():
  task = tasks.function_task('tiny_pool', lambda x: x, input_length=2,
                             length=2, input_range=(0, 3),
                             target_range=(0, 3), pool_size=20, seed=0)
  with pytest.raises(ValueError, match='found only .* of num_heldout=200'):
    evaluate.heldout_set(task, TINY, seed=0)


def test_config_presets_and_validation():
  paper = evaluate.EvalConfig.paper()
  assert (paper.num_layers, paper.width, paper.mlp_ratio * paper.width,
          paper.dropout, paper.learning_rate, paper.lr_schedule,
          paper.batch_size) == (6, 512, 2048, 0.1, 5e-5, 'linear', 128)
  cpu = evaluate.EvalConfig.preset('cpu')
  assert (cpu.num_layers, cpu.width, cpu.batch_size) == (2, 128, 128)
  assert evaluate.EvalConfig.preset('paper', steps=10).steps == 10
  with pytest.raises(ValueError, match="unknown EvalConfig preset 'gpu'"):
    evaluate.EvalConfig.preset('gpu')
  with pytest.raises(ValueError, match='num_heldout must be a positive int'):
    evaluate.EvalConfig(num_heldout=0)
  with pytest.raises(ValueError, match='config must be an EvalConfig'):
    evaluate.evaluate_order(np.arange(3), 'relu',
                            config=lopro.ProfileConfig())
  with pytest.raises(ValueError, match='permutation'):
    evaluate.evaluate_order([0, 0, 1], 'relu', config=TINY)


def test_tiny_end_to_end_forward_beats_reverse():
  task = lopro.get_task('relu', 4)
  forward, reverse = lopro.evaluate_orders(PERMS4, task, config=TINY, seed=0)
  for r in (forward, reverse):
    assert r.losses.shape == (300,) and r.steps == 300
    assert r.position_accuracy.shape == (4,) and r.num_heldout == 200
    assert 0.0 <= r.success_rate <= 1.0
    assert r.losses[-20:].mean() < r.losses[:20].mean()
  # Measured: forward 0.77, reverse 0.38.
  assert forward.success_rate > reverse.success_rate + 0.2
  assert forward.success_rate > 0.6
  # y_0 = x_0 is a copy: learnt in either order.
  assert forward.position_accuracy[0] > 0.9
  assert reverse.position_accuracy[0] > 0.9
  record = forward.to_dict()
  assert record['order_string'] == '0 1 2 3' and record['config']['steps'] == 300


def test_grid_over_seeds_equals_one_seed_at_a_time():
  # Same task and config as above, so evaluate_orders reuses its program.
  task = lopro.get_task('relu', 4)
  grid = lopro.evaluate_grid(PERMS4, task, config=TINY, seeds=[0, 1])
  assert [[r.seed for r in row] for row in grid] == [[0, 0], [1, 1]]
  for seed, row in zip((0, 1), grid):
    alone = lopro.evaluate_orders(PERMS4, task, config=TINY, seed=seed)
    for a, b in zip(alone, row):
      np.testing.assert_allclose(a.losses, b.losses, rtol=1e-4, atol=1e-5)
      assert abs(a.success_rate - b.success_rate) <= 0.02
  assert not np.allclose(grid[0][0].losses, grid[1][0].losses)
  with pytest.raises(ValueError, match='seeds must be a non-empty'):
    lopro.evaluate_grid(PERMS4, task, config=TINY, seeds=[])
