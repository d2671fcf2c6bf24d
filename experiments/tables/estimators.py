"""The estimators compared: how each ranks one pool of orders, at what cost.

For every task row and seed, one pool (the friendly order, its reverse and
random orders) is profiled by every estimator; the table gives the rank of
the friendly order under each, the cost (order-steps, seconds) and the
Spearman agreement of their rankings.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any, TYPE_CHECKING

from absl import logging
import jax
import numpy as np

import lopro
from experiments import methods
from experiments.tables import common
from lopro import orders
from lopro import results
from lopro.estimators.base import describe

if TYPE_CHECKING:  # imported when drawing (lopro.results.new_figure)
  from matplotlib import figure

# name -> the estimator with its defaults.
ESTIMATORS = {
    'independent': lopro.Independent(),
    'mixture': lopro.Mixture(),
    'mixture_no_slot': lopro.Mixture(slot_embedding=False),
    'halving': lopro.Halving(),
    'universal': lopro.Universal(),
}
# The settings of a MethodSpec that a study's estimators take.
_MODEL = ('steps', 'batch_size', 'width', 'layers')
_HELDOUT = ('num_checkpoints', 'num_heldout')


def make_estimators(names: list[str], spec: methods.MethodSpec
                    ) -> dict[str, Any]:
  """name -> estimator of ``names`` (``ESTIMATORS``), each with the spec's
  model settings (steps, batch size, width, layers) and, for the mixture
  and universal ones, its held-out settings; unset settings keep each
  estimator's own.

  Raises:
    ValueError: an unknown name.
  """
  unknown = sorted(set(names) - set(ESTIMATORS))
  if unknown:
    raise ValueError(f'--estimators: unknown {unknown}; known: '
                     f'{list(ESTIMATORS)}')
  out = {}
  for name in names:
    estimator = ESTIMATORS[name]
    fields = {f.name for f in dataclasses.fields(estimator)}
    taken = _MODEL + tuple(f for f in _HELDOUT if f in fields)
    own = methods.MethodSpec(**{f: getattr(spec, f) for f in taken})
    out[name] = methods.configure_estimator(estimator, own)
  return out


def pool(task: lopro.Task, seed: int, num_random: int) -> np.ndarray:
  """int[1 + num_random, L]: friendly, its reverse, then distinct random
  orders drawn from ``key(seed + 2000)``."""
  friendly = task.friendly_order
  drawn = orders.sample_orders(jax.random.key(seed + 2000), 512, task.length)
  perms, _ = orders.unique_orders(np.concatenate(
      [friendly[None], friendly[::-1][None], drawn]))
  return perms[:2 + num_random - 1]


def describe_estimator(estimator: Any) -> str:
  """E.g. 'Mixture (no slot), 1000 steps of batch 128'."""
  slot = getattr(estimator, 'slot_embedding', True)
  return (f'{type(estimator).__name__}{"" if slot else " (no slot)"}, '
          f'{estimator.train.steps} steps of batch '
          f'{estimator.train.batch_size}')


def build(seeds: list[int], length: int, estimators: dict[str, Any],
          tasks: list[str] | None = None, num_random: int = 127
          ) -> common.Table:
  """Profiles one pool per (task, seed) with every estimator.

  Args:
    seeds: profile seeds (and pool draws).
    length: L.
    estimators: name -> estimator (``make_estimators``).
    tasks: rows to run (``common.ESTIMATOR_TASKS``); all when empty.
    num_random: the pool holds friendly, reverse and num_random - 1 random
      orders.

  Returns:
    The table ``estimators_L<L>``; ``seconds`` of a profile is its wall
    time, compiles (and a universal model's training) included.
  """
  rows = []
  for row, (name, params) in common.selected(common.ESTIMATOR_TASKS,
                                             tasks).items():
    task = lopro.get_task(name, length, **params)
    for seed in seeds:
      perms = pool(task, seed, num_random)
      cells, ranks = {}, {}
      for est, estimator in estimators.items():
        start = time.perf_counter()
        prof = lopro.profile_orders(perms, task, estimator=estimator,
                                    seed=seed)
        seconds = time.perf_counter() - start
        ranks[est] = common.positions(prof.ranking)
        cells[est] = dict(
            friendly_rank=prof.rank_of(task.friendly_order) + 1,
            reverse_rank=prof.rank_of(task.friendly_order[::-1]) + 1,
            top1=orders.order_to_string(prof.best),
            order_steps=int(prof.timings['order_steps']),
            run_s=prof.timings['run_s'], total_s=seconds)
        logging.info('estimators %s L=%d seed %d %s: friendly rank %d, '
                     '%d order-steps, %.0f s', row, task.length, seed, est,
                     cells[est]['friendly_rank'], cells[est]['order_steps'],
                     seconds)
      names = list(cells)
      # Imported here: scipy.stats takes about a second to import.
      from scipy import stats  # pylint: disable=g-import-not-at-top
      agreement = {f'{a}~{b}': float(stats.spearmanr(ranks[a], ranks[b]
                                                     ).statistic)
                   for i, a in enumerate(names) for b in names[i + 1:]}
      both = {'halving', 'independent'} <= set(cells)
      rows.append(dict(row=row, length=task.length, seed=seed,
                       num_orders=int(perms.shape[0]), estimators=cells,
                       spearman=agreement,
                       halving_same_top1=both and cells['halving']['top1']
                       == cells['independent']['top1'] or None))
  described = '; '.join(f'{n}: {describe_estimator(e)}'
                        for n, e in estimators.items())
  header = (f'Estimators (`experiments/tables/estimators.py`): {described}. '
            f'Seeds {seeds}; device {jax.devices()[0].device_kind}.\n')
  return common.Table(
      name=f'estimators_L{length}', rows=rows,
      lines=markdown(rows, num_random), figure=plot(rows, length),
      header=header,
      extra=dict(estimators={n: describe(e) for n, e in estimators.items()}))


def markdown(rows: list[dict[str, Any]], num_random: int) -> list[str]:
  """Friendly ranks, costs and agreements."""
  names = list(rows[0]['estimators'])
  lines = ['Rank of the friendly order (1 = best) among friendly + reverse + '
           f'{num_random - 1} random orders:', '',
           '| task | L | seed | ' + ' | '.join(names) + ' |',
           '|---|---|---|' + '---|' * len(names)]
  for r in rows:
    lines.append(f'| {r["row"]} | {r["length"]} | {r["seed"]} | ' + ' | '.join(
        str(r['estimators'][n]['friendly_rank']) for n in names) + ' |')
  lines += ['', 'Cost (mean over rows): order-steps (training steps summed '
            'over models; a mixture or universal step trains one model on a '
            'batch of 128, an independent one each order\'s model on 32) and '
            'wall time of one profile, compile (and a universal model\'s '
            'training) included:', '',
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
  return lines


def plot(rows: list[dict[str, Any]], length: int) -> figure.Figure:
  """Friendly ranks per row, and seconds against order-steps."""
  names = list(rows[0]['estimators'])
  fig = results.new_figure(figsize=(11, 4))
  ax, bx = fig.subplots(1, 2)
  width = 0.8 / len(names)
  labels = [f'{r["row"]} s{r["seed"]}' for r in rows]
  for i, n in enumerate(names):
    ax.bar(np.arange(len(rows)) + (i - (len(names) - 1) / 2) * width,
           [r['estimators'][n]['friendly_rank'] for r in rows], width,
           label=n)
  ax.set_yscale('log')
  ax.set_xticks(np.arange(len(rows)), labels, rotation=45, ha='right')
  ax.set_ylabel('rank of the friendly order (log)')
  ax.set_title(f'L={length}: lower is better')
  ax.legend(fontsize=8)
  for n in names:
    bx.scatter([max(r['estimators'][n]['order_steps'], 1) for r in rows],
               [r['estimators'][n]['total_s'] for r in rows], label=n)
  bx.set_xscale('log')
  bx.set_xlabel('order-steps per profile (log)')
  bx.set_ylabel('seconds per profile')
  bx.legend(fontsize=8)
  fig.tight_layout()
  return fig
