r"""Benchmarks the vmapped profiler against a sequential loop, order-steps/s.

For every population size O, the same O random orders are trained for the
same number of steps on the same device twice, back to back in one process:

* **vmapped**: ``lopro.profile_orders`` with ``chunk_size=O``, so the whole
  population is one compiled, vmapped program. It is called once to compile
  (``compile_s``) and warm up, then again with another seed, which reuses the
  compiled program; its ``run_s`` excludes compilation.
* **sequential**: ``jax.jit(lopro.make_train(task, config))`` compiled once
  (``compile_s``; the single-order program does not depend on O, so it is
  compiled once per run and the same time is reported in every row), warmed
  up on one order, then a Python loop over the orders with the same key as
  the timed vmapped run, blocked on at the end. On large O only the first
  ``--max_sequential_orders`` orders are looped over
  (``sequential.orders_timed``) and the per-order rate is reported: a loop's
  per-order cost does not depend on O.

Rates are order-steps/s = orders x steps / run_s; ``speedup`` is the vmapped
rate over the sequential one. The sequential losses are also checked against
the vmapped ones (``max_abs_loss_diff``), since both train the same models.

Writes ``--output`` (JSON, atomically), the markdown table next to it (.md)
and a plot of order-steps/s against O (.png), and prints the table.

With ``--devices=1,2,4,8`` it benchmarks device scaling instead: one fixed
population of ``--devices_num_orders`` random orders is profiled with the
orders sharded over a mesh of the first k devices
(``lopro.sharding.make_mesh(k)``), for every k. Each k is profiled once to
compile (``compile_s``) and warm up, then timed ``--repeats`` times with
another seed (rounds interleaved over k; the fastest is reported, all are
kept). ``speedup`` is the rate over the rate on 1 device (k=1 is always
run: it is the reference), ``efficiency`` the speedup over k, and
``max_abs_loss_diff`` the largest difference between the losses on k
devices and on 1 device: sharding must not change results. On a CPU backend
where JAX sees fewer devices than the largest k, the binary re-executes
itself with ``XLA_FLAGS=--xla_force_host_platform_device_count=<max k>``
(the device count is fixed when JAX starts); the re-executed process is
marked by the ``LOPRO_BENCHMARK_REEXEC`` environment variable, which holds
the original command line, so it never re-executes again. Virtual CPU
devices share the machine's physical cores (``device.cpu_count``), so CPU
scaling flattens beyond that many devices. On accelerators, asking for more
devices than exist is an error.

Examples (from the repository root, after `pip install -e .`):
  # CPU defaults: relu L=8, 100 steps, O = 1,8,64,256 -> results/benchmark_cpu.*
  python experiments/benchmark.py
  # Quick look (about 2 minutes on 2 CPU cores):
  python -m experiments.benchmark --num_orders=1,8 --steps=20 \
      --output=/tmp/lopro_bench.json
  # GPU (default O = 1,8,64,256,1024,4096 when the backend is not CPU):
  python experiments/benchmark.py --repeats=3
  # Device scaling on CPU, O=64 (re-executes with 4 virtual CPU devices)
  # -> results/benchmark_devices_cpu.*
  python experiments/benchmark.py --devices=1,2,4 --steps=50 --repeats=2
  # Device scaling on a multi-GPU host, O=4096:
  python experiments/benchmark.py --devices=1,2,4,8 --repeats=3
"""

from __future__ import annotations

import dataclasses
import datetime
import io
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from typing import Any

from absl import app
from absl import flags
from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

from lopro import orders as orders_lib
from lopro import profile as profile_lib
from lopro import results as results_lib
from lopro import sharding
from lopro import tasks as tasks_lib
from lopro import train as train_lib

CPU_NUM_ORDERS = (1, 8, 64, 256)
ACCELERATOR_NUM_ORDERS = (1, 8, 64, 256, 1024, 4096)
CPU_DEVICES_NUM_ORDERS = 64
ACCELERATOR_DEVICES_NUM_ORDERS = 4096
# Set in the environment of the re-executed process (holds the original
# command line): the marker that stops it from re-executing again.
REEXEC_ENV = 'LOPRO_BENCHMARK_REEXEC'
DEVICE_COUNT_FLAG = '--xla_force_host_platform_device_count'

