r"""Discovery tables: searches (random init, or --init=structured) across tasks.

--table=discovery  relu, square19, cubic, sine, triangle, mlp, index d=2 and
                   two planted chains at each of --lengths, --seeds seeds.
--table=chains     relu and square19 along --num_chains random chains at
                   --chain_length, seed 0 (``--seeds=1``).

Each cell is one search with the method the flags give (both --estimator and
--strategy unset: ``lopro.default_method(L)``), reported as the friendly
order ('exact'), an order the task proves as friendly ('equivalent') or a
miss, with its order-profiles and wall time (``experiments/tables/
discovery.py``). Finished cells are kept in ``<name>.cells.json``: the same
command resumes, --report_only writes the table from what is finished.
--eval_preset then trains an evaluation model on each finished cell's
discovered order and on forward and reverse, with the cell's seed, and
adds their exact-match success (kept in ``<name>_eval_<preset>.cells.json``).
Writes ``<name>.{json,md,png}`` into --output_dir.

Examples:
  python experiments/discovery.py --table=discovery \
      --lengths=8,10,12,13,16 --output_dir=results/discovery
  python experiments/discovery.py --table=chains --seeds=1 \
      --output_dir=results/discovery
  # From the paper's structured init P_b (the default method otherwise):
  python experiments/discovery.py --table=discovery --init=structured \
      --tasks=relu,square19 --lengths=20,30,40,64 \
      --output_dir=results/discovery
  # ... and the success of what it found against forward and reverse:
  python experiments/discovery.py --table=discovery --init=structured \
      --tasks=relu,square19 --lengths=40 --eval_preset=cpu \
      --output_dir=results/discovery
  # The paper's search exactly, as a baseline:
  python experiments/discovery.py --table=discovery --lengths=8,13 \
      --strategy=paper --estimator=mixture --noslot_embedding \
      --output_dir=results/discovery
"""

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
from experiments.tables import discovery
import lopro
from lopro import results
# pylint: enable=g-import-not-at-top,wrong-import-position

_TABLE = flags.DEFINE_enum('table', 'discovery', ['discovery', 'chains'],
                           'Which table.')
_LENGTHS = flags.DEFINE_list('lengths', ['8', '10', '12', '13', '16'],
                             'Target lengths (discovery).')
_SEEDS = flags.DEFINE_integer('seeds', 3, 'Seeds 0..seeds-1.', lower_bound=1)
_TASKS = flags.DEFINE_list('tasks', None, 'Restrict to these rows.')
_NUM_CHAINS = flags.DEFINE_integer('num_chains', 10,
                                   'Random chains per task (chains).',
                                   lower_bound=1)
_CHAIN_LENGTH = flags.DEFINE_integer('chain_length', 8,
                                     'Target length L (chains).',
                                     lower_bound=2)
_METHOD = methods.define_flags()
_REPORT_ONLY = flags.DEFINE_bool(
    'report_only', False, 'Run no cell; write the table from the finished '
    'cells and list the others as not run.')
_EVAL_PRESET = flags.DEFINE_enum(
    'eval_preset', None, list(lopro.evaluate.PRESETS),
    'Evaluate each finished cell\'s discovered order against forward and '
    'reverse with this EvalConfig preset; unset: no evaluation.')
_EVAL_STEPS = flags.DEFINE_integer(
    'eval_steps', None, 'Training steps of the evaluation model; unset: the '
    'preset\'s.', lower_bound=1)
_EVAL_OVERRIDES = flags.DEFINE_list(
    'eval_overrides', [], 'Changes to --eval_preset: name=value of '
    'lopro.EvalConfig or TrainConfig fields, e.g. width=256,num_layers=4.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', None, 'Where to write.',
                                  required=True)


def evaluation_store(path: str) -> tuple[lopro.EvalConfig,
                                         common.CellStore] | None:
  """(config, store) of --eval_preset, or None without one."""
  if _EVAL_PRESET.value is None:
    for flag in (_EVAL_STEPS, _EVAL_OVERRIDES):
      if flag.value not in (None, []):
        raise app.UsageError(f'--{flag.name} needs --eval_preset')
    return None
  try:
    config = common.eval_config(_EVAL_PRESET.value, _EVAL_STEPS.value,
                                _EVAL_OVERRIDES.value)
  except ValueError as e:
    raise app.UsageError(f'--eval_overrides: {e}') from None
  return config, common.CellStore(
      f'{path}_eval_{_EVAL_PRESET.value}',
      dict(eval_config=common.eval_fingerprint(config), methods={}),
      read_only=_REPORT_ONLY.value)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.INFO)
  spec = _METHOD.spec()
  if spec.topological:
    raise app.UsageError('--topological: the discovery tables search chain '
                         'tasks, whose one valid order is the friendly one')
  if _TABLE.value == 'chains':
    rows = discovery.chain_rows(['relu', 'square19'], _NUM_CHAINS.value,
                                _CHAIN_LENGTH.value)
    lengths = [_CHAIN_LENGTH.value]
  else:
    rows = discovery.DISCOVERY_ROWS
    lengths = [int(n) for n in _LENGTHS.value]
  try:
    rows = common.selected(rows, _TASKS.value)
    built = {length: methods.build_method(length, spec) for length in lengths}
  except ValueError as e:
    raise app.UsageError(str(e)) from None
  name = discovery.table_name(spec, _TABLE.value, _CHAIN_LENGTH.value)
  path = common.output_path(_OUTPUT_DIR.value, name, _TASKS.value)
  try:
    store = common.CellStore(path, dict(
        eval_config=None, methods={
            str(length): common.method_fingerprint(m.strategy, m.estimator)
            for length, m in built.items()}), read_only=_REPORT_ONLY.value)
    out = discovery.build(name, rows, lengths, list(range(_SEEDS.value)),
                          built.__getitem__, store,
                          report_only=_REPORT_ONLY.value,
                          evaluation=evaluation_store(path))
  except common.TableError as e:
    raise app.UsageError(str(e)) from None
  command = ' '.join(['python experiments/discovery.py'] + sys.argv[1:])
  device = jax.devices()[0].device_kind
  text = (f'Searches from {spec.init or "random"} init, seeds '
          f'0..{_SEEDS.value - 1}; '
          f'device {device}.\n\n' + '\n'.join(out.lines)
          + f'\n\nCommand: `{command}`\n')
  results.atomic_write_json(path + '.json', dict(
      table=_TABLE.value, device=device, command=command, rows=out.rows))
  results.atomic_write_bytes(path + '.md', text.encode())
  results.save_figure(out.figure, path + '.png')
  print(text)


if __name__ == '__main__':
  app.run(main)
