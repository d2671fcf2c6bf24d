"""Tests for lopro.search, driven by synthetic scorers (milliseconds each)."""

import itertools
import json
import math
import os

import numpy as np
import pytest

from lopro import orders
from lopro import search


# --------------------------------------------------------------------------
# Synthetic scorers with a hidden order h.
# --------------------------------------------------------------------------


def _positions(h, perms):
  """pos[i, j] = where slot perms[i, j] sits in h."""
  return orders.invert_order(np.asarray(h))[np.asarray(perms)]


def _kendall_rows(h, perms):
  pos = _positions(h, perms)
  upper = np.triu_indices(pos.shape[1], 1)
  return (pos[:, upper[0]] > pos[:, upper[1]]).sum(axis=1)


def kendall_scorer(h):
  """Kendall distance to h (0 only at h)."""
  return lambda perms: _kendall_rows(h, perms).astype(np.float64)


def adjacency_scorer(h):
  """Adjacent pairs not consecutive in h, plus a tiny Kendall tie-breaker."""
  def score(perms):
    broken = (np.diff(_positions(h, perms), axis=1) != 1).sum(axis=1)
    return broken + 1e-3 * _kendall_rows(h, perms)
  return score


class Recorder:
  """Wraps a scorer; remembers every call; can crash on call ``crash_on``."""

  def __init__(self, fn, crash_on=None):
    self.fn, self.crash_on, self.calls = fn, crash_on, []

  def __call__(self, perms):
    if self.crash_on is not None and len(self.calls) + 1 == self.crash_on:
      raise RuntimeError('simulated crash')
    self.calls.append(np.array(perms))
    return self.fn(perms)


def hidden(length, seed):
  return np.random.default_rng(1000 + seed).permutation(length)


# The paper's search exactly (no insertion rounds, one start): the stage
# structure and the measured hit rates below are the paper's.
PAPER = search.SearchConfig.paper()
# ... and profiling every candidate again, even one scored before.
PAPER_LITERAL = search.SearchConfig.paper(reuse_scores=False)


def _rows(array):
  return {tuple(r) for r in np.asarray(array).tolist()}


# --------------------------------------------------------------------------
# Config, depth, budget.
# --------------------------------------------------------------------------


def test_default_depth_follows_paper_and_caps():
  assert [search.default_depth(n) for n in range(1, 14)] == [
      1, 1, 2, 3, 4, 4, 4, 4, 5, 6, 6, 6, 6]


def test_hierarchical_budget_l8():
  # Global: K=4 stages of T=5!=120. Local l=2: blocks [2,2,2,2]:
  # 1 + 4*(2!-1) = 5 inside; block moves of m=4: identity + 3 shifts + 6
  # swaps = 10. l=3: [3,3,2]: 1+5+5+1 = 12; m=3: 1+2+3 = 6 (= 3!).
  # l=4: [4,4]: 1+23+23 = 47; m=2: shift == swap, so 2.
  assert search.hierarchical_budget(8, PAPER) == 480 + 5 + 10 + 12 + 6 + 47 + 2
  two = search.SearchConfig.paper(local_rounds=2)
  assert search.hierarchical_budget(8, two) == 480 + 2 * 82
  # The defaults add at most 3 starts x 4 insertion rounds x (1 + 7^2).
  assert search.hierarchical_budget(8) == 562 + 3 * 4 * 50 == 1162


@pytest.mark.parametrize('kwargs, bad', [
    (dict(depth=0), '0'), (dict(depth=9), '9'), (dict(depth=2.0), '2.0'),
    (dict(init='forward'), "'forward'"), (dict(structured_block=0), '0'),
    (dict(local_rounds=0), '0'), (dict(budget=0), '0'),
    (dict(population_size=1), '1'), (dict(tournament_size=100), '100'),
    (dict(mutation_rate=1.5), '1.5'), (dict(crossover_rate=-0.1), '-0.1'),
    (dict(elite=64), '64'), (dict(batch_size=True), 'True'),
    (dict(max_block_perms=1), '1'), (dict(num_starts=0), '0'),
    (dict(insertion_rounds=-1), '-1'),
])
def test_config_validation_quotes_bad_value(kwargs, bad):
  with pytest.raises(ValueError, match=f'{list(kwargs)[0]}.*{bad}'):
    search.SearchConfig(**kwargs)


