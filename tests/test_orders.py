"""Tests of lopro.orders: validation, permutation algebra, blocks, sampling,
enumeration, strings and the Kendall distance."""

import collections
import itertools
import math

import jax
import numpy as np
import pytest

import lopro
from lopro import orders


# ---------------------------------------------------------------------------
# Validation.


def test_validate_order_accepts_permutations_and_copies():
  given = np.array([2, 0, 3, 1], dtype=np.int32)
  out = orders.validate_order(given)
  np.testing.assert_array_equal(out, [2, 0, 3, 1])
  assert out.dtype == np.int64
  out[0] = 99
  assert given[0] == 2  # a copy, not a view
  np.testing.assert_array_equal(orders.validate_order([0], length=1), [0])
  np.testing.assert_array_equal(orders.validate_order((1, 0), length=2),
                                [1, 0])


@pytest.mark.parametrize('order, length, match', [
    ([0, 1, 1], None, r'duplicated \[1\]'),
    ([0, 2, 2, 1, 1], 5, r'not a permutation.*duplicated \[1, 2\]'),
    ([0, 1, 3], None, r'out of range 0\.\.2: \[3\]'),
    ([0, -1, 1], None, r'out of range 0\.\.2: \[-1\]'),
    ([0, 1, 2], 4, r'has length 3, expected 4'),
    ([0.0, 1.0], None, r'integer dtype, got float64'),
    (np.array([0, 1], np.float32), None, r'integer dtype, got float32'),
    ([True, False], None, r'integer dtype, got bool'),
    ([[0, 1], [1, 0]], None, r'1-D int\[L\], got shape \(2, 2\)'),
    (np.zeros((0,), np.int64), None, r'order is empty'),
    (['a', 'b'], None, r'integer dtype'),
])
def test_validate_order_rejects(order, length, match):
  with pytest.raises(ValueError, match=match):
    orders.validate_order(order, length)


def test_validate_orders_accepts_batches():
  batch = [[0, 1, 2], [2, 1, 0], [1, 2, 0]]
  out = orders.validate_orders(batch)
  np.testing.assert_array_equal(out, batch)
  assert out.dtype == np.int64
  assert out.shape == (3, 3)
  np.testing.assert_array_equal(
      orders.validate_orders(np.array([[1, 0]], np.uint8), length=2), [[1, 0]])


@pytest.mark.parametrize('perms, length, match', [
    ([[0, 1, 2], [0, 0, 2]], None, r'perms\[1\] = \[0, 0, 2\].*duplicated'),
    ([[0, 1, 2], [1, 2, 0], [0, 1, 5]], None,
     r'perms\[2\] = \[0, 1, 5\].*out of range 0\.\.2: \[5\]'),
    ([[0, 1, 2]], 4, r'perms have length 3, expected 4'),
    ([[0.0, 1.0]], None, r'integer dtype, got float64'),
    ([[True, False]], None, r'integer dtype, got bool'),
    (np.zeros((0, 3), np.int64), None, r'empty batch'),
    (np.zeros((2, 0), np.int64), None, r'length 0'),
    ([0, 1, 2], None, r'2-D int\[O, L\], got shape \(3,\)'),
    (np.zeros((1, 2, 2), np.int64), None, r'2-D int\[O, L\], got shape'),
    ([[0, 1], [0]], None, r'rectangular int array'),
])
def test_validate_orders_rejects(perms, length, match):
  with pytest.raises(ValueError, match=match):
    orders.validate_orders(perms, length)


def test_validate_orders_empty_list_names_empty_batch():
  with pytest.raises(ValueError, match='empty'):
    orders.validate_orders([])
  with pytest.raises(ValueError, match='empty batch'):
    orders.validate_orders([[]][:0])
  with pytest.raises(ValueError, match='order is empty'):
    orders.validate_order([])


# ---------------------------------------------------------------------------
# Algebra.


def test_identity_and_reverse():
  np.testing.assert_array_equal(orders.identity(4), [0, 1, 2, 3])
  np.testing.assert_array_equal(orders.reverse(4), [3, 2, 1, 0])
  assert orders.identity(3).dtype == np.int64
  assert orders.reverse(3).dtype == np.int64
  np.testing.assert_array_equal(orders.reverse(1), [0])


