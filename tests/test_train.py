"""Tests of lopro.train: encoding, the learning-rate schedule, the optimiser,
TrainConfig and training runs."""

import dataclasses
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import lopro
from lopro import orders
from lopro import tasks
from lopro import train

L = 4


@pytest.fixture(scope='module')
def relu():
  return tasks.get_task('relu', length=L)


# ---------------------------------------------------------------------------
# encode.


def test_encode_hand_example(relu):
  # relu, L=4: inputs in -9..9 (Vx = 19), targets in -9..36 (V = 46).
  assert relu.input_range == (-9, 9)
  assert relu.target_range == (-9, 36)
  inputs = jnp.array([[3, -9, 9, 0], [-2, 5, -9, 4]], jnp.int32)
  targets = jnp.array([[3, 0, 9, 9], [-2, 5, 0, 4]], jnp.int32)
  order = jnp.array([2, 0, 3, 1])
  tokens, labels = train.encode(relu, inputs, targets, order)
  # Inputs shifted by +9; SEP = 19; y[order][:-1] shifted by +9 (labels)
  # and then by 19 + 1.
  expected_labels = [[9 + 9, 3 + 9, 9 + 9, 0 + 9],
                     [0 + 9, -2 + 9, 4 + 9, 5 + 9]]
  expected_tokens = [
      [12, 0, 18, 9, 19, 18 + 20, 12 + 20, 18 + 20],
      [7, 14, 0, 13, 19, 9 + 20, 7 + 20, 13 + 20],
  ]
  np.testing.assert_array_equal(labels, expected_labels)
  np.testing.assert_array_equal(tokens, expected_tokens)
  assert tokens.dtype == jnp.int32 and labels.dtype == jnp.int32
  chex.assert_shape(tokens, (2, relu.input_length + L))
  chex.assert_shape(labels, (2, L))


def test_encode_matches_definition_on_samples(relu):
  inputs, targets = relu.sample(jax.random.key(0), 16)
  lo_x, lo_y = relu.input_range[0], relu.target_range[0]
  vx, v = relu.input_vocab, relu.target_vocab
  for order in (orders.identity(L), orders.reverse(L), np.array([1, 3, 0, 2])):
    tokens, labels = train.encode(relu, inputs, targets, jnp.asarray(order))
    inputs_np, targets_np = np.asarray(inputs), np.asarray(targets)
    np.testing.assert_array_equal(labels, targets_np[:, order] - lo_y)
    np.testing.assert_array_equal(tokens[:, :L], inputs_np - lo_x)
    np.testing.assert_array_equal(tokens[:, L], np.full(16, vx))
    np.testing.assert_array_equal(tokens[:, L + 1:],
                                  targets_np[:, order[:-1]] - lo_y + vx + 1)
    # Ranges: inputs below SEP, targets above it, labels in 0..V-1.
    assert np.all((tokens[:, :L] >= 0) & (tokens[:, :L] < vx))
    assert np.all((tokens[:, L + 1:] > vx) & (tokens[:, L + 1:] <= vx + v))
    assert np.all((labels >= 0) & (labels < v))


def test_encode_with_one_order_per_example(relu):
  # Mixture mode: order int[B, L], each example encoded in its own order.
  inputs, targets = relu.sample(jax.random.key(1), 6)
  per_example = np.stack([np.random.default_rng(i).permutation(L)
                          for i in range(6)])
  tokens, labels = train.encode(relu, inputs, targets,
                                jnp.asarray(per_example))
  chex.assert_shape(tokens, (6, relu.input_length + L))
  for i, order in enumerate(per_example):
    one_tokens, one_labels = train.encode(relu, inputs[i:i + 1],
                                          targets[i:i + 1], jnp.asarray(order))
    np.testing.assert_array_equal(tokens[i], one_tokens[0])
    np.testing.assert_array_equal(labels[i], one_labels[0])