def test_paper_preset_and_extra_starts_need_insertion():
  assert (PAPER.insertion_rounds, PAPER.num_starts) == (0, 1)
  assert search.SearchConfig.paper(depth=3).depth == 3
  # build: None means "not given", as for unset command-line flags.
  assert search.SearchConfig.build(insertion_rounds=None) == (
      search.SearchConfig())
  assert search.SearchConfig.build(paper=True, num_starts=None,
                                   depth=3) == search.SearchConfig.paper(
                                       depth=3)
  with pytest.raises(ValueError, match='num_starts=2 needs insertion_rounds'):
    search.SearchConfig(num_starts=2, insertion_rounds=0)


def test_bad_arguments():
  f = kendall_scorer(np.arange(5))
  with pytest.raises(ValueError, match="unknown search method 'beam'.*"
                     "hierarchical.*random.*exhaustive.*evolution"):
    search.run_search(f, 5, method='beam')
  with pytest.raises(ValueError, match='too deep'):
    search.run_search(f, 5, config=search.SearchConfig(depth=5))
  with pytest.raises(ValueError, match='length'):
    search.run_search(f, 0)
  with pytest.raises(ValueError, match=r'shape \(3,\)'):
    search.run_search(lambda p: np.zeros(3), 5)


# --------------------------------------------------------------------------
# Hierarchical: stage structure.
# --------------------------------------------------------------------------


def test_stage_counts_and_survivors_l8():
  length, scorer = 8, Recorder(kendall_scorer(hidden(8, 0)))
  result = search.run_search(scorer, length, seed=0, config=PAPER_LITERAL)
  names = [r.name for r in result.history]
  assert names == ['global k=1', 'global k=2', 'global k=3', 'global k=4',
                   'local l=2 inside', 'local l=2 blocks',
                   'local l=3 inside', 'local l=3 blocks',
                   'local l=4 inside', 'local l=4 blocks']
  # One record per scorer call, holding exactly what the scorer saw.
  assert len(scorer.calls) == len(result.history)
  for call, rec in zip(scorer.calls, result.history):
    np.testing.assert_array_equal(call, rec.candidates)
    assert len(_rows(call)) == call.shape[0]  # deduplicated within a call
    assert rec.best_score == rec.scores.min()
  assert result.num_profiled == sum(c.shape[0] for c in scorer.calls)

  global_recs = result.history[:4]
  t = 120
  assert [r.survivors.shape[0] for r in global_recs] == [60, 20, 5, 1]
  # k=1: the deduplicated initial population (120 random orders of 8! rarely
  # collide); k>=2: every survivor times its k! block orderings, deduplicated.
  assert global_recs[0].candidates.shape[0] == len(
      _rows(global_recs[0].candidates)) <= t
  for k, (prev, rec) in enumerate(zip(global_recs, global_recs[1:]), 2):
    expected = set()
    for row in prev.survivors:
      expected |= _rows(orders.block_reorderings(row, k))
    assert _rows(rec.candidates) == expected
    assert rec.candidates.shape[0] == len(expected) <= t
    # The survivors are the best ones, in rank order.
    best = np.sort(rec.scores)[:rec.survivors.shape[0]]
    np.testing.assert_array_equal(
        scorer.fn(rec.survivors), best)
  # This seed has no collisions: exactly T per stage.
  assert [r.candidates.shape[0] for r in global_recs] == [t] * 4
  # Local stage: 5, 10 | 12, 6 | 47, 2 (see test_hierarchical_budget_l8).
  assert [r.candidates.shape[0] for r in result.history[4:]] == [
      5, 10, 12, 6, 47, 2]
  assert result.num_profiled == search.hierarchical_budget(8, PAPER) == 562
  assert all(r.num_reused == 0 for r in result.history)
  assert all(r.survivors.shape[0] == 1 for r in result.history[4:])


def test_local_candidates_are_one_block_moves():
  length = 8
  result = search.run_search(kendall_scorer(hidden(8, 3)), length, seed=1,
                             config=PAPER)
  recs = {r.name: r for r in result.history}
  inside = recs['local l=3 inside'].candidates
  before = recs['local l=2 blocks'].survivors[0]
  np.testing.assert_array_equal(inside[0], before)  # current order first
  # Every other candidate differs from it inside exactly one block of 3.
  blocks = [(0, 3), (3, 6), (6, 8)]
  for row in inside[1:]:
    changed = [b for b in blocks if not np.array_equal(row[b[0]:b[1]],
                                                       before[b[0]:b[1]])]
    assert len(changed) == 1
    a, b = changed[0]
    assert sorted(row[a:b]) == sorted(before[a:b])
  # Block moves of l=2: the 4 blocks of the chosen order, 3 cyclic shifts
  # and 6 swaps, all distinct from each other and from the order itself.
  chosen = recs['local l=2 inside'].survivors[0]
  moves = recs['local l=2 blocks'].candidates
  pieces = [tuple(chosen[i:i + 2]) for i in range(0, 8, 2)]
  arrangements = [tuple(range(4))] + [
      tuple((i + s) % 4 for i in range(4)) for s in range(1, 4)]
  for i, j in itertools.combinations(range(4), 2):
    a = list(range(4))
    a[i], a[j] = j, i
    arrangements.append(tuple(a))
  expected = {sum((pieces[i] for i in a), ()) for a in arrangements}
  assert _rows(moves) == expected and len(moves) == 10


