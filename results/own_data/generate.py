r"""Writes a dataset file the way a researcher's own generator would.

One example per line, ``input tokens # target tokens``. The targets run a
recurrence along a chain drawn from --chain_seed (no test uses these): the
first slot of the chain copies its input, each next slot combines its input
with the previous slot of the chain. --kind:
  clipsum  y = clip(x + y_prev, -9, 9) over inputs -5..5 (relu-like);
  sqmod    y = (x + y_prev)^2 mod 17 over inputs 0..16 (square-like).
Prints the chain, the order a search should recover.

  python results/own_data/generate.py --kind=clipsum --output=/tmp/clipsum.txt
"""

from absl import app
from absl import flags
import numpy as np

_KIND = flags.DEFINE_enum('kind', 'clipsum', ['clipsum', 'sqmod'],
                          'The recurrence.')
_LENGTH = flags.DEFINE_integer('length', 8, 'L.', lower_bound=2)
_LINES = flags.DEFINE_integer('lines', 50000, 'Examples.', lower_bound=1)
_CHAIN_SEED = flags.DEFINE_integer('chain_seed', 9001, 'Seed of the chain.')
_OUTPUT = flags.DEFINE_string('output', None, 'Where to write.',
                              required=True)


def main(argv):
  del argv
  rng = np.random.default_rng(_CHAIN_SEED.value)
  chain = rng.permutation(_LENGTH.value)
  low, high = (-5, 5) if _KIND.value == 'clipsum' else (0, 16)
  x = rng.integers(low, high + 1, size=(_LINES.value, _LENGTH.value))
  y = np.zeros_like(x)
  y[:, chain[0]] = x[:, chain[0]]
  for prev, slot in zip(chain[:-1], chain[1:]):
    if _KIND.value == 'clipsum':
      y[:, slot] = np.clip(x[:, slot] + y[:, prev], -9, 9)
    else:
      y[:, slot] = (x[:, slot] + y[:, prev]) ** 2 % 17
  with open(_OUTPUT.value, 'w') as f:
    for xs, ys in zip(x, y):
      f.write(' '.join(map(str, xs)) + ' # ' + ' '.join(map(str, ys)) + '\n')
  print(' '.join(map(str, chain)))


if __name__ == '__main__':
  app.run(main)
