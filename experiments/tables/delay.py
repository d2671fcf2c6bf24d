"""Delay systems: which valid order of a multi-variate recurrence trains best?

For each system: every hand-designed order (``tasks.delay.
hand_designed_orders``), ``num_random`` random topological sorts of its
dependency graph, and the order a default search from random init finds
are trained with the evaluation model and decoded (exact-match success);
the hand-designed and random orders are also profiled with one model per
order, and the profile's ranking is compared with success (Spearman). The
paper's claim holds for a system when the searched order succeeds at least
as well as the best hand-designed one; it is not tested (None) when no
order succeeds at all.

Systems (``SYSTEMS``; slot ``k n + t`` is ``s^k_t``):
  m2        lopro's default: s0_t <- s0_{t-1}, s1_{t-2};
            s1_t <- s1_{t-1}, s0_{t-1};
  m3_mixed  three variables with delays 1 to 3 in a cycle of couplings;
  m2_lagged s0 drives itself; s1 reads itself and s0 three steps back, so
            variable-major and blocks of three steps are valid too and
            time-major is not the obvious choice.
"""

from __future__ import annotations

import json
import os
import time
from typing import Any, Callable

from absl import logging
import jax
import numpy as np

import lopro
from experiments import methods
from experiments.tables import common
from lopro import orders
from lopro import results
from lopro.estimators.base import describe
from lopro.tasks import delay as delay_tasks

SYSTEMS = {
    'm2': ((((0, 1), (1, 2)), ((1, 1), (0, 1))), 6),
    'm3_mixed': ((((0, 1), (2, 2)), ((1, 1), (0, 1)), ((2, 1), (1, 3))), 4),
    'm2_lagged': ((((0, 1),), ((1, 1), (0, 3))), 6),
}


def system_task(name: str) -> lopro.Task:
  """The delay task of a ``SYSTEMS`` entry (L = m n)."""
  parents, n = SYSTEMS[name]
  return lopro.get_task('delay', len(parents) * n, parents=parents)


