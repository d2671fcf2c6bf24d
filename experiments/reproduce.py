r"""Reproduces the paper's tables: success of orders, search, rank validity.

--table=1     forward vs reverse (and the friendly order where it is neither)
              exact-match success for every task at --length, over --seeds;
              --random_orders=K adds the best of K random orders.
--table=2     a search from random init for relu, square19, index d=2 and
              prod at each of --lengths, then success of the discovered
              order vs forward, reverse and friendly; discovery rate. The
              search is --strategy scored by --estimator
              (experiments/methods.py; unset: one model per order and the
              hierarchical search, lopro 0.1's; both unset:
              lopro.default_method(L)); --refine_rounds climbs from each
              search's result with one model per order.
--table=rank  profile friendly + 127 random orders with --estimator (unset:
              one model per order), evaluate the best 32 by profile score,
              and correlate profile score with success (Spearman, Kendall),
              for relu and square19 (--tasks: any table-1 row, e.g. prod;
              --num_evaluated=0: the friendly order's profile rank only).
--table=estimators
              rank of the friendly order among friendly + reverse + 126
              random at --length under each of --estimators: independent
              (one model per order), mixture (the paper's one model, told
              the slot), mixture_no_slot (paper-literal), halving and
              universal (one model trained on random orders only); Spearman
              agreement of their rankings; order-steps and time.
--table=delay the delay systems of --systems: the success of every
              hand-designed valid order, of --num_sorts random topological
              sorts and of the order a search finds (the method flags;
              default: the default method); Spearman of their profile
              scores against success. A row keeps its finished stages
              (search, each --eval_chunk orders' evaluation, profile) and
              resumes from them.

The tables' logic lives in experiments/tables/ (one module each); this
binary reads the flags and writes the files.

Table 2 keeps every finished cell in ``<name>.cells.json``: rerunning the
same command skips them (resume after a crash, or split a long run over
sessions); cells made with other settings are refused (cell files of lopro
0.1 are read too). Cells run length-major in --lengths order; --report_only
writes the table from the finished cells and lists the others as not run.
With --reuse (default) a table also takes the cells that another file in
--output_dir finished with the same settings (a --tasks subset of the same
table), and evaluates no (task, L, order, seed) that a table-2 file with the
same evaluation settings holds; each cell lists the evaluations it read in
``reused_evaluations``.

--preset=cpu|paper picks the evaluation model (``lopro.EvalConfig``),
--steps its training steps and --eval_overrides any other of its settings
(e.g. ``--eval_overrides=width=256,num_layers=4``); --profile_steps are the
estimator's. Each table
writes ``<name>.json``, ``<name>.md`` and ``<name>.png`` into --output_dir;
the markdown ends with the command and the device.

Examples:
  python experiments/reproduce.py --table=1 --preset=cpu --length=16 \
      --output_dir=results
  python experiments/reproduce.py --table=rank --length=12 --output_dir=results
  python experiments/reproduce.py --table=estimators --length=8 --seeds=2 \
      --output_dir=results
  python experiments/reproduce.py --table=2 --lengths=10,9,8,7,6 \
      --steps=1000 --estimator=universal --output_dir=results
  python experiments/reproduce.py --table=2 --lengths=10,9,8,7,6 \
      --steps=1000 --estimator=universal --refine_rounds=6 \
      --refine_steps=1000 --output_dir=results --report_only
  python experiments/reproduce.py --table=2 --tasks=index_d2 \
      --lengths=10,9,8,7,6 --steps=1000 --estimator=universal \
      --refine_rounds=6 --refine_steps=1000 --output_dir=results
"""

import dataclasses
import os
import sys

from absl import app
from absl import flags
from absl import logging
import jax

# Run as a script, the repository root is not on the path.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(
    __file__))))
# pylint: disable=g-import-not-at-top,wrong-import-position
from experiments import methods
from experiments.tables import common
from experiments.tables import delay
from experiments.tables import estimators
from experiments.tables import rank
from experiments.tables import table1
from experiments.tables import table2
import lopro
from lopro import results
# pylint: enable=g-import-not-at-top,wrong-import-position

_TABLE = flags.DEFINE_enum('table', '1',
                           ['1', '2', 'rank', 'estimators', 'delay'],
                           'Which table.')
