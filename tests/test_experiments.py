"""Tests of the absl binaries in experiments/: the method flags, the table-2
cell store, and smoke runs of the binaries as real commands."""

import dataclasses
import json
import os
import subprocess
import sys

from absl import flags
import numpy as np
import pytest

from experiments import methods
from experiments.tables import common
from experiments.tables import delay
from experiments.tables import table2
from conftest import TINY_EVAL
from conftest import TINY_INDEPENDENT
import lopro
from lopro import orders
from lopro import strategies
from lopro.tasks import delay as delay_tasks

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_process(script, *args):
  # Smoke runs of tiny configs: compiles take about half as long with XLA's
  # optimisations off, and no test here compares with an optimised run.
  env = dict(os.environ, JAX_DISABLE_MOST_OPTIMIZATIONS='1')
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, 'experiments', script), *args],
      capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def _run(script, *args):
  proc = _run_process(script, *args)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


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
  for length in (4, 8, 9, 13):
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
  # --init=structured is the default method's own structured variant.
  method = methods.build_method(40, _spec('--init=structured'))
  assert (method.strategy, method.estimator) == lopro.default_method(
      40, 'structured') and not method.adjusted


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


def test_delay_candidates_are_distinct_valid_orders():
  for name in delay.SYSTEMS:
    task = delay.system_task(name)
    perms, names = delay.candidates(task, 5, seed=0)
    assert len(perms) == len(names) == len(set(names))
    assert len({tuple(p) for p in perms}) == len(perms)
    assert all(orders.is_topological(p, task) for p in perms)
    hand = [n for n in names if not n.startswith('random')]
    parents, n = delay.SYSTEMS[name]
    assert hand == list(delay_tasks.hand_designed_orders(parents, n))
    assert names[len(hand):] == [f'random {i}' for i in range(5)]
  # m2_lagged: s1 reads s0 three steps back, so variable-major is valid.
  assert 'variable_major' in delay.candidates(
      delay.system_task('m2_lagged'), 0, seed=0)[1]


def test_delay_table_scores_evaluates_and_judges_the_claim(tmp_path):
  config = dataclasses.replace(
      TINY_EVAL, train=dataclasses.replace(TINY_EVAL.train, steps=20),
      num_heldout=50, decode_batch=50)
  spec = methods.MethodSpec(strategy='random', budget=3,
                            estimator='independent', steps=5, width=16)
  table = delay.build(config, [0], ['m2_lagged'], num_random=1,
                      profiler=TINY_INDEPENDENT, spec=spec,
                      output_dir=str(tmp_path))
  (row,) = table.rows
  task = delay.system_task('m2_lagged')
  assert row['length'] == task.length == 12
  names = [o['name'] for o in row['orders']]
  assert names[-1] == 'random 0' and 'variable_major' in names
  rates = [o['success'] for o in row['orders']]
  assert all(0.0 <= r <= 1.0 for r in rates)
  assert all(np.isfinite(o['profile_score']) for o in row['orders'])
  searched = row['searched']
  assert searched['num_profiled'] == 3
  assert 'RandomSearch' in searched['method']
  assert searched['is_topological'] == orders.is_topological(
      orders.order_from_string(searched['order']), task)
  best = max(rates + [searched['success']])
  if best == 0:
    assert row['claim_holds'] is None and row['spearman'] is None
  else:
    assert row['claim_holds'] == (searched['success'] >= row['best_hand'])
  assert row['best_hand'] == max(
      o['success'] for o in row['orders'] if o['name'] != 'random 0')
  assert any(line.startswith('### m2_lagged, seed 0') for line in table.lines)
  with pytest.raises(common.TableError, match='unknown systems'):
    delay.build(config, [0], ['m9'])
  # The finished row is kept: the same call resumes it without training.
  again = delay.build(config, [0], ['m2_lagged'], num_random=1,
                      profiler=TINY_INDEPENDENT, spec=spec,
                      output_dir=str(tmp_path))
  assert again.rows == [json.loads(json.dumps(row))]
  assert again.rows[0]['searched']['seconds'] == searched['seconds']
  # Other settings refuse the kept rows instead of mixing them in.
  with pytest.raises(common.TableError, match='other settings'):
    delay.build(config, [0], ['m2_lagged'], num_random=2,
                profiler=TINY_INDEPENDENT, spec=spec,
                output_dir=str(tmp_path))


