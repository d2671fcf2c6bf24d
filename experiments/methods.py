r"""Choosing a search method (a strategy and an estimator) from flags.

One place for the flags that pick how orders are searched and scored, shared
by ``discover.py``, ``compare.py`` and ``reproduce.py``:

  --estimator=independent|halving|mixture|universal   how orders are scored
  --strategy=hierarchical|paper|insertion|random|exhaustive|evolution
  --steps --batch_size --width --layers                 the estimator's model
  --num_checkpoints --num_heldout --slot_embedding      mixture, universal
  --init=random|structured --insertion_rounds --num_starts   hierarchical
  --budget                                              random, evolution
  --refine_rounds --refine_steps --refine_seeds --refine_max_shift
                                                        a refine stage
  --polish_rounds                                       the polish stage
  --topological         only the topological sorts of the task's graph

With neither --estimator nor --strategy the method is
``lopro.default_method(L)``, the best we have measured at that length; the
other flags then adjust it (e.g. --steps the steps of its estimator,
--refine_rounds=0 drops its refine stage, --polish_rounds=0 its polish
stage). With only one of them, the other
is the library's default (``Hierarchical()``, ``Independent()``), as in
``lopro.search_order``. A flag left unset never overrides a default.

A binary calls ``define_flags()`` once at import (``reproduce.py`` names the
steps flag ``--profile_steps``: its ``--steps`` are the evaluation model's)
and ``method_from_flags(holder, L)`` in ``main``; the rest of this module is
plain functions of a ``MethodSpec``.
"""

from __future__ import annotations

from collections.abc import Sequence
import dataclasses
from typing import Any

from absl import app
from absl import flags

import lopro
from lopro import defaults
from lopro import search as search_lib
from lopro import strategies

ESTIMATORS = ('independent', 'halving', 'mixture', 'universal')
STRATEGIES = ('hierarchical', 'paper', 'insertion', 'random', 'exhaustive',
              'evolution')
INITS = ('random', 'structured')
# The baselines: they take a budget and compare scores across runs.
BASELINES = ('random', 'evolution')
# The strategy settings each strategy takes.
STRATEGY_SETTINGS = {
    'hierarchical': ('init', 'insertion_rounds', 'num_starts'),
    'paper': ('init', 'insertion_rounds', 'num_starts'),
    'insertion': ('insertion_rounds',),
    'random': ('budget',),
    'exhaustive': (),
    'evolution': ('budget',),
}
_STRATEGY_FIELDS = ('init', 'insertion_rounds', 'num_starts', 'budget')
# The refine stage's scorer when the method has none: one model per order of
# the default training run, the mean over two seeds.
REFINE_SEEDS = 2


@dataclasses.dataclass(frozen=True)
class MethodSpec:
  """What the method flags say; None everywhere means "the default".

  Attributes:
    estimator: one of ``ESTIMATORS``.
    strategy: one of ``STRATEGIES``.
    steps, batch_size, width, layers: the estimator's training run
      (``TrainConfig`` steps, batch_size, width, num_layers).
    num_checkpoints, num_heldout: Mixture and Universal only.
    slot_embedding: Mixture only.
    init: the initial population of Hierarchical, one of ``INITS``.
    insertion_rounds: Hierarchical's insertion rounds; Insertion's rounds.
    num_starts: Hierarchical's starts of the insertion rounds.
    budget: order-profiles of RandomSearch and Evolution.
    refine_rounds: rounds of a last ``Insertion(name='refine')`` stage; 0
      drops one.
    refine_steps: training steps of the refine stage's Independent scorer.
    refine_seeds: seeds each refine score averages over.
    refine_max_shift: how far the refine stage's insertion moves may move a
      slot (``Insertion.max_shift``).
    polish_rounds: rounds of a last ``Insertion(name='polish')`` stage
      scored by Halving (``lopro.defaults.polish_stage``); 0 drops one.
    topological: search only the topological sorts of the task's
      dependency graph (``strategies.Topological``).
  """
  estimator: str | None = None
  strategy: str | None = None
  steps: int | None = None
  batch_size: int | None = None
  width: int | None = None
  layers: int | None = None
  num_checkpoints: int | None = None
  num_heldout: int | None = None
  slot_embedding: bool | None = None
  init: str | None = None
  insertion_rounds: int | None = None
  num_starts: int | None = None
  budget: int | None = None
  refine_rounds: int | None = None
  refine_steps: int | None = None
  refine_seeds: int | None = None
  refine_max_shift: int | None = None
  polish_rounds: int | None = None
  topological: bool | None = None

  @property
  def defaulted(self) -> bool:
    """Whether the method is ``lopro.default_method(L)`` (adjusted)."""
    return self.estimator is None and self.strategy is None


