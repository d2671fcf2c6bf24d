"""Tests of lopro.tasks.base: the Task type, argument checks and samplers."""

import copy
import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import chain_ref
import lopro
from lopro.tasks import base

N = 256


def flip_sample(key, n):
  """A custom sampler: 3 bits in, the same bits reversed out."""
  x = jax.random.randint(key, (n, 3), 0, 2)
  return x, x[:, ::-1]


def make_flip(**overrides):
  kwargs = dict(name='flip', length=3, input_length=3, input_range=(0, 1),
                target_range=(0, 1), sample_fn=flip_sample)
  kwargs.update(overrides)
  return lopro.Task(**kwargs)


# ---------------------------------------------------------------------------
# The Task type.


def test_task_built_directly_is_completed_and_read_only():
  task = make_flip(friendly_order=[2, 1, 0],
                   reference_orders={'odd': (1, 0, 2)})
  assert set(task.reference_orders) == {'forward', 'reverse', 'friendly',
                                        'odd'}
  assert task.reference_orders['forward'].tolist() == [0, 1, 2]
  assert task.reference_orders['reverse'].tolist() == [2, 1, 0]
  assert task.reference_orders['odd'].tolist() == [1, 0, 2]
  assert task.reference_orders['odd'].dtype == np.int64
  np.testing.assert_array_equal(task.reference_orders['friendly'],
                                task.friendly_order)
  assert task.friendly_order.dtype == np.int64
  for array in [task.friendly_order, *task.reference_orders.values()]:
    with pytest.raises(ValueError, match='read-only'):
      array[0] = 1
  assert task.input_vocab == 2 and task.target_vocab == 2
  assert not task.has_target_fn
  with pytest.raises(ValueError, match="task 'flip' has no target function"):
    task.targets_from_inputs([[0, 1, 1]])
  x, y = task.sample(jax.random.key(0), 5)
  np.testing.assert_array_equal(y, np.asarray(x)[:, ::-1])


def test_task_without_friendly_order_has_forward_and_reverse_only():
  task = make_flip()
  assert task.friendly_order is None
  assert set(task.reference_orders) == {'forward', 'reverse'}
  # int-like numpy values are accepted and stored as ints.
  task = make_flip(length=np.int64(3), input_range=(np.int32(0), 1))
  assert type(task.length) is int and task.input_range == (0, 1)


def test_tasks_compare_by_identity():
  a, b = make_flip(), make_flip()
  assert a != b and a == a
  assert len({a, b, a}) == 2
  assert lopro.get_task('relu', 4) == lopro.get_task('relu', 4)


@pytest.mark.parametrize('overrides, match', [
    (dict(name=''), "task name must be a non-empty str, got ''"),
    (dict(name=3), 'task name must be a non-empty str, got 3'),
    (dict(length=0), r"task 'flip': length and input_length must be >= 1, "
     r'got 0 and 3'),
    (dict(input_length=0), 'length and input_length must be >= 1'),
    (dict(length=3.0), 'length must be an int, got 3.0'),
    (dict(length=True), 'length must be an int, got bool True'),
    (dict(sample_fn=None), "task 'flip': sample_fn must be callable"),
    (dict(input_range=(1, 0)), r'input_range must have lo <= hi, got \(1, 0\)'),
    (dict(target_range=5), 'target_range must be an inclusive'),
    (dict(target_range=(0, 1.5)), r'target_range\[1\] must be an int'),
    (dict(friendly_order=[0, 1, 1]),
     r'friendly_order is not a permutation of 0\.\.2.*duplicated'),
    (dict(friendly_order=[0, 1]),
     r'friendly_order is not a permutation.*length 2, expected 3'),
    (dict(reference_orders={'bad': [0, 3, 1]}),
     r"reference_orders\['bad'\] is not a permutation.*out of range"),
    (dict(friendly_order=[2, 1, 0], reference_orders={'friendly': [0, 1, 2]}),
     r'reference_orders\["friendly"\] differs from friendly_order'),
])
def test_task_rejects_bad_fields(overrides, match):
  with pytest.raises(ValueError, match=match):
    make_flip(**overrides)


def test_targets_from_inputs_checks_inputs():
  task = lopro.get_task('square19', 5)
  assert task.has_target_fn
  with pytest.raises(ValueError, match=r'inputs must lie in -9\.\.9, got '
                     r'values 0\.\.10'):
    task.targets_from_inputs([10, 0, 0, 0, 0])
  with pytest.raises(ValueError, match=r'shape \[B, 5\], got \(1, 3\)'):
    task.targets_from_inputs([[0, 0, 0]])
  with pytest.raises(ValueError, match='inputs must be integers, got dtype '
                     'float64'):
    task.targets_from_inputs([0.0, 1.0, 2.0, 3.0, 4.0])


