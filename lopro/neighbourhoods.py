"""Neighbourhoods of an order and populations: what a search profiles next.

Every function returns distinct orders, int64[N, L], the order it starts
from first where there is one (so a stable ranking keeps it on ties), and
takes its randomness from a JAX key through ``host_rng``: a numpy Generator
seeded from the key's data, so a search is a deterministic function of its
key.

  insertion_moves       one slot taken out and put back anywhere: (L-1)^2,
                        or at most w positions away: about (2w-1)L
  inside_block_moves    every re-ordering inside one block of size l
  block_moves           cyclic shifts and pairwise swaps of the blocks
  structured_population the paper's P_b: block permutations of forward and
                        reverse
  sample_distinct       distinct uniform orders

Dimension letters: N orders, L target length, m blocks.
"""

from __future__ import annotations

import itertools
import math

import jax
import numpy as np

from lopro import orders as orders_lib


def host_rng(key: jax.Array) -> np.random.Generator:
  """A numpy Generator seeded deterministically from a JAX key."""
  return np.random.default_rng(np.asarray(jax.random.key_data(key)))


def sample_distinct(rng: np.random.Generator, num: int, length: int,
                    exclude: set[bytes] | None = None) -> np.ndarray:
  """``num`` distinct uniform orders not in ``exclude`` (fewer if L! runs out).

  Uniform over the orders not excluded: rejection sampling, or a shuffled
  enumeration when most of the L! orders are wanted.

  Args:
    rng: the Generator to draw from.
    num: N.
    length: L.
    exclude: ``row.tobytes()`` of int64 orders that must not be drawn.

  Returns:
    int64[min(N, L! - |exclude|), L].
  """
  exclude = set() if exclude is None else exclude
  available = math.factorial(length) - len(exclude) if length <= 20 else num
  num = max(0, min(num, available))
  if length <= 8 and 2 * (num + len(exclude)) >= math.factorial(length):
    pool = orders_lib.all_orders(length)
    pool = pool[rng.permutation(pool.shape[0])]
    keep = [row for row in pool if row.tobytes() not in exclude]
    return np.asarray(keep[:num], dtype=np.int64).reshape(num, length)
  seen, out = set(exclude), []
  while len(out) < num:
    draw = rng.permuted(np.tile(np.arange(length, dtype=np.int64),
                                (2 * (num - len(out)) + 8, 1)), axis=1)
    for row in draw:
      row_key = row.tobytes()
      if row_key not in seen:
        seen.add(row_key)
        out.append(row)
        if len(out) == num:
          break
  return np.asarray(out, dtype=np.int64).reshape(num, length)


def arrange(blocks: list[np.ndarray], arrangements) -> np.ndarray:
  """int64[A, L]: the blocks concatenated in each arrangement (tuples of
  block indices)."""
  return np.stack([np.concatenate([blocks[i] for i in a])
                   for a in arrangements])


def structured_population(init_key: jax.Array, topup_key: jax.Array,
                          length: int, size: int, block: int) -> np.ndarray:
  """The paper's P_b: block permutations of the forward and reverse orders.

  Forward and reverse are cut into blocks of ``block`` (a shorter tail is its
  own block) and every ordering of those m blocks is taken, deduplicated.
  When m! is too large to enumerate (m > 8), ``size`` random block orderings
  of each are drawn instead. More than ``size`` orders: a uniform random
  subset of ``size`` (forward and reverse are not favoured). Fewer: topped up
  with distinct uniform random orders to ``size`` (the paper does not say).

  Returns:
    int64[size, L] (fewer only when L! < size).
  """
  rng = host_rng(init_key)
  bases = [orders_lib.identity(length), orders_lib.reverse(length)]
  num_blocks = len(orders_lib.fixed_size_blocks(bases[0], block))
  parts = []
  for base in bases:
    blocks = orders_lib.fixed_size_blocks(base, block)
    if num_blocks <= 8:
      arrangements = itertools.permutations(range(num_blocks))
    else:
      arrangements = [rng.permutation(num_blocks) for _ in range(size)]
    parts.append(arrange(blocks, arrangements))
  population, _ = orders_lib.unique_orders(np.concatenate(parts))
  if population.shape[0] > size:
    chosen = np.sort(rng.choice(population.shape[0], size, replace=False))
    return population[chosen]
  if population.shape[0] < size:
    extra = sample_distinct(host_rng(topup_key), size - population.shape[0],
                            length, {row.tobytes() for row in population})
    population = np.concatenate([population, extra])
  return population


