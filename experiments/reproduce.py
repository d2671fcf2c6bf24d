r"""Reproduces the paper's tables: success of orders, search, rank validity.

--table=1     forward vs reverse (and the friendly order where it is neither)
              exact-match success for every task at --length, over --seeds.
--table=2     a search from random init for relu, square19, index d=2 and
              prod at each of --lengths, then success of the discovered
              order vs forward, reverse and friendly; discovery rate.
--table=rank  profile friendly + 127 random orders, evaluate the best 32 by
              profile score, and correlate profile score with success
              (Spearman, Kendall), for relu and square19.

--preset=cpu|paper picks the evaluation model (``lopro.EvalConfig``). Each
table writes ``<name>.json``, ``<name>.md`` and ``<name>.png`` into
--output_dir; the markdown ends with the command and the device.

Examples:
  python experiments/reproduce.py --table=1 --preset=cpu --length=16 \
      --output_dir=results
  python experiments/reproduce.py --table=rank --length=12 --output_dir=results
"""

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

_TABLE = flags.DEFINE_enum('table', '1', ['1', '2', 'rank'], 'Which table.')
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
    'Training steps of every profile (table 2 searches, rank study).')
_NUM_RANDOM = flags.DEFINE_integer('num_random', 127,
                                   'Rank study: random orders profiled.')
_NUM_EVALUATED = flags.DEFINE_integer('num_evaluated', 32,
                                      'Rank study: best orders evaluated.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)

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
  return lopro.ProfileConfig(steps=_PROFILE_STEPS.value)


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


def table2(config: lopro.EvalConfig, seeds: list[int]) -> dict:
  rows = []
  for row, (name, params) in selected(TABLE2_TASKS).items():
    for length in map(int, _LENGTHS.value):
      if name == 'prod' and length % 2:
        continue  # prod needs an even L
      task = lopro.get_task(name, length, **params)
      for seed in seeds:
        start = time.perf_counter()
        found = lopro.search_order(task, seed=seed,
                                   profile_config=profile_config())
        perms, names = reference_perms(task)
        perms = np.concatenate([found.order[None], perms])
        names = ['discovered'] + names
        evals = lopro.evaluate_orders(perms, task, config=config, seed=seed)
        success = {n: e.success_rate for n, e in zip(names, evals)}
        friendly = task.friendly_order
        friendly_success = success[
            'forward' if np.array_equal(friendly, perms[1]) else
            'reverse' if np.array_equal(friendly, perms[2]) else 'friendly']
        rows.append(dict(
            row=row, length=length, seed=seed,
            discovered=orders.order_to_string(found.order),
            found_friendly=bool(np.array_equal(found.order, friendly)),
            num_profiled=found.num_profiled, success=success,
            friendly_success=friendly_success,
            within_5_points=bool(success['discovered']
                                 >= friendly_success - 0.05),
            seconds=time.perf_counter() - start))
        logging.info('table 2 %s L=%d seed %d: %s %s', row, length, seed,
                     rows[-1]['discovered'], success)
  lines = ['| task | L | seed | discovered | = friendly | discovered % | '
           'friendly % | forward % | reverse % | within 5 points |',
           '|---|---|---|---|---|---|---|---|---|---|']
  for r in rows:
    s = r['success']
    lines.append(
        f'| {r["row"]} | {r["length"]} | {r["seed"]} | `{r["discovered"]}` '
        f'| {r["found_friendly"]} | {100 * s["discovered"]:.1f} | '
        f'{100 * r["friendly_success"]:.1f} | {100 * s["forward"]:.1f} | '
        f'{100 * s["reverse"]:.1f} | {r["within_5_points"]} |')
  ok = sum(r['within_5_points'] for r in rows)
  lines.append(f'\nWithin 5 points of the friendly order: {ok}/{len(rows)} '
               f'cells; discovery rate '
               f'{sum(r["found_friendly"] for r in rows)}/{len(rows)}.')
  failures = [r for r in rows if not r['within_5_points']]
  if failures:
    lines.append('Failures: ' + '; '.join(
        f'{r["row"]} L={r["length"]} seed {r["seed"]}' for r in failures))
  fig, ax = plt.subplots(figsize=(5, 4))
  ax.scatter([100 * r['friendly_success'] for r in rows],
             [100 * r['success']['discovered'] for r in rows])
  ax.plot([0, 100], [0, 100], 'k--', lw=0.8)
  ax.set_xlabel('friendly order success (%)')
  ax.set_ylabel('discovered order success (%)')
  ax.set_title('Table 2: discovered vs friendly')
  return dict(name=f'table2_{_PRESET.value}', rows=rows, lines=lines,
              figure=fig)


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


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.INFO)
  config = eval_config()
  seeds = list(range(_SEEDS.value))
  build = {'1': table1, '2': table2, 'rank': rank_study}[_TABLE.value]
  out = build(config, seeds)
  command = ' '.join(['python experiments/reproduce.py'] + sys.argv[1:])
  device = jax.devices()[0].device_kind
  header = (f'Preset `{_PRESET.value}` (`lopro.EvalConfig.{_PRESET.value}()`'
            f', {config.steps} steps), seeds {seeds}; success in % (mean ± '
            f'std over seeds) on {config.num_heldout} held-out examples; '
            f'device {device}.\n')
  text = header + '\n' + '\n'.join(out['lines']) + (
      f'\n\nCommand: `{command}`\n')
  os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  name = out['name']
  if _TASKS.value:  # a subset never overwrites the whole table
    name += '_' + '_'.join(_TASKS.value)
  path = os.path.join(_OUTPUT_DIR.value, name)
  results.atomic_write_json(path + '.json', dict(
      table=_TABLE.value, preset=_PRESET.value, config=config.to_dict(),
      seeds=seeds, device=device, command=command, rows=out['rows']))
  results.atomic_write_bytes(path + '.md', text.encode())
  results.save_figure(out['figure'], path + '.png')
  print(text)
  return 0


if __name__ == '__main__':
  sys.exit(app.run(main))
