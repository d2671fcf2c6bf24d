"""Tests of the experiments' library code, in-process: the method flags
(experiments/methods.py), the discovery tables' names, the table-2 cell
store and the rank table (the delay table: test_delay_table.py). The
binaries run as commands in test_binaries.py, test_tables.py and
test_discovery_binary.py."""

import dataclasses
import json
import os

from absl import flags
import numpy as np
import pytest

from experiments import methods
from experiments.tables import common
from experiments.tables import discovery
from experiments.tables import rank
from experiments.tables import table2
from conftest import TINY_EVAL
from conftest import TINY_INDEPENDENT
import lopro
from lopro import orders
from lopro import strategies

# --------------------------------------------------------------------------
# The method flags (experiments/methods.py), in-process.
# --------------------------------------------------------------------------


def _spec(*argv, **define):
  values = flags.FlagValues()
  holder = methods.define_flags(flag_values=values, **define)
  values(['prog', *argv])
  return holder.spec()


def test_unset_method_flags_are_the_default_method():
  spec = _spec()
  assert spec == methods.MethodSpec() and spec.defaulted
  for length in (4, 8, 9, 10, 12, 13, 16, 40):
    method = methods.build_method(length, spec)
    assert (method.strategy, method.estimator) == lopro.default_method(length)
    assert method.describe().startswith('the default method for this length')


def test_training_flags_adjust_the_default_and_keep_the_rest():
  # The universal model's steps; its refine stage is kept.
  method = methods.build_method(13, _spec('--steps=1000', '--refine_seeds=3'))
  default, _ = lopro.default_method(13)
  assert method.estimator == lopro.Universal(
      train=lopro.TrainConfig(steps=1000, batch_size=128))
  (search, first), (climb, refine) = method.strategy.stages
  assert (search, first, climb) == (default.stages[0][0], method.estimator,
                                    default.stages[1][0])
  assert refine.num_seeds == 3 and refine.train.steps == 300
  assert methods.build_method(13, _spec('--refine_rounds=0')).strategy == (
      default.stages[0][0])
  # --refine_max_shift restricts its climb (and gives L=40 a refine stage).
  method = methods.build_method(13, _spec('--refine_max_shift=2'))
  assert method.strategy.stages[1][0] == dataclasses.replace(
      default.stages[1][0], max_shift=2)
  method = methods.build_method(40, _spec('--refine_rounds=3',
                                          '--refine_max_shift=1'))
  assert method.strategy.stages[1][0] == lopro.strategies.Insertion(
      rounds=3, name='refine', max_shift=1)
  # --polish_rounds sets or drops the polish stage of L=9-12, or adds one.
  default10, _ = lopro.default_method(10)
  method = methods.build_method(10, _spec('--polish_rounds=1'))
  assert method.strategy.stages[:2] == default10.stages[:2]
  assert method.strategy.stages[2] == lopro.defaults.polish_stage(1)
  assert method.adjusted
  method = methods.build_method(10, _spec('--polish_rounds=0'))
  assert method.strategy.stages == default10.stages[:2]
  method = methods.build_method(10, _spec('--refine_rounds=0'))
  assert method.strategy.stages == (default10.stages[0], default10.stages[2])
  method = methods.build_method(13, _spec('--polish_rounds=2'))
  assert method.strategy.stages == (*default.stages,
                                    lopro.defaults.polish_stage(2))
  method = methods.build_method(13, _spec('--estimator=universal',
                                          '--polish_rounds=2'))
  assert method.strategy.stages[1] == lopro.defaults.polish_stage(2)
  # --init=structured is the default method's own structured variant.
  method = methods.build_method(40, _spec('--init=structured'))
  assert (method.strategy, method.estimator) == lopro.default_method(
      40, 'structured') and not method.adjusted


def test_topological_wraps_the_method_for_a_task_with_a_graph():
  task = lopro.get_task('delay', 12)
  method = methods.build_method(12, _spec('--topological'), task.depends_on)
  assert method.strategy == strategies.Topological(
      methods.build_method(12).strategy, task.depends_on)
  assert method.defaulted and method.adjusted
  assert method.describe().endswith(', over topological sorts only')
  assert method.max_profiles(12) == methods.build_method(12).max_profiles(12)
  with pytest.raises(ValueError, match='--topological needs a task that '
                     'states its dependency graph'):
    methods.build_method(12, _spec('--topological'))
  assert methods.build_method(12, _spec('--notopological'),
                              task.depends_on) == methods.build_method(12)