def test_targets_from_inputs_single_batch_and_traced():
  task = lopro.get_task('relu', 4)
  batch = np.array([[-3, 2, -9, 5], [1, 1, 1, 1]])
  out = task.targets_from_inputs(batch)
  assert out.dtype == jnp.int32 and out.shape == (2, 4)
  np.testing.assert_array_equal(out, [[-3, 0, 0, 5], [1, 2, 3, 4]])
  np.testing.assert_array_equal(task.targets_from_inputs(batch[1]),
                                [1, 2, 3, 4])
  # Traced inputs (no range check) inside jit give the same targets.
  jitted = jax.jit(task.targets_from_inputs)(jnp.asarray(batch))
  np.testing.assert_array_equal(jitted, out)


# ---------------------------------------------------------------------------
# Argument checks.


def test_as_int_and_as_range():
  assert base.as_int('x', np.int32(3)) == 3
  assert type(base.as_int('x', np.int64(3))) is int
  for bad, match in [(True, 'x must be an int, got bool True'),
                     (2.0, r'x must be an int, got 2\.0 \(float\)'),
                     ('3', r"x must be an int, got '3' \(str\)"),
                     (None, 'x must be an int, got None')]:
    with pytest.raises(ValueError, match=match):
      base.as_int('x', bad)
  assert base.as_range('r', [-2, np.int16(4)]) == (-2, 4)
  assert base.as_range('r', (3, 3)) == (3, 3)
  for bad, match in [((1,), 'r must be an inclusive'),
                     (3, r'r must be an inclusive \(lo, hi\) pair of ints, '
                      'got 3'),
                     ((1, 2, 3), 'r must be an inclusive'),
                     ((2, 1), r'r must have lo <= hi, got \(2, 1\)'),
                     ((1.0, 2), r'r\[0\] must be an int')]:
    with pytest.raises(ValueError, match=match):
      base.as_range('r', bad)


def test_check_order_length_and_chain():
  np.testing.assert_array_equal(base.check_order((2, 0, 1), 3, 'o'),
                                [2, 0, 1])
  with pytest.raises(ValueError, match=r'o is not a permutation of 0\.\.2'):
    base.check_order([0, 0, 1], 3, 'o')
  assert base.check_length('t', 2) == 2
  assert base.check_length('t', 1, minimum=1) == 1
  with pytest.raises(ValueError, match="task 't' needs length >= 2, got 1"):
    base.check_length('t', 1)
  with pytest.raises(ValueError, match="task 't' length must be an int"):
    base.check_length('t', '4')
  np.testing.assert_array_equal(base.chain_or_identity(None, 4), [0, 1, 2, 3])
  np.testing.assert_array_equal(base.chain_or_identity([1, 0], 2), [1, 0])
  with pytest.raises(ValueError, match='chain is not a permutation'):
    base.chain_or_identity([1, 1], 2)


def test_frozen_array_is_a_read_only_int64_copy():
  given = [3, 1, 2]
  array = base.frozen_array(given)
  assert array.dtype == np.int64 and not array.flags.writeable
  np.testing.assert_array_equal(array, given)


# ---------------------------------------------------------------------------
# Samplers.


def test_uniform_ints_cover_the_range_uniformly():
  x = np.asarray(base.uniform_ints(jax.random.key(0), 4000, 3, -2, 2))
  assert x.shape == (4000, 3) and x.dtype == np.int32
  counts = np.bincount(x.ravel() + 2)
  assert counts.size == 5
  np.testing.assert_allclose(counts / x.size, 0.2, atol=0.02)
  np.testing.assert_array_equal(
      x, base.uniform_ints(jax.random.key(0), 4000, 3, -2, 2))


@pytest.mark.parametrize('chain', [[0, 1, 2, 3, 4], [3, 0, 4, 2, 1]])
def test_chain_targets_follow_the_chain(chain):
  step = lambda x, y: x - 2 * y
  chain = np.array(chain)
  inputs = np.asarray(base.uniform_ints(jax.random.key(1), 64, 5, -9, 9))
  out = np.asarray(base.chain_targets(step, jnp.asarray(inputs), chain))
  assert out.shape == (64, 5)
  for x, y in zip(inputs.tolist(), out.tolist()):
    assert y == chain_ref(step, x, chain.tolist())


def test_table_step_and_relu_step():
  table = np.arange(12).reshape(3, 4)  # x in 1..3, y in -1..2
  step = base.table_step(table, 1, -1)
  x = jnp.array([1, 1, 2, 3, 3])
  y = jnp.array([-1, 2, 0, -1, 2])
  np.testing.assert_array_equal(step(x, y), [0, 3, 5, 8, 11])
  np.testing.assert_array_equal(
      base.relu_step(jnp.array([-5, 2, 0]), jnp.array([3, 4, 0])), [0, 6, 0])


