"""Tests for lopro.strategies.eject: the ejection chain."""

import jax
import numpy as np
import pytest

import lopro
from conftest import FunctionEstimator
from conftest import hidden_order
from conftest import kendall_rows
from lopro import neighbourhoods
from lopro import strategies

Eject = strategies.Eject


def chain_costs(h, perms) -> np.ndarray:
  """float[N, L]: a chain's per-slot losses; slot h[i] (i > 0) costs 1 when
  h[i-1] is emitted after it."""
  position = np.argsort(np.atleast_2d(perms), axis=1)  # [N, slot]
  h = np.asarray(h)
  costs = np.zeros(position.shape)
  costs[:, h[1:]] = position[:, h[1:]] < position[:, h[:-1]]
  return costs


def riffle(h, split):
  """Two runs of h (h[:split], h[split:]) interleaved, the second first."""
  a, b = list(h[:split]), list(h[split:])
  out = []
  while a or b:
    if b:
      out.append(b.pop(0))
    out.extend(a[:2])
    del a[:2]
  return np.array(out)


def run_eject(strategy, h, start, slot_fn=None, score_fn=None):
  """Drives ``strategy`` from ``start``; returns (stages, orders, state)."""
  slot_fn = slot_fn or (lambda perms: chain_costs(h, perms))
  score_fn = score_fn or (lambda perms: chain_costs(h, perms).sum(axis=1))
  state = strategy.init(jax.random.key(0), len(h), start[None])
  stages, asked = [], []
  while len(perms := strategy.ask(state)):
    stages.append(state['stage'])
    asked.append(perms)
    scores = score_fn(perms)
    if strategy.wants_slot_losses(state):
      state = strategy.tell(state, perms, scores, slot_losses=slot_fn(perms))
    else:
      state = strategy.tell(state, perms, scores)
  return stages, asked, state


def test_the_chain_leaves_a_riffle_no_insertion_leaves():
  h = hidden_order(8, 3)
  start = riffle(h, 5)  # b0 a0 a1 b1 a2 a3 b2 a4
  # A local optimum of the insertion neighbourhood: no move scores below 1.
  neighbours = neighbourhoods.insertion_moves(start)
  assert chain_costs(h, neighbours).sum(axis=1).min() == 1
  strategy = Eject()
  stages, asked, state = run_eject(strategy, h, start)
  assert stages == [f'eject m={m}' for m in range(8)]
  assert strategy.max_profiles(8) == 8
  # Each move sends the one costly slot last: b0, then b1, then b2.
  np.testing.assert_array_equal(state['moved'][:3], h[5:])
  np.testing.assert_array_equal(asked[3][0], h)
  order, score = strategy.best(state)
  np.testing.assert_array_equal(order, h)
  assert score == 0 and not state['local_optimum']


def test_no_better_order_in_the_chain_keeps_the_start():
  h = hidden_order(8, 4)
  strategy = Eject(depth=3, climb=strategies.Insertion(rounds=2))
  stages, _, state = run_eject(strategy, h, h)
  # The climb runs only when the chain beat its start.
  assert stages == ['eject m=0', 'eject m=1', 'eject m=2', 'eject m=3']
  order, score = strategy.best(state)
  np.testing.assert_array_equal(order, h)
  assert score == 0 and state['local_optimum']


def test_the_climb_runs_from_the_chains_best_when_it_beat_the_start():
  h = np.arange(8)
  start = np.array([6, 0, 1, 2, 5, 3, 4, 7])  # slots 5 and 6 cost
  climb = strategies.Insertion(rounds=3, name='reclimb')
  strategy = Eject(depth=2, climb=climb)
  score_fn = lambda perms: (chain_costs(h, perms).sum(axis=1)
                            + 1e-3 * kendall_rows(h, perms))
  stages, asked, state = run_eject(strategy, h, start, score_fn=score_fn)
  # Slot 5 (the lower of the two costly slots), then 6, go last; the
  # chain's best is its last order, one cost left (slot 7 before 6).
  np.testing.assert_array_equal(asked[1][0], [6, 0, 1, 2, 3, 4, 7, 5])
  np.testing.assert_array_equal(asked[2][0], [0, 1, 2, 3, 4, 7, 5, 6])
  assert stages == ['eject m=0', 'eject m=1', 'eject m=2', 'reclimb r=1',
                    'reclimb r=2']
  # The climb starts from there and moves slot 7 last: h, then confirms.
  np.testing.assert_array_equal(asked[3], neighbourhoods.insertion_moves(
      asked[2][0]))
  order, score = strategy.best(state)
  np.testing.assert_array_equal(order, h)
  assert score == 0 and state['local_optimum']
  assert strategy.max_profiles(8) == 3 + climb.max_profiles(8)


def test_a_margin_keeps_the_start_unless_the_chain_wins_clearly():
  h = np.arange(6)
  # The chain's orders score 1.0 (the start), then 0.95, 0.85, ... by move.
  by_move = lambda perms: np.array([1.0 - 0.05 * moved for moved in range(6)])
  for margin, expected in ((0.0, 5), (0.1, 5), (0.2, 5), (0.3, 0)):
    strategy = Eject(margin=margin)
    state = strategy.init(jax.random.key(0), 6, h[None])
    move = 0
    while len(perms := strategy.ask(state)):
      state = strategy.tell(state, perms, by_move(perms)[move:move + 1],
                            slot_losses=chain_costs(h, perms))
      move += 1
    order, score = strategy.best(state)
    # The best move (5, score 0.75) replaces the start only if 0.75 < 1 -
    # margin.
    assert score == pytest.approx(1.0 - 0.05 * expected), margin
    assert state['local_optimum'] == (expected == 0)
    np.testing.assert_array_equal(order, state['chain'][expected])
  # A start whose loss went NaN (+inf) loses to any finite order.
  strategy = Eject(depth=1, margin=0.5)
  state = strategy.init(jax.random.key(0), 6, h[None])
  state = strategy.tell(state, strategy.ask(state), [np.nan],
                        slot_losses=chain_costs(h, h))
  state = strategy.tell(state, strategy.ask(state), [3.0],
                        slot_losses=chain_costs(h, h))
  assert strategy.best(state)[1] == 3.0 and not state['local_optimum']