def test_explicit_flags_build_the_named_method():
  # lopro 0.1's --profile_mode=mixture --random_order_fraction=1
  # --refine_rounds=6 --refine_steps=1000.
  spec = _spec('--estimator=universal', '--refine_rounds=6',
               '--refine_steps=1000')
  method = methods.build_method(10, spec)
  assert method.estimator == lopro.Universal()
  assert method.strategy == strategies.Pipeline(
      (strategies.Hierarchical(), lopro.Universal()),
      (strategies.Insertion(rounds=6, name='refine'), lopro.Independent(
          train=lopro.TrainConfig(steps=1000), num_seeds=2)))
  assert not method.defaulted
  method = methods.build_method(8, _spec('--strategy=paper',
                                         '--insertion_rounds=3'))
  assert method.strategy == strategies.Hierarchical(insertion_rounds=3,
                                                    num_starts=1)
  assert method.estimator == lopro.Independent()
  method = methods.build_method(8, _spec(
      '--estimator=mixture', '--noslot_embedding', '--num_heldout=64',
      '--init=structured', '--width=16', '--layers=2'))
  assert method.estimator == lopro.Mixture(
      train=lopro.TrainConfig(steps=1000, batch_size=128, width=16,
                              num_layers=2),
      slot_embedding=False, num_heldout=64)
  assert method.strategy == strategies.Hierarchical(
      initial=strategies.StructuredInit())
  assert methods.build_method(5, _spec('--strategy=random', '--budget=7')
                              ).strategy == strategies.RandomSearch(budget=7)
  assert methods.build_method(5, _spec('--strategy=insertion',
                                       '--insertion_rounds=2')
                              ).strategy == strategies.Insertion(rounds=2)
  spec = _spec('--profile_steps=50', steps='profile_steps', strategy=False)
  assert spec.steps == 50 and spec.strategy is None


@pytest.mark.parametrize('argv, match', [
    (['--estimator=independent', '--num_heldout=8'],
     'num_heldout applies to the mixture'),
    (['--estimator=universal', '--slot_embedding'], 'slot_embedding'),
    (['--strategy=random', '--init=structured'], 'init does not apply to '
     'the random strategy'),
    (['--budget=9'], 'budget does not apply to the hierarchical strategy'),
    (['--estimator=mixture', '--refine_steps=5'], 'need --refine_rounds'),
    (['--estimator=mixture', '--refine_max_shift=1'], 'need --refine_rounds'),
    (['--width=15'], 'num_heads=2 must divide width=15'),
])
def test_flags_that_do_not_apply_are_refused(argv, match):
  with pytest.raises(ValueError, match=match):
    methods.build_method(8, _spec(*argv))


@pytest.mark.parametrize('argv, table, name', [
    ([], 'discovery', 'discovery_default'),
    (['--init=structured'], 'discovery', 'discovery_default_structured'),
    (['--strategy=paper', '--estimator=mixture'], 'discovery',
     'discovery_paper_mixture'),
    (['--strategy=paper', '--estimator=mixture', '--noslot_embedding'],
     'discovery', 'discovery_paper_mixture_noslot'),
    (['--strategy=exhaustive'], 'chains', 'chains_L6_exhaustive'),
])
def test_discovery_table_names_tell_the_methods_apart(argv, table, name):
  assert discovery.table_name(_spec(*argv), table, 6) == name


def test_discovery_stage_costs_group_runs_by_stage():
  def run(name, num, seconds, reused=0):
    perms = np.tile(orders.identity(4), (num, 1))
    return lopro.StageRecord(name=name, candidates=perms,
                             scores=np.zeros(num), kept=perms[:1],
                             best_score=0.0, seconds=seconds,
                             num_reused=reused)
  history = [run('global k=2', 2, 30.0), run('global k=3', 6, 1.5),
             run('global final', 4, 0.5, reused=4),
             run('local l=2 inside', 3, 1.0), run('insertion r=1', 9, 2.0),
             run('start 2 insertion r=1', 9, 2.0, reused=1),
             run('refine r=1', 9, 4.0), run('refine r=2', 9, 4.5)]
  assert discovery.stage_costs(history) == {
      'global': dict(runs=3, orders=8, seconds=32.0),
      'local': dict(runs=1, orders=3, seconds=1.0),
      'insertion': dict(runs=2, orders=17, seconds=4.0),
      'refine': dict(runs=2, orders=18, seconds=8.5)}


