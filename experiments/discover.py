r"""Discovers a learning-friendly generation order for a task (the main job).

Runs a search (``lopro.search_order``): by default ``lopro.default_method(L)``,
the best method we have measured at that length, or the strategy and
estimator the flags name (``experiments/methods.py``). Logs each profiling
run with an ETA, and writes into --output_dir ``result.json`` (order, score,
num_profiled, wall time, the strategy and estimator, the task, the command),
``history.npz`` (every profiling run; ``lopro.SearchResult.load``) and
``search.png``. The search checkpoints in ``<output_dir>/checkpoint`` after
every profiling run: rerun the same command to resume.

With only --output_dir it runs a real discovery on relu, L=8 (about 13
minutes on a 2-core CPU) with the default method (the paper's search plus
insertion rounds from 3 starts, one model per order):
  python experiments/discover.py --output_dir=/tmp/lopro

Other examples:
  python experiments/discover.py --task=square19 --length=8 --seed=1 \
      --output_dir=/tmp/lopro_sq
  python experiments/discover.py --task=planted --task_params=order_seed=5 \
      --output_dir=/tmp/lopro_planted
  python experiments/discover.py --task=planted --strategy=random \
      --output_dir=/tmp/lopro_random
  python experiments/discover.py --task=relu --length=13 \
      --output_dir=/tmp/lopro_relu13
(at L=13 the default is one universal model scoring the whole search, then
refine rounds with one model per order; 25 minutes on 2 CPU cores, finds the
friendly order.) The paper's method: --strategy=paper --estimator=mixture.

Every device JAX sees profiles a share of each population. Several hosts
(a TPU pod slice, GPU hosts) run the same command with --distributed or
--coordinator_address/--num_processes/--process_id (experiments/multihost.py);
process 0 writes the results, each process keeps its own checkpoint.
"""

import os
import sys
import time

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np

# Run as a script, the repository root is not on the path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import methods
from experiments import multihost
import lopro
from lopro import orders
from lopro import results
from lopro import search as search_lib
from lopro import sharding
from lopro import tasks
# pylint: enable=g-import-not-at-top,wrong-import-position

_TASK = flags.DEFINE_enum('task', 'relu', list(lopro.task_names()), 'Task.')
_LENGTH = flags.DEFINE_integer('length', 8, 'Target length L.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the search and profiles.')
_PARAMS = flags.DEFINE_list('task_params', [],
                            'Task parameters as name=int, e.g. order_seed=5.')
_METHOD = methods.define_flags()
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)


class StageLogger:
  """Logs the rate and an ETA for the whole search after every profiling run
  (the driver logs the run itself).

  The ETA is an upper bound: the orders the strategy may still profile
  (``budget``, its ``max_profiles(L)``; score reuse spends less) at the rate
  so far. Without a budget it logs the rate alone.
  """

  def __init__(self, budget: int | None):
    self.budget = budget
    self.done = 0
    self.start = time.perf_counter()

  def __call__(self, record: lopro.StageRecord) -> None:
    self.done += len(record.candidates) - record.num_reused
    elapsed = time.perf_counter() - self.start
    rate = self.done / max(elapsed, 1e-9)
    if self.budget is None:
      logging.info('%s: %.2f orders/s, %d profiled', record.name, rate,
                   self.done)
      return
    left = max(self.budget - self.done, 0)
    logging.info('%s: %.2f orders/s, %d/<=%d profiled, ETA <=%.0fs',
                 record.name, rate, self.done, self.budget,
                 left / max(rate, 1e-9))


def summary(result: lopro.SearchResult, task: lopro.Task, seed: int,
            command: str) -> dict:
  """The fields ``result.json`` holds besides the result's own."""
  friendly = task.friendly_order
  return dict(
      task=task.name, length=task.length, task_params=dict(task.params),
      order_string=orders.order_to_string(result.order),
      friendly_order=None if friendly is None else friendly.tolist(),
      found_friendly=(None if friendly is None
                      else bool(np.array_equal(result.order, friendly))),
      kendall_to_friendly=(None if friendly is None else
                           orders.kendall_distance(result.order, friendly)),
      seed=seed, device=str(jax.devices()[0].device_kind),
      num_devices=jax.device_count(), num_processes=jax.process_count(),
      command=command)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('Too many command-line arguments.')
  logging.set_verbosity(logging.INFO)
  multihost.initialize()
  task = lopro.get_task(_TASK.value, length=_LENGTH.value,
                        **tasks.parse_task_params(_PARAMS.value))
  method = methods.method_from_flags(_METHOD, task.length)
  budget = method.max_profiles(task.length)
  out = _OUTPUT_DIR.value
  logging.info('search on %s L=%d: %s (at most %s order-profiles) on %s; '
               'checkpoints in %s/checkpoint', task.name, task.length,
               method.describe(), budget, jax.devices(), out)
  res = lopro.search_order(
      task, strategy=method.strategy, estimator=method.estimator,
      seed=_SEED.value,
      checkpoint_dir=multihost.process_dir(os.path.join(out, 'checkpoint')),
      callback=StageLogger(budget))
  extra = summary(res, task, _SEED.value, ' '.join(sys.argv))
  if not sharding.is_main_process():
    return
  res.save(out, **extra)
  friendly = task.friendly_order
  results.plot_search(
      [r.name for r in res.history], [r.best_score for r in res.history],
      res.order, friendly, os.path.join(out, 'search.png'),
      title=f'{task.name} L={task.length}, seed {_SEED.value}: '
      f'{search_lib.describe_method(method.strategy, method.estimator)}')

  print(f'discovered order: {extra["order_string"]}  (score {res.score:.4f})')
  if friendly is not None:
    verdict = ('= the friendly order' if extra['found_friendly'] else
               f'!= the friendly order {orders.order_to_string(friendly)} '
               f'(Kendall distance {extra["kendall_to_friendly"]}'
               + (', a local optimum of the search neighbourhood'
                  if res.local_optimum else '') + ')')
    print(verdict)
  print(f'{res.num_profiled} order-profiles in {res.wall_time:.0f}s; wrote '
        f'{out}/result.json, history.npz and search.png')


if __name__ == '__main__':
  app.run(main)