# --------------------------------------------------------------------------
# The binaries, as commands.
# --------------------------------------------------------------------------


def test_profile_binary_writes_records_and_ranked_table(tmp_path):
  out = str(tmp_path)
  stdout = _run('profile.py', '--task=relu', '--length=4', '--num_orders=5',
                '--steps=6', f'--output_dir={out}').stdout
  record = json.load(open(os.path.join(out, 'profile.json')))
  perms = np.array(record['perms'])
  assert perms.shape == (5, 4)
  np.testing.assert_array_equal(perms[0], [0, 1, 2, 3])  # forward=friendly
  np.testing.assert_array_equal(perms[1], [3, 2, 1, 0])
  assert record['names'] == {'0': 'forward=friendly', '1': 'reverse'}
  assert sorted(record['ranking']) == [0, 1, 2, 3, 4]
  assert len({tuple(p) for p in perms.tolist()}) == 5
  assert record['estimator']['type'] == 'Independent'
  assert record['estimator']['train']['steps'] == 6
  with np.load(os.path.join(out, 'losses.npz')) as data:
    assert data['losses'].shape == (5, 6)
    np.testing.assert_allclose(data['scores'], record['scores'], rtol=1e-6)
  assert os.path.getsize(os.path.join(out, 'profile.png')) > 1000
  table = [l for l in stdout.splitlines() if l[:4].strip().isdigit()]
  assert len(table) == 5 and 'forward=friendly' in stdout


def test_discover_binary_writes_result_and_history_and_resumes(tmp_path):
  out = str(tmp_path)
  args = ['--task=relu', '--length=4', '--strategy=exhaustive', '--steps=6',
          '--width=16', '--batch_size=8', f'--output_dir={out}']
  proc = _run('discover.py', *args)
  assert 'Exhaustive scored by Independent' in proc.stderr
  record = json.load(open(os.path.join(out, 'result.json')))
  assert 'history' not in record
  assert record['num_profiled'] == 24  # 4! orders
  assert sorted(record['order']) == [0, 1, 2, 3]
  assert record['order_string'] == ' '.join(map(str, record['order']))
  assert record['friendly_order'] == [0, 1, 2, 3]
  assert record['found_friendly'] == (record['order'] == [0, 1, 2, 3])
  assert record['kendall_to_friendly'] == orders.kendall_distance(
      record['order'], [0, 1, 2, 3])
  assert record['strategy'] == {'type': 'Exhaustive', 'batch_size': 512}
  train = record['estimator']['train']
  assert (train['steps'], train['width'], train['batch_size']) == (6, 16, 8)
  assert (record['task'], record['length'], record['seed']) == ('relu', 4, 0)
  assert record['num_processes'] == 1 and '--steps=6' in record['command']
  result = lopro.SearchResult.load(out)
  assert [r.name for r in result.history] == ['exhaustive batch 0']
  scores = result.history[0].scores
  assert result.score == scores.min() == record['score']
  np.testing.assert_array_equal(
      result.order, result.history[0].candidates[np.argmin(scores)])
  assert os.path.getsize(os.path.join(out, 'search.png')) > 1000
  assert 'discovered order:' in proc.stdout
  # Rerun: the finished checkpoint answers at once, profiling nothing.
  again = _run('discover.py', *args)
  assert 'profile relu' not in again.stderr
  assert json.load(open(os.path.join(out, 'result.json')))['order'] == (
      record['order'])
  # Other settings on that checkpoint are refused, naming what differs.
  proc = _run_process('discover.py', *args[:-1], '--steps=7',
                      f'--output_dir={out}')
  assert proc.returncode != 0
  assert 'estimator.train.steps was 6, now 7' in proc.stderr


