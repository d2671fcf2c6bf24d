"""What the tables of ``experiments/reproduce.py`` share.

The task rows of each table, the reference orders, summary statistics, and
the cell store of the long table 2: finished cells kept on disk after each
one, cells and evaluations reused from other table-2 files with the same
settings, and the reading of files written by lopro 0.1.
"""

from __future__ import annotations

import dataclasses
import glob
import json
import os
from typing import Any

from absl import logging
import numpy as np

import lopro
from lopro import orders
from lopro import results
from lopro import scores as scores_lib
from lopro import strategies
from lopro.estimators.base import describe

# Table 2's acceptance margin: the discovered order's success may be this far
# below the friendly order's.
WITHIN = 0.05

# Row name -> (task name, parameters).
TABLE1_TASKS = {
    'relu': ('relu', {}), 'square19': ('square19', {}),
    'index_d2': ('index', dict(d=2)), 'index_d4': ('index', dict(d=4)),
    'index_d8': ('index', dict(d=8)), 'cubic': ('cubic', {}),
    'sine': ('sine', {}), 'triangle': ('triangle', {}), 'mlp': ('mlp', {}),
    'prod': ('prod', {}), 'delay': ('delay', {}),
}
TABLE2_TASKS = {k: TABLE1_TASKS[k]
                for k in ('relu', 'square19', 'index_d2', 'prod')}
RANK_TASKS = {k: TABLE1_TASKS[k] for k in ('relu', 'square19')}
# Planted chains that no test or earlier result used.
ESTIMATOR_TASKS = {'relu': ('relu', {}), 'square19': ('square19', {}),
                   'planted_3': ('planted', dict(order_seed=3)),
                   'planted_7': ('planted', dict(order_seed=7))}


class TableError(ValueError):
  """A table cannot be made as asked (reported as a usage error)."""


@dataclasses.dataclass
class Table:
  """A finished table.

  Attributes:
    name: the file stem, e.g. ``table1_cpu_L16``.
    rows: JSON-able rows.
    lines: the markdown lines.
    figure: a matplotlib figure.
    header: the markdown's first paragraph; None for the evaluation caption.
    extra: more fields for the JSON.
  """
  name: str
  rows: list[dict[str, Any]]
  lines: list[str]
  figure: Any
  header: str | None = None
  extra: dict[str, Any] = dataclasses.field(default_factory=dict)


def selected(rows: dict[str, Any], tasks: list[str] | None) -> dict[str, Any]:
  """``rows`` restricted to ``tasks`` (all when empty)."""
  if not tasks:
    return rows
  unknown = set(tasks) - set(rows)
  if unknown:
    raise TableError(f'--tasks: unknown rows {sorted(unknown)}; known: '
                     f'{list(rows)}')
  return {k: v for k, v in rows.items() if k in tasks}


def output_path(output_dir: str, name: str, tasks: list[str] | None) -> str:
  """<output_dir>/<name>, tagged with the tasks when a subset runs (a subset
  never overwrites the whole table)."""
  if tasks:
    name += '_' + '_'.join(tasks)
  return os.path.join(output_dir, name)


def reference_perms(task: lopro.Task) -> tuple[np.ndarray, list[str]]:
  """forward, reverse, and friendly when it is neither."""
  perms = [orders.identity(task.length), orders.reverse(task.length)]
  names = ['forward', 'reverse']
  friendly = task.friendly_order
  if friendly is not None and not any(np.array_equal(friendly, p)
                                      for p in perms):
    perms.append(friendly)
    names.append('friendly')
  return np.stack(perms), names


def mean_std(values) -> dict[str, Any]:
  values = np.asarray(values, np.float64)
  return dict(mean=float(values.mean()), std=float(values.std()),
              values=values.tolist())


def fmt(cell: dict[str, Any] | None) -> str:
  """'mean ± std' in percent, or '-'."""
  if cell is None:
    return '-'
  return f'{100 * cell["mean"]:.1f} ± {100 * cell["std"]:.1f}'


def positions(ranking: np.ndarray) -> np.ndarray:
  """int[O]: the 0-based rank of every order (the inverse of a ranking)."""
  out = np.empty_like(ranking)
  out[ranking] = np.arange(ranking.size)
  return out


# --------------------------------------------------------------------------
# Fingerprints.
# --------------------------------------------------------------------------


