r"""Checks a discovery on a generated file against the generator's chain.

Found: the search's order is the chain, or the chain with its first slot
(an input copy, free to go anywhere) moved. Round trip: the reordered file,
read back by the same reader, holds the source's targets permuted by that
order, line by line.

  python results/own_data/check.py --data=/tmp/clipsum.txt \
      --chain="3 0 6 ..." --result=DIR/result.json --reordered=OUT.txt
"""

import json
import os
import sys

from absl import app
from absl import flags
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from lopro import orders
from lopro.tasks import files
# pylint: enable=g-import-not-at-top,wrong-import-position

_DATA = flags.DEFINE_string('data', None, 'The generated file.',
                            required=True)
_CHAIN = flags.DEFINE_string('chain', None, 'The chain generate.py printed.',
                             required=True)
_RESULT = flags.DEFINE_string('result', None, "discover.py's result.json.",
                              required=True)
_REORDERED = flags.DEFINE_string('reordered', None,
                                 'The --write_reordered file.', required=True)


def equivalents(chain: np.ndarray) -> set[tuple[int, ...]]:
  """The chain with its first slot at every position."""
  rest = list(chain[1:])
  return {tuple(rest[:i] + [int(chain[0])] + rest[i:])
          for i in range(len(chain))}


def main(argv):
  del argv
  chain = orders.order_from_string(_CHAIN.value)
  with open(_RESULT.value) as f:
    order = np.asarray(json.load(f)['order'])
  if tuple(order) == tuple(chain):
    verdict = 'exact'
  elif tuple(order) in equivalents(chain):
    verdict = 'equivalent'
  else:
    verdict = 'miss'
  source = files.load_dataset(_DATA.value)
  back = files.load_dataset(_REORDERED.value)
  words = np.asarray(source.target_vocab)[source.targets][:, order]
  round_trip = bool(np.array_equal(
      words, np.asarray(back.target_vocab)[back.targets]))
  print(f'found: {verdict} (order {orders.order_to_string(order)}, chain '
        f'{orders.order_to_string(chain)}); reordered file reads back '
        f'permuted: {round_trip} ({len(back.targets)} lines)')
  if verdict == 'miss' or not round_trip:
    sys.exit(1)


if __name__ == '__main__':
  app.run(main)
