"""Tests for lopro.tasks: samplers against plain-Python references."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopro import orders
from lopro import tasks

N = 256


# ---------------------------------------------------------------------------
# Plain-Python references, written from DESIGN.md, independent of tasks.py.


def c19(r):
  return r if r <= 9 else r - 19


STEPS = {
    'relu': lambda x, y: max(x + y, 0),
    'planted': lambda x, y: max(x + y, 0),
    'square19': lambda x, y: c19((x * x + y * y) % 19),
    'cubic': lambda x, y: c19((x**3 + y**3) % 19),
    'sine': lambda x, y: round(9 * math.sin(x + y)),
    'triangle': lambda x, y: abs((x + y) % 36 - 18) - 9,
}


def chain_ref(step, x, chain):
  y = [None] * len(x)
  y[chain[0]] = x[chain[0]]
  for k in range(1, len(x)):
    y[chain[k]] = step(x[chain[k]], y[chain[k - 1]])
  return y


def index_ref(x, d):
  length = len(x)
  y = []
  for i in range(length):
    p = sum(y[i - j] for j in range(1, d + 1) if i - j >= 0) % length
    y.append(x[p])
  return y


def prod_ref(x):
  n = len(x) // 2
  a = int(''.join(map(str, x[:n])))
  b = int(''.join(map(str, x[n:])))
  return [int(ch) for ch in str(a * b).zfill(2 * n)]


def delay_ref(x, parents):
  m = len(parents)
  n = len(x) // m
  s = [[0] * n for _ in range(m)]
  for t in range(n):
    for k in range(m):
      z = x[k * n + t]
      for j, delay in parents[k]:
        if t - delay >= 0:
          z += s[j][t - delay]
      s[k][t] = c19(z * z % 19)
  return [v for row in s for v in row]


def reference_targets(task, x):
  """The targets of one example, by the plain-Python definition."""
  name = task.name
  if name in STEPS or name == 'mlp':
    if name == 'mlp':
      table = tasks.step_table('mlp')
      step = lambda a, b: int(table[a + 9, b + 9])
    else:
      step = STEPS[name]
    return chain_ref(step, x, list(task.params.get('chain',
                                                  task.friendly_order)))
  if name == 'index':
    return index_ref(x, task.params['d'])
  if name == 'prod':
    return prod_ref(x)
  if name == 'delay':
    return delay_ref(x, task.params['parents'])
  raise AssertionError(name)


# Default relu/mlp/index/prod/delay at L=8: test_samples_inside_scan_...
CASES = [
    ('relu', 8, {'chain': [3, 0, 5, 1, 7, 4, 2, 6]}),
    ('square19', 8, {'chain': [7, 6, 5, 4, 3, 2, 1, 0]}),
    ('cubic', 8, {'chain': [2, 6, 0, 1, 5, 3, 7, 4]}),
    ('sine', 8, {'chain': [5, 1, 3, 0, 2, 7, 4, 6]}),
    ('triangle', 8, {'chain': [1, 0, 3, 2, 5, 4, 7, 6]}),
    ('mlp', 8, {'chain': [5, 4, 0, 1, 2, 3, 7, 6]}),
    ('planted', 8, {'order_seed': 3}),
    ('index', 13, {'d': 4}),
    ('index', 8, {'d': 8}),
    ('prod', 20, {}),
    ('delay', 12, {'parents': [[[2, 1]], [[0, 1], [1, 3]], [[1, 2], [2, 1]]]}),
]


@pytest.mark.parametrize('name,length,params', CASES)
def test_samples_match_plain_python(name, length, params):
  task = tasks.get_task(name, length, **params)
  inputs, targets = task.sample(jax.random.key(7), N)
  assert inputs.dtype == jnp.int32 and targets.dtype == jnp.int32
  assert inputs.shape == (N, task.input_length)
  assert targets.shape == (N, length)
  inputs, targets = np.asarray(inputs), np.asarray(targets)
  assert inputs.min() >= task.input_range[0]
  assert inputs.max() <= task.input_range[1]
  assert targets.min() >= task.target_range[0]
  assert targets.max() <= task.target_range[1]
  # Inputs cover their range (uniform sampling, 256 x L draws).
  assert inputs.min() == task.input_range[0]
  assert inputs.max() == task.input_range[1]
  for x, y in zip(inputs.tolist(), targets.tolist()):
    assert y == reference_targets(task, x), (x, y)


def test_square19_hand_example():
  task = tasks.get_task('square19', 5)
  x = [7, -2, 4, 1, 3]
  assert task.targets_from_inputs(x).tolist() == [7, -4, -6, -1, -9]
  assert chain_ref(STEPS['square19'], x, range(5)) == [7, -4, -6, -1, -9]
  # Along a reversed chain, y[4] = x[4] and the recurrence runs leftwards.
  rev = tasks.get_task('square19', 5, chain=[4, 3, 2, 1, 0])
  assert rev.targets_from_inputs([3, 1, 4, -2, 7]).tolist() == [
      -9, -1, -6, -4, 7]


def test_hand_examples_of_other_tasks():
  relu = tasks.get_task('relu', 4)
  assert relu.targets_from_inputs([-3, 2, -9, 5]).tolist() == [-3, 0, 0, 5]
  assert relu.target_range == (-9, 36)
  index = tasks.get_task('index', 5, d=2)
  # y0 = x0 = 2; y1 = x[2] = 4; y2 = x[(4+2)%5] = x1 = 0; y3 = x[4] = 3;
  # y4 = x[(3+0)%5] = 1.
  assert index.targets_from_inputs([2, 0, 4, 1, 3]).tolist() == [2, 4, 0, 3, 1]
  prod = tasks.get_task('prod', 6)
  # 999 * 999 = 998001; 012 * 034 = 408.
  assert prod.targets_from_inputs([9, 9, 9, 9, 9, 9]).tolist() == [
      9, 9, 8, 0, 0, 1]
  assert prod.targets_from_inputs([0, 1, 2, 0, 3, 4]).tolist() == [
      0, 0, 0, 4, 0, 8]
  # 20-digit operands do not overflow int32.
  prod40 = tasks.get_task('prod', 40)
  nines = [9] * 40
  expected = [int(ch) for ch in str((10**20 - 1)**2)]
  assert prod40.targets_from_inputs(nines).tolist() == expected
  delay = tasks.get_task('delay', 4)  # m=2, n=2
  # s0_0 = c(3²%19) = 9; s1_0 = c(1) = 1;
  # s0_1 = c((1 + s0_0 + s1_{-1})² % 19) = c(100 % 19 = 5) = 5;
  # s1_1 = c((-2 + s1_0 + s0_0)² % 19) = c(64 % 19 = 7) = 7.
  assert delay.targets_from_inputs([3, 1, 1, -2]).tolist() == [9, 5, 1, 7]


def test_friendly_and_reference_orders():
  prod = tasks.get_task('prod', 10)
  np.testing.assert_array_equal(prod.friendly_order, orders.reverse(10))
  delay = tasks.get_task('delay', 8)
  assert delay.friendly_order.tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
  assert delay.reference_orders['time_major'].tolist() == [
      0, 4, 1, 5, 2, 6, 3, 7]
  assert delay.reference_orders['variable_major'].tolist() == list(range(8))
  delay3 = tasks.get_task('delay', 6, parents=[[], [(0, 1)], [(1, 1)]])
  assert delay3.friendly_order.tolist() == [0, 2, 4, 1, 3, 5]
  index = tasks.get_task('index', 8)
  np.testing.assert_array_equal(index.friendly_order, orders.identity(8))
  chain = [3, 1, 0, 2]
  for name in ('relu', 'square19', 'cubic', 'sine', 'triangle', 'mlp'):
    task = tasks.get_task(name, 4, chain=chain)
    assert task.friendly_order.tolist() == chain
    assert task.params['chain'] == chain
    assert tasks.get_task(name, 4).friendly_order.tolist() == [0, 1, 2, 3]
  for name in tasks.task_names():
    task = tasks.get_task(name, 8)
    refs = task.reference_orders
    assert refs['forward'].tolist() == list(range(8))
    assert refs['reverse'].tolist() == list(range(7, -1, -1))
    np.testing.assert_array_equal(refs['friendly'], task.friendly_order)
    json.dumps(task.params)  # serialisable
    with pytest.raises(ValueError):  # read-only: the task is shared
      task.friendly_order[0] = 1


def test_planted_chain_is_from_order_seed_and_used_by_sampling():
  task = tasks.get_task('planted', 8, order_seed=3)
  chain = np.random.default_rng(3).permutation(8)
  np.testing.assert_array_equal(task.friendly_order, chain)
  assert task.params == {'order_seed': 3}
  assert not np.array_equal(chain, np.arange(8))
  inputs, targets = task.sample(jax.random.key(7), N)
  inputs, targets = np.asarray(inputs), np.asarray(targets)
  relu = STEPS['relu']
  along_chain = [chain_ref(relu, x, chain) for x in inputs.tolist()]
  along_identity = [chain_ref(relu, x, range(8)) for x in inputs.tolist()]
  assert targets.tolist() == along_chain
  assert targets.tolist() != along_identity
  other = tasks.get_task('planted', 8, order_seed=6)
  assert not np.array_equal(other.friendly_order, chain)
  assert tasks.get_task('planted', 8) is tasks.get_task('planted', 8,
                                                         order_seed=0)


def test_sampling_deterministic_jit_vmap():
  task = tasks.get_task('square19', 8, chain=[7, 6, 5, 4, 3, 2, 1, 0])
  key = jax.random.key(3)
  x1, y1 = task.sample(key, N)
  x2, y2 = task.sample(key, N)
  np.testing.assert_array_equal(x1, x2)
  np.testing.assert_array_equal(y1, y2)
  x3, _ = task.sample(jax.random.key(4), N)
  assert not np.array_equal(x1, x3)
  keys = jnp.stack([key, jax.random.key(4)])
  xv, yv = jax.jit(jax.vmap(lambda k: task.sample(k, N)))(keys)
  assert xv.shape == (2, N, 8) and yv.shape == (2, N, 8)
  np.testing.assert_array_equal(xv[0], x1)
  np.testing.assert_array_equal(yv[0], y1)
  np.testing.assert_array_equal(xv[1], x3)
  # The same function is exposed for given inputs.
  np.testing.assert_array_equal(task.targets_from_inputs(np.asarray(x1)), y1)


def test_samples_inside_scan_inside_jit_vmap():
  # As training uses it: vmap over keys (orders) of a scan over steps. One
  # task per code path (the table chain tasks share mlp's), to compile fast.
  all_tasks = [tasks.get_task(name, 8)
               for name in ('relu', 'mlp', 'index', 'prod', 'delay')]

  def run(key):
    def body(carry, step):
      step_key = jax.random.fold_in(key, step)
      return carry, [task.sample(step_key, 4) for task in all_tasks]
    return jax.lax.scan(body, 0, jnp.arange(2))[1]

  keys = jax.random.split(jax.random.key(0), 3)
  out = jax.jit(jax.vmap(run))(keys)
  for task, (xs, ys) in zip(all_tasks, out):
    assert xs.shape == (3, 2, 4, 8) and ys.shape == (3, 2, 4, 8)
    assert xs.dtype == jnp.int32 and ys.dtype == jnp.int32
    xs, ys = np.asarray(xs), np.asarray(ys)
    # Different keys and steps draw different examples.
    assert len({r.tobytes() for r in xs.reshape(6, 32)}) == 6, task.name
    for x, y in zip(xs.reshape(-1, 8).tolist(), ys.reshape(-1, 8).tolist()):
      assert y == reference_targets(task, x), (task.name, x, y)


def test_step_tables():
  values = range(-9, 10)
  for name in ('square19', 'cubic', 'sine', 'triangle'):
    table = tasks.step_table(name)
    assert table.shape == (19, 19)
    for x in values:
      for y in values:
        assert table[x + 9, y + 9] == STEPS[name](x, y), (name, x, y)
  mlp = tasks.step_table('mlp')
  assert mlp.shape == (19, 19)
  assert set(mlp.ravel().tolist()) == set(values)
  # Equal-count bins: every value exactly 19 times.
  np.testing.assert_array_equal(np.bincount(mlp.ravel() + 9), [19] * 19)
  np.testing.assert_array_equal(mlp, tasks._mlp_table())  # fixed seed
  # It depends on both arguments.
  assert len({tuple(row) for row in mlp.tolist()}) > 1
  assert len({tuple(col) for col in mlp.T.tolist()}) > 1
  with pytest.raises(ValueError, match='no step table'):
    tasks.step_table('relu')


def test_get_task_memoises():
  assert tasks.get_task('relu', 8) is tasks.get_task('relu', 8)
  assert tasks.get_task('relu') is tasks.get_task('relu', length=8)
  a = tasks.get_task('sine', 4, chain=[1, 0, 3, 2])
  assert a is tasks.get_task('sine', 4, chain=(1, 0, 3, 2))
  assert a is tasks.get_task('sine', 4, chain=np.array([1, 0, 3, 2]))
  assert tasks.get_task('sine', 4) is tasks.get_task('sine', 4,
                                                     chain=[0, 1, 2, 3])
  assert a is not tasks.get_task('sine', 4)
  assert tasks.get_task('delay', 8) is tasks.get_task(
      'delay', 8, parents=tasks.DEFAULT_PARENTS)
  assert tasks.get_task('index', 8, d=2) is tasks.get_task('index', 8)
  assert tasks.get_task('index', 8, d=4) is not tasks.get_task('index', 8)
  assert tasks.get_task('RELU', 8) is tasks.get_task('relu', 8)
  assert tasks.get_task('prod', 10).length == 10


def test_registry():
  assert tasks.task_names() == ('relu', 'square19', 'cubic', 'sine',
                                'triangle', 'mlp', 'planted', 'index',
                                'prod', 'delay')
  assert set(tasks.TASKS) == set(tasks.task_names())
  with pytest.raises(TypeError):
    tasks.TASKS['mine'] = tasks.relu_task
  assert tasks.TASKS['relu'](5).length == 5


@pytest.mark.parametrize('call,match', [
    (lambda: tasks.get_task('nope'), r"unknown task 'nope'.*relu.*delay"),
    (lambda: tasks.get_task(3), 'unknown task'),
    (lambda: tasks.get_task('relu', 1), 'length >= 2'),
    (lambda: tasks.get_task('relu', 0), 'length >= 2'),
    (lambda: tasks.get_task('relu', 8.0), 'must be an int'),
    (lambda: tasks.get_task('relu', True), 'must be an int'),
    (lambda: tasks.get_task('prod', 7), 'even length'),
    (lambda: tasks.get_task('delay', 7), 'divisible .* m=2'),
    (lambda: tasks.get_task('delay', 8, parents=[[], [], []]),
     'divisible .* m=3'),
    (lambda: tasks.get_task('relu', 8, foo=1), "unknown parameter.*'foo'"),
    (lambda: tasks.get_task('prod', 8, chain=[0]), "unknown parameter.*chain"),
    (lambda: tasks.get_task('index', 8, order_seed=1),
     "unknown parameter.*'order_seed'.*accepts: d"),
    (lambda: tasks.get_task('relu', 4, chain=[0, 1, 1, 2]),
     'chain is not a permutation.*duplicated'),
    (lambda: tasks.get_task('relu', 4, chain=[0, 1, 2]),
     'chain is not a permutation.*length 3'),
    (lambda: tasks.get_task('mlp', 3, chain=[0, 1, 3]),
     'chain is not a permutation.*out of range'),
    (lambda: tasks.get_task('cubic', 3, chain=[0.0, 1.0, 2.0]),
     'chain is not a permutation.*dtype'),
    (lambda: tasks.get_task('index', 8, d=0), r'd must be in 1\.\.L=8'),
    (lambda: tasks.get_task('index', 8, d=9), r'd must be in 1\.\.L=8'),
    (lambda: tasks.get_task('index', 8, d=True), 'd must be an int'),
    (lambda: tasks.get_task('index', 8, d=2.0), 'd must be an int'),
    (lambda: tasks.get_task('planted', 8, order_seed=-1), 'order_seed'),
    (lambda: tasks.get_task('delay', 8, parents=[[(0, 0)], [(1, 1)]]),
     'delay must be >= 1'),
    (lambda: tasks.get_task('delay', 8, parents=[[(2, 1)], [(1, 1)]]),
     'parent 2, not a variable'),
    (lambda: tasks.get_task('delay', 8, parents=[[(0, 1, 2)], []]),
     'not a \\(parent, delay\\) pair'),
    (lambda: tasks.get_task('delay', 8, parents=[]), 'at least one variable'),
    (lambda: tasks.get_task('delay', 8, parents='ab'), 'parents must be'),
])
def test_bad_input_raises(call, match):
  with pytest.raises(ValueError, match=match):
    call()


def test_bool_param_is_not_served_from_int_cache():
  tasks.get_task('index', 8, d=1)
  with pytest.raises(ValueError, match='d must be an int'):
    tasks.get_task('index', 8, d=True)


def test_chain_task_from_python_function():
  step = lambda x, y: max(x + y, 0) % 10
  chain = [6, 0, 5, 1, 7, 4, 2, 3]
  task = tasks.chain_task('relu_mod10', step, 8, input_range=(0, 9),
                          target_range=(0, 9), chain=chain)
  assert task.friendly_order.tolist() == chain
  assert task.reference_orders['friendly'].tolist() == chain
  assert task.input_vocab == 10 and task.target_vocab == 10
  json.dumps(task.params)
  inputs, targets = task.sample(jax.random.key(0), N)
  inputs, targets = np.asarray(inputs), np.asarray(targets)
  assert inputs.min() == 0 and inputs.max() == 9
  for x, y in zip(inputs.tolist(), targets.tolist()):
    assert y == chain_ref(step, x, chain)

  step = lambda x, y: abs(x - y) // 2
  dist = tasks.chain_task('dist', step, 8)
  inputs, targets = dist.sample(jax.random.key(1), N)
  for x, y in zip(np.asarray(inputs).tolist(), np.asarray(targets).tolist()):
    assert y == chain_ref(step, x, range(8))

  chain = [5, 1, 3, 0, 2, 7, 4, 6]
  sine = tasks.chain_task('mysine', lambda x, y: round(9 * math.sin(x + y)),
                          8, chain=chain)
  builtin = tasks.get_task('sine', 8, chain=chain)
  key = jax.random.key(2)
  np.testing.assert_array_equal(sine.sample(key, N)[1],
                                builtin.sample(key, N)[1])


def test_chain_task_rejects_bad_functions():
  with pytest.raises(ValueError, match=r'step_fn\(-9, -9\) = -18 is outside'):
    tasks.chain_task('sum', lambda x, y: x + y, 5)
  with pytest.raises(ValueError, match=r'step_fn\(-9, -9\) returned .*int'):
    tasks.chain_task('s', lambda x, y: 9 * math.sin(x + y), 5)
  with pytest.raises(ValueError, match='input_range .* inside target_range'):
    tasks.chain_task('r', lambda x, y: 0, 5, target_range=(0, 9))
  with pytest.raises(ValueError,
                     match=r'step_fn\(0, -9\) raised ZeroDivisionError'):
    tasks.chain_task('div', lambda x, y: 1 // x, 5)
  with pytest.raises(ValueError, match='chain is not a permutation'):
    tasks.chain_task('c', lambda x, y: x, 3, chain=[0, 0, 1])
  with pytest.raises(ValueError, match='length >= 2'):
    tasks.chain_task('c', lambda x, y: x, 1)
  with pytest.raises(ValueError, match='lo <= hi'):
    tasks.chain_task('c', lambda x, y: x, 4, input_range=(3, 1))
  # Integral floats are fine.
  task = tasks.chain_task('f', lambda x, y: float(x), 3)
  assert task.targets_from_inputs([1, 2, 3]).tolist() == [1, 2, 3]


def test_function_task_sort_and_cumsum():
  sort = tasks.function_task('sort', sorted, input_length=6, length=6,
                             input_range=(0, 9), target_range=(0, 9),
                             pool_size=2000, seed=1)
  inputs, targets = sort.sample(jax.random.key(0), N)
  assert inputs.shape == (N, 6) and targets.shape == (N, 6)
  assert inputs.dtype == jnp.int32 and targets.dtype == jnp.int32
  for x, y in zip(np.asarray(inputs).tolist(), np.asarray(targets).tolist()):
    assert y == sorted(x)
  # Draws come from the fixed pool, the same for the same seed.
  pool = np.random.default_rng(1).integers(0, 10, size=(2000, 6))
  pool_rows = {tuple(r) for r in pool.tolist()}
  assert all(tuple(r) in pool_rows for r in np.asarray(inputs).tolist())
  assert sort.reference_orders.keys() == {'forward', 'reverse'}
  with pytest.raises(ValueError, match='no target function'):
    sort.targets_from_inputs([[1, 2, 3, 4, 5, 6]])

  def cumsum(x):
    total, out = 0, []
    for v in x:
      total += v
      out.append(total)
    return out

  csum = tasks.function_task('cumsum', cumsum, input_length=5, length=5,
                             input_range=(0, 9), target_range=(0, 45),
                             pool_size=500, friendly_order=[0, 1, 2, 3, 4])
  assert csum.friendly_order.tolist() == [0, 1, 2, 3, 4]
  json.dumps(csum.params)
  inputs, targets = csum.sample(jax.random.key(1), N)
  for x, y in zip(np.asarray(inputs).tolist(), np.asarray(targets).tolist()):
    assert y == cumsum(x)


def test_function_task_rejects_bad_examples():
  kw = dict(input_length=3, length=3, input_range=(0, 9),
            target_range=(0, 9), pool_size=50)
  with pytest.raises(ValueError, match=r'returned 2 targets on example 0'):
    tasks.function_task('short', lambda x: x[:2], **kw)
  with pytest.raises(ValueError, match='outside target_range .* example'):
    tasks.function_task('big', lambda x: [v + 5 for v in x], **kw)
  with pytest.raises(ValueError, match='non-integer targets on example'):
    tasks.function_task('half', lambda x: [v / 2 for v in x], **kw)
  with pytest.raises(ValueError, match='non-integer targets on example'):
    tasks.function_task('str', lambda x: ['a'] * 3, **kw)
  with pytest.raises(ValueError, match='fn raised'):
    tasks.function_task('err', lambda x: 1 / 0, **kw)
  with pytest.raises(ValueError, match='pool_size must be >= 1'):
    tasks.function_task('p', sorted, **{**kw, 'pool_size': 0})
  with pytest.raises(ValueError, match='friendly_order is not a permutation'):
    tasks.function_task('p', sorted, friendly_order=[0, 1], **kw)


def test_task_built_directly_is_completed_and_checked():
  def sample(key, n):
    x = jax.random.randint(key, (n, 3), 0, 2)
    return x, x[:, ::-1]

  task = tasks.Task(name='flip', length=3, input_length=3,
                    input_range=(0, 1), target_range=(0, 1),
                    sample_fn=sample, friendly_order=[2, 1, 0])
  assert set(task.reference_orders) == {'forward', 'reverse', 'friendly'}
  assert task.friendly_order.tolist() == [2, 1, 0]
  assert not task.has_target_fn
  with pytest.raises(ValueError, match='friendly_order is not a permutation'):
    tasks.Task(name='bad', length=3, input_length=3, input_range=(0, 1),
               target_range=(0, 1), sample_fn=sample,
               friendly_order=[0, 1, 1])
  with pytest.raises(ValueError, match='lo <= hi'):
    tasks.Task(name='bad', length=3, input_length=3, input_range=(1, 0),
               target_range=(0, 1), sample_fn=sample)


def test_targets_from_inputs_checks_inputs():
  task = tasks.get_task('square19', 5)
  with pytest.raises(ValueError, match='inputs must lie in -9..9'):
    task.targets_from_inputs([10, 0, 0, 0, 0])
  with pytest.raises(ValueError, match=r'shape \[B, 5\]'):
    task.targets_from_inputs([[0, 0, 0]])


def test_parse_task_params():
  assert tasks.parse_task_params(['order_seed=5', ' d=2']) == {
      'order_seed': 5, 'd': 2}
  assert tasks.parse_task_params([]) == {}
  for bad in ('order_seed', 'order_seed=x', '=3'):
    with pytest.raises(ValueError, match='is not name=int'):
      tasks.parse_task_params([bad])
