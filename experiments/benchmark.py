r"""Benchmarks the profiler: vmapped vs sequential, devices, estimators.

Three benchmarks (their logic in experiments/bench/, one module each):

* default: the vmapped profiler (``lopro.Independent``) against a
  sequential loop of single-order training runs, order-steps/s against the
  population size O (``bench/population.py``);
* ``--devices=1,2,4``: order-steps/s of one population against the number
  of devices its orders are sharded over (``bench/devices.py``). On a CPU,
  main asks JAX for the largest count of virtual CPU devices
  (``jax.config.update('jax_num_cpu_devices', k)``) before anything touches
  a JAX backend; they share the machine's cores;
* ``--estimators=independent,halving,mixture,universal``: orders profiled
  per second by each estimator at --estimator_lengths, O =
  --estimator_orders random orders per profile, measured side by side in
  one run, compiles excluded and reported separately; for Universal also
  the one-off training time (``bench/estimators.py``).

Each writes JSON (atomically), the markdown table next to it (.md) and a
plot (.png), and prints the table.

Examples (from the repository root, after `pip install -e .`):
  # CPU defaults: relu L=8, 100 steps, O = 1,8,64,256
  # -> results/speed/benchmark_cpu.*
  python experiments/benchmark.py
  # Quick look (about 2 minutes on 2 CPU cores):
  python -m experiments.benchmark --num_orders=1,8 --steps=20 \
      --output=/tmp/lopro_bench.json
  # GPU (default O = 1,8,64,256,1024,4096 when the backend is not CPU):
  python experiments/benchmark.py --repeats=3
  # Device scaling on CPU, O=64, 4 virtual CPU devices
  # -> results/speed/benchmark_devices_cpu.*
  python experiments/benchmark.py --devices=1,2,4 --steps=50 --repeats=2
  # Device scaling on a multi-GPU host, O=4096:
  python experiments/benchmark.py --devices=1,2,4,8 --repeats=3
  # Estimators at L = 8, 13, 40 with their own steps (a GPU job), or cut
  # down for 2 CPU cores -> results/speed/benchmark_estimators_<platform>.*
  python experiments/benchmark.py \
      --estimators=independent,halving,mixture,universal
  python experiments/benchmark.py \
      --estimators=independent,halving,mixture,universal \
      --estimator_steps=60 --estimator_orders=64 --estimator_lengths=8,13
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from absl import app
from absl import flags
from absl import logging
import jax

# Run as a script, the repository root is not on the path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import methods
from experiments.bench import common
from experiments.bench import devices as devices_lib
from experiments.bench import estimators as estimators_lib
from experiments.bench import population
from lopro import tasks as tasks_lib
# pylint: enable=g-import-not-at-top,wrong-import-position

_TASK = flags.DEFINE_enum('task', 'relu', list(tasks_lib.task_names()),
                          'Task.')
_LENGTH = flags.DEFINE_integer('length', 8, 'Target length L.')
_STEPS = flags.DEFINE_integer(
    'steps', 100, 'Training steps per order (fewer than the profile default '
    'of 300, to keep the sequential loop affordable).', lower_bound=1)
_NUM_ORDERS = flags.DEFINE_list(
    'num_orders', None, 'Comma list of population sizes O. Default: '
    f'{",".join(map(str, population.CPU_NUM_ORDERS))} on CPU, '
    f'{",".join(map(str, population.ACCELERATOR_NUM_ORDERS))} otherwise.')
_MAX_SEQUENTIAL_ORDERS = flags.DEFINE_integer(
    'max_sequential_orders', 64, 'Most orders the sequential loop is timed '
    'on (a prefix of the O orders); 0 means all O.', lower_bound=0)
_REPEATS = flags.DEFINE_integer(
    'repeats', 1, 'Timed runs per O and method (per k, per estimator and '
    'L), interleaved; the fastest is reported, all are kept in the JSON.')
_OUTPUT = flags.DEFINE_string(
    'output', None, 'JSON path; .md and .png are written next to it. '
    'Default: results/speed/benchmark_<platform>.json (--devices: '
    'results/speed/benchmark_devices_<platform>.json, --estimators: '
    'results/speed/benchmark_estimators_<platform>.json).')
_SEED = flags.DEFINE_integer('seed', 0, 'Root seed (orders and training).')
_DEVICES = flags.DEFINE_list(
    'devices', None, 'Comma list of device counts k, e.g. 1,2,4,8: '
    'benchmark order-steps/s against k on one population of '
    '--devices_num_orders orders (instead of the population-size benchmark; '
    '--num_orders and --max_sequential_orders are then unused). k=1 is '
    'always included. On a CPU, JAX is given max k virtual CPU devices.')
_DEVICES_NUM_ORDERS = flags.DEFINE_integer(
    'devices_num_orders', None, 'Population size O of --devices, the same '
    f'for every k. Default: {devices_lib.CPU_DEVICES_NUM_ORDERS} on CPU, '
    f'{devices_lib.ACCELERATOR_DEVICES_NUM_ORDERS} otherwise.')
_ESTIMATORS = flags.DEFINE_list(
    'estimators', None, 'Comma list of estimators '
    f'({",".join(methods.ESTIMATORS)}): benchmark the orders each profiles '
    'per second at --estimator_lengths (instead of the population-size '
    'benchmark).')
_ESTIMATOR_LENGTHS = flags.DEFINE_list(
    'estimator_lengths', [str(n) for n in estimators_lib.DEFAULT_LENGTHS],
    '--estimators: the target lengths L.')
_ESTIMATOR_ORDERS = flags.DEFINE_integer(
    'estimator_orders', estimators_lib.DEFAULT_NUM_ORDERS,
    '--estimators: random orders per profile.', lower_bound=1)
_ESTIMATOR_STEPS = flags.DEFINE_integer(
    'estimator_steps', None, '--estimators: training steps of every '
    'estimator (halving needs >= 15); unset: each estimator\'s own.',
    lower_bound=1)

_RENDER = {
    'population': (population.markdown_table, population.plot_png),
    'devices': (devices_lib.markdown_table, devices_lib.plot_png),
    'estimators': (estimators_lib.markdown_table, estimators_lib.plot_png),
}


def kind(result: dict[str, Any]) -> str:
  """Which benchmark made ``result``."""
  return result.get('benchmark', 'population')


def render_markdown(result: dict[str, Any]) -> str:
  """The markdown table of any benchmark's result."""
  return _RENDER[kind(result)][0](result)


