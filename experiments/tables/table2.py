"""Table 2: a search from random init, then the success of what it found.

For relu, square19, index d=2 and prod at each length (prod at even lengths
only) and every seed, one cell: ``lopro.search_order`` with the method the
spec gives at that length (``experiments/methods.py``), then the
discovered, forward, reverse and friendly orders evaluated with the same
seed. A cell is a hit when the discovered order's success is within
``WITHIN`` of the friendly order's.

Every finished cell is kept in ``<name>.cells.json`` (``common.CellStore``):
a rerun skips it, cells made with other settings are refused, and with
``reuse`` a table takes the cells that other table-2 files in the output
directory finished with the same settings and evaluates no (task, L, order,
seed) that one of them holds with the same evaluation settings.
"""

from __future__ import annotations

import time
from typing import Any, TYPE_CHECKING

from absl import logging
import numpy as np

import lopro
from experiments import methods
from experiments.tables import common
from lopro import orders
from lopro import results

if TYPE_CHECKING:  # imported when drawing (lopro.results.new_figure)
  from matplotlib import figure


def table_name(preset: str, spec: methods.MethodSpec) -> str:
  """``table2_<preset>[_<estimator>][_<strategy>][_refine[<steps>]]``.

  One model per order and the hierarchical search add nothing (lopro 0.1's
  names); the default method is ``_default``; a refine stage is
  ``_refine`` and, unless its steps are ``TrainConfig().steps``, the steps.
  """
  suffix = ''
  if spec.defaulted:
    suffix = '_default'
  elif spec.estimator not in (None, 'independent'):
    suffix = f'_{spec.estimator}'
  if spec.strategy not in (None, 'hierarchical'):
    suffix += f'_{spec.strategy}'
  if spec.refine_rounds:
    suffix += '_refine'
    if spec.refine_steps not in (None, lopro.TrainConfig().steps):
      suffix += str(spec.refine_steps)
  return f'table2_{preset}{suffix}'


def cells_of(lengths: list[int], seeds: list[int], tasks: list[str] | None
             ) -> list[tuple[str, str, dict[str, int], int, int]]:
  """(row, task name, params, L, seed) of every cell, length-major in the
  order of ``lengths``: a partial run covers every task at the lengths it
  reached."""
  return [(row, name, params, length, seed)
          for length in lengths
          for row, (name, params) in common.selected(common.TABLE2_TASKS,
                                                     tasks).items()
          if not (name == 'prod' and length % 2)  # prod needs an even L
          for seed in seeds]


def run_cell(task: lopro.Task, row: str, seed: int, method: methods.Method,
             config: lopro.EvalConfig, known: dict[str, float]
             ) -> dict[str, Any]:
  """Searches, evaluates what is not in ``known`` (and adds it there), and
  returns the cell's row."""
  length = task.length
  start = time.perf_counter()
  found = lopro.search_order(task, strategy=method.strategy,
                             estimator=method.estimator, seed=seed)
  search_s = time.perf_counter() - start
  refined = [r for r in found.history if r.name.startswith('refine')]
  # The same order and seed train the same model: evaluate each once, and
  # not again when another run evaluated it (reuse).
  perms, names, keys = common.evaluation_orders(task, row, seed, found.order)
  missing = [i for i, k in enumerate(keys) if k not in known]
  todo = np.unique(perms[missing], axis=0)
  reused = [n for n, k in zip(names, keys) if k in known]
  if len(todo):
    # evaluate_orders is silent: say what the next minutes are spent on.
    logging.info('table 2 %s L=%d seed=%d: searched in %.0f s; evaluating '
                 '%d orders (%d steps each), %d read from finished runs',
                 row, length, seed, search_s, len(todo), config.train.steps,
                 len(reused))
    evals = lopro.evaluate_orders(todo, task, config=config, seed=seed)
    for p, e in zip(todo, evals):
      known[common.evaluation_key(row, length, seed,
                                  orders.order_to_string(p))] = e.success_rate
  success = {n: known[k] for n, k in zip(names, keys)}
  friendly = task.friendly_order
  friendly_success = success[
      'forward' if np.array_equal(friendly, perms[1]) else
      'reverse' if np.array_equal(friendly, perms[2]) else 'friendly']
  return dict(
      row=row, length=length, seed=seed,
      discovered=orders.order_to_string(found.order),
      found_friendly=bool(np.array_equal(found.order, friendly)),
      num_profiled=found.num_profiled, success=success,
      **(dict(before_refine=orders.order_to_string(refined[0].candidates[0]),
              refine_rounds_run=len(refined)) if refined else {}),
      friendly_success=friendly_success,
      within_5_points=bool(success['discovered']
                           >= friendly_success - common.WITHIN),
      search_s=search_s, seconds=time.perf_counter() - start,
      reused_evaluations=reused)