def test_local_stage_never_gets_worse_and_ties_keep_current():
  result = search.run_search(kendall_scorer(hidden(8, 2)), 8, seed=4,
                             config=PAPER)
  current = result.history[3].survivors[0]
  for rec in result.history[4:]:
    # The current order is candidate 0 and the survivor is never worse.
    np.testing.assert_array_equal(rec.candidates[0], current)
    assert rec.best_score <= rec.scores[0]
    current = rec.survivors[0]
  np.testing.assert_array_equal(result.order, current)
  # A constant scorer: nothing moves, so the result is a local optimum.
  flat = search.run_search(lambda p: np.ones(len(p)), 8, seed=4)
  assert flat.local_optimum
  for rec in flat.history[4:]:
    np.testing.assert_array_equal(rec.survivors[0], rec.candidates[0])


def test_deterministic_given_seed():
  f = adjacency_scorer(hidden(8, 1))
  a = search.run_search(f, 8, seed=3)
  b = search.run_search(f, 8, seed=3)
  c = search.run_search(f, 8, seed=4)
  assert json.dumps(_strip_time(a.to_dict())) == json.dumps(
      _strip_time(b.to_dict()))
  assert not np.array_equal(a.history[0].candidates, c.history[0].candidates)


def test_structured_init_holds_forward_and_reverse_block_permutations():
  # L=12, b=5: blocks [0..4],[5..9],[10,11] -> 3! orderings of forward and of
  # reverse = 12 orders; depth 2 gives T = 6, a uniform subset of them.
  config = search.SearchConfig(init='structured', depth=2)
  result = search.run_search(kendall_scorer(np.arange(12)), 12, config=config)
  structured = set()
  for base in (orders.identity(12), orders.reverse(12)):
    blocks = orders.fixed_size_blocks(base, 5)
    for p in itertools.permutations(range(3)):
      structured.add(tuple(np.concatenate([blocks[i] for i in p])))
  init = _rows(result.history[0].candidates)
  assert len(init) == 6 and init <= structured
  # L=8, b=5: [0..4],[5..7] -> 2 + 2 structured orders, topped up with
  # distinct random orders to T = 120.
  config = search.SearchConfig(init='structured')
  result = search.run_search(kendall_scorer(np.arange(8)), 8, config=config)
  init = result.history[0].candidates
  assert init.shape[0] == 120 == len(_rows(init))
  assert _rows(init[:4]) == {(0, 1, 2, 3, 4, 5, 6, 7), (5, 6, 7, 0, 1, 2, 3, 4),
                             (7, 6, 5, 4, 3, 2, 1, 0), (2, 1, 0, 7, 6, 5, 4, 3)}
  # Structured init finds the forward order of a forward-friendly scorer.
  np.testing.assert_array_equal(result.order, np.arange(8))


def test_local_rounds_repeat_until_no_move():
  f = kendall_scorer(hidden(8, 0))
  one = search.run_search(f, 8, seed=2, config=PAPER)
  more = search.run_search(f, 8, seed=2,
                           config=search.SearchConfig.paper(local_rounds=5))
  assert more.score <= one.score
  assert more.local_optimum  # 5 rounds are enough for this case
  # The last pass made no move.
  last = [r for r in more.history if r.name.endswith('blocks')][-6:]
  assert all(np.array_equal(r.candidates[0], r.survivors[0]) for r in last)
  assert more.num_profiled <= search.hierarchical_budget(
      8, search.SearchConfig.paper(local_rounds=5))