def inside_block_moves(order: np.ndarray, block: int, cap: int,
                       key: jax.Array) -> np.ndarray:
  """``order`` plus every re-ordering inside one block of size ``block``.

  The order is cut into blocks of ``block`` (a shorter tail is its own
  block); each candidate re-orders one block and leaves the rest. A block
  with more than ``cap`` re-orderings gets the identity plus ``cap - 1``
  distinct uniform ones (drawn from ``fold_in(key, block index)``).
  """
  rows = [order[None]]
  start = 0
  for index, piece in enumerate(orders_lib.fixed_size_blocks(order, block)):
    size = piece.shape[0]
    if size >= 2:
      if math.factorial(size) <= cap:
        inner = np.array(list(itertools.permutations(range(size)))[1:],
                         dtype=np.int64)
      else:
        exclude = {np.arange(size, dtype=np.int64).tobytes()}
        inner = sample_distinct(host_rng(jax.random.fold_in(key, index)),
                                cap - 1, size, exclude)
      moved = np.tile(order, (inner.shape[0], 1))
      moved[:, start:start + size] = piece[inner]
      rows.append(moved)
    start += size
  return orders_lib.unique_orders(np.concatenate(rows))[0]


def block_moves(order: np.ndarray, block: int) -> np.ndarray:
  """``order`` plus all cyclic shifts and pairwise swaps of its blocks."""
  blocks = orders_lib.fixed_size_blocks(order, block)
  m = len(blocks)
  arrangements = [tuple(range(m))]
  arrangements += [tuple((i + s) % m for i in range(m)) for s in range(1, m)]
  for i, j in itertools.combinations(range(m), 2):
    swapped = list(range(m))
    swapped[i], swapped[j] = j, i
    arrangements.append(tuple(swapped))
  return orders_lib.unique_orders(arrange(blocks, arrangements))[0]


def insertion_moves(order: np.ndarray, max_shift: int | None = None
                    ) -> np.ndarray:
  """``order`` first, then every order with one slot moved elsewhere.

  Args:
    order: int[L], L >= 2.
    max_shift: None, or the farthest a slot moves (1: adjacent swaps only).

  Returns:
    int64[num_insertion_moves(L, max_shift), L], deduplicated: moving slot
    i to i+1 and slot i+1 to i give the same adjacent swap.
  """
  order = np.asarray(order, dtype=np.int64)
  length = order.shape[0]
  shift = length if max_shift is None else max_shift
  rows = [order]
  for i in range(length):
    rest = np.delete(order, i)
    for j in range(max(0, i - shift), min(length, i + shift + 1)):
      if j != i:
        rows.append(np.insert(rest, j, order[i]))
  return orders_lib.unique_orders(np.stack(rows))[0]


def num_insertion_moves(length: int, max_shift: int | None = None) -> int:
  """Rows of ``insertion_moves``: 1 + (L-1)^2 unrestricted; with shifts of
  1..w (w = min(max_shift, L-1)), 1 + 2(wL - w(w+1)/2) - (L-1), the L-1
  adjacent swaps counted once."""
  w = length - 1 if max_shift is None else min(max_shift, length - 1)
  return 1 + 2 * (w * length - w * (w + 1) // 2) - (length - 1)


def num_inside_moves(size: int, cap: int) -> int:
  """Re-orderings tried inside one block of ``size``, the identity included."""
  return min(math.factorial(size), cap)


def num_block_moves(num_blocks: int) -> int:
  """Distinct block arrangements: identity, m-1 cyclic shifts, C(m,2) swaps."""
  if num_blocks <= 1:
    return 1
  if num_blocks == 2:
    return 2  # the one shift and the one swap coincide
  return 1 + (num_blocks - 1) + num_blocks * (num_blocks - 1) // 2


def fixed_block_sizes(length: int, block: int) -> list[int]:
  """Sizes of the blocks of ``block`` slots (a shorter tail its own)."""
  return [len(b) for b in orders_lib.fixed_size_blocks(np.arange(length),
                                                        block)]
