"""Estimators: how a batch of candidate orders becomes a loss profile.

  Independent  one model per order, vmapped (the default)
  Halving      successive halving of one-model-per-order runs
  Mixture      the paper's one model on a mixture of the candidates
  Universal    one any-order model, trained once and reused

Each answers ``profile(task, perms, seed) -> Profile`` and says whether its
scores can be reused across batches (``reusable``); ``base.py`` holds the
protocol and what they share.
"""

from lopro.estimators.base import Estimator
from lopro.estimators.base import Profile
from lopro.estimators.base import Progress
from lopro.estimators.base import Runtime
from lopro.estimators.halving import Halving
from lopro.estimators.independent import Independent
from lopro.estimators.mixture import Mixture
from lopro.estimators.universal import Universal

__all__ = ['Estimator', 'Halving', 'Independent', 'Mixture', 'Profile',
           'Progress', 'Runtime', 'Universal']
