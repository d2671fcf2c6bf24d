"""Tests of lopro.neighbourhoods: moves, populations and distinct sampling."""

import collections
import itertools
import math

import jax
import numpy as np
import pytest

from lopro import neighbourhoods as nb
from lopro import orders


def rows(array):
  return {tuple(r) for r in np.asarray(array).tolist()}


def is_one_insertion(row, order):
  """Whether ``row`` is ``order`` with exactly one slot moved."""
  return any(np.array_equal(np.delete(row, np.flatnonzero(row == s)),
                            np.delete(order, np.flatnonzero(order == s)))
             for s in order)


# ---------------------------------------------------------------------------
# Randomness.


def test_host_rng_is_a_deterministic_function_of_the_key():
  a = nb.host_rng(jax.random.key(0)).integers(0, 10**9, 5)
  b = nb.host_rng(jax.random.key(0)).integers(0, 10**9, 5)
  c = nb.host_rng(jax.random.key(1)).integers(0, 10**9, 5)
  d = nb.host_rng(jax.random.fold_in(jax.random.key(0), 1)).integers(
      0, 10**9, 5)
  np.testing.assert_array_equal(a, b)
  assert not np.array_equal(a, c) and not np.array_equal(a, d)


@pytest.mark.parametrize('length, num', [(3, 4), (6, 100), (6, 720), (12, 50),
                                         (25, 30)])
def test_sample_distinct_gives_distinct_permutations(length, num):
  out = nb.sample_distinct(np.random.default_rng(0), num, length)
  assert out.dtype == np.int64
  assert out.shape == (min(num, math.factorial(length)), length)
  orders.validate_orders(out, length)
  assert len(rows(out)) == out.shape[0]
  again = nb.sample_distinct(np.random.default_rng(0), num, length)
  np.testing.assert_array_equal(out, again)


def test_sample_distinct_honours_exclude_and_runs_out():
  everything = orders.all_orders(4)
  exclude = {row.tobytes() for row in everything[:20]}
  out = nb.sample_distinct(np.random.default_rng(1), 10, 4, exclude)
  # Only 4 of the 24 orders are not excluded.
  assert rows(out) == rows(everything[20:])
  assert out.shape == (4, 4)
  assert nb.sample_distinct(np.random.default_rng(1), 5, 3,
                            {r.tobytes() for r in orders.all_orders(3)}
                            ).shape == (0, 3)
  assert nb.sample_distinct(np.random.default_rng(1), 0, 9).shape == (0, 9)
  # The rejection path (L = 9) excludes too.
  exclude = {orders.identity(9).tobytes()}
  out = nb.sample_distinct(np.random.default_rng(2), 200, 9, exclude)
  assert out.shape == (200, 9)
  assert tuple(range(9)) not in rows(out)


def test_sample_distinct_is_uniform():
  # Half of the 24 orders, 3,000 times: every order about 1,500 times, on
  # both the enumeration path (L = 4) and, for L = 9 slots, every slot in
  # every position.
  counts = collections.Counter()
  rng = np.random.default_rng(3)
  for _ in range(3000):
    counts.update(rows(nb.sample_distinct(rng, 12, 4)))
  assert len(counts) == 24
  assert all(1350 < c < 1650 for c in counts.values()), counts
  big = nb.sample_distinct(np.random.default_rng(4), 9000, 9)
  for position in range(9):
    slot_counts = np.bincount(big[:, position], minlength=9)
    assert np.all(np.abs(slot_counts - 1000) < 150), slot_counts


# ---------------------------------------------------------------------------
# Insertion moves.


def test_insertion_candidates_are_single_moves():
  order = np.array([1, 2, 3, 4, 5, 6, 0, 7])
  cands = nb.insertion_moves(order)
  assert cands.shape == (1 + 7 * 7, 8)  # (L-1)^2 distinct moves + current
  assert cands.dtype == np.int64
  np.testing.assert_array_equal(cands[0], order)
  assert len(rows(cands)) == cands.shape[0]
  assert (0, 1, 2, 3, 4, 5, 6, 7) in rows(cands)  # 0 moved to the front
  for row in cands[1:]:
    assert is_one_insertion(row, order)


