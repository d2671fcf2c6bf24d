"""Tests of lopro/tasks/files.py: dataset files parsed into id arrays, and
the errors of bad files."""

import json
import re

import numpy as np
import pytest

from conftest import write_file
import lopro
from lopro.tasks import files


# --------------------------------------------------------------------------
# Reading.
# --------------------------------------------------------------------------


def test_text_reader_builds_sorted_vocabularies_and_pads_inputs(tmp_path):
  path = write_file(tmp_path, 'mixed.txt',
                '\ufeff3 -1 10 # b a c\r\n'
                '\n'
                '  2   # c c a  \n'
                '-1 x 3 2 # a b b')  # no newline at the end
  ds = files.load_dataset(path)
  assert ds.format == 'text' and ds.path == path
  # Inputs: not all integers ('x'), so sorted as strings.
  assert ds.input_vocab == ('-1', '10', '2', '3', 'x')
  assert ds.target_vocab == ('a', 'b', 'c')
  assert ds.pad_id == 5
  ids = {t: i for i, t in enumerate(ds.input_vocab)}
  np.testing.assert_array_equal(ds.inputs, [
      [ids['3'], ids['-1'], ids['10'], 5],
      [ids['2'], 5, 5, 5],
      [ids['-1'], ids['x'], ids['3'], ids['2']]])
  np.testing.assert_array_equal(ds.input_lengths, [3, 1, 4])
  np.testing.assert_array_equal(ds.targets, [[1, 0, 2], [2, 2, 0], [0, 1, 1]])
  np.testing.assert_array_equal(ds.lines, [1, 3, 4])  # the blank line skipped
  assert ds.input_tokens(ds.inputs[:2]) == [['3', '-1', '10'], ['2']]
  assert ds.target_tokens(ds.targets[0]).tolist() == ['b', 'a', 'c']


def test_integer_vocabularies_sort_by_value(tmp_path):
  path = write_file(tmp_path, 'ints.txt', '10 -3 # 2 -10\n+4 003 # 3 10\n'
                '3 -3 # -10 2\n')
  ds = files.load_dataset(path)
  assert ds.input_vocab == ('-3', '003', '3', '+4', '10')
  assert ds.target_vocab == ('-10', '2', '3', '10')
  task = lopro.dataset_task(path, heldout=0.3)
  assert task.input_range == (0, 5) and task.input_vocab == 6  # with padding
  assert task.target_range == (0, 3) and task.target_vocab == 4


def test_the_three_formats_read_alike(tmp_path):
  inputs = [[3, -1, 4], [1, 5, 9], [2, 6, 5]]
  targets = [[3, 2, 6], [1, 6, 15], [2, 8, 13]]
  text = ''.join(' '.join(map(str, x)) + ' # ' + ' '.join(map(str, y)) + '\n'
                 for x, y in zip(inputs, targets))
  jsonl = ''.join(json.dumps({'input': x, 'target': y, 'id': i}) + '\n'
                  for i, (x, y) in enumerate(zip(inputs, targets)))
  npz = tmp_path / 'd.npz'
  np.savez(npz, inputs=np.array(inputs), targets=np.array(targets),
           extra=np.arange(3))
  npz_str = tmp_path / 'd_str.npz'
  np.savez(npz_str, inputs=np.array(inputs).astype(str),
           targets=np.array(targets).astype(str))
  sets = [files.load_dataset(p) for p in (
      write_file(tmp_path, 'd.txt', text), write_file(tmp_path, 'd.jsonl', jsonl),
      str(npz), str(npz_str))]
  assert [ds.format for ds in sets] == ['text', 'jsonl', 'npz', 'npz']
  for ds in sets[1:]:
    np.testing.assert_array_equal(ds.inputs, sets[0].inputs)
    np.testing.assert_array_equal(ds.targets, sets[0].targets)
    assert ds.input_vocab == sets[0].input_vocab
    assert ds.target_vocab == sets[0].target_vocab
  assert sets[0].target_vocab == ('1', '2', '3', '6', '8', '13', '15')


def test_jsonl_tokens_may_be_strings_and_inputs_vary(tmp_path):
  path = write_file(tmp_path, 'd.jsonl',
                '{"input": ["a", 1], "target": ["x", "y"]}\n\n'
                '{"input": [], "target": ["y", "y"]}\n')
  ds = files.load_dataset(path)
  assert ds.input_vocab == ('1', 'a') and ds.target_vocab == ('x', 'y')
  np.testing.assert_array_equal(ds.inputs, [[1, 0], [2, 2]])
  np.testing.assert_array_equal(ds.lines, [1, 3])