def test_discover_binary_default_method_with_a_refine_stage(tmp_path):
  out = str(tmp_path)
  proc = _run('discover.py', '--task=relu', '--length=3', '--steps=4',
              '--width=16', '--batch_size=8', '--refine_rounds=1',
              '--refine_steps=4', f'--output_dir={out}')
  assert 'the default method for this length' in proc.stderr
  assert 'ETA' in proc.stderr
  result = lopro.SearchResult.load(out)
  assert result.strategy['type'] == 'Pipeline'
  refine = result.strategy['stages'][1]
  assert refine[0] == {'type': 'Insertion', 'rounds': 1, 'name': 'refine'}
  assert refine[1]['num_seeds'] == 1 and refine[1]['train']['steps'] == 4
  last = result.history[-1]
  assert last.name == 'refine r=1' and last.estimator_index == 1
  assert len(last.candidates) == 1 + (3 - 1) ** 2
  assert result.score == last.scores.min()


def test_compare_binary_gives_baselines_the_search_spend(tmp_path):
  out = str(tmp_path / 'cmp')
  _run('compare.py', '--task=relu', '--length=4', '--seeds=0',
       '--strategies=random,paper', '--steps=4', '--width=16',
       '--batch_size=8', f'--workdir={tmp_path}/work', f'--output={out}')
  record = json.load(open(out + '.json'))
  rows = {r['strategy']: r for r in record['rows']}
  assert list(rows) == ['paper', 'random']  # the search runs first
  assert rows['random']['num_profiled'] == rows['paper']['num_profiled']
  assert rows['random']['strategy_config']['budget'] == (
      rows['paper']['num_profiled'])
  assert record['methods']['paper']['strategy']['insertion_rounds'] == 0
  for row in rows.values():
    # One estimator: the friendly order is profiled once per seed.
    assert row['friendly_score'] == rows['paper']['friendly_score']
    if row['found_friendly']:
      assert row['score'] == pytest.approx(row['friendly_score'], rel=1e-5)
  text = open(out + '.md').read()
  assert '| paper | 0 |' in text and 'Command: `python' in text


def test_landscape_then_search_study(tmp_path):
  out = str(tmp_path)
  stdout = _run('landscape.py', '--task=planted', '--task_params=order_seed=2',
                '--length=4', '--steps=30', '--seeds=0',
                f'--output_dir={out}').stdout
  name = 'planted_order_seed2_L4'
  with np.load(os.path.join(out, f'landscape_{name}_s0.npz')) as data:
    scores, friendly = data['scores'], data['friendly']
  assert scores.shape == (24,)
  np.testing.assert_array_equal(friendly, [3, 2, 0, 1])  # order_seed=2's chain
  summary = json.load(open(os.path.join(out, f'landscape_{name}.json')))
  assert summary['estimator']['train']['steps'] == 30
  seed0 = summary['seeds']['0']
  assert seed0['num_orders'] == 24
  assert seed0['best'][0]['score'] == float(scores.min())
  rank = 1 + int(np.sum(scores < scores[orders.order_index(friendly)]))
  assert seed0['friendly_rank'] == rank
  assert f'friendly rank {rank}/24' in stdout
  # The study replays searches against that table: the exhaustive truth.
  _run('search_study.py', f'--landscapes={out}/*.npz', '--seeds=3',
       f'--output={out}/study')
  study = json.load(open(os.path.join(out, 'study.json')))
  assert study['variants']['paper']['insertion_rounds'] == 0
  row = study['rows'][0]
  assert row['best_score'] == float(scores.min())
  for variant in row['variants'].values():
    assert variant['seeds'] == 3 and len(variant['end_ranks']) == 3
    assert variant['hits'] == sum(r == 1 for r in variant['end_ranks'])
    assert variant['mean_profiled'] <= 24
  # Random search spends its budget bound, capped at 4! orders.
  assert row['variants']['random']['mean_profiled'] == 24
  assert row['variants']['random']['hits'] == 3
  assert '| **all** |' in open(os.path.join(out, 'study.md')).read()


