r"""Discovers a learning-friendly generation order for a task (the main job).

Runs a search (``lopro.search_order``): by default ``lopro.default_method(L)``,
the best method we have measured at that length, or the strategy and
estimator the flags name (``experiments/methods.py``). Logs each profiling
run and shows a progress bar with an ETA over the whole search (a resumed
search says so), and writes into --output_dir ``result.json`` (order, score,
num_profiled, wall time, the strategy and estimator, the task, the command),
``history.npz`` (every profiling run; ``lopro.SearchResult.load``) and
``search.png``. The search checkpoints in ``<output_dir>/checkpoint`` after
every profiling run: rerun the same command to resume.

With only --output_dir it runs a real discovery on relu, L=8 (1-2 minutes
on a 2-core CPU) with the default method (``lopro.default_method(8)``):
  python experiments/discover.py --output_dir=/tmp/lopro

Other examples (--start: improve an order you have, e.g. a hand-designed
one, with an insertion climb from it):
  python experiments/discover.py --task=sine --length=12 --strategy=insertion \
      --start="7 0 1 8 9 2 3 10 4 11 5 6" --output_dir=/tmp/lopro_start
  python experiments/discover.py --task=square19 --length=8 --seed=1 \
      --output_dir=/tmp/lopro_sq
  python experiments/discover.py --task=planted --task_params=order_seed=5 \
      --output_dir=/tmp/lopro_planted
  python experiments/discover.py --task=planted --strategy=random \
      --output_dir=/tmp/lopro_random
  python experiments/discover.py --task=relu --length=13 \
      --output_dir=/tmp/lopro_relu13
(at L=13 the default is one universal model scoring the whole search, then
refine rounds with one model per order; 449 s on 2 CPU cores with seed 0,
ending on 1 2 0 3 ... 12, equivalent to forward: slot 0 copies its input;
results/discovery/README.md.) The paper's method: --strategy=paper
--estimator=mixture --noslot_embedding.

Your own data instead of --task (``lopro.dataset_task``: one example per
line, ``3 -1 4 # 3 2 6``, or .npz / .jsonl), written back in the discovered
order (targets[order] on every line) when the search is done:
  python experiments/discover.py --data=train.txt \
      --write_reordered=train_reordered.txt --output_dir=/tmp/lopro_data
--length, if given, must be the file's target length. A bad file stops the
binary with one line naming the file and the line.

Every device JAX sees profiles a share of each population. Several hosts
(a TPU pod slice, GPU hosts) run the same command with --distributed or
--coordinator_address/--num_processes/--process_id (experiments/multihost.py);
process 0 writes the results, each process keeps its own checkpoint.
"""

import os
import sys
from typing import NoReturn

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
from experiments import progress
import lopro
from lopro import orders
from lopro import results
from lopro import search as search_lib
from lopro import sharding
from lopro import tasks
from lopro.tasks import base as tasks_base
# pylint: enable=g-import-not-at-top,wrong-import-position

_TASK = flags.DEFINE_enum('task', 'relu', list(lopro.task_names()), 'Task.')
_DATA = flags.DEFINE_string(
    'data', None, 'A dataset file to search on instead of --task (text '
    '"3 -1 4 # 3 2 6" per line, .npz or .jsonl; lopro.dataset_task).')
_WRITE_REORDERED = flags.DEFINE_string(
    'write_reordered', None, 'With --data: after the search, write the '
    'dataset here with every target in the discovered order, in the '
    'format of --data.')
_LENGTH = flags.DEFINE_integer(
    'length', 8, 'Target length L (with --data: checked against the file '
    'when given).')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the search and profiles.')
_PARAMS = flags.DEFINE_list('task_params', [],
                            'Task parameters as name=int, e.g. order_seed=5.')
_START = flags.DEFINE_multi_string(
    'start', [], 'An order to start the search from, e.g. a hand-designed '
    'one to improve ("3 0 1 2", spaces or commas); repeat for several. The '
    'first stage starts from them (lopro.search_order(starts=...)).')
_METHOD = methods.define_flags()
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)


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
      friendly_match=task.friendly_match(result.order),
      kendall_to_friendly=(None if friendly is None else
                           orders.kendall_distance(result.order, friendly)),
      seed=seed, device=str(jax.devices()[0].device_kind),
      num_devices=jax.device_count(), num_processes=jax.process_count(),
      command=command)


def fail(error: Exception) -> NoReturn:
  """Exits non-zero with the error's message as one line on stderr."""
  print(str(error).replace('\n', ' '), file=sys.stderr)
  sys.exit(1)


