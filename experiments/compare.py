r"""Search methods side by side with the same budget of order-profiles.

For every (method, seed) runs ``lopro.search_order`` (checkpointed under
--workdir, so an interrupted comparison resumes), profiles the task's
friendly order with the same profile config and seed for reference, and
writes a JSON record and a markdown table.

Example (the table in results/search_relu_L8.md):
  python experiments/compare.py --task=relu --length=8 --seeds=0,1,2 \
      --methods=hierarchical,random --workdir=/tmp/lopro_compare \
      --output=results/search_relu_L8
"""

import dataclasses
import os
import sys

from absl import app
from absl import flags
from absl import logging
import jax
import numpy as np

import lopro
from lopro import orders
from lopro import results
from lopro import search
from lopro import tasks

_TASK = flags.DEFINE_enum('task', 'relu', list(lopro.task_names()), 'Task.')
_LENGTH = flags.DEFINE_integer('length', 8, 'Target length L.')
_PARAMS = flags.DEFINE_list('task_params', [],
                            'Task parameters as name=int, e.g. order_seed=1.')
_SEEDS = flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds.')
_METHODS = flags.DEFINE_list('methods', ['hierarchical', 'random'],
                             'Search methods to compare.')
_PAPER = flags.DEFINE_bool(
    'paper', False, 'The paper\'s hierarchical search exactly (no insertion '
    'rounds, one start) instead of the default search.')
_INSERTION_ROUNDS = flags.DEFINE_integer(
    'insertion_rounds', None, 'Beyond the paper: most rounds of single-slot '
    'insertion moves per start (default: SearchConfig\'s).')
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/lopro_compare',
                               'Checkpoints (resumable).')
_OUTPUT = flags.DEFINE_string('output', None,
                              'Output path without extension (.json, .md).',
                              required=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('Too many command-line arguments.')
  logging.set_verbosity(logging.INFO)
  params = tasks.parse_task_params(_PARAMS.value)
  task = lopro.get_task(_TASK.value, length=_LENGTH.value, **params)
  profile_config = lopro.ProfileConfig()
  config = lopro.SearchConfig.build(
      paper=_PAPER.value, insertion_rounds=_INSERTION_ROUNDS.value)
  # The hierarchical search runs first so that, seed by seed, every baseline
  # gets exactly the order-profiles it spent.
  methods = sorted(_METHODS.value, key=lambda m: m != 'hierarchical')
  friendly = task.friendly_order
  rows = []
  for seed in map(int, _SEEDS.value):
    friendly_score = None
    if friendly is not None:
      friendly_score = float(lopro.profile_orders(
          friendly[None], task, config=profile_config, seed=seed).scores[0])
    spent = None
    for method in methods:
      name = f'{task.name}_L{task.length}_{method}_seed{seed}'
      logging.info('running %s', name)
      method_config = config
      if method != 'hierarchical' and spent is not None:
        method_config = dataclasses.replace(config, budget=spent)
      res = lopro.search_order(
          task, method=method, config=method_config,
          profile_config=profile_config,
          seed=seed, checkpoint_dir=os.path.join(_WORKDIR.value, name))
      rows.append(dict(
          method=method, seed=seed, order=res.order.tolist(),
          order_string=orders.order_to_string(res.order), score=res.score,
          friendly_score=friendly_score,
          found_friendly=(None if friendly is None
                          else bool(np.array_equal(res.order, friendly))),
          kendall_to_friendly=(None if friendly is None else
                               orders.kendall_distance(res.order, friendly)),
          local_optimum=res.local_optimum, num_profiled=res.num_profiled,
          wall_time=res.wall_time))
      if method == 'hierarchical':
        spent = res.num_profiled
      logging.info('%s: %s score %.4f (friendly %s)', name,
                   rows[-1]['order_string'], res.score, friendly_score)

  lines = [f'Task {task.name} L={task.length} {params or ""}; profile '
           f'config = ProfileConfig() defaults; search: '
           f'{"the paper" if _PAPER.value else "default"} (insertion_rounds '
           f'= {config.insertion_rounds}, num_starts = {config.num_starts}); '
           f'baselines get the hierarchical search\'s order-profiles; device '
           f'{jax.devices()[0].device_kind}.', '',
           '| method | seed | discovered order | = friendly | Kendall to '
           'friendly | score | friendly\'s score | order-profiles | '
           'wall s |', '|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    lines.append(
        f'| {r["method"]} | {r["seed"]} | `{r["order_string"]}` | '
        f'{r["found_friendly"]} | {r["kendall_to_friendly"]} | '
        f'{r["score"]:.4f} | {r["friendly_score"]:.4f} | '
        f'{r["num_profiled"]} | {r["wall_time"]:.0f} |')
  for method in _METHODS.value:
    hits = [r['found_friendly'] for r in rows if r['method'] == method]
    lines.append(f'\n{method}: friendly order found in {sum(hits)}/'
                 f'{len(hits)} seeds.')
  command = ' '.join(['python experiments/compare.py'] + sys.argv[1:])
  lines.append(f'\nCommand: `{command}`')
  results.atomic_write_json(_OUTPUT.value + '.json', dict(
      task=task.name, length=task.length, task_params=params,
      search_config=config.to_dict(),
      profile_config=search.profile_fingerprint(
          task, profile_config)['profile_config'],
      device=str(jax.devices()[0].device_kind), rows=rows, command=command))
  results.atomic_write_bytes(_OUTPUT.value + '.md',
                             ('\n'.join(lines) + '\n').encode())
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