_TASK = flags.DEFINE_enum('task', 'relu', list(tasks_lib.task_names()),
                          'Task.')
_LENGTH = flags.DEFINE_integer('length', 8, 'Target length L.')
_STEPS = flags.DEFINE_integer(
    'steps', 100, 'Training steps per order (fewer than the profile default '
    'of 300, to keep the sequential loop affordable).')
_NUM_ORDERS = flags.DEFINE_list(
    'num_orders', None, 'Comma list of population sizes O. Default: '
    f'{",".join(map(str, CPU_NUM_ORDERS))} on CPU, '
    f'{",".join(map(str, ACCELERATOR_NUM_ORDERS))} otherwise.')
_MAX_SEQUENTIAL_ORDERS = flags.DEFINE_integer(
    'max_sequential_orders', 64, 'Most orders the sequential loop is timed '
    'on (a prefix of the O orders); 0 means all O.')
_REPEATS = flags.DEFINE_integer(
    'repeats', 1, 'Timed runs per O and method (interleaved); the fastest '
    'is reported, all are kept in the JSON.')
_OUTPUT = flags.DEFINE_string(
    'output', None, 'JSON path; .md and .png are written next to it. '
    'Default: results/benchmark_<platform>.json (with --devices: '
    'results/benchmark_devices_<platform>.json).')
_SEED = flags.DEFINE_integer('seed', 0, 'Root seed (orders and training).')
_DEVICES = flags.DEFINE_list(
    'devices', None, 'Comma list of device counts k, e.g. 1,2,4,8: '
    'benchmark order-steps/s against k on one population of '
    '--devices_num_orders orders (instead of the population-size benchmark; '
    '--num_orders and --max_sequential_orders are then unused). k=1 is '
    'always included. On CPU with too few devices the binary re-executes '
    f'itself with XLA_FLAGS={DEVICE_COUNT_FLAG}=<max k>. Default output: '
    'results/benchmark_devices_<platform>.json.')
_DEVICES_NUM_ORDERS = flags.DEFINE_integer(
    'devices_num_orders', None, 'Population size O of --devices, the same '
    f'for every k. Default: {CPU_DEVICES_NUM_ORDERS} on CPU, '
    f'{ACCELERATOR_DEVICES_NUM_ORDERS} otherwise.')
# Every flag of this binary, re-serialised when it re-executes itself.
_BINARY_FLAGS = (_TASK, _LENGTH, _STEPS, _NUM_ORDERS, _MAX_SEQUENTIAL_ORDERS,
                 _REPEATS, _OUTPUT, _SEED, _DEVICES, _DEVICES_NUM_ORDERS)
_LOGGING_FLAGS = ('verbosity', 'logtostderr', 'alsologtostderr',
                  'stderrthreshold', 'log_dir')


def device_info() -> dict[str, Any]:
  """The device the benchmark runs on, and the software around it."""
  device = jax.devices()[0]
  return dict(device_kind=device.device_kind, platform=device.platform,
              device_count=jax.device_count(), backend=jax.default_backend(),
              jax_version=jax.__version__, cpu_count=os.cpu_count(),
              python_version=platform.python_version(),
              machine=platform.machine())


def default_num_orders(backend: str | None = None) -> tuple[int, ...]:
  """Population sizes benchmarked by default on ``backend``."""
  backend = jax.default_backend() if backend is None else backend
  return CPU_NUM_ORDERS if backend == 'cpu' else ACCELERATOR_NUM_ORDERS


def _parse_positive_ints(values: Sequence[str | int], name: str
                         ) -> list[int]:
  """Positive ints from a flag list like ['1', '8', '64']."""
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


def parse_num_orders(values: Sequence[str | int]) -> list[int]:
  """Positive ints from a flag list like ['1', '8', '64']."""
  return _parse_positive_ints(values, 'num_orders')


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
  parsed = _parse_positive_ints(values, 'devices')
  repeated = sorted({k for k in parsed if parsed.count(k) > 1})
  if repeated:
    raise ValueError(f'devices must not repeat, got {repeated} more than '
                     f'once in {list(values)}')
  return sorted(set(parsed) | {1})


