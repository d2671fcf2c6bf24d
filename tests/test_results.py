"""Tests of lopro.results: JSON conversion, atomic writes, histories, plots."""

import dataclasses
import json
import math
import os

import numpy as np
import pytest

import lopro
from lopro import results


def temp_files(directory):
  return [name for name in os.listdir(directory) if name.startswith('.tmp-')]


# ---------------------------------------------------------------------------
# to_jsonable.


def test_to_jsonable_converts_numpy():
  obj = {
      'int': np.int64(3),
      'small_int': np.int8(-2),
      'float': np.float32(0.5),
      'array': np.array([[1, 2], [3, 4]], dtype=np.int32),
      'floats': np.array([0.25, 1.5], dtype=np.float64),
      'nested': [np.uint16(7), (np.float64(2.0), 'text')],
      3: None,
  }
  out = results.to_jsonable(obj)
  assert out == {
      'int': 3, 'small_int': -2, 'float': 0.5, 'array': [[1, 2], [3, 4]],
      'floats': [0.25, 1.5], 'nested': [7, [2.0, 'text']], '3': None,
  }
  assert type(out['int']) is int
  assert type(out['float']) is float
  assert type(out['array'][0][0]) is int
  # The result is plain JSON, and survives a round trip unchanged.
  assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_to_jsonable_non_finite_become_strings():
  out = results.to_jsonable({
      'inf': float('inf'), 'ninf': np.float32(-np.inf), 'nan': np.nan,
      'scores': np.array([1.0, np.inf, np.nan], dtype=np.float32),
      'zero_d': np.array(np.inf),
  })
  assert out == {'inf': 'inf', 'ninf': '-inf', 'nan': 'nan',
                 'scores': [1.0, 'inf', 'nan'], 'zero_d': 'inf'}
  json.dumps(out, allow_nan=False)  # strict JSON: no Infinity / NaN


def test_to_jsonable_leaves_plain_values():
  obj = {'a': [1, 2.5, 'x', None, True]}
  assert results.to_jsonable(obj) == obj
  assert results.to_jsonable(7) == 7


def test_to_jsonable_converts_numpy_bool():
  out = results.to_jsonable({'ok': np.bool_(True)})
  assert json.dumps(out) == '{"ok": true}'


# ---------------------------------------------------------------------------
# Atomic writes.


def test_atomic_write_json_round_trip(tmp_path):
  path = tmp_path / 'sub' / 'record.json'  # missing directory is created
  record = {'order': np.array([2, 0, 1]), 'score': np.float32(np.inf),
            'loss': np.float64(0.125), 'name': 'relu'}
  results.atomic_write_json(str(path), record)
  text = path.read_text()
  assert text.endswith('\n')
  assert json.loads(text) == {'order': [2, 0, 1], 'score': 'inf',
                              'loss': 0.125, 'name': 'relu'}
  assert '\n  "order"' in text  # indented
  assert temp_files(path.parent) == []
  assert os.listdir(path.parent) == ['record.json']


def test_atomic_write_json_replaces_existing(tmp_path):
  path = tmp_path / 'r.json'
  results.atomic_write_json(str(path), {'v': 1})
  results.atomic_write_json(str(path), {'v': 2})
  assert json.loads(path.read_text()) == {'v': 2}
  assert os.listdir(tmp_path) == ['r.json']


def test_unserialisable_object_keeps_previous_file(tmp_path):
  path = tmp_path / 'r.json'
  results.atomic_write_json(str(path), {'v': 1})
  before = path.read_bytes()
  with pytest.raises(TypeError):
    results.atomic_write_json(str(path), {'v': object()})
  assert path.read_bytes() == before
  assert temp_files(tmp_path) == []


def test_failing_replace_keeps_previous_file_and_no_temp(tmp_path,
                                                         monkeypatch):
  path = tmp_path / 'r.json'
  results.atomic_write_json(str(path), {'v': 1})
  before = path.read_bytes()

  def broken_replace(src, dst):
    assert os.path.exists(src)  # the new content was fully written first
    assert os.path.basename(src).startswith('.tmp-')
    assert os.path.dirname(src) == os.path.dirname(os.path.abspath(dst))
    raise OSError('disk on fire')

  monkeypatch.setattr(os, 'replace', broken_replace)
  with pytest.raises(OSError, match='disk on fire'):
    results.atomic_write_json(str(path), {'v': 2})
  with pytest.raises(OSError, match='disk on fire'):
    results.atomic_save_npz(str(tmp_path / 'a.npz'), x=np.arange(3))
  monkeypatch.undo()
  assert path.read_bytes() == before
  assert json.loads(before) == {'v': 1}
  assert temp_files(tmp_path) == []
  assert sorted(os.listdir(tmp_path)) == ['r.json']


def test_failing_write_mid_file_leaves_no_temp(tmp_path, monkeypatch):
  path = tmp_path / 'r.bin'
  results.atomic_write_bytes(str(path), b'old')

  def broken_fsync(fd):
    raise KeyboardInterrupt  # also BaseException: must still clean up

  monkeypatch.setattr(os, 'fsync', broken_fsync)
  with pytest.raises(KeyboardInterrupt):
    results.atomic_write_bytes(str(path), b'new content')
  monkeypatch.undo()
  assert path.read_bytes() == b'old'
  assert temp_files(tmp_path) == []


