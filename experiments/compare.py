r"""Search strategies side by side with the same budget of order-profiles.

For every (strategy, seed) runs ``lopro.search_order`` (checkpointed under
--workdir, so an interrupted comparison resumes), profiles the task's
friendly order with the same estimator and seed for reference (when the
estimator's scores do not depend on their batch), and writes a JSON record
and a markdown table. The non-baseline strategies run first, so that, seed
by seed, the baselines (random, evolution) get exactly the order-profiles
the first of them spent (unless --budget says otherwise).

Every entry of --strategies is scored by the estimator the method flags
give (``experiments/methods.py``; one model per order by default);
``default`` is ``lopro.default_method(L)`` with its own estimators.

Example (the table in results/search_L8/search_relu_L8.md):
  python experiments/compare.py --task=relu --length=8 --seeds=0,1,2 \
      --strategies=paper,random --workdir=/tmp/lopro_compare \
      --output=results/search_L8/search_relu_L8
"""

from collections.abc import Sequence
import dataclasses
import os
import sys
from typing import Any

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
import lopro
from lopro import orders
from lopro import results
from lopro import tasks
from lopro.estimators.base import describe
# pylint: enable=g-import-not-at-top,wrong-import-position

_TASK = flags.DEFINE_enum('task', 'relu', list(lopro.task_names()), 'Task.')
_LENGTH = flags.DEFINE_integer('length', 8, 'Target length L.')
_PARAMS = flags.DEFINE_list('task_params', [],
                            'Task parameters as name=int, e.g. order_seed=1.')
_SEEDS = flags.DEFINE_list('seeds', ['0', '1', '2'], 'Seeds.')
_STRATEGIES = flags.DEFINE_list(
    'strategies', ['hierarchical', 'random'], 'Strategies to compare: '
    f'{", ".join(methods.STRATEGIES)}, or default (lopro.default_method(L)).')
_METHOD = methods.define_flags(strategy=False)
_WORKDIR = flags.DEFINE_string('workdir', '/tmp/lopro_compare',
                               'Checkpoints (resumable).')
_OUTPUT = flags.DEFINE_string('output', None,
                              'Output path without extension (.json, .md).',
                              required=True)


def build_methods(names: list[str], spec: methods.MethodSpec, length: int,
                  depends_on: Sequence[Sequence[int]] | None = None
                  ) -> dict[str, methods.Method]:
  """name -> Method, the non-baselines first (they set the baselines'
  budget). Each takes the strategy settings of the spec that apply to it
  (e.g. --budget the baselines, --insertion_rounds the hierarchical ones);
  ``depends_on`` is the task's dependency graph (for --topological).

  Raises:
    ValueError: an unknown or repeated name, or settings that do not apply.
  """
  known = list(methods.STRATEGIES) + ['default']
  unknown = sorted(set(names) - set(known))
  if unknown or len(set(names)) < len(names):
    raise ValueError(f'--strategies: unknown or repeated {unknown or names}; '
                     f'known: {known}')
  out = {}
  for name in sorted(names, key=lambda n: n in methods.BASELINES):
    if name == 'default':
      if spec.estimator is not None:
        raise ValueError('--strategies=default takes the default method\'s '
                         'estimators; drop --estimator')
      out[name] = methods.build_method(
          length, methods.for_strategy(spec, 'hierarchical'), depends_on)
    else:
      out[name] = methods.build_method(length, dataclasses.replace(
          methods.for_strategy(spec, name), strategy=name,
          estimator=spec.estimator or 'independent'), depends_on)
  return out


def with_budget(method: methods.Method, budget: int) -> methods.Method:
  """A baseline's method with ``budget`` order-profiles (at most, over
  topological sorts: orders with the same repair are profiled once)."""
  strategy = method.strategy
  wrapper = (strategy if isinstance(strategy, lopro.strategies.Topological)
             else None)
  strategy = wrapper.strategy if wrapper else strategy
  stages = getattr(strategy, 'stages', None)
  if stages:
    first = dataclasses.replace(stages[0][0], budget=budget)
    strategy = lopro.strategies.Pipeline((first, stages[0][1]), *stages[1:])
  else:
    strategy = dataclasses.replace(strategy, budget=budget)
  if wrapper:
    strategy = dataclasses.replace(wrapper, strategy=strategy)
  return dataclasses.replace(method, strategy=strategy)


