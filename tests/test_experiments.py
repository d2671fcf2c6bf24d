"""Smoke tests of the absl binaries in experiments/, run as real commands."""

import json
import os
import subprocess
import sys

import numpy as np

from lopro import orders

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run_process(script, *flags):
  # Smoke runs of tiny configs: compiles take about half as long with XLA's
  # optimisations off, and no test here compares with an optimised run.
  env = dict(os.environ, JAX_DISABLE_MOST_OPTIMIZATIONS='1')
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, 'experiments', script), *flags],
      capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def _run(script, *flags):
  proc = _run_process(script, *flags)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc.stdout


def test_profile_binary_writes_records_and_ranked_table(tmp_path):
  out = str(tmp_path)
  stdout = _run('profile.py', '--task=relu', '--length=4', '--num_orders=5',
                '--steps=6', f'--output_dir={out}')
  record = json.load(open(os.path.join(out, 'profile.json')))
  perms = np.array(record['perms'])
  assert perms.shape == (5, 4)
  np.testing.assert_array_equal(perms[0], [0, 1, 2, 3])  # forward=friendly
  np.testing.assert_array_equal(perms[1], [3, 2, 1, 0])
  assert record['names'] == {'0': 'forward=friendly', '1': 'reverse'}
  assert sorted(record['ranking']) == [0, 1, 2, 3, 4]
  assert len({tuple(p) for p in perms.tolist()}) == 5
  with np.load(os.path.join(out, 'losses.npz')) as data:
    assert data['losses'].shape == (5, 6)
    np.testing.assert_allclose(data['scores'], record['scores'], rtol=1e-6)
  assert os.path.getsize(os.path.join(out, 'profile.png')) > 1000
  table = [l for l in stdout.splitlines() if l[:4].strip().isdigit()]
  assert len(table) == 5 and 'forward=friendly' in stdout


def test_discover_binary_writes_result_and_resumes(tmp_path):
  out = str(tmp_path)
  flags = ['--task=relu', '--length=4', '--method=exhaustive', '--steps=6',
           '--width=16', '--batch_size=8', f'--output_dir={out}']
  stdout = _run('discover.py', *flags)
  record = json.load(open(os.path.join(out, 'result.json')))
  assert record['num_profiled'] == 24  # 4! orders
  assert sorted(record['order']) == [0, 1, 2, 3]
  assert record['order_string'] == ' '.join(map(str, record['order']))
  assert record['friendly_order'] == [0, 1, 2, 3]
  assert record['found_friendly'] == (record['order'] == [0, 1, 2, 3])
  assert record['history'][0]['name'] == 'exhaustive batch 0'
  assert os.path.getsize(os.path.join(out, 'search.png')) > 1000
  assert 'discovered order:' in stdout
  # Rerun: the finished checkpoint answers at once with the same order.
  again = _run('discover.py', *flags)
  assert json.load(open(os.path.join(out, 'result.json')))['order'] == (
      record['order'])
  assert 'discovered order:' in again


def test_landscape_then_search_study(tmp_path):
  out = str(tmp_path)
  stdout = _run('landscape.py', '--task=planted', '--task_params=order_seed=2',
                '--length=4', '--steps=30', '--seeds=0', f'--output_dir={out}')
  name = 'planted_order_seed2_L4'
  with np.load(os.path.join(out, f'landscape_{name}_s0.npz')) as data:
    scores, friendly = data['scores'], data['friendly']
  assert scores.shape == (24,)
  np.testing.assert_array_equal(friendly, [3, 2, 0, 1])  # order_seed=2's chain
  summary = json.load(open(os.path.join(out, f'landscape_{name}.json')))
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
  row = study['rows'][0]
  assert row['best_score'] == float(scores.min())
  for variant in row['variants'].values():
    assert variant['seeds'] == 3 and len(variant['end_ranks']) == 3
    assert variant['hits'] == sum(r == 1 for r in variant['end_ranks'])
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
  assert record['config']['steps'] == 5
  text = open(os.path.join(out, 'table1_cpu_L3_relu.md')).read()
  assert '| relu |' in text and 'Command: `python experiments/reproduce.py' in text
  assert os.path.getsize(os.path.join(out, 'table1_cpu_L3_relu.png')) > 1000