@dataclasses.dataclass(frozen=True)
class Method:
  """A strategy and the driver's estimator, ready for ``search_order``.

  Attributes:
    strategy: the strategy (a ``Pipeline`` when there is a refine stage).
    estimator: the estimator of the (first) search stage.
    defaulted: built from ``lopro.default_method(L)``.
    adjusted: ``defaulted``, and flags changed it.
  """
  strategy: Any
  estimator: Any
  defaulted: bool
  adjusted: bool = False

  def describe(self) -> str:
    """One line, e.g. 'Hierarchical scored by Universal, then Insertion
    scored by Independent'."""
    text = search_lib.describe_method(self.strategy, self.estimator)
    if isinstance(self.strategy, strategies.Topological):
      text += ', over topological sorts only'
    if not self.defaulted:
      return text
    return (f'the default method for this length'
            f'{", adjusted by flags" if self.adjusted else ""}: {text}')

  def max_profiles(self, length: int) -> int | None:
    """The strategy's most order-profiles at length L, if it says."""
    bound = getattr(self.strategy, 'max_profiles', None)
    return None if bound is None else int(bound(length))


# --------------------------------------------------------------------------
# Building estimators and strategies from a spec.
# --------------------------------------------------------------------------


def train_overrides(spec: MethodSpec) -> dict[str, int]:
  """The TrainConfig fields the spec sets (``layers`` is ``num_layers``)."""
  given = dict(steps=spec.steps, batch_size=spec.batch_size,
               width=spec.width, num_layers=spec.layers)
  return {k: v for k, v in given.items() if v is not None}


def configure_estimator(estimator: Any, spec: MethodSpec) -> Any:
  """``estimator`` with the spec's training and estimator settings.

  Raises:
    ValueError: a setting the estimator does not have (e.g. --num_heldout
      for one model per order), or values its dataclass refuses.
  """
  changes = {}
  overrides = train_overrides(spec)
  if overrides:
    changes['train'] = dataclasses.replace(estimator.train, **overrides)
  fields = {f.name for f in dataclasses.fields(estimator)}
  for name in ('num_checkpoints', 'num_heldout', 'slot_embedding'):
    value = getattr(spec, name)
    if value is None:
      continue
    if name not in fields:
      raise ValueError(f'--{name} applies to the mixture and universal '
                       f'estimators (slot_embedding: mixture only), not to '
                       f'{type(estimator).__name__}')
    changes[name] = value
  return dataclasses.replace(estimator, **changes) if changes else estimator


def make_estimator(name: str, spec: MethodSpec = MethodSpec()) -> Any:
  """The estimator called ``name`` (``ESTIMATORS``), configured by ``spec``.

  Raises:
    ValueError: an unknown name or a setting it does not have.
  """
  makers = dict(independent=lopro.Independent, halving=lopro.Halving,
                mixture=lopro.Mixture, universal=lopro.Universal)
  if name not in makers:
    raise ValueError(f'unknown estimator {name!r}; known: {list(makers)}')
  return configure_estimator(makers[name](), spec)


def _initial(spec: MethodSpec) -> dict[str, Any]:
  if spec.init is None:
    return {}
  if spec.init not in INITS:
    raise ValueError(f'unknown init {spec.init!r}; known: {list(INITS)}')
  return dict(initial=strategies.StructuredInit() if spec.init == 'structured'
              else strategies.RandomInit())


def check_strategy_settings(spec: MethodSpec, name: str) -> None:
  """Raises ValueError if the spec sets what strategy ``name`` does not
  take (``STRATEGY_SETTINGS``)."""
  if name not in STRATEGY_SETTINGS:
    raise ValueError(f'unknown strategy {name!r}; known: {list(STRATEGIES)}')
  for field in _STRATEGY_FIELDS:
    if field not in STRATEGY_SETTINGS[name] and getattr(spec, field) is not (
        None):
      takes = ', '.join(f'--{f}' for f in STRATEGY_SETTINGS[name]) or 'none'
      raise ValueError(f'--{field} does not apply to the {name} strategy '
                       f'(its settings: {takes})')


