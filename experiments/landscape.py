r"""Profiles every one of the L! orders of a task: the whole score landscape.

With common random numbers (the default) the profile score of an order is a
fixed function of (task, estimator, seed), so the table written here is
exactly the scorer that ``lopro.search_order(task, seed=seed)`` sees at
L <= 8 (``lopro.Independent()``; up to floating-point differences between
devices). It answers two questions no
search can: where the friendly order ranks among *all* orders, and how a
search method fares on the real landscape over many seeds in milliseconds
(``experiments/search_study.py`` replays searches against these tables).

Writes, per (task, seed), ``landscape_<task>_L<L>_s<seed>.npz`` (``scores``
float32[L!] in ``lopro.orders.all_orders`` order, plus ``friendly``) and a
summary ``landscape_<task>_L<L>.json`` (rank of the friendly order, the best
orders, timings) into --output_dir.

Example (a GPU does L=8 in about a minute per seed):
  python experiments/landscape.py --task=relu --length=8 --seeds=0 \
      --chunk_size=4096 --output_dir=/tmp/lopro_landscape
"""

import json
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np

import lopro
from lopro import orders
from lopro import results
from lopro import tasks
from lopro.estimators.base import describe

_TASK = flags.DEFINE_enum('task', 'relu', list(lopro.task_names()), 'Task.')
_LENGTH = flags.DEFINE_integer('length', 8, 'Target length L (at most 9).')
_PARAMS = flags.DEFINE_list('task_params', [],
                            'Task parameters as name=int, e.g. order_seed=5.')
_SEEDS = flags.DEFINE_list('seeds', ['0'], 'Profile seeds.')
_STEPS = flags.DEFINE_integer('steps', lopro.TrainConfig().steps,
                              'Training steps per order.', lower_bound=1)
_CHUNK_SIZE = flags.DEFINE_integer('chunk_size', 256,
                                   'Orders trained at once (GPU: 4096); '
                                   'never changes a score.', lower_bound=1)
_TOP = flags.DEFINE_integer('top', 20, 'Best orders listed in the summary.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)

MAX_LENGTH = 9


def landscape_name(task: lopro.Task, params: dict[str, int]) -> str:
  suffix = ''.join(f'_{k}{v}' for k, v in sorted(params.items()))
  return f'{task.name}{suffix}_L{task.length}'


def summarise(perms: np.ndarray, scores: np.ndarray, task: lopro.Task,
              top: int) -> dict:
  """Rank of the friendly order and the best orders of one landscape."""
  ranking = lopro.scores.rank_scores(scores)
  rank = np.empty_like(ranking)
  rank[ranking] = np.arange(ranking.size)
  out = dict(num_orders=int(perms.shape[0]),
             best=[dict(order=orders.order_to_string(perms[i]),
                        score=float(scores[i]), rank=r + 1)
                   for r, i in enumerate(ranking[:top])],
             score_quantiles={q: float(np.quantile(scores, q / 100))
                              for q in (0, 1, 10, 50, 90, 100)})
  for name, order in task.reference_orders.items():
    index = orders.order_index(order)
    out[f'{name}_rank'] = int(rank[index]) + 1
    out[f'{name}_score'] = float(scores[index])
  return out


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if _LENGTH.value > MAX_LENGTH:
    raise app.UsageError(f'--length={_LENGTH.value}: at most {MAX_LENGTH} '
                         f'(L! orders)')
  params = tasks.parse_task_params(_PARAMS.value)
  task = lopro.get_task(_TASK.value, _LENGTH.value, **params)
  estimator = lopro.Independent(train=lopro.TrainConfig(steps=_STEPS.value))
  runtime = lopro.Runtime(chunk_size=_CHUNK_SIZE.value)
  perms = orders.all_orders(task.length)
  name = landscape_name(task, params)
  os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  summary_path = os.path.join(_OUTPUT_DIR.value, f'landscape_{name}.json')
  summary = dict(task=task.name, task_params=params, length=task.length,
                 estimator=describe(estimator),
                 device=str(jax.devices()[0]),
                 seeds={})
  if os.path.exists(summary_path):  # keep the seeds of earlier runs
    with open(summary_path) as f:
      earlier = json.load(f)
    if earlier.get('estimator') == summary['estimator']:
      summary['seeds'] = earlier.get('seeds', {})
  for seed in (int(s) for s in _SEEDS.value):
    start = time.perf_counter()
    prof = lopro.profile_orders(perms, task, estimator=estimator, seed=seed,
                                runtime=runtime)
    wall = time.perf_counter() - start
    results.atomic_save_npz(
        os.path.join(_OUTPUT_DIR.value, f'landscape_{name}_s{seed}.npz'),
        scores=prof.scores, final_loss=prof.losses[:, -1],
        friendly=np.asarray(task.friendly_order))
    info = summarise(perms, prof.scores, task, _TOP.value)
    info.update(wall_s=wall, timings=prof.timings)
    summary['seeds'][str(seed)] = info
    logging.info('%s seed %d: friendly ranks %s of %d (score %.4f, best %.4f)'
                 ' in %.0f s', name, seed, info.get('friendly_rank'),
                 perms.shape[0], info.get('friendly_score', np.nan),
                 info['best'][0]['score'], wall)
    print(f'{name} seed {seed}: friendly rank {info.get("friendly_rank")}/'
          f'{perms.shape[0]}, best {info["best"][0]["order"]} '
          f'{info["best"][0]["score"]:.4f}, {wall:.0f} s', flush=True)
    results.atomic_write_json(summary_path, summary)
  return 0


if __name__ == '__main__':
  sys.exit(app.run(main))