def test_make_model_is_sized_for_the_task(relu):
  model = train.make_model(relu, train.TrainConfig(width=16, num_layers=3,
                                                   mlp_ratio=2))
  assert model.vocab_size == relu.input_vocab + 1 + relu.target_vocab == 66
  assert model.output_size == relu.target_vocab == 46
  assert model.max_len == relu.input_length + L
  assert (model.width, model.num_layers, model.mlp_ratio) == (16, 3, 2)
  assert model.slot_vocab == 0
  assert train.make_model(relu, train.TrainConfig(),
                          slot_embedding=True).slot_vocab == L
  prod = lopro.get_task('prod', 6)  # inputs and targets 0..9
  model = train.make_model(prod, train.TrainConfig())
  assert (model.vocab_size, model.output_size, model.max_len) == (21, 10, 12)


# ---------------------------------------------------------------------------
# make_optimizer: probe the learning rate through AdamW's update size.


def learning_rates(config, num_steps):
  """Per-step learning rates, read off as |update| for a constant gradient.

  With weight decay 0 and a constant gradient, Adam's bias-corrected
  direction is exactly sign(g) (up to eps), so the update is -lr(t).
  """
  optimizer = train.make_optimizer(config)
  params = jnp.zeros(())
  grad = jnp.ones(())

  def step(state, _):
    updates, state = optimizer.update(grad, state, params)
    return state, -updates

  _, rates = jax.lax.scan(step, optimizer.init(params), None,
                          length=num_steps)
  return np.asarray(rates)


def test_schedule_warmup_then_constant():
  config = train.TrainConfig(steps=20, warmup_steps=5, learning_rate=1e-2,
                             lr_schedule='constant', weight_decay=0.0)
  rates = learning_rates(config, 25)
  np.testing.assert_allclose(rates[:6], 1e-2 * np.arange(6) / 5, atol=1e-7)
  np.testing.assert_allclose(rates[5:], 1e-2, rtol=1e-4)


def test_schedule_warmup_then_linear_decay():
  config = train.TrainConfig(steps=20, warmup_steps=5, learning_rate=1e-2,
                             lr_schedule='linear', weight_decay=0.0)
  rates = learning_rates(config, 22)
  np.testing.assert_allclose(rates[:6], 1e-2 * np.arange(6) / 5, atol=1e-7)
  # From the peak at step 5 down to 0 at step 20 (= steps), then stays 0.
  np.testing.assert_allclose(rates[5:21], 1e-2 * (1 - np.arange(16) / 15),
                             atol=1e-7)
  np.testing.assert_allclose(rates[20:], 0.0, atol=1e-9)
  assert rates.max() == pytest.approx(1e-2, rel=1e-5)


def test_schedule_cosine_and_no_warmup():
  config = train.TrainConfig(steps=10, warmup_steps=0, learning_rate=2e-3,
                             lr_schedule='cosine', weight_decay=0.0)
  rates = learning_rates(config, 11)
  t = np.arange(11)
  expected = 2e-3 * 0.5 * (1 + np.cos(np.pi * np.minimum(t, 10) / 10))
  np.testing.assert_allclose(rates, expected, rtol=1e-4, atol=1e-8)
  assert rates[0] == pytest.approx(2e-3, rel=1e-5)


def schedule_01(config):
  """lopro 0.1's learning-rate schedule, verbatim, as the reference."""
  decay_steps = max(config.steps - config.warmup_steps, 1)
  peak = config.learning_rate
  if config.lr_schedule == 'constant':
    after = optax.constant_schedule(peak)
  elif config.lr_schedule == 'linear':
    after = optax.linear_schedule(peak, 0.0, decay_steps)
  else:
    after = optax.cosine_decay_schedule(peak, decay_steps)
  return optax.join_schedules(
      [optax.linear_schedule(0.0, peak, config.warmup_steps), after],
      [config.warmup_steps]) if config.warmup_steps else after


