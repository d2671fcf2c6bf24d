"""Smoke runs of reproduce.py as real commands: tables 1 and 2 and the
estimators table (discovery.py: test_discovery_binary.py)."""

import json
import os

import numpy as np
import pytest

from experiments.tables import common
from experiments.tables import table1
from conftest import run_binary
from conftest import run_binary_steps


def test_reproduce_binary_table1_smoke(tmp_path):
  out = str(tmp_path)
  # L=3 has 6 orders: forward, reverse and the other 4 as the random ones.
  run_binary('reproduce.py', '--table=1', '--tasks=relu', '--length=3',
             '--steps=5', '--seeds=1', f'--output_dir={out}',
             '--random_orders=4',
             '--eval_overrides=width=16,num_heldout=64,decode_batch=32')
  name = 'table1_cpu_L3_random4_relu'
  record = json.load(open(os.path.join(out, f'{name}.json')))
  (row,) = record['rows']
  assert row['row'] == 'relu' and row['friendly_is'] == 'forward'
  cells = row['success']
  assert set(cells) == {'forward', 'reverse', 'best random'} | {
      f'random {i}' for i in range(4)}
  assert 0.0 <= cells['forward']['mean'] <= 1.0
  best = cells['best random']
  drawn = [cells[f'random {i}']['mean'] for i in range(4)]
  assert best['mean'] == max(drawn) == cells[best['name']]['mean']
  assert best['median'] == float(np.median(drawn))
  assert best['order'] not in ('0 1 2', '2 1 0')
  assert record['config']['train']['steps'] == 5
  assert record['config']['train']['width'] == 16
  assert record['config']['num_heldout'] == 64
  text = open(os.path.join(out, f'{name}.md')).read()
  assert '| relu |' in text and f'(`{best["order"]}`)' in text
  assert '5 steps, width=16, num_heldout=64, decode_batch=32)' in text
  assert 'Command: `python experiments/reproduce.py' in text
  assert os.path.getsize(os.path.join(out, f'{name}.png')) > 1000


def test_table1_random_orders_are_distinct_and_new():
  refs = np.stack([np.arange(4), np.arange(4)[::-1]])
  perms = table1.random_perms(4, 22, refs)  # all 24 orders but the two
  assert len({tuple(p) for p in perms}) == 22
  assert not {tuple(p) for p in perms} & {tuple(p) for p in refs}
  np.testing.assert_array_equal(perms, table1.random_perms(4, 22, refs))
  with pytest.raises(common.TableError, match='too few orders'):
    table1.random_perms(3, 5, np.stack([np.arange(3), np.arange(3)[::-1]]))
  with pytest.raises(common.TableError, match='num_random'):
    table1.build(None, [0], 3, 'cpu', num_random=-1)


def test_reproduce_binary_estimators_smoke(tmp_path):
  out = str(tmp_path)
  # Two estimators keep it to two compiles; the others share their code.
  run_binary('reproduce.py', '--table=estimators', '--tasks=relu', '--length=4',
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

  common_args = ['--table=2', '--tasks=relu', '--lengths=3', '--steps=5',
                 '--eval_overrides=width=16,num_heldout=64,decode_batch=32',
                 '--estimator=universal', '--profile_steps=8',
                 '--refine_rounds=1', '--refine_steps=5',
                 f'--output_dir={out}']
  run_binary('reproduce.py', *common_args, '--seeds=1')
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
  # Nothing to reuse on the first run: every evaluation was trained.
  assert row['reused_evaluations'] == []
  # The rest runs in one process: reruns, reports, refusals, another search.
  (again, report, other_settings, unread, empty, wider, searched, wider_other,
   noreuse, table1_unread) = run_binary_steps(
       'reproduce.py',
       # The same command again: the finished cell is read back, not searched.
       [*common_args, '--seeds=1'],
       # --report_only runs nothing and lists the cells that are missing.
       [*common_args, '--seeds=2', '--report_only'],
       # Cells made with other settings are never mixed in.
       [*common_args, '--seeds=2', '--steps=6'],
       # Chain tasks have one topological sort, the friendly order: refused;
       # and --random_orders is table 1's.
       [*common_args, '--seeds=1', '--topological', '--random_orders=2'],
       # Nothing finished: --report_only says so.
       [*common_args, '--seeds=1', '--report_only', f'--output_dir={out}/empty'],
       # A wider subset with the same settings takes the finished relu cell
       # from the relu-only file (reported without running the square19 one).
       [*common_args, '--seeds=1', '--tasks=relu,square19', '--report_only'],
       # Other search settings, same evaluation: a new cell, whose forward and
       # reverse evaluations are read from the finished ones, not retrained.
       [*common_args, '--seeds=1', '--refine_steps=6'],
       [*common_args, '--seeds=1', '--tasks=relu,square19',
        '--refine_steps=6', '--report_only'],
       # --noreuse takes nothing from the other files: a report of a relu cell
       # that only they hold finds no finished cell.
       [*common_args, '--seeds=1', '--tasks=relu,square19',
        '--refine_steps=6', '--report_only', '--noreuse'],
       # Table 1 runs no profile: method flags are refused, not ignored.
       ['--table=1', '--estimator=mixture', f'--output_dir={out}'])
  # Every step that ran before succeeded as a command does.
  for step in (again, report, wider, searched, wider_other):
    assert step['error'] is None, step['error']
  assert 'table 2: cell 1/1' in searched['output']  # logs are kept
  for step in (again, report):
    assert 'table 2: cell' not in step['output']
  assert json.load(open(path + '.json'))['rows'] == [row]
  assert 'Not run yet (1 cells): relu L=3 seed=1.' in open(path + '.md').read()
  assert 'holds cells made with other settings' in other_settings['error']
  assert 'reads no --topological, --random_orders' in unread['error']
  assert 'no finished cells in' in empty['error']
  assert 'cell relu L=3 seed=0 taken from' in wider['output']
  assert 'square19 L=3 seed=0:' not in wider['output']  # not searched
  assert json.load(open(path + '_square19.json'))['rows'] == [row]
  assert 'Not run yet (1 cells): square19 L=3 seed=0.' in open(
      path + '_square19.md').read()
  (other,) = json.load(open(os.path.join(
      out, 'table2_cpu_universal_refine6_relu.json')))['rows']
  assert {'forward', 'reverse'} <= set(other['reused_evaluations'])
  assert other['success']['forward'] == row['success']['forward']
  assert other['success']['reverse'] == row['success']['reverse']
  assert 'cell relu L=3 seed=0 taken from' in wider_other['output']
  assert 'no finished cells in' in noreuse['error']
  assert 'reads no --estimator' in table1_unread['error']