def test_large_blocks_are_subsampled():
  # L=18: l=9 has 9! = 362,880 orders per block; capped at 100 per block.
  config = search.SearchConfig(depth=2, max_block_perms=100)
  f = Recorder(kendall_scorer(hidden(18, 0)))
  result = search.run_search(f, 18, config=config)
  rec = {r.name: r for r in result.history}['local l=9 inside']
  assert rec.candidates.shape[0] == 1 + 2 * 99
  assert result.num_profiled <= search.hierarchical_budget(18, config)


# --------------------------------------------------------------------------
# Hierarchical: how often it finds the hidden order (measured, 20 seeds).
# --------------------------------------------------------------------------

# Measured hits out of 20 seeds (random init, local_rounds=1):
#   adjacency: L=6 20, L=8 18, L=10 20;  Kendall: L=6 19, L=8 15, L=10 20.
@pytest.mark.parametrize('length, make, min_hits', [
    (6, adjacency_scorer, 19), (8, adjacency_scorer, 17),
    (10, adjacency_scorer, 19), (6, kendall_scorer, 18),
    (8, kendall_scorer, 13), (10, kendall_scorer, 19),
])
def test_hit_rate_random_init(length, make, min_hits):
  hits = 0
  for seed in range(20):
    h = hidden(length, seed)
    f = make(h)
    result = search.run_search(f, length, seed=seed, config=PAPER)
    optimum = float(f(h[None])[0])
    assert result.score == float(f(result.order[None])[0])
    if np.array_equal(result.order, h):
      hits += 1
      assert result.score == optimum
    else:  # a miss never claims the optimum score
      assert result.score > optimum
  assert hits >= min_hits


# Measured with local_rounds=3 at L=8: adjacency 18/20 (both misses are
# true local optima of the local neighbourhood), Kendall 20/20; every run
# ends with a pass that makes no move.
@pytest.mark.parametrize('make, min_hits', [(adjacency_scorer, 17),
                                            (kendall_scorer, 19)])
def test_misses_with_more_local_rounds_are_reported_local_optima(make,
                                                                 min_hits):
  config = search.SearchConfig.paper(local_rounds=3)
  hits = 0
  for seed in range(20):
    h = hidden(8, seed)
    f = make(h)
    result = search.run_search(f, 8, seed=seed, config=config)
    if np.array_equal(result.order, h):
      hits += 1
    else:
      assert result.local_optimum and result.score > float(f(h[None])[0])
  assert hits >= min_hits


def test_random_baseline_is_worse_than_hierarchical_at_l8():
  hier, rand = [], []
  for seed in range(8):
    f = kendall_scorer(hidden(8, seed))
    h = search.run_search(f, 8, seed=seed, config=PAPER)
    r = search.run_search(f, 8, seed=seed, method='random', config=PAPER)
    # Collisions in the global stage can only lower the hierarchical count.
    assert h.num_profiled <= r.num_profiled == 562
    hier.append(h.score)
    rand.append(r.score)
  assert np.mean(hier) < np.mean(rand)


# --------------------------------------------------------------------------
# Baselines.
# --------------------------------------------------------------------------


def test_random_baseline_distinct_batches_and_budget():
  f = Recorder(kendall_scorer(hidden(7, 0)))
  config = search.SearchConfig(budget=1200, batch_size=500)
  result = search.run_search(f, 7, method='random', config=config, seed=1)
  assert [c.shape[0] for c in f.calls] == [500, 500, 200]
  seen = np.concatenate(f.calls)
  assert len(_rows(seen)) == 1200 == result.num_profiled
  assert result.score == min(float(f.fn(seen).min()), result.score)
  assert not result.local_optimum
  # A budget above L! is capped at L!.
  capped = search.run_search(kendall_scorer(np.arange(4)), 4, method='random',
                             config=search.SearchConfig(budget=100))
  assert capped.num_profiled == 24 and capped.score == 0


def test_exhaustive_finds_optimum_and_refuses_l8():
  h = hidden(5, 0)
  f = Recorder(adjacency_scorer(h))
  result = search.run_search(f, 5, method='exhaustive')
  np.testing.assert_array_equal(result.order, h)
  assert result.num_profiled == 120 and result.score == 0
  assert result.local_optimum
  with pytest.raises(ValueError, match='L <= 7.*40320'):
    search.run_search(f, 8, method='exhaustive')