@pytest.mark.parametrize('lr_schedule', ['constant', 'linear', 'cosine'])
@pytest.mark.parametrize('steps, warmup', [(20, 5), (20, 0), (20, 1),
                                           (20, 19), (20, 20), (7, 12),
                                           (1, 0), (1, 3)])
def test_schedule_equals_the_01_schedule(lr_schedule, steps, warmup):
  config = train.TrainConfig(steps=steps, warmup_steps=warmup,
                             learning_rate=3e-3, lr_schedule=lr_schedule)
  t = np.arange(steps + max(warmup, 1) + 5)
  new = np.asarray(jax.vmap(train.make_schedule(config))(t))
  old = np.asarray(jax.vmap(schedule_01(config))(t))
  np.testing.assert_allclose(new, old, rtol=1e-6, atol=1e-12)
  # Warmup rises linearly from 0 to the peak; the peak is reached.
  assert new[0] == (0.0 if warmup else pytest.approx(3e-3))
  np.testing.assert_allclose(new[:warmup + 1], 3e-3 * t[:warmup + 1] / warmup
                             if warmup else [3e-3], rtol=1e-5)
  if lr_schedule != 'constant':  # decayed to 0 at the horizon, and stays
    end = max(steps, warmup + 1)
    np.testing.assert_allclose(new[end:], 0.0, atol=1e-12)


def test_schedule_hand_values():
  cosine = train.make_schedule(train.TrainConfig(
      steps=12, warmup_steps=4, learning_rate=1.0, lr_schedule='cosine'))
  # Up to 1 at step 4, then a half cosine over the remaining 8 steps.
  expected = [0, 0.25, 0.5, 0.75, 1.0] + [
      0.5 * (1 + math.cos(math.pi * k / 8)) for k in range(1, 9)] + [0.0]
  np.testing.assert_allclose([float(cosine(i)) for i in range(14)], expected,
                             atol=1e-6)
  linear = train.make_schedule(train.TrainConfig(
      steps=6, warmup_steps=2, learning_rate=2.0, lr_schedule='linear'))
  np.testing.assert_allclose([float(linear(i)) for i in range(8)],
                             [0, 1, 2, 1.5, 1, 0.5, 0, 0], atol=1e-6)


def test_optimizer_clips_gradients():
  config = train.TrainConfig(steps=10, warmup_steps=0, learning_rate=1.0,
                             grad_clip=1.0)
  optimizer = train.make_optimizer(config)
  params = {'a': jnp.zeros(3)}
  state = optimizer.init(params)
  # Adam is scale-invariant, so check clipping via its first moment.
  _, state = optimizer.update({'a': jnp.array([30.0, 40.0, 0.0])}, state,
                              params)
  mu = [s for s in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, 'mu'))
        if hasattr(s, 'mu')][0].mu['a']
  # Clipped to norm 1: [0.6, 0.8, 0]; mu = (1 - b1) * g = 0.1 * g.
  np.testing.assert_allclose(mu, [0.06, 0.08, 0.0], rtol=1e-5)


# ---------------------------------------------------------------------------
# TrainConfig validation.


@pytest.mark.parametrize('kwargs, match', [
    (dict(steps=0), r'steps must be a positive int, got 0'),
    (dict(steps=2.5), r'steps must be a positive int, got 2\.5'),
    (dict(batch_size=-1), r'batch_size must be a positive int, got -1'),
    (dict(width=0), r'width must be a positive int, got 0'),
    (dict(num_layers=True), r'num_layers must be a positive int, got True'),
    (dict(width=30, num_heads=4), r'num_heads=4 must divide width=30'),
    (dict(dropout=1.0), r'dropout must be in \[0, 1\), got 1\.0'),
    (dict(dropout=-0.1), r'got -0\.1'),
    (dict(lr_schedule='exp'), r"lr_schedule must be one of .*got 'exp'"),
    (dict(learning_rate=0), r'learning_rate must be positive, got 0'),
    (dict(learning_rate=float('nan')), r'learning_rate must be a finite '
     r'number, got nan'),
    (dict(weight_decay=float('nan')), r'weight_decay must be a finite '
     r'number, got nan'),
    (dict(grad_clip=float('inf')), r'grad_clip must be a finite number, '
     r'got inf'),
    (dict(warmup_steps=True), r'warmup_steps must be an int >= 0, got True'),
    (dict(warmup_steps=-1), r'warmup_steps must be an int >= 0, got -1'),
    (dict(weight_decay=-1.0), r'got -1\.0'),
])
def test_train_config_rejects(kwargs, match):
  with pytest.raises(ValueError, match=match):
    train.TrainConfig(**kwargs)


