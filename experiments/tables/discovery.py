"""Discovery tables: does a search end on the friendly order, and how fast?

One cell per (row, L, seed): ``lopro.search_order`` with the method the
spec gives at that length (by default ``lopro.default_method``), and what
it found by ``Task.friendly_match``: the friendly order itself ('exact'),
an order the task proves as friendly ('equivalent', e.g. a chain task's
input-copy slot emitted elsewhere) or a 'miss'. Each cell records the
order-profiles and the wall time of its search.

Rows:
  * ``discovery``: relu, square19, cubic, sine, triangle, mlp, index d=2
    and two planted chains (order_seed 13 and 17, which no test uses);
  * ``chains``: relu and square19 along random chains (``chain=``) drawn
    from seeds 5000.. (which no test uses).

Cells are kept in ``<name>.cells.json`` after each one (``common.
CellStore``), so the same command resumes and a table can be split over
sessions; ``report_only`` writes the table from the finished cells.

``evaluate`` then trains an evaluation model (an ``EvalConfig`` preset) on
each finished cell's discovered order and on forward and reverse (and the
friendly order when it is neither), with the cell's seed, and reports their
exact-match success; each (row, L, seed, order) is trained once and kept in
``<name>_eval_<preset>.cells.json``.
"""

from __future__ import annotations

import time
from typing import Any

from absl import logging
import numpy as np
from tqdm import auto as tqdm_auto

import lopro
from experiments import methods
from experiments.tables import common
from lopro import orders
from lopro import results

DISCOVERY_ROWS = {
    'relu': ('relu', {}), 'square19': ('square19', {}),
    'cubic': ('cubic', {}), 'sine': ('sine', {}),
    'triangle': ('triangle', {}), 'mlp': ('mlp', {}),
    'index_d2': ('index', dict(d=2)),
    'planted_13': ('planted', dict(order_seed=13)),
    'planted_17': ('planted', dict(order_seed=17)),
}
# Chains of the 'chains' table come from np.random.default_rng(CHAIN_SEED +
# i) for i = 0, 1, ...
CHAIN_SEED = 5000
MATCHES = ('exact', 'equivalent', 'miss')


def chain_rows(tasks: list[str], num_chains: int, length: int
               ) -> dict[str, tuple[str, dict[str, Any]]]:
  """'<task>_chain<seed>' -> (task, {'chain': a random chain of length L})."""
  return {f'{name}_chain{CHAIN_SEED + i}': (name, dict(
      chain=np.random.default_rng(CHAIN_SEED + i).permutation(length)
      .tolist())) for name in tasks for i in range(num_chains)}


def run_cell(task: lopro.Task, seed: int, method: methods.Method
             ) -> dict[str, Any]:
  """Searches and returns the cell's record."""
  start = time.perf_counter()
  found = lopro.search_order(task, strategy=method.strategy,
                             estimator=method.estimator, seed=seed)
  return dict(order=orders.order_to_string(found.order),
              match=task.friendly_match(found.order),
              friendly=orders.order_to_string(task.friendly_order),
              score=found.score, num_profiled=found.num_profiled,
              local_optimum=found.local_optimum,
              seconds=time.perf_counter() - start,
              stages=stage_costs(found.history),
              method=method.describe())


def stage_costs(history: list[lopro.StageRecord]
                ) -> dict[str, dict[str, float]]:
  """Where a search spent its time: per stage ('global', 'local',
  'insertion', 'refine', ...; a run's name without its counters), the
  profiling runs, the order-profiles (reused ones excluded) and the
  estimators' seconds (a universal model's training in its first run)."""
  stages = {}
  for record in history:
    words = [w for w in record.name.split()
             if '=' not in w and not w.isdigit() and w != 'start']
    cost = stages.setdefault(words[0] if words else record.name,
                             dict(runs=0, orders=0, seconds=0.0))
    cost['runs'] += 1
    cost['orders'] += len(record.candidates) - record.num_reused
    cost['seconds'] += record.seconds
  return stages


