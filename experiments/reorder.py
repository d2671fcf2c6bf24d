r"""Writes a dataset with every example's targets in a given order.

Reads --data (any format ``lopro.dataset_task`` reads: ``3 -1 4 # 3 2 6``
per line, .npz or .jsonl) and writes --output in the same format with each
example's targets replaced by ``targets[order]``: slot ``order[t]`` of the
source is emitted t-th. A model trained left to right on the output learns
the source in that order; its prediction ``p`` maps back to the source's
slots as ``p[lopro.orders.invert_order(order)]``. The output is written
atomically: a bad file or order leaves it untouched.

Example (the order a discovery found, from its result.json):
  python experiments/reorder.py --data=train.txt --order="3 0 1 2" \
      --output=train_reordered.txt

A bad file or order stops the binary with one line saying what is wrong.
"""

import os
import sys

from absl import app
from absl import flags

# Run as a script, the repository root is not on the path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
import lopro
from lopro import orders
# pylint: enable=g-import-not-at-top,wrong-import-position

_DATA = flags.DEFINE_string('data', None, 'The dataset file to read.',
                            required=True)
_ORDER = flags.DEFINE_string(
    'order', None, 'The order, a permutation of 0..L-1 such as "3 0 1 2" '
    '(spaces, commas or |; a result.json\'s order_string).', required=True)
_OUTPUT = flags.DEFINE_string(
    'output', None, 'Where to write, with the extension of --data\'s '
    'format.', required=True)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError('Too many command-line arguments.')
  try:
    order = orders.order_from_string(_ORDER.value)
    lopro.write_reordered(_DATA.value, order, _OUTPUT.value)
  except (ValueError, OSError) as e:
    print(str(e).replace('\n', ' '), file=sys.stderr)
    sys.exit(1)
  print(f'wrote {_OUTPUT.value}: {_DATA.value} with targets in the order '
        f'{orders.order_to_string(order)}')


if __name__ == '__main__':
  app.run(main)