def for_strategy(spec: MethodSpec, name: str) -> MethodSpec:
  """The spec without the strategy settings that ``name`` does not take."""
  return dataclasses.replace(spec, **{
      f: None for f in _STRATEGY_FIELDS if f not in STRATEGY_SETTINGS[name]})


def _hierarchical_overrides(spec: MethodSpec, name: str = 'hierarchical'
                            ) -> dict[str, Any]:
  """The Hierarchical fields the spec sets."""
  check_strategy_settings(spec, name)
  out = _initial(spec)
  if spec.insertion_rounds is not None:
    out['insertion_rounds'] = spec.insertion_rounds
  if spec.num_starts is not None:
    out['num_starts'] = spec.num_starts
  return out


def make_strategy(name: str, spec: MethodSpec = MethodSpec()) -> Any:
  """The strategy called ``name`` (``STRATEGIES``), configured by ``spec``.

  ``paper`` is ``Hierarchical.paper()``: the paper's search exactly unless
  --insertion_rounds or --num_starts add to it.

  Raises:
    ValueError: an unknown name or a setting it does not take.
  """
  if name == 'hierarchical':
    return strategies.Hierarchical(**_hierarchical_overrides(spec))
  if name == 'paper':
    return strategies.Hierarchical.paper(
        **_hierarchical_overrides(spec, name))
  check_strategy_settings(spec, name)
  if name == 'random':
    return strategies.RandomSearch(budget=spec.budget)
  if name == 'evolution':
    return strategies.Evolution(budget=spec.budget)
  if name == 'exhaustive':
    return strategies.Exhaustive()
  return strategies.Insertion(**({} if spec.insertion_rounds is None else
                                 dict(rounds=spec.insertion_rounds)))


def make_refine(rounds: int, steps: int | None = None,
                seeds: int | None = None, max_shift: int | None = None
                ) -> tuple[Any, Any]:
  """(``Insertion(rounds, name='refine', max_shift=...)``, its Independent
  scorer)."""
  train = lopro.TrainConfig(**({} if steps is None else dict(steps=steps)))
  return (strategies.Insertion(rounds=rounds, name='refine',
                               max_shift=max_shift),
          lopro.Independent(train=train, num_seeds=(
              REFINE_SEEDS if seeds is None else seeds)))


def split_refine(strategy: Any, estimator: Any
                 ) -> tuple[Any, Any, tuple[Any, Any] | None,
                            tuple[Any, Any] | None]:
  """(search strategy, its estimator, refine stage or None, polish stage or
  None) of a method whose strategy may be ``Pipeline((s, e),
  (Insertion(name='refine'), e2)[, (Insertion(name='polish'), e3)])``, as
  ``lopro.default_method`` builds at L <= 24."""
  stages = getattr(strategy, 'stages', None) or ()
  names = [s.name if isinstance(s, strategies.Insertion) else None
           for s, _ in stages[1:]]
  if names not in (['refine'], ['polish'], ['refine', 'polish']):
    return strategy, estimator, None, None
  later = dict(zip(names, stages[1:]))
  first, first_estimator = stages[0]
  return (first, first_estimator or estimator, later.get('refine'),
          later.get('polish'))


def _adjust_refine(refine: tuple[Any, Any] | None, spec: MethodSpec
                   ) -> tuple[Any, Any] | None:
  """The refine stage after --refine_rounds/steps/seeds/max_shift."""
  if spec.refine_rounds == 0:
    return None
  if refine is None:
    if spec.refine_rounds is None:
      if (spec.refine_steps, spec.refine_seeds,
          spec.refine_max_shift) != (None, None, None):
        raise ValueError('--refine_steps, --refine_seeds and '
                         '--refine_max_shift need --refine_rounds')
      return None
    return make_refine(spec.refine_rounds, spec.refine_steps,
                       spec.refine_seeds, spec.refine_max_shift)
  climb, scorer = refine
  if spec.refine_rounds is not None:
    climb = dataclasses.replace(climb, rounds=spec.refine_rounds)
  if spec.refine_max_shift is not None:
    climb = dataclasses.replace(climb, max_shift=spec.refine_max_shift)
  changes = {}
  if spec.refine_steps is not None:
    changes['train'] = dataclasses.replace(scorer.train,
                                           steps=spec.refine_steps)
  if spec.refine_seeds is not None:
    changes['num_seeds'] = spec.refine_seeds
  return climb, dataclasses.replace(scorer, **changes)


