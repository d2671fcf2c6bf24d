"""Tests for experiments/benchmark.py: helpers, and tiny main() smoke runs."""

import json
import os
import sys

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


def _fake_devices_result():
  rows = []
  for k, rate in ((1, 100.0), (2, 180.0), (4, 200.0)):
    rows.append(dict(
        devices=k, compile_s=10.0 + k, run_s=6400 / rate, run_s_all=[1.0],
        order_steps_per_s=rate, speedup=rate / 100.0,
        efficiency=rate / 100.0 / k, ideal_order_steps_per_s=100.0 * k,
        max_abs_loss_diff=0.0 if k == 1 else 2.5e-7))
  device = dict(benchmark.device_info(), platform='cpu', device_count=4,
                cpu_count=2)
  return dict(benchmark='devices', device=device, task='relu', length=8,
              steps=100, repeats=2, num_orders=64, devices=[1, 2, 4],
              rows=rows, virtual_cpu_devices=True, note='4 virtual CPU '
              "device(s) share this machine's 2 CPU core(s).",
              load_average_start=[1.5, 1.0, 0.5],
              load_average_end=[2.25, 1.0, 0.5])


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


def test_parse_devices_sorts_and_adds_the_reference():
  assert benchmark.parse_devices(['1', ' 2', '4', '8']) == [1, 2, 4, 8]
  assert benchmark.parse_devices(['4', '2']) == [1, 2, 4]
  assert benchmark.parse_devices([3]) == [1, 3]
  with pytest.raises(ValueError, match="devices must be positive ints, got "
                     "'0'"):
    benchmark.parse_devices(['1', '0'])
  with pytest.raises(ValueError, match="positive ints, got '-2'"):
    benchmark.parse_devices(['-2'])
  with pytest.raises(ValueError, match="positive ints, got '2.5'"):
    benchmark.parse_devices(['2.5'])
  with pytest.raises(ValueError, match=r'must not repeat, got \[2\]'):
    benchmark.parse_devices(['1', '2', '2'])
  with pytest.raises(ValueError, match='devices is empty'):
    benchmark.parse_devices([])


def test_default_devices_num_orders():
  assert benchmark.default_devices_num_orders('cpu') == 64
  assert benchmark.default_devices_num_orders('gpu') == 4096
  assert benchmark.default_devices_num_orders('tpu') == 4096


def test_needs_reexec_only_on_a_cpu_short_of_devices():
  assert not benchmark.needs_reexec([1, 2], 2, 'cpu')
  assert not benchmark.needs_reexec([1, 2], 8, 'gpu')
  assert benchmark.needs_reexec([1, 2, 8], 1, 'cpu')
  with pytest.raises(ValueError, match='up to 8 devices but JAX sees only 2 '
                     'gpu device'):
    benchmark.needs_reexec([1, 8], 2, 'gpu')
  # The re-executed process never re-executes again.
  with pytest.raises(ValueError, match='up to 8 devices .* only 1 CPU device'
                     '.* after re-executing'):
    benchmark.needs_reexec([1, 8], 1, 'cpu', reexecuted=True)


def test_force_device_count_replaces_only_its_flag():
  flag = '--xla_force_host_platform_device_count'
  assert benchmark.force_device_count('', 4) == f'{flag}=4'
  assert benchmark.force_device_count(
      f'--xla_cpu_foo=1 {flag}=2 --xla_bar', 8) == (
          f'--xla_cpu_foo=1 --xla_bar {flag}=8')


def test_reexec_argv_and_env(tmp_path):
  with flagsaver.flagsaver():
    FLAGS(['benchmark', '--devices=1,2', '--steps=7',
           f'--output={tmp_path / "d.json"}'])
    argv = benchmark.reexec_argv()
  assert argv[0] == sys.executable
  assert argv[1] == os.path.abspath(benchmark.__file__)
  assert sorted(argv[2:]) == sorted(
      ['--devices=1,2', '--steps=7', f'--output={tmp_path / "d.json"}'])
  environ = dict(PATH='/bin', XLA_FLAGS='--xla_foo')
  env = benchmark.reexec_env(environ, 4, 'python b.py --devices=1,4')
  assert env == dict(
      PATH='/bin',
      XLA_FLAGS='--xla_foo --xla_force_host_platform_device_count=4',
      LOPRO_BENCHMARK_REEXEC='python b.py --devices=1,4')
  assert environ == dict(PATH='/bin', XLA_FLAGS='--xla_foo')


