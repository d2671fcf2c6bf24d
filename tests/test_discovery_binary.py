"""Smoke runs of experiments/discovery.py as real commands: the discovery
and chains tables, their resume and their evaluations."""

import json
import os

import numpy as np

from conftest import run_binary
from conftest import run_binary_steps
import lopro
from lopro import orders


def test_discovery_binary_reports_matches_and_resumes(tmp_path):
  out = str(tmp_path)
  args = ('--table=chains', '--num_chains=1', '--chain_length=4', '--seeds=1',
          '--strategy=exhaustive', '--estimator=independent', '--steps=8',
          '--width=16', '--batch_size=8', f'--output_dir={out}')
  first = run_binary('discovery.py', *args)
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
  # The same command reads both cells back and runs nothing; other settings
  # are refused in one line, before any search runs.
  again, other = run_binary_steps('discovery.py', args, (*args, '--steps=9'))
  assert again['error'] is None
  assert 'discovery cell' not in again['output']
  assert json.load(open(os.path.join(
      out, 'chains_L4_exhaustive_independent.json')))['rows'] == data['rows']
  assert 'holds cells made with other settings' in other['error']


def test_discovery_binary_evaluates_found_orders_once(tmp_path):
  out = str(tmp_path)
  args = ('--table=chains', '--num_chains=1', '--chain_length=3', '--seeds=1',
          '--tasks=relu_chain5000', '--strategy=exhaustive',
          '--estimator=independent', '--steps=20', '--eval_preset=cpu',
          # A small evaluation model: a smoke run compiles it in seconds.
          '--eval_overrides=width=16,num_heldout=64,decode_batch=32',
          '--eval_steps=5', f'--output_dir={out}')
  first = run_binary('discovery.py', *args)
  assert 'evaluating relu_chain5000 L=3 seed=0' in first.stderr
  path = os.path.join(out, 'chains_L3_exhaustive_independent_relu_chain5000')
  (cell,) = json.load(open(path + '.json'))['rows']
  task = lopro.get_task('relu', 3, chain=np.random.default_rng(
      5000).permutation(3).tolist())
  names = {'discovered', 'forward', 'reverse'}
  if not any(np.array_equal(task.friendly_order, p)
             for p in (orders.identity(3), orders.reverse(3))):
    names.add('friendly')
  assert set(cell['success']) == names
  assert all(0.0 <= v <= 1.0 for v in cell['success'].values())
  saved = json.load(open(path + '_eval_cpu.cells.json'))
  assert saved['fingerprint']['eval_config']['steps'] == 5
  fingerprint = saved['fingerprint']['eval_config']
  assert (fingerprint['width'], fingerprint['num_layers']) == (16, 2)  # cpu's
  assert (fingerprint['num_heldout'], fingerprint['decode_batch']) == (64, 32)
  assert 'Exact-match success of the discovered order' in open(
      path + '.md').read()
  # Rerun: the search and the evaluations are read back, nothing trains.
  # Other evaluation settings are refused; --eval_steps alone is an error.
  again, other, alone, overrides_alone, topological, typo = run_binary_steps(
      'discovery.py', args,
      (*args[:-2], '--eval_steps=6', f'--output_dir={out}'),
      (*args[:-4], '--eval_steps=5', f'--output_dir={out}'),
      (*args[:-4], '--eval_overrides=width=16', f'--output_dir={out}'),
      (*args, '--topological'),
      (*args[:-3], '--eval_overrides=widht=16', f'--output_dir={out}'))
  assert again['error'] is None
  assert 'evaluating' not in again['output']
  assert 'discovery cell' not in again['output']
  assert 'holds cells made with other settings' in other['error']
  assert 'needs --eval_preset' in alone['error']
  assert 'needs --eval_preset' in overrides_alone['error']
  assert 'whose one valid order is the friendly one' in topological['error']
  assert "override(s) ['widht']" in typo['error']
