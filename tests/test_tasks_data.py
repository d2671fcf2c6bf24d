"""Tests of lopro/tasks/data.py: tasks from a dataset file, and writing it
back in an order (the parsing: test_tasks_files.py)."""

import json
import os
import re

import jax
import numpy as np
import pytest

import lopro
from conftest import TINY_INDEPENDENT
from conftest import TINY_TRAIN
from conftest import write_file
from lopro import evaluate
from lopro import orders
from lopro import strategies
from lopro.estimators import mixture
from lopro.tasks import files

# A tiny evaluation: 4 steps, 6 held-out examples decoded.
TINY_DATA_EVAL = lopro.EvalConfig(train=TINY_TRAIN, num_heldout=6,
                                  decode_batch=4)


def _learnable_lines(num: int, seed: int = 0) -> list[str]:
  """Lines 'x0 x1 x2 # y0 y1 y2' with y the running sum of x mod 5."""
  x = np.random.default_rng(seed).integers(0, 5, (num, 3))
  y = np.cumsum(x, axis=1) % 5
  return [' '.join(map(str, a)) + ' # ' + ' '.join(map(str, b))
          for a, b in zip(x.tolist(), y.tolist())]


@pytest.fixture(scope='module')
def tiny_task(tmp_path_factory):
  """40 examples, L=3; the last 10 held out."""
  path = tmp_path_factory.mktemp('data') / 'sums.txt'
  path.write_text('\n'.join(_learnable_lines(40)) + '\n')
  return lopro.dataset_task(str(path), heldout=0.25)


def test_split_sampling_and_task_fields(tmp_path):
  lines = _learnable_lines(20, seed=1)
  path = write_file(tmp_path, 'split.txt', '\n'.join(lines) + '\n')
  task = lopro.dataset_task(path, heldout=0.25, length=3)
  ds = task.sample_fn.dataset
  assert task.name == 'split' and task.length == 3 and task.input_length == 3
  assert task.friendly_order is None and task.friendly_match([0, 1, 2]) is None
  assert set(task.reference_orders) == {'forward', 'reverse'}
  assert task.num_train_examples == 15 and not task.has_target_fn
  # The held-out part is the last 5 examples, in file order.
  np.testing.assert_array_equal(task.heldout[0], ds.inputs[15:])
  np.testing.assert_array_equal(task.heldout[1], ds.targets[15:])
  assert not task.heldout[0].flags.writeable
  assert task.params == dict(
      path=os.path.abspath(path), format='text', sha256=ds.sha256,
      heldout=0.25, examples=20, train_examples=15, heldout_examples=5,
      input_vocab=len(ds.input_vocab), target_vocab=len(ds.target_vocab))
  json.dumps(dict(task.params))
  # Sampling is a function of the key, and draws from the training part.
  x, y = task.sample(jax.random.key(3), 12)
  x2, y2 = task.sample(jax.random.key(3), 12)
  np.testing.assert_array_equal(x, x2)
  np.testing.assert_array_equal(y, y2)
  train = {tuple(r) for r in np.concatenate([ds.inputs, ds.targets], 1)[:15]
           .tolist()}
  assert {tuple(r) for r in np.concatenate([x, y], 1).tolist()} <= train
  # Rounding of the split: at least one held out.
  assert lopro.dataset_task(path, heldout=0.01).num_train_examples == 19


def test_evaluation_and_mixture_read_the_heldout_part(tiny_task):
  hx, hy = tiny_task.heldout
  x, y = evaluate.heldout_set(tiny_task, TINY_DATA_EVAL, 0)
  np.testing.assert_array_equal(x, hx[:6])
  np.testing.assert_array_equal(y, hy[:6])
  x, y = evaluate.heldout_set(
      tiny_task, lopro.EvalConfig(num_heldout=100), 0)
  assert x.shape == (10, 3)  # the whole held-out part, when it is smaller
  x, y = mixture.heldout_examples(tiny_task, 32, 0)
  assert x.shape == (32, 3) and y.shape == (32, 3)
  held = {tuple(r) for r in np.concatenate([hx, hy], 1).tolist()}
  assert {tuple(r) for r in np.concatenate([x, y], 1).tolist()} <= held
  x2, _ = mixture.heldout_examples(tiny_task, 32, 0)
  np.testing.assert_array_equal(x, x2)