def write_outputs(result: dict[str, Any], output: str) -> dict[str, str]:
  """Writes the JSON, markdown and PNG of any benchmark's result."""
  return common.write_outputs(result, output, *_RENDER[kind(result)])


def _usage(fn, *args, **kwargs):
  """``fn(*args, **kwargs)``, a ValueError reported as a usage error."""
  try:
    return fn(*args, **kwargs)
  except ValueError as e:
    raise app.UsageError(str(e)) from None


def _devices(command: str) -> dict[str, Any]:
  devices = _usage(devices_lib.parse_devices, _DEVICES.value)
  num_orders = (devices_lib.default_devices_num_orders()
                if _DEVICES_NUM_ORDERS.value is None
                else _DEVICES_NUM_ORDERS.value)
  if num_orders < max(devices):
    raise app.UsageError(f'devices_num_orders must be >= the largest device '
                         f'count {max(devices)}, got {num_orders}')
  if max(devices) > jax.device_count():
    raise app.UsageError(f'devices asks for up to {max(devices)} devices but '
                         f'JAX sees only {jax.device_count()}')
  return devices_lib.benchmark_devices(
      _TASK.value, _LENGTH.value, _STEPS.value, devices, num_orders,
      _SEED.value, repeats=_REPEATS.value, command=command)


def _estimators(command: str) -> dict[str, Any]:
  lengths = _usage(common.parse_positive_ints, _ESTIMATOR_LENGTHS.value,
                   'estimator_lengths')
  _usage(estimators_lib.make_estimators, _ESTIMATORS.value,
         _ESTIMATOR_STEPS.value)
  return estimators_lib.benchmark_estimators(
      _TASK.value, lengths, _ESTIMATORS.value, _ESTIMATOR_ORDERS.value,
      _ESTIMATOR_STEPS.value, _SEED.value, repeats=_REPEATS.value,
      command=command)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Too many command-line arguments: {argv[1:]}')
  if _REPEATS.value < 1:
    raise app.UsageError(f'repeats must be >= 1, got {_REPEATS.value}')
  command = shlex.join(['python'] + list(sys.argv))
  if _DEVICES.value:
    # Before anything touches a JAX backend: the CPU device count is fixed
    # when the CPU backend starts.
    counts = _usage(devices_lib.parse_devices, _DEVICES.value)
    if not common.request_cpu_devices(max(counts)):
      logging.warning('JAX had started already: it keeps its %d device(s)',
                      jax.device_count())
  platform_name = common.device_info()['platform']
  if _DEVICES.value:
    name = f'benchmark_devices_{platform_name}.json'
    result = _devices(command)
  elif _ESTIMATORS.value:
    name = f'benchmark_estimators_{platform_name}.json'
    result = _estimators(command)
  else:
    num_orders = (_usage(population.parse_num_orders, _NUM_ORDERS.value)
                  if _NUM_ORDERS.value else list(
                      population.default_num_orders()))
    name = f'benchmark_{platform_name}.json'
    result = population.run_benchmark(
        _TASK.value, _LENGTH.value, _STEPS.value, num_orders, _SEED.value,
        repeats=_REPEATS.value,
        max_sequential_orders=_MAX_SEQUENTIAL_ORDERS.value, command=command)
  paths = write_outputs(result, _OUTPUT.value
                        or os.path.join('results', 'speed', name))
  table = render_markdown(result)
  logging.info('benchmark (%.0fs):\n%s', result['total_s'], table)
  print(table)
  print(f"total {result['total_s']:.0f}s; wrote {', '.join(paths.values())}")


if __name__ == '__main__':
  app.run(main)
