"""Tests of lopro.tasks.delay: delay systems against a plain-Python
reference, their orders and their parents' checks."""

import jax
import numpy as np
import pytest

from lopro import tasks
from lopro.tasks import delay


def c19(r):
  return r if r <= 9 else r - 19


def delay_ref(x, parents):
  """s^k_t = c((x^k_t + sum s^j_{t-delay})^2 mod 19), variable-major."""
  m = len(parents)
  n = len(x) // m
  s = [[0] * n for _ in range(m)]
  for t in range(n):
    for k in range(m):
      z = x[k * n + t]
      for j, d in parents[k]:
        if t - d >= 0:
          z += s[j][t - d]
      s[k][t] = c19(z * z % 19)
  return [v for row in s for v in row]


@pytest.mark.parametrize('length, parents', [
    (8, None),
    (12, [[[2, 1]], [[0, 1], [1, 3]], [[1, 2], [2, 1]]]),
    (5, [[(0, 2)]]),  # one variable
])
def test_samples_match_plain_python(length, parents):
  task = tasks.get_task('delay', length, parents=parents)
  expected_parents = delay.DEFAULT_PARENTS if parents is None else parents
  inputs, targets = task.sample(jax.random.key(7), 128)
  inputs, targets = np.asarray(inputs), np.asarray(targets)
  assert inputs.shape == targets.shape == (128, length)
  assert inputs.min() == -9 and inputs.max() == 9
  assert task.target_range == task.input_range == (-9, 9)
  for x, y in zip(inputs.tolist(), targets.tolist()):
    assert y == delay_ref(x, expected_parents), (x, y)


def test_hand_example():
  task = tasks.get_task('delay', 4)  # m=2, n=2
  # s0_0 = c(3²%19) = 9; s1_0 = c(1) = 1;
  # s0_1 = c((1 + s0_0 + s1_{-1})² % 19) = c(100 % 19 = 5) = 5;
  # s1_1 = c((-2 + s1_0 + s0_0)² % 19) = c(64 % 19 = 7) = 7.
  assert task.targets_from_inputs([3, 1, 1, -2]).tolist() == [9, 5, 1, 7]


def test_friendly_is_time_major_and_references():
  task = tasks.get_task('delay', 8)
  assert task.friendly_order.tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
  assert task.reference_orders['time_major'].tolist() == [
      0, 4, 1, 5, 2, 6, 3, 7]
  # The variables feed each other: no variable-major order is valid.
  assert 'variable_major' not in task.reference_orders
  assert task.reference_orders['diagonal'].tolist() == [
      0, 1, 4, 2, 5, 3, 6, 7]
  assert task.params == {'parents': [[[0, 1], [1, 2]], [[1, 1], [0, 1]]]}
  # A chain of variables: variable-major is valid; no friendly order known.
  three = tasks.get_task('delay', 6, parents=[[], [(0, 1)], [(1, 1)]])
  assert three.friendly_order is None
  assert three.reference_orders['time_major'].tolist() == [0, 2, 4, 1, 3, 5]
  assert three.reference_orders['variable_major'].tolist() == list(range(6))
  assert three.params == {'parents': [[], [[0, 1]], [[1, 1]]]}


def test_hand_designed_orders_are_topological_sorts():
  # Every s^k_t is emitted after every s^j_{t-delay} it reads.
  parents = [[(2, 2)], [(0, 2), (1, 3)], [(1, 2), (2, 1)]]
  task = tasks.get_task('delay', 12, parents=parents)
  n = 4
  assert set(task.reference_orders) >= {'time_major', 'lagged_blocks'}
  # Blocks of 2 steps (the smallest delay between two variables).
  assert task.reference_orders['lagged_blocks'].tolist() == [
      0, 1, 4, 5, 8, 9, 2, 3, 6, 7, 10, 11]
  for name, order in task.reference_orders.items():
    if name in ('forward', 'reverse'):
      continue
    position = np.argsort(order)
    for k, pairs in enumerate(parents):
      for t in range(n):
        for j, d in pairs:
          if t - d >= 0:
            assert position[j * n + t - d] < position[k * n + t], name


def test_check_parents_normalises():
  assert delay.check_parents(np.array([[[0, 1]], [[1, 2]]])) == (
      ((0, 1),), ((1, 2),))
  assert delay.check_parents([[], [[0, np.int64(1)]]]) == ((), ((0, 1),))


@pytest.mark.parametrize('length, parents, match', [
    (7, None, 'divisible by the number of variables m=2, got 7'),
    (8, [[], [], []], 'divisible .* m=3'),
    (8, [[(0, 0)], [(1, 1)]], 'delay 0 for parent 0; every delay must be >= 1'),
    (8, [[(2, 1)], [(1, 1)]], r'names parent 2, not a variable in 0\.\.1'),
    (8, [[(-1, 1)], [(1, 1)]], 'names parent -1'),
    (8, [[(0, 1, 2)], []], r'not a \(parent, delay\) pair'),
    (8, [[(0, 1.0)], []], r'parents\[0\] delay must be an int'),
    (8, [3, []], r'parents\[0\] must be a sequence'),
    (8, [], 'at least one variable'),
    (8, 'ab', 'parents must be a sequence'),
    (8, 5, 'parents must be a sequence'),
])
def test_bad_parents_and_lengths(length, parents, match):
  with pytest.raises(ValueError, match=match):
    tasks.get_task('delay', length, parents=parents)


def test_memoised_by_canonical_parents():
  default = tasks.get_task('delay', 8)
  assert default is tasks.get_task('delay', 8, parents=delay.DEFAULT_PARENTS)
  assert default is tasks.get_task(
      'delay', 8, parents=[[[0, 1], [1, 2]], [[1, 1], [0, 1]]])
  assert default is not tasks.get_task('delay', 8, parents=[[(0, 1)],
                                                            [(1, 1)]])
