"""Tests of lopro.model: shapes, causality, dropout and slot embeddings of
the transformer."""

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopro import model as model_lib

VOCAB = 11
OUTPUTS = 7
N = 8
B = 3


def make_model(**kwargs):
  settings = dict(vocab_size=VOCAB, output_size=OUTPUTS, max_len=N,
                  num_layers=1, width=16, num_heads=2, mlp_ratio=2)
  settings.update(kwargs)
  return model_lib.Transformer(**settings)


def jitted(model):
  """(init, apply) of ``model``, jitted: eager flax is slow on CPU."""
  init = jax.jit(model.init, static_argnums=2)
  apply = jax.jit(model.apply, static_argnums=2,
                  static_argnames='deterministic')
  return init, apply


def random_tokens(seed, batch=B, n=N):
  return jax.random.randint(jax.random.key(seed), (batch, n), 0, VOCAB)


@pytest.fixture(scope='module')
def model_and_params():
  init, apply = jitted(make_model())
  params = init(jax.random.key(0), random_tokens(0), N)
  return apply, params


@pytest.mark.parametrize('num_outputs', [1, N])
def test_output_shape(model_and_params, num_outputs):
  apply, params = model_and_params
  logits = apply(params, random_tokens(1), num_outputs)
  chex.assert_shape(logits, (B, num_outputs, OUTPUTS))
  assert logits.dtype == jnp.float32
  assert np.all(np.isfinite(logits))


def test_num_outputs_takes_trailing_positions(model_and_params):
  apply, params = model_and_params
  tokens = random_tokens(2)
  full = apply(params, tokens, N)
  last = apply(params, tokens, 1)
  chex.assert_trees_all_close(last, full[:, N - 1:], atol=1e-6)


def test_shorter_sequences_use_the_same_parameters(model_and_params):
  # A prefix is processed exactly as the first positions of a longer sequence.
  apply, params = model_and_params
  tokens = random_tokens(3)
  full = apply(params, tokens, N)
  prefix = apply(params, tokens[:, :5], 5)
  chex.assert_trees_all_close(prefix, full[:, :5], atol=1e-5)


@pytest.mark.parametrize('position', [0, 3, N - 1])
def test_causality(model_and_params, position):
  apply, params = model_and_params
  tokens = random_tokens(4)
  changed = tokens.at[:, position].set((tokens[:, position] + 1) % VOCAB)
  before = apply(params, tokens, N)
  after = apply(params, changed, N)
  chex.assert_trees_all_close(after[:, :position], before[:, :position],
                              atol=1e-6)
  # The changed position itself (and so the future) does see the change.
  assert np.max(np.abs(after[:, position] - before[:, position])) > 1e-4


def test_batch_rows_are_independent(model_and_params):
  apply, params = model_and_params
  tokens = random_tokens(6)
  changed = tokens.at[0].set((tokens[0] + 1) % VOCAB)
  before = apply(params, tokens, N)
  after = apply(params, changed, N)
  chex.assert_trees_all_close(after[1:], before[1:], atol=1e-6)


def test_no_dropout_is_deterministic(model_and_params):
  apply, params = model_and_params
  tokens = random_tokens(7)
  a = apply(params, tokens, N, deterministic=False,
            rngs={'dropout': jax.random.key(1)})
  b = apply(params, tokens, N, deterministic=False,
            rngs={'dropout': jax.random.key(2)})
  c = apply(params, tokens, N)
  chex.assert_trees_all_close(a, b, atol=1e-6)
  chex.assert_trees_all_close(a, c, atol=1e-6)


def test_dropout_depends_on_rng_only_when_not_deterministic(
    model_and_params):
  # Same architecture and weights as the fixture, with dropout switched on.
  apply_no_dropout, params = model_and_params
  _, apply = jitted(make_model(dropout=0.5))
  tokens = random_tokens(8)
  a = apply(params, tokens, N, deterministic=False,
            rngs={'dropout': jax.random.key(1)})
  a_again = apply(params, tokens, N, deterministic=False,
                  rngs={'dropout': jax.random.key(1)})
  b = apply(params, tokens, N, deterministic=False,
            rngs={'dropout': jax.random.key(2)})
  chex.assert_trees_all_close(a, a_again)
  assert np.max(np.abs(a - b)) > 1e-3
  # In evaluation mode dropout is off: no rng needed, same as no dropout.
  plain = apply(params, tokens, N)
  chex.assert_trees_all_close(plain, apply_no_dropout(params, tokens, N),
                              atol=1e-6)
  assert np.max(np.abs(a - plain)) > 1e-3


def test_parameter_shapes(model_and_params):
  _, params = model_and_params
  params = params['params']
  chex.assert_shape(params['token_embed']['embedding'], (VOCAB, 16))
  chex.assert_shape(params['pos_embed']['embedding'], (N, 16))
  chex.assert_shape(params['head']['kernel'], (16, OUTPUTS))
  assert set(params) == {'token_embed', 'pos_embed', 'block_0', 'final_norm',
                         'head'}


def test_num_outputs_beyond_sequence_rejected():
  module = model_lib.Transformer(vocab_size=5, output_size=3, max_len=4,
                                 width=8, num_heads=2)
  tokens = jnp.zeros((1, 4), jnp.int32)
  with pytest.raises(ValueError, match='num_outputs must be in 0..4'):
    module.init(jax.random.key(0), tokens, 5)


