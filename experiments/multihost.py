"""absl flags that join a binary to a multi-host run (``jax.distributed``).

Imported by the binaries in experiments/ only (it defines flags); the
library itself needs none of it.

Every process runs the same command; lopro shards the orders over the
devices of all processes, every process ends with the same results, and
process 0 writes them (``lopro.sharding.is_main_process``).

  # Cloud TPU VM pod slice (arguments auto-detected), on every worker:
  python experiments/discover.py --distributed --output_dir=...
  # GPU hosts started by hand: on host i of N (host 0 is the coordinator):
  python experiments/discover.py --coordinator_address=HOST0:1234 \
      --num_processes=N --process_id=i --output_dir=...
"""

from __future__ import annotations

from absl import flags
from absl import logging
import jax

from lopro import sharding

_DISTRIBUTED = flags.DEFINE_bool(
    'distributed', False, 'Join a multi-host run with jax.distributed.'
    'initialize(); on Cloud TPU VMs and SLURM/Open MPI clusters the '
    'coordinator, process count and id are detected.')
_COORDINATOR = flags.DEFINE_string(
    'coordinator_address', None, 'host:port of process 0 in a multi-host '
    'run (implies --distributed); pass --num_processes and --process_id too.')
_NUM_PROCESSES = flags.DEFINE_integer(
    'num_processes', None, 'Processes in a multi-host run.')
_PROCESS_ID = flags.DEFINE_integer(
    'process_id', None, 'This process in a multi-host run, 0..N-1.')


def initialize() -> None:
  """Joins the multi-host run the flags describe, if any; logs the devices."""
  if _COORDINATOR.value and (_NUM_PROCESSES.value is None
                             or _PROCESS_ID.value is None):
    raise flags.ValidationError('--coordinator_address needs '
                                '--num_processes and --process_id')
  if _DISTRIBUTED.value or _COORDINATOR.value:
    sharding.initialize_distributed(_COORDINATOR.value, _NUM_PROCESSES.value,
                                    _PROCESS_ID.value)
  logging.info('process %d of %d; %d devices in all, %d here: %s',
               jax.process_index(), jax.process_count(), jax.device_count(),
               jax.local_device_count(), jax.local_devices())


def process_dir(directory: str) -> str:
  """A per-process subdirectory for state every process keeps (a search's
  checkpoint): processes on one shared filesystem never write one file."""
  if jax.process_count() == 1:
    return directory
  return f'{directory}/process_{jax.process_index()}'
