"""Tests for experiments/benchmark.py: helpers, and one tiny main() smoke run."""

import json
import os

from absl import app
from absl import flags
from absl.testing import flagsaver
import jax
import pytest

from experiments import benchmark
from lopro import profile as profile_lib

FLAGS = flags.FLAGS


def _fake_result(orders_timed=(1, 64)):
  rows = []
  for num_orders, timed in zip((1, 256), orders_timed):
    rows.append(dict(
        num_orders=num_orders,
        vmapped=dict(compile_s=10.0, run_s=2.0, order_steps_per_s=50.0),
        sequential=dict(compile_s=5.0, run_s=4.0, orders_timed=timed,
                        order_steps_per_s=25.0),
        speedup=2.0))
  return dict(device=benchmark.device_info(), task='relu', length=8,
              steps=100, max_sequential_orders=64, rows=rows)


def test_parse_num_orders():
  assert benchmark.parse_num_orders(['1', ' 8', '64']) == [1, 8, 64]
  with pytest.raises(ValueError, match="positive ints, got '0'"):
    benchmark.parse_num_orders(['1', '0'])
  with pytest.raises(ValueError, match="positive ints, got 'x'"):
    benchmark.parse_num_orders(['x'])
  with pytest.raises(ValueError, match='empty'):
    benchmark.parse_num_orders([])


def test_default_num_orders():
  assert benchmark.default_num_orders('cpu') == (1, 8, 64, 256)
  assert benchmark.default_num_orders('gpu')[-1] == 4096


def test_device_info():
  info = benchmark.device_info()
  assert info['device_kind'] == jax.devices()[0].device_kind
  assert info['platform'] == jax.devices()[0].platform
  assert info['device_count'] == jax.device_count() >= 1
  assert info['jax_version'] == jax.__version__
  assert info['cpu_count'] == os.cpu_count()


def test_markdown_table_marks_prefix_timing():
  table = benchmark.markdown_table(_fake_result())
  lines = table.splitlines()
  header = ('| O | vmapped order-steps/s | sequential | speedup | '
            'compile vmapped s | compile seq s |')
  assert header in lines
  assert '| 1 | 50.0 | 25.0 | 2.00x | 10.0 | 5.0 |' in lines
  assert '| 256 | 50.0 | 25.0* | 2.00x | 10.0 | 5.0 |' in lines
  assert 'first 64 orders' in table


def test_write_outputs(tmp_path):
  result = _fake_result()
  paths = benchmark.write_outputs(result, str(tmp_path / 'b.json'))
  assert paths == dict(json=str(tmp_path / 'b.json'),
                       md=str(tmp_path / 'b.md'), png=str(tmp_path / 'b.png'))
  with open(paths['json']) as f:
    assert json.load(f)['rows'] == result['rows']
  with open(paths['md']) as f:
    assert f.read() == benchmark.markdown_table(result)
  with open(paths['png'], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert sorted(os.listdir(tmp_path)) == ['b.json', 'b.md', 'b.png']


def test_main_rejects_bad_num_orders(tmp_path):
  with flagsaver.flagsaver():
    FLAGS(['benchmark', '--num_orders=1,-3',
           f'--output={tmp_path / "x.json"}'])
    with pytest.raises(app.UsageError, match='-3'):
      benchmark.main(['benchmark'])
  assert not os.listdir(tmp_path)


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
  """Runs main() once with tiny settings; returns (output path, JSON).

  XLA optimisations are off for speed (compiles take about half as long);
  the chunks compiled meanwhile are dropped from the profiler's cache so
  that no other test reuses them.
  """
  output = str(tmp_path_factory.mktemp('bench') / 'bench.json')
  cached = set(profile_lib._COMPILED)  # pylint: disable=protected-access
  disabled = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', True)
  try:
    with flagsaver.flagsaver():
      FLAGS(['benchmark', '--steps=3', '--num_orders=1,2', '--seed=3',
             f'--output={output}'])
      benchmark.main(['benchmark'])
  finally:
    jax.config.update('jax_disable_most_optimizations', disabled)
    for key in set(profile_lib._COMPILED) - cached:  # pylint: disable=protected-access
      del profile_lib._COMPILED[key]  # pylint: disable=protected-access
  with open(output) as f:
    return output, json.load(f)


def test_main_writes_rows(smoke):
  _, result = smoke
  assert result['steps'] == 3
  assert result['config']['steps'] == 3
  assert [row['num_orders'] for row in result['rows']] == [1, 2]
  for row in result['rows']:
    vmapped, sequential = row['vmapped'], row['sequential']
    for part in (vmapped, sequential):
      assert part['run_s'] > 0
      assert part['order_steps_per_s'] > 0
      assert part['compile_s'] >= 0
    assert vmapped['order_steps_per_s'] == pytest.approx(
        row['num_orders'] * 3 / vmapped['run_s'])
    assert sequential['orders_timed'] == row['num_orders']
    assert sequential['order_steps_per_s'] == pytest.approx(
        row['num_orders'] * 3 / sequential['run_s'])
    assert row['speedup'] == pytest.approx(
        vmapped['order_steps_per_s'] / sequential['order_steps_per_s'])
    # The loop trains the very models the vmapped profile trains.
    assert row['max_abs_loss_diff'] < 1e-4
  assert result['rows'][0]['sequential']['compile_s'] > 0


def test_main_records_device_and_command(smoke):
  _, result = smoke
  device = result['device']
  assert device['device_kind'] == jax.devices()[0].device_kind
  assert device['platform'] == jax.devices()[0].platform
  assert device['device_count'] == jax.device_count()
  assert device['jax_version'] == jax.__version__
  assert device['cpu_count'] == os.cpu_count()
  assert result['command'].startswith('python ')
  assert result['total_s'] > 0


def test_main_writes_markdown_and_plot(smoke):
  output, result = smoke
  stem = os.path.splitext(output)[0]
  with open(stem + '.md') as f:
    assert f.read() == benchmark.markdown_table(result)
  with open(stem + '.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