def _adjust_polish(polish: tuple[Any, Any] | None, spec: MethodSpec
                   ) -> tuple[Any, Any] | None:
  """The polish stage after --polish_rounds."""
  if spec.polish_rounds is None:
    return polish
  if spec.polish_rounds == 0:
    return None
  if polish is None:
    return defaults.polish_stage(spec.polish_rounds)
  climb, scorer = polish
  return dataclasses.replace(climb, rounds=spec.polish_rounds), scorer


def build_method(length: int, spec: MethodSpec = MethodSpec(),
                 depends_on: Sequence[Sequence[int]] | None = None) -> Method:
  """The method a spec describes at length L (see the module docstring),
  for a task whose dependency graph is ``depends_on`` (None: states none).

  Raises:
    ValueError: unknown names, or settings that do not apply.
  """
  if spec.defaulted:
    strategy, estimator = lopro.default_method(length, spec.init)
    search, estimator, refine, polish = split_refine(strategy, estimator)
    # default_method searches with Hierarchical() at every length.
    search = dataclasses.replace(search, **_hierarchical_overrides(spec))
    estimator = configure_estimator(estimator, spec)
  else:
    search = make_strategy(spec.strategy or 'hierarchical', spec)
    estimator = make_estimator(spec.estimator or 'independent', spec)
    refine = polish = None
  refine = _adjust_refine(refine, spec)
  polish = _adjust_polish(polish, spec)
  later = [stage for stage in (refine, polish) if stage is not None]
  if later:
    search = strategies.Pipeline((search, estimator), *later)
  if spec.topological:
    if depends_on is None:
      raise ValueError('--topological needs a task that states its '
                       'dependency graph (Task.depends_on)')
    search = strategies.Topological(search, depends_on)
  adjusted = spec.defaulted and (search, estimator) != lopro.default_method(
      length, spec.init)
  return Method(search, estimator, spec.defaulted, adjusted)


# --------------------------------------------------------------------------
# Flags.
# --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class MethodFlags:
  """The flag holders ``define_flags`` made, by ``MethodSpec`` field."""
  holders: dict[str, flags.FlagHolder]

  def spec(self) -> MethodSpec:
    """The MethodSpec of the parsed flags."""
    return MethodSpec(**{k: h.value for k, h in self.holders.items()})