@pytest.mark.parametrize('length', [1, 2, 3, 5])
def test_insertion_moves_are_the_whole_neighbourhood(length):
  order = np.random.default_rng(length).permutation(length)
  cands = nb.insertion_moves(order)
  assert cands.shape == (1 + (length - 1) ** 2, length)
  # Brute force: every order one insertion away (or the order itself).
  expected = {tuple(order)} | {
      tuple(r) for r in orders.all_orders(length).tolist()
      if is_one_insertion(np.array(r), order)}
  assert rows(cands) == expected


@pytest.mark.parametrize('length, max_shift', [(2, 1), (5, 1), (5, 2),
                                               (6, 3), (6, 5), (5, 9)])
def test_restricted_insertion_moves_are_the_moves_of_at_most_w(length,
                                                               max_shift):
  order = np.random.default_rng(length + max_shift).permutation(length)
  cands = nb.insertion_moves(order, max_shift)
  assert cands.shape == (nb.num_insertion_moves(length, max_shift), length)
  np.testing.assert_array_equal(cands[0], order)
  # Brute force: slot order[i] moved to j with 1 <= |i - j| <= w.
  expected = {tuple(order)}
  for i in range(length):
    for j in range(length):
      if 1 <= abs(i - j) <= max_shift:
        expected.add(tuple(np.insert(np.delete(order, i), j, order[i])))
  assert rows(cands) == expected


def test_num_insertion_moves():
  assert nb.num_insertion_moves(8) == 50
  assert nb.num_insertion_moves(8, 7) == nb.num_insertion_moves(8, 100) == 50
  assert nb.num_insertion_moves(40, 1) == 40  # the 39 adjacent swaps
  assert nb.num_insertion_moves(40, 2) == 1 + 39 + 2 * 38


# ---------------------------------------------------------------------------
# Block moves.


def test_inside_block_moves_reorder_one_block_each():
  order = np.array([5, 3, 7, 0, 1, 6, 2, 4])
  moves = nb.inside_block_moves(order, 3, 100, jax.random.key(0))
  np.testing.assert_array_equal(moves[0], order)
  # Blocks [5 3 7], [0 1 6], [2 4]: 5 + 5 + 1 re-orderings and the order.
  assert moves.shape == (12, 8) and len(rows(moves)) == 12
  blocks = [(0, 3), (3, 6), (6, 8)]
  expected = {tuple(order)}
  for a, b in blocks:
    for p in itertools.permutations(order[a:b]):
      expected.add(tuple(order[:a]) + p + tuple(order[b:]))
  assert rows(moves) == expected
  assert moves.shape[0] == 1 + sum(nb.num_inside_moves(s, 100) - 1
                                   for s in nb.fixed_block_sizes(8, 3))


def test_large_blocks_are_subsampled_deterministically():
  # L = 18, blocks of 9: 9! = 362,880 re-orderings each, capped at 100.
  order = np.random.default_rng(0).permutation(18)
  moves = nb.inside_block_moves(order, 9, 100, jax.random.key(1))
  assert moves.shape == (1 + 2 * 99, 18) == (
      1 + sum(nb.num_inside_moves(s, 100) - 1
              for s in nb.fixed_block_sizes(18, 9)), 18)
  assert len(rows(moves)) == moves.shape[0]
  np.testing.assert_array_equal(moves[0], order)
  for row in moves[1:]:
    changed = [i for i in (0, 1) if not np.array_equal(
        row[9 * i:9 * i + 9], order[9 * i:9 * i + 9])]
    assert len(changed) == 1
    i = changed[0]
    assert sorted(row[9 * i:9 * i + 9]) == sorted(order[9 * i:9 * i + 9])
  np.testing.assert_array_equal(
      moves, nb.inside_block_moves(order, 9, 100, jax.random.key(1)))
  other = nb.inside_block_moves(order, 9, 100, jax.random.key(2))
  assert rows(other) != rows(moves)


def test_block_moves_are_shifts_and_swaps():
  order = np.array([7, 1, 4, 0, 6, 2, 5, 3])
  moves = nb.block_moves(order, 2)
  np.testing.assert_array_equal(moves[0], order)
  pieces = [tuple(order[i:i + 2]) for i in range(0, 8, 2)]
  arrangements = [tuple((i + s) % 4 for i in range(4)) for s in range(4)]
  for i, j in itertools.combinations(range(4), 2):
    a = list(range(4))
    a[i], a[j] = j, i
    arrangements.append(tuple(a))
  expected = {sum((pieces[i] for i in a), ()) for a in arrangements}
  assert rows(moves) == expected and len(moves) == 10


