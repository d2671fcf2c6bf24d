"""Smoke runs of the experiments' binaries as real commands: profile,
discover, compare, landscape and the data binaries (reorder.py)."""

import json
import os

import numpy as np
import pytest

from conftest import run_binary
from conftest import run_binary_process
from conftest import run_binary_steps
import lopro
from lopro import orders


# --------------------------------------------------------------------------
# The binaries, as commands.
# --------------------------------------------------------------------------


def test_profile_binary_writes_records_and_ranked_table(tmp_path):
  out = str(tmp_path)
  stdout = run_binary('profile.py', '--task=relu', '--length=4',
                      '--num_orders=5', '--steps=6',
                      f'--output_dir={out}').stdout
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
  proc = run_binary('discover.py', *args)
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
  # Rerun: the finished checkpoint answers at once, profiling nothing; other
  # settings on that checkpoint are refused, naming what differs.
  # --start (in the same process): an insertion climb from the orders
  # given, one after the other; a bad one is refused by name.
  climb = ('--task=relu', '--length=4', '--strategy=insertion',
           '--insertion_rounds=1', '--steps=4', '--width=16', '--batch_size=8')
  again, other, start, two, bad = run_binary_steps(
      'discover.py', args, (*args[:-1], '--steps=7', f'--output_dir={out}'),
      (*climb, '--start=3 2 1 0', f'--output_dir={tmp_path / "start"}'),
      (*climb, '--start=3,2,1,0', '--start=0 1 2 3',
       f'--output_dir={tmp_path / "two"}'),
      (*climb, '--start=0 1 1 3', f'--output_dir={tmp_path / "bad"}'))
  assert start['error'] is None and two['error'] is None
  # The climb's one round is the start's insertion neighbourhood.
  np.testing.assert_array_equal(
      lopro.SearchResult.load(str(tmp_path / 'start')).history[0].candidates,
      lopro.neighbourhoods.insertion_moves(np.array([3, 2, 1, 0])))
  two = lopro.SearchResult.load(str(tmp_path / 'two'))
  assert [r.candidates[0].tolist() for r in two.history] == [[3, 2, 1, 0],
                                                             [0, 1, 2, 3]]
  assert bad['error'].startswith("--start='0 1 1 3': ")
  assert 'duplicated [1]' in bad['error']
  assert again['error'] is None
  assert 'profile relu' not in again['output']
  assert 'discovered order:' in again['output']
  assert json.load(open(os.path.join(out, 'result.json')))['order'] == (
      record['order'])
  assert 'estimator.train.steps was 6, now 7' in other['error']


def test_discover_binary_default_method_with_a_refine_stage(tmp_path):
  out = str(tmp_path)
  proc = run_binary('discover.py', '--task=relu', '--length=3', '--steps=4',
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
  run_binary('compare.py', '--task=relu', '--length=4', '--seeds=0',
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
  # Over topological sorts only: relu's chain has one, found at once by
  # both, profiled once (every order asked repairs to it).
  run_binary('compare.py', '--task=relu', '--length=4', '--seeds=0',
             '--strategies=random,paper', '--steps=4', '--width=16',
             '--batch_size=8', '--topological', f'--workdir={tmp_path}/topo',
             f'--output={out}_topo')
  record = json.load(open(out + '_topo.json'))
  for row in record['rows']:
    assert row['found_friendly'] and row['num_profiled'] == 1
  assert record['methods']['paper']['strategy']['type'] == 'Topological'


def test_landscape_then_search_study(tmp_path):
  out = str(tmp_path)
  stdout = run_binary('landscape.py', '--task=planted',
                      '--task_params=order_seed=2', '--length=4',
                      '--steps=30', '--seeds=0',
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
  run_binary('search_study.py', f'--landscapes={out}/*.npz', '--seeds=3',
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
  proc = run_binary('discover.py', f'--data={data}', '--strategy=exhaustive',
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
  run_binary('profile.py', f'--data={data}', '--num_orders=4', '--steps=4',
             f'--output_dir={out}', '--length=3')
  record = json.load(open(os.path.join(out, 'profile.json')))
  assert np.array(record['perms']).shape == (4, 3)
  assert record['names'] == {'0': 'forward', '1': 'reverse'}
  assert record['task'] == 'sums' and record['length'] == 3
  assert record['task_params']['path'] == data
  reordered = str(tmp_path / 'reordered.txt')
  proc = run_binary('reorder.py', f'--data={data}', '--order=2 0 1',
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
    proc = run_binary_process(*args)
    assert proc.returncode != 0
    assert 'Traceback' not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1].startswith(message), (
        proc.stderr[-2000:])
  assert not os.path.exists(tmp_path / 'x.txt')
  proc = run_binary_process('discover.py', f'--data={good}', '--task=relu', out)
  assert proc.returncode != 0
  assert '--task and --data are mutually exclusive' in proc.stderr