def define_flags(*, steps: str = 'steps', strategy: bool = True,
                 estimator: bool = True,
                 flag_values: flags.FlagValues = flags.FLAGS) -> MethodFlags:
  """Defines the method flags; call once, at a binary's import.

  Args:
    steps: the name of the estimator's training-steps flag.
    strategy: define --strategy (compare.py, which runs a list of them,
      leaves it out).
    estimator: define --estimator.
    flag_values: where to define them (tests pass their own).

  Returns:
    The holders, for ``method_from_flags``.
  """
  h = {}
  fv = dict(flag_values=flag_values)
  if estimator:
    h['estimator'] = flags.DEFINE_enum(
        'estimator', None, list(ESTIMATORS), 'How orders are scored: one '
        'model per order (independent), successive halving of those '
        '(halving), the paper\'s one model on a mixture of each run\'s '
        'orders (mixture), or one any-order model trained once on random '
        'orders (universal). Unset with --strategy unset: '
        'lopro.default_method(L).', **fv)
  if strategy:
    h['strategy'] = flags.DEFINE_enum(
        'strategy', None, list(STRATEGIES), 'Which orders are asked for: the '
        'hierarchical search with insertion rounds from 3 starts '
        '(hierarchical), the paper\'s search exactly (paper), insertion '
        'climbs from a random order (insertion), or the baselines random, '
        'exhaustive (L <= 7) and evolution. Unset with --estimator unset: '
        'lopro.default_method(L).', **fv)
  h['steps'] = flags.DEFINE_integer(
      steps, None, 'Training steps of the estimator (mixture, universal: of '
      'its one model); unset: the estimator\'s own.', lower_bound=1, **fv)
  h['batch_size'] = flags.DEFINE_integer(
      'batch_size', None, 'Batch size of the estimator\'s training; unset: '
      'its own.', lower_bound=1, **fv)
  h['width'] = flags.DEFINE_integer(
      'width', None, 'Width of the estimator\'s model; unset: its own.',
      lower_bound=1, **fv)
  h['layers'] = flags.DEFINE_integer(
      'layers', None, 'Layers of the estimator\'s model; unset: its own.',
      lower_bound=1, **fv)
  h['num_checkpoints'] = flags.DEFINE_integer(
      'num_checkpoints', None, 'Mixture, universal: held-out evaluations '
      'per run (the score reads the last); unset: the estimator\'s own.',
      lower_bound=1, **fv)
  h['num_heldout'] = flags.DEFINE_integer(
      'num_heldout', None, 'Mixture, universal: held-out examples per order; '
      'unset: the estimator\'s own.', lower_bound=1, **fv)
  h['slot_embedding'] = flags.DEFINE_bool(
      'slot_embedding', None, 'Mixture: tell the model which slot it emits '
      'next (--noslot_embedding: the paper-literal model); unset: True.', **fv)
  h['init'] = flags.DEFINE_enum(
      'init', None, list(INITS), 'Hierarchical: the initial population of '
      'the global stage, uniform orders (random, the default) or block '
      'permutations of forward and reverse (structured).', **fv)
  h['insertion_rounds'] = flags.DEFINE_integer(
      'insertion_rounds', None, 'Hierarchical, paper: most insertion rounds '
      'per start after the local stage; insertion: rounds per climb; unset: '
      'the strategy\'s own.', lower_bound=0, **fv)
  h['num_starts'] = flags.DEFINE_integer(
      'num_starts', None, 'Hierarchical, paper: insertion rounds also from '
      'the next best orders of the last global run; unset: the strategy\'s '
      'own.', lower_bound=1, **fv)
  h['budget'] = flags.DEFINE_integer(
      'budget', None, 'Random, evolution: order-profiles; unset: what '
      'Hierarchical() may spend.', lower_bound=1, **fv)
  h['refine_rounds'] = flags.DEFINE_integer(
      'refine_rounds', None, 'Beyond the paper: a last stage of at most this '
      'many insertion rounds from the search\'s result, scored one model '
      'per order (Independent, the mean over --refine_seeds); for a coarse '
      'first scorer such as --estimator=universal. 0: none. Unset: the '
      'default method\'s, else none.', lower_bound=0, **fv)
  h['refine_steps'] = flags.DEFINE_integer(
      'refine_steps', None, 'Training steps of every refine profile; unset: '
      f'the default method\'s, else {lopro.TrainConfig().steps}.',
      lower_bound=1, **fv)
  h['refine_seeds'] = flags.DEFINE_integer(
      'refine_seeds', None, 'Seeds each refine score averages over; unset: '
      f'{REFINE_SEEDS}.', lower_bound=1, **fv)
  h['refine_max_shift'] = flags.DEFINE_integer(
      'refine_max_shift', None, 'How far a refine move may move a slot (1: '
      'adjacent swaps, about L orders a round instead of (L-1)^2); unset: '
      'the default method\'s, else any distance.', lower_bound=1, **fv)
  h['polish_rounds'] = flags.DEFINE_integer(
      'polish_rounds', None, 'Beyond the paper: a stage of at most this many '
      'insertion rounds after the refine stage, scored by Halving to 1,050 '
      'steps (finer near the optimum than the refine profile). 0: none. '
      'Unset: the default method\'s (at 9 <= L <= 12), else none.',
      lower_bound=0, **fv)
  h['topological'] = flags.DEFINE_bool(
      'topological', None, 'Search only the topological sorts of the task\'s '
      'dependency graph (tasks that state one, e.g. delay): every order '
      'asked is repaired to its nearest valid one (strategies.Topological).',
      **fv)
  return MethodFlags(h)


def method_from_flags(holder: MethodFlags, length: int,
                      depends_on: Sequence[Sequence[int]] | None = None
                      ) -> Method:
  """The method the parsed flags describe at length L, for a task with
  the dependency graph ``depends_on`` (None: states none).

  Raises:
    app.UsageError: settings that do not apply to the method.
  """
  try:
    return build_method(length, holder.spec(), depends_on)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
