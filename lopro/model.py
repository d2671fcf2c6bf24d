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
  def __call__(self, h: jax.Array, mask: jax.Array,
               deterministic: bool) -> jax.Array:
    a = nn.LayerNorm()(h)
    a = nn.MultiHeadDotProductAttention(
        num_heads=self.num_heads, qkv_features=self.width,
        dropout_rate=self.dropout, deterministic=deterministic)(a, a, mask=mask)
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
               slots: jax.Array | None = None) -> jax.Array:
    """Runs the model.

    Args:
      tokens: int32[B, N] token ids.
      num_outputs: how many trailing positions to produce logits for.
      deterministic: disables dropout when True.
      slots: int[B, num_outputs], the stored slot each output position
        emits (the example's order); required iff ``slot_vocab``.

    Returns:
      float32[B, num_outputs, V] logits of the last ``num_outputs`` positions.
    """
    n = tokens.shape[-1]
    if not 1 <= num_outputs <= n:
      raise ValueError(f'num_outputs must be in 1..{n} (the sequence length), '
                       f'got {num_outputs}')
    h = nn.Embed(self.vocab_size, self.width, name='token_embed')(tokens)
    pos = nn.Embed(self.max_len, self.width, name='pos_embed')(jnp.arange(n))
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
    mask = nn.make_causal_mask(tokens)
    for i in range(self.num_layers):
      h = Block(self.width, self.num_heads, self.mlp_ratio, self.dropout,
                name=f'block_{i}')(h, mask, deterministic)
    h = nn.LayerNorm(name='final_norm')(h[..., n - num_outputs:, :])
    return nn.Dense(self.output_size, name='head')(h)
