"""Tests of lopro.tasks.builtin: built-in samplers against plain Python, the
step tables, the registry and ``get_task``'s memo."""

import json
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from lopro import orders
from lopro import tasks
from lopro.tasks import builtin
from lopro.tasks import delay
from conftest import chain_ref

N = 256

# ---------------------------------------------------------------------------
# Plain-Python references, written from the docstrings, independent of
# builtin.py.


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


def reference_targets(task, x):
  """The targets of one example, by the plain-Python definition."""
  name = task.name
  if name == 'mlp':
    table = tasks.step_table('mlp')
    return chain_ref(lambda a, b: int(table[a + 9, b + 9]), x,
                     task.params['chain'])
  if name in STEPS:
    return chain_ref(STEPS[name], x, list(task.friendly_order))
  if name == 'index':
    return index_ref(x, task.params['d'])
  if name == 'prod':
    return prod_ref(x)
  raise AssertionError(name)


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
]


@pytest.mark.parametrize('name,length,params', CASES)
def test_samples_match_plain_python(name, length, params):
  task = tasks.get_task(name, length, **params)
  inputs, targets = task.sample(jax.random.key(7), N)
  assert inputs.dtype == jnp.int32 and targets.dtype == jnp.int32
  assert inputs.shape == (N, task.input_length)
  assert targets.shape == (N, length)
  inputs, targets = np.asarray(inputs), np.asarray(targets)
  assert targets.min() >= task.target_range[0]
  assert targets.max() <= task.target_range[1]
  # Inputs cover their range exactly (uniform sampling, 256 x L draws).
  assert inputs.min() == task.input_range[0]
  assert inputs.max() == task.input_range[1]
  for x, y in zip(inputs.tolist(), targets.tolist()):
    assert y == reference_targets(task, x), (x, y)
  # targets_from_inputs is the same function.
  np.testing.assert_array_equal(task.targets_from_inputs(inputs), targets)


def test_hand_examples():
  square = tasks.get_task('square19', 5)
  assert square.targets_from_inputs([7, -2, 4, 1, 3]).tolist() == [
      7, -4, -6, -1, -9]
  # Along a reversed chain, y[4] = x[4] and the recurrence runs leftwards.
  rev = tasks.get_task('square19', 5, chain=[4, 3, 2, 1, 0])
  assert rev.targets_from_inputs([3, 1, 4, -2, 7]).tolist() == [
      -9, -1, -6, -4, 7]
  relu = tasks.get_task('relu', 4)
  assert relu.targets_from_inputs([-3, 2, -9, 5]).tolist() == [-3, 0, 0, 5]
  assert relu.target_range == (-9, 36) and relu.input_range == (-9, 9)
  index = tasks.get_task('index', 5, d=2)
  # y0 = x0 = 2; y1 = x[2] = 4; y2 = x[(4+2)%5] = 0; y3 = x[4] = 3;
  # y4 = x[(3+0)%5] = 1.
  assert index.targets_from_inputs([2, 0, 4, 1, 3]).tolist() == [2, 4, 0, 3, 1]
  assert index.input_range == index.target_range == (0, 4)
  prod = tasks.get_task('prod', 6)
  # 999 * 999 = 998001; 012 * 034 = 408.
  assert prod.targets_from_inputs([9] * 6).tolist() == [9, 9, 8, 0, 0, 1]
  assert prod.targets_from_inputs([0, 1, 2, 0, 3, 4]).tolist() == [
      0, 0, 0, 4, 0, 8]
  # 20-digit operands do not overflow int32.
  prod40 = tasks.get_task('prod', 40)
  expected = [int(ch) for ch in str((10**20 - 1)**2)]
  assert prod40.targets_from_inputs([9] * 40).tolist() == expected


def test_friendly_and_reference_orders():
  np.testing.assert_array_equal(tasks.get_task('prod', 10).friendly_order,
                                orders.reverse(10))
  np.testing.assert_array_equal(tasks.get_task('index', 8).friendly_order,
                                orders.identity(8))
  chain = [3, 1, 0, 2]
  for name in ('relu', 'square19', 'cubic', 'sine', 'triangle', 'mlp'):
    task = tasks.get_task(name, 4, chain=chain)
    assert task.name == name
    assert task.friendly_order.tolist() == chain
    assert task.params['chain'] == chain
    assert tasks.get_task(name, 4).friendly_order.tolist() == [0, 1, 2, 3]
  for name in tasks.task_names():
    task = tasks.get_task(name, 8)
    assert task.length == 8
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
  assert targets.tolist() == [chain_ref(relu, x, chain) for x in
                              inputs.tolist()]
  assert targets.tolist() != [chain_ref(relu, x, range(8)) for x in
                              inputs.tolist()]
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


