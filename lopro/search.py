"""The search driver: a strategy's populations scored by an estimator.

``search_order(task)`` runs an ask/tell strategy (``lopro.strategies``) and
scores every population it asks for with an estimator
(``lopro.estimators``). It does four things and nothing else:

  * score reuse: an order already scored in this search by an estimator
    whose scores are ``reusable`` is not profiled again; each estimator's
    scores (and slot losses, for a strategy that reads them) kept apart;
  * checkpoints: with ``checkpoint_dir``, the strategy's state and the
    history are written atomically after every profiling run, so a search
    killed at any moment (SIGKILL included) resumes where it was, losing
    at most the run in flight; a checkpoint written by other arguments is
    refused;
  * progress: every run is logged (``absl.logging``) and passed to
    ``callback`` as a ``StageRecord``;
  * the result: a ``SearchResult``.

With neither a strategy nor an estimator it runs ``default_method(L)``
(``lopro.defaults``), the best method we have measured at that length.

Dimension letters: N orders of a run, M orders kept, L target length.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from collections.abc import Callable, Mapping
from typing import Any

from absl import logging
import jax
import numpy as np

from lopro import profile as profile_lib
from lopro import results
from lopro import tasks as tasks_lib
from lopro.defaults import default_method
from lopro.estimators import base as estimators_base
from lopro.estimators import independent
from lopro.strategies import base as strategies_base
from lopro.strategies import hierarchical

STATE_FILE = 'search_state.json'
_STATE_VERSION = 2


@dataclasses.dataclass
class StageRecord:
  """One profiling run of a search.

  Attributes:
    name: e.g. ``'global k=2'``, ``'local l=3 inside'``, ``'insertion
      r=1'``, ``'refine r=2'``, ``'random batch 0'``, ``'evolution gen 3'``.
    candidates: int64[N, L], the orders asked for.
    scores: float64[N], their scores; NaN and inf are stored as +inf.
    kept: int64[M, L], what the strategy carried on after this run.
    best_score: the lowest score of this run.
    seconds: wall-clock seconds of the estimator's call (0 when every
      order was reused).
    num_nonfinite: how many of ``scores`` were +inf.
    num_reused: how many of ``candidates`` were scored earlier in the
      search by the same estimator and not profiled again.
    estimator: the class name of the estimator that scored this run.
    estimator_index: which of the search's distinct estimators it was (the
      driver's first, then the pipeline stages'); scores are reused within
      one estimator only.
    resumed: set on the copies a callback is told of the runs read from a
      checkpoint when a search resumes (the result's history holds the
      runs as they were made).
  """
  name: str
  candidates: np.ndarray
  scores: np.ndarray
  kept: np.ndarray
  best_score: float
  seconds: float
  num_nonfinite: int = 0
  num_reused: int = 0
  estimator: str = ''
  estimator_index: int = 0
  resumed: bool = False

  def to_dict(self) -> dict[str, Any]:
    return results.to_jsonable(dataclasses.asdict(self))

  @classmethod
  def from_dict(cls, data: Mapping[str, Any]) -> StageRecord:
    length = len(data['candidates'][0])
    return cls(
        name=data['name'],
        candidates=np.asarray(data['candidates'], np.int64).reshape(-1,
                                                                    length),
        scores=np.array([float(v) for v in data['scores']], np.float64),
        kept=np.asarray(data['kept'], np.int64).reshape(-1, length),
        best_score=float(data['best_score']), seconds=float(data['seconds']),
        num_nonfinite=int(data['num_nonfinite']),
        num_reused=int(data['num_reused']), estimator=data['estimator'],
        estimator_index=int(data['estimator_index']),
        resumed=bool(data.get('resumed', False)))


@dataclasses.dataclass
class SearchResult:
  """What a search found.

  Attributes:
    order: int64[L], the best order found.
    score: its score (in the profiling run that chose it); +inf when every
      order scored NaN/inf.
    history: one ``StageRecord`` per profiling run, in sequence.
    num_profiled: orders the estimators profiled (reused ones excluded).
    wall_time: seconds of the search, over every resumed part.
    local_optimum: whether ``order`` is a local optimum of the last
      neighbourhood the strategy searched (True for an exhaustive search).
    strategy: the strategy's description (``estimators.base.describe``).
    estimator: the driver's estimator's description.
  """
  order: np.ndarray
  score: float
  history: list[StageRecord]
  num_profiled: int
  wall_time: float
  local_optimum: bool
  strategy: dict[str, Any]
  estimator: dict[str, Any]

  def to_dict(self, history: bool = True) -> dict[str, Any]:
    out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
           if f.name != 'history'}
    out = results.to_jsonable(out)
    if history:
      out['history'] = [r.to_dict() for r in self.history]
    return out

  def save(self, directory: str, **extra: Any) -> None:
    """Writes ``result.json`` (the result without its history, plus
    ``extra`` fields) and ``history.npz`` (``results.save_history``) into
    ``directory``, each atomically."""
    results.save_history(os.path.join(directory, 'history.npz'),
                         self.history)
    results.atomic_write_json(os.path.join(directory, 'result.json'),
                              {**self.to_dict(history=False), **extra})

  @classmethod
  def load(cls, directory: str) -> SearchResult:
    """Reads what ``save`` wrote."""
    with open(os.path.join(directory, 'result.json')) as f:
      data = json.load(f)
    data['history'] = results.load_history(os.path.join(directory,
                                                        'history.npz'))
    return cls.from_dict(data)

  @classmethod
  def from_dict(cls, data: Mapping[str, Any]) -> SearchResult:
    return cls(order=np.asarray(data['order'], np.int64),
               score=float(data['score']),
               history=[StageRecord.from_dict(r) for r in data['history']],
               num_profiled=int(data['num_profiled']),
               wall_time=float(data['wall_time']),
               local_optimum=bool(data['local_optimum']),
               strategy=data['strategy'], estimator=data['estimator'])


def fingerprint(task: tasks_lib.Task, strategy: Any, estimator: Any,
                seed: int, starts: np.ndarray | None = None
                ) -> dict[str, Any]:
  """What a search's course depends on, as JSON."""
  data = dict(task=dict(name=task.name, length=task.length,
                        params=dict(task.params)),
              strategy=estimators_base.describe(strategy),
              estimator=estimators_base.describe(estimator), seed=seed)
  if starts is not None:
    data['starts'] = starts
  return json.loads(json.dumps(results.to_jsonable(data)))