def test_benchmark_devices_rejects_bad_values():
  too_many = jax.device_count() + 1
  with pytest.raises(ValueError, match=f'up to {too_many} devices but JAX '
                     f'sees only {jax.device_count()}'):
    benchmark.benchmark_devices(devices=[1, too_many], num_orders=64)
  with pytest.raises(ValueError, match='num_orders must be an int >= the '
                     'largest device count 1, got 0'):
    benchmark.benchmark_devices(devices=[1], num_orders=0)
  with pytest.raises(ValueError, match='repeats must be a positive int'):
    benchmark.benchmark_devices(devices=[1], repeats=0)


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


def test_devices_markdown_table():
  result = _fake_devices_result()
  table = benchmark.devices_markdown_table(result)
  lines = table.splitlines()
  assert lines[0].startswith('Device scaling: task relu L=8, 100 steps, '
                             'O=64 orders on every device count, ')
  assert '4 device(s), 2 CPUs' in lines[0]
  assert ('| devices | order-steps/s | speedup | efficiency | run s | '
          'compile s | max abs loss diff vs 1 |') in lines
  assert '| 1 | 100.0 | 1.00x | 100% | 64.00 | 11.0 | 0.0e+00 |' in lines
  assert '| 2 | 180.0 | 1.80x | 90% | 35.56 | 12.0 | 2.5e-07 |' in lines
  assert '| 4 | 200.0 | 2.00x | 50% | 32.00 | 14.0 | 2.5e-07 |' in lines
  assert 'Fastest of 2 timed run(s)' in table
  assert lines[-3] == result['note']
  assert lines[-1] == ('1-minute load average 1.50 at the start, 2.25 at '
                       'the end (other processes compete for the same cores).')
  assert benchmark.render_markdown(result) == table
  assert benchmark.render_markdown(_fake_result()) == (
      benchmark.markdown_table(_fake_result()))