def compare(task: lopro.Task, seeds: list[int],
            named: dict[str, methods.Method], workdir: str,
            fixed_budget: bool) -> list[dict[str, Any]]:
  """One row per (seed, strategy); see the module docstring."""
  rows = []
  friendly = task.friendly_order
  for seed in seeds:
    spent, friendly_scores = None, {}
    for name, method in named.items():
      # The friendly order, scored as the method's searches score orders.
      friendly_score = None
      if friendly is not None and method.estimator.reusable:
        if method.estimator not in friendly_scores:
          friendly_scores[method.estimator] = float(lopro.profile_orders(
              friendly[None], task, estimator=method.estimator,
              seed=seed).scores[0])
        friendly_score = friendly_scores[method.estimator]
      if name in methods.BASELINES and spent is not None and not (
          fixed_budget):
        method = with_budget(method, spent)
      run = f'{task.name}_L{task.length}_{name}_seed{seed}'
      logging.info('running %s: %s', run, method.describe())
      res = lopro.search_order(
          task, strategy=method.strategy, estimator=method.estimator,
          seed=seed, checkpoint_dir=os.path.join(workdir, run))
      rows.append(dict(
          strategy=name, seed=seed, order=res.order.tolist(),
          order_string=orders.order_to_string(res.order), score=res.score,
          friendly_score=friendly_score,
          found_friendly=(None if friendly is None
                          else bool(np.array_equal(res.order, friendly))),
          kendall_to_friendly=(None if friendly is None else
                               orders.kendall_distance(res.order, friendly)),
          local_optimum=res.local_optimum, num_profiled=res.num_profiled,
          wall_time=res.wall_time, strategy_config=res.strategy,
          estimator_config=res.estimator))
      if spent is None and name not in methods.BASELINES:
        spent = res.num_profiled
      logging.info('%s: %s score %.4f (friendly %s)', run,
                   rows[-1]['order_string'], res.score, friendly_score)
  return rows


def markdown(task: lopro.Task, named: dict[str, methods.Method],
             rows: list[dict[str, Any]], command: str) -> str:
  """The table of ``compare``'s rows, with a caption and the command."""
  def number(value):
    return '-' if value is None else f'{value:.4f}'

  described = '; '.join(f'{n}: {m.describe()}' for n, m in named.items())
  lines = [f'Task {task.name} L={task.length} {dict(task.params)}; '
           f'{described}; baselines get the first search\'s order-profiles; '
           f'device {jax.devices()[0].device_kind}.', '',
           '| strategy | seed | discovered order | = friendly | Kendall to '
           'friendly | score | friendly\'s score | order-profiles | '
           'wall s |', '|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    lines.append(
        f'| {r["strategy"]} | {r["seed"]} | `{r["order_string"]}` | '
        f'{r["found_friendly"]} | {r["kendall_to_friendly"]} | '
        f'{r["score"]:.4f} | {number(r["friendly_score"])} | '
        f'{r["num_profiled"]} | {r["wall_time"]:.0f} |')
  for name in named:
    hits = [r['found_friendly'] for r in rows if r['strategy'] == name]
    if None not in hits:
      lines.append(f'\n{name}: friendly order found in {sum(hits)}/'
                   f'{len(hits)} seeds.')
  lines.append(f'\nCommand: `{command}`')
  return '\n'.join(lines) + '\n'


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('Too many command-line arguments.')
  logging.set_verbosity(logging.INFO)
  params = tasks.parse_task_params(_PARAMS.value)
  task = lopro.get_task(_TASK.value, length=_LENGTH.value, **params)
  spec = _METHOD.spec()
  try:
    named = build_methods(_STRATEGIES.value, spec, task.length,
                          task.depends_on)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  rows = compare(task, [int(s) for s in _SEEDS.value], named, _WORKDIR.value,
                 fixed_budget=spec.budget is not None)
  command = ' '.join(['python experiments/compare.py'] + sys.argv[1:])
  text = markdown(task, named, rows, command)
  results.atomic_write_json(_OUTPUT.value + '.json', dict(
      task=task.name, length=task.length, task_params=params,
      methods={n: dict(strategy=describe(m.strategy),
                       estimator=describe(m.estimator))
               for n, m in named.items()},
      device=str(jax.devices()[0].device_kind), rows=rows, command=command))
  results.atomic_write_bytes(_OUTPUT.value + '.md', text.encode())
  print(text)


if __name__ == '__main__':
  app.run(main)