def evaluate(done: list[dict[str, Any]],
             rows: dict[str, tuple[str, dict[str, Any]]],
             config: lopro.EvalConfig, store: common.CellStore,
             report_only: bool = False) -> list[dict[str, Any]]:
  """The success of each cell's discovered and reference orders.

  Args:
    done: finished cells (``build``'s rows).
    rows: row name -> (task name, task parameters).
    config: the evaluation model and its training.
    store: where evaluations are kept, by ``common.evaluation_key``; its
      fingerprint names ``config``.
    report_only: train nothing; cells with an order not evaluated yet get
      no ``success``.

  Returns:
    Copies of ``done``; each evaluated one has ``success``: {'discovered',
    'forward', 'reverse'[, 'friendly']: success rate}.
  """
  evaluated = []
  for cell in done:
    task_name, params = rows[cell['row']]
    task = lopro.get_task(task_name, cell['length'], **params)
    perms, names, keys = common.evaluation_orders(
        task, cell['row'], cell['seed'],
        orders.order_from_string(cell['order']))
    todo = {} if report_only else {
        k: p for k, p in zip(keys, perms) if store.get(k) is None}
    # One order a run, each kept when done: at L=40 on 2 CPU cores an order
    # trains for about 40 minutes, so a cell resumes order by order.
    for i, (key, perm) in enumerate(todo.items()):
      # evaluate_orders is silent: say what the next minutes are spent on.
      logging.info('evaluating %s L=%d seed=%d: order %d of %d, %d steps',
                   cell['row'], cell['length'], cell['seed'], i + 1,
                   len(todo), config.train.steps)
      start = time.perf_counter()
      ev = lopro.evaluate_order(perm, task, config=config, seed=cell['seed'])
      store.put(key, dict(order=orders.order_to_string(perm),
                          success=ev.success_rate,
                          position_accuracy=ev.position_accuracy,
                          seconds=time.perf_counter() - start))
    if all(store.get(k) is not None for k in keys):
      cell = dict(cell, success={n: store.get(k)['success']
                                 for n, k in zip(names, keys)})
    evaluated.append(cell)
  return evaluated


def table_name(spec: methods.MethodSpec, table: str,
               chain_length: int) -> str:
  """``discovery_<method>`` or ``chains_L<chain_length>_<method>``.

  The method is 'default' when the spec sets neither estimator nor
  strategy, else '<strategy>_<estimator>' (the parts given); '_noslot' marks
  a mixture without slot embeddings, '_structured' the structured init.
  """
  tag = 'default' if spec.defaulted else '_'.join(
      part for part in (spec.strategy, spec.estimator) if part)
  if spec.slot_embedding is False:
    tag += '_noslot'
  if spec.init == 'structured':
    tag += '_structured'
  if table == 'chains':
    return f'chains_L{chain_length}_{tag}'
  return f'discovery_{tag}'


def build(name: str, rows: dict[str, tuple[str, dict[str, Any]]],
          lengths: list[int], seeds: list[int],
          method_at: Any, store: common.CellStore,
          report_only: bool = False,
          evaluation: tuple[lopro.EvalConfig, common.CellStore] | None = None
          ) -> common.Table:
  """Runs (or reads) every cell and lays out the table.

  Args:
    name: the table's file stem.
    rows: row name -> (task name, task parameters).
    lengths: L of every row, in the order they run (length-major).
    seeds: the seeds of every (row, L).
    method_at: L -> ``methods.Method``.
    store: where finished cells are kept.
    report_only: run nothing; report the finished cells and list the rest.
    evaluation: (config, store) to ``evaluate`` the finished cells with.
  """
  done, pending = [], []
  cells = [(row, length, seed) for length in lengths for row in rows
           for seed in seeds]
  bar = tqdm_auto.tqdm(total=len(cells), desc=name, unit='cell',
                       disable=report_only)
  for number, (row, length, seed) in enumerate(cells, 1):
    key = f'{row} L={length} seed={seed}'
    bar.set_postfix_str(key)
    if (cell := store.get(key)) is not None:
      done.append(cell)
      bar.update()
      continue
    if report_only:
      pending.append(key)
      continue
    task_name, params = rows[row]
    task = lopro.get_task(task_name, length, **params)
    logging.info('discovery cell %d/%d: %s', number, len(cells), key)
    cell = dict(row=row, length=length, seed=seed,
                **run_cell(task, seed, method_at(length)))
    store.put(key, cell)
    done.append(cell)
    bar.update()
    logging.info('discovery %s: %s (%s), %d order-profiles, %.0f s', key,
                 cell['order'], cell['match'], cell['num_profiled'],
                 cell['seconds'])
  bar.close()
  if not done:
    raise common.TableError(f'no finished cells in {store.path}')
  if evaluation is not None:
    done = evaluate(done, rows, *evaluation, report_only=report_only)
  return common.Table(name=name, rows=done, lines=_lines(done, rows, pending),
                      figure=_figure(done))