def test_apply_order_emits_y_at_perm():
  y = np.array([[10, 11, 12, 13], [20, 21, 22, 23]])
  out = orders.apply_order(y, np.array([2, 0, 3, 1]))
  np.testing.assert_array_equal(out, [[12, 10, 13, 11], [22, 20, 23, 21]])
  np.testing.assert_array_equal(orders.apply_order(y, orders.identity(4)), y)
  np.testing.assert_array_equal(orders.apply_order(y, orders.reverse(4)),
                                y[:, ::-1])


@pytest.mark.parametrize('seed', range(5))
def test_invert_order(seed):
  rng = np.random.default_rng(seed)
  order = rng.permutation(7)
  inverse = orders.invert_order(order)
  np.testing.assert_array_equal(inverse[order], np.arange(7))
  np.testing.assert_array_equal(order[inverse], np.arange(7))
  y = rng.integers(-9, 10, size=(3, 7))
  np.testing.assert_array_equal(
      orders.apply_order(orders.apply_order(y, order), inverse), y)


def test_invert_order_hand_example():
  np.testing.assert_array_equal(orders.invert_order([2, 0, 1]), [1, 2, 0])
  np.testing.assert_array_equal(orders.invert_order(orders.reverse(5)),
                                orders.reverse(5))


@pytest.mark.parametrize('seed', range(5))
def test_compose_law(seed):
  rng = np.random.default_rng(seed)
  a, b = rng.permutation(6), rng.permutation(6)
  y = rng.integers(0, 100, size=(4, 6))
  np.testing.assert_array_equal(
      orders.apply_order(orders.apply_order(y, a), b),
      orders.apply_order(y, orders.compose(a, b)))
  np.testing.assert_array_equal(orders.compose(a, orders.invert_order(a)),
                                np.arange(6))
  np.testing.assert_array_equal(orders.compose(a, orders.identity(6)), a)
  np.testing.assert_array_equal(orders.compose(orders.identity(6), a), a)


def test_compose_hand_example():
  # y = [a b c]; first = [1 2 0] gives [b c a]; second = [2 1 0] gives [a c b].
  np.testing.assert_array_equal(orders.compose([1, 2, 0], [2, 1, 0]),
                                [0, 2, 1])


# ---------------------------------------------------------------------------
# Sampling.


def test_sample_orders_are_valid_and_deterministic():
  key = jax.random.key(0)
  perms = orders.sample_orders(key, 50, 6)
  assert perms.shape == (50, 6)
  assert perms.dtype == np.int64
  orders.validate_orders(perms, 6)
  np.testing.assert_array_equal(perms, orders.sample_orders(key, 50, 6))
  other = orders.sample_orders(jax.random.key(1), 50, 6)
  assert not np.array_equal(perms, other)
  assert len(orders.unique_orders(perms)[0]) > 30  # 720 orders, 50 draws


def test_sample_orders_edge_cases():
  assert orders.sample_orders(jax.random.key(0), 0, 3).shape == (0, 3)
  np.testing.assert_array_equal(orders.sample_orders(jax.random.key(0), 3, 1),
                                [[0], [0], [0]])
  with pytest.raises(ValueError, match='-1'):
    orders.sample_orders(jax.random.key(0), -1, 3)
  with pytest.raises(ValueError, match='length >= 1'):
    orders.sample_orders(jax.random.key(0), 2, 0)


def test_sample_orders_roughly_uniform():
  perms = orders.sample_orders(jax.random.key(42), 6000, 3)
  counts = collections.Counter(map(tuple, perms.tolist()))
  assert set(counts) == set(itertools.permutations(range(3)))
  for perm, count in counts.items():
    assert abs(count - 1000) <= 150, (perm, count)
  # Every slot is equally likely in every position.
  for position in range(3):
    slot_counts = np.bincount(perms[:, position], minlength=3)
    assert np.all(np.abs(slot_counts - 2000) <= 200), slot_counts


# ---------------------------------------------------------------------------
# Blocks.


@pytest.mark.parametrize('length, k, expected', [
    (8, 3, [3, 3, 2]),
    (7, 7, [1] * 7),
    (7, 1, [7]),
    (10, 4, [3, 3, 2, 2]),
    (9, 3, [3, 3, 3]),
])
def test_block_sizes(length, k, expected):
  sizes = orders.block_sizes(length, k)
  assert sizes == expected
  assert sum(sizes) == length
  assert max(sizes) - min(sizes) <= 1


