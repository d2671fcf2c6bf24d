"""Tests for lopro.strategies.hierarchical, driven by user-written loops."""

import itertools

import jax
import numpy as np
import pytest

from conftest import adjacency_scorer
from conftest import hidden_order
from conftest import kendall_scorer
from conftest import run_strategy as run
from lopro import orders
from lopro import strategies

Hierarchical = strategies.Hierarchical
# The paper's search exactly (no insertion rounds, one start).
PAPER = Hierarchical.paper()


def _rows(array):
  return {tuple(r) for r in np.asarray(array).tolist()}


def test_default_depth_follows_paper_and_caps():
  assert [strategies.hierarchical.default_depth(n) for n in range(1, 14)] == [
      1, 1, 2, 3, 4, 4, 4, 4, 5, 6, 6, 6, 6]


def test_max_profiles_l8():
  # Global: K=4 stages of T=5!=120. Local l=2: blocks [2,2,2,2]:
  # 1 + 4*(2!-1) = 5 inside; block moves of m=4: identity + 3 shifts + 6
  # swaps = 10. l=3: [3,3,2]: 1+5+5+1 = 12; m=3: 1+2+3 = 6 (= 3!).
  # l=4: [4,4]: 1+23+23 = 47; m=2: shift == swap, so 2.
  assert PAPER.max_profiles(8) == 480 + 5 + 10 + 12 + 6 + 47 + 2 == 562
  assert Hierarchical.paper(local_rounds=2).max_profiles(8) == 480 + 2 * 82
  # The defaults add at most 3 starts x 4 insertion rounds x (1 + 7^2).
  assert Hierarchical().max_profiles(8) == 562 + 3 * 4 * 50 == 1162


@pytest.mark.parametrize('kwargs, bad', [
    (dict(depth=0), '0'), (dict(depth=9), '9'), (dict(depth=2.0), '2.0'),
    (dict(local_rounds=0), '0'), (dict(max_block_perms=1), '1'),
    (dict(num_starts=0), '0'), (dict(insertion_rounds=-1), '-1'),
    (dict(initial='structured'), "'structured'"),
])
def test_settings_are_validated_quoting_the_bad_value(kwargs, bad):
  with pytest.raises(ValueError, match=f'{list(kwargs)[0]}.*{bad}'):
    Hierarchical(**kwargs)
  with pytest.raises(ValueError, match='block must be an int >= 1, got 0'):
    strategies.StructuredInit(block=0)


def test_paper_preset_and_extra_starts_need_insertion():
  assert (PAPER.insertion_rounds, PAPER.num_starts) == (0, 1)
  assert Hierarchical.paper(depth=3).depth == 3
  with pytest.raises(ValueError, match='num_starts=2 needs insertion_rounds'):
    Hierarchical(num_starts=2, insertion_rounds=0)
  with pytest.raises(ValueError, match='too deep for length 5'):
    Hierarchical(depth=5).init(jax.random.key(0), 5)


def test_stage_counts_and_survivors_l8():
  scorer = kendall_scorer(hidden_order(8, 0))
  runs, state = run(PAPER, scorer, 8)
  assert [r[0] for r in runs] == [
      'global k=1', 'global k=2', 'global k=3', 'global k=4',
      'local l=2 inside', 'local l=2 blocks', 'local l=3 inside',
      'local l=3 blocks', 'local l=4 inside', 'local l=4 blocks']
  for _, perms, _, _ in runs:
    assert len(_rows(perms)) == perms.shape[0]  # deduplicated within a run
  global_runs = runs[:4]
  assert [r[3].shape[0] for r in global_runs] == [60, 20, 5, 1]
  # k>=2: every survivor times its k! block orderings, deduplicated.
  for k, (prev, this) in enumerate(zip(global_runs, global_runs[1:]), 2):
    expected = set()
    for row in prev[3]:
      expected |= _rows(orders.block_reorderings(row, k))
    assert _rows(this[1]) == expected
    # The survivors are the best ones, in rank order.
    np.testing.assert_array_equal(scorer(this[3]),
                                  np.sort(this[2])[:this[3].shape[0]])
  # This seed has no collisions: exactly T = 120 per stage.
  assert [r[1].shape[0] for r in global_runs] == [120] * 4
  # Local stage: 5, 10 | 12, 6 | 47, 2 (see test_max_profiles_l8).
  assert [r[1].shape[0] for r in runs[4:]] == [5, 10, 12, 6, 47, 2]
  assert sum(r[1].shape[0] for r in runs) == PAPER.max_profiles(8)
  assert all(r[3].shape[0] == 1 for r in runs[4:])
  assert len(PAPER.ask(state)) == 0 and state['stage'] == ''