def test_evolution_budget_exact_and_improves():
  for seed in range(3):
    f = Recorder(kendall_scorer(hidden(8, seed)))
    config = search.SearchConfig(budget=500, population_size=40)
    result = search.run_search(f, 8, method='evolution', config=config,
                               seed=seed)
    seen = np.concatenate(f.calls)
    assert seen.shape[0] == 500 == result.num_profiled
    assert len(_rows(seen)) == 500  # never re-profiles an order
    first = result.history[0]
    assert first.name == 'evolution gen 0' and first.candidates.shape[0] == 40
    assert result.score < first.best_score
    assert result.score == float(f.fn(seen).min())
    assert result.score == float(f.fn(result.order[None])[0])
  # The default budget is the hierarchical one.
  default = search.run_search(kendall_scorer(hidden(8, 0)), 8,
                              method='evolution')
  assert default.num_profiled == search.hierarchical_budget(8) == 1162


def test_order_crossover_and_mutation_keep_permutations():
  rng = np.random.default_rng(0)
  for _ in range(200):
    a, b = rng.permutation(9), rng.permutation(9)
    child = search._order_crossover(rng, a, b)
    orders.validate_order(child, 9)
    orders.validate_order(search._mutate(rng, child), 9)
  # OX1 by hand: slice [2:5] of a in place, rest in b's sequence from 5 on.
  a, b = np.array([0, 1, 2, 3, 4, 5, 6]), np.array([6, 5, 4, 3, 2, 1, 0])

  class Cuts:
    def choice(self, *args, **kwargs):
      return np.array([5, 2])
  np.testing.assert_array_equal(search._order_crossover(Cuts(), a, b),
                                [6, 5, 2, 3, 4, 1, 0])


# --------------------------------------------------------------------------
# Bad scores.
# --------------------------------------------------------------------------


def test_nan_and_inf_scores_rank_last():
  h = hidden(8, 5)
  kendall = kendall_scorer(h)

  def nasty(perms):
    s = kendall(perms)
    s[perms[:, 0] == h[1]] = np.nan
    s[perms[:, 0] == h[2]] = np.inf
    s[perms[:, 0] == h[3]] = -np.inf
    return s

  for method in ('hierarchical', 'random', 'evolution'):
    result = search.run_search(nasty, 8, method=method, seed=0)
    assert np.isfinite(result.score)
    assert result.order[0] not in h[1:4]
    recs = result.history
    assert sum(r.num_nonfinite for r in recs) > 0
    assert all(np.isnan(r.scores).sum() == 0 for r in recs)
    for r in recs:
      bad = ~np.isfinite(r.scores)
      assert np.all(r.scores[bad] == np.inf)
    json.dumps(result.to_dict())
  every = search.run_search(lambda p: np.full(len(p), np.nan), 6, seed=0)
  assert every.score == np.inf and every.to_dict()['score'] == 'inf'


# --------------------------------------------------------------------------
# Records and checkpoints.
# --------------------------------------------------------------------------


def _strip_time(d):
  d = dict(d, wall_time=0.0)
  d['history'] = [dict(r, seconds=0.0) for r in d['history']]
  return d


def test_to_dict_round_trips_through_json():
  result = search.run_search(kendall_scorer(hidden(6, 0)), 6)
  text = json.dumps(result.to_dict())
  back = search.SearchResult.from_dict(json.loads(text))
  assert back.to_dict() == result.to_dict()
  assert isinstance(back.history[0], search.StageRecord)


def test_callback_sees_every_record():
  seen = []
  result = search.run_search(kendall_scorer(hidden(6, 0)), 6,
                             callback=seen.append)
  assert [r.name for r in seen] == [r.name for r in result.history]


@pytest.mark.parametrize('method', ['hierarchical', 'evolution', 'random'])
def test_resume_after_crash_gives_same_result(tmp_path, method):
  h = hidden(8, 7)
  config = search.SearchConfig(budget=300, batch_size=100)
  kwargs = dict(method=method, config=config, seed=5,
                fingerprint={'task': 'synthetic', 'h': h})
  straight = Recorder(kendall_scorer(h))
  expected = search.run_search(straight, 8, **kwargs)

  directory = str(tmp_path / 'ckpt')
  crashing = Recorder(kendall_scorer(h), crash_on=3)
  with pytest.raises(RuntimeError, match='simulated crash'):
    search.run_search(crashing, 8, checkpoint_dir=directory, **kwargs)
  state = json.load(open(os.path.join(directory, search.STATE_FILE)))
  assert len(state['calls']) == 2 and not state['done']

  resumed_scorer = Recorder(kendall_scorer(h))
  resumed = search.run_search(resumed_scorer, 8, checkpoint_dir=directory,
                              **kwargs)
  # Only the remaining calls were made, and they are the ones a straight run
  # makes from its 3rd call on.
  assert len(resumed_scorer.calls) == len(straight.calls) - 2
  for a, b in zip(resumed_scorer.calls, straight.calls[2:]):
    np.testing.assert_array_equal(a, b)
  assert _strip_time(resumed.to_dict()) == _strip_time(expected.to_dict())

  # Finished: a rerun returns the stored result without scoring.
  again = Recorder(kendall_scorer(h))
  final = search.run_search(again, 8, checkpoint_dir=directory, **kwargs)
  assert again.calls == []
  assert final.to_dict() == resumed.to_dict()