def eval_config(preset: str, steps: int | None = None,
                overrides: list[str] | None = None) -> lopro.EvalConfig:
  """The evaluation model of a binary's flags.

  Args:
    preset: a ``lopro.EvalConfig`` preset, ``'cpu'`` or ``'paper'``.
    steps: training steps; None: the preset's.
    overrides: ``name=value`` strings naming EvalConfig or TrainConfig
      fields, e.g. ``['width=256', 'num_layers=4', 'learning_rate=3e-4']``;
      values are read as ints, else floats, else strings.

  Raises:
    ValueError: an override that is not ``name=value``, a name given twice
      (``steps`` included), an unknown name or a bad value.
  """
  given = {} if steps is None else dict(steps=steps)
  for item in overrides or ():
    name, sep, text = str(item).partition('=')
    name = name.strip()
    if not sep or not name or not text.strip():
      raise ValueError(f'evaluation override {item!r} is not name=value, '
                       f'e.g. width=256')
    if name in given:
      raise ValueError(f'evaluation setting {name!r} given twice')
    for kind in (int, float, str):
      try:
        given[name] = kind(text.strip())
        break
      except ValueError:
        continue
  return lopro.EvalConfig.preset(preset, **given)


def eval_fingerprint(config: lopro.EvalConfig) -> dict[str, Any]:
  """The evaluation settings, flat (TrainConfig fields and EvalConfig's
  own), as lopro 0.1 wrote them: equal settings give equal evaluations
  whichever version wrote the file."""
  flat = dataclasses.asdict(config.train)
  flat.update({f.name: getattr(config, f.name)
               for f in dataclasses.fields(config) if f.name != 'train'})
  return results.to_jsonable(flat)


def method_fingerprint(strategy: Any, estimator: Any) -> dict[str, Any]:
  """The search method of a cell: its strategy and estimator described."""
  return json.loads(json.dumps(results.to_jsonable(dict(
      strategy=describe(strategy), estimator=describe(estimator)))))


def _legacy_estimator(config: dict[str, Any]) -> Any:
  """The estimator of a lopro 0.1 ProfileConfig dict, or None."""
  if config.get('score') != 'final':
    return None
  train = lopro.TrainConfig(**{f.name: config[f.name] for f in
                               dataclasses.fields(lopro.TrainConfig)})
  score = scores_lib.final(config['score_fraction'])
  crn = config['common_random_numbers']
  fraction = config['random_order_fraction']
  if config['mode'] == 'independent':
    if config['schedule'] == 'halving':
      return lopro.Halving(train=train, eta=config['eta'],
                           rungs=config['rungs'], score=score,
                           common_random_numbers=crn)
    return lopro.Independent(train=train, score=score,
                             common_random_numbers=crn)
  mixture = dict(train=train, num_checkpoints=config['num_checkpoints'],
                 num_heldout=config['num_heldout'], score=score)
  if fraction == 1.0:
    return lopro.Universal(**mixture) if config['slot_embedding'] else None
  return lopro.Mixture(slot_embedding=config['slot_embedding'],
                       random_order_fraction=fraction, **mixture)


def legacy_fingerprint(saved: dict[str, Any]) -> dict[str, Any] | None:
  """A table-2 fingerprint of lopro 0.1 (profile, search and refine
  configs) in today's form, or None when it has no equivalent.

  lopro 0.1's table 2 ran its hierarchical search with one profile config
  at every length, then ``refine_rounds`` insertion rounds scored one model
  per order, averaged over ``refine_seeds``; today that is
  ``Pipeline((Hierarchical(...), estimator), (Insertion(rounds,
  'refine'), Independent(..., num_seeds)))``. The method holds at every
  length (key ``'*'``). ``same_numbers`` says whether today's lopro
  computes the same numbers from those settings: not where random orders
  are drawn (a universal model, a mixture with ``random_order_fraction``),
  which lopro 0.1 drew by sorting uniform noise and today's by
  ``jax.random.permutation``.
  """
  try:
    search = saved['search_config']
    estimator = _legacy_estimator(saved['profile_config'])
    if estimator is None or not search['reuse_scores']:
      return None
    initial = (strategies.RandomInit() if search['init'] == 'random'
               else strategies.StructuredInit(search['structured_block']))
    strategy = strategies.Hierarchical(
        depth=search['depth'], initial=initial,
        local_rounds=search['local_rounds'],
        max_block_perms=search['max_block_perms'],
        insertion_rounds=search['insertion_rounds'],
        num_starts=search['num_starts'])
    if search.get('refine_rounds'):
      refine = _legacy_estimator(saved['refine_profile_config'])
      if not isinstance(refine, lopro.Independent):
        return None
      strategy = strategies.Pipeline(
          (strategy, estimator),
          (strategies.Insertion(rounds=search['refine_rounds'],
                                name='refine'),
           dataclasses.replace(refine, num_seeds=saved['refine_seeds'])))
  except (KeyError, TypeError, ValueError):
    return None
  draws = isinstance(estimator, lopro.Universal) or (
      isinstance(estimator, lopro.Mixture) and estimator.random_order_fraction)
  return dict(eval_config=saved['eval_config'],
              methods={'*': method_fingerprint(strategy, estimator)},
              lopro_0_1=True, same_numbers=not draws)


