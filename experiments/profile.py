r"""Profiles forward, reverse, friendly and random orders of one task.

Trains a small transformer briefly on every order (``lopro.Independent``,
vmapped), ranks the orders by their early training loss, prints a ranked
table and writes ``profile.json`` (the estimator, perms, scores, ranking,
timings), ``losses.npz`` (the [orders, steps] loss matrix) and
``profile.png`` into --output_dir.

Example:
  python experiments/profile.py --task=relu --length=8 --num_orders=16 \
      --output_dir=/tmp/lopro_profile

Your own data instead of --task (``lopro.dataset_task``: one example per
line, ``3 -1 4 # 3 2 6``, or .npz / .jsonl):
  python experiments/profile.py --data=train.txt --output_dir=/tmp/lopro_p
A bad file stops the binary with one line naming the file and the line.

The orders are sharded over every device JAX sees; several hosts run the
same command with --distributed or --coordinator_address/--num_processes/
--process_id (experiments/multihost.py), and process 0 writes the results.
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
from experiments import multihost
import lopro
from lopro import orders
from lopro import results
from lopro import sharding
from lopro import tasks
from lopro.tasks import base as tasks_base
# pylint: enable=g-import-not-at-top,wrong-import-position

_TASK = flags.DEFINE_enum('task', 'relu', list(lopro.task_names()), 'Task.')
_DATA = flags.DEFINE_string(
    'data', None, 'A dataset file to profile instead of --task (text '
    '"3 -1 4 # 3 2 6" per line, .npz or .jsonl; lopro.dataset_task).')
_LENGTH = flags.DEFINE_integer(
    'length', 8, 'Target length L (with --data: checked against the file '
    'when given).')
_NUM_ORDERS = flags.DEFINE_integer(
    'num_orders', 16, 'Orders to profile: the reference orders, then random.')
_STEPS = flags.DEFINE_integer('steps', lopro.TrainConfig().steps,
                              'Training steps per order.', lower_bound=1)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of training and of the orders.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)


def candidate_orders(task: lopro.Task, num_orders: int,
                     seed: int) -> tuple[np.ndarray, dict[int, str]]:
  """The task's reference orders followed by distinct random orders.

  Returns:
    (perms int[O, L], row -> reference name).
  """
  refs, names = [], {}
  for name, order in task.reference_orders.items():
    same = [i for i, r in enumerate(refs) if np.array_equal(order, r)]
    if same:
      names[same[0]] += '=' + name
    else:
      names[len(refs)] = name
      refs.append(order)
  refs = refs[:num_orders]
  pool = orders.sample_orders(jax.random.key(seed), 4 * num_orders,
                              task.length)
  perms, _ = orders.unique_orders(np.concatenate([np.stack(refs), pool]))
  return perms[:num_orders], names


def fail(error: Exception) -> NoReturn:
  """Exits non-zero with the error's message as one line on stderr."""
  print(str(error).replace('\n', ' '), file=sys.stderr)
  sys.exit(1)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('Too many command-line arguments.')
  dataset = None
  if _DATA.value:
    if _TASK.present:
      raise app.UsageError('--task and --data are mutually exclusive')
    try:  # before JAX starts: a bad file stops the binary at once
      dataset = tasks.load_dataset(
          _DATA.value, length=_LENGTH.value if _LENGTH.present else None)
    except ValueError as e:
      fail(e)
  multihost.initialize()
  estimator = lopro.Independent(train=lopro.TrainConfig(steps=_STEPS.value))
  if dataset is not None:
    task = tasks.task_from_dataset(dataset)
    try:
      tasks_base.check_batch_size(task, estimator.train.batch_size,
                                  'Independent.train.batch_size')
    except ValueError as e:
      fail(e)
  else:
    task = lopro.get_task(_TASK.value, length=_LENGTH.value)
  perms, names = candidate_orders(task, _NUM_ORDERS.value, _SEED.value)
  logging.info('profiling %d orders of %s (L=%d) on %s', len(perms),
               task.name, task.length, jax.devices())
  prof = lopro.profile_orders(perms, task, estimator=estimator,
                              seed=_SEED.value)

  out = _OUTPUT_DIR.value
  record = prof.to_dict()
  record.update(length=task.length, task_params=dict(task.params),
                names={str(k): v for k, v in names.items()},
                device=str(jax.devices()[0].device_kind),
                command=' '.join(sys.argv))
  if not sharding.is_main_process():
    return
  results.atomic_save_npz(os.path.join(out, 'losses.npz'), losses=prof.losses,
                          perms=prof.perms, scores=prof.scores)
  results.plot_profile(prof.losses, prof.scores, names,
                       os.path.join(out, 'profile.png'),
                       title=f'{task.name} L={task.length}: {len(perms)} '
                       f'orders, {_STEPS.value} steps')
  results.atomic_write_json(os.path.join(out, 'profile.json'), record)

  print(f'{"rank":>4}  {"score":>8}  {"name":<9} order')
  for rank, row in enumerate(prof.ranking):
    print(f'{rank + 1:>4}  {prof.scores[row]:8.4f}  {names.get(row, ""):<9} '
          f'{orders.order_to_string(perms[row])}')
  t = prof.timings
  print(f'{len(perms)} orders in {t["total_s"]:.1f}s (compile '
        f'{t["compile_s"]:.1f}s, {t["order_steps_per_s"]:.0f} order-steps/s); '
        f'wrote {out}/profile.json, losses.npz, profile.png')


if __name__ == '__main__':
  app.run(main)
