"""Successive halving for independent-mode loss profiling.

A full profile trains every order for all ``steps``. Most orders are clearly
unfriendly long before that, so the ``Halving`` estimator spends the budget
unevenly (successive halving, Jamieson & Talwalkar 2016; the inner loop of
Hyperband, Li et al. 2018): with base steps s and elimination factor eta,

  rung 0 trains all O orders for s steps,
  rung r keeps the best ceil(O / eta^r) orders (by score on what they have
  trained so far) and trains them for s * eta^r MORE steps,

for ``rungs`` rungs. Survivors are continued, not restarted: their params,
optimiser state (so the learning-rate schedule, whose horizon is
``train.steps``) and data stream (batch ``t`` from ``fold_in(data_key, t)``)
carry on, so an order that survives every rung has exactly the loss curve of
one uninterrupted ``make_train`` run of s * (1 + eta + ... + eta^(rungs-1))
steps, and an eliminated order has that curve's prefix. Total work is about
``rungs * O * s`` order-steps instead of ``O * s * (1 + ... + eta^(rungs-1))``.

Compiled shapes are fixed: every rung re-packs its orders into chunks of the
shape ``independent.chunk_plan`` gives (C orders in lockstep groups of G, a loop
over a traced number of groups), padded with copies, and trains a rung as
eta^r segments of s steps with a traced start step. So one compiled "train s
steps" program (plus one init program) serves every rung and profile size;
it takes one key per order, so it also serves common random numbers (every
key the same) and independent streams alike.
Per-order training states live on the host (numpy) between rungs; a 1-layer
width-32 model with its AdamW moments is ~0.2 MB per order.

Which orders reach a later rung depends on the other orders of the batch, so
a halving score is not reusable in another batch.

Dimension letters: O orders, C orders per chunk, G orders per group, L target
length, S steps of the longest run, s steps of one segment.

References:
  Jamieson & Talwalkar, "Non-stochastic Best Arm Identification and
  Hyperparameter Optimization", AISTATS 2016.
  Li, Jamieson, DeSalvo, Rostamizadeh & Talwalkar, "Hyperband: A Novel
  Bandit-Based Approach to Hyperparameter Optimization", JMLR 2018.
"""

from __future__ import annotations

import dataclasses
import functools
import time

from absl import logging
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np

from lopro import scores as scores_lib
from lopro import sharding
from lopro import train as train_lib
from lopro.estimators import base
from lopro.estimators import independent
from lopro.tasks import base as tasks_lib