@pytest.mark.parametrize('length, k', [(5, 0), (5, 6), (3, -1)])
def test_block_sizes_rejects(length, k):
  with pytest.raises(ValueError, match=rf'num_blocks must be in 1\.\.{length}, '
                     rf'got {k}'):
    orders.block_sizes(length, k)


def test_split_blocks_concatenates_back():
  order = np.array([5, 3, 7, 0, 1, 6, 2, 4])
  blocks = orders.split_blocks(order, 3)
  assert [b.tolist() for b in blocks] == [[5, 3, 7], [0, 1, 6], [2, 4]]
  for k in range(1, 9):
    blocks = orders.split_blocks(order, k)
    assert len(blocks) == k
    np.testing.assert_array_equal(np.concatenate(blocks), order)
    assert [len(b) for b in blocks] == orders.block_sizes(8, k)


def test_fixed_size_blocks_tail():
  blocks = orders.fixed_size_blocks(range(7), 3)
  assert [b.tolist() for b in blocks] == [[0, 1, 2], [3, 4, 5], [6]]
  blocks = orders.fixed_size_blocks([3, 1, 0, 2], 2)
  assert [b.tolist() for b in blocks] == [[3, 1], [0, 2]]
  blocks = orders.fixed_size_blocks([1, 0], 5)
  assert [b.tolist() for b in blocks] == [[1, 0]]
  with pytest.raises(ValueError, match='block_size must be >= 1, got 0'):
    orders.fixed_size_blocks(range(4), 0)


@pytest.mark.parametrize('k', [1, 2, 3, 4])
def test_block_reorderings(k):
  order = np.array([4, 6, 0, 2, 1, 5, 3])
  rows = orders.block_reorderings(order, k)
  assert rows.shape == (math.factorial(k), 7)
  np.testing.assert_array_equal(rows[0], order)
  orders.validate_orders(rows, 7)
  assert len(orders.unique_orders(rows)[0]) == math.factorial(k)
  # Every row is a rearrangement of whole blocks.
  blocks = [tuple(b) for b in orders.split_blocks(order, k)]
  expected = {sum((blocks[i] for i in p), ())
              for p in itertools.permutations(range(k))}
  assert {tuple(row) for row in rows.tolist()} == expected


def test_block_reorderings_hand_example():
  rows = orders.block_reorderings([0, 1, 2, 3, 4], 2)
  np.testing.assert_array_equal(rows, [[0, 1, 2, 3, 4], [3, 4, 0, 1, 2]])


# ---------------------------------------------------------------------------
# Enumeration and deduplication.


@pytest.mark.parametrize('length', [1, 2, 3, 4, 5])
def test_all_orders(length):
  rows = orders.all_orders(length)
  assert rows.shape == (math.factorial(length), length)
  assert rows.dtype == np.int64
  np.testing.assert_array_equal(rows[0], orders.identity(length))
  np.testing.assert_array_equal(rows[-1], orders.reverse(length))
  orders.validate_orders(rows, length)
  assert len({tuple(r) for r in rows.tolist()}) == len(rows)
  assert rows.tolist() == sorted(rows.tolist())  # lexicographic


def test_all_orders_refuses_large_and_zero_length():
  with pytest.raises(ValueError, match=r'length must be in 1\.\.10, got 11 '
                     r'\(39916800 orders\)'):
    orders.all_orders(11)
  with pytest.raises(ValueError, match='got 0'):
    orders.all_orders(0)