# TINY_EVAL for 100 steps: the four orders already differ in success.
_SHORT_EVAL = dataclasses.replace(
    TINY_EVAL, train=dataclasses.replace(TINY_EVAL.train, steps=100))


def test_discovery_evaluation_trains_each_order_once_with_the_cells_seed(
    tmp_path, monkeypatch):
  rows = {'planted': ('planted', dict(order_seed=4))}
  task = lopro.get_task('planted', 4, order_seed=4)
  found = np.array([3, 1, 0, 2])
  done = [dict(row='planted', length=4, seed=1,
               order=orders.order_to_string(found), match='miss')]
  fingerprint = dict(eval_config=common.eval_fingerprint(_SHORT_EVAL),
                     methods={})
  store = common.CellStore(str(tmp_path / 'eval'), fingerprint)
  (cell,) = discovery.evaluate(done, rows, _SHORT_EVAL, store)
  # The same orders, seed and task, trained directly.
  perms = np.stack([found, orders.identity(4), orders.reverse(4),
                    task.friendly_order])
  direct = lopro.evaluate_orders(perms, task, config=_SHORT_EVAL, seed=1)
  assert cell['success'] == dict(zip(
      ['discovered', 'forward', 'reverse', 'friendly'],
      [e.success_rate for e in direct]))
  assert len(set(cell['success'].values())) > 1  # the orders differ
  assert {k: v for k, v in cell.items() if k != 'success'} == done[0]
  # Kept by (row, L, seed, order): a cell finding the friendly order, and a
  # rerun, train nothing.
  def refuse(*args, **kwargs):
    raise AssertionError('trained again')
  monkeypatch.setattr(lopro, 'evaluate_order', refuse)
  again = common.CellStore(str(tmp_path / 'eval'), fingerprint)
  friendly = dict(done[0], order=orders.order_to_string(task.friendly_order))
  first, second = discovery.evaluate(done + [friendly], rows, _SHORT_EVAL, again)
  assert first['success'] == cell['success']
  assert second['success']['discovered'] == cell['success']['friendly']
  # Report only: an order not evaluated yet leaves its cell without success.
  other = dict(done[0], seed=2)
  (pending,) = discovery.evaluate([other], rows, _SHORT_EVAL, again,
                                  report_only=True)
  assert 'success' not in pending
  lines = discovery._success_lines([cell, pending])
  assert '| planted | 4 | 1 |' in '\n'.join(lines)
  assert '1 cells not evaluated yet.' in lines
  # Each order is kept as it finishes: an interrupted cell resumes from it.
  monkeypatch.undo()
  real, runs = lopro.evaluate_order, []

  def interrupted(order, *args, **kwargs):
    runs.append(orders.order_to_string(order))
    if len(runs) == 2:
      raise KeyboardInterrupt
    return real(order, *args, **kwargs)

  monkeypatch.setattr(lopro, 'evaluate_order', interrupted)
  fresh = common.CellStore(str(tmp_path / 'fresh'), fingerprint)
  with pytest.raises(KeyboardInterrupt):
    discovery.evaluate(done, rows, _SHORT_EVAL, fresh)
  assert runs == ['3 1 0 2', '0 1 2 3'] and len(fresh.cells) == 1
  (kept,) = fresh.cells.values()
  assert kept['success'] == cell['success']['discovered']


# --------------------------------------------------------------------------
# The table-2 cell store, in-process.
# --------------------------------------------------------------------------

_OLD_TRAIN = dict(num_layers=1, width=32, num_heads=2, mlp_ratio=4,
                  dropout=0.0, batch_size=128, learning_rate=0.003,
                  lr_schedule='constant', warmup_steps=20, weight_decay=0.0,
                  grad_clip=1.0)
_OLD_PROFILE = dict(_OLD_TRAIN, mode='independent', chunk_size=256,
                    common_random_numbers=True, score='final',
                    score_fraction=0.1, vmap_group=None, schedule='full',
                    eta=2, rungs=4, slot_embedding=True, num_checkpoints=4,
                    num_heldout=256, random_order_fraction=0.0)
_OLD_SEARCH = dict(depth=None, init='random', structured_block=5,
                   local_rounds=1, max_block_perms=5040, budget=None,
                   batch_size=512, population_size=64, tournament_size=3,
                   mutation_rate=0.5, crossover_rate=0.9, elite=2,
                   insertion_rounds=4, num_starts=3, reuse_scores=True,
                   refine_rounds=6)