def test_reproduce_binary_table1_smoke(tmp_path):
  out = str(tmp_path)
  _run('reproduce.py', '--table=1', '--tasks=relu', '--length=3',
       '--steps=5', '--seeds=1', f'--output_dir={out}')
  record = json.load(open(os.path.join(out, 'table1_cpu_L3_relu.json')))
  (row,) = record['rows']
  assert row['row'] == 'relu' and row['friendly_is'] == 'forward'
  assert set(row['success']) == {'forward', 'reverse'}
  assert 0.0 <= row['success']['forward']['mean'] <= 1.0
  assert record['config']['train']['steps'] == 5
  text = open(os.path.join(out, 'table1_cpu_L3_relu.md')).read()
  assert '| relu |' in text
  assert 'Command: `python experiments/reproduce.py' in text
  assert os.path.getsize(os.path.join(out, 'table1_cpu_L3_relu.png')) > 1000
  # Table 1 runs no profile: method flags are refused, not ignored.
  proc = _run_process('reproduce.py', '--table=1', '--estimator=mixture',
                      f'--output_dir={out}')
  assert proc.returncode != 0 and 'reads no --estimator' in proc.stderr


def test_reproduce_binary_estimators_smoke(tmp_path):
  out = str(tmp_path)
  # Two estimators keep it to two compiles; the others share their code.
  _run('reproduce.py', '--table=estimators', '--tasks=relu', '--length=4',
       '--profile_steps=15', '--num_random=5',
       '--estimators=mixture_no_slot,halving', '--seeds=1',
       f'--output_dir={out}')
  record = json.load(open(os.path.join(out, 'estimators_L4_relu.json')))
  (row,) = record['rows']
  assert row['num_orders'] == 6
  cells = row['estimators']
  assert set(cells) == {'mixture_no_slot', 'halving'}
  assert all(1 <= c['friendly_rank'] <= 6 for c in cells.values())
  # Halving (eta 2, 4 rungs of 1, 2, 4, 8 steps) on 6, 3, 2, 1 orders.
  assert cells['halving']['order_steps'] == 6 + 3 * 2 + 2 * 4 + 1 * 8
  assert cells['mixture_no_slot']['order_steps'] == 15
  described = record['estimators']['mixture_no_slot']
  assert described['type'] == 'Mixture'
  assert described['slot_embedding'] is False
  assert described['train']['steps'] == 15
  assert -1 <= row['spearman']['mixture_no_slot~halving'] <= 1
  text = open(os.path.join(out, 'estimators_L4_relu.md')).read()
  assert 'mixture_no_slot~halving' in text and 'Command: `' in text
  assert os.path.getsize(os.path.join(out, 'estimators_L4_relu.png')) > 1000