def test_write_outputs_devices(tmp_path):
  result = _fake_devices_result()
  paths = benchmark.write_outputs(result, str(tmp_path / 'd.json'))
  with open(paths['json']) as f:
    assert json.load(f) == result
  with open(paths['md']) as f:
    assert f.read() == benchmark.devices_markdown_table(result)
  with open(paths['png'], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert sorted(os.listdir(tmp_path)) == ['d.json', 'd.md', 'd.png']


def test_main_rejects_bad_devices(tmp_path):
  for args, match in ((['--devices=1,0'], "got '0'"),
                      (['--devices=1,4', '--devices_num_orders=2'],
                       'largest device count 4, got 2')):
    with flagsaver.flagsaver():
      FLAGS(['benchmark', *args, f'--output={tmp_path / "x.json"}'])
      with pytest.raises(app.UsageError, match=match):
        benchmark.main(['benchmark'])
  assert not os.listdir(tmp_path)


def test_main_rejects_bad_num_orders(tmp_path):
  with flagsaver.flagsaver():
    FLAGS(['benchmark', '--num_orders=1,-3',
           f'--output={tmp_path / "x.json"}'])
    with pytest.raises(app.UsageError, match='-3'):
      benchmark.main(['benchmark'])
  assert not os.listdir(tmp_path)


def _run_main(output, args):
  """Runs main() with ``args`` and XLA optimisations off, also in a process
  it re-executes (compiles take about half as long); drops the chunks
  compiled meanwhile from the profiler's cache so that no other test reuses
  them. Returns (output path, JSON)."""
  cached = set(profile_lib._COMPILED)  # pylint: disable=protected-access
  disabled = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', True)
  try:
    with pytest.MonkeyPatch.context() as patch, flagsaver.flagsaver():
      patch.setenv('JAX_DISABLE_MOST_OPTIMIZATIONS', 'true')
      patch.delenv(benchmark.REEXEC_ENV, raising=False)
      FLAGS(['benchmark', *args, f'--output={output}'])
      benchmark.main(['benchmark'])
  finally:
    jax.config.update('jax_disable_most_optimizations', disabled)
    for key in set(profile_lib._COMPILED) - cached:  # pylint: disable=protected-access
      del profile_lib._COMPILED[key]  # pylint: disable=protected-access
  with open(output) as f:
    return output, json.load(f)


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
  """Runs main() once with tiny settings; returns (output path, JSON).

  XLA optimisations are off for speed (compiles take about half as long);
  the chunks compiled meanwhile are dropped from the profiler's cache so
  that no other test reuses them.
  """
  output = str(tmp_path_factory.mktemp('bench') / 'bench.json')
  return _run_main(output, ['--steps=3', '--num_orders=1,2', '--seed=3'])


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


@pytest.fixture(scope='module')
def devices_smoke(tmp_path_factory):
  """Runs main() with --devices=1,2 once, tiny; returns (output path, JSON).

  With fewer than 2 devices here (the usual case) main() re-executes the
  binary with 2 virtual CPU devices, which inherits the environment, so XLA
  optimisations are switched off there by JAX_DISABLE_MOST_OPTIMIZATIONS
  as well as here.
  """
  if jax.default_backend() != 'cpu' and jax.device_count() < 2:
    pytest.skip('needs 2 accelerators (only CPUs get virtual devices)')
  output = str(tmp_path_factory.mktemp('bench_devices') / 'devices.json')
  return _run_main(output, ['--devices=1,2', '--devices_num_orders=2',
                            '--steps=3', '--seed=3'])


def test_main_devices_writes_rows(devices_smoke):
  output, result = devices_smoke
  assert result['benchmark'] == 'devices'
  assert (result['steps'], result['num_orders'], result['seed']) == (3, 2, 3)
  assert result['devices'] == [1, 2]
  rows = result['rows']
  assert [row['devices'] for row in rows] == [1, 2]
  for row in rows:
    assert row['run_s'] > 0 and row['compile_s'] > 0
    assert row['run_s'] == min(row['run_s_all'])
    assert row['order_steps_per_s'] == pytest.approx(2 * 3 / row['run_s'])
    assert row['speedup'] == pytest.approx(
        row['order_steps_per_s'] / rows[0]['order_steps_per_s'])
    assert row['efficiency'] == pytest.approx(row['speedup'] / row['devices'])
    assert row['ideal_order_steps_per_s'] == pytest.approx(
        rows[0]['order_steps_per_s'] * row['devices'])
    # Sharding the orders over devices does not change their losses.
    assert row['max_abs_loss_diff'] < 1e-4
  assert rows[0]['speedup'] == 1.0 and rows[0]['max_abs_loss_diff'] == 0.0
  stem = os.path.splitext(output)[0]
  with open(stem + '.md') as f:
    assert f.read() == benchmark.devices_markdown_table(result)
  with open(stem + '.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_main_devices_reexecutes_with_virtual_devices(devices_smoke):
  _, result = devices_smoke
  reexecuted = jax.device_count() < 2
  assert result['reexecuted'] == reexecuted
  device = result['device']
  assert device['platform'] == jax.devices()[0].platform
  assert device['cpu_count'] == os.cpu_count()
  assert result['virtual_cpu_devices'] == (device['platform'] == 'cpu')
  if result['virtual_cpu_devices']:
    assert (f"share this machine's {os.cpu_count()} CPU core(s)"
            in result['note'])
  if reexecuted:
    assert device['device_count'] == 2
    assert result['xla_flags'].endswith(
        '--xla_force_host_platform_device_count=2')
  # The child records the command its parent was started with.
  assert result['command'].startswith('python ')
  assert result['total_s'] > 0
