"""Searching for a learning-friendly order: hierarchical search and baselines.

The search sees only a *scorer* ``score_fn(perms int[O, L]) -> float[O]``
(lower is friendlier); each call is one profiling run. In lopro the scorer is
bound to ``profile_orders``; tests drive the search with synthetic scorers.
NaN and inf scores count as +inf: those orders rank last and never crash the
search. Ties are broken by first occurrence (a stable sort), so a search is a
deterministic function of the scorer, the length, the config and the seed.

Methods (``run_search(method=...)``):
  * ``'hierarchical'``: the global-local search of the paper.
  * ``'random'``: distinct uniform orders, the best kept.
  * ``'exhaustive'``: every order (L <= 7).
  * ``'evolution'``: a permutation genetic algorithm.
The baselines get the hierarchical method's budget of order-profiles by
default (``hierarchical_budget``). Unlike the hierarchical search, they
compare scores across profiling runs, which assumes the scorer's scale does
not depend on the batch (true of independent profiles with common random
numbers, not of mixture profiles).

Hierarchical search, made exact where the paper is silent:
  * Initial population: T = (K+1)! orders. ``init='random'``: T uniform
    orders (they may repeat when L! is small; repeats are dropped before
    profiling). ``init='structured'``: every ordering of the blocks of b of
    the forward and of the reverse order (a shorter tail is its own block),
    deduplicated; a uniform random subset when more than T, topped up with
    distinct uniform orders when fewer.
  * Global stage: the k blocks of an order have sizes differing by at most
    one, larger first; all k! orderings (the identity included, so survivors
    are profiled again in every stage, as in the paper's mixture runs).
  * Local stage: a shorter tail of the block-size-l split is its own block;
    the current order is candidate 0 of every local run and wins ties, so a
    step never gets worse within its run; the block reorderings Q' (which
    the paper leaves open) are all cyclic shifts and all pairwise swaps of
    the blocks; blocks with l! above ``max_block_perms`` are subsampled.
  * Candidates are deduplicated within each profiling run (first occurrence
    kept); each run's scores are compared only with each other.
References: Sato, Kawamoto & Kera, arXiv 2506.23875, §4.

Beyond the paper, and on by default (``SearchConfig.paper()`` turns it off):
after the local stage, rounds of single-slot insertion moves from the result,
and from the next ``num_starts - 1`` best orders of the last global run.
Replayed against the full score landscapes of relu, square19 and a planted
chain at L=8 (every one of the 8! orders profiled on a GPU,
``experiments/landscape.py``), the paper's search reached the landscape's
best order in 26/140 (search seed, landscape) pairs, insertion rounds from
one start in 101/140, and from three starts in 136/140
(``experiments/search_study.py``, ``results/search_study_L8.md``). And an
order already profiled in the search is not profiled again
(``reuse_scores``), which cuts the spend by about a quarter.

A search with ``checkpoint_dir`` is resumable: it is written against a replay
log of its profiling runs, see ``run_search``.

Dimension letters: O orders, L target length, N candidates, M survivors,
K global depth, T = (K+1)! global population size.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import os
import time
from collections.abc import Callable, Hashable, Mapping
from typing import Any

import jax
import numpy as np

from lopro import orders as orders_lib
from lopro import profile as profile_lib
from lopro import results
from lopro import tasks as tasks_lib

METHODS = ('hierarchical', 'random', 'exhaustive', 'evolution')
INITS = ('random', 'structured')
# T = (K+1)! orders are profiled per global stage; 9! = 362,880 is the most.
MAX_DEPTH = 8
# Exhaustive search enumerates L! orders; 7! = 5,040.
MAX_EXHAUSTIVE_LENGTH = 7
STATE_FILE = 'search_state.json'
_STATE_VERSION = 1
# Evolution stops early after this many generations that found no new order.
_MAX_STALE_GENERATIONS = 50
# Evolution re-mutates a child that duplicates a known order this many times.
_MAX_DUPLICATE_RETRIES = 10

ScoreFn = Callable[[np.ndarray], Any]


# --------------------------------------------------------------------------
# Configuration.
# --------------------------------------------------------------------------


def _is_int(value) -> bool:
  return isinstance(value, (int, np.integer)) and not isinstance(
      value, (bool, np.bool_))


def _is_real(value) -> bool:
  return isinstance(value, (int, float, np.integer, np.floating)) and not (
      isinstance(value, (bool, np.bool_)))


@dataclasses.dataclass(frozen=True)
class SearchConfig:
  """Settings of the search and of its baselines.

  Attributes:
    depth: K, the depth of the global stage (T = (K+1)! orders per global
      profiling run); None picks ``default_depth(L)``. At most ``MAX_DEPTH``
      and, checked by ``run_search``, at most max(1, L-1).
    init: initial population of the global stage, ``'random'`` (uniform
      orders, the paper's P_r) or ``'structured'`` (block permutations of the
      forward and reverse orders, the paper's P_b).
    structured_block: b, the block size of ``init='structured'``.
    local_rounds: how many times the local pass (l = 2..floor(L/2)) may run;
      a pass is repeated only while the previous one improved. The paper
      runs it once.
    max_block_perms: most re-orderings tried inside one block in the local
      stage. Blocks with l! above it (l >= 8 by default, i.e. L >= 16) get
      the identity plus ``max_block_perms - 1`` distinct uniform
      re-orderings instead of all l!; the paper does not say how it handled
      l! beyond a few thousand.
    budget: order-profiles of the random and evolution baselines; None gives
      ``hierarchical_budget(L, config)``.
    batch_size: most orders per profiling run of the random and exhaustive
      baselines.
    population_size: evolution's population size.
    tournament_size: evolution's tournament size.
    mutation_rate: probability that a child is mutated (swap or inversion).
    crossover_rate: probability that a child comes from order crossover
      rather than being a copy of its first parent.
    elite: how many of the best orders pass unchanged to the next generation.
    insertion_rounds: beyond the paper: after the local stage, up to this many
      rounds of insertion moves (one slot taken out and put back at any other
      position: (L-1)^2 distinct neighbours, adjacent swaps included); each
      round keeps the best and the rounds stop when none improves. It fixes
      the misses the paper's block moves cannot, e.g. ``1 2 3 4 5 6 0 7``
      one move from forward. 0 is the paper's search.
    num_starts: beyond the paper: insertion rounds run from the local
      stage's result and, when above 1, also from the next ``num_starts - 1``
      best distinct orders of the last global run (without their own local
      stage); the best end point wins. Needs ``insertion_rounds`` >= 1
      when above 1. 1 is the paper's single start.
    reuse_scores: an order already profiled in this search is not profiled
      again: its earlier score is reused (the paper re-profiles survivors in
      every global stage and the current order in every local run). Right
      when an order's score does not depend on the batch it is profiled
      with, as with independent profiles and common random numbers (the
      default profile); turn it off for batch-dependent scorers. It changes
      what is spent, not what is found: at L=8 about 675 order-profiles
      instead of 950 with the defaults (``results/search_study_L8.md``).
    refine_rounds: beyond the paper: after the search, up to this many
      insertion rounds from its result scored by a second, finer scorer
      (``run_search``'s ``refine_fn``; ``search_order``: one model per
      order, averaged over seeds). For a cheap, coarse first scorer (a
      universal mixture), whose near-ties the finer one resolves. 0: none.

  The defaults are the search that works best in our measurements (insertion
  rounds from 3 starts); ``SearchConfig.paper()`` is the paper's search
  exactly (no insertion rounds, one start).
  """
  depth: int | None = None
  init: str = 'random'
  structured_block: int = 5
  local_rounds: int = 1
  max_block_perms: int = 5040
  budget: int | None = None
  batch_size: int = 512
  population_size: int = 64
  tournament_size: int = 3
  mutation_rate: float = 0.5
  crossover_rate: float = 0.9
  elite: int = 2
  insertion_rounds: int = 4
  num_starts: int = 3
  reuse_scores: bool = True
  refine_rounds: int = 0

  @classmethod
  def paper(cls, **overrides) -> SearchConfig:
    """The paper's hierarchical search exactly: no insertion, one start."""
    return cls(**{'insertion_rounds': 0, 'num_starts': 1, **overrides})

  @classmethod
  def build(cls, *, paper: bool = False, **overrides) -> SearchConfig:
    """The default search, or the paper's when ``paper``, with the overrides
    that are not None (so unset command-line flags keep the defaults)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return cls.paper(**given) if paper else cls(**given)

  def __post_init__(self):
    def need_int(name, lo, hi=None, optional=False):
      value = getattr(self, name)
      if optional and value is None:
        return
      if (not _is_int(value) or value < lo or (hi is not None and value > hi)):
        bounds = f'>= {lo}' if hi is None else f'in {lo}..{hi}'
        none = ' or None' if optional else ''
        raise ValueError(
            f'SearchConfig.{name} must be an int {bounds}{none}, got '
            f'{value!r}')

    def need_prob(name):
      value = getattr(self, name)
      if not _is_real(value) or not 0.0 <= float(value) <= 1.0:
        raise ValueError(f'SearchConfig.{name} must be a probability in '
                         f'[0, 1], got {value!r}')

    need_int('depth', 1, MAX_DEPTH, optional=True)
    if self.init not in INITS:
      raise ValueError(f'SearchConfig.init must be one of {list(INITS)}, got '
                       f'{self.init!r}')
    need_int('structured_block', 1)
    need_int('local_rounds', 1)
    need_int('max_block_perms', 2)
    need_int('budget', 1, optional=True)
    need_int('batch_size', 1)
    need_int('population_size', 2)
    need_int('tournament_size', 1, self.population_size)
    need_prob('mutation_rate')
    need_prob('crossover_rate')
    need_int('elite', 0, self.population_size - 1)
    need_int('insertion_rounds', 0)
    need_int('num_starts', 1)
    need_int('refine_rounds', 0)
    if not isinstance(self.reuse_scores, (bool, np.bool_)):
      raise ValueError(f'SearchConfig.reuse_scores must be a bool, got '
                       f'{self.reuse_scores!r}')
    if self.num_starts > 1 and self.insertion_rounds == 0:
      raise ValueError(
          f'SearchConfig.num_starts={self.num_starts} needs insertion_rounds '
          f'>= 1: extra starts are refined by insertion moves alone; use '
          f'num_starts=1 with insertion_rounds=0 (the paper\'s search)')

  def to_dict(self) -> dict[str, Any]:
    return results.to_jsonable(dataclasses.asdict(self))


def default_depth(length: int) -> int:
  """The paper's global depth K for target length L.

  K = 4 for L <= 8, 5 for L = 9 and 6 for L >= 10 (PAPER.md Table 2),
  capped to 1 <= K <= L-1 so that short orders still split into K blocks.
  """
  _check_length(length)
  depth = 4 if length <= 8 else 5 if length == 9 else 6
  return max(1, min(depth, length - 1))


def _resolve_depth(length: int, config: SearchConfig) -> int:
  if config.depth is None:
    return default_depth(length)
  if config.depth > max(1, length - 1):
    raise ValueError(f'SearchConfig.depth={config.depth} is too deep for '
                     f'length {length}: it must be at most '
                     f'{max(1, length - 1)}')
  return config.depth


def _num_inside(size: int, cap: int) -> int:
  """Re-orderings tried inside one block of ``size``, the identity included."""
  return min(math.factorial(size), cap)


def _num_block_moves(num_blocks: int) -> int:
  """Distinct block arrangements: identity, m-1 cyclic shifts, C(m,2) swaps."""
  if num_blocks <= 1:
    return 1
  if num_blocks == 2:
    return 2  # the one shift and the one swap coincide
  return 1 + (num_blocks - 1) + num_blocks * (num_blocks - 1) // 2


def _local_sizes(length: int, block: int) -> list[int]:
  return [len(b) for b in orders_lib.fixed_size_blocks(np.arange(length),
                                                         block)]


def hierarchical_budget(length: int, config: SearchConfig | None = None
                        ) -> int:
  """Order-profiles the hierarchical search spends at most for length L.

  K*T for the global stage (T per stage; deduplication can only lower it),
  plus, for each local pass (``local_rounds`` at most), sum over
  l = 2..floor(L/2) of (1 + sum over blocks (min(size!, max_block_perms) - 1))
  inside-block candidates and the distinct block reorderings (1 + (m-1) +
  m(m-1)/2 for m >= 3 blocks, 2 for m = 2). The local counts are exact.

  Example: L = 8, K = 4: 4*120 + (5 + 10) + (12 + 6) + (47 + 2) = 562.
  Plus, at most, ``num_starts * insertion_rounds * (1 + (L-1)^2)`` for the
  insertion rounds (they stop at the first round that does not improve), and
  ``refine_rounds * (1 + (L-1)^2)`` for the refine rounds, so with the
  defaults the bound at L = 8 is 562 + 3 * 4 * 50 = 1162. With
  ``reuse_scores`` (the default) a search spends less than the bound: about
  650-700 at L = 8 with the defaults, about 440 with ``SearchConfig.paper()``;
  ``SearchConfig.paper(reuse_scores=False)`` spends exactly 562 (fewer only
  when the global stage has duplicates).
  """
  _check_length(length)
  config = SearchConfig() if config is None else config
  depth = _resolve_depth(length, config)
  total = depth * math.factorial(depth + 1)
  local = 0
  for block in range(2, length // 2 + 1):
    sizes = _local_sizes(length, block)
    local += 1 + sum(_num_inside(s, config.max_block_perms) - 1
                     for s in sizes)
    local += _num_block_moves(len(sizes))
  insertion = ((config.num_starts * config.insertion_rounds
                + config.refine_rounds) * (1 + (length - 1) ** 2))
  return total + config.local_rounds * local + insertion


def _check_length(length) -> None:
  if not _is_int(length) or length < 1:
    raise ValueError(f'length must be an int >= 1, got {length!r}')


# --------------------------------------------------------------------------
# Records.
# --------------------------------------------------------------------------


def _floats(values) -> np.ndarray:
  """float64 array from numbers or the strings 'inf'/'nan' of JSON records."""
  return np.array([float(v) for v in values], dtype=np.float64)


def _perm_array(rows, length: int) -> np.ndarray:
  return np.asarray(rows, dtype=np.int64).reshape(-1, length)


@dataclasses.dataclass
class StageRecord:
  """One profiling run of a search.

  Attributes:
    name: e.g. ``'global k=2'``, ``'local l=3 inside'``, ``'local l=3
      blocks'`` (``'local r=2 l=3 ...'`` in later local passes), ``'random
      batch 0'``, ``'exhaustive batch 0'``, ``'evolution gen 3'``.
    candidates: int[N, L], the orders profiled (deduplicated).
    scores: float[N], their scores; NaN and inf are stored as +inf.
    survivors: int[M, L], what the method carries on: the kept orders
      (hierarchical), the best order so far (random, exhaustive) or the next
      population (evolution).
    best_score: the lowest score of this run.
    seconds: wall-clock seconds of the scorer call.
    num_nonfinite: how many of ``scores`` were NaN or inf.
    num_reused: how many of ``candidates`` had been profiled earlier in the
      search and were not profiled again (``SearchConfig.reuse_scores``).
  """
  name: str
  candidates: np.ndarray
  scores: np.ndarray
  survivors: np.ndarray
  best_score: float
  seconds: float
  num_nonfinite: int = 0
  num_reused: int = 0

  def to_dict(self) -> dict[str, Any]:
    return results.to_jsonable(dataclasses.asdict(self))

  @classmethod
  def from_dict(cls, data: Mapping[str, Any], length: int) -> StageRecord:
    return cls(name=data['name'],
               candidates=_perm_array(data['candidates'], length),
               scores=_floats(data['scores']),
               survivors=_perm_array(data['survivors'], length),
               best_score=float(data['best_score']),
               seconds=float(data['seconds']),
               num_nonfinite=int(data.get('num_nonfinite', 0)),
               num_reused=int(data.get('num_reused', 0)))


@dataclasses.dataclass
class SearchResult:
  """What a search found.

  Attributes:
    order: int[L], the best order found.
    score: its score (in the profiling run that chose it); +inf when every
      order scored NaN/inf.
    history: one ``StageRecord`` per profiling run, in sequence.
    num_profiled: total rows sent to the scorer (replayed runs included).
    wall_time: seconds of the search (replayed runs at their logged time).
    method: 'hierarchical', 'random', 'exhaustive' or 'evolution'.
    local_optimum: hierarchical: True when the last local pass found no
      improving move, so ``order`` is a local optimum of the local
      neighbourhood; False when the last pass still moved, and for L < 4,
      which has no local stage. Exhaustive: True (the global optimum).
      Random, evolution: False (no claim).
  """
  order: np.ndarray
  score: float
  history: list[StageRecord]
  num_profiled: int
  wall_time: float
  method: str
  local_optimum: bool

  def to_dict(self) -> dict[str, Any]:
    return {
        'order': results.to_jsonable(self.order),
        'score': results.to_jsonable(float(self.score)),
        'history': [r.to_dict() for r in self.history],
        'num_profiled': int(self.num_profiled),
        'wall_time': float(self.wall_time),
        'method': self.method,
        'local_optimum': bool(self.local_optimum),
    }

  @classmethod
  def from_dict(cls, data: Mapping[str, Any]) -> SearchResult:
    order = np.asarray(data['order'], dtype=np.int64)
    return cls(order=order,
               score=float(data['score']),
               history=[StageRecord.from_dict(r, order.size)
                        for r in data['history']],
               num_profiled=int(data['num_profiled']),
               wall_time=float(data['wall_time']),
               method=data['method'],
               local_optimum=bool(data['local_optimum']))


# --------------------------------------------------------------------------
# The scorer wrapper: sanitising, history, callback, replay log.
# --------------------------------------------------------------------------


def _rank(scores: np.ndarray) -> np.ndarray:
  """Indices best first; stable, so ties keep first occurrence."""
  return np.argsort(scores, kind='stable')


def _flatten(obj, prefix=''):
  if isinstance(obj, dict):
    out = {}
    for key, value in obj.items():
      out.update(_flatten(value, f'{prefix}{key}.'))
    if not obj and prefix:
      out[prefix[:-1]] = {}
    return out
  return {prefix[:-1]: obj}


class _Profiler:
  """Wraps ``score_fn``: sanitises scores, keeps history, replays a log."""

  def __init__(self, score_fn: ScoreFn, length: int, callback,
               state_path: str | None, fingerprint: dict[str, Any],
               logged_calls: list[dict[str, Any]], reuse: bool = False,
               reusable: Callable[[int], Hashable] | None = None,
               refine_fn: ScoreFn | None = None):
    self._reuse = reuse
    self._refine_fn = refine_fn
    self._reusable = reusable
    self._known: dict[tuple[Hashable, bytes], float] = {}  # (pool, order)
    self._reused = 0  # reused rows of the last ``score`` call
    self._score_fn = score_fn
    self._length = length
    self._callback = callback
    self._state_path = state_path
    self._fingerprint = fingerprint
    self._logged = logged_calls
    self.calls: list[dict[str, Any]] = []  # jsonable log of completed calls
    self.history: list[StageRecord] = []
    self.num_profiled = 0
    self.replayed_seconds = 0.0

  def score(self, perms: np.ndarray, refine: bool = False
            ) -> tuple[np.ndarray, float]:
    """Scores int[N, L]; returns (float64[N] with NaN/inf -> +inf, seconds).

    With reuse, only orders not scored before in this search go to the
    scorer (one call, or none when every order is known). ``reusable(N)``
    names the pool of a call's scores: orders are reused only from calls
    of the same pool (runs scored alike); a call it answers False or None
    is scored whole and its scores are not kept. ``refine`` calls go to the
    refine scorer and have a pool of their own.
    """
    perms = np.ascontiguousarray(perms, dtype=np.int64)
    if refine:
      pool = ('refine',)
    else:
      pool = (True if self._reusable is None
              else self._reusable(perms.shape[0]))
    if not self._reuse or pool is False or pool is None:
      self._reused = 0
      return self._call(perms, refine)
    keys = [(pool, row.tobytes()) for row in perms]
    fresh, pending = [], set()  # first rows of orders not scored before
    for i, key in enumerate(keys):
      if key not in self._known and key not in pending:
        pending.add(key)
        fresh.append(i)
    seconds = 0.0
    if fresh:
      scores, seconds = self._call(perms[fresh], refine)
      for i, value in zip(fresh, scores):
        self._known[keys[i]] = float(value)
    self._reused = len(keys) - len(fresh)
    return np.array([self._known[k] for k in keys], np.float64), seconds

  def _call(self, perms: np.ndarray, refine: bool = False
            ) -> tuple[np.ndarray, float]:
    """One profiling run (or its replay from the log)."""
    index = len(self.calls)
    if index < len(self._logged):
      try:
        logged = self._logged[index]
        logged_perms = _perm_array(logged['perms'], self._length)
        scores = _floats(logged['scores'])
        seconds = float(logged['seconds'])
      except (KeyError, TypeError, ValueError) as e:
        raise ValueError(f'checkpoint {self._state_path} is corrupt: '
                         f'profiling run {index} is unreadable ({e!r}); '
                         'delete it to start afresh') from None
      if (not np.array_equal(logged_perms, perms)
          or scores.shape != (perms.shape[0],)):
        raise ValueError(
            f'checkpoint {self._state_path} is corrupt or does not match this '
            f'search: profiling run {index} asked for different orders than '
            'the logged ones; delete it to start afresh')
      self.replayed_seconds += seconds
    else:
      start = time.perf_counter()
      raw = (self._refine_fn if refine else self._score_fn)(perms.copy())
      seconds = time.perf_counter() - start
      try:
        scores = np.asarray(raw, dtype=np.float64)
      except (TypeError, ValueError) as e:
        raise ValueError(f'score_fn must return float[O]: {e}') from None
      if scores.shape != (perms.shape[0],):
        raise ValueError(f'score_fn returned shape {scores.shape} for '
                         f'{perms.shape[0]} orders; expected '
                         f'({perms.shape[0]},)')
      scores = np.where(np.isfinite(scores), scores, np.inf)
    self.num_profiled += perms.shape[0]
    self.calls.append({'perms': perms, 'scores': scores, 'seconds': seconds})
    if self._state_path is not None and index >= len(self._logged):
      self.write_state()
    return scores, seconds

  def record(self, name: str, candidates: np.ndarray, scores: np.ndarray,
             survivors: np.ndarray, seconds: float) -> None:
    rec = StageRecord(
        name=name, candidates=np.asarray(candidates, dtype=np.int64),
        scores=np.asarray(scores, dtype=np.float64),
        survivors=np.asarray(survivors, dtype=np.int64).reshape(
            -1, self._length),
        best_score=float(np.min(scores)), seconds=float(seconds),
        num_nonfinite=int(np.sum(~np.isfinite(scores))),
        num_reused=self._reused)
    self._reused = 0
    self.history.append(rec)
    if self._callback is not None:
      self._callback(rec)

  def write_state(self, result: SearchResult | None = None) -> None:
    state = {'version': _STATE_VERSION, 'fingerprint': self._fingerprint,
             'calls': self.calls, 'done': result is not None}
    if result is not None:
      state['result'] = result.to_dict()
    results.atomic_write_json(self._state_path, state)


def _load_state(path: str, fingerprint: dict[str, Any]) -> dict[str, Any]:
  directory = os.path.dirname(path)
  try:
    with open(path) as f:
      state = json.load(f)
    if not isinstance(state, dict) or 'fingerprint' not in state:
      raise ValueError('not a search state')
  except (OSError, ValueError) as e:
    raise ValueError(f'checkpoint {path} is corrupt ({e}); delete it to '
                     'start afresh') from None
  old, new = _flatten(state['fingerprint']), _flatten(fingerprint)
  for key in sorted(set(old) | set(new), key=str):
    a, b = old.get(key, '<missing>'), new.get(key, '<missing>')
    if a != b:
      raise ValueError(f'checkpoint in {directory} was written by different '
                       f'arguments: key {key} was {a!r}, now {b!r}; use '
                       'another checkpoint_dir or delete it')
  return state


# --------------------------------------------------------------------------
# Order generators.
# --------------------------------------------------------------------------


def _host_rng(key: jax.Array) -> np.random.Generator:
  """A numpy Generator seeded deterministically from a JAX key."""
  return np.random.default_rng(np.asarray(jax.random.key_data(key)))


def _sample_distinct(rng: np.random.Generator, num: int, length: int,
                     exclude: set[bytes] | None = None) -> np.ndarray:
  """``num`` distinct uniform orders not in ``exclude`` (fewer if L! runs out).

  Uniform over the orders not excluded: rejection sampling, or a shuffled
  enumeration when most of the L! orders are wanted.
  """
  exclude = set() if exclude is None else exclude
  available = math.factorial(length) - len(exclude) if length <= 20 else num
  num = max(0, min(num, available))
  if length <= 8 and 2 * (
      num + len(exclude)) >= math.factorial(length):
    pool = orders_lib.all_orders(length)
    pool = pool[rng.permutation(pool.shape[0])]
    keep = [row for row in pool if row.tobytes() not in exclude]
    return np.asarray(keep[:num], dtype=np.int64).reshape(num, length)
  seen, out = set(exclude), []
  while len(out) < num:
    draw = rng.permuted(np.tile(np.arange(length, dtype=np.int64),
                                (2 * (num - len(out)) + 8, 1)), axis=1)
    for row in draw:
      key = row.tobytes()
      if key not in seen:
        seen.add(key)
        out.append(row)
        if len(out) == num:
          break
  return np.asarray(out, dtype=np.int64).reshape(num, length)


def _arrange(blocks: list[np.ndarray], arrangements) -> np.ndarray:
  return np.stack([np.concatenate([blocks[i] for i in a])
                   for a in arrangements])


def _structured_population(init_key: jax.Array, topup_key: jax.Array,
                           length: int, size: int, block: int) -> np.ndarray:
  """The paper's P_b: block permutations of the forward and reverse orders.

  Forward and reverse are cut into blocks of ``block`` (a shorter tail is its
  own block) and every ordering of those m blocks is taken, deduplicated.
  When m! is too large to enumerate (m > 8), ``size`` random block orderings
  of each are drawn instead. More than ``size`` orders: a uniform random
  subset of ``size`` (forward and reverse are not favoured). Fewer: topped up
  with distinct uniform random orders to ``size`` (the paper does not say).
  """
  rng = _host_rng(init_key)
  bases = [orders_lib.identity(length), orders_lib.reverse(length)]
  num_blocks = len(orders_lib.fixed_size_blocks(bases[0], block))
  parts = []
  for base in bases:
    blocks = orders_lib.fixed_size_blocks(base, block)
    if num_blocks <= 8:
      arrangements = itertools.permutations(range(num_blocks))
    else:
      arrangements = [rng.permutation(num_blocks) for _ in range(size)]
    parts.append(_arrange(blocks, arrangements))
  population, _ = orders_lib.unique_orders(np.concatenate(parts))
  if population.shape[0] > size:
    chosen = np.sort(rng.choice(population.shape[0], size, replace=False))
    return population[chosen]
  if population.shape[0] < size:
    extra = _sample_distinct(_host_rng(topup_key), size - population.shape[0],
                             length, {row.tobytes() for row in population})
    population = np.concatenate([population, extra])
  return population


def _inside_candidates(order: np.ndarray, block: int, cap: int,
                       key: jax.Array) -> np.ndarray:
  """``order`` plus every re-ordering inside one block of size ``block``."""
  rows = [order[None]]
  start = 0
  for index, piece in enumerate(orders_lib.fixed_size_blocks(order, block)):
    size = piece.shape[0]
    if size >= 2:
      if math.factorial(size) <= cap:
        inner = np.array(list(itertools.permutations(range(size)))[1:],
                         dtype=np.int64)
      else:  # l! > cap: identity + (cap - 1) distinct uniform re-orderings.
        exclude = {np.arange(size, dtype=np.int64).tobytes()}
        inner = _sample_distinct(_host_rng(jax.random.fold_in(key, index)),
                                 cap - 1, size, exclude)
      moved = np.tile(order, (inner.shape[0], 1))
      moved[:, start:start + size] = piece[inner]
      rows.append(moved)
    start += size
  return orders_lib.unique_orders(np.concatenate(rows))[0]


def _block_move_candidates(order: np.ndarray, block: int) -> np.ndarray:
  """``order`` plus all cyclic shifts and pairwise swaps of its blocks."""
  blocks = orders_lib.fixed_size_blocks(order, block)
  m = len(blocks)
  arrangements = [tuple(range(m))]
  arrangements += [tuple((i + s) % m for i in range(m)) for s in range(1, m)]
  for i, j in itertools.combinations(range(m), 2):
    swapped = list(range(m))
    swapped[i], swapped[j] = j, i
    arrangements.append(tuple(swapped))
  return orders_lib.unique_orders(_arrange(blocks, arrangements))[0]


# --------------------------------------------------------------------------
# Methods.
# --------------------------------------------------------------------------


@dataclasses.dataclass
class _Keys:
  init_key: jax.Array
  topup_key: jax.Array
  local_key: jax.Array
  random_key: jax.Array
  evolution_key: jax.Array


def _make_keys(seed: int) -> _Keys:
  root = jax.random.key(seed)
  init_key, topup_key, local_key, random_key, evolution_key = (
      jax.random.split(root, 5))
  return _Keys(init_key, topup_key, local_key, random_key, evolution_key)


def _insertion_candidates(order: np.ndarray) -> np.ndarray:
  """``order`` first, then every order with one slot moved elsewhere.

  Returns:
    int64[1 + (L-1)^2, L] (L >= 2), deduplicated: moving slot i to i+1 and
    slot i+1 to i give the same adjacent swap.
  """
  length = order.shape[0]
  rows = [order]
  for i in range(length):
    rest = np.delete(order, i)
    for j in range(length):
      if j != i:
        rows.append(np.insert(rest, j, order[i]))
  return orders_lib.unique_orders(np.stack(rows))[0]


def _hierarchical(prof: _Profiler, length: int, config: SearchConfig,
                  keys: _Keys) -> tuple[np.ndarray, float, bool]:
  """Hierarchical global-local search.

  Global stage, depth K, T = (K+1)!: the population starts with T orders
  (``init``). For k = 1..K every survivor is expanded by all k! orderings of
  its k contiguous blocks (sizes differ by at most one, larger first; k = 1
  is the survivor itself), the candidates are deduplicated (first occurrence
  kept), profiled, and the best floor(T/(k+1)!) (at least 1) survive. If
  more than one survivor is left they are profiled once more and the best is
  taken (with T = (K+1)! exactly one is left, so this never costs a run).

  Local stage, for l = 2..floor(L/2): (a) the current order plus, for every
  block of l consecutive positions (a shorter tail is its own block; a block
  of one has nothing to permute), all l! re-orderings inside that one block
  with everything else unchanged (at most ``max_block_perms`` per block);
  deduplicated, profiled, best kept. (b) That order plus all cyclic shifts
  and all pairwise swaps of the same blocks (the paper's floor(L/l)
  reorderings Q' are unspecified; these include the paper's likely cyclic
  shifts and stay at O(m^2) candidates); deduplicated, profiled, best kept.
  The current order is candidate 0 of (a) and (b) and wins ties, so a step
  never gets worse within its run and moves only on a strict improvement.
  ``local_rounds`` > 1 repeats the pass while the previous pass moved.

  Insertion rounds (beyond the paper, ``insertion_rounds`` > 0): the current
  order plus all its single-slot insertion moves; best kept; repeated while
  it improves. Then the same from each of the next ``num_starts - 1`` best
  distinct orders of the last global run, in rank order; an end point
  replaces the result only with a strictly lower score. ``local_optimum``
  then refers to the insertion neighbourhood of the returned order.

  References: Sato, Kawamoto & Kera, arXiv 2506.23875, §4 (Eq. 4.2-4.4).

  Returns:
    (order int[L], its score, local_optimum).
  """
  depth = _resolve_depth(length, config)
  size = math.factorial(depth + 1)
  if config.init == 'random':
    current = orders_lib.sample_orders(keys.init_key, size, length)
  else:
    current = _structured_population(keys.init_key, keys.topup_key, length,
                                     size, config.structured_block)
  score = math.inf
  for k in range(1, depth + 1):
    # Column indices of the k! block orderings, as orders_lib.block_reorderings
    # of the positions; every survivor expanded in turn, survivor-major.
    columns = orders_lib.block_reorderings(np.arange(length), k)
    candidates = current[:, columns].reshape(-1, length)
    candidates = orders_lib.unique_orders(candidates)[0]
    scores, seconds = prof.score(candidates)
    ranked = _rank(scores)
    keep = ranked[:max(1, size // math.factorial(k + 1))]
    current, score = candidates[keep], float(scores[keep[0]])
    prof.record(f'global k={k}', candidates, scores, current, seconds)
    global_ranked, global_scores = candidates[ranked], scores[ranked]
  if current.shape[0] > 1:
    scores, seconds = prof.score(current)
    best = _rank(scores)[:1]
    prof.record('global final', current, scores, current[best], seconds)
    current, score = current[best], float(scores[best[0]])
  order = current[0]
  # Extra starts: the next best distinct orders of the last global run.
  others = ~np.all(global_ranked == order, axis=1)
  extra_starts = list(zip(global_ranked[others],
                          global_scores[others]))[:config.num_starts - 1]

  moved = False
  for rnd in range(config.local_rounds):
    moved = False
    prefix = 'local' if rnd == 0 else f'local r={rnd + 1}'
    for block in range(2, length // 2 + 1):
      block_key = jax.random.fold_in(jax.random.fold_in(keys.local_key, rnd),
                                     block)
      for part in ('inside', 'blocks'):
        if part == 'inside':  # (a) uses the order before this l ...
          candidates = _inside_candidates(order, block,
                                          config.max_block_perms, block_key)
        else:  # ... (b) the order (a) chose.
          candidates = _block_move_candidates(order, block)
        scores, seconds = prof.score(candidates)
        best = int(_rank(scores)[0])
        moved |= best != 0
        order, score = candidates[best], float(scores[best])
        prof.record(f'{prefix} l={block} {part}', candidates, scores,
                    order[None], seconds)
    if not moved:
      break
  # L < 4 has no local stage, hence no neighbourhood to be optimal in.
  local_optimum = length >= 4 and not moved
  if config.insertion_rounds == 0 or length < 2:
    return order, score, local_optimum
  order, score, local_optimum = _insertion_climb(
      prof, order, config.insertion_rounds, 'insertion')
  for start, (begin, _) in enumerate(extra_starts, 2):
    end, end_score, end_optimum = _insertion_climb(
        prof, begin, config.insertion_rounds, f'start {start} insertion')
    if end_score < score:
      order, score, local_optimum = end, end_score, end_optimum
  return order, score, local_optimum


def _insertion_climb(prof: _Profiler, order: np.ndarray, rounds: int,
                     name: str, refine: bool = False
                     ) -> tuple[np.ndarray, float, bool]:
  """Up to ``rounds`` best-improvement steps over single-slot insertions
  (scored by the refine scorer when ``refine``).

  Returns:
    (order, its score, whether the last round found no better neighbour).
  """
  score, optimum = math.inf, False
  for rnd in range(rounds):
    candidates = _insertion_candidates(order)
    scores, seconds = prof.score(candidates, refine)
    best = int(_rank(scores)[0])
    order, score = candidates[best], float(scores[best])
    prof.record(f'{name} r={rnd + 1}', candidates, scores, order[None],
                seconds)
    optimum = best == 0
    if optimum:
      break
  return order, score, optimum


def _score_batches(prof: _Profiler, perms: np.ndarray, config: SearchConfig,
                   name: str, best: tuple[np.ndarray | None, float]):
  """Profiles ``perms`` in runs of ``batch_size``; returns the running best."""
  order, score = best
  for index, start in enumerate(range(0, perms.shape[0], config.batch_size)):
    batch = perms[start:start + config.batch_size]
    scores, seconds = prof.score(batch)
    i = int(_rank(scores)[0])
    if order is None or scores[i] < score:
      order, score = batch[i], float(scores[i])
    prof.record(f'{name} batch {index}', batch, scores, order[None], seconds)
  return order, score


def _random_search(prof, length, config, keys, budget):
  """Random search: ``budget`` distinct uniform orders (at most L!)."""
  perms = _sample_distinct(_host_rng(keys.random_key), budget, length)
  order, score = _score_batches(prof, perms, config, 'random', (None, math.inf))
  return order, score, False


def _exhaustive(prof, length, config):
  """Every order of length L <= 7, lexicographic, in runs of batch_size."""
  if length > MAX_EXHAUSTIVE_LENGTH:
    raise ValueError(
        f'exhaustive search is limited to L <= {MAX_EXHAUSTIVE_LENGTH}; '
        f'L = {length} has {math.factorial(length)} orders')
  order, score = _score_batches(prof, orders_lib.all_orders(length), config,
                                'exhaustive', (None, math.inf))
  return order, score, True


def _order_crossover(rng: np.random.Generator, first: np.ndarray,
                     second: np.ndarray) -> np.ndarray:
  """OX1: a slice of ``first`` in place, the rest in ``second``'s sequence."""
  length = first.shape[0]
  i, j = np.sort(rng.choice(length + 1, 2, replace=False))
  child = np.full(length, -1, dtype=np.int64)
  child[i:j] = first[i:j]
  taken = set(first[i:j].tolist())
  fill = [g for g in np.roll(second, -j).tolist() if g not in taken]
  positions = [(j + t) % length for t in range(length - (j - i))]
  child[positions] = fill
  return child


def _mutate(rng: np.random.Generator, order: np.ndarray) -> np.ndarray:
  """Swap two positions or invert a segment (equal odds)."""
  order = order.copy()
  if order.shape[0] < 2:
    return order
  i, j = np.sort(rng.choice(order.shape[0], 2, replace=False))
  if rng.random() < 0.5:
    order[i], order[j] = order[j], order[i]
  else:
    order[i:j + 1] = order[i:j + 1][::-1]
  return order


def _evolution(prof, length, config, keys, budget):
  """Permutation genetic algorithm with a cache so no order is re-profiled.

  Population of ``population_size`` distinct uniform orders. Each generation
  keeps the ``elite`` best unchanged and fills the rest with children: two
  parents by tournament selection (``tournament_size``, with replacement),
  order crossover OX1 with probability ``crossover_rate`` (else a copy of the
  first parent), then with probability ``mutation_rate`` a swap or an
  inversion mutation; a child equal to an already-scored order is mutated
  again (up to 10 times) to look for a new one. Only orders never scored
  before are profiled and count towards ``budget``; the last generation is
  truncated so the budget is met exactly. Stops early only when no new order
  turns up for 50 generations or all L! orders are scored.

  References: Davis 1985 (order crossover, "Applying adaptive algorithms to
  epistatic domains", IJCAI); Goldberg 1989 (Genetic Algorithms in Search,
  Optimization and Machine Learning: tournament selection, elitism,
  swap/inversion mutation).
  """
  population_key, operator_key = jax.random.split(keys.evolution_key)
  rng = _host_rng(operator_key)
  cache: dict[bytes, float] = {}
  best_order, best_score = None, math.inf
  total = math.factorial(length) if length <= 20 else math.inf

  def profile(new, name, population_of):
    nonlocal best_order, best_score
    scores, seconds = prof.score(new)
    for row, s in zip(new, scores):
      cache[row.tobytes()] = float(s)
    i = int(_rank(scores)[0])
    if best_order is None or scores[i] < best_score:
      best_order, best_score = new[i], float(scores[i])
    prof.record(name, new, scores, population_of(), seconds)

  population = _sample_distinct(_host_rng(population_key),
                                min(config.population_size, budget), length)
  profile(population, 'evolution gen 0', lambda: population)
  spent, stale, generation = population.shape[0], 0, 0
  while spent < budget and len(cache) < total and stale < (
      _MAX_STALE_GENERATIONS):
    generation += 1
    fitness = np.array([cache[row.tobytes()] for row in population])
    ranked = _rank(fitness)
    elites = population[ranked[:config.elite]]

    def tournament():
      entrants = rng.integers(0, population.shape[0], config.tournament_size)
      return population[entrants[_rank(fitness[entrants])[0]]]

    children, fresh = [], {}
    for _ in range(config.population_size - elites.shape[0]):
      first, second = tournament(), tournament()
      if rng.random() < config.crossover_rate:
        child = _order_crossover(rng, first, second)
      else:
        child = first.copy()
      if rng.random() < config.mutation_rate:
        child = _mutate(rng, child)
      for _ in range(_MAX_DUPLICATE_RETRIES):
        if child.tobytes() not in cache and child.tobytes() not in fresh:
          break
        child = _mutate(rng, child)
      if child.tobytes() not in cache and child.tobytes() not in fresh:
        fresh[child.tobytes()] = child
      children.append(child)
    new = list(fresh.values())[:budget - spent]
    keep = {row.tobytes() for row in new}
    children = [c for c in children
                if c.tobytes() in cache or c.tobytes() in keep]
    next_population = np.concatenate(
        [elites, np.asarray(children, dtype=np.int64).reshape(-1, length)])
    if not new:
      stale += 1
      population = next_population
      continue
    stale = 0
    new = np.stack(new)
    profile(new, f'evolution gen {generation}', lambda: next_population)
    spent += new.shape[0]
    population = next_population
  return best_order, best_score, False


# --------------------------------------------------------------------------
# Entry point.
# --------------------------------------------------------------------------


def run_search(score_fn: ScoreFn, length: int, *,
               method: str = 'hierarchical',
               config: SearchConfig | None = None, seed: int = 0,
               checkpoint_dir: str | None = None,
               fingerprint: Mapping[str, Any] | None = None,
               callback: Callable[[StageRecord], None] | None = None,
               reusable: Callable[[int], Hashable] | None = None,
               refine_fn: ScoreFn | None = None) -> SearchResult:
  """Searches for the order with the lowest score.

  Resumable: with ``checkpoint_dir``, after every scorer call the search
  atomically writes ``checkpoint_dir/search_state.json`` with the
  fingerprint (the caller's ``fingerprint`` plus method, length, seed and
  config) and every completed call (its orders, scores and seconds). A later
  call with the same arguments replays the logged calls instead of scoring
  them (checking that the search asks for the same orders) and goes on with
  the real scorer. All randomness comes from ``seed``, so an interrupted and
  resumed search returns exactly what an uninterrupted one would, losing at
  most the run in flight. A finished search stores its result (``done``)
  and a rerun returns it without scoring.

  Args:
    score_fn: ``perms int64[O, L] -> float[O]``, lower is friendlier; NaN
      and inf count as +inf. Each call is one profiling run.
    length: L.
    method: 'hierarchical', 'random', 'exhaustive' or 'evolution'.
    config: ``SearchConfig``; None for the defaults.
    seed: all randomness comes from ``jax.random.key(seed)``.
    checkpoint_dir: directory for the resumable state, or None.
    fingerprint: JSON-able dict describing the caller's setup (task,
      profile config, ...); a checkpoint written with a different one is
      refused.
    callback: called with each ``StageRecord`` after its profiling run
      (replayed runs included).
    reusable: with ``config.reuse_scores``, which runs' scores may be kept
      and reused, by their number of orders: False (or None) for runs whose
      scores must not be (they depend on the population: mixture mode),
      else a hashable pool; scores are reused only within a pool, so runs
      of different profilers never mix. None (the argument): one pool.
      It is called with the run's size before each run's scorer call
      (refine runs aside), so a scorer may pick its profiler by it.
    refine_fn: the scorer of ``config.refine_rounds`` (same contract as
      ``score_fn``); needed when they are above 0. Its scores are kept
      apart, and the result's score is its score when it ran.

  Returns:
    A ``SearchResult``.

  Raises:
    ValueError: unknown method, bad length/seed/config, exhaustive beyond
      L = 7, a scorer output of the wrong shape, or a checkpoint that was
      written by different arguments or is corrupt.
  """
  if method not in METHODS:
    raise ValueError(f'unknown search method {method!r}; known: '
                     f'{list(METHODS)}')
  if not callable(score_fn):
    raise ValueError(f'score_fn must be callable, got {score_fn!r}')
  if refine_fn is not None and not callable(refine_fn):
    raise ValueError(f'refine_fn must be callable, got {refine_fn!r}')
  _check_length(length)
  if not _is_int(seed):
    raise ValueError(f'seed must be an int, got {seed!r}')
  config = SearchConfig() if config is None else config
  if not isinstance(config, SearchConfig):
    raise ValueError(f'config must be a SearchConfig, got {config!r}')
  if config.refine_rounds and refine_fn is None:
    raise ValueError(f'SearchConfig.refine_rounds={config.refine_rounds} '
                     'needs a refine_fn to score them')
  if fingerprint is not None and not isinstance(fingerprint, Mapping):
    raise ValueError(f'fingerprint must be a dict, got {fingerprint!r}')
  length, seed = int(length), int(seed)
  if method == 'exhaustive' and length > MAX_EXHAUSTIVE_LENGTH:
    raise ValueError(
        f'exhaustive search is limited to L <= {MAX_EXHAUSTIVE_LENGTH}; '
        f'L = {length} has {math.factorial(length)} orders')
  if method == 'hierarchical':
    _resolve_depth(length, config)
  budget = config.budget
  if budget is None and method in ('random', 'evolution'):
    budget = hierarchical_budget(length, config)

  full_fingerprint = json.loads(json.dumps(results.to_jsonable({
      'caller': dict(fingerprint or {}), 'method': method, 'length': length,
      'seed': seed, 'config': config.to_dict()})))
  state_path, logged = None, []
  if checkpoint_dir is not None:
    state_path = os.path.join(checkpoint_dir, STATE_FILE)
    if os.path.exists(state_path):
      state = _load_state(state_path, full_fingerprint)
      if state.get('done'):
        try:
          return SearchResult.from_dict(state['result'])
        except (KeyError, TypeError, ValueError) as e:
          raise ValueError(f'checkpoint {state_path} is corrupt: its result '
                           f'is unreadable ({e!r}); delete it to start '
                           'afresh') from None
      logged = list(state.get('calls', []))

  start = time.perf_counter()
  prof = _Profiler(score_fn, length, callback, state_path, full_fingerprint,
                   logged, reuse=config.reuse_scores, reusable=reusable,
                   refine_fn=refine_fn)
  keys = _make_keys(seed)
  if method == 'hierarchical':
    order, score, local_optimum = _hierarchical(prof, length, config, keys)
  elif method == 'random':
    order, score, local_optimum = _random_search(prof, length, config, keys,
                                                 budget)
  elif method == 'exhaustive':
    order, score, local_optimum = _exhaustive(prof, length, config)
  else:
    order, score, local_optimum = _evolution(prof, length, config, keys,
                                             budget)
  if config.refine_rounds:
    order, score, local_optimum = _insertion_climb(
        prof, np.asarray(order), config.refine_rounds, 'refine', refine=True)
  elapsed = time.perf_counter() - start
  result = SearchResult(
      order=np.asarray(order, dtype=np.int64).copy(), score=float(score),
      history=prof.history, num_profiled=prof.num_profiled,
      wall_time=elapsed + prof.replayed_seconds,
      method=method, local_optimum=bool(local_optimum))
  if state_path is not None:
    prof.write_state(result)
  return result


# --------------------------------------------------------------------------
# Bound to the loss profiler.
# --------------------------------------------------------------------------


def profile_fingerprint(task: tasks_lib.Task,
                        profile_config: profile_lib.ProfileConfig
                        ) -> dict[str, Any]:
  """What a search's scores depend on, as JSON: the task and profile config."""
  config = profile_config.to_dict()
  # Performance knobs do not change scores: a search may resume with others.
  del config['chunk_size'], config['vmap_group']
  return {'task': task.name, 'task_length': task.length,
          'task_params': dict(task.params), 'profile_config': config}


def _profile_config_or_default(name: str, value: Any
                               ) -> profile_lib.ProfileConfig:
  """``value``, or ``ProfileConfig()`` for None; anything else is an error."""
  if value is None:
    return profile_lib.ProfileConfig()
  if not isinstance(value, profile_lib.ProfileConfig):
    raise ValueError(f'{name} must be a ProfileConfig, got '
                     f'{type(value).__name__}')
  return value


def search_order(task: str | tasks_lib.Task, *, length: int = 8,
                 method: str = 'hierarchical',
                 config: SearchConfig | None = None,
                 profile_config: profile_lib.ProfileConfig | None = None,
                 seed: int = 0, checkpoint_dir: str | None = None,
                 callback: Callable[[StageRecord], None] | None = None,
                 small_profile_config: profile_lib.ProfileConfig | None
                 = None, small_below: int = 0,
                 refine_profile_config: profile_lib.ProfileConfig | None
                 = None, refine_seeds: int = 2) -> SearchResult:
  """Finds a learning-friendly order of ``task`` by loss profiling.

  Every profiling run of the search is ``profile_orders`` on its candidates
  with ``profile_config`` and the same ``seed``, so with common random
  numbers (the default) an order gets the same score in every run.

  In mixture mode (``profile_config.mode='mixture'``) a score depends on the
  population trained with it, so mixture scores are never reused; scores
  from different runs (extra starts, baselines' running best) are compared
  as they are, held-out losses of models trained alike. A mixture also
  favours the population's majority: trained on one order's insertion
  neighbourhood at relu L=13, it ranked that order 1st of 145 by a wide
  margin although two of its neighbours are friendlier (one model per order
  ranked them better). Hence the hybrid: runs of fewer than ``small_below``
  orders are profiled with ``small_profile_config`` (default: the
  independent ``ProfileConfig()``), whose scores are reused; the large
  global-stage runs keep the mixture's cost advantage. Or train a universal
  mixture (``random_order_fraction=1``): one model on uniformly random
  orders, trained once and reused by every run, with reusable scores and no
  population bias. A universal model is a coarse scorer near the optimum
  (at relu L=13 it scores orders that differ in the first few slots within
  0.1% of each other); ``config.refine_rounds`` then climbs by insertion
  moves from its result with ``refine_profile_config`` (default: the
  independent ``ProfileConfig()``), each order's score the mean over
  ``refine_seeds`` seeds (seed, seed+1, ...).

  Args:
    task: a task name (built at ``length``) or a Task.
    length: L when ``task`` is a name; ignored for a Task.
    method: 'hierarchical' (the paper's), 'random', 'exhaustive' (L <= 7)
      or 'evolution'; the baselines get the hierarchical method's budget of
      order-profiles unless ``config.budget`` says otherwise.
    config: SearchConfig; None for the defaults.
    profile_config: ProfileConfig of every profiling run; None for defaults.
    seed: seed of the search and of every profile.
    checkpoint_dir: if set, the search is resumable there (``run_search``).
    callback: called with each StageRecord after its profiling run.
    small_profile_config: the ProfileConfig of runs of fewer than
      ``small_below`` orders; None gives ``ProfileConfig()``.
    small_below: runs of fewer orders use ``small_profile_config``; 0 (the
      default) profiles every run with ``profile_config``.
    refine_profile_config: the ProfileConfig of ``config.refine_rounds``;
      None gives ``ProfileConfig()``. Must not be a population-dependent
      mixture (its scores are reused).
    refine_seeds: seeds each refine score averages over (common random
      numbers within each seed).

  Returns:
    A SearchResult; ``order`` is the discovered order.

  References:
    Sato, Kawamoto & Kera, arXiv 2506.23875, §4.
  """
  if isinstance(task, str):
    task = tasks_lib.get_task(task, length=length)
  elif not isinstance(task, tasks_lib.Task):
    raise ValueError(f'task must be a task name or a lopro.Task, got '
                     f'{type(task).__name__}')
  profile_config = _profile_config_or_default('profile_config',
                                              profile_config)
  small_profile_config = _profile_config_or_default('small_profile_config',
                                                    small_profile_config)
  if not _is_int(small_below) or small_below < 0:
    raise ValueError(f'small_below must be an int >= 0, got {small_below!r}')

  def config_for(num_orders: int) -> profile_lib.ProfileConfig:
    return (small_profile_config if num_orders < small_below
            else profile_config)

  # The profiler is picked by the size of the whole run, not by how many of
  # its orders are new: ``reusable`` is told the size before every call.
  run_size = [0]

  def score_fn(perms: np.ndarray) -> np.ndarray:
    return profile_lib.profile_orders(perms, task,
                                      config=config_for(run_size[0]),
                                      seed=seed).scores

  # A mixture score comes from a model trained on that very population: an
  # order's score in one run does not carry over to another, unless the
  # model is universal (trained on random orders only, the same every run).
  # Scores of the two profilers of a hybrid are kept apart.
  def reusable(num_orders: int) -> str | bool:
    run_size[0] = num_orders
    run_config = config_for(num_orders)
    if run_config.mode == 'mixture' and not run_config.universal:
      return False
    return 'small' if num_orders < small_below else 'main'

  refine_profile_config = _profile_config_or_default('refine_profile_config',
                                                     refine_profile_config)
  if (refine_profile_config.mode == 'mixture'
      and not refine_profile_config.universal):
    raise ValueError('refine_profile_config must not be a population-'
                     'dependent mixture: its scores are reused')
  if not _is_int(refine_seeds) or refine_seeds < 1:
    raise ValueError(f'refine_seeds must be an int >= 1, got '
                     f'{refine_seeds!r}')

  def refine_fn(perms: np.ndarray) -> np.ndarray:
    return np.mean([profile_lib.profile_orders(
        perms, task, config=refine_profile_config, seed=seed + s).scores
                    for s in range(refine_seeds)], axis=0)

  fingerprint = profile_fingerprint(task, profile_config)
  if config is not None and config.refine_rounds:
    fingerprint['refine_profile_config'] = profile_fingerprint(
        task, refine_profile_config)['profile_config']
    fingerprint['refine_seeds'] = int(refine_seeds)
  if small_below:
    fingerprint['small_below'] = int(small_below)
    fingerprint['small_profile_config'] = profile_fingerprint(
        task, small_profile_config)['profile_config']
  return run_search(score_fn, task.length, method=method, config=config,
                    seed=seed, checkpoint_dir=checkpoint_dir,
                    fingerprint=fingerprint, callback=callback,
                    reusable=reusable, refine_fn=refine_fn)