def test_checkpoint_from_other_arguments_is_refused(tmp_path):
  directory = str(tmp_path)
  f = kendall_scorer(hidden(6, 0))
  search.run_search(f, 6, seed=1,
                    checkpoint_dir=directory, fingerprint={'task': 'a'})
  with pytest.raises(ValueError, match='different arguments: key seed was 1, '
                     'now 2'):
    search.run_search(f, 6, seed=2, checkpoint_dir=directory,
                      fingerprint={'task': 'a'})
  with pytest.raises(ValueError, match='key config.depth was None, now 3'):
    search.run_search(f, 6, seed=1, checkpoint_dir=directory,
                      fingerprint={'task': 'a'},
                      config=search.SearchConfig(depth=3))
  with pytest.raises(ValueError, match="key caller.task was 'a', now 'b'"):
    search.run_search(f, 6, seed=1, checkpoint_dir=directory,
                      fingerprint={'task': 'b'})
  with pytest.raises(ValueError, match='key method'):
    search.run_search(f, 6, seed=1, checkpoint_dir=directory,
                      fingerprint={'task': 'a'}, method='random')


def test_corrupt_or_mismatched_checkpoint_is_refused(tmp_path):
  f = kendall_scorer(hidden(6, 0))
  path = tmp_path / search.STATE_FILE
  path.write_text('{"fingerprint": ')
  with pytest.raises(ValueError, match='corrupt'):
    search.run_search(f, 6, checkpoint_dir=str(tmp_path))
  # A log whose first call does not match what the search asks for.
  with pytest.raises(RuntimeError):
    search.run_search(Recorder(f, crash_on=3), 6, checkpoint_dir=str(
        tmp_path / 'b'))
  state_path = tmp_path / 'b' / search.STATE_FILE
  state = json.loads(state_path.read_text())
  state['calls'][0]['perms'][0] = state['calls'][0]['perms'][1]
  state_path.write_text(json.dumps(state))
  with pytest.raises(ValueError, match='corrupt or does not match'):
    search.run_search(f, 6, checkpoint_dir=str(tmp_path / 'b'))
  assert math.isfinite(search.run_search(f, 6).score)


_SLOW_SEARCH = r'''
import sys, time
import numpy as np
from lopro import search
h = np.random.default_rng(1007).permutation(8)
inv = np.argsort(h)
def score(perms):
  time.sleep(0.2)
  pos = inv[perms]
  return (np.diff(pos, axis=1) != 1).sum(axis=1).astype(float)
search.run_search(score, 8, seed=3, checkpoint_dir=sys.argv[1],
                  fingerprint={'task': 'slow-synthetic'})
'''


def test_sigkill_and_resume_gives_the_uninterrupted_result(tmp_path):
  import signal  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top
  import time  # pylint: disable=g-import-not-at-top
  directory = str(tmp_path / 'ckpt')
  path = os.path.join(directory, search.STATE_FILE)
  proc = subprocess.Popen([sys.executable, '-c', _SLOW_SEARCH, directory])
  try:
    deadline = time.time() + 120
    while time.time() < deadline:
      try:
        with open(path) as f:
          if len(json.load(f)['calls']) >= 3:
            break
      except (OSError, ValueError):
        pass
      time.sleep(0.05)
    else:
      pytest.fail('the search never wrote 3 profiling runs')
    os.kill(proc.pid, signal.SIGKILL)
  finally:
    proc.kill()
    proc.wait(timeout=30)
  with open(path) as f:
    state = json.load(f)  # a SIGKILL never leaves a half-written state
  assert not state['done'] and len(state['calls']) >= 3

  h = np.random.default_rng(1007).permutation(8)
  inv = np.argsort(h)
  scorer = Recorder(
      lambda p: (np.diff(inv[p], axis=1) != 1).sum(axis=1).astype(float))
  resumed = search.run_search(scorer, 8, seed=3, checkpoint_dir=directory,
                              fingerprint={'task': 'slow-synthetic'})
  straight = search.run_search(scorer.fn, 8, seed=3,
                               fingerprint={'task': 'slow-synthetic'})
  np.testing.assert_array_equal(resumed.order, straight.order)
  assert resumed.num_profiled == straight.num_profiled
  # At most the run in flight was lost: the logged runs were not redone.
  # One scorer call per record that had new orders, minus the replayed ones.
  calls = sum(len(r.candidates) > r.num_reused for r in straight.history)
  assert len(scorer.calls) == calls - len(state['calls'])


