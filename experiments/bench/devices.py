"""Device scaling: order-steps/s of one population against the devices.

One fixed population of random orders is profiled (``lopro.Independent``,
the population one chunk) with the orders sharded over a mesh of the first
k devices (``lopro.sharding.make_mesh(k)``), for every k. Each k is
profiled once to compile (``compile_s``) and warm up, then timed
``repeats`` times with another seed (rounds interleaved over k; the fastest
is reported, all are kept). ``speedup`` is the rate over the rate on 1
device (k=1 is always run: it is the reference), ``efficiency`` the speedup
over k, and ``max_abs_loss_diff`` the largest difference between the losses
on k devices and on 1 device: sharding must not change results.

On a CPU, ``benchmark.py`` asks JAX for the largest k of virtual CPU devices
(``jax_num_cpu_devices``) before JAX starts; they share the machine's
physical cores (``device.cpu_count``), so CPU scaling flattens beyond that
many devices. Asking for more devices than JAX sees is an error.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from absl import logging
import jax
import numpy as np

import lopro
from experiments.bench import common
from lopro import orders as orders_lib
from lopro import results as results_lib
from lopro import sharding
from lopro.estimators import independent
from lopro.estimators.base import describe

CPU_DEVICES_NUM_ORDERS = 64
ACCELERATOR_DEVICES_NUM_ORDERS = 4096


def default_devices_num_orders(backend: str | None = None) -> int:
  """Population size O of the device-scaling benchmark on ``backend``."""
  backend = jax.default_backend() if backend is None else backend
  return (CPU_DEVICES_NUM_ORDERS if backend == 'cpu'
          else ACCELERATOR_DEVICES_NUM_ORDERS)


def parse_devices(values: Sequence[str | int]) -> list[int]:
  """Device counts k from a flag list like ['1', '2', '4'], ascending.

  1 is added when missing: it is the reference for speedups and losses.

  Raises:
    ValueError: a value that is not a positive int, a repeated value, or an
      empty list.
  """
  parsed = common.parse_positive_ints(values, 'devices')
  repeated = sorted({k for k in parsed if parsed.count(k) > 1})
  if repeated:
    raise ValueError(f'devices must not repeat, got {repeated} more than '
                     f'once in {list(values)}')
  return sorted(set(parsed) | {1})


def benchmark_devices(task: str = 'relu', length: int = 8, steps: int = 100,
                      devices: Sequence[int] = (1, 2, 4, 8),
                      num_orders: int = CPU_DEVICES_NUM_ORDERS, seed: int = 0,
                      *, repeats: int = 1, command: str | None = None
                      ) -> dict[str, Any]:
  """Benchmarks order-steps/s of one population against the device count.

  The same ``num_orders`` random orders (drawn from ``fold_in(key(seed),
  num_orders)``) are profiled in one chunk with the orders sharded over the
  first k devices, for every k. Each k is compiled and warmed up with
  training seed ``seed``, then timed ``repeats`` times with seed
  ``seed + 1``, in rounds over k.

  Args:
    task: task name.
    length: L.
    steps: T, training steps per order.
    devices: the device counts k (``parse_devices``: 1 is added).
    num_orders: O, the same for every k; at least the largest k.
    seed: root seed.
    repeats: timed runs per k; the fastest is reported.
    command: the command line, recorded as is.

  Returns:
    A JSON-able dict: ``benchmark='devices'``, device, estimator,
    num_orders, devices, rows (one per k: compile_s, run_s, run_s_all,
    order_steps_per_s, speedup and efficiency against k=1,
    ideal_order_steps_per_s, max_abs_loss_diff against k=1), a note on
    virtual CPU devices, ``jax_num_cpu_devices``, command, timestamps and
    load averages.

  Raises:
    ValueError: bad task, length, steps, repeats, device counts, or more
      devices than JAX sees, or fewer orders than the largest k.
  """
  common.check_repeats(repeats)
  devices = parse_devices(devices)
  if (isinstance(num_orders, bool) or not isinstance(num_orders, int)
      or num_orders < max(devices)):
    raise ValueError(f'num_orders must be an int >= the largest device count '
                     f'{max(devices)}, got {num_orders!r}')
  if max(devices) > jax.device_count():
    raise ValueError(f'devices asks for up to {max(devices)} devices but JAX '
                     f'sees only {jax.device_count()}')
  task_obj = lopro.get_task(task, length=length)
  estimator = lopro.Independent(train=lopro.TrainConfig(steps=steps))
  start, record = time.perf_counter(), common.started()
  device = common.device_info()
  logging.info('device scaling on %s (%s, %d devices, %s CPUs), task %s '
               'L=%d, %d steps, O=%d, k=%s', device['device_kind'],
               device['platform'], device['device_count'], device['cpu_count'],
               task, length, steps, num_orders, devices)
  perms = orders_lib.sample_orders(
      jax.random.fold_in(jax.random.key(seed), num_orders), num_orders,
      task_obj.length)
  runtimes = {k: lopro.Runtime(chunk_size=num_orders,
                               mesh=sharding.make_mesh(k)) for k in devices}

  firsts = {}
  for k in devices:
    firsts[k] = lopro.profile_orders(perms, task_obj, estimator=estimator,
                                     seed=seed, runtime=runtimes[k])
    logging.info('k=%d: compiled in %.1fs, first run %.1fs', k,
                 firsts[k].timings['compile_s'], firsts[k].timings['run_s'])
  runs = {k: [] for k in devices}
  diffs = {k: 0.0 for k in devices}
  reference = None
  for _ in range(repeats):
    for k in devices:
      timed = lopro.profile_orders(perms, task_obj, estimator=estimator,
                                   seed=seed + 1, runtime=runtimes[k])
      if timed.timings['devices'] != k:
        raise RuntimeError(f'profile ran on {timed.timings["devices"]} '
                           f'devices, not {k}')
      runs[k].append(timed.timings['run_s'])
      if reference is None:  # k=1 comes first
        reference = timed.losses
      diffs[k] = max(diffs[k], float(
          np.max(np.abs(timed.losses - reference))))

  rows = []
  base_rate = None
  for k in devices:
    run_s = min(runs[k])
    rate = num_orders * steps / run_s
    base_rate = rate if base_rate is None else base_rate
    compile_s = firsts[k].timings['compile_s']
    chunk, group = independent.chunk_plan(num_orders, runtimes[k], k)
    rows.append(dict(
        devices=k, compile_s=compile_s, compile_cached=compile_s < 1e-3,
        first_run_s=firsts[k].timings['run_s'], run_s=run_s,
        run_s_all=runs[k], order_steps_per_s=rate,
        speedup=rate / base_rate, efficiency=rate / base_rate / k,
        ideal_order_steps_per_s=base_rate * k,
        orders_per_device=int(-(-num_orders // k)), chunk=chunk,
        vmap_group=group, max_abs_loss_diff=diffs[k]))
    if not np.isfinite(diffs[k]) or diffs[k] > 1e-3:
      logging.warning('k=%d: losses differ from 1 device by %g', k, diffs[k])
    logging.info('k=%d: %.1f order-steps/s, speedup %.2fx, loss diff %.1e',
                 k, rate, rate / base_rate, diffs[k])

  virtual = device['platform'] == 'cpu'
  note = (f"{device['device_count']} virtual CPU device(s) share this "
          f"machine's {device['cpu_count']} CPU core(s) (os.cpu_count()): "
          f"scaling is expected to flatten beyond {device['cpu_count']} "
          'device(s).' if virtual else
          f"{device['device_count']} {device['platform']} device(s).")
  return dict(
      benchmark='devices', device=device, task=task, length=length,
      steps=steps, seed=seed, repeats=repeats, num_orders=num_orders,
      devices=devices, estimator=describe(estimator),
      runtime='Runtime(chunk_size=O, mesh=make_mesh(k))', rows=rows,
      virtual_cpu_devices=virtual, note=note,
      jax_num_cpu_devices=jax.config.jax_num_cpu_devices, command=command,
      **common.finished(record, time.perf_counter() - start))


def markdown_table(result: dict[str, Any]) -> str:
  """The rows of ``benchmark_devices`` as a markdown table, with notes."""
  device = result['device']
  lines = [
      f"Device scaling: task {result['task']} L={result['length']}, "
      f"{result['steps']} steps, O={result['num_orders']} orders on every "
      f"device count, {device['device_kind']} ({device['platform']}, "
      f"{device['device_count']} device(s), {device['cpu_count']} CPUs), "
      f"jax {device['jax_version']}.",
      '',
      '| devices | order-steps/s | speedup | efficiency | run s | '
      'compile s | max abs loss diff vs 1 |',
      '|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for row in result['rows']:
    lines.append(
        f"| {row['devices']} | {row['order_steps_per_s']:.1f} | "
        f"{row['speedup']:.2f}x | {100 * row['efficiency']:.0f}% | "
        f"{row['run_s']:.2f} | {row['compile_s']:.1f} | "
        f"{row['max_abs_loss_diff']:.1e} |")
  lines += [
      '', f"Speedup: order-steps/s over the rate on 1 device; efficiency: "
      f"speedup / devices. Fastest of {result['repeats']} timed run(s) per "
      'device count (all in the JSON), after one compile and warm-up run.',
      '', result['note']]
  lines += common.load_line(result)
  return '\n'.join(lines) + '\n'


def plot_png(result: dict[str, Any]) -> bytes:
  """PNG bytes of order-steps/s against the device count, with the ideal
  linear scaling from 1 device and, on CPU, the physical core count."""
  devices = [row['devices'] for row in result['rows']]
  rates = [row['order_steps_per_s'] for row in result['rows']]
  ideal = [row['ideal_order_steps_per_s'] for row in result['rows']]
  device = result['device']
  fig = results_lib.new_figure(figsize=(5.5, 4))
  ax = fig.subplots()
  ax.plot(devices, ideal, linestyle='--', color='gray',
          label='ideal (linear from 1 device)')
  ax.plot(devices, rates, marker='o', label='measured')
  cpu_count = device.get('cpu_count')
  if result.get('virtual_cpu_devices') and cpu_count and (
      cpu_count < max(devices)):
    ax.axvline(cpu_count, linestyle=':', color='tab:red',
               label=f'{cpu_count} physical CPU cores')
  ax.set_xticks(devices)
  ax.set_xlim(0, max(devices) + 0.5)
  ax.set_ylim(0, max(ideal + rates) * 1.05)
  ax.set_xlabel('devices')
  ax.set_ylabel('order-steps / s')
  ax.set_title(f"lopro profiler, {result['task']} L={result['length']}, "
               f"{result['steps']} steps, O={result['num_orders']}\n"
               f"{device['device_kind']} ({device['platform']})", fontsize=9)
  ax.grid(True, alpha=0.3)
  ax.legend(fontsize=8)
  return common.png_bytes(fig)
