"""Tests for lopro.strategies.pipeline."""

import jax
import numpy as np
import pytest

import lopro
from conftest import hidden_order
from conftest import kendall_rows
from conftest import kendall_scorer
from lopro import strategies


def _coarse_scorer(h, blind=2):
  """Cannot tell where h's first ``blind`` slots go: scores the Kendall
  distance of the other slots to their sequence in h."""
  rank_in_h = np.argsort(h)

  def score(perms):
    rest = np.array([[rank_in_h[v] - blind for v in row
                      if rank_in_h[v] >= blind] for row in perms])
    return kendall_rows(np.arange(len(h) - blind), rest).astype(float)

  return score


def test_refine_stage_climbs_with_its_own_finer_scorer():
  h = hidden_order(8, 3)
  coarse, exact = _coarse_scorer(h), kendall_scorer(h)
  pipe = strategies.Pipeline(
      (strategies.Hierarchical(), 'coarse-estimator'),
      (strategies.Insertion(rounds=6, name='refine'), 'exact-estimator'))
  state = pipe.init(jax.random.key(0), 8)
  names, handed_over = [], None
  while len(perms := pipe.ask(state)):
    names.append(state['stage'])
    estimator = pipe.estimator_for(state)
    if estimator == 'exact-estimator' and handed_over is None:
      # The refine stage starts from the first stage's best order.
      handed_over = perms[0]
    scores = (exact if estimator == 'exact-estimator' else coarse)(perms)
    state = pipe.tell(state, perms, scores)
  order, score = pipe.best(state)
  np.testing.assert_array_equal(order, h)
  assert score == 0.0 and state['local_optimum']
  refine = [n for n in names if n.startswith('refine')]
  assert refine[0] == 'refine r=1' and len(refine) <= 6
  assert names.index('refine r=1') == len(names) - len(refine)
  # The coarse stage ended on an order of h's class that it could not rank.
  assert coarse(handed_over[None])[0] == 0
  assert pipe.max_profiles(8) == strategies.Hierarchical().max_profiles(
      8) + 6 * 50


def test_estimator_for_defers_to_a_nested_pipeline_and_none():
  inner = strategies.Pipeline((strategies.Insertion(rounds=1), 'inner'))
  pipe = strategies.Pipeline(strategies.RandomSearch(budget=4), (inner, None))
  state = pipe.init(jax.random.key(0), 5)
  assert pipe.estimator_for(state) is None
  perms = pipe.ask(state)
  state = pipe.tell(state, perms, np.arange(4.0))
  assert state['index'] == 1 and pipe.estimator_for(state) == 'inner'
  # The second stage starts from the first stage's best: perms[0].
  np.testing.assert_array_equal(pipe.ask(state)[0], perms[0])


def test_a_one_stage_pipeline_is_its_strategy():
  scorer = kendall_scorer(hidden_order(8, 6))
  alone = strategies.Hierarchical()
  pipe = strategies.Pipeline(alone)
  a, b = alone.init(jax.random.key(5), 8), pipe.init(jax.random.key(5), 8)
  while len(perms := alone.ask(a)):
    np.testing.assert_array_equal(perms, pipe.ask(b))
    a = alone.tell(a, perms, scorer(perms))
    b = pipe.tell(b, perms, scorer(perms))
  assert len(pipe.ask(b)) == 0
  np.testing.assert_array_equal(alone.best(a)[0], pipe.best(b)[0])


def test_bad_stages_are_refused():
  with pytest.raises(ValueError, match='at least one stage'):
    strategies.Pipeline()
  with pytest.raises(ValueError, match='must be strategies'):
    strategies.Pipeline((lopro.Independent(), None))
  with pytest.raises(ValueError, match='nothing has been scored'):
    pipe = strategies.Pipeline(strategies.Insertion())
    pipe.best(pipe.init(jax.random.key(0), 4))
