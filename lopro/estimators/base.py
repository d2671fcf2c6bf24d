"""What every estimator shares: the protocol, the Profile it returns, Runtime.

An *estimator* turns a batch of candidate orders into a ``Profile``: a loss
matrix and one score per order (lower is friendlier). It is a frozen
dataclass holding only what defines its result (the training run, the
score, its own settings), so equal estimators give equal profiles and an
estimator can key caches and checkpoints. How the work is laid out on the
machine (chunk size, vmap group, device mesh) is a ``Runtime``: it never
changes a result.

  class Estimator(Protocol):
    reusable: bool      # may an order's score be reused in another batch?
    def profile(self, task, perms, seed, *, callback=None,
                runtime=None) -> Profile: ...

Dimension letters: O orders, L target length, T steps (or checkpoints).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from absl import logging
import jax
from jax.sharding import Mesh
import numpy as np

from lopro import scores as scores_lib
from lopro import sharding
from lopro import train as train_lib
from lopro.tasks import base as tasks_lib


@dataclasses.dataclass(frozen=True)
class Progress:
  """What a progress callback is told during a profile.

  Attributes:
    chunk: units of work done (chunks, rungs' chunks or checkpoints).
    num_chunks: units of work in all.
    orders_done: orders (or order-runs) finished so far.
    num_orders: orders (or order-runs) in all.
    elapsed_s: seconds since the work began (compiling excluded).
    orders_per_s: orders_done / elapsed_s.
    eta_s: estimated seconds left.
  """
  chunk: int
  num_chunks: int
  orders_done: int
  num_orders: int
  elapsed_s: float
  orders_per_s: float
  eta_s: float


ProgressFn = Callable[[Progress], None]


@dataclasses.dataclass(frozen=True)
class Runtime:
  """How a profile is laid out on the machine; never changes its result.

  Attributes:
    chunk_size: most orders trained (or evaluated) at once; bounds memory.
    vmap_group: orders trained in lockstep (one vmap) inside a chunk. None
      picks 8 on a CPU (a narrow vmap stays in cache) and, on accelerators,
      one vmap over a power-of-two chunk.
    mesh: the devices the orders are sharded over
      (``lopro.sharding.make_mesh``); None for every device JAX sees.
  """
  chunk_size: int = 256
  vmap_group: int | None = None
  mesh: Mesh | None = None

  def __post_init__(self):
    train_lib.check_positive(self, ('chunk_size',))
    if self.vmap_group is not None:
      train_lib.check_positive(self, ('vmap_group',))
    if self.mesh is not None:
      sharding.check_mesh(self.mesh)

  def resolved_mesh(self) -> Mesh:
    return sharding.check_mesh(self.mesh)


@dataclasses.dataclass
class Profile:
  """What an estimator found; plain numpy, serialisable with to_dict().

  Attributes:
    perms: int64[O, L], the profiled orders.
    losses: float32[O, T], the loss of every order at every step (or
      checkpoint); see ``loss_steps``.
    scores: float32[O], lower is friendlier; +inf for NaN/inf losses.
    ranking: int64[O], indices into ``perms``, best first.
    nonfinite: int64[N], orders whose losses (or score) were not finite;
      they score +inf.
    task: the task's name.
    estimator: the estimator that made it.
    seed: the seed used.
    timings: compile_s, run_s, total_s, orders_per_s, order_steps (training
      steps summed over models), order_steps_per_s, and the estimator's own.
    loss_steps: int64[T], the training step after which each column of
      ``losses`` was measured.
    rung: int64[O], successive halving only: the last rung each order
      trained in (the ranking puts later rungs first).
    slot_losses: float32[O, L], ``Independent(slot_losses=True)`` only: each
      order's loss per target slot (stored slot index), late in training.
  """
  perms: np.ndarray
  losses: np.ndarray
  scores: np.ndarray
  ranking: np.ndarray
  nonfinite: np.ndarray
  task: str
  estimator: Any
  seed: int
  timings: dict[str, Any]
  loss_steps: np.ndarray
  rung: np.ndarray | None = None
  slot_losses: np.ndarray | None = None

  @property
  def best(self) -> np.ndarray:
    """int64[L], the friendliest order."""
    return self.perms[self.ranking[0]]

  def rank_of(self, order) -> int:
    """0-based rank of ``order`` (which must be among ``perms``)."""
    order = np.asarray(order)
    if order.shape != self.perms.shape[1:]:
      raise ValueError(f'order {order.tolist()} was not profiled: the '
                       f'profiled orders have length {self.perms.shape[1]}')
    hits = np.flatnonzero(np.all(self.perms == order, axis=1))
    if hits.size == 0:
      raise ValueError(f'order {order.tolist()} was not profiled')
    return int(np.flatnonzero(self.ranking == hits[0])[0])

  def to_dict(self) -> dict[str, Any]:
    return dict(task=self.task, seed=self.seed,
                estimator=describe(self.estimator),
                perms=self.perms.tolist(), scores=self.scores.tolist(),
                ranking=self.ranking.tolist(),
                nonfinite=self.nonfinite.tolist(), timings=self.timings,
                loss_steps=self.loss_steps.tolist(),
                rung=None if self.rung is None else self.rung.tolist(),
                slot_losses=(None if self.slot_losses is None
                             else self.slot_losses.tolist()))


@runtime_checkable
class Estimator(Protocol):
  """Profiles a batch of orders of a task.

  ``reusable`` says whether an order's score depends on the order (and the
  seed) alone, so that a search may reuse it in a later batch; a score that
  depends on the other orders of its batch (a mixture's, halving's) may not
  be.
  """
  reusable: bool

  def profile(self, task: tasks_lib.Task, perms: np.ndarray, seed: int, *,
              callback: ProgressFn | None = None,
              runtime: Runtime | None = None) -> Profile:
    ...


OMIT_DEFAULT = 'lopro_omit_default'


def describe(value: Any) -> Any:
  """A JSON description of an estimator, strategy, score or config.

  Dataclasses become ``{'type': class name, field: value, ...}``, recursively;
  numpy values become lists and numbers; other callables their qualified
  name. Equal settings give equal descriptions, so they key checkpoints.
  A field declared with ``metadata={OMIT_DEFAULT: True}`` (one added after
  checkpoints and cell files were written) is described only when it differs
  from its default, so those files still match the settings they were made
  with.
  """
  if dataclasses.is_dataclass(value) and not isinstance(value, type):
    out = {'type': type(value).__name__}
    for field in dataclasses.fields(value):
      item = getattr(value, field.name)
      if field.metadata.get(OMIT_DEFAULT) and item == field.default:
        continue
      out[field.name] = describe(item)
    return out
  if isinstance(value, (list, tuple)):
    return [describe(v) for v in value]
  if isinstance(value, dict):
    return {str(k): describe(v) for k, v in value.items()}
  if isinstance(value, np.ndarray):
    return value.tolist()
  if isinstance(value, (np.integer, np.floating, np.bool_)):
    return value.item()
  if isinstance(value, (str, int, float, bool)) or value is None:
    return value
  if callable(value):
    return getattr(value, '__qualname__', type(value).__name__)
  return repr(value)


def check_train(name: str, train: Any) -> None:
  """Raises unless ``train`` is a TrainConfig."""
  if not isinstance(train, train_lib.TrainConfig):
    raise ValueError(f'{name}.train must be a lopro.TrainConfig, got '
                     f'{type(train).__name__}')


def check_score(name: str, score: Any) -> None:
  if not callable(score):
    raise ValueError(f'{name}.score must be a callable losses -> scores '
                     f'(e.g. lopro.scores.final()), got {score!r}')


def check_int(owner: Any, name: str, low: int) -> None:
  """Raises unless field ``name`` of the frozen dataclass ``owner`` is an int
  >= ``low`` (the message quotes it); a numpy int is stored as an int."""
  train_lib.check_int(owner, name, low, what=f'{type(owner).__name__}.')


def build(builder: Callable[..., Any], *args: Any) -> tuple[Any, float]:
  """Calls an ``functools.lru_cache``d program builder.

  Returns:
    (what it built, seconds spent building now: 0.0 on a cache hit).
  """
  hits = builder.cache_info().hits
  start = time.perf_counter()
  program = builder(*args)
  if builder.cache_info().hits > hits:
    return program, 0.0
  return program, time.perf_counter() - start


def key_data(keys: jax.Array) -> np.ndarray:
  """uint32[..., K]: the raw data of typed PRNG keys, on the host."""
  return np.asarray(jax.random.key_data(keys))


def finish(estimator: Any, task: tasks_lib.Task, perms: np.ndarray,
           losses: np.ndarray, seed: int, start: float, run_s: float,
           timings: dict[str, Any], loss_steps: np.ndarray,
           scores: np.ndarray | None = None,
           ranking: np.ndarray | None = None,
           rung: np.ndarray | None = None,
           slot_losses: np.ndarray | None = None) -> Profile:
  """Builds the Profile: scores (unless given), ranking, non-finite orders.

  Orders with a non-finite loss are logged once; they score +inf and rank
  last. ``timings`` gets ``run_s``, ``total_s`` and ``orders_per_s``.
  """
  if scores is None:
    scores = scores_lib.score_losses(losses, estimator.score)
  nonfinite = np.flatnonzero(~np.all(np.isfinite(losses), axis=1)
                             | ~np.isfinite(scores))
  if rung is not None:  # halving: NaN marks steps an order never trained
    nonfinite = np.flatnonzero(~np.isfinite(scores))
  if nonfinite.size:
    logging.warning('profile %s (%s): %d orders had non-finite losses; they '
                    'rank last', task.name, type(estimator).__name__,
                    nonfinite.size)
  timings = dict(timings, run_s=run_s, total_s=time.perf_counter() - start,
                 orders_per_s=perms.shape[0] / max(run_s, 1e-9))
  return Profile(
      perms=perms, losses=losses, scores=scores,
      ranking=scores_lib.rank_scores(scores) if ranking is None else ranking,
      nonfinite=nonfinite, task=task.name, estimator=estimator,
      seed=int(seed), timings=timings, loss_steps=loss_steps, rung=rung,
      slot_losses=slot_losses)
