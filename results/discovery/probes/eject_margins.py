"""What the ejection chain would do to the replayed cells, by margin.

  python results/discovery/probes/eject_margins.py [REPLAY.json]

Reads ``eject_replay.py``'s output (default
``results/discovery/eject_replay.json``, run with margin 0) and, for each
margin, counts the cells whose search would move off its order (the chain's
best beats the start by more than margin x |start's score|) and how each
such cell would end: the climb from the chain's best is the same whatever
the margin, so the margin-0 replay answers every margin.
"""
import json
import sys

path = sys.argv[1] if len(sys.argv) > 1 else (
    'results/discovery/eject_replay.json')
cells = json.load(open(path))
print(f'{len(cells)} cells replayed: '
      + ', '.join(f'{m} {sum(c["before"] == m for c in cells.values())}'
                  for m in ('exact', 'equivalent', 'miss')))
for margin in (0.0, 0.02, 0.05, 0.1, 0.2, 0.3):
  moved = []
  for key, cell in cells.items():
    chain = cell['chain_scores']
    best = min(range(len(chain)), key=chain.__getitem__)
    if best and chain[best] < chain[0] - margin * abs(chain[0]):
      moved.append(f'{key}: {cell["before"]} -> {cell["match"]} '
                   f'({chain[best] / chain[0]:.3f} of the start)')
  print(f'margin {margin}: {len(moved)} cells move'
        + ''.join(f'\n  {line}' for line in moved))
