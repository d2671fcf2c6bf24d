"""Tests for lopro.results: JSON conversion and atomic writes."""

import json
import math
import os

import numpy as np
import pytest

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