def test_nan_slot_losses_count_as_the_highest():
  h = np.arange(6)
  strategy = Eject(depth=1)

  def slot_fn(perms):
    costs = chain_costs(h, perms)
    costs[:, 3] = np.nan
    return costs

  _, asked, _ = run_eject(strategy, h, h, slot_fn)
  np.testing.assert_array_equal(asked[1][0], [0, 1, 2, 4, 5, 3])


def test_state_saves_mid_chain_and_continues(tmp_path):
  h = hidden_order(8, 6)
  start = riffle(h, 5)
  strategy = Eject(climb=strategies.Insertion(rounds=2))
  state = strategy.init(jax.random.key(0), 8, start[None])
  for _ in range(2):
    perms = strategy.ask(state)
    state = strategy.tell(state, perms, chain_costs(h, perms).sum(axis=1),
                          slot_losses=chain_costs(h, perms))
  path = tmp_path / 'state.json'
  strategies.save_state(str(path), state)
  state = strategies.load_state(str(path))
  while len(perms := strategy.ask(state)):
    scores = chain_costs(h, perms).sum(axis=1)
    if strategy.wants_slot_losses(state):
      state = strategy.tell(state, perms, scores,
                            slot_losses=chain_costs(h, perms))
    else:
      state = strategy.tell(state, perms, scores)
  np.testing.assert_array_equal(strategy.best(state)[0], h)


def test_bad_settings_and_tells_are_refused():
  with pytest.raises(ValueError, match='Eject.depth'):
    Eject(depth=-1)
  with pytest.raises(ValueError, match='Eject.name'):
    Eject(name='')
  with pytest.raises(ValueError, match='Eject.climb'):
    Eject(climb='insertion')
  for margin in (-0.1, 1.0, True, '0.1'):
    with pytest.raises(ValueError, match='Eject.margin'):
      Eject(margin=margin)
  strategy = Eject()
  state = strategy.init(jax.random.key(0), 4, np.arange(4)[None])
  perms = strategy.ask(state)
  with pytest.raises(ValueError, match=r'slot_losses=True'):
    strategy.tell(state, perms, [1.0])
  with pytest.raises(ValueError, match=r'expected \(1, 4\)'):
    strategy.tell(state, perms, [1.0], slot_losses=np.zeros((1, 3)))


def test_search_order_passes_each_orders_slot_losses():
  task = lopro.get_task('relu', length=6)
  h = task.friendly_order

  class SlotEstimator(FunctionEstimator):

    def profile(self, task, perms, seed, *, callback=None, runtime=None):
      profile = super().profile(task, perms, seed)
      profile.slot_losses = chain_costs(h, perms)
      return profile

  scorer = lambda perms: chain_costs(h, perms).sum(axis=1)
  strategy = strategies.Pipeline(
      (strategies.Insertion(rounds=1), FunctionEstimator(scorer)),
      (Eject(), SlotEstimator(scorer)))
  # One insertion round from a random start, then the chain from its best.
  result = lopro.search_order(task, strategy=strategy, seed=0)
  chain = result.history[-6:]
  assert [r.name for r in chain] == [f'eject m={m}' for m in range(6)]
  # Every move sent the costliest slot not moved yet (by the estimator's
  # slot losses, the lowest slot on ties) last.
  moved = []
  for before, after in zip(chain, chain[1:]):
    costs = chain_costs(h, before.candidates)[0]
    costs[moved] = -1
    moved.append(int(np.argmax(costs)))
    order = before.candidates[0]
    np.testing.assert_array_equal(after.candidates[0], np.append(
        order[order != moved[-1]], moved[-1]))
  scores = [r.scores[0] for r in chain]
  assert result.score == min(min(scores), result.history[0].best_score) or (
      result.score == min(scores))
  # An estimator without slot losses is refused by name.
  strategy = strategies.Pipeline((Eject(), FunctionEstimator(scorer)))
  with pytest.raises(ValueError, match=r'Independent\(slot_losses=True\)'):
    lopro.search_order(task, strategy=strategy, seed=0)


def test_independent_slot_losses_add_up_to_its_score():
  task = lopro.get_task('relu', length=5)
  train = lopro.TrainConfig(steps=20, batch_size=8, width=16)
  perms = np.stack([np.arange(5), np.arange(5)[::-1], [3, 0, 4, 1, 2]])
  plain = lopro.profile_orders(perms, task, seed=0,
                               estimator=lopro.Independent(train=train))
  with_slots = lopro.profile_orders(
      perms, task, seed=0,
      estimator=lopro.Independent(train=train, slot_losses=True))
  assert plain.slot_losses is None
  assert with_slots.slot_losses.shape == (3, 5)
  np.testing.assert_allclose(with_slots.scores, plain.scores, rtol=1e-5)
  # Each step's loss is the mean over slots, so the slots' tail means
  # average to the score (the mean of the last 10% of steps).
  np.testing.assert_allclose(with_slots.slot_losses.mean(axis=1),
                             with_slots.scores, rtol=1e-5)
  assert plain.to_dict()['slot_losses'] is None
  np.testing.assert_allclose(with_slots.to_dict()['slot_losses'],
                             with_slots.slot_losses)
  with pytest.raises(ValueError, match='slot_losses must be a bool'):
    lopro.Independent(slot_losses=1)