def _fingerprint(config, spec, lengths):
  by_length = {n: methods.build_method(n, spec) for n in lengths}
  return dict(eval_config=common.eval_fingerprint(config),
              methods={str(n): common.method_fingerprint(m.strategy,
                                                         m.estimator)
                       for n, m in by_length.items()})


def _old_file(path, profile_config, **cells):
  """Writes a table-2 cell file as lopro 0.1 did (its refine stage 1000
  steps, 2 seeds), for EvalConfig.cpu(steps=1000)."""
  old = dict(
      eval_config=common.eval_fingerprint(lopro.EvalConfig.cpu(steps=1000)),
      profile_config=profile_config, search_config=_OLD_SEARCH,
      refine_profile_config=dict(_OLD_PROFILE, steps=1000, batch_size=32),
      refine_seeds=2)
  with open(path + '.cells.json', 'w') as f:
    json.dump(dict(fingerprint=old, cells=cells), f)
  return old


def test_eval_config_reads_overrides_of_the_preset():
  config = common.eval_config(
      'cpu', 500, ['width=64', ' num_layers = 3', 'learning_rate=3e-4',
                   'lr_schedule=constant', 'num_heldout=100'])
  assert config == lopro.EvalConfig.cpu(
      steps=500, width=64, num_layers=3, learning_rate=3e-4,
      lr_schedule='constant', num_heldout=100)
  assert isinstance(config.train.num_layers, int)
  assert common.eval_config('paper') == lopro.EvalConfig.paper()
  for items, match in ((['width'], 'not name=value'),
                       (['=3'], 'not name=value'),
                       (['width='], 'not name=value'),
                       (['width=8', 'width=16'], "'width' given twice"),
                       (['steps=8'], "'steps' given twice"),
                       (['widht=8'], r"override\(s\) \['widht'\]"),
                       (['lr_schedule=step'], 'lr_schedule must be one of')):
    with pytest.raises(ValueError, match=match):
      common.eval_config('cpu', 100, items)


def test_cell_store_reads_lopro_0_1_files(tmp_path):
  config = lopro.EvalConfig.cpu(steps=1000)
  cell = dict(row='relu', length=6, seed=0, discovered='0 1 2 3 4 5')
  # One model per order, 300 steps of 32: today's numbers are lopro 0.1's.
  path = str(tmp_path / 'table2_cpu_refine1000')
  old = _old_file(path, dict(_OLD_PROFILE, steps=300, batch_size=32),
                  **{'relu L=6 seed=0': cell})
  assert set(old['eval_config']) == {
      'num_layers', 'width', 'num_heads', 'mlp_ratio', 'dropout', 'steps',
      'batch_size', 'learning_rate', 'lr_schedule', 'warmup_steps',
      'weight_decay', 'grad_clip', 'num_heldout', 'decode_batch',
      'profile_steps', 'profile_batch_size'}
  spec = methods.MethodSpec(estimator='independent', refine_rounds=6,
                            refine_steps=1000)
  assert table2.table_name('cpu', spec) == os.path.basename(path)
  store = common.CellStore(path, _fingerprint(config, spec, [6, 7]))
  assert store.get('relu L=6 seed=0') == cell
  # Refine steps of 300 are other settings; so is another evaluation.
  for other, other_config in (
      (methods.MethodSpec(estimator='independent', refine_rounds=6), config),
      (spec, lopro.EvalConfig.cpu(steps=999))):
    with pytest.raises(common.TableError, match='other settings'):
      common.CellStore(path, _fingerprint(other_config, other, [6]))
  # Saving keeps the methods of both runs.
  store.put('relu L=7 seed=0', dict(cell, length=7))
  saved = json.load(open(path + '.cells.json'))['fingerprint']
  assert set(saved['methods']) == {'*', '6', '7'}
  assert common.compatible(saved, _fingerprint(config, spec, [9]))
  # lopro 0.1's universal mixture drew its random orders otherwise: its
  # cells are reported, never resumed or mixed with today's.
  path = str(tmp_path / 'table2_cpu_universal_refine1000')
  _old_file(path, dict(_OLD_PROFILE, mode='mixture', steps=3000,
                       num_checkpoints=1, num_heldout=128,
                       random_order_fraction=1.0), **{'relu L=6 seed=0': cell})
  spec = methods.MethodSpec(estimator='universal', refine_rounds=6,
                            refine_steps=1000)
  assert table2.table_name('cpu', spec) == os.path.basename(path)
  with pytest.raises(common.TableError, match='cells of lopro 0.1'):
    common.CellStore(path, _fingerprint(config, spec, [6]))
  before = open(path + '.cells.json').read()
  store = common.CellStore(path, _fingerprint(config, spec, [6]),
                           read_only=True)
  assert store.get('relu L=6 seed=0') == cell
  store.put('relu L=7 seed=0', cell)
  assert open(path + '.cells.json').read() == before
  # A subset run elsewhere takes the cells today's lopro would recompute.
  for name, spec, taken in (
      ('u', spec, set()),
      ('i', methods.MethodSpec(estimator='independent', refine_rounds=6,
                               refine_steps=1000), {'relu L=6 seed=0'})):
    own = common.CellStore(str(tmp_path / name), _fingerprint(config, spec,
                                                              [6]))
    others = common.other_cell_files(str(tmp_path), own)
    assert len(others) == 2
    assert set(common.finished_elsewhere(own, others)) == taken


