"""One model per order, the whole training run vmapped over the orders.

``Independent`` trains a small transformer on every candidate order for the
same number of steps and scores each order by its own loss curve. The
training run (init, data, ``lax.scan`` over steps) is vmapped over a
fixed-size chunk of orders; the last chunk is padded, so a profile compiles
once whatever its number of orders, and later profiles with the same task,
training config and chunk shape compile not at all (the builders below are
``functools.lru_cache``d).

With common random numbers (the default) every order gets the same init and
data stream, so an order's score depends on the order and the seed alone:
it can be reused in any later batch (``reusable``).

Dimension letters: O orders, C orders per chunk, G orders per lockstep
group, N devices, L target length, T steps.
"""

from __future__ import annotations

import dataclasses
import functools
import time
from collections.abc import Iterator
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
from jax.sharding import Mesh
import numpy as np

from lopro import scores as scores_lib
from lopro import sharding
from lopro import train as train_lib
from lopro.estimators import base
from lopro.tasks import base as tasks_lib

# Orders vmapped together on a CPU. Per order, groups of 8 were 6-17% slower
# than groups of 32 on full chunks (O=64, 2 interleaved repeats), and both
# beat one vmap over 64 or more (cache locality). But a group of 8 pads at
# most 7 orders per profile, not 31: a search's ~20 small profiles (a few to
# 120 new orders each) come out about 20% cheaper with 8.
CPU_VMAP_GROUP = 8
# Profile.slot_losses: the mean over this last fraction of steps, as the
# default score (scores.final()) reads the loss curve.
SLOT_TAIL = 0.1


