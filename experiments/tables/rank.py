"""Rank validity: does a friendlier profile score mean a higher success?

For relu and square19: profile the friendly order and random orders with
one estimator, evaluate the best by profile score, and correlate profile
score with success (Spearman, Kendall).
"""

from __future__ import annotations

from typing import Any

from absl import logging
import jax
from matplotlib import figure
import numpy as np
from scipy import stats

import lopro
from experiments.tables import common
from lopro import orders


def build(config: lopro.EvalConfig, seed: int, length: int, preset: str,
          estimator: Any, tasks: list[str] | None = None,
          num_random: int = 127, num_evaluated: int = 32,
          name_suffix: str = '') -> common.Table:
  """Profiles friendly + ``num_random`` random orders, evaluates the best.

  Args:
    config: the evaluation model and its training.
    seed: the seed of the profile and the evaluations (the random orders
      are drawn from ``key(seed + 1000)``).
    length: L.
    preset: the preset's name, for the table's name.
    estimator: the profile's estimator.
    tasks: rows to run (``common.RANK_TASKS``); all when empty.
    num_random: random orders profiled besides the friendly one.
    num_evaluated: the best orders by profile score that are evaluated.
    name_suffix: appended to the table's name (e.g. the estimator's).

  Returns:
    The table ``rank_<preset>_L<L><name_suffix>``.
  """
  rows = []
  for row, (name, params) in common.selected(common.RANK_TASKS,
                                             tasks).items():
    task = lopro.get_task(name, length, **params)
    pool = orders.sample_orders(jax.random.key(seed + 1000), 4 * num_random,
                                task.length)
    perms, _ = orders.unique_orders(np.concatenate(
        [task.friendly_order[None], pool]))
    perms = perms[:1 + num_random]
    prof = lopro.profile_orders(perms, task, estimator=estimator, seed=seed)
    top = prof.ranking[:num_evaluated]
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
  fig = figure.Figure(figsize=(4.5 * len(rows), 3.8))
  axes = fig.subplots(1, len(rows), squeeze=False)
  for ax, r in zip(axes[0], rows):
    ax.scatter(r['scores'], 100 * np.array(r['success']))
    ax.set_xlabel('profile score (lower = friendlier)')
    ax.set_ylabel('success (%)')
    ax.set_title(f'{r["row"]} L={length}: Spearman '
                 f'{r["spearman"]:.2f}, n={r["num_evaluated"]}')
  fig.tight_layout()
  return common.Table(name=f'rank_{preset}_L{length}{name_suffix}', rows=rows,
                      lines=lines, figure=fig)