def candidates(task: lopro.Task, num_random: int, seed: int
               ) -> tuple[np.ndarray, list[str]]:
  """The hand-designed orders, then distinct random topological sorts."""
  parents = task.params['parents']
  named = delay_tasks.hand_designed_orders(parents,
                                           task.length // len(parents))
  sorts = orders.topological_sorts(task, num_random + len(named),
                                   key=jax.random.key(seed + 3000))
  known = {tuple(v.tolist()) for v in named.values()}
  sorts = [s for s in sorts if tuple(s.tolist()) not in known][:num_random]
  perms = np.stack(list(named.values()) + sorts)
  return perms, list(named) + [f'random {i}' for i in range(len(sorts))]


def run_system(name: str, config: lopro.EvalConfig, seed: int,
               num_random: int, profiler: Any, spec: methods.MethodSpec,
               stages: dict[str, Any] | None = None,
               keep: Callable[[dict[str, Any]], None] | None = None,
               eval_chunk: int = 4,
               shared: dict[str, Any] | None = None) -> dict[str, Any]:
  """One system's row: successes, profile scores and the searched order.

  The row is built in stages, each kept in ``stages`` as it finishes (the
  search; the evaluations, ``eval_chunk`` orders a time; the profile) and
  handed to ``keep``, so an interrupted row resumes where it stopped: at
  L = 12 on 2 CPU cores a row costs hours, more than one sitting.
  ``shared`` holds evaluations (``success``: order -> rate) and the
  profile (``profile_scores``, of ``candidates``' orders) that another
  table made with the same evaluation settings; they are used, not redone.
  """
  stages = {} if stages is None else stages
  if shared:
    stages.setdefault('success', {})
    for order, rate in shared.get('success', {}).items():
      stages['success'].setdefault(order, rate)
    if 'profile_scores' in shared:
      stages.setdefault('profile_scores', shared['profile_scores'])
  keep = keep or (lambda _: None)
  task = system_task(name)
  perms, names = candidates(task, num_random, seed)
  method = methods.build_method(task.length, spec, task.depends_on)
  if 'search' not in stages:
    start = time.perf_counter()
    found = lopro.search_order(task, strategy=method.strategy,
                               estimator=method.estimator, seed=seed)
    stages['search'] = dict(
        order=orders.order_to_string(found.order),
        num_profiled=found.num_profiled,
        seconds=time.perf_counter() - start)
    keep(stages)
  searched = stages['search']['order']
  strings = [orders.order_to_string(p) for p in perms]
  strings_all = strings + ([] if searched in strings else [searched])
  success = stages.setdefault('success', {})
  # The searched order first: an interrupted row already says whether the
  # search beat the hand-designed orders.
  todo = list(dict.fromkeys(s for s in [searched] + strings
                            if s not in success))
  for start in range(0, len(todo), eval_chunk):
    chunk = todo[start:start + eval_chunk]
    # evaluate_orders is silent: say what the next minutes are spent on.
    # (success may also hold the twin table's other searched order.)
    done = sum(s in success for s in strings_all)
    logging.info('delay %s seed %d: evaluating orders %d-%d of %d', name,
                 seed, done + 1, done + len(chunk), len(strings_all))
    evals = lopro.evaluate_orders(
        np.stack([orders.order_from_string(s) for s in chunk]), task,
        config=config, seed=seed)
    success.update({s: float(e.success_rate) for s, e in zip(chunk, evals)})
    keep(stages)
  if 'profile_scores' not in stages:
    prof = lopro.profile_orders(perms, task, estimator=profiler, seed=seed)
    stages['profile_scores'] = [float(v) for v in prof.scores]
    keep(stages)
  scores = np.array(stages['profile_scores'])
  rate = np.array([success[s] for s in strings])
  if np.ptp(rate) > 0 and np.ptp(scores) > 0:
    # Imported here: scipy.stats takes about a second to import.
    from scipy import stats  # pylint: disable=g-import-not-at-top
    spearman = stats.spearmanr(scores, rate)
    rho, p_value = float(spearman.statistic), float(spearman.pvalue)
  else:  # undefined: every order succeeds (or scores) alike
    rho = p_value = None
  hand = [i for i, n in enumerate(names) if not n.startswith('random')]
  best_hand = max(rate[i] for i in hand)
  tested = max(success.values()) > 0
  return dict(
      system=name, parents=[[list(p) for p in pairs]
                            for pairs in SYSTEMS[name][0]],
      length=task.length, seed=seed,
      orders=[dict(name=n, order=s, success=float(r), profile_score=float(p))
              for n, s, r, p in zip(names, strings, rate, scores)],
      searched=dict(order=searched, success=success[searched],
                    is_topological=orders.is_topological(
                        orders.order_from_string(searched), task),
                    num_profiled=stages['search']['num_profiled'],
                    seconds=stages['search']['seconds'],
                    method=method.describe()),
      spearman=rho, spearman_p=p_value, best_hand=float(best_hand),
      claim_holds=bool(success[searched] >= best_hand) if tested else None)


def _table_name(spec: methods.MethodSpec) -> str:
  return 'delay_systems' + ('_topological' if spec.topological else '')


def shared_evaluations(path: str, eval_config: dict[str, Any]
                       ) -> dict[str, dict[str, Any]]:
  """Row key -> the evaluations and profile kept in the cell file ``path``
  (finished rows and the stages of unfinished ones), if it was made with
  the evaluation settings ``eval_config`` (a store's fingerprint part);
  {} if not, or if there is no such file.

  The delay table and its --topological twin evaluate the same candidates
  with the same model and differ only in the search, so each reuses what
  the other has trained (the file is read, never written).
  """
  if not os.path.exists(path):
    return {}
  with open(path) as f:
    saved = json.load(f)
  if saved['fingerprint'].get('eval_config') != eval_config:
    return {}
  found = {}
  for key, cell in saved['cells'].items():
    if key.endswith(common.UNFINISHED):
      found[key[:-len(common.UNFINISHED)]] = {
          k: cell[k] for k in ('success', 'profile_scores') if k in cell}
    else:
      success = {o['order']: o['success'] for o in cell['orders']}
      success[cell['searched']['order']] = cell['searched']['success']
      found[key] = dict(success=success, profile_scores=[
          o['profile_score'] for o in cell['orders']])
  return found


def _claim_text(row: dict[str, Any]) -> str:
  s = row['searched']
  text = (f'The searched order is {"" if s["is_topological"] else "not "}a '
          'topological sort; the claim (searched >= best hand-designed) ')
  if row['claim_holds'] is None:
    return text + 'is not tested: no order succeeds at all.'
  return text + ('holds.' if row['claim_holds'] else 'does not hold.')


def _spearman_text(row: dict[str, Any]) -> str:
  if row['spearman'] is None:
    return 'undefined (every order alike)'
  return (f'{row["spearman"]:.3f} (p {row["spearman_p"]:.2g}; negative is '
          'the good sign)')


def build(config: lopro.EvalConfig, seeds: list[int], systems: list[str],
          num_random: int = 16, profiler: Any = None,
          spec: methods.MethodSpec = methods.MethodSpec(),
          output_dir: str | None = None,
          eval_chunk: int = 4) -> common.Table:
  """Runs every (system, seed) and lays out the table (see the module).

  Args:
    config: the evaluation run.
    seeds: one row per system and seed.
    systems: names in ``SYSTEMS``.
    num_random: random topological sorts per system.
    profiler: the estimator whose ranking is compared with success
      (default one model per order, ``lopro.Independent()``).
    spec: the search method (``methods.build_method`` at each L).
    output_dir: where finished rows, and the finished stages of an
      unfinished one, are kept (``delay_systems.cells.json``, or
      ``delay_systems_topological.cells.json`` for a search kept to valid
      orders; resumed by the same call); None keeps none. Each of the two
      reuses the other's evaluations and profiles there.
    eval_chunk: orders evaluated in one run (and kept) at a time.

  Raises:
    TableError: an unknown system, kept rows made with other settings, or
      eval_chunk < 1.
  """
  profiler = lopro.Independent() if profiler is None else profiler
  if eval_chunk < 1:
    raise common.TableError(f'eval_chunk must be >= 1, got {eval_chunk}')
  unknown = sorted(set(systems) - set(SYSTEMS))
  if unknown:
    raise common.TableError(f'unknown systems {unknown}; known: '
                            f'{list(SYSTEMS)}')
  store = None
  if output_dir is not None:
    # A search over topological sorts depends on the system's graph.
    built = {(name if spec.topological else str(task.length)):
             methods.build_method(task.length, spec, task.depends_on)
             for name, task in ((n, system_task(n)) for n in systems)}
    fingerprint = dict(
        eval_config=dict(eval=common.eval_fingerprint(config),
                         profiler=describe(profiler), num_random=num_random),
        methods={key: common.method_fingerprint(m.strategy, m.estimator)
                 for key, m in built.items()})
    store = common.CellStore(os.path.join(output_dir, _table_name(spec)),
                             fingerprint)
    # Read per row: the twin may have gained evaluations since.
    twin = os.path.join(output_dir, ('delay_systems' if spec.topological
                                     else 'delay_systems_topological')
                        + '.cells.json')
  rows = []
  for name in systems:
    for seed in seeds:
      key = f'{name} seed={seed}'
      row = store.get(key) if store else None
      if row is None:
        partial = key + common.UNFINISHED
        keep = (lambda stages, at=partial: store.put(at, stages)
                ) if store else None
        shared = shared_evaluations(
            twin, store.fingerprint['eval_config']).get(key) if store else None
        row = run_system(name, config, seed, num_random, profiler, spec,
                         stages=store.get(partial) if store else None,
                         keep=keep, eval_chunk=eval_chunk, shared=shared)
        if store:
          store.put(key, row)
          store.drop(partial)
      rows.append(row)
  lines = []
  for r in rows:
    lines += [f'### {r["system"]}, seed {r["seed"]} (L={r["length"]}, '
              f'parents {r["parents"]})', '',
              '| order | success % | profile score |', '|---|---|---|']
    for o in r['orders']:
      if not o['name'].startswith('random'):
        lines.append(f'| {o["name"]} `{o["order"]}` | '
                     f'{100 * o["success"]:.1f} | {o["profile_score"]:.4f} |')
    random_rates = [o['success'] for o in r['orders']
                    if o['name'].startswith('random')]
    if random_rates:
      lines.append(f'| {len(random_rates)} random valid orders (min / median '
                   f'/ max) | {100 * min(random_rates):.1f} / '
                   f'{100 * np.median(random_rates):.1f} / '
                   f'{100 * max(random_rates):.1f} | |')
    s = r['searched']
    lines += [f'| searched ({s["seconds"]:.0f} s) `{s["order"]}` | '
              f'{100 * s["success"]:.1f} | |', '',
              f'Searched with {s["method"]}. Profile score vs success, '
              'hand-designed and random orders: Spearman '
              f'{_spearman_text(r)}. {_claim_text(r)}', '']
  fig = results.new_figure(figsize=(4.5 * len(rows), 3.8))
  axes = fig.subplots(1, len(rows), squeeze=False)
  for ax, r in zip(axes[0], rows):
    score = [o['profile_score'] for o in r['orders']]
    rate = [100 * o['success'] for o in r['orders']]
    hand = [not o['name'].startswith('random') for o in r['orders']]
    ax.scatter(np.array(score)[~np.array(hand)], np.array(rate)[
        ~np.array(hand)], c='0.6', label='random valid')
    ax.scatter(np.array(score)[hand], np.array(rate)[hand], c='C1',
               label='hand-designed')
    ax.axhline(100 * r['searched']['success'], color='C2', ls='--',
               label='searched')
    ax.set_xlabel('profile score (lower = friendlier)')
    ax.set_ylabel('success (%)')
    ax.set_title(f'{r["system"]}, seed {r["seed"]}')
    ax.legend(fontsize=7)
  fig.tight_layout()
  return common.Table(name=_table_name(spec), rows=rows, lines=lines,
                      figure=fig)