def test_real_search_recovers_relu_friendly_order_at_l6():
  import lopro  # pylint: disable=g-import-not-at-top
  # A short search: depth 3 (24 orders per global run) and two local passes,
  # each order profiled for 150 steps of the default explorer; chunks of at
  # most 8 orders keep the compiled shapes to 8, 4 and 2.
  result = lopro.search_order(
      'relu', length=6, seed=0,
      config=search.SearchConfig.paper(depth=3, local_rounds=2),
      profile_config=lopro.ProfileConfig(steps=150, chunk_size=8))
  np.testing.assert_array_equal(result.order, np.arange(6))
  assert result.local_optimum
  assert result.num_profiled == sum(len(r.candidates) - r.num_reused
                                    for r in result.history)


def test_insertion_candidates_are_single_moves():
  order = np.array([1, 2, 3, 4, 5, 6, 0, 7])
  cands = search._insertion_candidates(order)
  assert cands.shape == (1 + 7 * 7, 8)  # (L-1)^2 distinct moves + current
  np.testing.assert_array_equal(cands[0], order)
  assert len(_rows(cands)) == cands.shape[0]
  assert (0, 1, 2, 3, 4, 5, 6, 7) in _rows(cands)  # 0 moved to the front
  for row in cands[1:]:
    # Exactly one slot moved: the rest keep their relative sequence.
    assert any(np.array_equal(np.delete(row, np.flatnonzero(row == s)),
                              np.delete(order, np.flatnonzero(order == s)))
               for s in range(8))


def test_insertion_rounds_budget_records_and_hit_rate():
  config = search.SearchConfig(insertion_rounds=5, num_starts=1)
  assert search.hierarchical_budget(8, config) == 562 + 5 * 50
  hits = 0
  for seed in range(20):
    h = hidden(8, seed)
    result = search.run_search(kendall_scorer(h), 8, seed=seed, config=config)
    names = [r.name for r in result.history]
    assert names[-1].startswith('insertion r=')
    assert result.local_optimum  # stopped because no move improved
    assert result.num_profiled <= search.hierarchical_budget(8, config)
    hits += np.array_equal(result.order, h)
  # Measured 20/20 (15/20 without insertion rounds).
  assert hits >= 19


def test_extra_starts_climb_from_the_next_best_global_orders():
  h = hidden(8, 0)
  f = Recorder(adjacency_scorer(h))
  config = search.SearchConfig(insertion_rounds=3, num_starts=3)
  result = search.run_search(f, 8, seed=1, config=config)
  recs = result.history
  last_global = {r.name: r for r in recs}['global k=4']
  ranked = last_global.candidates[np.argsort(last_global.scores,
                                             kind='stable')]
  local_start = {r.name: r for r in recs}['local l=4 blocks'].survivors[0]
  expected = [row for row in ranked if not np.array_equal(row, local_start)]
  for start in (2, 3):
    first = [r for r in recs if r.name == f'start {start} insertion r=1']
    assert len(first) == 1
    np.testing.assert_array_equal(first[0].candidates[0],
                                  expected[start - 2])
  # The result is the best end point of all climbs, and never worse than
  # the paper's search from the same seed.
  ends = [r.survivors[0] for r in recs if 'insertion' in r.name]
  assert result.score == min(float(f.fn(e[None])[0]) for e in ends)
  paper = search.run_search(f.fn, 8, seed=1, config=PAPER)
  assert result.score <= paper.score
  assert result.num_profiled <= search.hierarchical_budget(8, config)


# Measured hits out of 20 seeds with the defaults (insertion rounds from 3
# starts): adjacency 20/20 and Kendall 20/20 at L=8 (paper: 18 and 15).
@pytest.mark.parametrize('make', [adjacency_scorer, kendall_scorer])
def test_default_search_hit_rate_l8(make):
  hits = 0
  for seed in range(20):
    h = hidden(8, seed)
    result = search.run_search(make(h), 8, seed=seed)
    hits += np.array_equal(result.order, h)
  assert hits >= 19