@pytest.mark.parametrize('length, block', [(8, 8), (8, 4), (8, 3), (9, 3),
                                           (10, 2), (7, 1)])
def test_block_move_counts(length, block):
  order = np.random.default_rng(length + block).permutation(length)
  sizes = nb.fixed_block_sizes(length, block)
  assert sum(sizes) == length and all(s == block for s in sizes[:-1])
  assert 1 <= sizes[-1] <= block
  moves = nb.block_moves(order, block)
  assert moves.shape == (nb.num_block_moves(len(sizes)), length)
  assert len(rows(moves)) == moves.shape[0]
  np.testing.assert_array_equal(moves[0], order)


def test_move_counts():
  assert [nb.num_block_moves(m) for m in range(1, 6)] == [1, 2, 6, 10, 15]
  assert nb.num_inside_moves(3, 100) == 6
  assert nb.num_inside_moves(5, 100) == 100
  assert nb.num_inside_moves(1, 100) == 1
  assert nb.fixed_block_sizes(7, 3) == [3, 3, 1]
  assert nb.fixed_block_sizes(4, 5) == [4]


# ---------------------------------------------------------------------------
# Structured populations.


def structured_orders(length, block):
  out = set()
  for base in (orders.identity(length), orders.reverse(length)):
    blocks = orders.fixed_size_blocks(base, block)
    for p in itertools.permutations(range(len(blocks))):
      out.add(tuple(np.concatenate([blocks[i] for i in p])))
  return out


def test_structured_init_holds_forward_and_reverse_block_permutations():
  # L=12, b=5: blocks [0..4],[5..9],[10,11] -> 3! orderings of forward and of
  # reverse = 12 orders; a size of 6 takes a uniform subset of them.
  population = nb.structured_population(jax.random.key(0), jax.random.key(1),
                                        12, 6, 5)
  assert population.shape == (6, 12) and len(rows(population)) == 6
  assert rows(population) <= structured_orders(12, 5)
  again = nb.structured_population(jax.random.key(0), jax.random.key(1), 12,
                                   6, 5)
  np.testing.assert_array_equal(population, again)
  # Forward and reverse are not favoured: over keys, every one of the 12
  # is picked.
  picked = set()
  for seed in range(20):
    picked |= rows(nb.structured_population(jax.random.key(seed),
                                            jax.random.key(1), 12, 6, 5))
  assert picked == structured_orders(12, 5)


def test_structured_population_is_topped_up_with_distinct_orders():
  # L=8, b=5: [0..4],[5..7] -> 2 + 2 structured orders, topped up with
  # distinct random orders to 120.
  population = nb.structured_population(jax.random.key(0), jax.random.key(1),
                                        8, 120, 5)
  assert population.shape == (120, 8) and len(rows(population)) == 120
  assert rows(population[:4]) == structured_orders(8, 5) == {
      (0, 1, 2, 3, 4, 5, 6, 7), (5, 6, 7, 0, 1, 2, 3, 4),
      (7, 6, 5, 4, 3, 2, 1, 0), (2, 1, 0, 7, 6, 5, 4, 3)}
  orders.validate_orders(population, 8)
  other = nb.structured_population(jax.random.key(0), jax.random.key(2), 8,
                                   120, 5)
  np.testing.assert_array_equal(other[:4], population[:4])
  assert not np.array_equal(other[4:], population[4:])
  # Fewer orders exist than asked for: all of them.
  small = nb.structured_population(jax.random.key(0), jax.random.key(1), 3,
                                   10, 1)
  assert rows(small) == rows(orders.all_orders(3))


def test_structured_population_with_many_blocks_draws_arrangements():
  # L=20, b=2: 10 blocks, 10! arrangements: drawn, not enumerated.
  population = nb.structured_population(jax.random.key(0), jax.random.key(1),
                                        20, 50, 2)
  assert population.shape == (50, 20) and len(rows(population)) == 50
  for row in population:
    pairs = row.reshape(10, 2)
    # Every block is a consecutive pair, ascending or descending.
    assert np.all(np.abs(pairs[:, 0] - pairs[:, 1]) == 1)
    assert np.all(np.sort(pairs, axis=1)[:, 0] % 2 == 0)