def build(config: lopro.EvalConfig, seeds: list[int], lengths: list[int],
          spec: methods.MethodSpec, preset: str, output_dir: str,
          tasks: list[str] | None = None, report_only: bool = False,
          reuse: bool = True) -> common.Table:
  """Runs (or reads) every cell and makes the table.

  Args:
    config: the evaluation model and its training.
    seeds: search and evaluation seeds.
    lengths: the lengths L, in the order to run them.
    spec: the search method (``methods.build_method`` at each L).
    preset: the preset's name, for the table's name.
    output_dir: where ``<name>[_<tasks>].cells.json`` lives, and the other
      table-2 files whose cells and evaluations ``reuse`` takes.
    tasks: rows to run (``common.TABLE2_TASKS``); all when empty.
    report_only: run no cell; list the missing ones as not run.
    reuse: take cells and evaluations from the other table-2 files.

  Returns:
    The table ``table_name(preset, spec)``.

  Raises:
    common.TableError: a cell file made with other settings, or (with
      ``report_only``) no finished cell.
    ValueError: a spec that does not make a method.
  """
  cells = cells_of(lengths, seeds, tasks)
  by_length = {length: methods.build_method(length, spec)
               for length in dict.fromkeys(lengths)}
  fingerprint = dict(
      eval_config=common.eval_fingerprint(config),
      methods={str(length): common.method_fingerprint(m.strategy, m.estimator)
               for length, m in by_length.items()})
  name = table_name(preset, spec)
  store = common.CellStore(common.output_path(output_dir, name, tasks),
                           fingerprint, read_only=report_only)
  others = common.other_cell_files(output_dir, store) if reuse else []
  elsewhere = common.finished_elsewhere(store, others)
  known = common.finished_evaluations(store, others)
  rows, pending = [], []
  for number, (row, task_name, params, length, seed) in enumerate(cells, 1):
    key = f'{row} L={length} seed={seed}'
    if store.get(key) is None and key in elsewhere:
      path, stored = elsewhere[key]
      logging.info('table 2: cell %s taken from %s', key, path)
      store.put(key, stored)
    if (stored := store.get(key)) is not None:
      rows.append(stored)
      continue
    if report_only:
      pending.append(key)
      continue
    method = by_length[length]
    logging.info('table 2: cell %d/%d, %s: %s', number, len(cells), key,
                 method.describe())
    task = lopro.get_task(task_name, length, **params)
    rows.append(run_cell(task, row, seed, method, config, known))
    store.put(key, rows[-1])
    logging.info('table 2 %s L=%d seed %d: %s %s', row, length, seed,
                 rows[-1]['discovered'], rows[-1]['success'])
  if not rows:
    raise common.TableError(f'--report_only: no finished cells in '
                            f'{store.path}')
  # Read in task order, then L, then seed, whatever order the cells ran in.
  order = list(common.TABLE2_TASKS)
  rows.sort(key=lambda r: (order.index(r['row']), r['length'], r['seed']))
  return common.Table(name=name, rows=rows, lines=markdown(rows, pending),
                      figure=plot(rows),
                      extra=dict(methods={
                          str(k): dict(description=m.describe(),
                                       **fingerprint['methods'][str(k)])
                          for k, m in by_length.items()}))


