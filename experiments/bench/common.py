"""What the benchmarks share: the device record, parsing, the writers."""

from __future__ import annotations

import datetime
import io
import os
import platform
from collections.abc import Callable, Sequence
from typing import Any

import jax

from lopro import results as results_lib


def device_info() -> dict[str, Any]:
  """The device the benchmark runs on, and the software around it."""
  device = jax.devices()[0]
  return dict(device_kind=device.device_kind, platform=device.platform,
              device_count=jax.device_count(), backend=jax.default_backend(),
              jax_version=jax.__version__, cpu_count=os.cpu_count(),
              python_version=platform.python_version(),
              machine=platform.machine())


def request_cpu_devices(count: int) -> bool:
  """Asks JAX for ``count`` CPU devices (``jax_num_cpu_devices``).

  Virtual CPU devices share the machine's cores. It only works before any
  JAX computation initialises the backends (call it first thing in main);
  accelerator backends ignore it.

  Returns:
    Whether the setting was taken (False: the backends were initialised
    already, and the device count is what it was).
  """
  try:
    jax.config.update('jax_num_cpu_devices', count)
  except RuntimeError:
    return False
  return True


def parse_positive_ints(values: Sequence[str | int], name: str) -> list[int]:
  """Positive ints from a flag list like ['1', '8', '64'].

  Raises:
    ValueError: a value that is not a positive int, or an empty list.
  """
  parsed = []
  for value in values:
    try:
      number = int(str(value).strip())
    except ValueError:
      raise ValueError(f'{name} must be positive ints, got {value!r}') \
          from None
    if number <= 0:
      raise ValueError(f'{name} must be positive ints, got {value!r}')
    parsed.append(number)
  if not parsed:
    raise ValueError(f'{name} is empty')
  return parsed


def check_repeats(repeats: int) -> None:
  if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
    raise ValueError(f'repeats must be a positive int, got {repeats!r}')


def started() -> dict[str, Any]:
  """The start of a run's record: UTC time and the load average."""
  return dict(started_utc=datetime.datetime.now(
      datetime.timezone.utc).isoformat(),
              load_average_start=list(os.getloadavg()))


def finished(start: dict[str, Any], total_s: float) -> dict[str, Any]:
  """``start`` with the run's seconds and the load average at its end."""
  return dict(start, total_s=total_s,
              load_average_end=list(os.getloadavg()))


def load_line(result: dict[str, Any]) -> list[str]:
  """A markdown paragraph on the load average, if the result has it."""
  if 'load_average_start' not in result:
    return []
  return ['', f"1-minute load average {result['load_average_start'][0]:.2f}"
          f" at the start, {result['load_average_end'][0]:.2f} at the end "
          '(other processes compete for the same cores).']


def png_bytes(fig) -> bytes:
  """A matplotlib Figure as PNG bytes."""
  fig.tight_layout()
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=120)
  return buffer.getvalue()


def write_outputs(result: dict[str, Any], output: str,
                  markdown: Callable[[dict[str, Any]], str],
                  png: Callable[[dict[str, Any]], bytes]) -> dict[str, str]:
  """Writes the JSON, markdown and PNG atomically; returns their paths."""
  stem = os.path.splitext(output)[0]
  paths = dict(json=output, md=stem + '.md', png=stem + '.png')
  results_lib.atomic_write_json(paths['json'], result)
  results_lib.atomic_write_bytes(paths['md'], markdown(result).encode())
  results_lib.atomic_write_bytes(paths['png'], png(result))
  return paths
