"""Tests of the delay-systems table (experiments/tables/delay.py), in-process
with tiny models: candidates, scoring, evaluation, the claim, and resume."""

import dataclasses
import json

import numpy as np
import pytest

from experiments import methods
from experiments.tables import common
from experiments.tables import delay
from conftest import TINY_EVAL
from conftest import TINY_INDEPENDENT
import lopro
from lopro import orders
from lopro.tasks import delay as delay_tasks

# One evaluation (10 steps, 50 held-out examples, 2 orders at a time) and one
# search for every test here, so they share compiled programs.
CONFIG = dataclasses.replace(
    TINY_EVAL, train=dataclasses.replace(TINY_EVAL.train, steps=10),
    num_heldout=50, decode_batch=50)
SPEC = methods.MethodSpec(strategy='random', budget=2,
                          estimator='independent', steps=5, width=16)


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
  config, spec = CONFIG, SPEC
  table = delay.build(config, [0], ['m2_lagged'], num_random=1,
                      profiler=TINY_INDEPENDENT, spec=spec,
                      output_dir=str(tmp_path), eval_chunk=2)
  (row,) = table.rows
  task = delay.system_task('m2_lagged')
  assert row['length'] == task.length == 12
  names = [o['name'] for o in row['orders']]
  assert names[-1] == 'random 0' and 'variable_major' in names
  rates = [o['success'] for o in row['orders']]
  assert all(0.0 <= r <= 1.0 for r in rates)
  assert all(np.isfinite(o['profile_score']) for o in row['orders'])
  searched = row['searched']
  assert searched['num_profiled'] == 2
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
                      output_dir=str(tmp_path), eval_chunk=2)
  assert again.rows == [json.loads(json.dumps(row))]
  assert again.rows[0]['searched']['seconds'] == searched['seconds']
  # Other settings refuse the kept rows instead of mixing them in.
  with pytest.raises(common.TableError, match='other settings'):
    delay.build(config, [0], ['m2_lagged'], num_random=2,
                profiler=TINY_INDEPENDENT, spec=spec,
                output_dir=str(tmp_path))


def test_delay_row_resumes_from_its_finished_stages(tmp_path, monkeypatch):
  config, spec = CONFIG, SPEC
  kwargs = dict(num_random=2, profiler=TINY_INDEPENDENT, spec=spec,
                output_dir=str(tmp_path), eval_chunk=2)
  evaluate = lopro.evaluate_orders
  calls = []

  def interrupted(perms, *args, **kw):
    calls.append(len(perms))
    if len(calls) == 2:
      raise KeyboardInterrupt  # the second run of orders never finishes
    return evaluate(perms, *args, **kw)

  monkeypatch.setattr(lopro, 'evaluate_orders', interrupted)
  with pytest.raises(KeyboardInterrupt):
    delay.build(config, [0], ['m2_lagged'], **kwargs)
  with open(tmp_path / 'delay_systems.cells.json') as f:
    kept = json.load(f)['cells']
  assert list(kept) == ['m2_lagged seed=0 (unfinished)']
  stages = kept['m2_lagged seed=0 (unfinished)']
  assert len(stages['success']) == 2 and 'profile_scores' not in stages
  # The searched order was in the first run of orders.
  assert stages['search']['order'] in stages['success']
  # Resumed: no search, and only the orders not yet evaluated.
  calls.clear()
  monkeypatch.setattr(lopro, 'evaluate_orders', lambda perms, *a, **kw: (
      calls.append(len(perms)) or evaluate(perms, *a, **kw)))
  monkeypatch.setattr(lopro, 'search_order', None)  # calling it fails
  (row,) = delay.build(config, [0], ['m2_lagged'], **kwargs).rows
  total = len(row['orders']) + (row['searched']['order'] not in {
      o['order'] for o in row['orders']})
  assert sum(calls) == total - 2 and max(calls) <= 2
  assert row['searched']['seconds'] == stages['search']['seconds']
  assert row['searched']['order'] == stages['search']['order']
  done = {o['order']: o['success'] for o in row['orders']}
  done[row['searched']['order']] = row['searched']['success']
  assert all(done[o] == r for o, r in stages['success'].items())
  with open(tmp_path / 'delay_systems.cells.json') as f:
    assert list(json.load(f)['cells']) == ['m2_lagged seed=0']
  with pytest.raises(common.TableError, match='eval_chunk'):
    delay.build(config, [0], ['m2_lagged'], eval_chunk=0)


def test_topological_table_reuses_the_plain_tables_evaluations(
    tmp_path, monkeypatch):
  config = CONFIG
  kwargs = dict(num_random=1, profiler=TINY_INDEPENDENT,
                output_dir=str(tmp_path), eval_chunk=2)
  (plain,) = delay.build(config, [0], ['m2_lagged'], spec=SPEC,
                         **kwargs).rows
  evaluate = lopro.evaluate_orders
  evaluated = []

  def counted(perms, *args, **kw):
    evaluated.extend(orders.order_to_string(p) for p in perms)
    return evaluate(perms, *args, **kw)

  monkeypatch.setattr(lopro, 'evaluate_orders', counted)
  monkeypatch.setattr(lopro, 'profile_orders', None)  # calling it fails
  spec = dataclasses.replace(SPEC, topological=True)
  table = delay.build(config, [0], ['m2_lagged'], spec=spec, **kwargs)
  assert table.name == 'delay_systems_topological'
  (row,) = table.rows
  task = delay.system_task('m2_lagged')
  assert row['searched']['is_topological']
  assert 'topological' in row['searched']['method']
  known = {o['order'] for o in plain['orders']} | {plain['searched']['order']}
  # Only the searched order is trained, and only if the plain row had not.
  assert evaluated == ([] if row['searched']['order'] in known
                       else [row['searched']['order']])
  assert row['orders'] == plain['orders']
  assert orders.is_topological(
      orders.order_from_string(row['searched']['order']), task)
  assert sorted(p.name for p in tmp_path.iterdir()) == [
      'delay_systems.cells.json', 'delay_systems_topological.cells.json']
  # Resumed by the same call (the store keys its method by system name).
  monkeypatch.setattr(lopro, 'search_order', None)
  again = delay.build(config, [0], ['m2_lagged'], spec=spec, **kwargs)
  assert again.rows == [json.loads(json.dumps(row))]
  # Evaluations made with other settings are not reused.
  assert delay.shared_evaluations(
      str(tmp_path / 'delay_systems.cells.json'), {'eval': 'other'}) == {}
  assert delay.shared_evaluations(str(tmp_path / 'none.cells.json'), {}) == {}
