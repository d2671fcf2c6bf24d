r"""Reproduces the paper's tables: success of orders, search, rank validity.

--table=1     forward vs reverse (and the friendly order where it is neither)
              exact-match success for every task at --length, over --seeds.
--table=2     a search from random init for relu, square19, index d=2 and
              prod at each of --lengths, then success of the discovered
              order vs forward, reverse and friendly; discovery rate.
              --refine_rounds climbs from each search's result with one
              model per order (beyond the paper).
--table=rank  profile friendly + 127 random orders, evaluate the best 32 by
              profile score, and correlate profile score with success
              (Spearman, Kendall), for relu and square19.
--table=estimators
              rank of the friendly order among friendly + reverse + 126
              random at --length under each estimator: independent (one
              model per order), mixture (the paper's one model, told the
              slot), mixture without the slot (paper-literal), universal
              mixture (trained on random orders only) and halving;
              Spearman agreement of their rankings; order-steps and time.

Table 2 keeps every finished cell in ``<name>.cells.json``: rerunning the
same command skips them (resume after a crash, or split a long run over
sessions); cells made with other settings are refused. Cells run
length-major in --lengths order; --report_only writes the table from the
finished cells and lists the others as not run. With --reuse (default) a
table also takes the cells that another file in --output_dir finished with
the same settings (a --tasks subset of the same table), and evaluates no
(task, L, order, seed) that a table-2 file with the same evaluation settings
holds; each cell lists the evaluations it read in ``reused_evaluations``.

--preset=cpu|paper picks the evaluation model (``lopro.EvalConfig``). Each
table writes ``<name>.json``, ``<name>.md`` and ``<name>.png`` into
--output_dir; the markdown ends with the command and the device.

Examples:
  python experiments/reproduce.py --table=1 --preset=cpu --length=16 \
      --output_dir=results
  python experiments/reproduce.py --table=rank --length=12 --output_dir=results
  python experiments/reproduce.py --table=estimators --length=8 --seeds=2 \
      --output_dir=results
  python experiments/reproduce.py --table=2 --lengths=10,9,8,7,6 \
      --steps=1000 --profile_mode=mixture --random_order_fraction=1 \
      --mixture_steps=3000 --output_dir=results
  python experiments/reproduce.py --table=2 --lengths=10,9,8,7,6 \
      --steps=1000 --profile_mode=mixture --random_order_fraction=1 \
      --mixture_steps=3000 --output_dir=results --report_only
  python experiments/reproduce.py --table=2 --tasks=index_d2 \
      --lengths=10,9,8,7,6 \
      --steps=1000 --profile_mode=mixture --random_order_fraction=1 \
      --mixture_steps=3000 --refine_rounds=6 --refine_steps=1000 \
      --output_dir=results
"""

import dataclasses
import glob
import json
import os
import sys
import time

from absl import app
from absl import flags
from absl import logging
import jax
import matplotlib
matplotlib.use('Agg')
from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top
import numpy as np
from scipy import stats

import lopro
from lopro import orders
from lopro import results

_TABLE = flags.DEFINE_enum('table', '1', ['1', '2', 'rank', 'estimators'],
                           'Which table.')
_PRESET = flags.DEFINE_enum('preset', 'cpu', list(lopro.evaluate.PRESETS),
                            'Evaluation model preset.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds 0..seeds-1.')
_LENGTH = flags.DEFINE_integer('length', 16,
                               'Target length L of table 1 and rank.')
_LENGTHS = flags.DEFINE_list('lengths', ['6', '7', '8', '9', '10'],
                             'Target lengths of table 2.')
_TASKS = flags.DEFINE_list('tasks', None, 'Restrict to these rows (names as '
                           'in the table, e.g. relu,index_d2).')
_STEPS = flags.DEFINE_integer('steps', None,
                              'Override the preset\'s training steps.')