@dataclasses.dataclass(frozen=True)
class Halving:
  """Successive halving of one-model-per-order profiles.

  Attributes:
    train: the training run; ``train.steps`` bounds the longest run (its
      learning-rate schedule's horizon).
    eta: the elimination factor (an int >= 2).
    rungs: the number of rungs (>= 1; 1 is a full profile of s steps).
    score: losses [O, T] -> scores [O], applied to each order's trained
      prefix at its last rung.
    common_random_numbers: as ``Independent``'s.

  With s = ``train.steps // (1 + eta + ... + eta^(rungs-1))``, rung r trains
  the best ceil(O / eta^r) orders for s * eta^r more steps.
  """
  train: train_lib.TrainConfig = train_lib.TrainConfig()
  eta: int = 2
  rungs: int = 4
  score: scores_lib.Score = scores_lib.final()
  common_random_numbers: bool = True

  # Which orders reach a later rung depends on the batch.
  reusable = False

  def __post_init__(self):
    base.check_train('Halving', self.train)
    base.check_score('Halving', self.score)
    base.check_int(self, 'eta', 2)
    base.check_int(self, 'rungs', 1)
    if not isinstance(self.common_random_numbers, bool):
      raise ValueError('Halving.common_random_numbers must be a bool, got '
                       f'{self.common_random_numbers!r}')
    if self.base_steps < 1:
      raise ValueError(
          f'train.steps={self.train.steps} is too few for {self.rungs} rungs '
          f'with eta={self.eta}: the first rung needs steps // '
          f'{self._rung_units} >= 1')

  @property
  def _rung_units(self) -> int:
    return sum(self.eta ** r for r in range(self.rungs))

  @property
  def base_steps(self) -> int:
    """s, the steps of the first rung (rung r trains s * eta^r)."""
    return self.train.steps // self._rung_units

  def plan(self, num_orders: int) -> list[tuple[int, int]]:
    """[(orders kept, steps trained) for each rung] of an O-order profile."""
    return [(max(1, -(-num_orders // self.eta ** r)),
             self.base_steps * self.eta ** r) for r in range(self.rungs)]

  def profile(self, task: tasks_lib.Task, perms: np.ndarray, seed: int, *,
              callback: base.ProgressFn | None = None,
              runtime: base.Runtime | None = None) -> base.Profile:
    """Profiles ``perms`` by successive halving (see the module docstring).

    Args:
      task: the task, of length L.
      perms: int64[O, L], validated permutations.
      seed: root seed; order i is driven by ``key(seed)`` with common
        random numbers, else by ``fold_in(key(seed), i)`` (i its index in
        ``perms``, whatever rung it reaches).
      callback: told a ``Progress`` after every chunk of every rung;
        ``orders_done`` and ``num_orders`` count order-rung runs (an order
        trained in rungs 0..r counts r+1 times), ``eta_s`` is estimated from
        order-steps.
      runtime: chunk size, vmap group and devices; ``Runtime()`` if None.

    Returns:
      A Profile with losses float32[O, S] (S = s * (1 + ... +
      eta^(rungs-1)), NaN after the steps an order trained), scores (each
      order's score on its trained prefix at its last rung; +inf if not
      finite), rung int64[O] (the last rung each order trained in), ranking
      (finite scores of later rungs first, then by score; non-finite last)
      and loss_steps 1..S.
    """
    tasks_lib.check_batch_size(task, self.train.batch_size,
                               'Halving.train.batch_size')
    start = time.perf_counter()
    runtime = base.Runtime() if runtime is None else runtime
    mesh = runtime.resolved_mesh()
    num_orders = perms.shape[0]
    plan = self.plan(num_orders)
    seg = self.base_steps
    ends = np.cumsum([steps for _, steps in plan])  # step count after rung r
    total_steps = int(ends[-1])
    chunk, group = independent.chunk_plan(num_orders, runtime, mesh.size)
    (init, run), compile_s = base.build(_compiled_programs, task, self.train,
                                        chunk, group, seg, mesh)
    key = jax.random.key(seed)
    if self.common_random_numbers:
      order_keys = jnp.broadcast_to(key, (num_orders,))
    else:
      order_keys = jax.vmap(lambda i: jax.random.fold_in(key, i))(
          np.arange(num_orders))
    order_keys = base.key_data(order_keys)
    perms32 = perms.astype(np.int32)

    losses = np.full((num_orders, total_steps), np.nan, np.float32)
    scores = np.full(num_orders, np.inf, np.float32)
    rung = np.zeros(num_orders, np.int64)
    store = None  # per-order TrainState leaves, numpy [O, ...]
    num_chunks = sum(-(-kept // chunk) for kept, _ in plan)
    work = sum(kept * steps for kept, steps in plan)
    num_runs = sum(kept for kept, _ in plan)
    runs_done = steps_done = chunks_done = 0
    alive = np.arange(num_orders)
    run_start = time.perf_counter()
    for r, (kept, rung_steps) in enumerate(plan):
      if r:
        # Keep the best `kept` of the previous rung; pack them in index order.
        alive = np.sort(alive[scores_lib.rank_scores(scores[alive])[:kept]])
        rung[alive] = r
      first_step = int(ends[r]) - rung_steps
      for lo in range(0, kept, chunk):
        hi = min(lo + chunk, kept)
        index, rows, num_groups = independent.pack_chunk(
            alive[lo:hi], chunk, group, mesh.size)
        keys = sharding.put(order_keys[index], mesh)
        if r == 0:
          states = init(keys)
        else:
          states = sharding.put(jax.tree.map(lambda x: x[index], store), mesh)
        order_perms, num_groups = sharding.put(
            (perms32[index], num_groups), mesh)
        outs = []
        for j in range(rung_steps // seg):
          start_step = sharding.put(np.int32(first_step + j * seg), mesh,
                                    sharding.REPLICATED)
          states, out = run(keys, states, order_perms, start_step, num_groups)
          outs.append(out)
        losses[index[rows], first_step:first_step + rung_steps] = (
            np.concatenate([sharding.to_host(out)[rows] for out in outs],
                           axis=1))
        if r + 1 < len(plan):
          states = jax.tree.map(lambda x: x[rows], sharding.to_host(states))
          if store is None:
            store = jax.tree.map(
                lambda x: np.empty((num_orders,) + x.shape[1:], x.dtype),
                states)
          for dst, src in zip(jax.tree.leaves(store),
                              jax.tree.leaves(states)):
            dst[index[rows]] = src
        chunks_done += 1
        runs_done += hi - lo
        steps_done += (hi - lo) * rung_steps
        elapsed = time.perf_counter() - run_start
        info = base.Progress(
            chunk=chunks_done, num_chunks=num_chunks, orders_done=runs_done,
            num_orders=num_runs, elapsed_s=elapsed,
            orders_per_s=runs_done / elapsed,
            eta_s=(work - steps_done) * elapsed / steps_done)
        logging.info('profile %s (halving): rung %d/%d, chunk %d/%d, %d/%d '
                     'order-runs, %.1f order-steps/s, ETA %.0fs', task.name,
                     r + 1, len(plan), chunks_done, num_chunks, runs_done,
                     num_runs, steps_done / elapsed, info.eta_s)
        if callback is not None:
          callback(info)
      scores[alive] = scores_lib.score_losses(losses[alive, :int(ends[r])],
                                              self.score)
    run_s = time.perf_counter() - run_start
    return base.finish(
        self, task, perms, losses, seed, start, run_s,
        dict(compile_s=compile_s, order_steps=int(work),
             order_steps_per_s=work / max(run_s, 1e-9), devices=mesh.size),
        np.arange(1, total_steps + 1, dtype=np.int64), scores=scores,
        ranking=_rank(scores, rung), rung=rung)


@functools.lru_cache(maxsize=32)
def _compiled_programs(task: tasks_lib.Task, train: train_lib.TrainConfig,
                       chunk: int, group: int, seg_steps: int, mesh: Mesh):
  """The compiled init and segment programs of one chunk shape.

  ``init(keys [C, K]) -> states [C]`` initialises C models; ``run(keys
  [C, K], states [C], orders int32[C, L], start_step int32, num_groups
  int32[N]) -> (states [C], losses float32[C, s])`` trains, on each device,
  its first ``num_groups[device]`` groups of G orders for s steps from
  ``start_step`` (one vmap of ``TrainFns.run`` per group) and returns the
  other states as given and their losses zero. Keys are raw key data, and
  the order axis of keys, states, orders and losses is sharded over
  ``mesh``. ``keys[c]`` drives order c; with common random numbers the
  caller passes C copies of one key, which gives the same numbers as one
  shared key, so the programs do not depend on that switch and serve both.
  Cached per (task, train, C, G, s, mesh).

  Returns:
    (init, run).
  """
  fns = train_lib.make_train_fns(task, train)
  local = chunk // mesh.size
  num_slots = local // group

  def init_fn(keys):
    # A loop, not a vmap: a vmapped init (threefry on batched keys) took
    # twice as long to compile, and init is cheap next to training.
    return jax.lax.map(
        lambda k: fns.init(train_lib.split_run_key(
            jax.random.wrap_key_data(k))[0]), keys)

  def run_one(key, state, order, start_step):
    _, data_key, dropout_key = train_lib.split_run_key(
        jax.random.wrap_key_data(key))
    return fns.run(state, data_key, dropout_key, order, start_step, seg_steps)

  def run_fn(keys, states, perms, start_step, num_groups):
    keys = keys.reshape((num_slots, group) + keys.shape[1:])
    perms = perms.reshape(num_slots, group, task.length)
    states = jax.tree.map(
        lambda x: x.reshape((num_slots, group) + x.shape[1:]), states)

    def run_group(i, carry):
      states, losses = carry
      new, out = jax.vmap(lambda k, s, p: run_one(k, s, p, start_step))(
          keys[i], jax.tree.map(lambda x: x[i], states), perms[i])
      states = jax.tree.map(lambda x, y: x.at[i].set(y), states, new)
      return states, losses.at[i].set(out)

    losses = jnp.zeros((num_slots, group, seg_steps), jnp.float32)
    states, losses = jax.lax.fori_loop(0, num_groups[0], run_group,
                                       (states, losses))
    states = jax.tree.map(lambda x: x.reshape((local,) + x.shape[2:]), states)
    return states, losses.reshape(local, seg_steps)

  data = base.key_data(jax.random.key(0))
  keys = jax.ShapeDtypeStruct((chunk,) + data.shape, data.dtype)
  sharded, replicated = sharding.SHARDED, sharding.REPLICATED
  init = sharding.shard_orders(init_fn, mesh, sharded, sharded).lower(
      sharding.abstract(keys, mesh)).compile()
  states = sharding.abstract(jax.eval_shape(init_fn, keys), mesh)
  run = sharding.shard_orders(
      run_fn, mesh, (sharded, sharded, sharded, replicated, sharded),
      (sharded, sharded)).lower(
          sharding.abstract(keys, mesh), states,
          sharding.abstract(
              jax.ShapeDtypeStruct((chunk, task.length), np.int32), mesh),
          sharding.abstract(jax.ShapeDtypeStruct((), np.int32), mesh,
                            replicated),
          sharding.abstract(jax.ShapeDtypeStruct((mesh.size,), np.int32),
                            mesh)).compile()
  return init, run


def _rank(scores: np.ndarray, rung: np.ndarray) -> np.ndarray:
  """Indices best first: finite scores by later rung, then lower score; then
  the non-finite scores (also by later rung); ties in index order."""
  scores = np.where(np.isnan(scores), np.inf, scores)
  return np.lexsort((scores, -rung, ~np.isfinite(scores)))
