"""Rank validity: does a friendlier profile score mean a higher success?

For relu and square19 (or any table-1 task named): profile the friendly
order and random orders with one estimator, evaluate the best by profile
score, and correlate profile score with success (Spearman, Kendall). With
no order evaluated, the table is the friendly order's profile rank alone
(e.g. least-significant-digit-first multiplication among random orders,
where the evaluation model cannot learn the task on a CPU).
"""

from __future__ import annotations

from typing import Any

from absl import logging
import jax
import numpy as np

import lopro
from experiments.tables import common
from experiments.tables import estimators
from lopro import orders
from lopro import results


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
    tasks: rows to run: any of ``common.TABLE1_TASKS``;
      ``common.RANK_TASKS`` when empty.
    num_random: random orders profiled besides the friendly one.
    num_evaluated: the best orders by profile score that are evaluated;
      0 profiles only (no correlation).
    name_suffix: appended to the table's name (e.g. the estimator's).

  Returns:
    The table ``rank_<preset>_L<L><name_suffix>``.
  """
  if isinstance(num_evaluated, bool) or not isinstance(
      num_evaluated, int) or num_evaluated < 0:
    raise common.TableError(f'num_evaluated must be an int >= 0, got '
                            f'{num_evaluated!r}')
  rows = []
  selected = (common.selected(common.TABLE1_TASKS, tasks) if tasks
              else common.RANK_TASKS)
  for row, (name, params) in selected.items():
    task = lopro.get_task(name, length, **params)
    pool = orders.sample_orders(jax.random.key(seed + 1000), 4 * num_random,
                                task.length)
    perms, _ = orders.unique_orders(np.concatenate(
        [task.friendly_order[None], pool]))
    perms = perms[:1 + num_random]
    prof = lopro.profile_orders(perms, task, estimator=estimator, seed=seed)
    top = prof.ranking[:num_evaluated]
    result = dict(
        row=row, num_profiled=int(perms.shape[0]), num_evaluated=len(top),
        friendly_profile_rank=prof.rank_of(task.friendly_order) + 1,
        friendly_score=float(prof.scores[0]),
        all_scores=prof.scores.tolist(),
        all_orders=[orders.order_to_string(p) for p in perms],
        spearman=None, spearman_p=None,
        kendall=None, kendall_p=None)
    if len(top):
      evals = lopro.evaluate_orders(perms[top], task, config=config,
                                    seed=seed)
      score = prof.scores[top]
      success = np.array([e.success_rate for e in evals])
      # Imported here: scipy.stats takes about a second to import.
      from scipy import stats  # pylint: disable=g-import-not-at-top
      spearman = stats.spearmanr(score, success)
      kendall = stats.kendalltau(score, success)
      result.update(
          spearman=float(spearman.statistic),
          spearman_p=float(spearman.pvalue),
          kendall=float(kendall.statistic), kendall_p=float(kendall.pvalue),
          scores=score.tolist(), success=success.tolist(),
          orders=[orders.order_to_string(p) for p in perms[top]])
      logging.info('rank %s: Spearman %.3f (p %.2g), n=%d', row,
                   result['spearman'], result['spearman_p'], len(top))
    logging.info('rank %s: friendly order profiled %d of %d', row,
                 result['friendly_profile_rank'], result['num_profiled'])
    rows.append(result)
  lines = ['| task | orders profiled | evaluated (n) | friendly\'s profile '
           'rank | Spearman (p) | Kendall (p) |', '|---|---|---|---|---|---|']
  for r in rows:
    lines.append(f'| {r["row"]} | {r["num_profiled"]} | {r["num_evaluated"]}'
                 f' | {r["friendly_profile_rank"]} | {_stat(r, "spearman")} '
                 f'| {_stat(r, "kendall")} |')
  lines.append('\nA negative correlation is the good sign: lower profile '
               'score (friendlier), higher success.')
  fig = results.new_figure(figsize=(4.5 * len(rows), 3.8))
  axes = fig.subplots(1, len(rows), squeeze=False)
  for ax, r in zip(axes[0], rows):
    if r['num_evaluated']:
      ax.scatter(r['scores'], 100 * np.array(r['success']))
      ax.set_xlabel('profile score (lower = friendlier)')
      ax.set_ylabel('success (%)')
      ax.set_title(f'{r["row"]} L={length}: Spearman '
                   f'{r["spearman"]:.2f}, n={r["num_evaluated"]}')
    else:
      finite = np.array(r['all_scores'])
      ax.hist(finite[np.isfinite(finite)], bins=30, color='0.6')
      ax.axvline(r['friendly_score'], color='C0', lw=2, label='friendly')
      ax.legend()
      ax.set_xlabel('profile score (lower = friendlier)')
      ax.set_ylabel('orders')
      ax.set_title(f'{r["row"]} L={length}: friendly ranks '
                   f'{r["friendly_profile_rank"]}/{r["num_profiled"]}')
  fig.tight_layout()
  evaluated = (f'the best {num_evaluated} by score evaluated with preset '
               f'`{preset}` ({config.train.steps} steps) on '
               f'{config.num_heldout} held-out examples' if num_evaluated
               else 'no order evaluated')
  header = (f'Profile (`experiments/tables/rank.py`): '
            f'{estimators.describe_estimator(estimator)}, seed {seed}, the '
            f'friendly order and {num_random} random orders (drawn from '
            f'seed {seed + 1000}); {evaluated}. Device '
            f'{jax.devices()[0].device_kind}.\n')
  return common.Table(name=f'rank_{preset}_L{length}{name_suffix}', rows=rows,
                      lines=lines, figure=fig, header=header)


def _stat(row: dict[str, Any], name: str) -> str:
  """'value (p)' of a correlation, or '—' when nothing was evaluated."""
  if row[name] is None:
    return '—'
  return f'{row[name]:.3f} ({row[name + "_p"]:.2g})'