_PRESET = flags.DEFINE_enum('preset', 'cpu', list(lopro.evaluate.PRESETS),
                            'Evaluation model preset.')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds 0..seeds-1.', lower_bound=1)
_LENGTH = flags.DEFINE_integer(
    'length', 16, 'Target length L of table 1, rank and estimators.')
_LENGTHS = flags.DEFINE_list('lengths', ['6', '7', '8', '9', '10'],
                             'Target lengths of table 2.')
_TASKS = flags.DEFINE_list('tasks', None, 'Restrict to these rows (names as '
                           'in the table, e.g. relu,index_d2).')
_STEPS = flags.DEFINE_integer(
    'steps', None, 'Training steps of the evaluation model; unset: the '
    'preset\'s.', lower_bound=1)
_EVAL_OVERRIDES = flags.DEFINE_list(
    'eval_overrides', [], 'Changes to the evaluation preset: name=value of '
    'lopro.EvalConfig or TrainConfig fields, e.g. width=256,num_layers=4.')
_METHOD = methods.define_flags(steps='profile_steps')
_NUM_RANDOM = flags.DEFINE_integer(
    'num_random', 127, 'Rank study: random orders profiled (estimators: '
    'num_random - 1 besides friendly and reverse).', lower_bound=1)
_ESTIMATORS = flags.DEFINE_list(
    'estimators', list(estimators.ESTIMATORS),
    'Estimators compared by --table=estimators; the model flags '
    '(--profile_steps, --batch_size, --width, --layers, --num_checkpoints, '
    '--num_heldout) apply to each that has them.')
_NUM_EVALUATED = flags.DEFINE_integer(
    'num_evaluated', 32, 'Rank study: best orders evaluated; 0 profiles '
    'only (the friendly order\'s rank, no correlation).', lower_bound=0)
_REPORT_ONLY = flags.DEFINE_bool(
    'report_only', False, 'Table 2: run no cell; write the table from the '
    'finished cells in <name>.cells.json and list the others as not run.')
_REUSE = flags.DEFINE_bool(
    'reuse', True, 'Table 2: take what other table-2 runs in --output_dir '
    'already finished instead of recomputing it: a whole cell from a file '
    'made with the same settings (e.g. a --tasks subset), an evaluation '
    '(task, L, order, seed) from any file with the same evaluation settings. '
    'The same computation gives bit-identical numbers on one machine.')
_SYSTEMS = flags.DEFINE_list(
    'systems', list(delay.SYSTEMS), 'Delay: the systems '
    f'({", ".join(delay.SYSTEMS)}).')
_RANDOM_ORDERS = flags.DEFINE_integer(
    'random_orders', 0, 'Table 1: random orders evaluated besides forward, '
    'reverse and friendly (the same for every seed); the table reports the '
    'best of them and their median.', lower_bound=0)
_NUM_SORTS = flags.DEFINE_integer(
    'num_sorts', 16, 'Delay: random topological sorts per system.',
    lower_bound=0)
_EVAL_CHUNK = flags.DEFINE_integer(
    'eval_chunk', 4, 'Delay: orders trained in one run and kept when done, '
    'so a row interrupted after hours resumes (more are faster on an '
    'accelerator).', lower_bound=1)
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)

# Method flags that only table 2 (a search) reads.
_SEARCH_ONLY = ('strategy', 'init', 'insertion_rounds', 'num_starts',
                'budget', 'refine_rounds', 'refine_steps', 'refine_seeds',
                'topological')


def eval_config() -> lopro.EvalConfig:
  """The evaluation model of --preset, with --steps and --eval_overrides;
  its held-out set also avoids the inputs of --profile_steps' profiles."""
  overrides = list(_EVAL_OVERRIDES.value)
  if _METHOD.spec().steps is not None:
    overrides.append(f'profile_steps={_METHOD.spec().steps}')
  try:
    return common.eval_config(_PRESET.value, _STEPS.value, overrides)
  except ValueError as e:
    raise app.UsageError(f'--eval_overrides: {e}') from None


