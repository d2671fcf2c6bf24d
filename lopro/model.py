"""A tiny decoder-only transformer (GPT-2 style, pre-LayerNorm) in flax.linen.

The sequence the model reads is ``inputs, SEP, targets in generation order``;
it predicts every target token from the tokens before it (teacher forcing).
Positions are learned embeddings, as in the paper (research/PAPER.md §5).

Dimension letters: B batch, N sequence length, D width, V vocab.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp


class Block(nn.Module):
  """One pre-LN transformer block: causal self-attention, then an MLP."""
  width: int
  num_heads: int
  mlp_ratio: int
  dropout: float

  @nn.compact
  def __call__(self, h: jax.Array, mask: jax.Array, deterministic: bool,
               context: jax.Array | None = None) -> jax.Array:
    """h [B, n, D] -> [B, n, D]; ``context`` [B, P, D]: the block's inputs
    at the P positions before h, which h also attends to."""
    norm = nn.LayerNorm()
    a = norm(h)
    kv = a if context is None else jnp.concatenate([norm(context), a], -2)
    a = nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads, qkv_features=self.width,
        dropout_rate=self.dropout, deterministic=deterministic)(a, kv,
                                                                mask=mask)
    h = h + nn.Dropout(self.dropout, deterministic=deterministic)(a)
    m = nn.LayerNorm()(h)
    m = nn.Dense(self.mlp_ratio * self.width)(m)
    m = nn.gelu(m)
    m = nn.Dense(self.width)(m)
    return h + nn.Dropout(self.dropout, deterministic=deterministic)(m)


class Transformer(nn.Module):
  """Decoder-only transformer that returns logits for the last positions.

  Attributes:
    vocab_size: V_in, size of the input token vocabulary.
    output_size: V, number of output classes.
    max_len: longest sequence N the position table covers.
    num_layers: number of blocks.
    width: D.
    num_heads: attention heads (must divide D).
    mlp_ratio: MLP hidden size / D.
    dropout: dropout rate (0 disables it).
    slot_vocab: 0, or L to add slot embeddings (mixture-mode profiling,
      sigma-GPT's double positional encoding): the output position that
      emits stored slot ``slots[k]`` gets ``next_slot_embed[slots[k]]``, and
      the target token it reads (emitted at k-1) ``token_slot_embed[
      slots[k-1]]``. With a fixed order these are constants per position, so
      independent runs leave them off.
  """
  vocab_size: int
  output_size: int
  max_len: int
  num_layers: int = 1
  width: int = 64
  num_heads: int = 2
  mlp_ratio: int = 4
  dropout: float = 0.0
  slot_vocab: int = 0

  @nn.compact
  def __call__(self, tokens: jax.Array, num_outputs: int,
               deterministic: bool = True,
               slots: jax.Array | None = None,
               context: tuple[jax.Array, ...] | None = None) -> jax.Array:
    """Runs the model.

    Every block sows its input ([B, N, D]) as intermediate
    ``block_<i>_input``: applied with ``mutable='intermediates'`` to a
    prefix of P tokens (``num_outputs`` 0), those are the ``context`` that
    lets a later call read only the tokens after it, so the prefix's layers
    run once for any number of continuations.

    Args:
      tokens: int32[B, N] token ids (the N tokens after the context's P).
      num_outputs: how many trailing positions to produce logits for (0:
        none, a run that only sows its blocks' inputs).
      deterministic: disables dropout when True.
      slots: int[B, num_outputs], the stored slot each output position
        emits (the example's order); required iff ``slot_vocab``.
      context: None, or the sown ``block_<i>_input`` [B, P, D] of every
        block for the P tokens before ``tokens``.

    Returns:
      float32[B, num_outputs, V] logits of the last ``num_outputs`` positions.
    """
    n = tokens.shape[-1]
    if not 0 <= num_outputs <= n:
      raise ValueError(f'num_outputs must be in 0..{n} (the sequence length), '
                       f'got {num_outputs}')
    if context is not None and len(context) != self.num_layers:
      raise ValueError(f'context needs one array per block '
                       f'({self.num_layers}), got {len(context)}')
    start = 0 if context is None else context[0].shape[-2]
    h = nn.Embed(self.vocab_size, self.width, name='token_embed')(tokens)
    pos = nn.Embed(self.max_len, self.width,
                   name='pos_embed')(start + jnp.arange(n))
    h = h + pos
    if self.slot_vocab:
      if slots is None or slots.shape[-1] != num_outputs:
        raise ValueError(f'slot embeddings need slots [B, {num_outputs}], got '
                         f'{None if slots is None else slots.shape}')
      emits = nn.Embed(self.slot_vocab, self.width,
                       name='next_slot_embed')(slots)
      reads = nn.Embed(self.slot_vocab, self.width,
                       name='token_slot_embed')(slots[..., :-1])
      h = h.at[..., n - num_outputs:, :].add(emits)
      h = h.at[..., n - num_outputs + 1:, :].add(reads)
    elif slots is not None:
      raise ValueError('slots given to a model without slot embeddings')
    h = nn.Dropout(self.dropout, deterministic=deterministic)(h)
    if context is None:
      mask = nn.make_causal_mask(tokens)
    else:  # position start + q reads keys 0 .. start + q.
      mask = (jnp.arange(start + n)[None] <= start + jnp.arange(n)[:, None])
      mask = mask[None, None]
    for i in range(self.num_layers):
      self.sow('intermediates', f'block_{i}_input', h)
      h = Block(self.width, self.num_heads, self.mlp_ratio, self.dropout,
                name=f'block_{i}')(h, mask, deterministic,
                                   None if context is None else context[i])
    h = nn.LayerNorm(name='final_norm')(h[..., n - num_outputs:, :])
    return nn.Dense(self.output_size, name='head')(h)