def _current(fingerprint: dict[str, Any]) -> dict[str, Any] | None:
  if 'methods' in fingerprint:
    return fingerprint
  return legacy_fingerprint(fingerprint)


def same_numbers(fingerprint: dict[str, Any]) -> bool:
  """Whether today's lopro recomputes a file's cells bit for bit (False for
  some files of lopro 0.1, see ``legacy_fingerprint``)."""
  current = _current(fingerprint)
  return current is not None and current.get('same_numbers', True)


def method_at(fingerprint: dict[str, Any], length: int) -> Any:
  """The method a table-2 fingerprint gives length L, or None."""
  found = fingerprint['methods']
  return found.get(str(length), found.get('*'))


def compatible(saved: dict[str, Any], own: dict[str, Any]) -> bool:
  """Whether two table-2 fingerprints evaluate alike and search alike at
  every length (or delay system) both name (a lopro 0.1 fingerprint names
  all lengths)."""
  saved = _current(saved)
  if saved is None or saved['eval_config'] != own['eval_config']:
    return False
  for key in set(saved['methods']) | set(own['methods']):
    if not key.isdigit():  # '*', or a delay system's name
      pair = saved['methods'].get(key), own['methods'].get(key)
    else:
      pair = method_at(saved, int(key)), method_at(own, int(key))
    if None not in pair and pair[0] != pair[1]:
      return False
  return True


# --------------------------------------------------------------------------
# The cell store of table 2.
# --------------------------------------------------------------------------


# Suffix of the key under which a cell keeps the finished stages of an
# unfinished row (a row that takes longer than one sitting).
UNFINISHED = ' (unfinished)'


class CellStore:
  """Finished cells of a long table, kept in ``<path>.cells.json`` after
  each one, so a rerun of the same command skips them (resume after a
  crash, or a run split over sessions or accelerator leases).

  The fingerprint is ``dict(eval_config=..., methods={str(L): method})``;
  a saved file must evaluate alike and search alike at the lengths both
  name (``compatible``), and the saved methods are kept (a run of other
  lengths adds its own). Files of lopro 0.1 are read through
  ``legacy_fingerprint``; those whose cells today's lopro would compute
  differently are read only with ``read_only`` (a report of them).
  """

  def __init__(self, path: str, fingerprint: dict[str, Any],
               read_only: bool = False):
    self.path = path + '.cells.json'
    self.read_only = read_only
    self.fingerprint = json.loads(json.dumps(results.to_jsonable(
        fingerprint)))
    self.cells: dict[str, Any] = {}
    if os.path.exists(self.path):
      with open(self.path) as f:
        saved = json.load(f)
      if not compatible(saved['fingerprint'], self.fingerprint):
        raise TableError(
            f'{self.path} holds cells made with other settings; use another '
            '--output_dir or delete that file')
      if not (read_only or same_numbers(saved['fingerprint'])):
        raise TableError(
            f'{self.path} holds cells of lopro 0.1, whose universal model '
            '(or mixture with random orders) drew its random orders '
            'differently: today the same settings give other numbers, so '
            'its cells are not resumed or mixed with new ones. Use another '
            '--output_dir, or --report_only to write its table')
      old = _current(saved['fingerprint'])
      self.fingerprint['methods'] = {**old['methods'],
                                     **self.fingerprint['methods']}
      self.cells = saved['cells']
      unfinished = sum(k.endswith(UNFINISHED) for k in self.cells)
      logging.info('resuming: %d finished cells (and the kept stages of %d '
                   'unfinished ones) in %s', len(self.cells) - unfinished,
                   unfinished, self.path)

  def get(self, key: str) -> dict[str, Any] | None:
    return self.cells.get(key)

  def put(self, key: str, row: dict[str, Any]) -> None:
    """Keeps a finished cell (on disk unless ``read_only``)."""
    self.cells[key] = results.to_jsonable(row)
    self._write()

  def drop(self, key: str) -> None:
    """Forgets a cell (e.g. the stages of a row now finished), if kept."""
    if self.cells.pop(key, None) is not None:
      self._write()

  def _write(self) -> None:
    if not self.read_only:
      results.atomic_write_json(self.path, dict(
          fingerprint=self.fingerprint, cells=self.cells))