def test_atomic_save_npz_round_trip(tmp_path):
  path = tmp_path / 'profile.npz'
  losses = np.random.default_rng(0).normal(size=(3, 5)).astype(np.float32)
  perms = np.array([[0, 1, 2], [2, 1, 0], [1, 0, 2]])
  scores = np.array([1.0, np.inf, np.nan], dtype=np.float32)
  results.atomic_save_npz(str(path), losses=losses, perms=perms,
                          scores=scores)
  with np.load(path) as data:
    assert sorted(data.files) == ['losses', 'perms', 'scores']
    np.testing.assert_array_equal(data['losses'], losses)
    assert data['losses'].dtype == np.float32
    np.testing.assert_array_equal(data['perms'], perms)
    assert data['perms'].dtype == perms.dtype
    np.testing.assert_array_equal(data['scores'], scores)  # inf/nan kept
    assert math.isnan(data['scores'][2])
  assert temp_files(tmp_path) == []


def test_plot_profile_writes_png_atomically(tmp_path):
  path = tmp_path / 'profile.png'
  losses = np.exp(-np.linspace(0, 2, 12))[None] * np.array([[1.0], [2.0],
                                                             [3.0]])
  scores = np.array([0.5, np.inf, np.nan], dtype=np.float32)
  results.plot_profile(losses.astype(np.float32), scores, {0: 'forward'},
                       str(path), title='relu')
  assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  assert os.listdir(tmp_path) == ['profile.png']


def test_atomic_files_get_ordinary_permissions(tmp_path):
  umask = os.umask(0o022)
  try:
    path = tmp_path / 'r.json'
    results.atomic_write_json(str(path), {'a': 1})
    assert (path.stat().st_mode & 0o777) == 0o644
  finally:
    os.umask(umask)


# ---------------------------------------------------------------------------
# Search histories as npz.


def make_history():
  rng = np.random.default_rng(0)
  first = rng.permuted(np.tile(np.arange(5), (4, 1)), axis=1)
  second = rng.permuted(np.tile(np.arange(5), (2, 1)), axis=1)
  return [
      lopro.StageRecord(
          name='global k=1', candidates=first,
          scores=np.array([0.5, np.inf, 0.25, 1.0]), kept=first[[2, 0]],
          best_score=0.25, seconds=1.5, num_nonfinite=1, num_reused=0,
          estimator='Independent', estimator_index=0),
      lopro.StageRecord(
          name='insertion r=1', candidates=second,
          scores=np.array([0.125, 0.75]), kept=second[:1], best_score=0.125,
          seconds=0.0, num_nonfinite=0, num_reused=2, estimator='Mixture',
          estimator_index=1),
  ]


def test_history_round_trips_through_npz(tmp_path):
  history = make_history()
  path = tmp_path / 'sub' / 'history.npz'
  results.save_history(str(path), history)
  assert temp_files(path.parent) == []
  runs = results.load_history(str(path))
  assert len(runs) == 2
  for run, record in zip(runs, history):
    expected = dataclasses.asdict(record)
    # `resumed` marks only the copies a callback is told of; not saved.
    assert not expected.pop('resumed')
    assert set(run) == set(expected)
    for name in ('candidates', 'scores', 'kept'):
      np.testing.assert_array_equal(run[name], expected[name])
    assert run['candidates'].dtype == np.int64
    assert run['kept'].dtype == np.int64
    assert run['scores'].dtype == np.float64
    for name in ('name', 'best_score', 'seconds', 'num_nonfinite',
                 'num_reused', 'estimator', 'estimator_index'):
      assert run[name] == expected[name], name
      assert type(run[name]) is type(expected[name]), name
    # A loaded run makes the StageRecord back.
    back = lopro.StageRecord.from_dict(run)
    assert back.to_dict() == record.to_dict()
  assert np.isposinf(runs[0]['scores'][1])


def test_history_is_compact_and_refuses_an_empty_history(tmp_path):
  length, per_run = 13, 1000
  rng = np.random.default_rng(1)
  history = []
  for i in range(30):
    perms = rng.permuted(np.tile(np.arange(length), (per_run, 1)), axis=1)
    history.append(lopro.StageRecord(
        name=f'run {i}', candidates=perms, scores=rng.random(per_run),
        kept=perms[:3], best_score=0.0, seconds=1.0))
  path = tmp_path / 'history.npz'
  results.save_history(str(path), history)
  # 30,000 orders of 13 slots: int16 candidates, well under a megabyte.
  assert path.stat().st_size < 600_000
  with np.load(path) as data:
    assert data['candidates'].dtype == np.int16
  runs = results.load_history(str(path))
  np.testing.assert_array_equal(runs[17]['candidates'],
                                history[17].candidates)
  with pytest.raises(ValueError, match='history is empty'):
    results.save_history(str(tmp_path / 'empty.npz'), [])
  assert not (tmp_path / 'empty.npz').exists()


def test_plot_search_writes_png(tmp_path):
  path = tmp_path / 'search.png'
  results.plot_search(['global k=1', 'global k=2'], [1.0, 0.5],
                      np.array([2, 0, 1]), np.array([0, 1, 2]), str(path),
                      title='relu')
  assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
  results.plot_search(['a'], [np.inf], np.array([1, 0]), None,
                      str(tmp_path / 'no_friendly.png'))
  assert sorted(os.listdir(tmp_path)) == ['no_friendly.png', 'search.png']