@pytest.mark.parametrize('config', [PAPER, search.SearchConfig()])
def test_reuse_scores_finds_the_same_with_fewer_profiles(config):
  import dataclasses  # pylint: disable=g-import-not-at-top
  for seed in range(3):
    f = adjacency_scorer(hidden(8, seed))
    again = Recorder(f)
    literal = search.run_search(
        again, 8, seed=seed, config=dataclasses.replace(config,
                                                       reuse_scores=False))
    reuse = Recorder(f)
    result = search.run_search(reuse, 8, seed=seed, config=config)
    np.testing.assert_array_equal(result.order, literal.order)
    assert result.score == literal.score
    # Same stages, same candidates and scores; only the spend differs.
    assert [r.name for r in result.history] == [
        r.name for r in literal.history]
    for a, b in zip(result.history, literal.history):
      np.testing.assert_array_equal(a.candidates, b.candidates)
      np.testing.assert_array_equal(a.scores, b.scores)
    seen = np.concatenate(reuse.calls)
    assert len(_rows(seen)) == seen.shape[0]  # never profiled twice
    assert result.num_profiled == seen.shape[0] == sum(
        len(r.candidates) - r.num_reused for r in result.history)
    assert result.num_profiled < literal.num_profiled
  with pytest.raises(ValueError, match='reuse_scores must be a bool'):
    search.SearchConfig(reuse_scores=1)


def test_reused_scores_stay_in_their_pool():
  # Runs of >= 30 orders and smaller runs are scored by different scorers
  # (as a hybrid search's profilers): an order is reused only from a run of
  # its own pool, and a pool of False is never kept.
  f = adjacency_scorer(hidden(8, 0))
  pools = {'big': Recorder(f), 'small': Recorder(f)}

  def scorer(perms):
    return pools['big' if len(perms) >= 30 else 'small'](perms)

  def pool(num_orders):
    return 'big' if num_orders >= 30 else 'small'

  result = search.run_search(scorer, 8, seed=0, reusable=pool)
  for name, recorder in pools.items():
    seen = np.concatenate(recorder.calls)
    assert len(_rows(seen)) == seen.shape[0], name  # never twice per pool
  big, small = (_rows(np.concatenate(pools[n].calls)) for n in pools)
  assert big & small  # some orders were profiled in both pools
  assert result.num_profiled == sum(
      len(r.candidates) - r.num_reused for r in result.history)
  never = Recorder(f)
  kept = search.run_search(never, 8, seed=0, reusable=lambda n: False)
  assert all(r.num_reused == 0 for r in kept.history)
  assert kept.num_profiled == sum(len(c) for c in never.calls)


def test_refine_rounds_climb_with_the_finer_scorer():
  # The coarse scorer cannot tell where the first two slots of h go (it
  # scores every order alike whose remaining slots are in h's order), so
  # the search ends on some order of that class; refine rounds with the
  # exact Kendall scorer then climb to h itself.
  h = hidden(8, 3)
  exact = kendall_scorer(h)

  rank_in_h = np.argsort(h)  # slot -> its position in h

  def coarse(perms):
    rest = np.array([[rank_in_h[v] - 2 for v in row if rank_in_h[v] >= 2]
                     for row in perms])
    return _kendall_rows(np.arange(6), rest).astype(np.float64)

  config = search.SearchConfig(refine_rounds=6)
  fine = Recorder(exact)
  result = search.run_search(Recorder(coarse), 8, seed=0, config=config,
                             refine_fn=fine)
  np.testing.assert_array_equal(result.order, h)
  refine = [r for r in result.history if r.name.startswith('refine')]
  assert refine and refine[0].name == 'refine r=1'
  assert len(refine) <= 6 and sum(map(len, fine.calls)) > 0
  for record in refine:  # the refine runs hold the fine scorer's scores
    np.testing.assert_array_equal(record.scores, exact(record.candidates))
  assert result.score == 0.0 and result.local_optimum
  assert search.hierarchical_budget(8, config) == search.hierarchical_budget(
      8) + 6 * 50
  with pytest.raises(ValueError, match='refine_rounds=6 needs a refine_fn'):
    search.run_search(coarse, 8, config=config)
  with pytest.raises(ValueError, match='refine_fn must be callable'):
    search.run_search(coarse, 8, config=config, refine_fn=3)
  with pytest.raises(ValueError, match='refine_rounds must be an int >= 0'):
    search.SearchConfig(refine_rounds=-1)
