r"""Where the default search ends on prod, and how its profiles rank LSD-first.

For each search directory written by ``experiments/discover.py --task=prod``
(``result.json`` and ``history.npz``), prints a Markdown row: the order
found, its Kendall distance to LSD-first (the friendly order, stored order
reversed), and, in the search's last profiling run that scored LSD-first,
LSD-first's score and rank against the best score of that run.

Usage:
  python results/multiplication/probes/search_report.py \
      results/multiplication/search/prod_L6_seed0 ...
"""

import json
import os
import sys

import numpy as np

import lopro
from lopro import orders


def row(directory: str) -> str:
  with open(os.path.join(directory, 'result.json')) as f:
    meta = json.load(f)
  result = lopro.SearchResult.load(directory)
  lsd = orders.reverse(meta['length'])
  last = None
  for run in result.history:
    scores = np.asarray(run.scores)
    hits = np.flatnonzero((np.asarray(run.candidates) == lsd).all(axis=1))
    if hits.size:
      score = float(scores[hits[0]])
      last = (run.name, score, int((scores < score).sum()) + 1, len(scores),
              float(scores.min()))
  seen = ('not profiled' if last is None else
          f'`{last[0]}`: {last[1]:.4f}, rank {last[2]} of {last[3]} '
          f'(best {last[4]:.4f})')
  return (f'| {meta["length"]} | {meta["seed"]} | `{meta["order_string"]}` | '
          f'{meta["friendly_match"]} | {meta["kendall_to_friendly"]} | '
          f'{meta["score"]:.4f} | {seen} | {meta["num_profiled"]} | '
          f'{meta["wall_time"]:.0f} |')


def main(directories: list[str]) -> None:
  print('| L | seed | order found | vs LSD-first | Kendall distance | its score '
        '| LSD-first in the last run that scored it | order-profiles | s |')
  print('|---:|---:|---|---|---:|---:|---|---:|---:|')
  for directory in directories:
    print(row(directory))


if __name__ == '__main__':
  main(sys.argv[1:])