def test_local_candidates_are_one_block_moves():
  runs, _ = run(PAPER, kendall_scorer(hidden_order(8, 3)), 8, seed=1)
  by_name = {r[0]: r for r in runs}
  inside = by_name['local l=3 inside'][1]
  before = by_name['local l=2 blocks'][3][0]
  np.testing.assert_array_equal(inside[0], before)  # current order first
  blocks = [(0, 3), (3, 6), (6, 8)]
  for row in inside[1:]:
    changed = [b for b in blocks if not np.array_equal(row[b[0]:b[1]],
                                                       before[b[0]:b[1]])]
    assert len(changed) == 1
    a, b = changed[0]
    assert sorted(row[a:b]) == sorted(before[a:b])
  # Block moves of l=2: 3 cyclic shifts and 6 swaps of the 4 blocks.
  chosen = by_name['local l=2 inside'][3][0]
  pieces = [tuple(chosen[i:i + 2]) for i in range(0, 8, 2)]
  arrangements = [tuple(range(4))] + [
      tuple((i + s) % 4 for i in range(4)) for s in range(1, 4)]
  for i, j in itertools.combinations(range(4), 2):
    a = list(range(4))
    a[i], a[j] = j, i
    arrangements.append(tuple(a))
  expected = {sum((pieces[i] for i in a), ()) for a in arrangements}
  assert _rows(by_name['local l=2 blocks'][1]) == expected


def test_local_stage_never_gets_worse_and_ties_keep_current():
  runs, state = run(PAPER, kendall_scorer(hidden_order(8, 2)), 8, seed=4)
  current = runs[3][3][0]
  for _, perms, scores, kept in runs[4:]:
    np.testing.assert_array_equal(perms[0], current)
    assert scores.min() <= scores[0]
    current = kept[0]
  np.testing.assert_array_equal(PAPER.best(state)[0], current)
  # A constant scorer: nothing moves, so the result is a local optimum.
  flat_runs, flat = run(Hierarchical(), lambda p: np.ones(len(p)), 8, seed=4)
  assert flat['local_optimum']
  for _, perms, _, kept in flat_runs[4:]:
    np.testing.assert_array_equal(kept[0], perms[0])


def test_deterministic_given_key():
  scorer = adjacency_scorer(hidden_order(8, 1))
  a, _ = run(Hierarchical(), scorer, 8, seed=3)
  b, _ = run(Hierarchical(), scorer, 8, seed=3)
  c, _ = run(Hierarchical(), scorer, 8, seed=4)
  assert len(a) == len(b)
  for x, y in zip(a, b):
    assert x[0] == y[0]
    np.testing.assert_array_equal(x[1], y[1])
  assert not np.array_equal(a[0][1], c[0][1])