def test_reproduce_binary_table2_keeps_cells_resumes_and_reuses(tmp_path):
  out = str(tmp_path)

  def run(*args):
    return _run('reproduce.py', *args)

  def attempt(*args):
    return _run_process('reproduce.py', *args)

  common_args = ['--table=2', '--tasks=relu', '--lengths=3', '--steps=5',
                 '--estimator=universal', '--profile_steps=8',
                 '--refine_rounds=1', '--refine_steps=5',
                 f'--output_dir={out}']
  run(*common_args, '--seeds=1')
  path = os.path.join(out, 'table2_cpu_universal_refine5_relu')
  first = json.load(open(path + '.json'))
  (row,) = first['rows']
  assert (row['row'], row['length'], row['seed']) == ('relu', 3, 0)
  assert sorted(map(int, row['discovered'].split())) == [0, 1, 2]
  # One refine round climbed from the universal model's order.
  assert row['refine_rounds_run'] == 1
  assert sorted(map(int, row['before_refine'].split())) == [0, 1, 2]
  assert set(row['success']) == {'discovered', 'forward', 'reverse'}
  assert row['friendly_success'] == row['success']['forward']
  method = first['methods']['3']
  assert method['estimator']['type'] == 'Universal'
  assert method['estimator']['train']['steps'] == 8
  assert method['strategy']['stages'][1][1]['train']['steps'] == 5
  assert first['config']['train']['steps'] == 5
  saved = json.load(open(path + '.cells.json'))
  assert list(saved['cells']) == ['relu L=3 seed=0']
  assert saved['fingerprint']['methods']['3'] == {
      k: method[k] for k in ('strategy', 'estimator')}
  text = open(path + '.md').read()
  assert '| relu | 3 | 1 | ' in text  # the per-(task, L) summary
  assert 'Within 5 points of the friendly order: ' in text
  assert '/1 cells' in text
  # A friendly order at <= 5% makes "within 5 points" vacuous: said so.
  assert ('Vacuous (1 of them' in text) == (row['friendly_success'] <= 0.05)
  # The same command again: the finished cell is read back, not searched.
  proc = run(*common_args, '--seeds=1')
  assert 'table 2: cell' not in proc.stderr
  assert json.load(open(path + '.json'))['rows'] == [row]
  # --report_only runs nothing and lists the cells that are missing.
  proc = run(*common_args, '--seeds=2', '--report_only')
  assert 'table 2: cell' not in proc.stderr
  assert json.load(open(path + '.json'))['rows'] == [row]
  assert 'Not run yet (1 cells): relu L=3 seed=1.' in open(path + '.md').read()
  # Cells made with other settings are never mixed in.
  proc = attempt(*common_args, '--seeds=2',
                      '--steps=6')
  assert proc.returncode != 0
  assert 'holds cells made with other settings' in proc.stderr
  # Nothing finished: --report_only says so.
  proc = attempt(*common_args, '--seeds=1',
                      '--report_only', f'--output_dir={out}/empty')
  assert proc.returncode != 0
  assert 'no finished cells in' in proc.stderr
  # Nothing to reuse on the first run: every evaluation was trained.
  assert row['reused_evaluations'] == []
  # A wider subset with the same settings takes the finished relu cell from
  # the relu-only file and runs the square19 one.
  proc = run(*common_args, '--seeds=1',
              '--tasks=relu,square19')
  assert 'cell relu L=3 seed=0 taken from' in proc.stderr
  assert 'table 2: cell 2/2, square19 L=3 seed=0' in proc.stderr
  wider = json.load(open(path + '_square19.json'))['rows']
  assert [r['row'] for r in wider] == ['relu', 'square19']
  assert wider[0] == row
  assert wider[1]['reused_evaluations'] == []
  # Other search settings, same evaluation: a new cell, whose forward and
  # reverse evaluations are read from the finished ones, not retrained.
  run(*common_args, '--seeds=1', '--refine_steps=6')
  (other,) = json.load(open(os.path.join(
      out, 'table2_cpu_universal_refine6_relu.json')))['rows']
  assert {'forward', 'reverse'} <= set(other['reused_evaluations'])
  assert other['success']['forward'] == row['success']['forward']
  assert other['success']['reverse'] == row['success']['reverse']
  # --noreuse retrains them (and gets the same numbers).
  run(*common_args, '--seeds=1', '--refine_steps=7',
       '--noreuse')
  (again,) = json.load(open(os.path.join(
      out, 'table2_cpu_universal_refine7_relu.json')))['rows']
  assert again['reused_evaluations'] == []
  assert again['success']['forward'] == row['success']['forward']
  assert again['success']['reverse'] == row['success']['reverse']


def test_discovery_binary_reports_matches_and_resumes(tmp_path):
  out = str(tmp_path)
  args = ('--table=chains', '--num_chains=1', '--chain_length=4', '--seeds=1',
          '--strategy=exhaustive', '--estimator=independent', '--steps=120',
          f'--output_dir={out}')
  first = _run('discovery.py', *args)
  data = json.load(open(os.path.join(out, 'chains_L4_exhaustive_'
                                     'independent.json')))
  rows = {r['row']: r for r in data['rows']}
  assert set(rows) == {'relu_chain5000', 'square19_chain5000'}
  for row, cell in rows.items():
    task = lopro.get_task(row.split('_')[0], 4, chain=np.random.default_rng(
        5000).permutation(4).tolist())
    assert cell['friendly'] == orders.order_to_string(task.friendly_order)
    assert cell['match'] == task.friendly_match(
        orders.order_from_string(cell['order']))
    assert cell['num_profiled'] == 24  # all 4! orders
  assert 'Found (exact + equivalent)' in first.stdout
  # The same command reads both cells back and runs nothing.
  again = _run('discovery.py', *args)
  assert 'discovery cell' not in again.stderr
  assert json.load(open(os.path.join(
      out, 'chains_L4_exhaustive_independent.json')))['rows'] == data['rows']


