"""Orders profiled per second by each estimator, at several lengths.

For every length L, one fixed batch of O random orders (drawn from
``fold_in(key(seed), L)``) is profiled by every estimator, side by side in
one process: each estimator is called once to compile and warm up (seed
``seed``), then timed ``repeats`` times with seed ``seed + 1`` (rounds
interleaved over the estimators; the fastest is reported, all are kept).
``orders_per_s`` is O over the timed run's ``run_s``, which excludes
compilation; ``compile_s`` is reported separately.

  Independent, Halving  one model per order (halving: fewer steps for most)
  Mixture               one model trained on the batch, then O forward
                        passes: its training is part of every profile
  Universal             one model trained once per (task, seed), kept; the
                        timed round first trains a model for its seed
                        (``train_s``, the one-off cost, programs compiled),
                        then scores the O orders with it (``orders_per_s``:
                        scoring only; ``orders_per_s_with_training``: both)

A Universal profile's timings do not include the model's training (it is
trained before, and kept), so its ``compile_s`` is the warm-up call's wall
time less its training (``train_s``) and scoring time: an estimate.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from absl import logging
import jax

import lopro
from experiments import methods
from experiments.bench import common
from lopro import orders as orders_lib
from lopro import results as results_lib
from lopro.estimators import universal
from lopro.estimators.base import describe

DEFAULT_LENGTHS = (8, 13, 40)
DEFAULT_NUM_ORDERS = 256


def make_estimators(names: Sequence[str], steps: int | None = None
                    ) -> dict[str, Any]:
  """name -> estimator (``methods.ESTIMATORS``), with ``steps`` training
  steps (None: each estimator's own).

  Raises:
    ValueError: an unknown name or a repeated one, or steps too few for an
      estimator (halving needs 15 with its 4 rungs).
  """
  names = list(names)
  if not names or len(set(names)) < len(names):
    raise ValueError(f'estimators must be distinct names, got {names}')
  spec = methods.MethodSpec(steps=steps)
  return {name: methods.make_estimator(name, spec) for name in names}


def _train_universal(estimator: lopro.Universal, task: lopro.Task,
                     seed: int) -> float:
  """Trains (and keeps) the universal model of ``seed``; returns seconds."""
  start = time.perf_counter()
  universal.trained_model(task, estimator.train, estimator.num_checkpoints,
                          seed)
  return time.perf_counter() - start


def benchmark_length(task: lopro.Task, estimators: dict[str, Any],
                     num_orders: int, seed: int, repeats: int
                     ) -> list[dict[str, Any]]:
  """One row per estimator at the task's length (see the module
  docstring)."""
  perms = orders_lib.sample_orders(
      jax.random.fold_in(jax.random.key(seed), task.length), num_orders,
      task.length)
  warm = {}
  for name, estimator in estimators.items():
    start = time.perf_counter()
    profile = lopro.profile_orders(perms, task, estimator=estimator,
                                   seed=seed)
    warm[name] = (time.perf_counter() - start, profile)
    logging.info('L=%d %s: warm-up %.1fs', task.length, name, warm[name][0])
  runs = {name: [] for name in estimators}
  trains = {name: [] for name in estimators}
  for r in range(repeats):
    for name, estimator in estimators.items():
      timed_seed = seed + 1 + r
      if isinstance(estimator, lopro.Universal):
        trains[name].append(_train_universal(estimator, task, timed_seed))
      profile = lopro.profile_orders(perms, task, estimator=estimator,
                                     seed=timed_seed)
      if isinstance(estimator, lopro.Universal) and not (
          profile.timings['model_reused']):
        raise RuntimeError('the universal model was trained again')
      runs[name].append((profile.timings['run_s'],
                         profile.timings['order_steps']))
  rows = []
  for name, estimator in estimators.items():
    warmup_s, first = warm[name]
    run_s = min(s for s, _ in runs[name])
    row = dict(
        estimator=name, length=task.length, num_orders=num_orders,
        steps=estimator.train.steps, batch_size=estimator.train.batch_size,
        run_s=run_s, run_s_all=[s for s, _ in runs[name]],
        orders_per_s=num_orders / run_s, warmup_s=warmup_s,
        compile_s=first.timings['compile_s'],
        order_steps=int(runs[name][0][1]),
        order_steps_per_s=runs[name][0][1] / run_s)
    if trains[name]:
      train_s = min(trains[name])
      row.update(
          train_s=train_s, train_s_all=trains[name],
          orders_per_s_with_training=num_orders / (train_s + run_s),
          order_steps=int(estimator.train.steps),
          order_steps_per_s=estimator.train.steps / train_s,
          compile_s=max(0.0, warmup_s - train_s - first.timings['run_s']))
    rows.append(row)
    logging.info('L=%d %s: %.1f orders/s (compile %.1fs%s)', task.length,
                 name, row['orders_per_s'], row['compile_s'],
                 f', training {row["train_s"]:.1f}s' if 'train_s' in row
                 else '')
  return rows


def benchmark_estimators(task: str = 'relu',
                         lengths: Sequence[int] = DEFAULT_LENGTHS,
                         names: Sequence[str] = methods.ESTIMATORS,
                         num_orders: int = DEFAULT_NUM_ORDERS,
                         steps: int | None = None, seed: int = 0, *,
                         repeats: int = 1, command: str | None = None
                         ) -> dict[str, Any]:
  """Orders/s of every estimator at every length, measured side by side.

  Args:
    task: task name (it must build at every length).
    lengths: the lengths L.
    names: estimators (``methods.ESTIMATORS``), in the order they run.
    num_orders: O, orders per profile.
    steps: training steps of every estimator; None: each one's own.
    seed: root seed (orders, warm-up; timed runs use seed + 1 + repeat).
    repeats: timed runs per (estimator, L); the fastest is reported.
    command: the command line, recorded as is.

  Returns:
    A JSON-able dict: ``benchmark='estimators'``, device, task, lengths,
    num_orders, estimators (their descriptions), rows (one per (L,
    estimator): orders_per_s, run_s, run_s_all, compile_s, warmup_s,
    order_steps, order_steps_per_s, and for Universal train_s, train_s_all
    and orders_per_s_with_training), command, timestamps, load averages.

  Raises:
    ValueError: bad task, lengths, estimators, orders, steps or repeats.
  """
  common.check_repeats(repeats)
  lengths = common.parse_positive_ints(lengths, 'lengths')
  estimators = make_estimators(names, steps)
  if (isinstance(num_orders, bool) or not isinstance(num_orders, int)
      or num_orders < 1):
    raise ValueError(f'num_orders must be a positive int, got {num_orders!r}')
  tasks = [lopro.get_task(task, length=length) for length in lengths]
  start, record = time.perf_counter(), common.started()
  device = common.device_info()
  logging.info('estimators %s on %s (%s), task %s, L=%s, O=%d', list(names),
               device['device_kind'], device['platform'], task, lengths,
               num_orders)
  rows = []
  for task_obj in tasks:
    rows += benchmark_length(task_obj, estimators, num_orders, seed, repeats)
  return dict(
      benchmark='estimators', device=device, task=task, lengths=lengths,
      num_orders=num_orders, steps=steps, seed=seed, repeats=repeats,
      estimators={n: describe(e) for n, e in estimators.items()}, rows=rows,
      command=command, **common.finished(record, time.perf_counter() - start))


def markdown_table(result: dict[str, Any]) -> str:
  """The rows of ``benchmark_estimators`` as a markdown table, with notes."""
  device = result['device']
  described = '; '.join(
      f"{n}: {e['type']}, {e['train']['steps']} steps of batch "
      f"{e['train']['batch_size']}" for n, e in result['estimators'].items())
  lines = [
      f"Orders profiled per second, task {result['task']}, "
      f"{result['num_orders']} random orders per profile, "
      f"{device['device_kind']} ({device['platform']}, "
      f"{device['device_count']} device(s), {device['cpu_count']} CPUs), "
      f"jax {device['jax_version']}. Estimators: {described}.",
      '',
      '| L | estimator | orders/s | run s | compile s | universal: training '
      's | orders/s with training |',
      '|---:|---|---:|---:|---:|---:|---:|',
  ]
  for row in result['rows']:
    trained = 'train_s' in row
    train = f"{row['train_s']:.1f}" if trained else '-'
    with_training = (f"{row['orders_per_s_with_training']:.1f}" if trained
                     else '-')
    lines.append(
        f"| {row['length']} | {row['estimator']} | "
        f"{row['orders_per_s']:.1f} | {row['run_s']:.2f} | "
        f"{row['compile_s']:.1f} | {train} | {with_training} |")
  lines += [
      '', f"Fastest of {result['repeats']} timed run(s) per estimator and L, "
      'after one compile and warm-up call; compiles excluded. A mixture '
      'trains its model on every batch (in its orders/s); the universal '
      'model is trained once per task and seed (training s), then scores '
      'any orders (orders/s: scoring only). Universal compile s is an '
      'estimate (the warm-up less its training and scoring).']
  lines += common.load_line(result)
  return '\n'.join(lines) + '\n'


def plot_png(result: dict[str, Any]) -> bytes:
  """PNG bytes of orders/s against L, one line per estimator."""
  fig = results_lib.new_figure(figsize=(5.5, 4))
  ax = fig.subplots()
  for name in result['estimators']:
    mine = [r for r in result['rows'] if r['estimator'] == name]
    ax.plot([r['length'] for r in mine],
            [max(r['orders_per_s'], 1e-9) for r in mine], marker='o',
            label=name)
  ax.set_yscale('log')
  ax.set_xticks(result['lengths'])
  ax.set_xlabel('target length L')
  ax.set_ylabel('orders / s (compile excluded)')
  device = result['device']
  ax.set_title(f"lopro estimators, {result['task']}, O="
               f"{result['num_orders']}\n{device['device_kind']} "
               f"({device['platform']})", fontsize=9)
  ax.grid(True, which='both', alpha=0.3)
  ax.legend(fontsize=8)
  return common.png_bytes(fig)