def load_data(data: str, length_flag, task_flag, params_flag
              ) -> tasks.Dataset:
  """The dataset of --data; refuses --task and --task_params beside it.

  Parsed before JAX starts, so a bad file stops the binary at once.

  Raises:
    app.UsageError: --task or --task_params given too.
    ValueError: a bad file (its message names the file and the line).
  """
  if task_flag.present:
    raise app.UsageError('--task and --data are mutually exclusive')
  if params_flag.present:
    raise app.UsageError('--task_params does not apply to --data')
  return tasks.load_dataset(
      data, length=length_flag.value if length_flag.present else None)


def estimators_of(strategy, estimator) -> list:
  """The method's estimator and every pipeline stage's (None dropped)."""
  found = [estimator]
  for stage, stage_estimator in getattr(strategy, 'stages', ()):
    found += [stage_estimator] + estimators_of(stage, None)
  return [e for e in found if e is not None]


def check_batches(task: lopro.Task, method) -> None:
  """Refuses a dataset whose training part is smaller than a batch.

  Raises:
    ValueError: naming the file.
  """
  for estimator in estimators_of(method.strategy, method.estimator):
    train = getattr(estimator, 'train', None)
    if train is not None:
      tasks_base.check_batch_size(task, train.batch_size,
                                  f'{type(estimator).__name__}.train.'
                                  'batch_size')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('Too many command-line arguments.')
  logging.set_verbosity(logging.INFO)
  if _WRITE_REORDERED.value and not _DATA.value:
    raise app.UsageError('--write_reordered needs --data')
  dataset = None
  if _DATA.value:
    try:
      dataset = load_data(_DATA.value, _LENGTH, _TASK, _PARAMS)
    except ValueError as e:
      fail(e)
  multihost.initialize()
  if dataset is not None:
    task = tasks.task_from_dataset(dataset)
  else:
    task = lopro.get_task(_TASK.value, length=_LENGTH.value,
                          **tasks.parse_task_params(_PARAMS.value))
  method = methods.method_from_flags(_METHOD, task.length, task.depends_on)
  starts = []
  for text in _START.value:
    try:
      starts.append(orders.validate_order(orders.order_from_string(text),
                                          task.length))
    except ValueError as e:
      fail(ValueError(f'--start={text!r}: {e}'))
  starts = np.stack(starts) if starts else None
  if dataset is not None:
    try:
      check_batches(task, method)
    except ValueError as e:
      fail(e)
  budget = method.max_profiles(task.length)
  out = _OUTPUT_DIR.value
  logging.info('search on %s L=%d: %s (at most %s order-profiles) on %s; '
               'checkpoints in %s/checkpoint', task.name, task.length,
               method.describe(), budget, jax.devices(), out)
  with progress.SearchBar(budget, desc=f'{task.name} L={task.length}',
                          disable=not sharding.is_main_process()) as bar:
    res = lopro.search_order(
        task, strategy=method.strategy, estimator=method.estimator,
        seed=_SEED.value, starts=starts,
        checkpoint_dir=multihost.process_dir(os.path.join(out, 'checkpoint')),
        callback=bar)
  extra = summary(res, task, _SEED.value, ' '.join(sys.argv))
  if _DATA.value:
    extra.update(data=_DATA.value, reordered_data=_WRITE_REORDERED.value)
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
    match = extra['friendly_match']
    if match == 'exact':
      verdict = '= the friendly order'
    elif match == 'equivalent':
      verdict = (f'equivalent to the friendly order '
                 f'{orders.order_to_string(friendly)} (it moves only slots '
                 f'that may go anywhere: {list(task.free_slots)})')
    else:
      verdict = (f'!= the friendly order {orders.order_to_string(friendly)} '
                 f'(Kendall distance {extra["kendall_to_friendly"]}'
                 + (', a local optimum of the search neighbourhood'
                    if res.local_optimum else '') + ')')
    print(verdict)
  print(f'{res.num_profiled} order-profiles in {res.wall_time:.0f}s; wrote '
        f'{out}/result.json, history.npz and search.png')
  if _WRITE_REORDERED.value:
    try:
      lopro.write_reordered(_DATA.value, res.order, _WRITE_REORDERED.value)
    except (ValueError, OSError) as e:
      fail(e)
    print(f'wrote {_WRITE_REORDERED.value}: {_DATA.value} with targets in '
          'the discovered order (a prediction p maps back as '
          'p[lopro.orders.invert_order(order)])')


if __name__ == '__main__':
  app.run(main)
