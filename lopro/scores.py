"""Scores: one number per order from its loss curve; lower is friendlier.

A score is a callable ``losses float[O, T] -> float[O]``. The built-in ones
are small frozen dataclasses, so two equal scores compare (and hash) equal
and an estimator that holds one can key caches and checkpoints:

  lopro.scores.final(fraction=0.1)  # mean of the last 10% of the columns
  lopro.scores.auc()                # mean of all columns
  lopro.scores.slope(fraction=0.1)  # last window minus first (the drop)

Any other callable of the same shape works too. ``score_losses`` applies a
score and sends every order with a non-finite loss or score to +inf, so it
ranks last; ``rank_scores`` ranks with NaN and inf last, ties kept in input
order.

Dimension letters: O orders, T steps (or checkpoints).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

Score = Callable[[np.ndarray], np.ndarray]


def window(fraction: float, num_columns: int) -> int:
  """Columns in the last ``fraction`` of ``num_columns`` (at least one)."""
  return max(1, int(round(fraction * num_columns)))


def _check_fraction(fraction) -> None:
  if (isinstance(fraction, bool) or not isinstance(fraction, (int, float))
      or not 0.0 < fraction <= 1.0):
    raise ValueError(f'fraction must be a number in (0, 1], got {fraction!r}')


@dataclasses.dataclass(frozen=True)
class Final:
  """Mean loss over the last ``fraction`` of the columns (at least one).

  With one column per checkpoint this is the last checkpoint's loss, the
  paper's "loss after E epochs".
  """
  fraction: float = 0.1

  def __post_init__(self):
    _check_fraction(self.fraction)

  def __call__(self, losses: np.ndarray) -> np.ndarray:
    return losses[:, -window(self.fraction, losses.shape[1]):].mean(axis=1)


@dataclasses.dataclass(frozen=True)
class Auc:
  """Mean loss over every column: the area under the loss curve."""

  def __call__(self, losses: np.ndarray) -> np.ndarray:
    return losses.mean(axis=1)


@dataclasses.dataclass(frozen=True)
class Slope:
  """The early drop: mean of the last window minus mean of the first.

  A larger drop is friendlier, and the drop is negative, so lower is still
  better.
  """
  fraction: float = 0.1

  def __post_init__(self):
    _check_fraction(self.fraction)

  def __call__(self, losses: np.ndarray) -> np.ndarray:
    size = window(self.fraction, losses.shape[1])
    return losses[:, -size:].mean(axis=1) - losses[:, :size].mean(axis=1)


def final(fraction: float = 0.1) -> Final:
  """The mean loss over the last ``fraction`` of steps (the default score)."""
  return Final(fraction)


def auc() -> Auc:
  """The mean loss over all steps."""
  return Auc()


def slope(fraction: float = 0.1) -> Slope:
  """The last ``fraction`` of steps minus the first: the early drop."""
  return Slope(fraction)


def score_losses(losses: np.ndarray, score: Score) -> np.ndarray:
  """Applies ``score`` to a loss matrix; non-finite orders score +inf.

  Args:
    losses: float[O, T] with T > 0.
    score: a score callable.

  Returns:
    float32[O]; +inf wherever an order's losses are not all finite or its
    score is not finite.

  Raises:
    ValueError: a loss matrix of the wrong shape, or a score that returns
      the wrong shape.
  """
  losses = np.asarray(losses, dtype=np.float64)
  if losses.ndim != 2 or losses.shape[1] == 0:
    raise ValueError(f'losses must be float[O, T] with T > 0, got shape '
                     f'{losses.shape}')
  if not callable(score):
    raise ValueError(f'score must be callable, got {score!r}')
  with np.errstate(invalid='ignore', over='ignore'):
    values = np.asarray(score(losses), dtype=np.float64)
  if values.shape != losses.shape[:1]:
    raise ValueError(f'score {score!r} returned shape {values.shape}, '
                     f'expected {losses.shape[:1]}')
  bad = ~np.all(np.isfinite(losses), axis=1) | ~np.isfinite(values)
  with np.errstate(over='ignore'):  # beyond float32's range: +inf, as meant
    return np.where(bad, np.inf, values).astype(np.float32)


def rank_scores(scores: np.ndarray) -> np.ndarray:
  """Indices best first; NaN and +inf last, ties kept in input order."""
  scores = np.asarray(scores, dtype=np.float64)
  return np.argsort(np.where(np.isnan(scores), np.inf, scores), kind='stable')
