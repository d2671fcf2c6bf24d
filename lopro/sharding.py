"""Devices: the order (population) axis sharded over a 1-D device mesh.

Every vmapped computation of lopro (the independent profile's chunks, the
halving segments, mixture mode's held-out evaluation) runs under
``jax.shard_map`` over a 1-D ``jax.sharding.Mesh`` whose one axis, ``AXIS``,
splits the orders: each device trains or evaluates its own slice of the
orders with no communication, and params, optimiser states and losses stay
on the device that owns the order. The same code serves one CPU, N virtual
CPU devices (``XLA_FLAGS=--xla_force_host_platform_device_count=N``), one or
several GPUs, a TPU, and several hosts (``initialize_distributed``): inputs
are built with ``jax.make_array_from_callback`` (each process supplies the
slices its own devices hold) and outputs gathered with
``multihost_utils.process_allgather``, so every process ends with the same
numpy results and process 0 writes them.

Dimension letters: N devices.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import jax
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
import numpy as np

AXIS = 'orders'
SHARDED = PartitionSpec(AXIS)
REPLICATED = PartitionSpec()


def make_mesh(devices: Sequence[jax.Device] | int | None = None) -> Mesh:
  """A 1-D mesh, axis ``AXIS``, over the given devices.

  Args:
    devices: None for every device of every process (``jax.devices()``), an
      int k for the first k of them, or a sequence of devices.

  Raises:
    ValueError: k outside 1..jax.device_count(), or an empty sequence.
  """
  all_devices = jax.devices()
  if devices is None:
    devices = all_devices
  elif isinstance(devices, (int, np.integer)) and not isinstance(
      devices, bool):
    if not 1 <= devices <= len(all_devices):
      raise ValueError(f'devices must be in 1..{len(all_devices)} (the '
                       f'devices JAX sees), got {devices}')
    devices = all_devices[:int(devices)]
  else:
    devices = list(devices)
    if not devices:
      raise ValueError('devices must not be empty')
  # Auto axes: the compiler places what shard_map does not (JAX's default
  # for make_mesh is Explicit sharding-in-types, which lopro does not use).
  return jax.make_mesh((len(devices),), (AXIS,),
                       axis_types=(jax.sharding.AxisType.Auto,),
                       devices=devices)


def check_mesh(mesh: Mesh | None) -> Mesh:
  """``mesh`` if it is a 1-D mesh with axis ``AXIS``; a full mesh if None."""
  if mesh is None:
    return make_mesh()
  if not isinstance(mesh, Mesh) or mesh.axis_names != (AXIS,):
    raise ValueError(f'mesh must be a 1-D jax.sharding.Mesh with axis '
                     f'{AXIS!r} (lopro.sharding.make_mesh), got {mesh!r}')
  return mesh


def put(x: Any, mesh: Mesh, spec: PartitionSpec = SHARDED) -> Any:
  """Places host arrays (a pytree) on ``mesh``, sharded by ``spec``.

  Every process passes the same full arrays and contributes the slices its
  own devices hold, so this also works across hosts.
  """
  sharding = NamedSharding(mesh, spec)

  def place(leaf):
    leaf = np.asarray(leaf)
    return jax.make_array_from_callback(leaf.shape, sharding,
                                        lambda index: leaf[index])

  return jax.tree.map(place, x)


def to_host(x: Any) -> Any:
  """numpy copies of (a pytree of) arrays, gathered across processes."""

  def fetch(leaf):
    if isinstance(leaf, jax.Array) and not leaf.is_fully_addressable:
      return np.asarray(multihost_utils.process_allgather(leaf, tiled=True))
    return np.asarray(leaf)

  return jax.tree.map(fetch, x)


def abstract(x: Any, mesh: Mesh, spec: PartitionSpec = SHARDED) -> Any:
  """ShapeDtypeStructs of (a pytree of) arrays or structs, placed on mesh."""
  sharding = NamedSharding(mesh, spec)
  return jax.tree.map(
      lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype,
                                        sharding=sharding), x)


def shard_orders(fn: Callable[..., Any], mesh: Mesh, in_specs: Any,
                 out_specs: Any) -> Callable[..., Any]:
  """``jit(shard_map(fn))``: fn sees each device's slice of the orders.

  Devices never communicate, so the varying-axes type check is off: it
  would only demand ``pvary`` on every loop carry initialised in ``fn``.
  """
  return jax.jit(jax.shard_map(fn, mesh=mesh, in_specs=in_specs,
                               out_specs=out_specs, check_vma=False))


def round_robin(count: int, num_devices: int, per_device: int) -> np.ndarray:
  """int64[count]: where the k-th of ``count`` orders sits in a chunk of
  ``num_devices * per_device`` slots, device-major, dealt round-robin so
  that devices get equal shares (device k % N, slot k // N)."""
  k = np.arange(count)
  return (k % num_devices) * per_device + k // num_devices


def device_counts(count: int, num_devices: int) -> np.ndarray:
  """int64[N]: orders each device holds when ``count`` are dealt by
  ``round_robin``."""
  return -(-(count - np.arange(num_devices)) // num_devices)


def initialize_distributed(coordinator_address: str | None = None,
                           num_processes: int | None = None,
                           process_id: int | None = None) -> None:
  """``jax.distributed.initialize`` for a multi-host run.

  On Cloud TPU VMs and SLURM/Open MPI clusters every argument can stay None
  (JAX detects them). Elsewhere, e.g. GPU hosts started by hand, pass the
  coordinator's ``host:port`` (process 0's), the process count and this
  process's id. On CPU, cross-process collectives use gloo.
  """
  if hasattr(jax.config, 'jax_cpu_collectives_implementation'):
    jax.config.update('jax_cpu_collectives_implementation', 'gloo')
  jax.distributed.initialize(coordinator_address=coordinator_address,
                             num_processes=num_processes,
                             process_id=process_id)


def is_main_process() -> bool:
  """True in the process that writes results (process 0)."""
  return jax.process_index() == 0