def test_make_chain_task_and_uniform_sampler():
  chain = np.array([2, 0, 1])
  task = base.make_chain_task('clip', 3, base.relu_step, chain, (-1, 1),
                              (-1, 3), {'extra': 1})
  assert task.params == {'chain': [2, 0, 1], 'extra': 1}
  np.testing.assert_array_equal(task.friendly_order, chain)
  assert (task.input_length, task.input_range, task.target_range) == (
      3, (-1, 1), (-1, 3))
  assert task.has_target_fn
  x, y = task.sample(jax.random.key(2), N)
  assert x.dtype == jnp.int32 and y.dtype == jnp.int32
  x, y = np.asarray(x), np.asarray(y)
  assert x.min() == -1 and x.max() == 1
  for row_x, row_y in zip(x.tolist(), y.tolist()):
    assert row_y == chain_ref(lambda a, b: max(a + b, 0), row_x, [2, 0, 1])
  # The sampler is pure: it can be vmapped and jitted.
  keys = jnp.stack([jax.random.key(2), jax.random.key(3)])
  xv, yv = jax.jit(jax.vmap(lambda k: task.sample(k, N)))(keys)
  np.testing.assert_array_equal(xv[0], x)
  np.testing.assert_array_equal(yv[0], y)
  assert not np.array_equal(xv[1], x)


def test_pool_sampler_draws_pool_rows_with_replacement():
  pool_x = jnp.arange(10, dtype=jnp.int32).reshape(5, 2)
  pool_y = pool_x * 10
  sampler = base.PoolSampler(pool_x, pool_y)
  assert sampler.targets is None
  x, y = sampler(jax.random.key(0), 400)
  x, y = np.asarray(x), np.asarray(y)
  assert x.shape == (400, 2) and y.shape == (400, 2)
  np.testing.assert_array_equal(y, x * 10)  # rows stay paired
  rows = x[:, 0] // 2
  np.testing.assert_array_equal(x, np.asarray(pool_x)[rows])
  counts = np.bincount(rows, minlength=5)
  assert np.all(counts > 50), counts  # every row drawn, about 80 times
  # Deterministic, and pure (vmappable).
  np.testing.assert_array_equal(sampler(jax.random.key(0), 400)[0], x)
  xv, _ = jax.vmap(lambda k: sampler(k, 3))(
      jax.random.split(jax.random.key(1), 2))
  assert xv.shape == (2, 3, 2)
  task = make_flip(name='pool', length=2, input_length=2, input_range=(0, 9),
                   target_range=(0, 90), sample_fn=sampler)
  assert not task.has_target_fn


def test_a_shared_task_cannot_be_changed_through_its_mappings():
  task = lopro.get_task('relu', length=4)
  for change in (lambda: task.reference_orders.update(x=[0, 1, 2, 3]),
                 lambda: task.reference_orders.__setitem__('x', [0]),
                 lambda: task.params.setdefault('chain', [3, 2, 1, 0]),
                 lambda: task.params.pop('chain')):
    with pytest.raises(TypeError, match='read-only'):
      change()
  assert set(task.reference_orders) == {'forward', 'reverse', 'friendly'}
  assert lopro.get_task('relu', length=4) is task
  # Still plain dicts to JSON and copies.
  assert json.loads(json.dumps(task.params)) == {'chain': [0, 1, 2, 3]}
  assert copy.deepcopy(task.params) == task.params


def test_friendly_match_sets_free_slots_aside():
  task = lopro.get_task('relu', length=5)
  assert task.free_slots == (0,)
  assert task.friendly_match([0, 1, 2, 3, 4]) == 'exact'
  # Slot 0 (a copy of x_0) may go anywhere; nothing else may move.
  for order in ([1, 0, 2, 3, 4], [1, 2, 3, 0, 4], [1, 2, 3, 4, 0]):
    assert task.friendly_match(order) == 'equivalent'
    assert task.is_friendly(order)
  for order in ([0, 2, 1, 3, 4], [4, 3, 2, 1, 0], [1, 2, 0, 4, 3]):
    assert task.friendly_match(order) == 'miss'
    assert not task.is_friendly(order)
  np.testing.assert_array_equal(task.canonical([1, 2, 0, 3, 4]), [1, 2, 3, 4])
  with pytest.raises(ValueError, match='not a permutation'):
    task.friendly_match([0, 0, 1, 2, 3])


def test_a_task_without_a_friendly_order_matches_nothing():
  task = base.Task(name='t', length=3, input_length=2, input_range=(0, 1),
                   target_range=(0, 1), sample_fn=lambda key, n: None)
  assert task.free_slots == () and task.friendly_match([0, 1, 2]) is None
  with pytest.raises(ValueError, match="'t' has no known friendly order"):
    task.is_friendly([0, 1, 2])
  with pytest.raises(ValueError, match='free_slots must be distinct slots in '
                     r'0..2, got \(3,\)'):
    base.Task(name='t', length=3, input_length=2, input_range=(0, 1),
              target_range=(0, 1), sample_fn=lambda key, n: None,
              free_slots=(3,))


def test_depends_on_is_checked():
  def make(depends_on):
    return base.Task(name='t', length=3, input_length=2, input_range=(0, 1),
                     target_range=(0, 1), sample_fn=lambda key, n: None,
                     depends_on=depends_on)
  assert make([[], [0], [0, 1]]).depends_on == ((), (0,), (0, 1))
  with pytest.raises(ValueError, match='depends_on must have 3 entries'):
    make([[], [0]])
  with pytest.raises(ValueError, match='depends_on must have 3 entries'):
    make([[], [1], []])  # a slot depending on itself
  with pytest.raises(ValueError, match='depends_on has a cycle'):
    make([[2], [0], [1]])