@pytest.mark.parametrize('length', [1, 3, 6])
def test_order_index_is_the_row_in_all_orders(length):
  rows = orders.all_orders(length)
  np.testing.assert_array_equal(orders.order_index(rows),
                                np.arange(len(rows)))
  assert orders.order_index(orders.reverse(length)) == len(rows) - 1
  assert isinstance(orders.order_index(rows[len(rows) // 2]), int)


def test_order_index_rejects_non_permutations():
  with pytest.raises(ValueError, match='permutation'):
    orders.order_index([0, 0, 1])


def test_unique_orders_keeps_first_occurrences_in_sequence():
  batch = np.array([[2, 1, 0], [0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 1, 2],
                    [1, 2, 0]])
  unique, index = orders.unique_orders(batch)
  np.testing.assert_array_equal(index, [0, 1, 3, 5])
  np.testing.assert_array_equal(
      unique, [[2, 1, 0], [0, 1, 2], [1, 0, 2], [1, 2, 0]])
  np.testing.assert_array_equal(unique, batch[index])
  assert unique.dtype == np.int64


def test_unique_orders_no_duplicates_is_identity():
  batch = orders.all_orders(3)[::-1]
  unique, index = orders.unique_orders(batch)
  np.testing.assert_array_equal(unique, batch)
  np.testing.assert_array_equal(index, np.arange(6))


# ---------------------------------------------------------------------------
# Strings and distances.


def test_order_to_string():
  assert orders.order_to_string([2, 0, 1]) == '2 0 1'
  assert orders.order_to_string([0, 1, 2, 3, 4],
                                blocks=[3, 2]) == '0 1 2 | 3 4'
  assert orders.order_to_string(np.array([4, 3, 2, 1, 0]),
                                blocks=[1, 1, 3]) == '4 | 3 | 2 1 0'
  with pytest.raises(ValueError, match=r'block sizes \[2, 2\] do not sum to '
                     r'5'):
    orders.order_to_string(range(5), blocks=[2, 2])


@pytest.mark.parametrize('seed', range(3))
def test_order_string_round_trip(seed):
  order = np.random.default_rng(seed).permutation(9)
  for blocks in (None, [3, 3, 3], [5, 4], [1] * 9):
    text = orders.order_to_string(order, blocks=blocks)
    np.testing.assert_array_equal(orders.order_from_string(text), order)


def test_order_from_string_accepts_commas_and_rejects_bad_text():
  np.testing.assert_array_equal(orders.order_from_string('2, 0,1 | 3'),
                                [2, 0, 1, 3])
  with pytest.raises(ValueError, match="cannot parse order from '0 x 1'"):
    orders.order_from_string('0 x 1')
  with pytest.raises(ValueError, match='duplicated'):
    orders.order_from_string('0 1 1')


def test_kendall_distance():
  for length in (1, 2, 5, 8):
    ident = orders.identity(length)
    assert orders.kendall_distance(ident, ident) == 0
    assert orders.kendall_distance(ident, orders.reverse(length)) == (
        length * (length - 1) // 2)
  # [1, 0, 2] vs [0, 2, 1]: pairs (0,1) and (1,2) swapped, (0,2) agrees.
  assert orders.kendall_distance([1, 0, 2], [0, 2, 1]) == 2
  assert orders.kendall_distance([0, 2, 1], [1, 0, 2]) == 2
  # One adjacent swap is distance one.
  assert orders.kendall_distance([0, 1, 2, 3], [0, 2, 1, 3]) == 1
  with pytest.raises(ValueError, match='differ in length: 3 vs 4'):
    orders.kendall_distance([0, 1, 2], [0, 1, 2, 3])


def _pair_count(a, b):
  pos_a, pos_b = orders.invert_order(a), orders.invert_order(b)
  return sum((pos_a[i] < pos_a[j]) != (pos_b[i] < pos_b[j])
             for i, j in itertools.combinations(range(len(a)), 2))


@pytest.mark.parametrize('length', [2, 3, 6, 13, 40])
def test_kendall_distance_matches_pair_count(length):
  # scipy's tau is a float: the distance must still be the exact count, up
  # to lengths with hundreds of pairs.
  rng = np.random.default_rng(length)
  for _ in range(10):
    a, b = rng.permutation(length), rng.permutation(length)
    expected = _pair_count(a, b)
    assert orders.kendall_distance(a, b) == expected
    assert orders.kendall_distance(b, a) == expected
    assert isinstance(orders.kendall_distance(a, b), int)


def test_kendall_distance_is_a_metric_on_small_orders():
  rows = orders.all_orders(4)
  d = np.array([[orders.kendall_distance(a, b) for b in rows] for a in rows])
  np.testing.assert_array_equal(d, d.T)
  assert np.all(np.diag(d) == 0) and np.all(d[~np.eye(24, dtype=bool)] > 0)
  assert d.max() == 6
  # Triangle inequality d(a, c) <= d(a, b) + d(b, c) on all triples [a, b, c].
  assert np.all(d[:, None, :] <= d[:, :, None] + d[None, :, :])
  # The number of orders at each distance from the identity: the Mahonian
  # numbers 1, 3, 5, 6, 5, 3, 1.
  np.testing.assert_array_equal(np.bincount(d[0]), [1, 3, 5, 6, 5, 3, 1])


def test_kendall_distance_rejects_non_permutations():
  with pytest.raises(ValueError, match='duplicated'):
    orders.kendall_distance([0, 1, 1], [0, 1, 2])
  with pytest.raises(ValueError, match='integer dtype'):
    orders.kendall_distance([0.0, 1.0], [0, 1])


# A diamond: 0 -> {1, 2} -> 3, and 4 free.
DIAMOND = ((), (0,), (0,), (1, 2), ())


def test_topological_sorts_are_enumerated_when_few():
  assert orders.count_topological_sorts(DIAMOND) == 10
  every = orders.topological_sorts(DIAMOND, 10)
  assert every.shape == (10, 5) and len({tuple(r) for r in every.tolist()}) == 10
  assert all(orders.is_topological(row, DIAMOND) for row in every)
  # Brute force: exactly these 10 of the 120 orders are valid.
  valid = [tuple(p) for p in orders.all_orders(5).tolist()
           if orders.is_topological(p, DIAMOND)]
  assert sorted(valid) == sorted(tuple(r) for r in every.tolist())
  assert not orders.is_topological([1, 0, 2, 3, 4], DIAMOND)


def test_topological_sorts_are_sampled_when_many():
  free = ((),) * 9  # 9! sorts
  sample = orders.topological_sorts(free, 50, key=jax.random.key(3))
  assert sample.shape == (50, 9) and len({tuple(r) for r in sample.tolist()}
                                         ) == 50
  again = orders.topological_sorts(free, 50, key=jax.random.key(3))
  np.testing.assert_array_equal(sample, again)  # a function of the key
  chain = tuple(((i - 1,) if i else ()) for i in range(30))  # L > 16
  np.testing.assert_array_equal(orders.topological_sorts(chain, 5),
                                np.arange(30)[None])


def test_a_cycle_has_no_topological_sort():
  cycle = ((2,), (0,), (1,))
  assert not orders.is_acyclic(cycle) and orders.is_acyclic(DIAMOND)
  assert orders.topological_sorts(cycle, 4).shape == (0, 3)
  assert orders.count_topological_sorts(cycle) == 0
  with pytest.raises(ValueError, match='num must be an int >= 1'):
    orders.topological_sorts(DIAMOND, 0)


def test_topological_repair_moves_slots_after_their_dependencies():
  # A valid order is kept; 3 waits for 1 and 2, 1 and 2 wait for 0.
  np.testing.assert_array_equal(
      orders.topological_repair([4, 0, 2, 1, 3], DIAMOND), [4, 0, 2, 1, 3])
  np.testing.assert_array_equal(
      orders.topological_repair([3, 1, 4, 0, 2], DIAMOND), [4, 0, 1, 2, 3])
  every = np.array(list(itertools.permutations(range(5))))
  repaired = orders.topological_repair(every, DIAMOND)
  assert repaired.shape == (120, 5) and repaired.dtype == np.int64
  assert all(orders.is_topological(row, DIAMOND) for row in repaired)
  valid = [orders.is_topological(p, DIAMOND) for p in every]
  np.testing.assert_array_equal(repaired[valid], every[valid])
  # Every valid order is the repair of itself and of nothing valid else.
  assert len({tuple(r) for r in repaired.tolist()}) == 10
  task = lopro.get_task('relu', 4, chain=[2, 0, 3, 1])
  np.testing.assert_array_equal(
      orders.topological_repair(np.arange(4), task), [2, 0, 3, 1])
  with pytest.raises(ValueError, match='has a cycle'):
    orders.topological_repair([0, 1, 2], ((2,), (0,), (1,)))
  with pytest.raises(ValueError, match='states no dependency graph'):
    orders.topological_repair(np.arange(4), lopro.get_task('prod', 4))
  with pytest.raises(ValueError, match='not a permutation'):
    orders.topological_repair([0, 0, 1, 2, 3], DIAMOND)
