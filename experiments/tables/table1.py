"""Table 1: exact-match success of forward, reverse and friendly orders.

For every task at length L, the forward and reverse orders (and the
friendly order where it is neither) are evaluated over the seeds
(``lopro.evaluate_grid``: one vmapped run per task).
"""

from __future__ import annotations

import time

from absl import logging
import numpy as np

import lopro
from lopro import results
from experiments.tables import common


def build(config: lopro.EvalConfig, seeds: list[int], length: int,
          preset: str, tasks: list[str] | None = None) -> common.Table:
  """Evaluates the reference orders of every task row.

  Args:
    config: the evaluation model and its training.
    seeds: evaluation seeds.
    length: L.
    preset: the preset's name, for the table's name.
    tasks: rows to run (``common.TABLE1_TASKS``); all when empty.

  Returns:
    The table ``table1_<preset>_L<L>``.
  """
  rows = []
  for row, (name, params) in common.selected(common.TABLE1_TASKS,
                                             tasks).items():
    task = lopro.get_task(name, length, **params)
    perms, names = common.reference_perms(task)
    start = time.perf_counter()
    grid = lopro.evaluate_grid(perms, task, config=config, seeds=seeds)
    cells = {n: common.mean_std([grid[s][o].success_rate
                                 for s in range(len(seeds))])
             for o, n in enumerate(names)}
    friendly_is = ('forward' if np.array_equal(task.friendly_order, perms[0])
                   else 'reverse' if np.array_equal(task.friendly_order,
                                                    perms[1])
                   else 'friendly')
    rows.append(dict(row=row, task=name, params=params, success=cells,
                     friendly_is=friendly_is,
                     seconds=time.perf_counter() - start))
    logging.info('table 1 %s: %s (%.0f s)', row,
                 {n: round(c['mean'], 3) for n, c in cells.items()},
                 rows[-1]['seconds'])
  lines = ['| task | forward | reverse | friendly (if neither) | friendly is '
           '|', '|---|---|---|---|---|']
  for r in rows:
    lines.append(f'| {r["row"]} | {common.fmt(r["success"]["forward"])} | '
                 f'{common.fmt(r["success"]["reverse"])} | '
                 f'{common.fmt(r["success"].get("friendly"))} | '
                 f'{r["friendly_is"]} |')
  fig = results.new_figure(figsize=(1 + 0.8 * len(rows), 3.5))
  ax = fig.subplots()
  width = 0.27
  for i, name in enumerate(('forward', 'reverse', 'friendly')):
    values = [100 * r['success'][name]['mean'] if name in r['success']
              else np.nan for r in rows]
    errors = [100 * r['success'][name]['std'] if name in r['success']
              else 0 for r in rows]
    ax.bar(np.arange(len(rows)) + (i - 1) * width, values, width,
           yerr=errors, label=name)
  ax.set_xticks(np.arange(len(rows)), [r['row'] for r in rows], rotation=45,
                ha='right')
  ax.set_ylabel('exact-match success (%)')
  ax.set_title(f'Table 1: L={length}, {len(seeds)} seeds')
  ax.legend()
  return common.Table(name=f'table1_{preset}_L{length}', rows=rows,
                      lines=lines, figure=fig)