def _lines(done: list[dict[str, Any]], rows: dict[str, Any],
           pending: list[str]) -> list[str]:
  lengths = sorted({c['length'] for c in done})
  lines = ['Found (exact + equivalent) of the seeds run, per row and L; '
           'exact in brackets:', '',
           '| row | ' + ' | '.join(f'L={n}' for n in lengths) + ' |',
           '|---|' + '---|' * len(lengths)]
  for row in rows:
    cells = []
    for length in lengths:
      mine = [c for c in done if c['row'] == row and c['length'] == length]
      found = sum(c['match'] != 'miss' for c in mine)
      exact = sum(c['match'] == 'exact' for c in mine)
      cells.append(f'{found}/{len(mine)} ({exact})' if mine else '-')
    lines.append(f'| {row} | ' + ' | '.join(cells) + ' |')
  counts = {m: sum(c['match'] == m for c in done) for m in MATCHES}
  lines += ['', f'All {len(done)} cells: {counts["exact"]} exact, '
            f'{counts["equivalent"]} equivalent, {counts["miss"]} missed '
            f'({100 * (len(done) - counts["miss"]) / len(done):.0f}% found).',
            '', 'Search time per length (seconds, mean / max over cells) '
            'and order-profiles (mean):', '',
            '| L | cells | mean s | max s | order-profiles |',
            '|---|---|---|---|---|']
  for length in lengths:
    mine = [c for c in done if c['length'] == length]
    seconds = [c['seconds'] for c in mine]
    lines.append(f'| {length} | {len(mine)} | {np.mean(seconds):.0f} | '
                 f'{np.max(seconds):.0f} | '
                 f'{np.mean([c["num_profiled"] for c in mine]):.0f} |')
  methods_used = sorted({(c['length'], c['method']) for c in done})
  lines += ['', 'Methods:', ''] + [f'- L={length}: {text}'
                                   for length, text in methods_used]
  lines += _success_lines(done)
  misses = [c for c in done if c['match'] == 'miss']
  if misses:
    lines += ['', 'Misses:', ''] + [
        f'- {c["row"]} L={c["length"]} seed {c["seed"]}: `{c["order"]}` '
        f'(friendly `{c["friendly"]}`)' for c in misses]
  if pending:
    lines += ['', f'Not run yet ({len(pending)} cells): '
              + '; '.join(pending) + '.']
  return lines


def _success_lines(done: list[dict[str, Any]]) -> list[str]:
  """Mean success per (row, L) of the evaluated cells, if any."""
  evaluated = [c for c in done if 'success' in c]
  if not evaluated:
    return []
  lines = ['', 'Exact-match success of the discovered order against forward '
           'and reverse (mean over the seeds evaluated, each order trained '
           'with the cell\'s seed):', '',
           '| row | L | seeds | discovered % | forward % | reverse % |',
           '|---|---|---|---|---|---|']
  groups = {}
  for c in evaluated:
    groups.setdefault((c['row'], c['length']), []).append(c)
  for (row, length), mine in groups.items():
    mean = {n: 100 * np.mean([c['success'][n] for c in mine])
            for n in ('discovered', 'forward', 'reverse')}
    lines.append(f'| {row} | {length} | {len(mine)} | '
                 f'{mean["discovered"]:.1f} | {mean["forward"]:.1f} | '
                 f'{mean["reverse"]:.1f} |')
  as_good = sum(c['success']['discovered'] >= max(c['success'].values())
                - common.WITHIN for c in evaluated)
  lines += ['', f'The discovered order is within {100 * common.WITHIN:.0f} '
            f'points of the best reference order in {as_good} of '
            f'{len(evaluated)} evaluated cells.']
  if len(evaluated) < len(done):
    lines.append(f'{len(done) - len(evaluated)} cells not evaluated yet.')
  return lines


def _figure(done: list[dict[str, Any]]):
  fig = results.new_figure(figsize=(6, 4))
  ax = fig.subplots()
  colours = dict(exact='C2', equivalent='C0', miss='C3')
  for match in MATCHES:
    mine = [c for c in done if c['match'] == match]
    ax.scatter([c['length'] for c in mine], [c['seconds'] / 60 for c in mine],
               c=colours[match], label=f'{match} ({len(mine)})', alpha=0.7)
  ax.set_xlabel('target length L')
  ax.set_ylabel('search wall time (min)')
  ax.set_title('discovery from random init')
  ax.legend()
  return fig