def _estimators(strategy: Any, estimator: Any) -> list[Any]:
  """The driver's estimator and every pipeline stage's, distinct."""
  found = [estimator]
  for stage, stage_estimator in getattr(strategy, 'stages', ()):
    for e in [stage_estimator] + _estimators(stage, None)[1:]:
      if e is not None and e not in found:
        found.append(e)
  return found


class _Scorer:
  """Scores populations, reusing what a reusable estimator scored before."""

  def __init__(self, task, seed, runtime, estimators):
    self.task, self.seed, self.runtime = task, seed, runtime
    self.estimators = estimators
    self.known: dict[tuple[int, bytes], float] = {}
    self.known_slots: dict[tuple[int, bytes], np.ndarray] = {}
    self.num_profiled = 0

  def remember(self, record: StageRecord) -> None:
    pool = self._pool(record.estimator_index)
    if pool is not None:
      for row, value in zip(record.candidates, record.scores):
        self.known[(pool, row.tobytes())] = float(value)
    self.num_profiled += len(record.candidates) - record.num_reused

  def _pool(self, index: int) -> int | None:
    return index if self.estimators[index].reusable else None

  def score(self, perms: np.ndarray, index: int, with_slots: bool = False
            ) -> tuple[np.ndarray, np.ndarray | None, int, float]:
    """(scores float64[N] with NaN/inf -> +inf, slot losses float64[N, L]
    or None, orders reused, seconds).

    With ``with_slots`` an order is reused only if its slot losses are
    known, and the estimator must give slot losses
    (``Independent(slot_losses=True)``).
    """
    pool = self._pool(index)
    known = self.known_slots if with_slots else self.known
    if pool is None:
      fresh = list(range(len(perms)))
    else:
      fresh, pending = [], set()
      for i, row in enumerate(perms):
        key = row.tobytes()
        if (pool, key) not in known and key not in pending:
          pending.add(key)
          fresh.append(i)
    seconds, new, new_slots = 0.0, np.zeros(0), None
    if fresh:
      start = time.perf_counter()
      profile = self.estimators[index].profile(
          self.task, perms[fresh], self.seed, runtime=self.runtime)
      seconds = time.perf_counter() - start
      new = np.asarray(profile.scores, np.float64)
      new = np.where(np.isfinite(new), new, np.inf)
      new_slots = getattr(profile, 'slot_losses', None)
      if with_slots and new_slots is None:
        raise ValueError(
            f'stage {type(self.estimators[index]).__name__} gave no per-slot '
            'losses, which this strategy reads: score it with '
            'Independent(slot_losses=True)')
      self.num_profiled += len(fresh)
    if pool is None:
      slots = (None if new_slots is None
               else np.asarray(new_slots, np.float64))
      return new, slots if with_slots else None, 0, seconds
    for j, (i, value) in enumerate(zip(fresh, new)):
      row_key = (pool, perms[i].tobytes())
      self.known[row_key] = float(value)
      if new_slots is not None:
        self.known_slots[row_key] = np.asarray(new_slots[j], np.float64)
    scores = np.array([self.known[(pool, row.tobytes())] for row in perms])
    slots = (np.stack([self.known_slots[(pool, row.tobytes())]
                       for row in perms]) if with_slots else None)
    return scores, slots, len(perms) - len(fresh), seconds


