"""The default method: what ``search_order(task)`` runs, chosen by length.

``default_method(L)`` returns the (strategy, estimator) pair we measured
best at length L on 2 CPU cores (``results/discovery/``); its stages are
named so that ``experiments/methods.py`` can adjust them by flag.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from lopro import scores as scores_lib
from lopro import train as train_lib
from lopro.estimators import halving
from lopro.estimators import independent
from lopro.estimators import universal
from lopro.strategies import hierarchical
from lopro.strategies import insertion
from lopro.strategies import pipeline


def _initial(init: Any) -> Any:
  """A Hierarchical initial population from 'random', 'structured', None or
  an init object."""
  if init is None or init == 'random':
    return hierarchical.RandomInit()
  if init == 'structured':
    return hierarchical.StructuredInit()
  if isinstance(init, (hierarchical.RandomInit, hierarchical.StructuredInit)):
    return init
  raise ValueError(f"init must be 'random', 'structured', RandomInit() or "
                   f'StructuredInit(), got {init!r}')


def default_method(length: int, init: Any = None) -> tuple[Any, Any]:
  """(strategy, estimator): the best method we have measured at length L.

  Every length runs ``Hierarchical()`` (the paper's global-local search
  plus insertion moves from 3 starts) scored by one ``Universal()`` model,
  trained once on random orders, then insertion moves from its result
  scored finer (a ``Pipeline``):

    L       universal model   max_block_perms   refine: 6 rounds scored by
    <= 10   width 64, 3,000   5,040             Independent (12 rounds)
    11-13   width 32, 3,000   5,040             Independent, 300 steps
    14-24   width 32, 6,000   720               Independent, 300 steps
    >= 25   width 64, 6,000   120 (1 start)     the universal run's curve

  then at 9 <= L <= 12 up to 3 insertion rounds scored by ``Halving`` to
  1,050 steps (``polish_stage``: 150 / 450 / 1,050 steps).

  The universal model makes the search cost one training run plus forward
  passes but is coarse near the optimum, so one model per order finishes
  the climb; the climb stops at its local optimum (the round cap only
  bounds the worst case). The 300-step refine can stop one insertion from
  forward at L=10, which Halving's longer runs fix, at ~85 s a round: too
  much for L=8's 3 minutes or L>=13. Beyond L=24 an Independent round would
  take hours on a CPU; the refine reads the universal run (kept) at 3
  checkpoints, their mean. Blocks of more than ``max_block_perms``
  re-orderings (l! for a block of l) are subsampled. Why each choice:
  ``docs/method.md``; measurements: ``results/discovery/``.

  Args:
    length: L.
    init: the initial population: 'random' (the default, the paper's P_r)
      or 'structured' (P_b: block permutations of forward and reverse), or
      a ``RandomInit()`` / ``StructuredInit()``.
  """
  initial = _initial(init)
  if length <= 13:
    steps, block_perms, starts = 3000, 5040, 3
  elif length <= 24:
    steps, block_perms, starts = 6000, 720, 3
  else:
    steps, block_perms, starts = 6000, 120, 1
  scorer = universal.Universal(train=train_lib.TrainConfig(
      steps=steps, batch_size=128,
      width=64 if length <= 10 or length > 24 else 32))
  search = hierarchical.Hierarchical(initial=initial,
                                     max_block_perms=block_perms,
                                     num_starts=starts)
  rounds = 12 if length <= 10 else 6
  refine = independent.Independent() if length <= 24 else dataclasses.replace(
      scorer, num_checkpoints=3, score=scores_lib.auc())
  stages = [(search, scorer),
            (insertion.Insertion(rounds=rounds, name='refine'), refine)]
  if 9 <= length <= 12:
    stages.append(polish_stage())
  return pipeline.Pipeline(*stages), scorer


def polish_stage(rounds: int = 3) -> tuple[Any, Any]:
  """The default's last stage at 9 <= L <= 12: (Insertion, Halving)."""
  return (insertion.Insertion(rounds=rounds, name='polish'),
          halving.Halving(train=train_lib.TrainConfig(steps=1050), eta=2,
                          rungs=3))