@dataclasses.dataclass(frozen=True)
class Independent:
  """One model per order, vmapped: the default estimator.

  Attributes:
    train: the model and optimiser of every order's run (``TrainConfig()``:
      1 layer, width 32, 300 steps of batch 32).
    score: losses [O, T] -> scores [O]; the mean of the last 10% of steps.
    common_random_numbers: every order gets the same init and data stream,
      so loss differences come from the order alone and scores are
      reusable across batches. False: order i of a batch gets
      ``fold_in(key(seed), i)``.
    num_seeds: S; each order is trained under seeds seed..seed+S-1 and its
      score is the mean of the S scores (its losses the mean curve). More
      seeds resolve near-ties (orders one move apart) at S times the cost.
    slot_losses: also return each order's loss per target slot
      (``Profile.slot_losses``: the mean training loss of each slot over the
      last 10% of steps), which says which slots an order makes hard; what
      ``lopro.strategies.Eject`` reads. Scores are the same either way.
  """
  train: train_lib.TrainConfig = train_lib.TrainConfig()
  score: scores_lib.Score = scores_lib.final()
  common_random_numbers: bool = True
  num_seeds: int = 1
  slot_losses: bool = dataclasses.field(
      default=False, metadata={base.OMIT_DEFAULT: True})

  def __post_init__(self):
    base.check_train('Independent', self.train)
    base.check_score('Independent', self.score)
    if not isinstance(self.common_random_numbers, bool):
      raise ValueError('Independent.common_random_numbers must be a bool, got '
                       f'{self.common_random_numbers!r}')
    base.check_int(self, 'num_seeds', 1)
    if not isinstance(self.slot_losses, bool):
      raise ValueError('Independent.slot_losses must be a bool, got '
                       f'{self.slot_losses!r}')

  @property
  def reusable(self) -> bool:
    """With common random numbers a score depends on the order alone."""
    return self.common_random_numbers

  def profile(self, task: tasks_lib.Task, perms: np.ndarray, seed: int, *,
              callback: base.ProgressFn | None = None,
              runtime: base.Runtime | None = None) -> base.Profile:
    """Trains one model per order (per seed) and scores every order.

    Args:
      task: the task, of length L.
      perms: int64[O, L], validated permutations.
      seed: root seed; see ``common_random_numbers`` and ``num_seeds``.
      callback: told a ``Progress`` after every chunk.
      runtime: chunk size, vmap group and devices; ``Runtime()`` if None.

    Returns:
      A Profile with losses float32[O, T] (the mean over seeds), scores
      float32[O] (the mean of the seeds' scores), loss_steps 1..T and, with
      ``slot_losses``, slot_losses float32[O, L] (the mean over seeds).
    """
    tasks_lib.check_batch_size(task, self.train.batch_size,
                               'Independent.train.batch_size')
    start = time.perf_counter()
    runtime = base.Runtime() if runtime is None else runtime
    mesh = runtime.resolved_mesh()
    num_orders, steps = perms.shape[0], self.train.steps
    chunk, group = chunk_plan(num_orders, runtime, mesh.size)
    _, compile_s = base.build(compiled_chunk, task, self.train,
                              self.common_random_numbers, chunk, group, mesh,
                              self.slot_losses)
    num_chunks = -(-num_orders // chunk) * self.num_seeds
    all_losses, all_scores, all_slots, done = [], [], [], 0
    run_start = time.perf_counter()
    for s in range(self.num_seeds):
      losses = np.empty((num_orders, steps), np.float32)
      slots = (np.empty((num_orders, task.length), np.float32)
               if self.slot_losses else None)
      for orders, rows, out in profile_chunks(
          perms, task, self.train, self.common_random_numbers, seed + s,
          runtime, slot_losses=self.slot_losses):
        if self.slot_losses:
          out, slot_out = out
          slots[orders] = sharding.to_host(slot_out)[rows]
        losses[orders] = sharding.to_host(out)[rows]
        done += 1
        elapsed = time.perf_counter() - run_start
        orders_done = s * num_orders + int(orders[-1]) + 1
        rate = orders_done / elapsed
        info = base.Progress(
            chunk=done, num_chunks=num_chunks, orders_done=orders_done,
            num_orders=num_orders * self.num_seeds, elapsed_s=elapsed,
            orders_per_s=rate,
            eta_s=(num_orders * self.num_seeds - orders_done) / rate)
        logging.info('profile %s: chunk %d/%d, %d/%d orders, %.1f orders/s, '
                     'ETA %.0fs', task.name, done, num_chunks, orders_done,
                     info.num_orders, rate, info.eta_s)
        if callback is not None:
          callback(info)
      all_losses.append(losses)
      if self.slot_losses:
        all_slots.append(slots)
      all_scores.append(scores_lib.score_losses(losses, self.score))
    run_s = time.perf_counter() - run_start
    order_steps = num_orders * steps * self.num_seeds
    return base.finish(
        self, task, perms, np.mean(np.stack(all_losses), axis=0), seed,
        start, run_s,
        dict(compile_s=compile_s, order_steps=int(order_steps),
             order_steps_per_s=order_steps / max(run_s, 1e-9),
             devices=mesh.size),
        np.arange(1, steps + 1, dtype=np.int64),
        scores=np.mean(np.stack(all_scores), axis=0),
        slot_losses=(np.mean(np.stack(all_slots), axis=0)
                     if self.slot_losses else None))


def chunk_shape(num_orders: int, chunk_size: int) -> int:
  """Orders per compiled chunk without groups: the next power of two, capped
  at chunk_size.

  Few distinct shapes keep compiles rare across profiles of varying size
  (search stages), without padding 16 orders up to a chunk of 256.
  """
  return min(chunk_size, 1 << max(0, (num_orders - 1).bit_length()))


def chunk_plan(num_orders: int, runtime: base.Runtime,
               num_devices: int = 1) -> tuple[int, int]:
  """(C orders per compiled chunk, G orders per lockstep group).

  C is a multiple of ``num_devices``: each device trains C/N orders, in
  groups of G. With a group (a CPU by default), C/N is ``chunk_size / N``
  rounded up to whole groups whatever ``num_orders``, and only the groups
  that hold orders run. Without one (accelerators), each device runs one
  vmap: G = C/N = ``chunk_shape(ceil(num_orders / N), ceil(chunk_size /
  N))``.
  """
  group = runtime.vmap_group
  if group is None and jax.default_backend() == 'cpu':
    group = CPU_VMAP_GROUP
  per_device_cap = -(-runtime.chunk_size // num_devices)
  if group is None:
    group = chunk_shape(-(-num_orders // num_devices), per_device_cap)
    return group * num_devices, group
  group = min(group, per_device_cap)
  return -(-per_device_cap // group) * group * num_devices, group


def pack_chunk(orders: np.ndarray, chunk: int, group: int, num_devices: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Lays out n orders in a chunk of C slots over N devices.

  Orders are dealt round-robin over the devices (equal shares), and fill
  each device's slots from the front, so a device runs only its first
  ceil(share / G) groups. Empty slots hold copies of the first order; their
  groups do not run, or their results are dropped.

  Args:
    orders: int[n], the orders' indices (into perms, keys, states).
    chunk: C.
    group: G.
    num_devices: N.

  Returns:
    (index int64[C]: the order index in every slot, rows int64[n]: the slot
    of each order, num_groups int32[N]: groups each device runs).
  """
  orders = np.asarray(orders)
  rows = sharding.round_robin(len(orders), num_devices, chunk // num_devices)
  index = np.full(chunk, orders[0])
  index[rows] = orders
  num_groups = -(-sharding.device_counts(len(orders), num_devices) // group)
  return index, rows, num_groups.astype(np.int32)


@functools.lru_cache(maxsize=64)
def compiled_chunk(task: tasks_lib.Task, train: train_lib.TrainConfig,
                   common_random_numbers: bool, chunk: int, group: int,
                   mesh: Mesh, slot_losses: bool = False):
  """The compiled ``(key [K], keys [C, K], orders int32[C, L], num_groups
  int32[N]) -> losses float32[C, T]``, sharded over the orders of ``mesh``;
  with ``slot_losses``, ``(losses, slots float32[C, L])``, each slot's mean
  loss over the last 10% of steps.

  Keys are raw key data (``base.key_data``). Each device holds C/N orders as
  C/(N G) groups of G; a loop with a traced trip count trains its first
  ``num_groups[device]`` groups, each as one vmap of ``train``, and leaves
  the rest of its output zero. So one program serves any number of orders
  up to C, at the cost of whole groups. With common random numbers the
  single ``key`` drives every order and ``keys`` is ignored; otherwise
  ``keys[c]`` drives order ``c``. Cached per (task, train, crn, C, G, mesh,
  slot_losses).
  """
  train_fn = train_lib.make_train(task, train, slot_losses=slot_losses)
  local = chunk // mesh.size
  num_slots = local // group
  tail = scores_lib.window(SLOT_TAIL, train.steps)

  def local_fn(key, keys, perms, num_groups):
    key = jax.random.wrap_key_data(key)
    keys = jax.random.wrap_key_data(keys).reshape(num_slots, group)
    perms = perms.reshape(num_slots, group, task.length)

    def run_group(i, outs):
      if common_random_numbers:
        out = jax.vmap(lambda p: train_fn(key, p))(perms[i])
      else:
        out = jax.vmap(train_fn)(keys[i], perms[i])
      if not slot_losses:
        return outs.at[i].set(out)
      losses, by_slot = out  # [G, T], [G, T, L]
      return (outs[0].at[i].set(losses),
              outs[1].at[i].set(by_slot[:, -tail:].mean(axis=1)))

    losses = jnp.zeros((num_slots, group, train.steps), jnp.float32)
    if not slot_losses:
      losses = jax.lax.fori_loop(0, num_groups[0], run_group, losses)
      return losses.reshape(local, train.steps)
    by_slot = jnp.zeros((num_slots, group, task.length), jnp.float32)
    losses, by_slot = jax.lax.fori_loop(0, num_groups[0], run_group,
                                        (losses, by_slot))
    return (losses.reshape(local, train.steps),
            by_slot.reshape(local, task.length))

  data = base.key_data(jax.random.key(0))
  fn = sharding.shard_orders(
      local_fn, mesh,
      in_specs=(sharding.REPLICATED, sharding.SHARDED, sharding.SHARDED,
                sharding.SHARDED),
      out_specs=((sharding.SHARDED, sharding.SHARDED) if slot_losses
                 else sharding.SHARDED))
  return fn.lower(
      sharding.abstract(data, mesh, sharding.REPLICATED),
      sharding.abstract(
          jax.ShapeDtypeStruct((chunk,) + data.shape, data.dtype), mesh),
      sharding.abstract(
          jax.ShapeDtypeStruct((chunk, task.length), np.int32), mesh),
      sharding.abstract(
          jax.ShapeDtypeStruct((mesh.size,), np.int32), mesh)).compile()


def profile_chunks(perms: np.ndarray, task: tasks_lib.Task,
                   train: train_lib.TrainConfig, common_random_numbers: bool,
                   seed: int, runtime: base.Runtime, *,
                   slot_losses: bool = False
                   ) -> Iterator[tuple[np.ndarray, np.ndarray, Any]]:
  """Trains validated ``perms`` chunk by chunk, leaving losses on devices.

  The engine of ``Independent.profile``, for callers who want the loss
  matrix to stay sharded.

  Args:
    perms: int64[O, L], validated permutations.
    task: the Task (length L).
    train: the training run of every order.
    common_random_numbers: as ``Independent``'s.
    seed: root seed.
    runtime: chunk size, vmap group and devices.
    slot_losses: yield (losses, slots float32[C, L]) in place of losses.

  Yields:
    (orders int64[n]: indices into ``perms``, rows int64[n]: the rows of
    ``losses`` that hold them, losses float32[C, T]: sharded over the mesh's
    devices along C).
  """
  mesh = runtime.resolved_mesh()
  num_orders = perms.shape[0]
  chunk, group = chunk_plan(num_orders, runtime, mesh.size)
  compiled = compiled_chunk(task, train, common_random_numbers, chunk, group,
                            mesh, slot_losses)
  key = jax.random.key(seed)
  shared_key = sharding.put(base.key_data(key), mesh, sharding.REPLICATED)
  order_keys = base.key_data(jax.vmap(lambda i: jax.random.fold_in(key, i))(
      np.arange(num_orders)))
  for lo in range(0, num_orders, chunk):
    hi = min(lo + chunk, num_orders)
    index, rows, num_groups = pack_chunk(np.arange(lo, hi), chunk, group,
                                         mesh.size)
    out = compiled(shared_key, *sharding.put(
        (order_keys[index], perms[index].astype(np.int32), num_groups), mesh))
    yield np.arange(lo, hi), rows, out
