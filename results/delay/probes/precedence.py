"""Does one precedence ("slot a before slot b") tell which valid orders train?

  python results/delay/probes/precedence.py [TABLE.json]

For each row of the delay table (default ``results/delay/delay_systems.json``)
takes its hand-designed and random valid orders with their success, calls an
order trained when its success is above 50%, and prints the three
precedences a < b (slot a emitted before slot b, slot ``k n + t`` holding
``s^k_t``) that agree with trained / not trained on the most orders. A
precedence that agrees on every order separates them exactly. Reads the
table only; trains nothing.
"""
import itertools
import json
import sys


def main():
  path = sys.argv[1] if len(sys.argv) > 1 else (
      'results/delay/delay_systems.json')
  with open(path) as f:
    rows = json.load(f)['rows']
  for row in rows:
    length = row['length']
    n = length // len(row['parents'])
    named = [(list(map(int, o['order'].split())), o['success'] > 0.5)
             for o in row['orders']]
    agree = []
    for a, b in itertools.permutations(range(length), 2):
      hits = sum((order.index(a) < order.index(b)) == trained
                 for order, trained in named)
      agree.append((hits, a, b))
    agree.sort(key=lambda x: (-x[0], x[1], x[2]))
    slot = lambda s: f's{s // n}_{s % n}'
    best = ', '.join(f'{slot(a)} before {slot(b)} ({hits})'
                     for hits, a, b in agree[:3])
    trained = sum(t for _, t in named)
    print(f"{row['system']} seed {row['seed']}: {trained} of {len(named)} "
          f'valid orders train; best precedences (orders agreeing): {best}')


if __name__ == '__main__':
  main()