def test_bad_arguments(tmp_path):
  path = write_file(tmp_path, 'ok.txt', '1 # 2 3\n4 # 3 2\n')
  with pytest.raises(ValueError, match=re.escape(f'{path}:1: 2 target '
                                                 'tokens, expected length=3')):
    lopro.dataset_task(path, length=3)
  for heldout in (0, 1, 1.5, -0.1, True, '0.1'):
    with pytest.raises(ValueError, match='heldout must be a fraction'):
      lopro.dataset_task(path, heldout=heldout)
  with pytest.raises(ValueError, match='length must be an int >= 2'):
    lopro.dataset_task(path, length=1)
  one = write_file(tmp_path, 'one.txt', '1 # 2 3\n')
  with pytest.raises(ValueError, match=re.escape(
      f'{one}: 1 example(s) leave none for training')):
    lopro.dataset_task(one)


# --------------------------------------------------------------------------
# Writing back.
# --------------------------------------------------------------------------


def _reordered_sources(tmp_path):
  inputs = [[3, -1, 4], [1, 5, 9], [2, 6, 5], [7, 1, 8]]
  targets = [[3, 2, 6, 0], [1, 6, 15, 2], [2, 8, 13, 4], [7, 8, 16, 1]]
  text = ('3 -1 4 # 3 2 6 0\n\n1 5 # 1 6 15 2\n2 6 5 # 2 8 13 4\n'
          '7 1 8 # 7 8 16 1\n')
  jsonl = ''.join(json.dumps({'input': x, 'target': y, 'id': i}) + '\n'
                  for i, (x, y) in enumerate(zip(inputs, targets)))
  npz = str(tmp_path / 'src.npz')
  np.savez(npz, inputs=np.array(inputs), targets=np.array(targets),
           extra=np.arange(4))
  return {'txt': write_file(tmp_path, 'src.txt', text),
          'jsonl': write_file(tmp_path, 'src.jsonl', jsonl), 'npz': npz}


@pytest.mark.parametrize('ext', ['txt', 'jsonl', 'npz'])
def test_write_reordered_round_trips(tmp_path, ext):
  src = _reordered_sources(tmp_path)[ext]
  dst = str(tmp_path / f'out.{ext}')
  order = np.array([2, 0, 3, 1])
  lopro.write_reordered(src, order, dst)
  before, after = files.load_dataset(src), files.load_dataset(dst)
  np.testing.assert_array_equal(after.inputs, before.inputs)
  assert after.input_vocab == before.input_vocab
  assert after.target_vocab == before.target_vocab
  np.testing.assert_array_equal(after.targets, before.targets[:, order])
  # A prediction for the output maps back with the inverse order.
  np.testing.assert_array_equal(
      after.targets[:, orders.invert_order(order)], before.targets)
  if ext == 'txt':
    assert open(dst).read().splitlines()[:3] == [
        '3 -1 4 # 6 3 0 2', '', '1 5 # 15 1 2 6']
  elif ext == 'jsonl':
    first = json.loads(open(dst).readline())
    assert first == {'input': [3, -1, 4], 'target': [6, 3, 0, 2], 'id': 0}
  else:
    with np.load(dst) as f:
      np.testing.assert_array_equal(f['extra'], np.arange(4))
  # Read back as a task: the targets permuted, nothing else.
  task = lopro.dataset_task(dst, heldout=0.25)
  np.testing.assert_array_equal(task.heldout[1], before.targets[3:, order])


def test_write_reordered_never_half_writes(tmp_path):
  sources = _reordered_sources(tmp_path)
  dst = write_file(tmp_path, 'out.txt', 'old contents\n')
  bad = write_file(tmp_path, 'bad.txt', '1 # 2 3\n4 5 6\n')
  with pytest.raises(ValueError, match=re.escape(f'{bad}:2: no "#"')):
    lopro.write_reordered(bad, [1, 0], dst)
  with pytest.raises(ValueError, match='not a permutation of the 4 target '
                     'slots'):
    lopro.write_reordered(sources['txt'], [1, 0, 2], dst)
  with pytest.raises(ValueError, match='not a permutation'):
    lopro.write_reordered(sources['txt'], [0, 1, 2, 2], dst)
  with pytest.raises(ValueError, match="the output must have the source's "
                     'format'):
    lopro.write_reordered(sources['txt'], [0, 1, 2, 3],
                          str(tmp_path / 'out.jsonl'))
  assert open(dst).read() == 'old contents\n'
  assert not [n for n in os.listdir(tmp_path) if n.startswith('.tmp')]
  # In place is fine: the source is read before it is replaced.
  lopro.write_reordered(sources['txt'], [3, 2, 1, 0], sources['txt'])
  assert open(sources['txt']).readline() == '3 -1 4 # 0 6 2 3\n'