def search_order(task: str | tasks_lib.Task, *, length: int = 8,
                 strategy: Any = None, estimator: Any = None,
                 init: Any = None, seed: int = 0, starts: Any = None,
                 checkpoint_dir: str | None = None,
                 callback: Callable[[StageRecord], None] | None = None,
                 runtime: estimators_base.Runtime | None = None
                 ) -> SearchResult:
  """Finds a learning-friendly order of ``task``.

  Args:
    task: a task name (built at ``length``) or a Task.
    length: L when ``task`` is a name; ignored for a Task.
    strategy: an ask/tell strategy (``lopro.strategies``); with
      ``estimator`` also None, ``default_method(L)``; else
      ``Hierarchical()``.
    estimator: scores every population (a ``Pipeline`` stage may name its
      own); ``Independent()`` when only the strategy is given.
    init: the default method's initial population, 'random' (the default)
      or 'structured' (``default_method``); with a strategy of your own,
      set its ``initial`` instead.
    seed: the strategy's key is ``jax.random.key(seed)`` and every profile
      uses ``seed``.
    starts: None, or int[S, L] (or one int[L]) orders the strategy starts
      from, e.g. a hand-designed order to improve: an ``Insertion`` climbs
      from each, a ``Pipeline`` gives them to its first stage, a
      ``Hierarchical`` puts them in its initial population.
    checkpoint_dir: if set, the search is resumable there (see the module
      docstring); a finished search's result is returned without scoring.
    callback: called with each StageRecord after its profiling run; when a
      search resumes, first with every run read from the checkpoint
      (``record.resumed``).
    runtime: chunk size, vmap group and devices of every profile.

  Returns:
    A SearchResult; ``order`` is the discovered order.

  Raises:
    ValueError: a bad task, strategy, estimator or seed; a strategy that
      cannot search this length; a checkpoint written by other arguments
      or corrupt.

  References:
    Sato, Kawamoto & Kera, arXiv 2506.23875, §4.
  """
  if isinstance(task, str):
    task = tasks_lib.get_task(task, length=length)
  elif not isinstance(task, tasks_lib.Task):
    raise ValueError(f'task must be a task name or a lopro.Task, got '
                     f'{type(task).__name__}')
  seed = profile_lib.check_seed(seed)
  try:
    starts = strategies_base.check_starts(starts, task.length)
  except ValueError as e:
    raise ValueError(f'starts: {e}') from None
  if init is not None and (strategy is not None or estimator is not None):
    raise ValueError('init applies to the default method; with a strategy '
                     'of your own, give it the initial population (e.g. '
                     'Hierarchical(initial=StructuredInit()))')
  if strategy is None and estimator is None:
    strategy, estimator = default_method(task.length, init)
    logging.info('search %s L=%d: the default method for this length, %s',
                 task.name, task.length, describe_method(strategy, estimator))
  strategy = hierarchical.Hierarchical() if strategy is None else strategy
  estimator = independent.Independent() if estimator is None else estimator
  if not isinstance(strategy, strategies_base.Strategy):
    raise ValueError('strategy must answer init/ask/tell/best (e.g. '
                     f'lopro.strategies.Hierarchical()), got {strategy!r}')
  profile_lib.check_estimator(estimator)
  estimators = _estimators(strategy, estimator)
  for e in estimators:
    profile_lib.check_estimator(e)
  expected = fingerprint(task, strategy, estimator, seed, starts)
  path = None if checkpoint_dir is None else os.path.join(checkpoint_dir,
                                                          STATE_FILE)
  scorer = _Scorer(task, seed, runtime, estimators)
  history, earlier_s = [], 0.0
  saved = (results.load_checkpoint(path, expected)
           if path is not None and os.path.exists(path) else None)
  if saved is not None and saved.get('done'):
    logging.info('search %s L=%d: finished earlier; its result is read from '
                 '%s', task.name, task.length, path)
    return SearchResult.from_dict(saved['result'])
  if saved is not None:
    state = strategies_base.decode_state(saved['state'])
    for data in saved['history']:
      record = StageRecord.from_dict(data)
      scorer.remember(record)
      history.append(record)
      if callback is not None:
        callback(dataclasses.replace(record, resumed=True))
    earlier_s = float(saved['seconds'])
    logging.info('search %s L=%d: resuming after %d profiling runs from %s',
                 task.name, task.length, len(history), path)
  else:
    state = strategy.init(jax.random.key(seed), task.length, starts)
  max_profiles = getattr(strategy, 'max_profiles', None)
  max_profiles = max_profiles(task.length) if max_profiles else None
  start = time.perf_counter()

  def write(done: bool, result: SearchResult | None = None) -> None:
    records = [r.to_dict() for r in history]
    data = dict(version=_STATE_VERSION, fingerprint=expected,
                state=strategies_base.encode_state(state), history=records,
                seconds=earlier_s + time.perf_counter() - start, done=done)
    if result is not None:
      data['result'] = result.to_dict()
    results.atomic_write_bytes(path, json.dumps(
        results.to_jsonable(data), separators=(',', ':')).encode())

  while len(perms := strategy.ask(state)):
    stage = state.get('stage', '')
    chooser = getattr(strategy, 'estimator_for', None)
    chosen = (chooser(state) if chooser else None) or estimator
    index = estimators.index(chosen)
    wants = getattr(strategy, 'wants_slot_losses', None)
    with_slots = bool(wants and wants(state))
    scores, slots, reused, seconds = scorer.score(perms, index, with_slots)
    if with_slots:
      state = strategy.tell(state, perms, scores, slot_losses=slots)
    else:
      state = strategy.tell(state, perms, scores)
    record = StageRecord(
        name=stage, candidates=perms, scores=scores,
        kept=np.asarray(state.get('kept', perms[:0])),
        best_score=float(np.min(scores)), seconds=seconds,
        num_nonfinite=int(np.sum(~np.isfinite(scores))), num_reused=reused,
        estimator=type(chosen).__name__, estimator_index=index)
    history.append(record)
    if path is not None:
      write(done=False)
    elapsed = earlier_s + time.perf_counter() - start
    logging.info('%-24s %5d orders (%d new, %s)  best %.4f  %d profiled%s  '
                 '%.0fs', stage, len(perms), len(perms) - reused,
                 record.estimator, record.best_score, scorer.num_profiled,
                 f' of <= {max_profiles}' if max_profiles else '', elapsed)
    if callback is not None:
      callback(record)

  order, score = strategy.best(state)
  result = SearchResult(
      order=np.asarray(order, np.int64), score=float(score), history=history,
      num_profiled=scorer.num_profiled,
      wall_time=earlier_s + time.perf_counter() - start,
      local_optimum=bool(state.get('local_optimum', False)),
      strategy=expected['strategy'], estimator=expected['estimator'])
  if path is not None:
    write(done=True, result=result)
  return result


def describe_method(strategy: Any, estimator: Any) -> str:
  """A one-line description of a (strategy, estimator) pair."""
  stages = getattr(strategy, 'stages', None)
  if stages:
    return ', then '.join(
        f'{type(s).__name__} scored by {type(e or estimator).__name__}'
        for s, e in stages)
  return f'{type(strategy).__name__} scored by {type(estimator).__name__}'
