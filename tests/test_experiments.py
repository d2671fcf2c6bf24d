"""Smoke tests of the absl binaries in experiments/, run as real commands."""

import json
import os
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _run(script, *flags):
  proc = subprocess.run(
      [sys.executable, os.path.join(ROOT, 'experiments', script), *flags],
      capture_output=True, text=True, timeout=300, cwd=ROOT)
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