def needs_reexec(devices: Sequence[int], available: int, backend: str,
                 reexecuted: bool = False) -> bool:
  """Whether the binary must re-execute itself with virtual CPU devices.

  Args:
    devices: the device counts k asked for.
    available: devices JAX sees (``jax.device_count()``).
    backend: JAX's backend (``jax.default_backend()``).
    reexecuted: whether this process already is the re-executed one.

  Returns:
    False when ``available`` covers every k; True on a CPU backend that has
    too few devices and has not re-executed yet.

  Raises:
    ValueError: too few devices on an accelerator, or still too few CPU
      devices after re-executing.
  """
  needed = max(devices)
  if needed <= available:
    return False
  if backend != 'cpu':
    raise ValueError(f'devices asks for up to {needed} devices but JAX sees '
                     f'only {available} {backend} device(s)')
  if reexecuted:
    raise ValueError(
        f'devices asks for up to {needed} devices but JAX sees only '
        f'{available} CPU device(s) after re-executing with XLA_FLAGS='
        f'{os.environ.get("XLA_FLAGS", "")!r}')
  return True


def force_device_count(xla_flags: str, count: int) -> str:
  """``xla_flags`` with the virtual CPU device count set to ``count``.

  An earlier ``--xla_force_host_platform_device_count`` is dropped; every
  other flag is kept.
  """
  kept = [flag for flag in xla_flags.split()
          if flag.split('=', 1)[0] != DEVICE_COUNT_FLAG]
  return ' '.join(kept + [f'{DEVICE_COUNT_FLAG}={count}'])


def reexec_argv() -> list[str]:
  """The command line that re-runs this binary with the current flags.

  Built from the parsed flags (not ``sys.argv``, so it also works when
  ``main`` is called from a test): this binary's flags that were given or
  differ from their defaults, and absl's logging flags that were given.
  """
  argv = [sys.executable, os.path.abspath(__file__)]
  for name in [h.name for h in _BINARY_FLAGS] + list(_LOGGING_FLAGS):
    if name not in flags.FLAGS:
      continue
    flag = flags.FLAGS[name]
    if flag.present or (name not in _LOGGING_FLAGS
                        and flag.value != flag.default):
      serialized = flag.serialize()
      if serialized:
        argv.append(serialized)
  return argv


def reexec_env(environ: dict[str, str], count: int, command: str
               ) -> dict[str, str]:
  """``environ`` plus ``count`` virtual CPU devices and the re-exec marker."""
  env = dict(environ)
  env['XLA_FLAGS'] = force_device_count(env.get('XLA_FLAGS', ''), count)
  env[REEXEC_ENV] = command
  return env


def _compile_sequential(task: tasks_lib.Task, config: profile_lib.ProfileConfig):
  """Compiles ``jax.jit(train)`` for one order; returns (compiled, seconds)."""
  train_config = train_lib.TrainConfig(
      **{f.name: getattr(config, f.name)
         for f in dataclasses.fields(train_lib.TrainConfig)})
  train = train_lib.make_train(task, train_config)
  start = time.perf_counter()
  compiled = jax.jit(train).lower(
      jax.random.key(0),
      jax.ShapeDtypeStruct((task.length,), np.int32)).compile()
  return compiled, time.perf_counter() - start


def _time_sequential(compiled, perms: np.ndarray, seed: int
                     ) -> tuple[float, np.ndarray]:
  """One timed Python loop over ``perms``; returns (seconds, losses[O, T])."""
  key = jax.random.key(seed)
  staged = [jnp.asarray(p, jnp.int32) for p in perms]
  jax.block_until_ready(staged)
  start = time.perf_counter()
  outs = [compiled(key, order) for order in staged]
  jax.block_until_ready(outs)
  run_s = time.perf_counter() - start
  return run_s, np.stack([np.asarray(o) for o in outs])


