r"""Discovers a learning-friendly generation order for a task (the main job).

Runs the hierarchical global-local search of Sato, Kawamoto & Kera
(arXiv 2506.23875), or a baseline with the same budget, profiling every
population with lopro's vmapped loss profiler. Logs each stage, and writes
``result.json`` (order, score, per-stage history, num_profiled, wall time,
config) and ``search.png`` into --output_dir. The search checkpoints there
after every profiling run: rerun the same command to resume.

With only --output_dir it runs a real discovery on relu, L=8 (about 13
minutes on a 2-core CPU) with the default search (the paper's, plus
insertion rounds from 3 starts; --paper for the paper's alone):
  python experiments/discover.py --output_dir=/tmp/lopro

Other examples:
  python experiments/discover.py --task=square19 --length=8 --seed=1 \
      --output_dir=/tmp/lopro_sq
  python experiments/discover.py --task=planted --task_params=order_seed=5 \
      --output_dir=/tmp/lopro_planted
  python experiments/discover.py --task=planted --method=random \
      --output_dir=/tmp/lopro_random
  python experiments/discover.py --task=relu --length=13 \
      --profile_mode=mixture --random_order_fraction=1 --steps=3000 \
      --num_checkpoints=1 --num_heldout=128 --refine_rounds=6 \
      --output_dir=/tmp/lopro_relu13
(one universal mixture model scores the whole search, then refine rounds
with one model per order; 25 minutes on 2 CPU cores, finds the friendly
order.)

Every device JAX sees profiles a share of each population. Several hosts
(a TPU pod slice, GPU hosts) run the same command with --distributed or
--coordinator_address/--num_processes/--process_id (lopro/multihost.py);
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

import lopro
from lopro import multihost
from lopro import orders
from lopro import results
from lopro import search
from lopro import sharding
from lopro import tasks

_TASK = flags.DEFINE_enum('task', 'relu', list(lopro.task_names()), 'Task.')
_LENGTH = flags.DEFINE_integer('length', 8, 'Target length L.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the search and profiles.')
_METHOD = flags.DEFINE_enum('method', 'hierarchical', list(search.METHODS),
                            'Search method.')
_INIT = flags.DEFINE_enum('init', 'random', list(search.INITS),
                          'Initial population of the global stage.')
_PROFILE_MODE = flags.DEFINE_enum(
    'profile_mode', 'independent', list(lopro.profile.MODES),
    'independent: one model per order, vmapped. mixture: the paper\'s '
    'estimator, one model on a mixture of each run\'s orders (cost '
    'independent of their number; ProfileConfig.mixture() defaults).')
_SLOT_EMBEDDING = flags.DEFINE_bool(
    'slot_embedding', True, 'Mixture mode: tell the model which slot it '
    'emits next (False: paper-literal).')
_NUM_CHECKPOINTS = flags.DEFINE_integer(
    'num_checkpoints', None, 'Mixture mode: held-out evaluations per run '
    '(the score reads the last).')
_NUM_HELDOUT = flags.DEFINE_integer(
    'num_heldout', None, 'Mixture mode: held-out examples per order.')
_RANDOM_ORDER_FRACTION = flags.DEFINE_float(
    'random_order_fraction', 0.0, 'Mixture mode: share of training examples '
    'with a uniformly random order instead of a candidate; 1: one universal '
    'model, trained once and reused by every run (no population bias).')
_SMALL_BELOW = flags.DEFINE_integer(
    'small_below', 0, 'Mixture mode: profile runs of fewer orders '
    'independently (default ProfileConfig(), scores reused), keeping the '
    'mixture for the large global-stage runs; 0: mixture throughout.')
_STEPS = flags.DEFINE_integer(
    'steps', None, 'Training steps per profiled order (mixture: of the one '
    'model); default: the mode\'s ProfileConfig.')
_WIDTH = flags.DEFINE_integer('width', lopro.ProfileConfig.width,
                              'Width of the profiling model.')
_LAYERS = flags.DEFINE_integer('layers', lopro.ProfileConfig.num_layers,
                               'Layers of the profiling model.')
_BATCH_SIZE = flags.DEFINE_integer(
    'batch_size', None, 'Batch size of the profiling runs; default: the '
    'mode\'s ProfileConfig.')
_PARAMS = flags.DEFINE_list('task_params', [],
                            'Task parameters as name=int, e.g. order_seed=5.')
_PAPER = flags.DEFINE_bool(
    'paper', False, 'The paper\'s search exactly (no insertion rounds, one '
    'start) instead of the default search.')
_INSERTION_ROUNDS = flags.DEFINE_integer(
    'insertion_rounds', None, 'Beyond the paper: most rounds of single-slot '
    'insertion moves per start (default: SearchConfig\'s).')
_NUM_STARTS = flags.DEFINE_integer(
    'num_starts', None, 'Beyond the paper: insertion rounds also from the '
    'next best orders of the last global run (default: SearchConfig\'s).')
_REFINE_ROUNDS = flags.DEFINE_integer(
    'refine_rounds', None, 'Beyond the paper: after the search, most '
    'insertion rounds from its result scored one model per order (default '
    'ProfileConfig(), mean over --refine_seeds); for a coarse first scorer '
    'such as --random_order_fraction=1 (default: SearchConfig\'s, 0).')
_REFINE_SEEDS = flags.DEFINE_integer(
    'refine_seeds', 2, 'Seeds each refine score averages over.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)


class StageLogger:
  """Logs every profiling run with the rate and an ETA for the whole search."""

  def __init__(self, budget: int):
    self.budget = budget
    self.done = 0
    self.start = time.perf_counter()

  def __call__(self, record: search.StageRecord) -> None:
    self.done += len(record.candidates) - record.num_reused
    elapsed = time.perf_counter() - self.start
    rate = self.done / max(elapsed, 1e-9)
    left = max(self.budget - self.done, 0)
    logging.info('%-22s %5d candidates (%d new)  best %.4f  %.2f orders/s  '
                 '%d/<=%d profiled  ETA <=%.0fs', record.name,
                 len(record.candidates),
                 len(record.candidates) - record.num_reused,
                 record.best_score, rate, self.done, self.budget, left / rate)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('Too many command-line arguments.')
  logging.set_verbosity(logging.INFO)
  multihost.initialize()
  task = lopro.get_task(_TASK.value, length=_LENGTH.value,
                        **tasks.parse_task_params(_PARAMS.value))
  overrides = dict(steps=_STEPS.value, batch_size=_BATCH_SIZE.value,
                   num_checkpoints=_NUM_CHECKPOINTS.value,
                   num_heldout=_NUM_HELDOUT.value)
  overrides = {k: v for k, v in overrides.items() if v is not None}
  overrides.update(width=_WIDTH.value, num_layers=_LAYERS.value)
  if _PROFILE_MODE.value == 'mixture':
    profile_config = lopro.ProfileConfig.mixture(
        slot_embedding=_SLOT_EMBEDDING.value,
        random_order_fraction=_RANDOM_ORDER_FRACTION.value, **overrides)
  else:
    profile_config = lopro.ProfileConfig(**overrides)
  config = lopro.SearchConfig.build(
      paper=_PAPER.value, init=_INIT.value,
      insertion_rounds=_INSERTION_ROUNDS.value, num_starts=_NUM_STARTS.value,
      refine_rounds=_REFINE_ROUNDS.value)
  budget = (lopro.hierarchical_budget(task.length, config)
            if _METHOD.value != 'exhaustive'
            else int(np.prod(np.arange(1, task.length + 1))))
  out = _OUTPUT_DIR.value
  logging.info('%s search on %s L=%d (at most %d order-profiles, %s mode) '
               'on %s; checkpoints in %s', _METHOD.value, task.name,
               task.length, budget, profile_config.mode, jax.devices(), out)
  res = lopro.search_order(
      task, method=_METHOD.value, config=config,
      profile_config=profile_config, seed=_SEED.value,
      checkpoint_dir=multihost.process_dir(os.path.join(out, 'checkpoint')),
      callback=StageLogger(budget),
      small_profile_config=lopro.ProfileConfig(
          width=_WIDTH.value, num_layers=_LAYERS.value),
      small_below=_SMALL_BELOW.value,
      refine_profile_config=lopro.ProfileConfig(
          width=_WIDTH.value, num_layers=_LAYERS.value),
      refine_seeds=_REFINE_SEEDS.value)

  friendly = task.friendly_order
  found = None if friendly is None else bool(np.array_equal(res.order,
                                                            friendly))
  record = res.to_dict()
  record.update(
      task=task.name, length=task.length, task_params=dict(task.params),
      order_string=orders.order_to_string(res.order),
      friendly_order=None if friendly is None else friendly.tolist(),
      found_friendly=found,
      kendall_to_friendly=(None if friendly is None else
                           orders.kendall_distance(res.order, friendly)),
      search_config=config.to_dict(),
      profile_config=search.profile_fingerprint(
          task, profile_config)['profile_config'],
      small_below=_SMALL_BELOW.value, refine_seeds=_REFINE_SEEDS.value,
      seed=_SEED.value, device=str(jax.devices()[0].device_kind),
      num_devices=jax.device_count(), num_processes=jax.process_count(),
      command=' '.join(sys.argv))
  if not sharding.is_main_process():
    return
  results.plot_search(
      [r.name for r in res.history], [r.best_score for r in res.history],
      res.order, friendly, os.path.join(out, 'search.png'),
      title=f'{res.method} search, {task.name} L={task.length}, seed '
      f'{_SEED.value}')
  results.atomic_write_json(os.path.join(out, 'result.json'), record)

  print(f'discovered order: {orders.order_to_string(res.order)}  '
        f'(score {res.score:.4f})')
  if friendly is not None:
    verdict = ('= the friendly order' if found else
               f'!= the friendly order {orders.order_to_string(friendly)} '
               f'(Kendall distance {record["kendall_to_friendly"]}'
               + (', a local optimum of the search neighbourhood'
                  if res.local_optimum else '') + ')')
    print(verdict)
  print(f'{res.num_profiled} order-profiles in {res.wall_time:.0f}s; wrote '
        f'{out}/result.json and {out}/search.png')


if __name__ == '__main__':
  app.run(main)
