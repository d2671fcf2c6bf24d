"""One any-order model, trained once and reused by every profile.

``Universal`` trains a single model on uniformly random orders of all L!
(sigma-GPT's any-order training: every example draws its own order, and the
model is told at every position which stored slot it emits), then scores any
order by that model's held-out loss on it. It never sees the candidates, so
it has no population to favour (a mixture's bias), an order's score depends
on the order and the seed alone (``reusable``), and the model is trained
once per (task, training run, seed), kept in memory
(``functools.lru_cache``) and reused by every later profile. The run keeps
its parameters at ``KEPT_POINTS`` evenly spaced steps, so Universals that
read 1, 2, 3, 4, 6 or 12 checkpoints of one training run share it when its
steps divide by 12, as the defaults' do (a search's first stage reads the end,
its refine the learning curve). A search then
costs one training run plus forward passes, which read the inputs once per
call of G orders (orders/s per L on 2 CPU cores:
``results/speed/benchmark_estimators_cpu.md``).

It is a coarse scorer near the optimum: orders that differ in where a few
early, cheap slots go score within noise of each other. Follow it with a
finer estimator on a small neighbourhood (``strategies.Pipeline``).

References:
  Pannatier, Courdier & Fleuret, "sigma-GPTs: A New Approach to
  Autoregressive Models", ECML PKDD 2024 (any-order training with double
  positional encodings).
"""

from __future__ import annotations

import dataclasses
import functools
import time
from typing import Any

from absl import logging
import numpy as np

from lopro import scores as scores_lib
from lopro import train as train_lib
from lopro.estimators import base
from lopro.estimators import mixture
from lopro.tasks import base as tasks_lib


@dataclasses.dataclass(frozen=True)
class Universal:
  """One any-order model trained on random orders, reused for every order.

  Attributes:
    train: the model's training run (3,000 steps of batch 128).
    num_checkpoints: held-out evaluations of every order (the score reads
      the last by default).
    num_heldout: M, held-out examples every order is evaluated on.
    score: losses [O, C] -> scores [O].
  """
  train: train_lib.TrainConfig = train_lib.TrainConfig(steps=3000,
                                                       batch_size=128)
  num_checkpoints: int = 1
  num_heldout: int = 128
  score: scores_lib.Score = scores_lib.final()

  # The model never sees the candidates: a score depends on the order alone.
  reusable = True

  def __post_init__(self):
    mixture.check_mixture_fields('Universal', self)

  def profile(self, task: tasks_lib.Task, perms: np.ndarray, seed: int, *,
              callback: base.ProgressFn | None = None,
              runtime: base.Runtime | None = None) -> base.Profile:
    """Scores every order with the (kept or newly trained) universal model.

    Args:
      task: the task, of length L.
      perms: int64[O, L], validated permutations.
      seed: root seed of the model's init, data, random orders and
        held-out set.
      callback: told a ``Progress`` after every checkpoint's evaluation.
      runtime: evaluation group and devices.

    Returns:
      A Profile with losses float32[O, C] and ``loss_steps`` the
      checkpoints; ``timings['model_reused']`` says whether the model was
      taken from memory, ``timings['train_s']`` how long training it took
      now (0 when reused; included in ``total_s``).
    """
    start = time.perf_counter()
    checkpoints, train_s = kept_checkpoints(task, self.train,
                                            self.num_checkpoints, int(seed))
    return mixture.profile_mixture(
        self, task, perms, seed, True, 1.0, callback, runtime,
        checkpoints=checkpoints, model_reused=train_s == 0.0, start=start,
        train_s=train_s)


# The universal model's training run keeps its parameters at this many evenly
# spaced steps (12 host copies of a small model): every checkpoint count that
# divides it reads the same run.
KEPT_POINTS = 12

Checkpoints = tuple[tuple[int, Any, float], ...]


def kept_steps(steps: int) -> np.ndarray:
  """int64[K]: the steps at which the shared training run keeps parameters."""
  return mixture.checkpoint_steps(steps, min(KEPT_POINTS, steps))


def kept_checkpoints(task: tasks_lib.Task, train: train_lib.TrainConfig,
                     num_checkpoints: int, seed: int
                     ) -> tuple[Checkpoints, float]:
  """The universal model at its C checkpoints, trained now or kept.

  Checkpoints that all lie among ``kept_steps`` come from the one shared
  training run of (task, train, seed); others from a run of their own.

  Returns:
    (((checkpoint, host params, train loss), ...), seconds spent training
    now: 0.0 when the run was kept).
  """
  wanted = mixture.checkpoint_steps(train.steps, num_checkpoints)
  if np.isin(wanted, kept_steps(train.steps)).all():
    run, train_s = base.build(training_run, task, train, seed)
    return tuple((c, *run[int(s)]) for c, s in enumerate(wanted)), train_s
  return base.build(own_run, task, train, num_checkpoints, seed)


def trained_model(task: tasks_lib.Task, train: train_lib.TrainConfig,
                  num_checkpoints: int, seed: int) -> Checkpoints:
  """((checkpoint, host params, train loss), ...) of the universal model."""
  return kept_checkpoints(task, train, num_checkpoints, seed)[0]


def _train(task: tasks_lib.Task, train: train_lib.TrainConfig,
           num_checkpoints: int, seed: int) -> Checkpoints:
  out = []
  for c, params, loss in mixture.train_checkpoints(
      task, train, True, 1.0, num_checkpoints,
      np.arange(task.length)[None], seed, 1):
    logging.info('universal model %s L=%d seed %d: checkpoint %d/%d, train '
                 'loss %.3f', task.name, task.length, seed, c + 1,
                 num_checkpoints, loss)
    out.append((c, params, loss))
  return tuple(out)


@functools.lru_cache(maxsize=4)
def training_run(task: tasks_lib.Task, train: train_lib.TrainConfig,
                 seed: int) -> dict[int, tuple[Any, float]]:
  """{step: (host params, train loss)} at every one of ``kept_steps``."""
  steps = kept_steps(train.steps)
  return {int(steps[c]): (params, loss)
          for c, params, loss in _train(task, train, steps.size, seed)}


@functools.lru_cache(maxsize=4)
def own_run(task: tasks_lib.Task, train: train_lib.TrainConfig,
            num_checkpoints: int, seed: int) -> Checkpoints:
  """The checkpoints of a run for a count whose steps are not kept."""
  return _train(task, train, num_checkpoints, seed)