_PROFILE_STEPS = flags.DEFINE_integer(
    'profile_steps', lopro.ProfileConfig.steps,
    'Training steps of every profile (table 2 searches, rank study; '
    'estimators: independent and halving).')
_NUM_RANDOM = flags.DEFINE_integer(
    'num_random', 127, 'Rank study: random orders profiled (estimators: '
    'num_random - 1 besides friendly and reverse).')
_PROFILE_MODE = flags.DEFINE_enum(
    'profile_mode', 'independent', ['independent', 'mixture'],
    'Profiles of table 2 and the rank study: one model per order, or the '
    'paper\'s mixture (ProfileConfig.mixture(), last checkpoint, 128 '
    'held-out examples), whose cost does not grow with the orders.')
_RANDOM_ORDER_FRACTION = flags.DEFINE_float(
    'random_order_fraction', 0.0, '--profile_mode=mixture: share of '
    'training examples with a uniformly random order; 1 trains one universal '
    'model per seed, reused by every profile of a search.')
_ESTIMATORS = flags.DEFINE_list(
    'estimators', ['independent', 'mixture', 'mixture_no_slot', 'halving'],
    'Estimators compared by --table=estimators (also: mixture_universal).')
_MIXTURE_STEPS = flags.DEFINE_integer(
    'mixture_steps', lopro.ProfileConfig.mixture().steps,
    'Steps of the mixture model (batch 128): estimators, and '
    '--profile_mode=mixture.')
_NUM_EVALUATED = flags.DEFINE_integer('num_evaluated', 32,
                                      'Rank study: best orders evaluated.')
_REFINE_ROUNDS = flags.DEFINE_integer(
    'refine_rounds', 0, 'Table 2, beyond the paper: after each search, most '
    'insertion rounds from its result scored one model per order '
    '(ProfileConfig(steps=--refine_steps), mean over --refine_seeds); for '
    'the coarse universal mixture (SearchConfig.refine_rounds).',
    lower_bound=0)
_REFINE_STEPS = flags.DEFINE_integer(
    'refine_steps', lopro.ProfileConfig().steps,
    'Table 2: steps of each refine profile (one model per order).',
    lower_bound=1)
_REFINE_SEEDS = flags.DEFINE_integer(
    'refine_seeds', 2, 'Table 2: seeds each refine score averages over.',
    lower_bound=1)
_REPORT_ONLY = flags.DEFINE_bool(
    'report_only', False, 'Table 2: run no cell; write the table from the '
    'finished cells in <name>.cells.json and list the others as not run.')