def test_table2_names_keep_lopro_0_1s():
  name = table2.table_name
  assert name('cpu', methods.MethodSpec(estimator='independent')) == (
      'table2_cpu')
  assert name('cpu', methods.MethodSpec(estimator='universal')) == (
      'table2_cpu_universal')
  assert name('paper', methods.MethodSpec(
      estimator='universal', refine_rounds=6)) == (
          'table2_paper_universal_refine')
  assert name('cpu', methods.MethodSpec()) == 'table2_cpu_default'
  assert name('cpu', methods.MethodSpec(strategy='paper')) == (
      'table2_cpu_paper')


def test_evaluation_orders_put_the_discovered_order_before_the_references():
  # relu's friendly order is forward: three orders, keyed by row, L, seed.
  task = lopro.get_task('relu', 5)
  perms, names, keys = common.evaluation_orders(task, 'relu', 2,
                                                np.array([1, 0, 2, 3, 4]))
  np.testing.assert_array_equal(perms, [[1, 0, 2, 3, 4], [0, 1, 2, 3, 4],
                                        [4, 3, 2, 1, 0]])
  assert names == ['discovered', 'forward', 'reverse']
  assert keys == ['relu L=5 seed=2 order=1 0 2 3 4',
                  'relu L=5 seed=2 order=0 1 2 3 4',
                  'relu L=5 seed=2 order=4 3 2 1 0']
  # A friendly order that is neither forward nor reverse comes last.
  chain = lopro.get_task('relu', 5, chain=(2, 0, 4, 1, 3))
  perms, names, _ = common.evaluation_orders(chain, 'chain', 0,
                                             chain.friendly_order)
  assert names == ['discovered', 'forward', 'reverse', 'friendly']
  np.testing.assert_array_equal(perms[3], chain.friendly_order)


# --------------------------------------------------------------------------
# The rank table, profile only (no evaluation), in-process.
# --------------------------------------------------------------------------


def test_rank_table_profiles_only_and_ranks_the_friendly_order():
  table = rank.build(TINY_EVAL, 0, 4, 'cpu', TINY_INDEPENDENT, ['prod'],
                     num_random=7, num_evaluated=0)
  (row,) = table.rows
  task = lopro.get_task('prod', 4)
  assert row['num_profiled'] == 8 and row['num_evaluated'] == 0
  assert row['spearman'] is None and 'success' not in row
  assert 'Independent, 8 steps of batch 8, seed 0' in table.header
  assert 'no order evaluated' in table.header
  scores = np.array(row['all_scores'])
  assert row['friendly_score'] == scores[0]
  assert row['all_orders'][0] == orders.order_to_string(task.friendly_order)
  assert len(set(row['all_orders'])) == 8
  # Row 0 is LSD-first (prod's friendly order), profiled with the others.
  again = lopro.profile_orders(np.stack([task.friendly_order]), task,
                               estimator=TINY_INDEPENDENT, seed=0)
  np.testing.assert_allclose(again.scores[0], scores[0], rtol=1e-5)
  assert row['friendly_profile_rank'] == 1 + np.sum(scores < scores[0])
  assert (f'| prod | 8 | 0 | {row["friendly_profile_rank"]} | — | — |'
          in table.lines)
  with pytest.raises(common.TableError, match='unknown rows'):
    rank.build(TINY_EVAL, 0, 4, 'cpu', TINY_INDEPENDENT, ['nope'],
               num_evaluated=0)
  with pytest.raises(common.TableError, match='num_evaluated'):
    rank.build(TINY_EVAL, 0, 4, 'cpu', TINY_INDEPENDENT, ['prod'],
               num_evaluated=-1)