def test_structured_init_holds_forward_and_reverse_block_permutations():
  # L=12, b=5: blocks [0..4],[5..9],[10,11] -> 3! orderings of forward and of
  # reverse = 12 orders; depth 2 gives T = 6, a uniform subset of them.
  strategy = Hierarchical(initial=strategies.StructuredInit(), depth=2)
  runs, _ = run(strategy, kendall_scorer(np.arange(12)), 12)
  structured = set()
  for base in (orders.identity(12), orders.reverse(12)):
    blocks = orders.fixed_size_blocks(base, 5)
    for p in itertools.permutations(range(3)):
      structured.add(tuple(np.concatenate([blocks[i] for i in p])))
  initial = _rows(runs[0][1])
  assert len(initial) == 6 and initial <= structured
  # L=8, b=5: 4 structured orders topped up with random ones to T = 120;
  # it finds the forward order of a forward-friendly scorer.
  strategy = Hierarchical(initial=strategies.StructuredInit())
  runs, state = run(strategy, kendall_scorer(np.arange(8)), 8)
  assert runs[0][1].shape[0] == 120 == len(_rows(runs[0][1]))
  assert _rows(runs[0][1][:4]) == {
      (0, 1, 2, 3, 4, 5, 6, 7), (5, 6, 7, 0, 1, 2, 3, 4),
      (7, 6, 5, 4, 3, 2, 1, 0), (2, 1, 0, 7, 6, 5, 4, 3)}
  np.testing.assert_array_equal(strategy.best(state)[0], np.arange(8))


def test_starts_join_the_initial_population():
  start = hidden_order(8, 9)
  state = Hierarchical().init(jax.random.key(0), 8, starts=start[None])
  pending = Hierarchical().ask(state)
  np.testing.assert_array_equal(pending[0], start)
  assert pending.shape == (120, 8)


def test_local_rounds_repeat_until_no_move():
  scorer = kendall_scorer(hidden_order(8, 0))
  _, one = run(PAPER, scorer, 8, seed=2)
  more_strategy = Hierarchical.paper(local_rounds=5)
  runs, more = run(more_strategy, scorer, 8, seed=2)
  assert more_strategy.best(more)[1] <= PAPER.best(one)[1]
  assert more['local_optimum']
  last = [r for r in runs if r[0].endswith('blocks')][-3:]
  assert all(np.array_equal(r[1][0], r[3][0]) for r in last)
  assert sum(r[1].shape[0] for r in runs) <= more_strategy.max_profiles(8)


def test_large_blocks_are_subsampled():
  # L=18: l=9 has 9! = 362,880 orders per block; capped at 100 per block.
  strategy = Hierarchical(depth=2, max_block_perms=100)
  runs, _ = run(strategy, kendall_scorer(hidden_order(18, 0)), 18)
  inside = {r[0]: r for r in runs}['local l=9 inside'][1]
  assert inside.shape[0] == 1 + 2 * 99
  assert sum(r[1].shape[0] for r in runs) <= strategy.max_profiles(18)


# Measured hits out of 20 seeds, the paper's search (random init, one local
# pass): adjacency L=6 20, L=8 18, L=10 20; Kendall L=6 19, L=8 15, L=10 20.
@pytest.mark.parametrize('length, make, min_hits', [
    (6, adjacency_scorer, 19), (8, adjacency_scorer, 17),
    (10, adjacency_scorer, 19), (6, kendall_scorer, 18),
    (8, kendall_scorer, 13), (10, kendall_scorer, 19),
])
def test_paper_hit_rate_random_init(length, make, min_hits):
  hits = 0
  for seed in range(20):
    h = hidden_order(length, seed)
    scorer = make(h)
    _, state = run(PAPER, scorer, length, seed=seed)
    order, score = PAPER.best(state)
    assert score == float(scorer(order[None])[0])
    if np.array_equal(order, h):
      hits += 1
    else:  # a miss never claims the optimum score
      assert score > float(scorer(h[None])[0])
  assert hits >= min_hits


# Measured with local_rounds=3 at L=8: adjacency 18/20 (both misses are true
# local optima of the local neighbourhood), Kendall 20/20.
@pytest.mark.parametrize('make, min_hits', [(adjacency_scorer, 17),
                                            (kendall_scorer, 19)])
