"""The Task type, argument checks and the samplers tasks are built from.

A ``Task`` bundles a pure JAX sampler ``sample(key, n) -> (inputs, targets)``
with the value ranges the model's vocabulary needs and the orders that are
known to matter (``friendly_order``, ``reference_orders``). The built-in
tasks live in ``builtin.py``, tasks built from a user's Python function in
``user.py``, tasks built from a dataset file in ``data.py``; they make their
samplers from the pieces here.

Every sampler draws its inputs with ``jax.random.randint`` (or from a fixed
pool) and computes the targets with a pure function (table lookups,
``lax.scan``), so it can be jitted, vmapped and called inside ``lax.scan``.

Dimension letters: B examples, Lx input length, L target length, P pool size.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from lopro import orders

SampleFn = Callable[[jax.Array, int], tuple[jax.Array, jax.Array]]
TargetFn = Callable[[jax.Array], jax.Array]

# Values of x (and of y, except relu's) in the chain tasks.
LO, HI = -9, 9
SMALL = (LO, HI)

def frozen_array(order) -> np.ndarray:
  array = np.array(order, dtype=np.int64)
  array.setflags(write=False)
  return array


class ReadOnlyDict(dict):
  """A dict that refuses changes: a shared task's mappings stay as built.

  Still a dict, so ``json.dumps`` and ``dict(...)`` take it.
  """

  def _refuse(self, *args, **kwargs):
    raise TypeError('a task\'s mappings are read-only; build a new task')

  __setitem__ = __delitem__ = _refuse
  clear = pop = popitem = setdefault = update = _refuse
  __ior__ = _refuse

  def __reduce__(self):  # copy and pickle without __setitem__
    return type(self), (dict(self),)


@dataclasses.dataclass(frozen=True, eq=False)
class Task:
  """A sequence task with a fixed-length target.

  Compared (and hashed) by identity, so that compiled training functions can
  be cached per task; ``get_task`` returns the same object for the same
  arguments.

  On construction the orders are validated and made read-only, and
  ``reference_orders`` is completed with 'forward', 'reverse' and (when
  ``friendly_order`` is set) 'friendly' if they are missing.

  Attributes:
    name: short name, e.g. ``'relu'``.
    length: L, the target length.
    input_length: Lx, the input length.
    input_range: inclusive (lo, hi) of every input value.
    target_range: inclusive (lo, hi) of every target value.
    sample_fn: pure, jit- and vmap-able ``(key, n) -> (int32[n, Lx],
      int32[n, L])``, targets in stored order; ``n`` is a Python int.
    friendly_order: int[L] known to be easy, or None.
    reference_orders: name -> int[L] (read-only); always has 'forward' and
      'reverse', and 'friendly' when ``friendly_order`` is set.
    params: the JSON-serialisable arguments the task was built from
      (read-only).
    free_slots: slots that may be emitted at any step without making the
      task harder, so that an order is as friendly as ``friendly_order``
      when the two agree once these slots are set aside (``is_friendly``).
      In a chain task, ``chain[0]`` copies an input: every other target is
      still one step from what is known wherever it goes.
    depends_on: the dependency graph of the targets, or None when the task
      does not state one: ``depends_on[i]`` lists the target slots y_i is
      computed from (a chain task's slot ``chain[k]`` depends on
      ``chain[k-1]``). An order that emits every slot after the slots it
      depends on is a topological sort (``orders.topological_sorts``).
    heldout: a fixed held-out set (inputs int32[N, Lx], targets int32[N, L],
      read-only), or None. When set (a dataset's held-out part,
      ``dataset_task``), evaluation decodes its first examples and the
      mixture and universal estimators draw their held-out examples from
      it; when None they sample the task.
    num_train_examples: how many distinct examples ``sample_fn`` draws its
      training batches from (a dataset's training part), or None for an
      unbounded supply. Profiling and evaluation refuse a batch larger than
      it (``check_batch_size``).
  """
  name: str
  length: int
  input_length: int
  input_range: tuple[int, int]
  target_range: tuple[int, int]
  sample_fn: SampleFn
  friendly_order: np.ndarray | None = None
  reference_orders: Mapping[str, np.ndarray] = dataclasses.field(
      default_factory=dict)
  params: Mapping[str, Any] = dataclasses.field(default_factory=dict)
  free_slots: tuple[int, ...] = ()
  heldout: tuple[np.ndarray, np.ndarray] | None = dataclasses.field(
      default=None, repr=False)
  num_train_examples: int | None = None
  depends_on: tuple[tuple[int, ...], ...] | None = None

  def __post_init__(self):
    if not isinstance(self.name, str) or not self.name:
      raise ValueError(f'task name must be a non-empty str, got {self.name!r}')
    length = as_int('length', self.length)
    input_length = as_int('input_length', self.input_length)
    if length < 1 or input_length < 1:
      raise ValueError(f'task {self.name!r}: length and input_length must be '
                       f'>= 1, got {self.length} and {self.input_length}')
    if not callable(self.sample_fn):
      raise ValueError(f'task {self.name!r}: sample_fn must be callable, got '
                       f'{self.sample_fn!r}')
    set_ = functools.partial(object.__setattr__, self)
    set_('length', length)
    set_('input_length', input_length)
    set_('input_range', as_range('input_range', self.input_range))
    set_('target_range', as_range('target_range', self.target_range))
    friendly = None
    if self.friendly_order is not None:
      friendly = frozen_array(check_order(self.friendly_order, length,
                                          'friendly_order'))
    set_('friendly_order', friendly)
    refs = {'forward': orders.identity(length),
            'reverse': orders.reverse(length)}
    if friendly is not None:
      refs['friendly'] = friendly
    given = dict(self.reference_orders)
    if (friendly is not None and 'friendly' in given
        and not np.array_equal(np.asarray(given['friendly']), friendly)):
      raise ValueError(f'task {self.name!r}: reference_orders["friendly"] '
                       'differs from friendly_order')
    for key, order in given.items():
      refs[key] = check_order(order, length, f'reference_orders[{key!r}]')
    set_('reference_orders', ReadOnlyDict(
        {key: frozen_array(order) for key, order in refs.items()}))
    set_('params', ReadOnlyDict(self.params))
    free = tuple(as_int('free_slots', slot) for slot in self.free_slots)
    if len(set(free)) < len(free) or any(not 0 <= f < length for f in free):
      raise ValueError(f'task {self.name!r}: free_slots must be distinct '
                       f'slots in 0..{length - 1}, got {self.free_slots!r}')
    set_('free_slots', free)
    if self.depends_on is not None:
      set_('depends_on', check_dependencies(self.name, self.depends_on,
                                            length))
    if self.heldout is not None:
      set_('heldout', self._check_heldout(self.heldout))
    if self.num_train_examples is not None:
      num_train = as_int('num_train_examples', self.num_train_examples)
      if num_train < 1:
        raise ValueError(f'task {self.name!r}: num_train_examples must be '
                         f'>= 1 or None, got {num_train}')
      set_('num_train_examples', num_train)

  def _check_heldout(self, heldout) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) as read-only int32 arrays of the task's shapes."""
    try:
      inputs, targets = heldout
    except (TypeError, ValueError):
      raise ValueError(f'task {self.name!r}: heldout must be an (inputs, '
                       f'targets) pair, got {type(heldout).__name__}'
                       ) from None
    pair = []
    for what, array, width, (lo, hi) in (
        ('inputs', inputs, self.input_length, self.input_range),
        ('targets', targets, self.length, self.target_range)):
      array = np.asarray(array)
      if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f'task {self.name!r}: heldout {what} must be '
                         f'integers, got dtype {array.dtype}')
      if array.ndim != 2 or array.shape[0] < 1 or array.shape[1] != width:
        raise ValueError(f'task {self.name!r}: heldout {what} must have '
                         f'shape [N >= 1, {width}], got {array.shape}')
      if array.min() < lo or array.max() > hi:
        raise ValueError(f'task {self.name!r}: heldout {what} must lie in '
                         f'{lo}..{hi}, got {array.min()}..{array.max()}')
      array = np.array(array, dtype=np.int32)
      array.setflags(write=False)
      pair.append(array)
    if pair[0].shape[0] != pair[1].shape[0]:
      raise ValueError(f'task {self.name!r}: heldout inputs and targets '
                       f'differ in examples: {pair[0].shape[0]} vs '
                       f'{pair[1].shape[0]}')
    return pair[0], pair[1]

  @property
  def input_vocab(self) -> int:
    return self.input_range[1] - self.input_range[0] + 1

  @property
  def target_vocab(self) -> int:
    return self.target_range[1] - self.target_range[0] + 1

  def canonical(self, order) -> np.ndarray:
    """int64[L - F]: ``order`` without its ``free_slots``; orders with equal
    canonical forms are equally friendly."""
    order = check_order(order, self.length, 'order')
    return order[~np.isin(order, self.free_slots)]

  def friendly_match(self, order) -> str | None:
    """'exact' (the friendly order), 'equivalent' (the same once
    ``free_slots`` are set aside), 'miss', or None when no friendly order
    is known."""
    order = check_order(order, self.length, 'order')
    if self.friendly_order is None:
      return None
    if np.array_equal(order, self.friendly_order):
      return 'exact'
    if np.array_equal(self.canonical(order),
                      self.canonical(self.friendly_order)):
      return 'equivalent'
    return 'miss'

  def is_friendly(self, order) -> bool:
    """Whether ``order`` is the friendly order or equivalent to it.

    Raises:
      ValueError: the task has no known friendly order, or ``order`` is
        not a permutation of 0..L-1.
    """
    match = self.friendly_match(order)
    if match is None:
      raise ValueError(f'task {self.name!r} has no known friendly order')
    return match != 'miss'

  def sample(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    """Draws ``n`` examples: (inputs int32[n, Lx], targets int32[n, L])."""
    return self.sample_fn(key, n)

  @property
  def has_target_fn(self) -> bool:
    """Whether ``targets_from_inputs`` works (False for pool-based tasks)."""
    return getattr(self.sample_fn, 'targets', None) is not None

  def targets_from_inputs(self, inputs) -> jax.Array:
    """The targets of given inputs, by the same pure function sampling uses.

    Available for every built-in task and for ``chain_task``; not for
    ``function_task`` (its targets come from a pre-computed pool) nor for a
    Task built directly around an arbitrary ``sample_fn``.

    Args:
      inputs: int[B, Lx] (or int[Lx] for one example), values within
        ``input_range``. Host arrays and lists are range-checked; traced
        arrays are not (out-of-range values give unspecified targets).

    Returns:
      int32[B, L] (or int32[L]) targets in stored order.

    Raises:
      ValueError: the task has no target function, or wrong shape/range.
    """
    fn = getattr(self.sample_fn, 'targets', None)
    if fn is None:
      raise ValueError(f'task {self.name!r} has no target function (its '
                       'targets come from a pool or a custom sample_fn)')
    if isinstance(inputs, (list, tuple, np.ndarray)):
      host = np.asarray(inputs)
      if not np.issubdtype(host.dtype, np.integer):
        raise ValueError(f'inputs must be integers, got dtype {host.dtype}')
      lo, hi = self.input_range
      if host.size and (host.min() < lo or host.max() > hi):
        raise ValueError(f'task {self.name!r}: inputs must lie in '
                         f'{lo}..{hi}, got values {host.min()}..{host.max()}')
    array = jnp.asarray(inputs, dtype=jnp.int32)
    single = array.ndim == 1
    if single:
      array = array[None]
    if array.ndim != 2 or array.shape[1] != self.input_length:
      raise ValueError(f'task {self.name!r}: inputs must have shape '
                       f'[B, {self.input_length}], got {tuple(array.shape)}')
    targets = getattr(self.sample_fn, 'targets_jit', fn)(array)
    return targets[0] if single else targets


# ---------------------------------------------------------------------------
# Argument checking.


def as_int(what: str, value) -> int:
  """An int from an int-like value; refuses bools, floats and strings."""
  if isinstance(value, (bool, np.bool_)):
    raise ValueError(f'{what} must be an int, got bool {value!r}')
  try:
    return operator.index(value)
  except TypeError:
    raise ValueError(f'{what} must be an int, got {value!r} '
                     f'({type(value).__name__})') from None


def as_range(what: str, value) -> tuple[int, int]:
  try:
    lo, hi = value
  except (TypeError, ValueError):
    raise ValueError(f'{what} must be an inclusive (lo, hi) pair of ints, '
                     f'got {value!r}') from None
  lo, hi = as_int(f'{what}[0]', lo), as_int(f'{what}[1]', hi)
  if lo > hi:
    raise ValueError(f'{what} must have lo <= hi, got {value!r}')
  return lo, hi


def check_order(order, length: int, what: str) -> np.ndarray:
  try:
    return orders.validate_order(order, length)
  except ValueError as e:
    raise ValueError(f'{what} is not a permutation of 0..{length - 1}: '
                     f'{e}') from None


def check_batch_size(task: Task, batch_size: int,
                     what: str = 'batch_size') -> None:
  """Raises ValueError when ``task`` has fewer training examples than a batch.

  Only tasks with ``num_train_examples`` (a dataset) can fail; the message
  names ``task.params['path']`` (a dataset's file) when there is one.

  Args:
    task: the task.
    batch_size: examples per training step.
    what: how the message names the batch size, e.g.
      ``'Independent.train.batch_size'``.
  """
  num_train = task.num_train_examples
  if num_train is not None and batch_size > num_train:
    source = task.params.get('path') or f'task {task.name!r}'
    raise ValueError(f'{source}: the training part has {num_train} '
                     f'examples, fewer than {what}={batch_size}; use more '
                     'examples, a smaller held-out fraction or a smaller '
                     'batch')


def check_dependencies(name: str, depends_on, length: int
                       ) -> tuple[tuple[int, ...], ...]:
  """``depends_on`` as L tuples of slots, checked to be an acyclic graph."""
  try:
    graph = tuple(tuple(as_int(f'depends_on[{i}]', j) for j in parents)
                  for i, parents in enumerate(depends_on))
  except TypeError:
    raise ValueError(f'task {name!r}: depends_on must list, for every slot, '
                     f'the slots it depends on; got {depends_on!r}') from None
  if len(graph) != length or any(not 0 <= j < length or j == i
                                 for i, parents in enumerate(graph)
                                 for j in parents):
    raise ValueError(f'task {name!r}: depends_on must have {length} entries '
                     f'of other slots in 0..{length - 1}, got {depends_on!r}')
  if not orders.is_acyclic(graph):
    raise ValueError(f'task {name!r}: depends_on has a cycle: {graph!r}')
  return graph


def check_length(name: str, length, minimum: int = 2) -> int:
  length = as_int(f'task {name!r} length', length)
  if length < minimum:
    raise ValueError(f'task {name!r} needs length >= {minimum}, got {length}')
  return length


def chain_or_identity(chain, length: int) -> np.ndarray:
  if chain is None:
    return orders.identity(length)
  return check_order(chain, length, 'chain')


# ---------------------------------------------------------------------------
# Samplers: draw inputs, then compute targets with a pure function.


@dataclasses.dataclass(frozen=True, eq=False)
class UniformSampler:
  """``(key, n) -> (inputs, targets)`` with uniform inputs in ``[lo, hi]``.

  Attributes:
    input_length: Lx.
    input_range: inclusive (lo, hi).
    targets: pure ``int32[B, Lx] -> int32[B, L]``.
  """
  input_length: int
  input_range: tuple[int, int]
  targets: TargetFn

  def __call__(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    lo, hi = self.input_range
    inputs = uniform_ints(key, n, self.input_length, lo, hi)
    return inputs, self.targets_jit(inputs)

  @functools.cached_property
  def targets_jit(self) -> TargetFn:
    # Compiled once per input shape when called eagerly; inlined under an
    # outer jit/vmap/scan.
    return jax.jit(lambda inputs: self.targets(inputs).astype(jnp.int32))


@functools.partial(jax.jit, static_argnums=(1, 2, 3, 4))
def uniform_ints(key: jax.Array, n: int, width: int, lo: int,
                 hi: int) -> jax.Array:
  """int32[n, width] uniform in lo..hi (one compile shared by all tasks)."""
  return jax.random.randint(key, (n, width), lo, hi + 1, dtype=jnp.int32)


def chain_targets(step: Callable[[jax.Array, jax.Array], jax.Array],
                  inputs: jax.Array, chain: np.ndarray) -> jax.Array:
  """Runs ``y[chain[k]] = step(x[chain[k]], y[chain[k-1]])`` along a chain.

  Args:
    step: vectorised ``(x int32[B], y_prev int32[B]) -> int32[B]``.
    inputs: int32[B, L].
    chain: int[L], a permutation; ``y[chain[0]] = x[chain[0]]``.

  Returns:
    int32[B, L], targets in stored order.
  """
  xs = inputs[:, chain]  # [B, L] in chain order
  first = xs[:, 0]

  def body(prev, x):
    y = step(x, prev)
    return y, y

  _, rest = jax.lax.scan(body, first, xs[:, 1:].T)  # [L-1, B]
  ys = jnp.concatenate([first[None], rest], axis=0).T  # [B, L] chain order
  return ys[:, orders.invert_order(chain)]


def table_step(table: np.ndarray, x_lo: int, y_lo: int):
  """A vectorised step looking ``f(x, y) = table[x - x_lo, y - y_lo]`` up."""
  num_y = table.shape[1]
  flat = np.asarray(table, dtype=np.int32).reshape(-1)

  def step(x, y):
    return jnp.asarray(flat)[(x - x_lo) * num_y + (y - y_lo)]

  return step


def relu_step(x, y):
  return jnp.maximum(x + y, 0)


def make_chain_task(name: str, length: int, step, chain: np.ndarray,
                    input_range: tuple[int, int],
                    target_range: tuple[int, int],
                    params: dict[str, Any]) -> Task:
  targets = functools.partial(chain_targets, step, chain=chain)
  sampler = UniformSampler(length, input_range,
                           lambda inputs: targets(inputs.astype(jnp.int32)))
  depends_on = [()] * length
  for previous, slot in zip(chain[:-1], chain[1:]):
    depends_on[slot] = (int(previous),)
  return Task(name=name, length=length, input_length=length,
              input_range=input_range, target_range=target_range,
              sample_fn=sampler, friendly_order=chain,
              params={'chain': chain.tolist(), **params},
              free_slots=(int(chain[0]),), depends_on=tuple(depends_on))


@dataclasses.dataclass(frozen=True, eq=False)
class PoolSampler:
  """Draws examples uniformly (with replacement) from a fixed pool."""
  inputs: jax.Array  # int32[P, Lx]
  targets_pool: jax.Array  # int32[P, L]
  targets = None  # no target function: see Task.targets_from_inputs

  def __call__(self, key: jax.Array, n: int) -> tuple[jax.Array, jax.Array]:
    return draw_from_pool(key, n, self.inputs, self.targets_pool)


@functools.partial(jax.jit, static_argnums=1)
def draw_from_pool(key: jax.Array, n: int, inputs: jax.Array,
                   targets: jax.Array) -> tuple[jax.Array, jax.Array]:
  """n rows drawn uniformly with replacement from a pool [P, Lx], [P, L]."""
  index = jax.random.randint(key, (n,), 0, inputs.shape[0])
  return jnp.take(inputs, index, axis=0), jnp.take(targets, index, axis=0)