def markdown(rows: list[dict[str, Any]], pending: list[str]) -> list[str]:
  """The summary per (task, L), every cell, and the verdicts."""
  lines = ['| task | L | cells | found friendly | within 5 points | '
           'discovered % | friendly % | forward % | reverse % |',
           '|---|---|---|---|---|---|---|---|---|']
  groups = {}
  for r in rows:
    groups.setdefault((r['row'], r['length']), []).append(r)
  for (row, length), group in groups.items():
    def mean(field, group=group):
      return 100 * np.mean([r['success'][field] if field in r['success']
                            else r[field] for r in group])
    lines.append(
        f'| {row} | {length} | {len(group)} | '
        f'{sum(r["found_friendly"] for r in group)} | '
        f'{sum(r["within_5_points"] for r in group)} | '
        f'{mean("discovered"):.1f} | {mean("friendly_success"):.1f} | '
        f'{mean("forward"):.1f} | {mean("reverse"):.1f} |')
  lines += ['', 'Every cell (success in %):', '',
            '| task | L | seed | discovered | = friendly | discovered % | '
            'friendly % | forward % | reverse % | within 5 points |',
            '|---|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    s = r['success']
    discovered = f'`{r["discovered"]}`'
    if r.get('before_refine', r['discovered']) != r['discovered']:
      discovered += f' (search: `{r["before_refine"]}`)'
    lines.append(
        f'| {r["row"]} | {r["length"]} | {r["seed"]} | {discovered} '
        f'| {r["found_friendly"]} | {100 * s["discovered"]:.1f} | '
        f'{100 * r["friendly_success"]:.1f} | {100 * s["forward"]:.1f} | '
        f'{100 * s["reverse"]:.1f} | {r["within_5_points"]} |')
  ok = sum(r['within_5_points'] for r in rows)
  lines.append(f'\nWithin 5 points of the friendly order: {ok}/{len(rows)} '
               f'cells; discovery rate '
               f'{sum(r["found_friendly"] for r in rows)}/{len(rows)}.')
  # At most WITHIN for the friendly order, any order is within WITHIN of it.
  vacuous = [r for r in rows if r['friendly_success'] <= common.WITHIN]
  if vacuous:
    lines.append(f'Vacuous ({len(vacuous)} of them: the friendly order '
                 'itself reaches at most 5%, so any order is within 5 '
                 f'points): within 5 points in {ok - len(vacuous)}/'
                 f'{len(rows) - len(vacuous)} of the other cells.')
  failures = [r for r in rows if not r['within_5_points']]
  if failures:
    lines.append('Failures: ' + '; '.join(
        f'{r["row"]} L={r["length"]} seed {r["seed"]}' for r in failures))
  if pending:
    lines.append(f'\nNot run yet ({len(pending)} cells): ' +
                 '; '.join(pending) + '.')
  return lines


def plot(rows: list[dict[str, Any]]) -> figure.Figure:
  """Discovered against friendly success, one point per cell."""
  fig = results.new_figure(figsize=(5, 4))
  ax = fig.subplots()
  for task_row in dict.fromkeys(r['row'] for r in rows):
    mine = [r for r in rows if r['row'] == task_row]
    ax.scatter([100 * r['friendly_success'] for r in mine],
               [100 * r['success']['discovered'] for r in mine],
               label=task_row, alpha=0.7)
  ax.plot([0, 100], [0, 100], 'k--', lw=0.8)
  ax.plot([5, 100], [0, 95], 'k:', lw=0.8, label='5 points below')
  ax.legend(fontsize='small')
  ax.set_xlabel('friendly order success (%)')
  ax.set_ylabel('discovered order success (%)')
  ax.set_title('Table 2: discovered vs friendly')
  return fig
