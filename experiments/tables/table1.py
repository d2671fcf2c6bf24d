"""Table 1: exact-match success of forward, reverse and friendly orders.

For every task at length L, the forward and reverse orders (and the
friendly order where it is neither), and optionally K random orders, are
evaluated over the seeds (``lopro.evaluate_grid``: one vmapped run per
task). The random orders are the same for every seed and task at a length
(drawn from ``key(RANDOM_SEED)``); the table reports the best of them (by
mean success over the seeds) and their median.
"""

from __future__ import annotations

import math
import time

from absl import logging
import jax
import numpy as np

import lopro
from lopro import orders
from lopro import results
from experiments.tables import common

RANDOM_SEED = 1000  # the random orders' key, apart from every eval seed
_ENUMERATED = 40_320  # L <= 8: random orders drawn from all L! of them


def random_perms(length: int, num_random: int,
                 exclude: np.ndarray) -> np.ndarray:
  """``num_random`` distinct random orders, none of them in ``exclude``.

  Returns:
    int64[K, L], the same for every call with the same arguments.
  """
  key = jax.random.key(RANDOM_SEED)
  if math.factorial(length) <= _ENUMERATED:  # every order, shuffled
    every = orders.all_orders(length)
    pool = every[np.asarray(jax.random.permutation(key, len(every)))]
  else:  # repeats are rare among L >= 9's 362,880+ orders
    pool = orders.sample_orders(key, 4 * num_random + len(exclude), length)
  seen = {tuple(p) for p in np.asarray(exclude).tolist()}
  kept = []
  for perm in pool:
    if len(kept) == num_random:
      break
    row = tuple(perm.tolist())
    if row not in seen:
      seen.add(row)
      kept.append(perm)
  if len(kept) < num_random:
    raise common.TableError(f'L={length} has too few orders for '
                            f'{num_random} random ones besides forward, '
                            f'reverse and friendly')
  return np.stack(kept).reshape(num_random, length)


def build(config: lopro.EvalConfig, seeds: list[int], length: int,
          preset: str, tasks: list[str] | None = None,
          num_random: int = 0) -> common.Table:
  """Evaluates the reference orders (and K random ones) of every task row.

  Args:
    config: the evaluation model and its training.
    seeds: evaluation seeds.
    length: L.
    preset: the preset's name, for the table's name.
    tasks: rows to run (``common.TABLE1_TASKS``); all when empty.
    num_random: K random orders evaluated besides the reference ones.

  Returns:
    The table ``table1_<preset>_L<L>`` (``..._random<K>`` with random
    orders).

  Raises:
    common.TableError: num_random < 0, or more than L! leaves room for.
  """
  if num_random < 0:
    raise common.TableError(f'num_random must be >= 0, got {num_random}')
  rows = []
  for row, (name, params) in common.selected(common.TABLE1_TASKS,
                                             tasks).items():
    task = lopro.get_task(name, length, **params)
    perms, names = common.reference_perms(task)
    if num_random:
      perms = np.concatenate([perms, random_perms(length, num_random, perms)])
      names += [f'random {i}' for i in range(num_random)]
    start = time.perf_counter()
    grid = lopro.evaluate_grid(perms, task, config=config, seeds=seeds)
    cells = {n: common.mean_std([grid[s][o].success_rate
                                 for s in range(len(seeds))])
             for o, n in enumerate(names)}
    if num_random:
      drawn = {n: c for n, c in cells.items() if n.startswith('random ')}
      best = max(drawn, key=lambda n: drawn[n]['mean'])
      cells['best random'] = dict(
          drawn[best], name=best,
          order=orders.order_to_string(perms[names.index(best)]),
          median=float(np.median([c['mean'] for c in drawn.values()])))
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
  header = '| task | forward | reverse | friendly (if neither) | friendly is |'
  rule = '|---|---|---|---|---|'
  if num_random:
    header += f' best of {num_random} random (order) | their median |'
    rule += '---|---|'
  lines = [header, rule]
  for r in rows:
    line = (f'| {r["row"]} | {common.fmt(r["success"]["forward"])} | '
            f'{common.fmt(r["success"]["reverse"])} | '
            f'{common.fmt(r["success"].get("friendly"))} | '
            f'{r["friendly_is"]} |')
    if num_random:
      best = r['success']['best random']
      line += (f' {common.fmt(best)} (`{best["order"]}`) | '
               f'{100 * best["median"]:.1f} |')
    lines.append(line)
  bars = ('forward', 'reverse', 'friendly') + (
      ('best random',) if num_random else ())
  fig = results.new_figure(figsize=(1 + 0.3 * len(bars) * len(rows), 3.5))
  ax = fig.subplots()
  width = 0.8 / len(bars)
  for i, name in enumerate(bars):
    values = [100 * r['success'][name]['mean'] if name in r['success']
              else np.nan for r in rows]
    errors = [100 * r['success'][name]['std'] if name in r['success']
              else 0 for r in rows]
    offset = (i - (len(bars) - 1) / 2) * width
    ax.bar(np.arange(len(rows)) + offset, values, width, yerr=errors,
           label=name)
  ax.set_xticks(np.arange(len(rows)), [r['row'] for r in rows], rotation=45,
                ha='right')
  ax.set_ylabel('exact-match success (%)')
  ax.set_title(f'Table 1: L={length}, {len(seeds)} seeds')
  ax.legend()
  suffix = f'_random{num_random}' if num_random else ''
  return common.Table(name=f'table1_{preset}_L{length}{suffix}', rows=rows,
                      lines=lines, figure=fig)
