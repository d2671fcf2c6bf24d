"""Tests for lopro.defaults, the default method by length."""

import pytest

import lopro
from lopro import defaults
from lopro import search
from lopro import strategies


def test_default_method_by_length():
  for length, steps, width, block_perms, rounds in (
      (8, 3000, 64, 5040, 12), (10, 3000, 64, 5040, 12),
      (11, 3000, 32, 5040, 6), (12, 3000, 32, 5040, 6),
      (13, 3000, 32, 5040, 6), (16, 6000, 32, 720, 6),
      (24, 6000, 32, 720, 6)):
    strategy, estimator = defaults.default_method(length)
    (first, first_est), (refine, refine_est), *later = strategy.stages
    assert first == strategies.Hierarchical(max_block_perms=block_perms)
    assert first_est == estimator == lopro.Universal(
        train=lopro.TrainConfig(steps=steps, batch_size=128, width=width))
    assert refine == strategies.Insertion(rounds=rounds, name='refine')
    assert refine_est == lopro.Independent()
    # A polish stage scored by halving to 1,050 steps at 9 <= L <= 12 only.
    assert later == ([defaults.polish_stage()] if 9 <= length <= 12 else [])
  climb, scorer = defaults.polish_stage()
  assert climb == strategies.Insertion(rounds=3, name='polish')
  assert scorer == lopro.Halving(train=lopro.TrainConfig(steps=1050), eta=2,
                                 rungs=3)
  assert [steps for _, steps in scorer.plan(82)] == [150, 300, 600]
  # Beyond L=24 the refine reads the universal run's learning curve (an
  # Independent round would take hours on a CPU).
  strategy, estimator = defaults.default_method(40)
  (first, first_est), (refine, refine_est) = strategy.stages
  assert first == strategies.Hierarchical(max_block_perms=120, num_starts=1)
  assert refine == strategies.Insertion(rounds=6, name='refine')
  # 64 wide: at L=40 a width-32 model leaves slots unlearnt.
  assert first_est == estimator == lopro.Universal(train=lopro.TrainConfig(
      steps=6000, batch_size=128, width=64))
  assert refine_est == lopro.Universal(
      train=estimator.train, num_checkpoints=3, score=lopro.scores.auc())
  assert defaults.default_method(25)[0] == strategy
  assert defaults.default_method(25)[1] == estimator
  assert defaults.default_method(24)[1].train.width == 32
  assert lopro.default_method is defaults.default_method
  assert ('Hierarchical scored by Universal, then Insertion scored by '
          'Independent') == search.describe_method(*defaults.default_method(
              13))
  assert ('Hierarchical scored by Universal, then Insertion scored by '
          'Independent, then Insertion scored by Halving'
          ) == search.describe_method(*defaults.default_method(10))


def test_init_picks_the_default_methods_initial_population():
  strategy, _ = defaults.default_method(8, 'structured')
  assert strategy.stages[0][0].initial == strategies.StructuredInit()
  assert defaults.default_method(8, strategies.StructuredInit(block=3))[
      0].stages[0][0].initial == strategies.StructuredInit(block=3)
  assert defaults.default_method(8, 'random') == defaults.default_method(8)
  with pytest.raises(ValueError, match="init must be 'random', "
                     "'structured'"):
    defaults.default_method(8, 'forward')
