"""``profile_orders``: the front door of loss profiling.

Trains small transformers briefly on every candidate order with an
estimator (``lopro.estimators``; one model per order by default) and ranks
the orders by their early-stage loss.

Dimension letters: O orders, L target length, T steps.
"""

from __future__ import annotations

import numpy as np

from lopro import orders as orders_lib
from lopro import tasks as tasks_lib
from lopro.estimators import base
from lopro.estimators import independent


def resolve_task(task: str | tasks_lib.Task, length: int) -> tasks_lib.Task:
  """Returns the Task for a name (built at ``length``) or checks a Task."""
  if isinstance(task, tasks_lib.Task):
    if task.length != length:
      raise ValueError(f'perms have length {length} but task {task.name!r} '
                       f'has length {task.length}')
    return task
  if isinstance(task, str):
    return tasks_lib.get_task(task, length=length)
  raise ValueError(f'task must be a task name or a lopro.Task, got '
                   f'{type(task).__name__}')


def check_estimator(estimator) -> None:
  """Raises unless ``estimator`` answers the Estimator protocol."""
  if not isinstance(estimator, base.Estimator):
    raise ValueError('estimator must answer profile(task, perms, seed) and '
                     'reusable (e.g. lopro.Independent()), got '
                     f'{estimator!r}')


def check_seed(seed) -> int:
  if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
    raise ValueError(f'seed must be an int, got {seed!r}')
  return int(seed)


def profile_orders(perms, task: str | tasks_lib.Task = 'relu', *,
                   estimator: base.Estimator | None = None, seed: int = 0,
                   callback: base.ProgressFn | None = None,
                   runtime: base.Runtime | None = None) -> base.Profile:
  """Trains a small transformer briefly on every order and ranks the orders.

  Args:
    perms: int[O, L], each row a permutation of ``0..L-1``; the model emits
      ``y[perm]``.
    task: a task name (built at length L with ``lopro.get_task``) or a Task.
    estimator: how the orders are profiled; ``lopro.Independent()`` (one
      model per order, vmapped) if None. Also ``lopro.Halving()``,
      ``lopro.Mixture()`` (the paper's) and ``lopro.Universal()``.
    seed: root seed of the profile.
    callback: told a ``lopro.estimators.Progress`` as the work advances.
    runtime: chunk size, vmap group and devices (``lopro.Runtime``); they
      never change the result.

  Returns:
    A Profile: losses float32[O, T], scores float32[O] (lower is
    friendlier, +inf for non-finite losses) and ranking int[O], best first.

  Raises:
    ValueError: perms that are not permutations, an empty batch, a task the
      length does not fit, an unknown task, a bad estimator or seed.

  References:
    Sato, Kawamoto & Kera, arXiv 2506.23875, §4 (loss profiling).
  """
  estimator = independent.Independent() if estimator is None else estimator
  check_estimator(estimator)
  seed = check_seed(seed)
  if runtime is not None and not isinstance(runtime, base.Runtime):
    raise ValueError(f'runtime must be a lopro.Runtime, got {runtime!r}')
  perms = orders_lib.validate_orders(perms)
  task = resolve_task(task, perms.shape[1])
  return estimator.profile(task, perms, seed, callback=callback,
                           runtime=runtime)