def test_train_config_is_frozen_and_accepts_good_values():
  config = train.TrainConfig(width=16, num_heads=4, dropout=0.0,
                             lr_schedule='cosine', warmup_steps=0)
  assert config.width == 16
  with pytest.raises(AttributeError):
    config.width = 32  # type: ignore[misc]


def test_train_config_is_hashable_and_equal_by_value():
  # Configs key the compiled-program caches: equal settings, one entry.
  a = train.TrainConfig(steps=8, width=16)
  b = train.TrainConfig(steps=8, width=16)
  assert a == b and hash(a) == hash(b) and a is not b
  assert a != dataclasses.replace(a, learning_rate=1e-2)
  assert len({a, b, train.TrainConfig()}) == 2


@pytest.mark.parametrize('kwargs, match', [
    (dict(num_heads=0), r'num_heads must be a positive int, got 0'),
    (dict(mlp_ratio=0), r'mlp_ratio must be a positive int, got 0'),
    (dict(grad_clip=-1.0), r'grad_clip must be >= 0, got 0\.0, -1\.0'),
    (dict(dropout='0'), "dropout must be a finite number, got '0'"),
    (dict(weight_decay=None), 'weight_decay must be a finite number, got '
     'None'),
    (dict(warmup_steps=2.0), r'warmup_steps must be an int >= 0, got 2\.0'),
])
def test_train_config_rejects_more(kwargs, match):
  with pytest.raises(ValueError, match=match):
    train.TrainConfig(**kwargs)


def test_optimizer_without_clipping():
  config = train.TrainConfig(steps=10, warmup_steps=0, learning_rate=1.0,
                             grad_clip=0.0)
  optimizer = train.make_optimizer(config)
  params = {'a': jnp.zeros(3)}
  _, state = optimizer.update({'a': jnp.array([30.0, 40.0, 0.0])},
                              optimizer.init(params), params)
  mu = [s for s in jax.tree.leaves(state, is_leaf=lambda x: hasattr(x, 'mu'))
        if hasattr(s, 'mu')][0].mu['a']
  np.testing.assert_allclose(mu, [3.0, 4.0, 0.0], rtol=1e-5)


# ---------------------------------------------------------------------------
# Training.

LEARN_CONFIG = train.TrainConfig(num_layers=1, width=32, num_heads=2,
                                 steps=60, batch_size=32, learning_rate=3e-3,
                                 warmup_steps=5)


@pytest.fixture(scope='module')
def train_fn(relu):
  return jax.jit(train.make_train(relu, LEARN_CONFIG))


@pytest.fixture(scope='module')
def identity_losses(train_fn):
  return train_fn(jax.random.key(0), jnp.asarray(orders.identity(L)))


def test_make_train_returns_float32_per_step(identity_losses, relu):
  chex.assert_shape(identity_losses, (LEARN_CONFIG.steps,))
  assert identity_losses.dtype == jnp.float32
  assert np.all(np.isfinite(identity_losses))
  # Untrained: about the entropy of a uniform guess over V classes.
  assert abs(float(identity_losses[0]) - math.log(relu.target_vocab)) < 1.0