# --------------------------------------------------------------------------
# Bring your own data: --data, --write_reordered and reorder.py.
# --------------------------------------------------------------------------


def _data_file(tmp_path, num_lines=24):
  """A text dataset of 3-token running sums mod 5."""
  x = np.random.default_rng(0).integers(0, 5, (num_lines, 3))
  y = np.cumsum(x, axis=1) % 5
  path = tmp_path / 'sums.txt'
  path.write_text(''.join(' '.join(map(str, a)) + ' # '
                          + ' '.join(map(str, b)) + '\n'
                          for a, b in zip(x.tolist(), y.tolist())))
  return str(path)


def test_discover_binary_on_data_writes_it_reordered(tmp_path):
  data = _data_file(tmp_path)
  out, reordered = str(tmp_path / 'out'), str(tmp_path / 'reordered.txt')
  proc = _run('discover.py', f'--data={data}', '--strategy=exhaustive',
              '--steps=4', '--width=16', '--batch_size=8',
              f'--write_reordered={reordered}', f'--output_dir={out}')
  record = json.load(open(os.path.join(out, 'result.json')))
  assert (record['task'], record['length']) == ('sums', 3)
  assert record['num_profiled'] == 6  # 3! orders
  assert record['friendly_order'] is None and record['found_friendly'] is None
  assert record['data'] == data and record['reordered_data'] == reordered
  params = record['task_params']
  assert (params['examples'], params['train_examples']) == (24, 22)
  assert params['path'] == data and params['format'] == 'text'
  order = record['order']
  assert sorted(order) == [0, 1, 2]
  assert lopro.SearchResult.load(out).order.tolist() == order
  before = lopro.tasks.load_dataset(data)
  after = lopro.tasks.load_dataset(reordered)
  np.testing.assert_array_equal(after.targets, before.targets[:, order])
  np.testing.assert_array_equal(after.inputs, before.inputs)
  assert f'wrote {reordered}' in proc.stdout


def test_profile_and_reorder_binaries_on_data(tmp_path):
  data = _data_file(tmp_path, num_lines=40)  # 36 training, a batch of 32
  out = str(tmp_path / 'out')
  _run('profile.py', f'--data={data}', '--num_orders=4', '--steps=4',
       f'--output_dir={out}', '--length=3')
  record = json.load(open(os.path.join(out, 'profile.json')))
  assert np.array(record['perms']).shape == (4, 3)
  assert record['names'] == {'0': 'forward', '1': 'reverse'}
  assert record['task'] == 'sums' and record['length'] == 3
  assert record['task_params']['path'] == data
  reordered = str(tmp_path / 'reordered.txt')
  proc = _run('reorder.py', f'--data={data}', '--order=2 0 1',
              f'--output={reordered}')
  assert 'wrote' in proc.stdout
  before = lopro.tasks.load_dataset(data)
  after = lopro.tasks.load_dataset(reordered)
  np.testing.assert_array_equal(after.targets, before.targets[:, [2, 0, 1]])


def test_data_binaries_refuse_bad_files_in_one_line(tmp_path):
  good = _data_file(tmp_path, num_lines=12)
  bad = tmp_path / 'bad.txt'
  bad.write_text('1 2 # 3 4\n5 6 7 8\n')
  out = f'--output_dir={tmp_path / "out"}'
  cases = [
      (('discover.py', f'--data={bad}', out),
       f'{bad}:2: no "#" between inputs and targets'),
      # 11 training examples, a batch of 32.
      (('profile.py', f'--data={good}', out),
       f'{good}: the training part has 11 examples, fewer than '
       'Independent.train.batch_size=32'),
      (('reorder.py', f'--data={good}', '--order=0 1',
        f'--output={tmp_path / "x.txt"}'),
       f'order is not a permutation of the 3 target slots of {good}'),
  ]
  for args, message in cases:
    proc = _run_process(*args)
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(message), (
        proc.stderr[-2000:])
  assert not os.path.exists(tmp_path / 'x.txt')
  proc = _run_process('discover.py', f'--data={good}', '--task=relu', out)
  assert proc.returncode != 0
  assert '--task and --data are mutually exclusive' in proc.stderr