def benchmark_one(task: tasks_lib.Task, steps: int, num_orders: int,
                  seed: int, sequential: tuple[Any, float], *,
                  repeats: int = 1, max_sequential_orders: int = 64
                  ) -> dict[str, Any]:
  """Times the vmapped profiler and the sequential loop at one O.

  Args:
    task: the task.
    steps: T, training steps per order.
    num_orders: O.
    seed: orders are drawn from ``key(seed)``; the compile/warm-up run uses
      training seed ``seed`` and the timed runs ``seed + 1``.
    sequential: (compiled single-order train, its compile seconds).
    repeats: timed runs per method, interleaved; the fastest is reported.
    max_sequential_orders: most orders in the timed loop; 0 means all.

  Returns:
    One row of the benchmark (see ``run_benchmark``).
  """
  perms = orders_lib.sample_orders(
      jax.random.fold_in(jax.random.key(seed), num_orders), num_orders,
      task.length)
  config = profile_lib.ProfileConfig(steps=steps, chunk_size=num_orders)
  seq_compiled, seq_compile_s = sequential
  num_timed = num_orders if max_sequential_orders <= 0 else min(
      num_orders, max_sequential_orders)

  first = profile_lib.profile_orders(perms, task, config=config, seed=seed)
  seq_compiled(jax.random.key(seed), jnp.asarray(perms[0], jnp.int32)
               ).block_until_ready()  # warm-up, like the first vmapped run
  vmapped_runs, sequential_runs = [], []
  losses_diff = 0.0
  for _ in range(repeats):
    timed = profile_lib.profile_orders(perms, task, config=config,
                                       seed=seed + 1)
    vmapped_runs.append(timed.timings['run_s'])
    run_s, seq_losses = _time_sequential(seq_compiled, perms[:num_timed],
                                         seed + 1)
    sequential_runs.append(run_s)
    losses_diff = max(losses_diff, float(
        np.max(np.abs(seq_losses - timed.losses[:num_timed]))))
  if not np.isfinite(losses_diff) or losses_diff > 1e-3:
    logging.warning('O=%d: sequential and vmapped losses differ by %g',
                    num_orders, losses_diff)

  vmapped_s, sequential_s = min(vmapped_runs), min(sequential_runs)
  vmapped_rate = num_orders * steps / vmapped_s
  sequential_rate = num_timed * steps / sequential_s
  compile_s = first.timings['compile_s']
  row = dict(
      num_orders=num_orders,
      vmapped=dict(compile_s=compile_s, compile_cached=compile_s == 0.0,
                   first_run_s=first.timings['run_s'], run_s=vmapped_s,
                   run_s_all=vmapped_runs,
                   order_steps_per_s=vmapped_rate),
      sequential=dict(compile_s=seq_compile_s, run_s=sequential_s,
                      run_s_all=sequential_runs, orders_timed=num_timed,
                      order_steps_per_s=sequential_rate),
      sequential_orders_timed=num_timed,
      speedup=vmapped_rate / sequential_rate,
      max_abs_loss_diff=losses_diff)
  logging.info('O=%d: vmapped %.1f order-steps/s (compile %.1fs), '
               'sequential %.1f (%d orders timed), speedup %.2fx',
               num_orders, vmapped_rate, compile_s, sequential_rate,
               num_timed, row['speedup'])
  return row


def run_benchmark(task: str = 'relu', length: int = 8, steps: int = 100,
                  num_orders_list: Sequence[int] = CPU_NUM_ORDERS,
                  seed: int = 0, *, repeats: int = 1,
                  max_sequential_orders: int = 64,
                  command: str | None = None) -> dict[str, Any]:
  """Benchmarks vmapped against sequential profiling for every O.

  Args:
    task: task name.
    length: L.
    steps: T, training steps per order.
    num_orders_list: the population sizes O.
    seed: root seed.
    repeats: timed runs per O and method; the fastest is reported.
    max_sequential_orders: most orders in the timed sequential loop; 0 = all.
    command: the command line, recorded as is.

  Returns:
    A JSON-able dict: device, config, steps, rows (one per O, each with
    vmapped and sequential compile_s, run_s, order_steps_per_s, and speedup),
    command, timestamps and load averages.

  Raises:
    ValueError: bad task, length, steps, repeats or population sizes.
  """
  if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
    raise ValueError(f'repeats must be a positive int, got {repeats!r}')
  num_orders_list = parse_num_orders(num_orders_list)
  task_obj = tasks_lib.get_task(task, length=length)
  config = profile_lib.ProfileConfig(steps=steps)
  start = time.perf_counter()
  load_start = os.getloadavg()
  started = datetime.datetime.now(datetime.timezone.utc).isoformat()
  device = device_info()
  logging.info('benchmark on %s (%s, %d devices), task %s L=%d, %d steps, '
               'O=%s', device['device_kind'], device['platform'],
               device['device_count'], task, length, steps, num_orders_list)

  sequential = _compile_sequential(task_obj, config)
  logging.info('sequential single-order train compiled in %.1fs',
               sequential[1])
  rows = [benchmark_one(task_obj, steps, o, seed, sequential,
                        repeats=repeats,
                        max_sequential_orders=max_sequential_orders)
          for o in num_orders_list]

  config_dict = dataclasses.asdict(config)
  config_dict['chunk_size'] = 'num_orders (the population is one chunk)'
  return dict(
      device=device, task=task, length=length, steps=steps, seed=seed,
      repeats=repeats, max_sequential_orders=max_sequential_orders,
      config=config_dict, rows=rows, command=command,
      started_utc=started, total_s=time.perf_counter() - start,
      load_average_start=list(load_start),
      load_average_end=list(os.getloadavg()))