# --------------------------------------------------------------------------
# Profiling, search and evaluation on a data task.
# --------------------------------------------------------------------------


def test_profile_search_and_evaluate_a_data_task(tiny_task):
  perms = orders.all_orders(3)
  prof = lopro.profile_orders(perms, tiny_task, estimator=TINY_INDEPENDENT)
  assert prof.losses.shape == (6, TINY_TRAIN.steps)
  assert np.isfinite(prof.scores).all()
  # Common random numbers: an order alone scores as in the batch.
  alone = lopro.profile_orders(perms[3:4], tiny_task,
                               estimator=TINY_INDEPENDENT)
  np.testing.assert_allclose(alone.scores[0], prof.scores[3], rtol=1e-5)
  res = lopro.search_order(tiny_task, strategy=strategies.Exhaustive(),
                           estimator=TINY_INDEPENDENT)
  np.testing.assert_array_equal(res.order, perms[np.argmin(prof.scores)])
  ev = lopro.evaluate_order(res.order, tiny_task, config=TINY_DATA_EVAL)
  assert ev.num_heldout == 6 and 0.0 <= ev.success_rate <= 1.0
  assert ev.position_accuracy.shape == (3,) and ev.task == 'sums'


def test_a_batch_larger_than_the_training_part_is_refused(tiny_task):
  # 30 training examples.
  big = lopro.TrainConfig(steps=4, width=16, num_heads=2, batch_size=31)
  path = re.escape(tiny_task.params['path'])
  perms = orders.all_orders(3)[:2]
  for estimator in (lopro.Independent(train=big),
                    lopro.Halving(train=big, rungs=2)):
    with pytest.raises(ValueError, match=path + ': the training part has 30 '
                       'examples, fewer than .*batch_size=31'):
      lopro.profile_orders(perms, tiny_task, estimator=estimator)
  with pytest.raises(ValueError, match=path + '.*EvalConfig.train.batch_size'
                     '=31'):
    lopro.evaluate_order([0, 1, 2], tiny_task,
                         config=lopro.EvalConfig(train=big, num_heldout=4))
  # Any other caller (Mixture, Universal) meets the sampler's refusal.
  for estimator in (lopro.Mixture(train=big, num_checkpoints=1,
                                  num_heldout=8),
                    lopro.Universal(train=big, num_heldout=8)):
    with pytest.raises(ValueError, match=path + ': the training part has 30 '
                       'examples, fewer than a batch of 31'):
      lopro.profile_orders(perms, tiny_task, estimator=estimator)
  with pytest.raises(ValueError, match=path + '.*fewer than a batch of 31'):
    tiny_task.sample(jax.random.key(0), 31)
  tiny_task.sample(jax.random.key(0), 30)


def test_the_task_fields_are_checked():
  with pytest.raises(ValueError, match='heldout targets must have shape'):
    lopro.Task(name='t', length=2, input_length=1, input_range=(0, 3),
               target_range=(0, 3), sample_fn=lambda k, n: None,
               heldout=(np.zeros((2, 1), int), np.zeros((2, 3), int)))
  with pytest.raises(ValueError, match='heldout inputs must lie in 0..3'):
    lopro.Task(name='t', length=2, input_length=1, input_range=(0, 3),
               target_range=(0, 3), sample_fn=lambda k, n: None,
               heldout=(np.full((2, 1), 4), np.zeros((2, 2), int)))
  with pytest.raises(ValueError, match='num_train_examples must be >= 1'):
    lopro.Task(name='t', length=2, input_length=1, input_range=(0, 3),
               target_range=(0, 3), sample_fn=lambda k, n: None,
               num_train_examples=0)
  task = lopro.get_task('relu', length=4)
  assert task.heldout is None and task.num_train_examples is None