# --------------------------------------------------------------------------
# Bad files.
# --------------------------------------------------------------------------


@pytest.mark.parametrize('name, content, where, match', [
    ('no_sep.txt', '1 2 # 3 4\n5 6 # 7 8\n\n9 10 11 12\n', 4, 'no "#"'),
    ('two_seps.txt', '1 # 2 # 3\n', 1, '2 "#" tokens'),
    ('ragged.txt', '1 # 2 3 4\n5 # 6 7 8\n\n1 # 2 3\n', 4,
     '2 target tokens, but line 1 has 3'),
    ('short.txt', '\n1 2 # 3\n', 2, '1 target token; a task needs at least 2'),
    ('empty_target.txt', '1 2 #\n', 1, '0 target tokens'),
    ('latin1.txt', b'1 2 # 3 4\n5 \xe9 # 6 7\n', 2,
     'not UTF-8 text (byte 0xe9 at column 3)'),
    ('bad.jsonl', '{"input": [1], "target": [2, 3]}\n{"input": [1]\n', 2,
     'invalid JSON'),
    ('float.jsonl', '{"input": [1], "target": [2, 3.5]}\n', 1,
     'target[1] is 3.5; tokens must be integers or strings'),
    ('bool.jsonl', '{"input": [true], "target": [2, 3]}\n', 1,
     'input[0] is true'),
    ('keys.jsonl', '{"x": [1], "target": [2, 3]}\n', 1,
     'expected an object with "input" and "target" lists'),
    ('ragged.jsonl', '{"input": [1], "target": [2, 3]}\n'
     '{"input": [1], "target": [2, 3, 4]}\n', 2, 'but line 1 has 2'),
])
def test_bad_files_name_the_file_and_line(tmp_path, name, content, where,
                                          match):
  path = write_file(tmp_path, name, content)
  with pytest.raises(ValueError, match=re.escape(f'{path}:{where}: ')
                     + '.*' + re.escape(match)):
    lopro.dataset_task(path)


@pytest.mark.parametrize('name, content, match', [
    ('empty.txt', '', 'no examples (the file is empty)'),
    ('blank.txt', '\n  \n\n', 'no examples'),
    ('constant.txt', '1 # 5 5\n2 # 5 5\n\n3 # 5 5\n',
     "every target token (lines 1 to 4) is '5': one distinct target token, "
     'nothing to learn'),
    ('missing.txt', None, 'cannot read the dataset'),
])
def test_bad_whole_files_name_the_file(tmp_path, name, content, match):
  path = (str(tmp_path / name) if content is None
          else write_file(tmp_path, name, content))
  with pytest.raises(ValueError, match=re.escape(f'{path}: {match}')):
    lopro.dataset_task(path)


def test_bad_npz_files(tmp_path):
  cases = [
      (dict(inputs=np.zeros((2, 2), int)), "no 'targets' array"),
      (dict(inputs=np.zeros((2, 2), int), targets=np.zeros((2, 2)) + 0.5),
       'targets has dtype float64'),
      (dict(inputs=np.zeros((2, 2), int), targets=np.arange(4)),
       'targets must be 2-D'),
      (dict(inputs=np.zeros((3, 2), int), targets=np.eye(2, dtype=int)),
       'inputs has 3 rows but targets 2'),
      (dict(inputs=np.zeros((2, 2), int), targets=np.ones((2, 2), int)),
       'every target token (rows 1 to 2) is'),
  ]
  for i, (arrays, match) in enumerate(cases):
    path = str(tmp_path / f'bad{i}.npz')
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=re.escape(path) + '.*'
                       + re.escape(match)):
      lopro.dataset_task(path)
  path = str(tmp_path / 'objects.npz')
  np.savez(path, inputs=np.array([[1], [2]]),
           targets=np.array([[1, 'a'], [None, 2]], dtype=object))
  with pytest.raises(ValueError, match=re.escape(path) + ': not a readable'):
    lopro.dataset_task(path)
  path = write_file(tmp_path, 'garbage.npz', b'not a zip file')
  with pytest.raises(ValueError, match=re.escape(path) + ': not a readable'):
    lopro.dataset_task(path)
