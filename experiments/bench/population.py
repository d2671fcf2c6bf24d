"""The vmapped profiler against a sequential loop, order-steps/s against O.

For every population size O, the same O random orders are trained for the
same number of steps on the same device twice, back to back in one process:

* **vmapped**: ``lopro.profile_orders`` with ``lopro.Independent`` and
  ``Runtime(chunk_size=O)``, so the whole population is one compiled,
  vmapped program. It is called once to compile (``compile_s``) and warm
  up, then again with another seed, which reuses the compiled program; its
  ``run_s`` excludes compilation.
* **sequential**: ``jax.jit(lopro.make_train(task, train))`` compiled once
  (``compile_s``; the single-order program does not depend on O, so it is
  compiled once per run and the same time is reported in every row), warmed
  up on one order, then a Python loop over the orders with the same key as
  the timed vmapped run, blocked on at the end. On large O only the first
  ``max_sequential_orders`` orders are looped over (``orders_timed``) and
  the per-order rate is reported: a loop's per-order cost does not depend
  on O.

Rates are order-steps/s = orders x steps / run_s; ``speedup`` is the vmapped
rate over the sequential one. The sequential losses are also checked against
the vmapped ones (``max_abs_loss_diff``), since both train the same models.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np

import lopro
from experiments.bench import common
from lopro import orders as orders_lib
from lopro import results as results_lib
from lopro.estimators.base import describe

CPU_NUM_ORDERS = (1, 8, 64, 256)
ACCELERATOR_NUM_ORDERS = (1, 8, 64, 256, 1024, 4096)


def default_num_orders(backend: str | None = None) -> tuple[int, ...]:
  """Population sizes benchmarked by default on ``backend``."""
  backend = jax.default_backend() if backend is None else backend
  return CPU_NUM_ORDERS if backend == 'cpu' else ACCELERATOR_NUM_ORDERS


def parse_num_orders(values: Sequence[str | int]) -> list[int]:
  """Positive ints from a flag list like ['1', '8', '64']."""
  return common.parse_positive_ints(values, 'num_orders')


def _compile_sequential(task: lopro.Task, train: lopro.TrainConfig):
  """Compiles ``jax.jit(train)`` for one order; returns (compiled, seconds)."""
  fn = lopro.make_train(task, train)
  start = time.perf_counter()
  compiled = jax.jit(fn).lower(
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


def benchmark_one(task: lopro.Task, steps: int, num_orders: int, seed: int,
                  sequential: tuple[Any, float], *, repeats: int = 1,
                  max_sequential_orders: int = 64) -> dict[str, Any]:
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
  estimator = lopro.Independent(train=lopro.TrainConfig(steps=steps))
  runtime = lopro.Runtime(chunk_size=num_orders)
  seq_compiled, seq_compile_s = sequential
  num_timed = num_orders if max_sequential_orders <= 0 else min(
      num_orders, max_sequential_orders)

  first = lopro.profile_orders(perms, task, estimator=estimator, seed=seed,
                               runtime=runtime)
  seq_compiled(jax.random.key(seed), jnp.asarray(perms[0], jnp.int32)
               ).block_until_ready()  # warm-up, like the first vmapped run
  vmapped_runs, sequential_runs = [], []
  losses_diff = 0.0
  for _ in range(repeats):
    timed = lopro.profile_orders(perms, task, estimator=estimator,
                                 seed=seed + 1, runtime=runtime)
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
      vmapped=dict(compile_s=compile_s, compile_cached=compile_s < 1e-3,
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
    A JSON-able dict: device, estimator (its description), steps, rows (one
    per O, each with vmapped and sequential compile_s, run_s,
    order_steps_per_s, and speedup), command, timestamps and load averages.

  Raises:
    ValueError: bad task, length, steps, repeats or population sizes.
  """
  common.check_repeats(repeats)
  num_orders_list = parse_num_orders(num_orders_list)
  task_obj = lopro.get_task(task, length=length)
  train = lopro.TrainConfig(steps=steps)
  start, record = time.perf_counter(), common.started()
  device = common.device_info()
  logging.info('benchmark on %s (%s, %d devices), task %s L=%d, %d steps, '
               'O=%s', device['device_kind'], device['platform'],
               device['device_count'], task, length, steps, num_orders_list)
  sequential = _compile_sequential(task_obj, train)
  logging.info('sequential single-order train compiled in %.1fs',
               sequential[1])
  rows = [benchmark_one(task_obj, steps, o, seed, sequential,
                        repeats=repeats,
                        max_sequential_orders=max_sequential_orders)
          for o in num_orders_list]
  return dict(
      device=device, task=task, length=length, steps=steps, seed=seed,
      repeats=repeats, max_sequential_orders=max_sequential_orders,
      estimator=describe(lopro.Independent(train=train)),
      runtime='Runtime(chunk_size=O): the population is one chunk',
      rows=rows, command=command,
      **common.finished(record, time.perf_counter() - start))


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
  num_orders = [row['num_orders'] for row in result['rows']]
  fig = results_lib.new_figure(figsize=(5.5, 4))
  ax = fig.subplots()
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
  return common.png_bytes(fig)
