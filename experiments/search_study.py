r"""Replays search methods against full score landscapes, over many seeds.

A landscape (``experiments/landscape.py``) holds the profile score of every
one of the L! orders for one (task, profile seed). Looking scores up in it is
exactly the scorer a real search with that profile seed sees, so each search
here costs milliseconds instead of minutes, and the hit rate of a method is
measured over many search seeds rather than guessed from three.

A hit is a search that ends on the landscape's best order (the lowest score
of all L!). For every landscape the table also gives where the task's
friendly order ranks: when it is not 1st, no search can be blamed for
missing it.

Each search is a plain ask/tell loop over a strategy (``lopro.strategies``)
with the landscape as the scorer, as a real search scores with an
estimator; like ``lopro.search_order`` with a reusable estimator, an order
is counted (and would be profiled) once per search.

Writes ``<output>.json`` and ``<output>.md``.

Example:
  python experiments/search_study.py --landscapes='results/landscapes/*.npz' \
      --seeds=20 --output=results/search_study/search_study_L8
"""

from collections.abc import Callable
import glob
import math
import os
import sys
from typing import Any

from absl import app
from absl import flags
import jax
import numpy as np

from lopro import orders
from lopro import results
from lopro import strategies
from lopro.estimators.base import describe

_LANDSCAPES = flags.DEFINE_string(
    'landscapes', 'results/landscapes/*.npz',
    'Glob of landscape .npz files written by experiments/landscape.py.')
_SEEDS = flags.DEFINE_integer('seeds', 20, 'Search seeds per landscape.')
_OUTPUT = flags.DEFINE_string('output', None,
                              'Output path without extension (.json, .md).',
                              required=True)

# name -> strategy; the baselines get the default search's budget bound,
# more than it spends.
VARIANTS = {
    'paper': strategies.Hierarchical.paper(),
    'paper+insertion': strategies.Hierarchical(num_starts=1),
    'default (3 starts)': strategies.Hierarchical(),
    'random': strategies.RandomSearch(),
    'evolution': strategies.Evolution(),
}


def length_of(num_orders: int) -> int | None:
  """L with L! == num_orders, or None."""
  return next((n for n in range(1, 13) if math.factorial(n) == num_orders),
              None)


def load_landscape(path: str) -> tuple[np.ndarray, np.ndarray | None]:
  """(scores float[L!] in all_orders order, friendly order or None)."""
  with np.load(path) as data:
    scores = np.asarray(data['scores'], np.float64)
    friendly = data['friendly'] if 'friendly' in data else None
  if length_of(scores.size) is None:
    raise ValueError(f'{path}: {scores.size} scores is not L! for any L')
  if friendly is not None and friendly.size != length_of(scores.size):
    friendly = None
  return scores, friendly


def table_scorer(scores: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
  """A scorer ``perms int[N, L] -> float[N]`` that looks every order up in a
  full landscape (non-finite scores as +inf)."""
  scores = np.where(np.isfinite(scores), scores, np.inf)
  return lambda perms: scores[orders.order_index(perms)]


def replay(strategy: strategies.Strategy,
           scorer: Callable[[np.ndarray], np.ndarray], length: int,
           seed: int) -> tuple[np.ndarray, int]:
  """Runs one search by ask/tell; returns (its best order, orders scored).

  The strategy starts from ``jax.random.key(seed)``, as in
  ``lopro.search_order(seed=seed)``. Orders asked for again are counted
  once, as the driver reuses a reusable estimator's scores.
  """
  state = strategy.init(jax.random.key(seed), length)
  seen = set()
  while len(perms := strategy.ask(state)):
    seen.update(row.tobytes() for row in perms)
    state = strategy.tell(state, perms, scorer(perms))
  order, _ = strategy.best(state)
  return np.asarray(order), len(seen)


def study(path: str, num_seeds: int,
          variants: dict[str, strategies.Strategy]) -> dict[str, Any]:
  """Hit rates and spend of every variant on one landscape."""
  scores, friendly = load_landscape(path)
  length = length_of(scores.size)
  ranking = np.argsort(scores, kind='stable')
  rank = np.empty_like(ranking)
  rank[ranking] = np.arange(ranking.size)
  best = int(ranking[0])
  all_perms = orders.all_orders(length)
  out = dict(landscape=os.path.basename(path), length=length,
             best_order=orders.order_to_string(all_perms[best]),
             best_score=float(scores[best]), variants={})
  if friendly is not None:
    index = orders.order_index(friendly)
    out.update(friendly_order=orders.order_to_string(friendly),
               friendly_rank=int(rank[index]) + 1,
               friendly_score=float(scores[index]))
  scorer = table_scorer(scores)
  for name, strategy in variants.items():
    ends, spent = [], []
    for seed in range(num_seeds):
      order, num_profiled = replay(strategy, scorer, length, seed)
      ends.append(int(rank[orders.order_index(order)]) + 1)
      spent.append(num_profiled)
    out['variants'][name] = dict(
        hits=sum(e == 1 for e in ends), seeds=num_seeds, end_ranks=ends,
        median_end_rank=float(np.median(ends)), worst_end_rank=max(ends),
        mean_profiled=float(np.mean(spent)))
  return out


def to_markdown(rows: list[dict[str, Any]], names: list[str],
                command: str) -> str:
  lines = ['Hits: searches (one per seed) that end on the landscape\'s best '
           'order out of all L!; in brackets the mean order-profiles spent.',
           '', '| landscape | best order | friendly\'s rank | '
           + ' | '.join(names) + ' |', '|---|---|---|'
           + '---|' * len(names)]
  totals = {n: [0, 0] for n in names}
  for row in rows:
    cells = []
    for n in names:
      v = row['variants'][n]
      totals[n][0] += v['hits']
      totals[n][1] += v['seeds']
      cells.append(f'{v["hits"]}/{v["seeds"]} ({v["mean_profiled"]:.0f})')
    lines.append(f'| {row["landscape"]} | `{row["best_order"]}` | '
                 f'{row.get("friendly_rank", "-")} | ' + ' | '.join(cells)
                 + ' |')
  lines.append('| **all** | | | ' + ' | '.join(
      f'**{h}/{n}**' for h, n in totals.values()) + ' |')
  lines.append(f'\nCommand: `{command}`')
  return '\n'.join(lines) + '\n'


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  paths = sorted(glob.glob(_LANDSCAPES.value))
  if not paths:
    raise app.UsageError(f'no landscape matches {_LANDSCAPES.value!r}')
  rows = []
  for path in paths:
    rows.append(study(path, _SEEDS.value, VARIANTS))
    print(os.path.basename(path), {n: v['hits'] for n, v in
                                   rows[-1]['variants'].items()}, flush=True)
  command = ' '.join(['python experiments/search_study.py'] + sys.argv[1:])
  results.atomic_write_json(_OUTPUT.value + '.json', dict(
      command=command, variants={n: describe(s) for n, s in VARIANTS.items()},
      rows=rows))
  text = to_markdown(rows, list(VARIANTS), command)
  results.atomic_write_bytes(_OUTPUT.value + '.md', text.encode())
  print(text)
  return 0


if __name__ == '__main__':
  sys.exit(app.run(main))