def other_cell_files(output_dir: str, own: CellStore
                     ) -> list[tuple[str, dict[str, Any]]]:
  """(path, saved) of the other table-2 cell files in ``output_dir``."""
  found = []
  for path in sorted(glob.glob(os.path.join(output_dir,
                                            'table2_*.cells.json'))):
    if os.path.abspath(path) != os.path.abspath(own.path):
      with open(path) as f:
        found.append((path, json.load(f)))
  return found


def finished_elsewhere(own: CellStore, others: list[tuple[str, dict[str, Any]]]
                       ) -> dict[str, tuple[str, dict[str, Any]]]:
  """Cell key -> (path, row) of the cells that files of ``others``
  (``other_cell_files``) finished with the same evaluation and, at the
  cell's length, the same method as ``own`` (e.g. a --tasks subset of the
  same table), computed as today's lopro computes them."""
  cells = {}
  for path, saved in others:
    fingerprint = _current(saved['fingerprint'])
    if (fingerprint is None or not same_numbers(fingerprint)
        or fingerprint['eval_config'] != own.fingerprint['eval_config']):
      continue
    for key, row in saved['cells'].items():
      method = method_at(fingerprint, row['length'])
      if method is not None and method == method_at(own.fingerprint,
                                                    row['length']):
        cells.setdefault(key, (path, row))
  return cells


def evaluation_key(row: str, length: int, seed: int, order: str) -> str:
  return f'{row} L={length} seed={seed} order={order}'


def evaluation_orders(task: lopro.Task, row: str, seed: int,
                      discovered: np.ndarray
                      ) -> tuple[np.ndarray, list[str], list[str]]:
  """What a cell evaluates: its discovered order, then ``reference_perms``.

  Args:
    task: the cell's task, of length L.
    row: the cell's row name.
    seed: the cell's seed.
    discovered: int[L], the order its search found.

  Returns:
    (int[O, L] orders, their names ('discovered', 'forward', 'reverse'[,
    'friendly']), their ``evaluation_key``s).
  """
  perms, names = reference_perms(task)
  perms = np.concatenate([np.asarray(discovered)[None], perms])
  keys = [evaluation_key(row, task.length, seed, orders.order_to_string(p))
          for p in perms]
  return perms, ['discovered'] + names, keys


def add_evaluations(known: dict[str, float], row: dict[str, Any]) -> None:
  """Adds a table-2 row's success rates to ``known`` (evaluation_key ->
  success rate) under the orders they belong to."""
  name, params = TABLE2_TASKS[row['row']]
  task = lopro.get_task(name, row['length'], **params)
  discovered = orders.order_from_string(row['discovered'])
  _, names, keys = evaluation_orders(task, row['row'], row['seed'],
                                     discovered)
  key_of = dict(zip(names, keys))
  for which, success in row['success'].items():
    known[key_of[which]] = success


def finished_evaluations(own: CellStore,
                         others: list[tuple[str, dict[str, Any]]]
                         ) -> dict[str, float]:
  """Success rates that ``own`` and the files of ``others`` with the same
  evaluation settings hold, by evaluation_key."""
  known = {}
  for _, saved in others + [(own.path, dict(
      fingerprint=own.fingerprint, cells=own.cells))]:
    if saved['fingerprint']['eval_config'] == own.fingerprint['eval_config']:
      for row in saved['cells'].values():
        add_evaluations(known, row)
  return known