@pytest.mark.parametrize('num_layers', [1, 3])
def test_context_of_a_prefix_gives_the_full_runs_logits(num_layers):
  # A run over the first P tokens sows every block's input; given those, a
  # run over the other tokens alone gives the full run's logits there.
  init, _ = jitted(make_model(num_layers=num_layers))
  model = make_model(num_layers=num_layers)
  tokens = random_tokens(4)
  params = init(jax.random.key(1), tokens, N)
  prefix = 3
  full, sown = model.apply(params, tokens, N, mutable='intermediates')
  none, sown_prefix = model.apply(params, tokens[:, :prefix], 0,
                                  mutable='intermediates')
  chex.assert_shape(none, (B, 0, OUTPUTS))
  context = tuple(sown_prefix['intermediates'][f'block_{i}_input'][0]
                  for i in range(num_layers))
  chex.assert_shape(context, [(B, prefix, 16)] * num_layers)
  # Causal: the prefix's block inputs are the full run's first P.
  chex.assert_trees_all_close(
      context, tuple(sown['intermediates'][f'block_{i}_input'][0][:, :prefix]
                     for i in range(num_layers)), atol=1e-6)
  rest = model.apply(params, tokens[:, prefix:], N - prefix, context=context)
  chex.assert_trees_all_close(rest, full[:, prefix:], atol=1e-5)
  # The context is read: another prefix changes the continuation.
  other = model.apply(params, tokens[:, prefix:], N - prefix,
                      context=tuple(c[::-1] for c in context))
  assert np.max(np.abs(other - rest)) > 1e-3
  with pytest.raises(ValueError, match='one array per block'):
    model.apply(params, tokens[:, prefix:], 1, context=context[:1] * (
        num_layers + 1))


# ---------------------------------------------------------------------------
# Slot embeddings (mixture and universal models).

# 4 inputs, then SEP and 3 target tokens: the last 4 positions are outputs,
# output k reading the token at position SLOT_N - NUM_OUT + k.
SLOT_N = 8
NUM_OUT = 4


@pytest.fixture(scope='module')
def slot_model():
  init, apply = jitted(make_model(slot_vocab=NUM_OUT))
  slots = jnp.tile(jnp.arange(NUM_OUT), (B, 1))
  params = init(jax.random.key(0), random_tokens(0, n=SLOT_N), NUM_OUT,
                slots=slots)
  return apply, params


def random_slots(seed):
  keys = jax.random.split(jax.random.key(seed), B)
  return jax.vmap(lambda k: jax.random.permutation(k, NUM_OUT))(keys)


def test_slot_embedding_parameters(slot_model):
  _, params = slot_model
  params = params['params']
  chex.assert_shape(params['next_slot_embed']['embedding'], (NUM_OUT, 16))
  chex.assert_shape(params['token_slot_embed']['embedding'], (NUM_OUT, 16))


@pytest.mark.parametrize('k', [0, 2, NUM_OUT - 1])
def test_output_k_sees_the_slots_up_to_k_only(slot_model, k):
  # Output k is told the slot it emits (slots[k]) and the slots of the
  # tokens before it; never a later one.
  apply, params = slot_model
  tokens = random_tokens(9, n=SLOT_N)
  slots = random_slots(1)
  other = random_slots(2)
  changed = slots.at[:, k].set(other[:, k])
  assert np.any(np.asarray(changed[:, k] != slots[:, k]))
  before = apply(params, tokens, NUM_OUT, slots=slots)
  after = apply(params, tokens, NUM_OUT, slots=changed)
  chex.assert_shape(before, (B, NUM_OUT, OUTPUTS))
  chex.assert_trees_all_close(after[:, :k], before[:, :k], atol=1e-6)
  rows = np.asarray(changed[:, k] != slots[:, k])
  assert np.all(np.max(np.abs(after[rows, k] - before[rows, k]), axis=-1)
                > 1e-4)
  # Rows whose slot did not change are untouched.
  chex.assert_trees_all_close(after[~rows], before[~rows], atol=1e-6)


def test_slot_embeddings_are_causal_in_the_tokens_too(slot_model):
  apply, params = slot_model
  tokens = random_tokens(10, n=SLOT_N)
  slots = random_slots(3)
  position = SLOT_N - NUM_OUT + 2  # the token output 2 reads
  changed = tokens.at[:, position].set((tokens[:, position] + 1) % VOCAB)
  before = apply(params, tokens, NUM_OUT, slots=slots)
  after = apply(params, changed, NUM_OUT, slots=slots)
  chex.assert_trees_all_close(after[:, :2], before[:, :2], atol=1e-6)
  assert np.max(np.abs(after[:, 2] - before[:, 2])) > 1e-4


def test_slots_are_required_exactly_with_slot_embeddings(slot_model,
                                                         model_and_params):
  apply, params = slot_model
  tokens = random_tokens(11, n=SLOT_N)
  with pytest.raises(ValueError, match=r'slot embeddings need slots \[B, 4\], '
                     'got None'):
    apply(params, tokens, NUM_OUT)
  with pytest.raises(ValueError, match=r'slot embeddings need slots \[B, 4\], '
                     r'got \(3, 3\)'):
    apply(params, tokens, NUM_OUT, slots=random_slots(1)[:, :3])
  plain_apply, plain_params = model_and_params
  with pytest.raises(ValueError, match='slots given to a model without slot '
                     'embeddings'):
    plain_apply(plain_params, random_tokens(1), N, slots=random_slots(1))