def test_reproduce_binary_estimators_smoke(tmp_path):
  out = str(tmp_path)
  # Two estimators keep it to two compiles; the others share their code.
  _run('reproduce.py', '--table=estimators', '--tasks=relu', '--length=4',
       '--profile_steps=15', '--mixture_steps=8', '--num_random=5',
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
  assert cells['mixture_no_slot']['order_steps'] == 8
  assert record['profile_configs']['mixture_no_slot']['slot_embedding'] is False
  assert -1 <= row['spearman']['mixture_no_slot~halving'] <= 1
  text = open(os.path.join(out, 'estimators_L4_relu.md')).read()
  assert 'mixture_no_slot~halving' in text and 'Command: `' in text
  assert os.path.getsize(os.path.join(out, 'estimators_L4_relu.png')) > 1000


def test_reproduce_binary_table2_keeps_cells_resumes_and_reuses(tmp_path):
  out = str(tmp_path)
  common = ['--table=2', '--tasks=relu', '--lengths=3', '--steps=5',
            '--profile_mode=mixture', '--random_order_fraction=1',
            '--mixture_steps=8', '--refine_rounds=1', '--refine_steps=5',
            f'--output_dir={out}']
  _run('reproduce.py', *common, '--seeds=1')
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
  assert list(json.load(open(path + '.cells.json'))['cells']) == [
      'relu L=3 seed=0']
  text = open(path + '.md').read()
  assert '| relu | 3 | 1 | ' in text  # the per-(task, L) summary
  assert 'Within 5 points of the friendly order: ' in text
  assert '/1 cells' in text
  # A friendly order at <= 5% makes "within 5 points" vacuous: said so.
  assert ('Vacuous (1 of them' in text) == (row['friendly_success'] <= 0.05)
  # The same command again: the finished cell is read back, not searched.
  proc = _run_process('reproduce.py', *common, '--seeds=1')
  assert proc.returncode == 0, proc.stderr
  assert 'table 2: cell' not in proc.stderr
  assert json.load(open(path + '.json'))['rows'] == [row]
  # --report_only runs nothing and lists the cells that are missing.
  proc = _run_process('reproduce.py', *common, '--seeds=2', '--report_only')
  assert proc.returncode == 0, proc.stderr
  assert 'table 2: cell' not in proc.stderr
  assert json.load(open(path + '.json'))['rows'] == [row]
  assert 'Not run yet (1 cells): relu L=3 seed=1.' in open(path + '.md').read()
  # Cells made with other settings are never mixed in.
  proc = _run_process('reproduce.py', *common, '--seeds=2', '--steps=6')
  assert proc.returncode != 0
  assert 'holds cells made with other settings' in proc.stderr
  # Nothing finished: --report_only says so.
  proc = _run_process('reproduce.py', *common, '--seeds=1', '--report_only',
                      f'--output_dir={out}/empty')
  assert proc.returncode != 0
  assert 'no finished cells in' in proc.stderr
  # Nothing to reuse on the first run: every evaluation was trained.
  assert row['reused_evaluations'] == []
  # A wider subset with the same settings takes the finished relu cell from
  # the relu-only file and runs the square19 one.
  proc = _run_process('reproduce.py', *common, '--seeds=1',
                      '--tasks=relu,square19')
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'cell relu L=3 seed=0 taken from' in proc.stderr
  assert 'table 2: cell 2/2, square19 L=3 seed=0' in proc.stderr
  wider = json.load(open(path + '_square19.json'))['rows']
  assert [r['row'] for r in wider] == ['relu', 'square19']
  assert wider[0] == row
  assert wider[1]['reused_evaluations'] == []
  # Other search settings, same evaluation: a new cell, whose forward and
  # reverse evaluations are read from the finished ones, not retrained.
  _run('reproduce.py', *common, '--seeds=1', '--refine_steps=6')
  (other,) = json.load(open(os.path.join(
      out, 'table2_cpu_universal_refine6_relu.json')))['rows']
  assert {'forward', 'reverse'} <= set(other['reused_evaluations'])
  assert other['success']['forward'] == row['success']['forward']
  assert other['success']['reverse'] == row['success']['reverse']
  # --noreuse retrains them (and gets the same numbers).
  _run('reproduce.py', *common, '--seeds=1', '--refine_steps=7', '--noreuse')
  (again,) = json.load(open(os.path.join(
      out, 'table2_cpu_universal_refine7_relu.json')))['rows']
  assert again['reused_evaluations'] == []
  assert again['success']['forward'] == row['success']['forward']
  assert again['success']['reverse'] == row['success']['reverse']
