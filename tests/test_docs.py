"""The examples of docs/design.md run as written and do what they say."""

import pathlib
import re

import numpy as np

import lopro
from conftest import FunctionEstimator
from conftest import kendall_scorer

DESIGN = pathlib.Path(__file__).parent.parent / 'docs' / 'design.md'


def _example(heading: str) -> dict:
  """Runs the first python block after ``heading``; returns its names."""
  text = DESIGN.read_text()
  start = text.index(heading)
  code = re.search(r'```python\n(.*?)```', text[start:], re.S).group(1)
  names: dict = {}
  exec(compile(code, str(DESIGN), 'exec'), names)  # pylint: disable=exec-used
  return names


def test_the_estimator_example_profiles_orders():
  first_step_loss = _example('### Adding an estimator')['FirstStepLoss']
  estimator = first_step_loss()
  perms = np.stack([np.arange(5), np.arange(5)[::-1], [1, 0, 2, 3, 4]])
  prof = lopro.profile_orders(perms, 'relu', estimator=estimator)
  assert prof.losses.shape == (3, 1) and np.isfinite(prof.scores).all()
  # One step: every order scores its own first loss, alone or in a batch.
  alone = lopro.profile_orders(perms[1:2], 'relu', estimator=estimator)
  np.testing.assert_allclose(alone.scores[0], prof.scores[1], rtol=1e-5)
  assert estimator.reusable


def test_the_strategy_example_climbs_to_the_hidden_order():
  swap_climb = _example('### Adding a strategy')['SwapClimb']
  h = np.array([1, 0, 2, 4, 3, 5])  # two adjacent swaps from forward
  result = lopro.search_order(
      'relu', length=6, strategy=swap_climb(),
      estimator=FunctionEstimator(kendall_scorer(h)))
  np.testing.assert_array_equal(result.order, h)
  assert result.score == 0 and result.local_optimum
  assert [r.name for r in result.history] == ['swap'] * 3
