"""Tests of lopro.tasks.user: tasks from a user's plain Python function."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import chain_ref
import lopro
from lopro import tasks

N = 256


def cumsum(x):
  total, out = 0, []
  for v in x:
    total += v
    out.append(total)
  return out


# ---------------------------------------------------------------------------
# chain_task.


def relu_mod10(x, y):
  return max(x + y, 0) % 10


def test_chain_task_from_python_function():
  chain = [6, 0, 5, 1, 7, 4, 2, 3]
  task = lopro.chain_task('relu_mod10', relu_mod10, 8, input_range=(0, 9),
                          target_range=(0, 9), chain=chain)
  assert isinstance(task, lopro.Task) and task.name == 'relu_mod10'
  assert task.friendly_order.tolist() == chain
  assert task.reference_orders['friendly'].tolist() == chain
  assert task.input_vocab == 10 and task.target_vocab == 10
  assert task.params == {'chain': chain, 'step_fn': 'relu_mod10',
                         'input_range': [0, 9], 'target_range': [0, 9]}
  json.dumps(task.params)
  inputs, targets = task.sample(jax.random.key(0), N)
  inputs, targets = np.asarray(inputs), np.asarray(targets)
  assert inputs.min() == 0 and inputs.max() == 9
  for x, y in zip(inputs.tolist(), targets.tolist()):
    assert y == chain_ref(relu_mod10, x, chain)
  np.testing.assert_array_equal(task.targets_from_inputs(inputs), targets)
  # Not memoised: every call builds a new task.
  again = lopro.chain_task('relu_mod10', relu_mod10, 8, input_range=(0, 9),
                           target_range=(0, 9), chain=chain)
  assert again is not task


def test_chain_task_defaults_and_equivalence_to_builtin():
  step = lambda x, y: abs(x - y) // 2
  dist = lopro.chain_task('dist', step, 8)
  assert dist.input_range == dist.target_range == (-9, 9)
  assert dist.friendly_order.tolist() == list(range(8))
  inputs, targets = dist.sample(jax.random.key(1), N)
  for x, y in zip(np.asarray(inputs).tolist(), np.asarray(targets).tolist()):
    assert y == chain_ref(step, x, range(8))
  # A user-written sine is the built-in one.
  chain = [5, 1, 3, 0, 2, 7, 4, 6]
  sine = lopro.chain_task('mysine', lambda x, y: round(9 * math.sin(x + y)),
                          8, chain=chain)
  builtin = lopro.get_task('sine', 8, chain=chain)
  key = jax.random.key(2)
  np.testing.assert_array_equal(sine.sample(key, N)[1],
                                builtin.sample(key, N)[1])


def test_chain_task_accepts_integral_floats_and_numpy_ints():
  task = lopro.chain_task('f', lambda x, y: float(x), 3)
  assert task.targets_from_inputs([1, 2, 3]).tolist() == [1, 2, 3]
  task = lopro.chain_task('g', lambda x, y: np.int16(y), 3)
  assert task.targets_from_inputs([4, 2, 3]).tolist() == [4, 4, 4]


@pytest.mark.parametrize('kwargs, match', [
    (dict(step_fn=lambda x, y: x + y),
     r'step_fn\(-9, -9\) = -18 is outside target_range \(-9, 9\) \(first '
     r'offending x=-9, y=-9\)'),
    (dict(step_fn=lambda x, y: 9 * math.sin(x + y)),
     r'step_fn\(-9, -9\) returned .* expected an int \(round it\?\)'),
    (dict(step_fn=lambda x, y: 'a'), r"step_fn\(-9, -9\) returned 'a' \(str\)"),
    (dict(step_fn=lambda x, y: True), r'step_fn\(-9, -9\) returned bool'),
    (dict(step_fn=lambda x, y: float('nan')), r'returned nan'),
    (dict(step_fn=lambda x, y: 0, target_range=(0, 9)),
     r'input_range \(-9, 9\) must lie inside target_range \(0, 9\)'),
    (dict(step_fn=lambda x, y: 1 // x),
     r'step_fn\(0, -9\) raised ZeroDivisionError'),
    (dict(step_fn=lambda x, y: x, chain=[0, 0, 1, 2, 3]),
     'chain is not a permutation'),
    (dict(step_fn=lambda x, y: x, length=1), "task 'c' needs length >= 2"),
    (dict(step_fn=lambda x, y: x, input_range=(3, 1)),
     r'input_range must have lo <= hi'),
    (dict(step_fn=3), 'step_fn must be callable, got 3'),
    (dict(name=''), 'task name must be a non-empty str'),
    (dict(step_fn=lambda x, y: x, input_range=(0, 1),
          target_range=(0, tasks.MAX_TABLE_ENTRIES)),
     r'step table would have 2 x \d+ entries, more than MAX_TABLE_ENTRIES'),
])
def test_chain_task_rejects_bad_functions(kwargs, match):
  args = dict(name='c', step_fn=lambda x, y: x, length=5)
  args.update(kwargs)
  with pytest.raises(ValueError, match=match):
    lopro.chain_task(args.pop('name'), args.pop('step_fn'), args.pop('length'),
                     **args)


# ---------------------------------------------------------------------------
# function_task.


def test_function_task_sort_draws_from_a_fixed_pool():
  sort = lopro.function_task('sort', sorted, input_length=6, length=6,
                             input_range=(0, 9), target_range=(0, 9),
                             pool_size=2000, seed=1)
  inputs, targets = sort.sample(jax.random.key(0), N)
  assert inputs.shape == (N, 6) and targets.shape == (N, 6)
  assert inputs.dtype == jnp.int32 and targets.dtype == jnp.int32
  for x, y in zip(np.asarray(inputs).tolist(), np.asarray(targets).tolist()):
    assert y == sorted(x)
  # Draws come from the pool numpy's default_rng(seed) makes.
  pool = np.random.default_rng(1).integers(0, 10, size=(2000, 6))
  pool_rows = {tuple(r) for r in pool.tolist()}
  assert all(tuple(r) in pool_rows for r in np.asarray(inputs).tolist())
  assert sort.reference_orders.keys() == {'forward', 'reverse'}
  assert sort.friendly_order is None
  assert not sort.has_target_fn
  with pytest.raises(ValueError, match="task 'sort' has no target function"):
    sort.targets_from_inputs([[1, 2, 3, 4, 5, 6]])
  assert sort.params == {'fn': 'sorted', 'input_length': 6,
                         'input_range': [0, 9], 'target_range': [0, 9],
                         'pool_size': 2000, 'seed': 1}


def test_function_task_input_and_target_lengths_differ():
  csum = lopro.function_task('cumsum', cumsum, input_length=5, length=5,
                             input_range=(0, 9), target_range=(0, 45),
                             pool_size=500, friendly_order=[0, 1, 2, 3, 4])
  assert csum.friendly_order.tolist() == [0, 1, 2, 3, 4]
  json.dumps(csum.params)
  inputs, targets = csum.sample(jax.random.key(1), N)
  for x, y in zip(np.asarray(inputs).tolist(), np.asarray(targets).tolist()):
    assert y == cumsum(x)
  # Two inputs, three targets (sum, difference, product), integral floats.
  ops = lopro.function_task(
      'ops', lambda x: [float(x[0] + x[1]), x[0] - x[1], x[0] * x[1]],
      input_length=2, length=3, input_range=(0, 3), target_range=(-3, 9),
      pool_size=64, seed=4)
  assert ops.input_length == 2 and ops.length == 3
  x, y = ops.sample(jax.random.key(2), 32)
  for a, b in zip(np.asarray(x).tolist(), np.asarray(y).tolist()):
    assert b == [a[0] + a[1], a[0] - a[1], a[0] * a[1]]


def test_function_task_pool_depends_on_seed():
  kw = dict(input_length=4, length=4, input_range=(0, 9), target_range=(0, 9),
            pool_size=50)
  a = lopro.function_task('s', sorted, seed=0, **kw)
  b = lopro.function_task('s', sorted, seed=0, **kw)
  c = lopro.function_task('s', sorted, seed=1, **kw)
  key = jax.random.key(0)
  np.testing.assert_array_equal(a.sample(key, 64)[0], b.sample(key, 64)[0])
  assert not np.array_equal(a.sample(key, 64)[0], c.sample(key, 64)[0])


@pytest.mark.parametrize('fn, overrides, match', [
    (lambda x: x[:2], {}, r'returned 2 targets on example 0, inputs \[.*\]; '
     'expected length 3'),
    (lambda x: [v + 5 for v in x], {},
     r'outside target_range \(0, 9\) on example \d+'),
    (lambda x: [v / 2 for v in x], {}, 'non-integer targets on example'),
    (lambda x: ['a'] * 3, {}, 'non-integer targets on example 0'),
    (lambda x: [True] * 3, {}, 'non-integer targets on example 0'),
    (lambda x: [float('inf')] * 3, {}, 'non-integer targets on example 0'),
    (lambda x: 1 / 0, {}, 'fn raised ZeroDivisionError.* on example 0'),
    (lambda x: 3, {}, 'fn returned 3 on example 0.*expected a sequence'),
    (sorted, {'pool_size': 0}, 'pool_size must be >= 1, got 0'),
    (sorted, {'input_length': 0}, 'input_length must be >= 1, got 0'),
    (sorted, {'length': 1}, "task 'f' needs length >= 2"),
    (sorted, {'friendly_order': [0, 1]},
     'friendly_order is not a permutation'),
    (sorted, {'input_range': (9, 0)}, 'input_range must have lo <= hi'),
    (sorted, {'seed': 1.5}, 'seed must be an int'),
    (None, {}, 'fn must be callable, got None'),
])
def test_function_task_rejects_bad_examples(fn, overrides, match):
  kw = dict(input_length=3, length=3, input_range=(0, 9),
            target_range=(0, 9), pool_size=50)
  kw.update(overrides)
  with pytest.raises(ValueError, match=match):
    lopro.function_task('f', fn, **kw)


def test_a_chain_tasks_first_slot_is_free():
  task = lopro.chain_task('addmod', lambda x, y: (x + y) % 10, 4,
                          input_range=(0, 9), target_range=(0, 9),
                          chain=[2, 0, 1, 3])
  assert task.free_slots == (2,)
  assert task.is_friendly([0, 1, 2, 3]) and not task.is_friendly([2, 1, 0, 3])