def test_misses_with_more_local_rounds_are_local_optima(make, min_hits):
  strategy = Hierarchical.paper(local_rounds=3)
  hits = 0
  for seed in range(20):
    h = hidden_order(8, seed)
    _, state = run(strategy, make(h), 8, seed=seed)
    order, score = strategy.best(state)
    if np.array_equal(order, h):
      hits += 1
    else:
      assert state['local_optimum'] and score > float(make(h)(h[None])[0])
  assert hits >= min_hits


def test_insertion_rounds_budget_records_and_hit_rate():
  strategy = Hierarchical(insertion_rounds=5, num_starts=1)
  assert strategy.max_profiles(8) == 562 + 5 * 50
  hits = 0
  for seed in range(20):
    h = hidden_order(8, seed)
    runs, state = run(strategy, kendall_scorer(h), 8, seed=seed)
    assert runs[-1][0].startswith('insertion r=')
    assert state['local_optimum']  # stopped because no move improved
    assert sum(r[1].shape[0] for r in runs) <= strategy.max_profiles(8)
    hits += np.array_equal(strategy.best(state)[0], h)
  # Measured 20/20 (15/20 without insertion rounds).
  assert hits >= 19


def test_extra_starts_climb_from_the_next_best_global_orders():
  h = hidden_order(8, 0)
  scorer = adjacency_scorer(h)
  strategy = Hierarchical(insertion_rounds=3, num_starts=3)
  runs, state = run(strategy, scorer, 8, seed=1)
  by_name = {r[0]: r for r in runs}
  last_global = by_name['global k=4']
  ranked = last_global[1][np.argsort(last_global[2], kind='stable')]
  local_start = by_name['local l=4 blocks'][3][0]
  expected = [row for row in ranked if not np.array_equal(row, local_start)]
  for start in (2, 3):
    np.testing.assert_array_equal(
        by_name[f'start {start} insertion r=1'][1][0], expected[start - 2])
  # The result is the best end point of all climbs, never worse than the
  # paper's search from the same key.
  ends = [r[3][0] for r in runs if 'insertion' in r[0]]
  order, score = strategy.best(state)
  assert score == min(float(scorer(e[None])[0]) for e in ends)
  assert score == float(scorer(order[None])[0])
  _, paper = run(PAPER, scorer, 8, seed=1)
  assert score <= PAPER.best(paper)[1]


# Measured hits out of 20 seeds with the defaults (insertion rounds from 3
# starts): adjacency 20/20 and Kendall 20/20 at L=8 (paper: 18 and 15).
@pytest.mark.parametrize('make', [adjacency_scorer, kendall_scorer])
def test_default_hit_rate_l8(make):
  hits = 0
  for seed in range(20):
    h = hidden_order(8, seed)
    _, state = run(Hierarchical(), make(h), 8, seed=seed)
    hits += np.array_equal(Hierarchical().best(state)[0], h)
  assert hits >= 19


def test_short_lengths_have_no_local_stage():
  for length in (2, 3):
    runs, state = run(Hierarchical(), kendall_scorer(np.arange(length)),
                      length)
    assert not any(r[0].startswith('local') for r in runs)
    np.testing.assert_array_equal(Hierarchical().best(state)[0],
                                  np.arange(length))


def test_nan_and_inf_scores_rank_last():
  h = hidden_order(8, 5)
  kendall = kendall_scorer(h)

  def nasty(perms):
    s = kendall(perms)
    s[perms[:, 0] == h[1]] = np.nan
    s[perms[:, 0] == h[2]] = np.inf
    s[perms[:, 0] == h[3]] = -np.inf
    return s

  _, state = run(Hierarchical(), nasty, 8)
  order, score = Hierarchical().best(state)
  assert np.isfinite(score) and order[0] not in h[1:4]
  _, every = run(Hierarchical(), lambda p: np.full(len(p), np.nan), 6)
  assert Hierarchical().best(every)[1] == np.inf