def check_flags(spec: methods.MethodSpec) -> None:
  """Refuses method flags the chosen table does not read."""
  if _TABLE.value == '1':
    unread = [f.name for f in dataclasses.fields(spec)]
  elif _TABLE.value == 'delay':
    unread = []
  elif _TABLE.value == '2':  # chain tasks: the one valid order is friendly
    unread = ['topological']
  else:
    unread = list(_SEARCH_ONLY) + (['estimator'] if _TABLE.value ==
                                   'estimators' else [])
  given = [name for name in unread if getattr(spec, name) is not None]
  if _TABLE.value != '1' and _RANDOM_ORDERS.value:
    given.append('random_orders')
  if given:
    raise app.UsageError(f'--table={_TABLE.value} reads no '
                         + ', '.join(f'--{n}' for n in given))


def build(config: lopro.EvalConfig, seeds: list[int]) -> common.Table:
  """The table --table names, from the flags."""
  spec = _METHOD.spec()
  check_flags(spec)
  tasks = _TASKS.value
  try:
    if _TABLE.value == '2':
      lengths = [int(n) for n in _LENGTHS.value]
      for length in lengths:  # settings that make no method fail here
        methods.build_method(length, spec)
    elif _TABLE.value == 'delay':
      for name in _SYSTEMS.value:
        if name in delay.SYSTEMS:
          task = delay.system_task(name)
          methods.build_method(task.length, spec, task.depends_on)
    elif _TABLE.value == 'rank':
      name = spec.estimator or 'independent'
      estimator = methods.make_estimator(name, spec)
    elif _TABLE.value == 'estimators':
      compared = estimators.make_estimators(_ESTIMATORS.value, spec)
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  if _TABLE.value == '1':
    return table1.build(config, seeds, _LENGTH.value, _PRESET.value, tasks,
                        num_random=_RANDOM_ORDERS.value)
  if _TABLE.value == 'delay':
    return delay.build(config, seeds, _SYSTEMS.value,
                       num_random=_NUM_SORTS.value, spec=spec,
                       output_dir=_OUTPUT_DIR.value,
                       eval_chunk=_EVAL_CHUNK.value)
  if _TABLE.value == '2':
    return table2.build(config, seeds, lengths, spec, _PRESET.value,
                        _OUTPUT_DIR.value, tasks,
                        report_only=_REPORT_ONLY.value, reuse=_REUSE.value)
  if _TABLE.value == 'rank':
    return rank.build(
        config, seeds[0], _LENGTH.value, _PRESET.value, estimator, tasks,
        num_random=_NUM_RANDOM.value, num_evaluated=_NUM_EVALUATED.value,
        name_suffix='' if name == 'independent' else f'_{name}')
  return estimators.build(seeds, _LENGTH.value, compared, tasks,
                          num_random=_NUM_RANDOM.value)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.INFO)
  config = eval_config()
  seeds = list(range(_SEEDS.value))
  os.makedirs(_OUTPUT_DIR.value, exist_ok=True)
  try:
    out = build(config, seeds)
  except common.TableError as e:
    raise app.UsageError(str(e)) from None
  command = ' '.join(['python experiments/reproduce.py'] + sys.argv[1:])
  device = jax.devices()[0].device_kind
  changed = ''.join(f', {item}' for item in _EVAL_OVERRIDES.value)
  header = out.header or (
      f'Preset `{_PRESET.value}` (`lopro.EvalConfig.{_PRESET.value}()`, '
      f'{config.train.steps} steps{changed}), seeds {seeds}; success in % (mean ± std '
      f'over seeds) on {config.num_heldout} held-out examples; device '
      f'{device}.\n')
  text = header + '\n' + '\n'.join(out.lines) + (
      f'\n\nCommand: `{command}`\n')
  path = common.output_path(_OUTPUT_DIR.value, out.name, _TASKS.value)
  results.atomic_write_json(path + '.json', dict(
      table=_TABLE.value, preset=_PRESET.value, config=config.to_dict(),
      seeds=seeds, device=device, command=command, rows=out.rows,
      **out.extra))
  results.atomic_write_bytes(path + '.md', text.encode())
  results.save_figure(out.figure, path + '.png')
  print(text)
  return 0


if __name__ == '__main__':
  sys.exit(app.run(main))
