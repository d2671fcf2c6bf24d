"""Tests of lopro.scores: score callables, non-finite handling and ranking."""

import dataclasses

import numpy as np
import pytest

import lopro
from lopro import scores

LOSSES = np.array([[4.0, 3.0, 2.0, 1.0], [4.0, 4.0, 4.0, 2.0]])


def test_built_in_scores_on_a_hand_built_matrix():
  np.testing.assert_allclose(scores.final(0.25)(LOSSES), [1.0, 2.0])
  np.testing.assert_allclose(scores.final(0.5)(LOSSES), [1.5, 3.0])
  np.testing.assert_allclose(scores.final(1.0)(LOSSES), [2.5, 3.5])
  np.testing.assert_allclose(scores.auc()(LOSSES), [2.5, 3.5])
  # Slope: last window minus first window, (1.5 - 3.5) and (3 - 4); a bigger
  # drop is lower.
  np.testing.assert_allclose(scores.slope(0.5)(LOSSES), [-2.0, -1.0])
  np.testing.assert_allclose(scores.slope(0.25)(LOSSES), [-3.0, -2.0])


def test_windows_round_and_hold_at_least_one_column():
  losses = np.arange(20.0)[None]
  # Default 10% of 20 columns: the last 2.
  assert scores.final()(losses)[0] == pytest.approx(18.5)
  # 10% of 4 columns rounds to 0: at least the last one.
  np.testing.assert_allclose(scores.final()(LOSSES), [1.0, 2.0])
  # 10% of 15 = 1.5 rounds to 2 (Python rounds half to even).
  assert scores.final()(np.arange(15.0)[None])[0] == pytest.approx(13.5)
  assert scores.slope()(np.arange(20.0)[None])[0] == pytest.approx(18.0)
  # One column: final is it, slope is 0.
  one = np.array([[3.0], [5.0]])
  np.testing.assert_allclose(scores.final()(one), [3.0, 5.0])
  np.testing.assert_allclose(scores.slope()(one), [0.0, 0.0])


def test_scores_are_frozen_hashable_and_equal_by_value():
  assert scores.final() == scores.final(0.1) == scores.Final(0.1)
  assert scores.final(0.2) != scores.final()
  assert scores.auc() == scores.auc() and scores.slope() == scores.slope(0.1)
  assert scores.slope(0.1) != scores.final(0.1)
  assert len({scores.final(), scores.final(0.1), scores.auc(), scores.auc(),
              scores.slope()}) == 3
  with pytest.raises(dataclasses.FrozenInstanceError):
    scores.final().fraction = 0.5


@pytest.mark.parametrize('make', [scores.final, scores.slope])
@pytest.mark.parametrize('fraction', [0, 0.0, -0.1, 1.5, float('nan'),
                                      float('inf'), True, '0.5', None])
def test_bad_fractions_are_rejected(make, fraction):
  with pytest.raises(ValueError, match=r'fraction must be a number in '
                     r'\(0, 1\], got'):
    make(fraction)


def test_score_losses_applies_the_score_as_float32():
  out = scores.score_losses(LOSSES, scores.final(0.5))
  assert out.dtype == np.float32 and out.shape == (2,)
  np.testing.assert_allclose(out, [1.5, 3.0])
  # Any callable of the same shape works, lists too.
  np.testing.assert_allclose(
      scores.score_losses(LOSSES.tolist(), lambda l: l.min(axis=1)),
      [1.0, 2.0])


def test_nonfinite_losses_and_scores_score_inf_and_rank_last():
  losses = np.array([[3.0, 2.0], [1.0, np.nan], [2.0, 1.5], [np.inf, 0.1],
                     [1.0, 0.5], [-np.inf, 1.0]], np.float32)
  out = scores.score_losses(losses, scores.final(0.5))
  # A non-finite loss anywhere in a row (even outside the window) is +inf.
  np.testing.assert_array_equal(out, [2.0, np.inf, 1.5, np.inf, 0.5, np.inf])
  np.testing.assert_array_equal(scores.rank_scores(out), [4, 2, 0, 1, 3, 5])
  # A score that is NaN or -inf for finite losses is +inf too.
  nan_first = lambda l: np.where(np.arange(len(l)) == 0, np.nan, l[:, -1])
  out = scores.score_losses(losses[[0, 2, 4]], nan_first)
  np.testing.assert_array_equal(out, [np.inf, 1.5, 0.5])
  minus_inf = lambda l: np.where(np.arange(len(l)) == 1, -np.inf, l[:, -1])
  out = scores.score_losses(losses[[0, 2, 4]], minus_inf)
  np.testing.assert_array_equal(out, [2.0, np.inf, 0.5])


def test_rank_scores_puts_nan_and_inf_last_and_keeps_ties_in_order():
  ranked = scores.rank_scores([2.0, np.nan, 1.0, np.inf, 1.0, -3.0, 2.0])
  np.testing.assert_array_equal(ranked, [5, 2, 4, 0, 6, 1, 3])
  assert ranked.dtype == np.int64
  np.testing.assert_array_equal(scores.rank_scores(np.zeros(4)), range(4))
  np.testing.assert_array_equal(
      scores.rank_scores([np.inf, np.nan, np.inf]), [0, 1, 2])


@pytest.mark.parametrize('losses, score, match', [
    (np.zeros(3), scores.final(), r'losses must be float\[O, T\] with T > 0, '
     r'got shape \(3,\)'),
    (np.zeros((3, 0)), scores.final(), r'got shape \(3, 0\)'),
    (np.zeros((2, 3, 4)), scores.final(), r'got shape \(2, 3, 4\)'),
    (LOSSES, 'final', "score must be callable, got 'final'"),
    (LOSSES, lambda l: l, r'returned shape \(2, 4\), expected \(2,\)'),
    (LOSSES, lambda l: l.mean(), r'returned shape \(\), expected \(2,\)'),
])
def test_score_losses_rejects_bad_shapes_and_scores(losses, score, match):
  with pytest.raises(ValueError, match=match):
    scores.score_losses(losses, score)


def test_public_names():
  assert lopro.scores is scores
  assert isinstance(scores.final(), scores.Final)
  assert isinstance(scores.auc(), scores.Auc)
  assert isinstance(scores.slope(), scores.Slope)