_REUSE = flags.DEFINE_bool(
    'reuse', True, 'Table 2: take what other table-2 runs in --output_dir '
    'already finished instead of recomputing it: a whole cell from a file '
    'made with the same settings (e.g. a --tasks subset), an evaluation '
    '(task, L, order, seed) from any file with the same evaluation settings. '
    'The same computation gives bit-identical numbers on one machine.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)

# Table 2's acceptance margin: the discovered order's success may be this far
# below the friendly order's.
WITHIN = 0.05

# Row name -> (task name, parameters).
TABLE1_TASKS = {
    'relu': ('relu', {}), 'square19': ('square19', {}),
    'index_d2': ('index', dict(d=2)), 'index_d4': ('index', dict(d=4)),
    'index_d8': ('index', dict(d=8)), 'cubic': ('cubic', {}),
    'sine': ('sine', {}), 'triangle': ('triangle', {}), 'mlp': ('mlp', {}),
    'prod': ('prod', {}), 'delay': ('delay', {}),
}
TABLE2_TASKS = {k: TABLE1_TASKS[k]
                for k in ('relu', 'square19', 'index_d2', 'prod')}
RANK_TASKS = {k: TABLE1_TASKS[k] for k in ('relu', 'square19')}
# Planted chains that no test or earlier result used.
ESTIMATOR_TASKS = {'relu': ('relu', {}), 'square19': ('square19', {}),
                   'planted_3': ('planted', dict(order_seed=3)),
                   'planted_7': ('planted', dict(order_seed=7))}


def estimators() -> dict[str, lopro.ProfileConfig]:
  """The estimators compared by --table=estimators (--estimators of them)."""
  mixture = lopro.ProfileConfig.mixture(steps=_MIXTURE_STEPS.value)
  every = {
      'independent': lopro.ProfileConfig(steps=_PROFILE_STEPS.value),
      'mixture': mixture,
      'mixture_no_slot': dataclasses.replace(mixture, slot_embedding=False),
      'mixture_universal': dataclasses.replace(mixture,
                                               random_order_fraction=1.0),
      'halving': lopro.ProfileConfig(steps=_PROFILE_STEPS.value,
                                     schedule='halving'),
  }
  unknown = set(_ESTIMATORS.value) - set(every)
  if unknown:
    raise app.UsageError(f'--estimators: unknown {sorted(unknown)}; known: '
                         f'{list(every)}')
  return {k: v for k, v in every.items() if k in _ESTIMATORS.value}


def selected(rows: dict) -> dict:
  if not _TASKS.value:
    return rows
  unknown = set(_TASKS.value) - set(rows)
  if unknown:
    raise app.UsageError(f'--tasks: unknown rows {sorted(unknown)}; known: '
                         f'{list(rows)}')
  return {k: v for k, v in rows.items() if k in _TASKS.value}


def eval_config() -> lopro.EvalConfig:
  # The held-out set also avoids the inputs of this binary's profiles.
  overrides = dict(profile_steps=_PROFILE_STEPS.value)
  if _STEPS.value is not None:
    overrides['steps'] = _STEPS.value
  return lopro.EvalConfig.preset(_PRESET.value, **overrides)


def profile_config() -> lopro.ProfileConfig:
  """The profiles of table 2's searches and the rank study."""
  if _PROFILE_MODE.value == 'mixture':
    # A search reads the last checkpoint only.
    return lopro.ProfileConfig.mixture(
        steps=_MIXTURE_STEPS.value, num_checkpoints=1, num_heldout=128,
        random_order_fraction=_RANDOM_ORDER_FRACTION.value)
  return lopro.ProfileConfig(steps=_PROFILE_STEPS.value)


def search_config() -> lopro.SearchConfig:
  """The search of table 2's cells."""
  return lopro.SearchConfig(refine_rounds=_REFINE_ROUNDS.value)


def refine_profile_config() -> lopro.ProfileConfig:
  """The scorer of table 2's refine rounds: one model per order."""
  return lopro.ProfileConfig(steps=_REFINE_STEPS.value)


def output_path(name: str) -> str:
  """<output_dir>/<name>, tagged with --tasks when a subset runs (a subset
  never overwrites the whole table)."""
  if _TASKS.value:
    name += '_' + '_'.join(_TASKS.value)
  return os.path.join(_OUTPUT_DIR.value, name)


class CellStore:
  """Finished cells of a long table, kept in ``<path>.cells.json`` after
  each one, so a rerun of the same command skips them (resume after a
  crash, or a run split over sessions or accelerator leases)."""

  def __init__(self, path: str, fingerprint: dict):
    self.path = path + '.cells.json'
    self.fingerprint = results.to_jsonable(fingerprint)
    self.cells = {}
    if os.path.exists(self.path):
      with open(self.path) as f:
        saved = json.load(f)
      if saved['fingerprint'] != self.fingerprint:
        raise app.UsageError(
            f'{self.path} holds cells made with other settings; use another '
            '--output_dir or delete that file')
      self.cells = saved['cells']
      logging.info('resuming: %d finished cells in %s', len(self.cells),
                   self.path)

  def get(self, key: str) -> dict | None:
    return self.cells.get(key)

  def put(self, key: str, row: dict) -> None:
    self.cells[key] = results.to_jsonable(row)
    results.atomic_write_json(self.path, dict(fingerprint=self.fingerprint,
                                              cells=self.cells))


def other_cell_files(own: CellStore) -> list[tuple[str, dict]]:
  """(path, saved) of the other table-2 cell files in --output_dir."""
  found = []
  for path in sorted(glob.glob(os.path.join(_OUTPUT_DIR.value,
                                            'table2_*.cells.json'))):
    if os.path.abspath(path) != os.path.abspath(own.path):
      with open(path) as f:
        found.append((path, json.load(f)))
  return found


def finished_elsewhere(own: CellStore, others: list[tuple[str, dict]]
                       ) -> dict[str, tuple[str, dict]]:
  """Cell key -> (path, row) of cells that files of ``others``
  (other_cell_files) made with the same settings as ``own`` (e.g. a --tasks
  subset of the same table) finished."""
  cells = {}
  for path, saved in others:
    if saved['fingerprint'] == own.fingerprint:
      for key, row in saved['cells'].items():
        cells.setdefault(key, (path, row))
  return cells


def evaluation_key(row: str, length: int, seed: int, order: str) -> str:
  return f'{row} L={length} seed={seed} order={order}'


def add_evaluations(known: dict[str, float], row: dict) -> None:
  """Adds a table-2 row's success rates to ``known`` (evaluation_key ->
  success rate) under the orders they belong to."""
  name, params = TABLE2_TASKS[row['row']]
  task = lopro.get_task(name, row['length'], **params)
  perms, names = reference_perms(task)
  strings = dict(zip(names, map(orders.order_to_string, perms)))
  strings['discovered'] = row['discovered']
  for which, success in row['success'].items():
    known[evaluation_key(row['row'], row['length'], row['seed'],
                         strings[which])] = success


def finished_evaluations(own: CellStore, others: list[tuple[str, dict]]
                         ) -> dict[str, float]:
  """Success rates that ``own`` and the files of ``others`` with the same
  evaluation settings hold, by evaluation_key."""
  known = {}
  for _, saved in others + [(own.path, dict(
      fingerprint=own.fingerprint, cells=own.cells))]:
    if saved['fingerprint']['eval_config'] == own.fingerprint['eval_config']:
      for row in saved['cells'].values():
        add_evaluations(known, row)
  return known


def reference_perms(task: lopro.Task) -> tuple[np.ndarray, list[str]]:
  """forward, reverse, and friendly when it is neither."""
  perms = [orders.identity(task.length), orders.reverse(task.length)]
  names = ['forward', 'reverse']
  friendly = task.friendly_order
  if friendly is not None and not any(np.array_equal(friendly, p)
                                      for p in perms):
    perms.append(friendly)
    names.append('friendly')
  return np.stack(perms), names


def mean_std(values) -> dict:
  values = np.asarray(values, np.float64)
  return dict(mean=float(values.mean()), std=float(values.std()),
              values=values.tolist())


def fmt(cell: dict | None) -> str:
  if cell is None:
    return '-'
  return f'{100 * cell["mean"]:.1f} ± {100 * cell["std"]:.1f}'


def table1(config: lopro.EvalConfig, seeds: list[int]) -> dict:
  rows = []
  for row, (name, params) in selected(TABLE1_TASKS).items():
    task = lopro.get_task(name, _LENGTH.value, **params)
    perms, names = reference_perms(task)
    start = time.perf_counter()
    grid = lopro.evaluate_grid(perms, task, config=config, seeds=seeds)
    cells = {n: mean_std([grid[s][o].success_rate for s in range(len(seeds))])
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
    lines.append(f'| {r["row"]} | {fmt(r["success"]["forward"])} | '
                 f'{fmt(r["success"]["reverse"])} | '
                 f'{fmt(r["success"].get("friendly"))} | {r["friendly_is"]} |')
  fig, ax = plt.subplots(figsize=(1 + 0.8 * len(rows), 3.5))
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
  ax.set_title(f'Table 1: L={_LENGTH.value}, {len(seeds)} seeds')
  ax.legend()
  return dict(name=f'table1_{_PRESET.value}_L{_LENGTH.value}', rows=rows,
              lines=lines, figure=fig)


def table2_name() -> str:
  suffix = ''
  if _PROFILE_MODE.value == 'mixture':
    suffix = ('_universal' if profile_config().universal else '_mixture')
  if _REFINE_ROUNDS.value:
    suffix += '_refine'
    if _REFINE_STEPS.value != lopro.ProfileConfig().steps:
      suffix += str(_REFINE_STEPS.value)
  return f'table2_{_PRESET.value}{suffix}'


def table2(config: lopro.EvalConfig, seeds: list[int]) -> dict:
  # Length-major, in --lengths order: a partial run covers every task at
  # the lengths it reached.
  cells = [(row, name, params, length, seed)
           for length in map(int, _LENGTHS.value)
           for row, (name, params) in selected(TABLE2_TASKS).items()
           if not (name == 'prod' and length % 2)  # prod needs an even L
           for seed in seeds]
  fingerprint = dict(eval_config=config.to_dict(),
                     profile_config=profile_config().to_dict(),
                     search_config=search_config().to_dict())
  if _REFINE_ROUNDS.value:
    fingerprint.update(refine_profile_config=refine_profile_config().to_dict(),
                       refine_seeds=_REFINE_SEEDS.value)
  store = CellStore(output_path(table2_name()), fingerprint)
  others = other_cell_files(store) if _REUSE.value else []
  elsewhere = finished_elsewhere(store, others)
  known = finished_evaluations(store, others)
  rows, pending = [], []
  for number, (row, name, params, length, seed) in enumerate(cells, 1):
    key = f'{row} L={length} seed={seed}'
    if store.get(key) is None and key in elsewhere:
      path, stored = elsewhere[key]
      logging.info('table 2: cell %s taken from %s', key, path)
      store.put(key, stored)
    if (stored := store.get(key)) is not None:
      rows.append(stored)
      continue
    if _REPORT_ONLY.value:
      pending.append(key)
      continue
    logging.info('table 2: cell %d/%d, %s', number, len(cells), key)
    task = lopro.get_task(name, length, **params)
    start = time.perf_counter()
    found = lopro.search_order(
        task, seed=seed, config=search_config(),
        profile_config=profile_config(),
        refine_profile_config=refine_profile_config(),
        refine_seeds=_REFINE_SEEDS.value)
    search_s = time.perf_counter() - start
    refined = [r for r in found.history if r.name.startswith('refine')]
    perms, names = reference_perms(task)
    perms = np.concatenate([found.order[None], perms])
    names = ['discovered'] + names
    # The same order and seed train the same model: evaluate each once,
    # and not again when another run evaluated it (--reuse).
    keys = [evaluation_key(row, length, seed, orders.order_to_string(p))
            for p in perms]
    missing = [i for i, k in enumerate(keys) if k not in known]
    todo = np.unique(perms[missing], axis=0)
    reused = [n for n, k in zip(names, keys) if k in known]
    if len(todo):
      # evaluate_orders is silent: say what the next minutes are spent on.
      logging.info('table 2 %s: searched in %.0f s; evaluating %d orders '
                   '(%d steps each), %d read from finished runs', key,
                   search_s, len(todo), config.steps, len(reused))
      evals = lopro.evaluate_orders(todo, task, config=config, seed=seed)
      for p, e in zip(todo, evals):
        known[evaluation_key(row, length, seed,
                             orders.order_to_string(p))] = e.success_rate
    success = {n: known[k] for n, k in zip(names, keys)}
    friendly = task.friendly_order
    friendly_success = success[
        'forward' if np.array_equal(friendly, perms[1]) else
        'reverse' if np.array_equal(friendly, perms[2]) else 'friendly']
    rows.append(dict(
        row=row, length=length, seed=seed,
        discovered=orders.order_to_string(found.order),
        found_friendly=bool(np.array_equal(found.order, friendly)),
        num_profiled=found.num_profiled, success=success,
        **(dict(before_refine=orders.order_to_string(refined[0].candidates[0]),
                refine_rounds_run=len(refined)) if refined else {}),
        friendly_success=friendly_success,
        within_5_points=bool(success['discovered']
                             >= friendly_success - WITHIN),
        search_s=search_s, seconds=time.perf_counter() - start,
        reused_evaluations=reused))
    store.put(key, rows[-1])
    logging.info('table 2 %s L=%d seed %d: %s %s', row, length, seed,
                 rows[-1]['discovered'], success)
  if not rows:
    raise app.UsageError(f'--report_only: no finished cells in {store.path}')
  # Read in task order, then L, then seed, whatever order the cells ran in.
  order = list(TABLE2_TASKS)
  rows.sort(key=lambda r: (order.index(r['row']), r['length'], r['seed']))
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
  vacuous = [r for r in rows if r['friendly_success'] <= WITHIN]
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
  fig, ax = plt.subplots(figsize=(5, 4))
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
  return dict(name=table2_name(), rows=rows, lines=lines, figure=fig)


def rank_study(config: lopro.EvalConfig, seeds: list[int]) -> dict:
  rows = []
  seed = seeds[0]
  for row, (name, params) in selected(RANK_TASKS).items():
    task = lopro.get_task(name, _LENGTH.value, **params)
    pool = orders.sample_orders(jax.random.key(seed + 1000),
                                4 * _NUM_RANDOM.value, task.length)
    perms, _ = orders.unique_orders(np.concatenate(
        [task.friendly_order[None], pool]))
    perms = perms[:1 + _NUM_RANDOM.value]
    prof = lopro.profile_orders(perms, task, seed=seed,
                                config=profile_config())
    top = prof.ranking[:_NUM_EVALUATED.value]
    evals = lopro.evaluate_orders(perms[top], task, config=config, seed=seed)
    score = prof.scores[top]
    success = np.array([e.success_rate for e in evals])
    spearman = stats.spearmanr(score, success)
    kendall = stats.kendalltau(score, success)
    rows.append(dict(
        row=row, num_profiled=int(perms.shape[0]), num_evaluated=len(top),
        friendly_profile_rank=prof.rank_of(task.friendly_order) + 1,
        spearman=float(spearman.statistic), spearman_p=float(spearman.pvalue),
        kendall=float(kendall.statistic), kendall_p=float(kendall.pvalue),
        scores=score.tolist(), success=success.tolist(),
        orders=[orders.order_to_string(p) for p in perms[top]]))
    logging.info('rank %s: Spearman %.3f (p %.2g), n=%d', row,
                 rows[-1]['spearman'], rows[-1]['spearman_p'], len(top))
  lines = ['| task | orders profiled | evaluated (n) | friendly\'s profile '
           'rank | Spearman (p) | Kendall (p) |', '|---|---|---|---|---|---|']
  for r in rows:
    lines.append(f'| {r["row"]} | {r["num_profiled"]} | {r["num_evaluated"]}'
                 f' | {r["friendly_profile_rank"]} | {r["spearman"]:.3f} '
                 f'({r["spearman_p"]:.2g}) | {r["kendall"]:.3f} '
                 f'({r["kendall_p"]:.2g}) |')
  lines.append('\nA negative correlation is the good sign: lower profile '
               'score (friendlier), higher success.')
  fig, axes = plt.subplots(1, len(rows), figsize=(4.5 * len(rows), 3.8),
                           squeeze=False)
  for ax, r in zip(axes[0], rows):
    ax.scatter(r['scores'], 100 * np.array(r['success']))
    ax.set_xlabel('profile score (lower = friendlier)')
    ax.set_ylabel('success (%)')
    ax.set_title(f'{r["row"]} L={_LENGTH.value}: Spearman '
                 f'{r["spearman"]:.2f}, n={r["num_evaluated"]}')
  fig.tight_layout()
  return dict(name=f'rank_{_PRESET.value}_L{_LENGTH.value}', rows=rows,
              lines=lines, figure=fig)


def estimator_pool(task: lopro.Task, seed: int) -> np.ndarray:
  """int[128, L]: friendly, reverse of friendly, then 126 distinct random."""
  friendly = task.friendly_order
  pool = orders.sample_orders(jax.random.key(seed + 2000), 512, task.length)
  perms, _ = orders.unique_orders(np.concatenate(
      [friendly[None], friendly[::-1][None], pool]))
  return perms[:2 + _NUM_RANDOM.value - 1]


def positions(ranking: np.ndarray) -> np.ndarray:
  """int[O]: the 0-based rank of every order (the inverse of a ranking)."""
  out = np.empty_like(ranking)
  out[ranking] = np.arange(ranking.size)
  return out


def estimator_study(config: lopro.EvalConfig, seeds: list[int]) -> dict:
  del config  # profiles only
  rows = []
  for row, (name, params) in selected(ESTIMATOR_TASKS).items():
    task = lopro.get_task(name, _LENGTH.value, **params)
    for seed in seeds:
      perms = estimator_pool(task, seed)
      cells, ranks = {}, {}
      for est, est_config in estimators().items():
        prof = lopro.profile_orders(perms, task, config=est_config,
                                    seed=seed)
        ranks[est] = positions(prof.ranking)
        cells[est] = dict(
            friendly_rank=prof.rank_of(task.friendly_order) + 1,
            reverse_rank=prof.rank_of(task.friendly_order[::-1]) + 1,
            top1=orders.order_to_string(prof.best),
            order_steps=int(prof.timings['order_steps']),
            run_s=prof.timings['run_s'], total_s=prof.timings['total_s'])
        logging.info('estimators %s L=%d seed %d %s: friendly rank %d, '
                     '%d order-steps, %.0f s', row, task.length, seed, est,
                     cells[est]['friendly_rank'], cells[est]['order_steps'],
                     cells[est]['total_s'])
      names = list(cells)
      agreement = {f'{a}~{b}': float(stats.spearmanr(ranks[a], ranks[b]
                                                     ).statistic)
                   for i, a in enumerate(names) for b in names[i + 1:]}
      both = {'halving', 'independent'} <= set(cells)
      rows.append(dict(row=row, length=task.length, seed=seed,
                       num_orders=int(perms.shape[0]), estimators=cells,
                       spearman=agreement,
                       halving_same_top1=both and cells['halving']['top1']
                       == cells['independent']['top1'] or None))
  names = list(rows[0]['estimators'])
  lines = ['Rank of the friendly order (1 = best) among friendly + reverse + '
           f'{_NUM_RANDOM.value - 1} random orders:', '',
           '| task | L | seed | ' + ' | '.join(names) + ' |',
           '|---|---|---|' + '---|' * len(names)]
  for r in rows:
    lines.append(f'| {r["row"]} | {r["length"]} | {r["seed"]} | ' + ' | '.join(
        str(r['estimators'][n]['friendly_rank']) for n in names) + ' |')
  lines += ['', 'Cost (mean over rows): order-steps (training steps summed '
            'over models; a mixture step trains one model on a batch of '
            '128, an independent one each order\'s model on 32) and wall '
            'time of one profile, compile included:', '',
            '| estimator | order-steps | vs independent | seconds |',
            '|---|---|---|---|']
  def mean(name, field):
    return np.mean([r['estimators'][name][field] for r in rows])

  for n in names:
    steps = mean(n, 'order_steps')
    share = (f'{100 * steps / mean("independent", "order_steps"):.1f}%'
             if 'independent' in names else '-')
    lines.append(f'| {n} | {steps:.0f} | {share} | '
                 f'{mean(n, "total_s"):.1f} |')
  pairs = list(rows[0]['spearman'])
  lines += ['', 'Spearman agreement of the estimators\' rankings of all '
            f'{rows[0]["num_orders"]} orders:', '',
            '| task | seed | ' + ' | '.join(pairs) + ' |',
            '|---|---|' + '---|' * len(pairs)]
  for r in rows:
    lines.append(f'| {r["row"]} | {r["seed"]} | ' + ' | '.join(
        f'{r["spearman"][p]:.2f}' for p in pairs) + ' |')
  if {'halving', 'independent'} <= set(names):
    same = sum(bool(r['halving_same_top1']) for r in rows)
    lines.append(f'\nHalving picks the same top-1 order as the independent '
                 f'profile in {same}/{len(rows)} rows.')
  fig, (ax, bx) = plt.subplots(1, 2, figsize=(11, 4))
  width = 0.8 / len(names)
  labels = [f'{r["row"]} s{r["seed"]}' for r in rows]
  for i, n in enumerate(names):
    ax.bar(np.arange(len(rows)) + (i - (len(names) - 1) / 2) * width,
           [r['estimators'][n]['friendly_rank'] for r in rows], width,
           label=n)
  ax.set_yscale('log')
  ax.set_xticks(np.arange(len(rows)), labels, rotation=45, ha='right')
  ax.set_ylabel('rank of the friendly order (log)')
  ax.set_title(f'L={_LENGTH.value}: lower is better')
  ax.legend(fontsize=8)
  for n in names:
    bx.scatter([r['estimators'][n]['order_steps'] for r in rows],
               [r['estimators'][n]['total_s'] for r in rows], label=n)
  bx.set_xscale('log')
  bx.set_xlabel('order-steps per profile (log)')
  bx.set_ylabel('seconds per profile')
  bx.legend(fontsize=8)
  fig.tight_layout()
  described = '; '.join(
      f'{n}: {c.mode}, {c.schedule}, {c.steps} steps of batch {c.batch_size}'
      for n, c in estimators().items())
  header = (f'Estimators (`estimators()` in `experiments/reproduce.py`): '
            f'{described}. Seeds {seeds}; device '
            f'{jax.devices()[0].device_kind}.\n')
  return dict(name=f'estimators_L{_LENGTH.value}', rows=rows, lines=lines,
              figure=fig, header=header,
              configs={n: c.to_dict() for n, c in estimators().items()})


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.INFO)
  config = eval_config()
  seeds = list(range(_SEEDS.value))
  os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  build = {'1': table1, '2': table2, 'rank': rank_study,
           'estimators': estimator_study}[_TABLE.value]
  out = build(config, seeds)
  command = ' '.join(['python experiments/reproduce.py'] + sys.argv[1:])
  device = jax.devices()[0].device_kind
  header = out.get('header') or (
      f'Preset `{_PRESET.value}` (`lopro.EvalConfig.{_PRESET.value}()`, '
      f'{config.steps} steps), seeds {seeds}; success in % (mean ± std over '
      f'seeds) on {config.num_heldout} held-out examples; device {device}.\n')
  text = header + '\n' + '\n'.join(out['lines']) + (
      f'\n\nCommand: `{command}`\n')
  path = output_path(out['name'])
  results.atomic_write_json(path + '.json', dict(
      table=_TABLE.value, preset=_PRESET.value, config=config.to_dict(),
      seeds=seeds, device=device, command=command, rows=out['rows'],
      profile_configs=out.get('configs')))
  results.atomic_write_bytes(path + '.md', text.encode())
  results.save_figure(out['figure'], path + '.png')
  print(text)
  return 0


if __name__ == '__main__':
  sys.exit(app.run(main))
