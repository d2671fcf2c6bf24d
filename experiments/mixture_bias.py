r"""Does a mixture favour the centre of its population? A local-search check.

Profiles the insertion neighbourhood of --order (the order plus every
single-slot move, as the search's insertion rounds do) with the paper's
mixture (``lopro.Mixture``, one checkpoint) at each --num_heldout and
--mixture_steps, once with one model per order (``lopro.Independent()``),
and with a universal model trained on random orders only
(``lopro.Universal``) at each --universal_steps, and reports where the
centre and the --better neighbours rank.
Writes ``<output>.json`` and ``<output>.md``.

Example (the order a pure-mixture relu L=13 search ended on; --better are its
two neighbours that put slot 2 or 5 back in place):
  python experiments/mixture_bias.py --task=relu --length=13 \
      --order=0,1,3,4,6,7,8,9,10,11,12,5,2 \
      --better=0,1,2,3,4,6,7,8,9,10,11,12,5 \
      --better=0,1,3,4,5,6,7,8,9,10,11,12,2 \
      --output=results/mixture_bias/mixture_bias_relu_L13
"""

import dataclasses
import sys
from typing import Any

from absl import app
from absl import flags
import numpy as np

import lopro
from lopro import orders
from lopro import neighbourhoods
from lopro import results
from lopro import tasks
from lopro.estimators.base import describe

_TASK = flags.DEFINE_enum('task', 'relu', list(lopro.task_names()), 'Task.')
_LENGTH = flags.DEFINE_integer('length', 13, 'Target length L.')
_PARAMS = flags.DEFINE_list('task_params', [],
                            'Task parameters as name=int, e.g. d=2.')
_ORDER = flags.DEFINE_list('order', None, 'The centre order.', required=True)
_BETTER = flags.DEFINE_multi_string(
    'better', [], 'Neighbours to report (comma-separated orders).')
_REFERENCE = flags.DEFINE_bool(
    'reference', True, 'Also score the task\'s friendly order in the '
    'independent profile (common random numbers: its score does not depend '
    'on the other orders).')
_NUM_HELDOUT = flags.DEFINE_list('num_heldout', ['128', '1024'],
                                 'Held-out examples of the mixture runs.')
_MIXTURE_STEPS = flags.DEFINE_list('mixture_steps', ['1000', '3000'],
                                   'Steps of the mixture runs.')
_UNIVERSAL_STEPS = flags.DEFINE_list(
    'universal_steps', ['1000', '3000'], 'Steps of the universal model '
    '(lopro.Universal: trained on random orders, never on the '
    'neighbourhood), with the first --num_heldout.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of every profile.')
_OUTPUT = flags.DEFINE_string('output', None, 'Path prefix of the outputs.',
                              required=True)


def parse(text: str | list[str]) -> np.ndarray:
  """An order from '0,1,2' or ['0', '1', '2']."""
  values = text.split(',') if isinstance(text, str) else text
  return orders.validate_orders(np.array([[int(v) for v in values]]))[0]


def estimators(num_heldout: list[str], mixture_steps: list[str],
               universal_steps: list[str]) -> list[tuple[str, Any]]:
  """(label, estimator) of every profile: one model per order, a mixture
  at every (steps, held-out) and a universal model at every steps (with the
  first held-out size)."""
  one = lopro.TrainConfig(steps=1000, batch_size=128)  # the mixtures' model
  return [('independent', lopro.Independent())] + [
      (f'mixture, {h} held-out, {t} steps',
       lopro.Mixture(train=dataclasses.replace(one, steps=int(t)),
                     num_checkpoints=1, num_heldout=int(h)))
      for t in mixture_steps for h in num_heldout] + [
          (f'universal, {num_heldout[0]} held-out, {t} steps',
           lopro.Universal(train=dataclasses.replace(one, steps=int(t)),
                           num_checkpoints=1, num_heldout=int(num_heldout[0])))
          for t in universal_steps]


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  task = lopro.get_task(_TASK.value, _LENGTH.value,
                        **tasks.parse_task_params(_PARAMS.value))
  centre = parse(_ORDER.value)
  candidates = neighbourhoods.insertion_moves(centre)
  named = {'centre': centre}
  for i, text in enumerate(_BETTER.value):
    named[f'better {i + 1}'] = parse(text)
  index = {}
  for name, order in named.items():
    hits = np.flatnonzero(np.all(candidates == order, axis=1))
    if not hits.size:
      raise app.UsageError(f'{name} {order.tolist()} is not a single-slot '
                           'move of --order')
    index[name] = int(hits[0])
  runs = []
  settings = estimators(_NUM_HELDOUT.value, _MIXTURE_STEPS.value,
                        _UNIVERSAL_STEPS.value)
  friendly = task.friendly_order
  for label, estimator in settings:
    perms = candidates
    # Scored alongside where its score does not depend on the others.
    reference = (estimator.reusable and _REFERENCE.value
                 and friendly is not None)
    if reference:
      perms = np.concatenate([candidates, friendly[None]])
    prof = lopro.profile_orders(perms, task, estimator=estimator,
                                seed=_SEED.value)
    scores = prof.scores[:len(candidates)]  # ranks among the candidates
    position = np.empty(len(candidates), np.int64)
    position[lopro.scores.rank_scores(scores)] = np.arange(len(candidates))
    runs.append(dict(
        estimator=label,
        best=orders.order_to_string(candidates[position.argmin()]),
        **{name: dict(rank=int(position[i]) + 1, score=float(scores[i]))
           for name, i in index.items()},
        friendly_score=float(prof.scores[-1]) if reference else None,
        friendly_rank=(int(np.sum(scores < prof.scores[-1])) + 1
                       if reference else None)))
    print(runs[-1], flush=True)
  names = list(index)
  lines = [f'Insertion neighbourhood of `{orders.order_to_string(centre)}` '
           f'({task.name}, L={task.length}, {len(candidates)} orders, seed '
           f'{_SEED.value}): rank (score) of each. Where an order\'s score '
           'does not depend on the others (independent, universal), the '
           'friendly order is scored too: the rank it would take among '
           'them, not counted in theirs.', '',
           '| estimator | ' + ' | '.join(names) + ' | friendly |',
           '|---|' + '---|' * (len(names) + 1)]
  for r in runs:
    friendly_cell = ('-' if r['friendly_score'] is None else
                     f'{r["friendly_rank"]} ({r["friendly_score"]:.4f})')
    lines.append(f'| {r["estimator"]} | ' + ' | '.join(
        f'{r[n]["rank"]} ({r[n]["score"]:.4f})' for n in names)
                 + f' | {friendly_cell} |')
  if friendly is not None:
    lines.append(f'\nThe friendly order is '
                 f'`{orders.order_to_string(friendly)}`.')
  command = ' '.join(['python experiments/mixture_bias.py'] + sys.argv[1:])
  lines.append(f'\nCommand: `{command}`\n')
  results.atomic_write_json(_OUTPUT.value + '.json', dict(
      task=task.name, task_params=dict(task.params), length=task.length,
      centre=centre.tolist(),
      named={k: v.tolist() for k, v in named.items()}, runs=runs,
      estimators={label: describe(e) for label, e in settings},
      command=command))
  results.atomic_write_bytes(_OUTPUT.value + '.md', '\n'.join(lines).encode())
  print('\n'.join(lines))


if __name__ == '__main__':
  app.run(main)
