"""Generation orders (permutations of target slots) and their algebra.

An *order* ``perm`` is an int array of length L that lists target slots in the
order the model emits them: the model emits ``y[perm[0]], y[perm[1]], ...``,
i.e. ``apply_order(y, perm) == y[..., perm]``. ``identity(L)`` is the stored
order. Everything here is plain numpy on the host except ``sample_orders``,
which takes a JAX key so that populations are reproducible from a seed.

Dimension letters: O orders, L target length, k number of blocks.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import jax
import numpy as np

# Enumerating all L! orders above this length would not fit in memory.
MAX_ENUMERATE_LENGTH = 10


def _as_int_array(orders, what: str) -> np.ndarray:
  """A numpy int64 array; refuses floats, bools and ragged input."""
  try:
    array = np.asarray(orders)
  except ValueError as e:  # ragged nested lists
    raise ValueError(f'{what} must be a rectangular int array: {e}') from None
  if array.size == 0 and array.dtype == np.float64:
    array = array.astype(np.int64)  # np.asarray([]) is float64: say "empty"
  if array.dtype == object:
    raise ValueError(f'{what} must be a rectangular int array, got ragged '
                     'or non-numeric input')
  if array.dtype == bool or not np.issubdtype(array.dtype, np.integer):
    raise ValueError(f'{what} must have an integer dtype, got {array.dtype} '
                     '(float or bool orders are ambiguous)')
  return array.astype(np.int64)


def _check_permutation(row: np.ndarray, length: int, where: str) -> None:
  if row.shape[-1] != length:
    raise ValueError(f'{where} has length {row.shape[-1]}, expected {length}')
  bad = row[(row < 0) | (row >= length)]
  if bad.size:
    raise ValueError(f'{where} has entries out of range 0..{length - 1}: '
                     f'{sorted(set(bad.tolist()))}')
  values, counts = np.unique(row, return_counts=True)
  if np.any(counts > 1):
    raise ValueError(f'{where} is not a permutation of 0..{length - 1}: '
                     f'duplicated {values[counts > 1].tolist()}')


def validate_order(order, length: int | None = None) -> np.ndarray:
  """Checks that ``order`` is a permutation of ``0..L-1``.

  Args:
    order: int[L], a sequence or array.
    length: expected L; defaults to ``len(order)``.

  Returns:
    int64[L], a copy of the order.

  Raises:
    ValueError: not 1-D, empty, float dtype, wrong length, out-of-range or
      duplicated entries.
  """
  array = _as_int_array(order, 'order')
  if array.ndim != 1:
    raise ValueError(f'order must be 1-D int[L], got shape {array.shape}')
  if array.size == 0:
    raise ValueError('order is empty')
  _check_permutation(array, array.size if length is None else length, 'order')
  return array


def validate_orders(orders, length: int | None = None) -> np.ndarray:
  """Checks a batch of orders, each a permutation of ``0..L-1``.

  Args:
    orders: int[O, L].
    length: expected L; defaults to ``orders.shape[1]``.

  Returns:
    int64[O, L], a copy.

  Raises:
    ValueError: an empty batch, wrong rank, float dtype, wrong length, or any
      row that is not a permutation (the message names the row).
  """
  array = _as_int_array(orders, 'perms')
  if array.ndim <= 1 and array.size == 0:
    raise ValueError('perms is an empty batch: give at least one order')
  if array.ndim != 2:
    raise ValueError(f'perms must be 2-D int[O, L], got shape {array.shape}')
  if array.shape[0] == 0:
    raise ValueError('perms is an empty batch: give at least one order')
  if array.shape[1] == 0:
    raise ValueError('perms has length 0')
  length = array.shape[1] if length is None else length
  if array.shape[1] != length:
    raise ValueError(f'perms have length {array.shape[1]}, expected {length}')
  for i, row in enumerate(array):
    _check_permutation(row, length, f'perms[{i}] = {row.tolist()}')
  return array


def identity(length: int) -> np.ndarray:
  """The stored order ``[0, 1, ..., L-1]``."""
  return np.arange(length, dtype=np.int64)


def reverse(length: int) -> np.ndarray:
  """The reverse order ``[L-1, ..., 0]``."""
  return np.arange(length - 1, -1, -1, dtype=np.int64)


def apply_order(values, order):
  """Puts the last axis of ``values`` [..., L] in generation order ``order``."""
  return values[..., order]


def invert_order(order) -> np.ndarray:
  """The inverse permutation: ``invert_order(o)[o] == arange(L)``.

  ``apply_order(apply_order(y, o), invert_order(o)) == y``, which maps a
  sequence generated in order ``o`` back to stored order.
  """
  order = np.asarray(order)
  inverse = np.empty_like(order)
  inverse[order] = np.arange(order.shape[-1])
  return inverse


def compose(first, second) -> np.ndarray:
  """The order that applies ``first`` and then ``second``.

  ``apply_order(apply_order(y, first), second) ==
  apply_order(y, compose(first, second))``.
  """
  return np.asarray(first)[np.asarray(second)]


def sample_orders(key: jax.Array, num: int, length: int) -> np.ndarray:
  """Uniformly random orders.

  Args:
    key: PRNG key.
    num: O, how many orders.
    length: L.

  Returns:
    int64[O, L].
  """
  if num < 0 or length < 1:
    raise ValueError(f'need num >= 0 and length >= 1, got {num}, {length}')
  keys = jax.random.split(key, num)
  perms = jax.vmap(lambda k: jax.random.permutation(k, length))(keys)
  return np.asarray(perms, dtype=np.int64).reshape(num, length)


def block_sizes(length: int, num_blocks: int) -> list[int]:
  """Sizes of ``num_blocks`` contiguous blocks of ``length``; larger first.

  Sizes differ by at most one, e.g. ``block_sizes(8, 3) == [3, 3, 2]``.
  """
  if not 1 <= num_blocks <= length:
    raise ValueError(f'num_blocks must be in 1..{length}, got {num_blocks}')
  base, extra = divmod(length, num_blocks)
  return [base + 1] * extra + [base] * (num_blocks - extra)


def split_blocks(order, num_blocks: int) -> list[np.ndarray]:
  """Splits an order into contiguous blocks whose sizes differ by at most one.

  Args:
    order: int[L].
    num_blocks: k.

  Returns:
    k arrays, the pieces of ``order`` in sequence (larger blocks first).
  """
  order = np.asarray(order)
  bounds = np.cumsum([0] + block_sizes(order.shape[-1], num_blocks))
  return [order[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def fixed_size_blocks(order, block_size: int) -> list[np.ndarray]:
  """Splits an order into blocks of ``block_size``; a shorter tail is its own.

  ``fixed_size_blocks(range(7), 3)`` gives ``[0 1 2], [3 4 5], [6]``.
  """
  order = np.asarray(order)
  if block_size < 1:
    raise ValueError(f'block_size must be >= 1, got {block_size}')
  return [order[i:i + block_size]
          for i in range(0, order.shape[-1], block_size)]


def block_reorderings(order, num_blocks: int) -> np.ndarray:
  """All orderings of the ``num_blocks`` contiguous blocks of ``order``.

  Args:
    order: int[L].
    num_blocks: k.

  Returns:
    int64[k!, L]; row 0 is ``order`` itself (blocks in place), the rows follow
    ``itertools.permutations`` of the block indices.
  """
  blocks = split_blocks(order, num_blocks)
  return np.stack([np.concatenate([blocks[i] for i in p])
                   for p in itertools.permutations(range(num_blocks))])


def all_orders(length: int) -> np.ndarray:
  """All L! orders in lexicographic order (identity first).

  Raises:
    ValueError: ``length`` above ``MAX_ENUMERATE_LENGTH``.
  """
  if not 1 <= length <= MAX_ENUMERATE_LENGTH:
    raise ValueError(f'all_orders enumerates L! orders; length must be in '
                     f'1..{MAX_ENUMERATE_LENGTH}, got {length} '
                     f'({math.factorial(max(length, 0))} orders)')
  return np.array(list(itertools.permutations(range(length))), dtype=np.int64)


def order_index(orders) -> np.ndarray | int:
  """Lexicographic rank of orders: their row index in ``all_orders(L)``.

  Args:
    orders: int[L] or int[O, L].

  Returns:
    An int for one order, int64[O] for a batch (the Lehmer code read as a
    factorial-base number), so ``all_orders(L)[order_index(o)] == o``.
  """
  single = np.ndim(orders) == 1
  orders = validate_orders(np.atleast_2d(orders))
  length = orders.shape[1]
  index = np.zeros(orders.shape[0], np.int64)
  for i in range(length):
    smaller_later = (orders[:, i + 1:] < orders[:, i:i + 1]).sum(axis=1)
    index = index * (length - i) + smaller_later
  return int(index[0]) if single else index


def unique_orders(orders) -> tuple[np.ndarray, np.ndarray]:
  """Drops repeated rows, keeping first occurrences in their original sequence.

  Args:
    orders: int[O, L].

  Returns:
    (unique int64[U, L], index int[U]) with ``unique == orders[index]``.
  """
  orders = np.asarray(orders, dtype=np.int64)
  _, first = np.unique(orders, axis=0, return_index=True)
  index = np.sort(first)
  return orders[index], index


def order_to_string(order, blocks: Sequence[int] | None = None) -> str:
  """Readable form, e.g. ``'0 1 2 | 3 4'`` when ``blocks=[3, 2]``.

  Args:
    order: int[L].
    blocks: optional block sizes summing to L; drawn as ``|`` separators.
  """
  order = np.asarray(order).tolist()
  if blocks is None:
    return ' '.join(map(str, order))
  if sum(blocks) != len(order):
    raise ValueError(f'block sizes {list(blocks)} do not sum to {len(order)}')
  parts, start = [], 0
  for size in blocks:
    parts.append(' '.join(map(str, order[start:start + size])))
    start += size
  return ' | '.join(parts)


def order_from_string(text: str) -> np.ndarray:
  """Parses ``order_to_string`` output (spaces, commas and ``|`` all split)."""
  tokens = text.replace('|', ' ').replace(',', ' ').split()
  try:
    values = [int(t) for t in tokens]
  except ValueError:
    raise ValueError(f'cannot parse order from {text!r}') from None
  return validate_order(values)


def kendall_distance(a, b) -> int:
  """Number of slot pairs that ``a`` and ``b`` emit in opposite sequence."""
  a, b = validate_order(a), validate_order(b)
  if a.size != b.size:
    raise ValueError(f'orders differ in length: {a.size} vs {b.size}')
  # Every slot pair (i, j), i < j, once: discordant when a and b emit the
  # two in opposite sequence.
  pos_a, pos_b = invert_order(a), invert_order(b)
  i, j = np.triu_indices(a.size, 1)
  return int(np.sum((pos_a[i] < pos_a[j]) != (pos_b[i] < pos_b[j])))


def dependency_graph(graph) -> tuple[tuple[int, ...], ...]:
  """The graph of a task (``depends_on``) or the graph itself."""
  depends_on = getattr(graph, 'depends_on', graph)
  if depends_on is None:
    raise ValueError(f'{getattr(graph, "name", graph)!r} states no '
                     'dependency graph (Task.depends_on is None)')
  return tuple(tuple(int(j) for j in parents) for parents in depends_on)


def is_topological(order, graph) -> bool:
  """Whether ``order`` emits every slot after the slots it depends on.

  Args:
    order: int[L].
    graph: a Task with ``depends_on``, or ``depends_on`` itself (for every
      slot, the slots it depends on).
  """
  depends_on = dependency_graph(graph)
  position = invert_order(validate_order(order, len(depends_on)))
  return all(position[j] < position[i] for i, parents in enumerate(depends_on)
             for j in parents)


def topological_repair(perms, graph) -> np.ndarray:
  """The topological sort nearest each order: Kahn's algorithm emitting,
  each step, the ready slot (its dependencies emitted) that comes first in
  the order. A valid order is returned unchanged.

  Args:
    perms: int[L] or int[N, L] orders.
    graph: a Task with ``depends_on``, or ``depends_on`` itself.

  Returns:
    int64 of the shape of ``perms``: topological sorts.

  Raises:
    ValueError: a task without a dependency graph, a graph with a cycle or
      of another length, or rows that are not permutations.
  """
  depends_on = dependency_graph(graph)
  if not is_acyclic(depends_on):
    raise ValueError(f'the dependency graph has a cycle: {depends_on!r}')
  perms = np.asarray(perms)
  rows = validate_orders(np.atleast_2d(perms), len(depends_on))
  out = np.empty_like(rows)
  for r, order in enumerate(rows):
    position = invert_order(order)
    emitted = np.zeros(len(depends_on), bool)
    for step in range(len(depends_on)):
      ready = [i for i in range(len(depends_on)) if not emitted[i]
               and all(emitted[j] for j in depends_on[i])]
      out[r, step] = slot = min(ready, key=position.__getitem__)
      emitted[slot] = True
  return out.reshape(perms.shape)


def is_acyclic(graph) -> bool:
  """Whether a dependency graph has a topological sort (Kahn's algorithm)."""
  depends_on = dependency_graph(graph)
  remaining = [set(parents) for parents in depends_on]
  ready = [i for i, parents in enumerate(remaining) if not parents]
  emitted = 0
  while ready:
    i = ready.pop()
    emitted += 1
    for c, parents in enumerate(remaining):
      if i in parents:
        parents.discard(i)
        if not parents:
          ready.append(c)
  return emitted == len(depends_on)


# Topological sorts are counted exactly (2^L subsets) up to this length.
MAX_COUNT_LENGTH = 16


def count_topological_sorts(graph) -> int:
  """The number of topological sorts (linear extensions) of a dependency
  graph, by dynamic programming over the sets of emitted slots
  (L <= ``MAX_COUNT_LENGTH``)."""
  depends_on = dependency_graph(graph)
  length = len(depends_on)
  if length > MAX_COUNT_LENGTH:
    raise ValueError(f'counting topological sorts is limited to L <= '
                     f'{MAX_COUNT_LENGTH}, got {length}')
  need = [sum(1 << j for j in parents) for parents in depends_on]
  ways = [0] * (1 << length)
  ways[0] = 1
  for done in range(1 << length):
    if ways[done]:
      for i in range(length):
        if not done >> i & 1 and need[i] & done == need[i]:
          ways[done | 1 << i] += ways[done]
  return ways[-1]


def topological_sorts(graph, num: int, key: jax.Array | None = None
                      ) -> np.ndarray:
  """Valid generation orders of a dependency graph: all, or a sample.

  When the graph has at most ``num`` topological sorts (counted exactly up
  to L = ``MAX_COUNT_LENGTH``) they are all returned, in lexicographic
  order. Otherwise ``num`` distinct sorts are drawn: each by Kahn's
  algorithm with a uniformly random choice among the slots whose
  dependencies are emitted (not uniform over
  all sorts, but every sort can come out), from a numpy Generator seeded
  from ``key`` (``jax.random.key(0)`` if None).

  Args:
    graph: a Task with ``depends_on``, or ``depends_on`` itself.
    num: N, the most orders wanted.
    key: PRNG key of the sample.

  Returns:
    int64[N', L] distinct topological sorts, N' <= N; N' = 0 when the graph
    has a cycle.

  Raises:
    ValueError: a task without a dependency graph, or ``num`` < 1.
  """
  depends_on = dependency_graph(graph)
  length = len(depends_on)
  if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or (
      num < 1):
    raise ValueError(f'num must be an int >= 1, got {num!r}')
  children = [[] for _ in range(length)]
  for i, parents in enumerate(depends_on):
    for j in parents:
      children[j].append(i)
  indegree = [len(set(parents)) for parents in depends_on]

  def extend(prefix, indegree, out):
    if len(out) >= num + 1:
      return
    if len(prefix) == length:
      out.append(list(prefix))
      return
    for i in range(length):
      if indegree[i] == 0 and i not in prefix:
        for c in children[i]:
          indegree[c] -= 1
        prefix.append(i)
        extend(prefix, indegree, out)
        prefix.pop()
        for c in children[i]:
          indegree[c] += 1

  if not is_acyclic(depends_on):
    return np.zeros((0, length), np.int64)
  if (length <= MAX_COUNT_LENGTH
      and count_topological_sorts(depends_on) <= num):
    found: list[list[int]] = []
    extend([], list(indegree), found)
    return np.asarray(found, np.int64).reshape(-1, length)
  key = jax.random.key(0) if key is None else key
  rng = np.random.default_rng(np.asarray(jax.random.key_data(key)))
  seen, out = set(), []
  for _ in range(20 * num):
    remaining, order = list(indegree), []
    ready = [i for i in range(length) if remaining[i] == 0]
    while ready:
      i = ready.pop(int(rng.integers(len(ready))))
      order.append(i)
      for c in children[i]:
        remaining[c] -= 1
        if remaining[c] == 0:
          ready.append(c)
    if tuple(order) not in seen:
      seen.add(tuple(order))
      out.append(order)
      if len(out) == num:
        break
  return np.asarray(out, np.int64).reshape(-1, length)