def benchmark_devices(task: str = 'relu', length: int = 8, steps: int = 100,
                      devices: Sequence[int] = (1, 2, 4, 8),
                      num_orders: int = CPU_DEVICES_NUM_ORDERS, seed: int = 0,
                      *, repeats: int = 1, command: str | None = None
                      ) -> dict[str, Any]:
  """Benchmarks order-steps/s of one population against the device count.

  The same ``num_orders`` random orders (drawn as in ``benchmark_one``) are
  profiled in one chunk with the orders sharded over the first k devices,
  for every k. Each k is compiled and warmed up with training seed ``seed``,
  then timed ``repeats`` times with seed ``seed + 1``, in rounds over k.

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
    A JSON-able dict: ``benchmark='devices'``, device, config, num_orders,
    devices, rows (one per k: compile_s, run_s, run_s_all,
    order_steps_per_s, speedup and efficiency against k=1,
    ideal_order_steps_per_s, max_abs_loss_diff against k=1), a note on
    virtual CPU devices, XLA_FLAGS, command, timestamps and load averages.

  Raises:
    ValueError: bad task, length, steps, repeats, device counts, or more
      devices than JAX sees, or fewer orders than the largest k.
  """
  if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
    raise ValueError(f'repeats must be a positive int, got {repeats!r}')
  devices = parse_devices(devices)
  if (isinstance(num_orders, bool) or not isinstance(num_orders, int)
      or num_orders < max(devices)):
    raise ValueError(f'num_orders must be an int >= the largest device count '
                     f'{max(devices)}, got {num_orders!r}')
  if max(devices) > jax.device_count():
    raise ValueError(f'devices asks for up to {max(devices)} devices but JAX '
                     f'sees only {jax.device_count()}')
  task_obj = tasks_lib.get_task(task, length=length)
  config = profile_lib.ProfileConfig(steps=steps, chunk_size=num_orders)
  start = time.perf_counter()
  load_start = os.getloadavg()
  started = datetime.datetime.now(datetime.timezone.utc).isoformat()
  device = device_info()
  logging.info('device scaling on %s (%s, %d devices, %s CPUs), task %s '
               'L=%d, %d steps, O=%d, k=%s', device['device_kind'],
               device['platform'], device['device_count'], device['cpu_count'],
               task, length, steps, num_orders, devices)
  perms = orders_lib.sample_orders(
      jax.random.fold_in(jax.random.key(seed), num_orders), num_orders,
      task_obj.length)
  meshes = {k: sharding.make_mesh(k) for k in devices}

  firsts = {}
  for k in devices:
    firsts[k] = profile_lib.profile_orders(perms, task_obj, config=config,
                                           seed=seed, mesh=meshes[k])
    logging.info('k=%d: compiled in %.1fs, first run %.1fs', k,
                 firsts[k].timings['compile_s'], firsts[k].timings['run_s'])
  runs = {k: [] for k in devices}
  diffs = {k: 0.0 for k in devices}
  reference = None
  for _ in range(repeats):
    for k in devices:
      timed = profile_lib.profile_orders(perms, task_obj, config=config,
                                         seed=seed + 1, mesh=meshes[k])
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
    chunk, group = profile_lib.chunk_plan(num_orders, config, k)
    rows.append(dict(
        devices=k, compile_s=compile_s, compile_cached=compile_s == 0.0,
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
  config_dict = dataclasses.asdict(config)
  config_dict['chunk_size'] = 'num_orders (the population is one chunk)'
  return dict(
      benchmark='devices', device=device, task=task, length=length,
      steps=steps, seed=seed, repeats=repeats, num_orders=num_orders,
      devices=devices, config=config_dict, rows=rows,
      virtual_cpu_devices=virtual, note=note,
      xla_flags=os.environ.get('XLA_FLAGS'),
      reexecuted=REEXEC_ENV in os.environ, command=command,
      started_utc=started, total_s=time.perf_counter() - start,
      load_average_start=list(load_start),
      load_average_end=list(os.getloadavg()))


def markdown_table(result: dict[str, Any]) -> str:
  """The rows of ``run_benchmark`` as a markdown table, with a caption."""
  device = result['device']
  lines = [
      f"Task {result['task']} L={result['length']}, {result['steps']} steps, "
      f"{device['device_kind']} ({device['platform']}, "
      f"{device['device_count']} device(s), {device['cpu_count']} CPUs), "
      f"jax {device['jax_version']}.",
      '',
      '| O | vmapped order-steps/s | sequential | speedup | '
      'compile vmapped s | compile seq s |',
      '|---:|---:|---:|---:|---:|---:|',
  ]
  prefixes = []
  for row in result['rows']:
    vmapped, sequential = row['vmapped'], row['sequential']
    note = ''
    if sequential['orders_timed'] < row['num_orders']:
      note = '*'
      prefixes.append(row['num_orders'])
    lines.append(
        f"| {row['num_orders']} | {vmapped['order_steps_per_s']:.1f} | "
        f"{sequential['order_steps_per_s']:.1f}{note} | "
        f"{row['speedup']:.2f}x | {vmapped['compile_s']:.1f} | "
        f"{sequential['compile_s']:.1f} |")
  if prefixes:
    lines += ['', f"\\* sequential loop timed on the first "
              f"{result['max_sequential_orders']} orders (per-order rate)."]
  lines += ['', 'Sequential compile: one single-order program, compiled once '
            'per run (it does not depend on O).']
  return '\n'.join(lines) + '\n'


def plot_png(result: dict[str, Any]) -> bytes:
  """PNG bytes of order-steps/s against O (log-log) for both methods."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  num_orders = [row['num_orders'] for row in result['rows']]
  fig, ax = plt.subplots(figsize=(5.5, 4))
  for method, marker in (('vmapped', 'o'), ('sequential', 's')):
    rates = [row[method]['order_steps_per_s'] for row in result['rows']]
    ax.plot(num_orders, rates, marker=marker, label=method)
  ax.set_xscale('log', base=2)
  ax.set_yscale('log')
  ax.set_xlabel('orders O')
  ax.set_ylabel('order-steps / s')
  device = result['device']
  ax.set_title(f"lopro profiler, {result['task']} L={result['length']}, "
               f"{result['steps']} steps\n{device['device_kind']} "
               f"({device['platform']})", fontsize=9)
  ax.grid(True, which='both', alpha=0.3)
  ax.legend()
  return _png_bytes(plt, fig)


def _png_bytes(plt, fig) -> bytes:
  """The pyplot figure as PNG bytes; closes it."""
  fig.tight_layout()
  buffer = io.BytesIO()
  fig.savefig(buffer, format='png', dpi=120)
  plt.close(fig)
  return buffer.getvalue()


def devices_markdown_table(result: dict[str, Any]) -> str:
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
  if 'load_average_start' in result:
    lines += ['', f"1-minute load average {result['load_average_start'][0]:.2f}"
              f" at the start, {result['load_average_end'][0]:.2f} at the end "
              '(other processes compete for the same cores).']
  return '\n'.join(lines) + '\n'


def devices_plot_png(result: dict[str, Any]) -> bytes:
  """PNG bytes of order-steps/s against the device count, with the ideal
  linear scaling from 1 device and, on CPU, the physical core count."""
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from matplotlib import pyplot as plt  # pylint: disable=g-import-not-at-top

  devices = [row['devices'] for row in result['rows']]
  rates = [row['order_steps_per_s'] for row in result['rows']]
  ideal = [row['ideal_order_steps_per_s'] for row in result['rows']]
  device = result['device']
  fig, ax = plt.subplots(figsize=(5.5, 4))
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
  return _png_bytes(plt, fig)


def _is_devices(result: dict[str, Any]) -> bool:
  return result.get('benchmark') == 'devices'


def render_markdown(result: dict[str, Any]) -> str:
  """The markdown table of either benchmark's result."""
  return (devices_markdown_table(result) if _is_devices(result)
          else markdown_table(result))


def render_png(result: dict[str, Any]) -> bytes:
  """The PNG plot of either benchmark's result."""
  return devices_plot_png(result) if _is_devices(result) else plot_png(result)


def write_outputs(result: dict[str, Any], output: str) -> dict[str, str]:
  """Writes the JSON, markdown and PNG atomically; returns their paths."""
  stem = os.path.splitext(output)[0]
  paths = dict(json=output, md=stem + '.md', png=stem + '.png')
  results_lib.atomic_write_json(paths['json'], result)
  results_lib.atomic_write_bytes(paths['md'], render_markdown(result).encode())
  results_lib.atomic_write_bytes(paths['png'], render_png(result))
  return paths


def _reexecute(count: int, command: str) -> None:
  """Runs this binary again with ``count`` virtual CPU devices, and waits."""
  argv = reexec_argv()
  env = reexec_env(dict(os.environ), count, command)
  logging.info('JAX sees %d CPU device(s); re-executing with XLA_FLAGS=%r: '
               '%s', jax.device_count(), env['XLA_FLAGS'], shlex.join(argv))
  completed = subprocess.run(argv, env=env, check=False)
  if completed.returncode:
    raise RuntimeError(f'the re-executed benchmark exited with status '
                       f'{completed.returncode}: {shlex.join(argv)}')


def _main_devices(command: str) -> dict[str, Any] | None:
  """``--devices``: the result, or None when a re-executed process ran it."""
  try:
    devices = parse_devices(_DEVICES.value)
    num_orders = (default_devices_num_orders()
                  if _DEVICES_NUM_ORDERS.value is None
                  else _DEVICES_NUM_ORDERS.value)
    if num_orders < max(devices):
      raise ValueError(f'devices_num_orders must be >= the largest device '
                       f'count {max(devices)}, got {num_orders}')
    reexec = needs_reexec(devices, jax.device_count(), jax.default_backend(),
                          REEXEC_ENV in os.environ)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  if reexec:
    _reexecute(max(devices), command)
    return None
  return benchmark_devices(
      _TASK.value, _LENGTH.value, _STEPS.value, devices, num_orders,
      _SEED.value, repeats=_REPEATS.value, command=command)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'Too many command-line arguments: {argv[1:]}')
  # A re-executed process records the command its parent was started with.
  command = (os.environ.get(REEXEC_ENV)
             or shlex.join(['python'] + list(sys.argv)))
  platform_name = jax.devices()[0].platform
  if _DEVICES.value:
    output = _OUTPUT.value or os.path.join(
        'results', f'benchmark_devices_{platform_name}.json')
    result = _main_devices(command)
    if result is None:
      return
  else:
    try:
      num_orders = (parse_num_orders(_NUM_ORDERS.value)
                    if _NUM_ORDERS.value else list(default_num_orders()))
    except ValueError as e:
      raise app.UsageError(str(e)) from None
    output = _OUTPUT.value or os.path.join(
        'results', f'benchmark_{platform_name}.json')
    logging.info('JAX devices: %s', jax.devices())
    result = run_benchmark(
        _TASK.value, _LENGTH.value, _STEPS.value, num_orders, _SEED.value,
        repeats=_REPEATS.value,
        max_sequential_orders=_MAX_SEQUENTIAL_ORDERS.value,
        command=command)
  paths = write_outputs(result, output)
  table = render_markdown(result)
  logging.info('benchmark (%.0fs):\n%s', result['total_s'], table)
  print(table)
  print(f"total {result['total_s']:.0f}s; wrote {', '.join(paths.values())}")


if __name__ == '__main__':
  app.run(main)