def test_samples_inside_scan_inside_jit_vmap():
  # As training uses it: vmap over keys (orders) of a scan over steps. One
  # task per code path (the table chain tasks share mlp's).
  all_tasks = [tasks.get_task(name, 8)
               for name in ('relu', 'mlp', 'index', 'prod')]

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
    assert table.shape == (19, 19) and table.dtype == np.int64
    assert not table.flags.writeable
    for x in values:
      for y in values:
        assert table[x + 9, y + 9] == STEPS[name](x, y), (name, x, y)
  mlp = tasks.step_table('mlp')
  assert mlp.shape == (19, 19)
  # Equal-count bins: every value of -9..9 exactly 19 times.
  np.testing.assert_array_equal(np.bincount(mlp.ravel() + 9), [19] * 19)
  np.testing.assert_array_equal(mlp, builtin._mlp_table())  # fixed seed
  # It depends on both arguments.
  assert len({tuple(row) for row in mlp.tolist()}) > 1
  assert len({tuple(col) for col in mlp.T.tolist()}) > 1
  with pytest.raises(ValueError, match="no step table for 'relu'; tables "
                     'exist for: square19'):
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
      'delay', 8, parents=delay.DEFAULT_PARENTS)
  assert tasks.get_task('index', 8, d=2) is tasks.get_task('index', 8)
  assert tasks.get_task('index', 8, d=4) is not tasks.get_task('index', 8)
  assert tasks.get_task('RELU', 8) is tasks.get_task('relu', 8)
  assert tasks.get_task('prod', 10).length == 10
  # The builders themselves make a new task each call.
  assert builtin.relu_task(4) is not builtin.relu_task(4)


def test_registry():
  assert tasks.task_names() == ('relu', 'square19', 'cubic', 'sine',
                                'triangle', 'mlp', 'planted', 'index',
                                'prod', 'delay')
  assert set(tasks.TASKS) == set(tasks.task_names())
  with pytest.raises(TypeError):
    tasks.TASKS['mine'] = tasks.relu_task
  assert tasks.TASKS['relu'](5).length == 5
  assert tasks.TASKS['delay'] is tasks.delay_task


@pytest.mark.parametrize('call,match', [
    (lambda: tasks.get_task('nope'), r"unknown task 'nope'.*relu.*delay"),
    (lambda: tasks.get_task(3), 'unknown task 3'),
    (lambda: tasks.get_task('relu', 1), "task 'relu' needs length >= 2"),
    (lambda: tasks.get_task('relu', 0), 'length >= 2, got 0'),
    (lambda: tasks.get_task('relu', 8.0), 'must be an int'),
    (lambda: tasks.get_task('relu', True), 'must be an int'),
    (lambda: tasks.get_task('prod', 7), 'even length'),
    (lambda: tasks.get_task('relu', 8, foo=1), "unknown parameter.*'foo'"),
    (lambda: tasks.get_task('prod', 8, chain=[0]),
     "unknown parameter.*chain.*no parameters"),
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
    (lambda: tasks.get_task('index', 8, d=0), r'd must be in 1\.\.L=8, got 0'),
    (lambda: tasks.get_task('index', 8, d=9), r'd must be in 1\.\.L=8, got 9'),
    (lambda: tasks.get_task('index', 8, d=True), 'd must be an int'),
    (lambda: tasks.get_task('index', 8, d=2.0), 'd must be an int'),
    (lambda: tasks.get_task('planted', 8, order_seed=-1),
     'order_seed must be >= 0, got -1'),
])
def test_bad_input_raises(call, match):
  with pytest.raises(ValueError, match=match):
    call()


def test_bool_and_float_params_are_not_served_from_the_int_cache():
  tasks.get_task('index', 8, d=1)
  with pytest.raises(ValueError, match='d must be an int'):
    tasks.get_task('index', 8, d=True)
  tasks.get_task('index', 8, d=2)
  with pytest.raises(ValueError, match='d must be an int'):
    tasks.get_task('index', 8, d=2.0)


def test_parse_task_params():
  assert tasks.parse_task_params(['order_seed=5', ' d=2']) == {
      'order_seed': 5, 'd': 2}
  assert tasks.parse_task_params(['d=-3']) == {'d': -3}
  assert tasks.parse_task_params([]) == {}
  for bad in ('order_seed', 'order_seed=x', '=3', 'd=2.5'):
    with pytest.raises(ValueError, match=f'{bad!r} is not name=int'):
      tasks.parse_task_params([bad])


@pytest.mark.parametrize('name, params, free', [
    ('relu', {}, (0,)), ('square19', dict(chain=[2, 0, 1, 3]), (2,)),
    ('mlp', {}, (0,)), ('planted', dict(order_seed=3), None),
    ('index', {}, (0,)), ('index', dict(d=3), (0,)), ('prod', {}, ()),
    ('delay', {}, ())])
def test_free_slots_of_the_builtin_tasks(name, params, free):
  task = tasks.get_task(name, length=4, **params)
  if free is None:  # a planted chain: its first slot
    free = (int(task.friendly_order[0]),)
  assert task.free_slots == free
  moved = np.roll(task.friendly_order, -1)  # the first slot emitted last
  assert task.friendly_match(moved) == ('equivalent' if free else 'miss')


def test_dependency_graphs_of_the_builtin_tasks():
  relu = tasks.get_task('relu', 4, chain=[2, 0, 3, 1])
  assert relu.depends_on == ((2,), (3,), (), (0,))
  assert orders.topological_sorts(relu, 5).tolist() == [[2, 0, 3, 1]]
  index = tasks.get_task('index', 5, d=2)
  assert index.depends_on == ((), (0,), (0, 1), (1, 2), (2, 3))
  delay = tasks.get_task('delay', 6)  # m=2, n=3
  # s0_t <- s0_{t-1}, s1_{t-2}; s1_t <- s1_{t-1}, s0_{t-1}
  assert delay.depends_on == ((), (0,), (1, 3), (), (3, 0), (4, 1))
  assert orders.is_topological(delay.friendly_order, delay)
  assert not orders.is_topological(orders.identity(6), delay)
  assert tasks.get_task('prod', 4).depends_on is None