def test_training_lowers_the_loss(identity_losses):
  losses = np.asarray(identity_losses)
  first, last = losses[:10].mean(), losses[-10:].mean()
  assert last < first - 1.0, (first, last)


def test_same_key_same_losses_other_key_other_losses(train_fn,
                                                     identity_losses):
  order = jnp.asarray(orders.identity(L))
  again = train_fn(jax.random.key(0), order)
  chex.assert_trees_all_equal(again, identity_losses)
  other = train_fn(jax.random.key(1), order)
  assert np.max(np.abs(np.asarray(other) - np.asarray(identity_losses))) > 1e-3


def test_losses_depend_on_the_order(train_fn, identity_losses):
  reverse = train_fn(jax.random.key(0), jnp.asarray(orders.reverse(L)))
  assert not np.allclose(reverse, identity_losses)
  # Same init and data: the very first loss is close (untrained model).
  assert abs(float(reverse[0]) - float(identity_losses[0])) < 0.5


@pytest.fixture(scope='module')
def learn_fns(relu):
  fns = train.make_train_fns(relu, LEARN_CONFIG)
  return fns._replace(init=jax.jit(fns.init),
                      run=jax.jit(fns.run, static_argnums=5),
                      apply=jax.jit(fns.apply))


def test_run_continued_in_two_halves_equals_one_run(learn_fns,
                                                    identity_losses):
  # make_train(key, order) is init + one run of T steps with the named keys.
  init_key, data_key, dropout_key = train.split_run_key(jax.random.key(0))
  order = jnp.asarray(orders.identity(L))
  half = LEARN_CONFIG.steps // 2
  state0 = learn_fns.init(init_key)
  run = learn_fns.run

  half_state, first = run(state0, data_key, dropout_key, order, 0, half)
  _, second = run(half_state, data_key, dropout_key, order, half, half)

  chex.assert_shape(first, (half,))
  chex.assert_trees_all_close(jnp.concatenate([first, second]),
                              identity_losses, rtol=1e-5)
  # A wrong start_step would replay the data of steps 0..half-1.
  _, replay = run(half_state, data_key, dropout_key, order, 0, half)
  assert not np.allclose(replay, second)
  # The optimiser state carries the step count across the halves.
  counts = [int(leaf) for leaf in jax.tree.leaves(half_state.opt_state)
            if jnp.ndim(leaf) == 0 and jnp.issubdtype(leaf.dtype, jnp.integer)]
  assert counts and all(c == half for c in counts), counts


def test_train_fns_apply_gives_logits_in_generation_order(learn_fns, relu):
  state = learn_fns.init(jax.random.key(0))
  inputs, targets = relu.sample(jax.random.key(1), 4)
  order = jnp.array([2, 0, 3, 1])
  logits = learn_fns.apply(state.params, inputs, targets, order)
  chex.assert_shape(logits, (4, L, relu.target_vocab))
  # The model reads y[order][:-1]: the first generated slot's logits cannot
  # depend on the targets, later slots do.
  other_targets = jnp.roll(targets, 1, axis=0)
  other = learn_fns.apply(state.params, inputs, other_targets, order)
  chex.assert_trees_all_close(other[:, 0], logits[:, 0], atol=1e-6)
  assert np.max(np.abs(other[:, 1:] - logits[:, 1:])) > 1e-5


def test_numpy_numbers_are_taken_as_python_numbers():
  config = train.TrainConfig(steps=np.int64(30), learning_rate=np.float32(
      0.5), warmup_steps=np.int32(2))
  assert config == train.TrainConfig(steps=30, learning_rate=0.5,
                                     warmup_steps=2)
  assert type(config.steps) is int and type(config.learning_rate) is float


def test_non_numeric_hyperparameters_rejected():
  with pytest.raises(ValueError,
                     match="learning_rate must be a finite number, got "
                     "'0.1'"):
    train.TrainConfig(learning_rate='0.1')
