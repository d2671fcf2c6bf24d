"""Tests for experiments/benchmark.py and experiments/bench/: helpers, and
tiny smoke runs of the three benchmarks."""

import json
import os

from absl import app
from absl import flags
from absl.testing import flagsaver
import jax
import pytest

from experiments import benchmark
from experiments.bench import common
from experiments.bench import devices
from experiments.bench import estimators
from experiments.bench import population
from conftest import run_binary
from lopro.estimators import halving
from lopro.estimators import independent
from lopro.estimators import mixture
from lopro.estimators import universal

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
  return dict(device=common.device_info(), task='relu', length=8,
              steps=100, max_sequential_orders=64, rows=rows)


def _fake_devices_result():
  rows = []
  for k, rate in ((1, 100.0), (2, 180.0), (4, 200.0)):
    rows.append(dict(
        devices=k, compile_s=10.0 + k, run_s=6400 / rate, run_s_all=[1.0],
        order_steps_per_s=rate, speedup=rate / 100.0,
        efficiency=rate / 100.0 / k, ideal_order_steps_per_s=100.0 * k,
        max_abs_loss_diff=0.0 if k == 1 else 2.5e-7))
  device = dict(common.device_info(), platform='cpu', device_count=4,
                cpu_count=2)
  return dict(benchmark='devices', device=device, task='relu', length=8,
              steps=100, repeats=2, num_orders=64, devices=[1, 2, 4],
              rows=rows, virtual_cpu_devices=True, note='4 virtual CPU '
              "device(s) share this machine's 2 CPU core(s).",
              load_average_start=[1.5, 1.0, 0.5],
              load_average_end=[2.25, 1.0, 0.5])


def _fake_estimators_result():
  described = {n: dict(type=t, train=dict(steps=s, batch_size=b))
               for n, t, s, b in (('independent', 'Independent', 300, 32),
                                  ('universal', 'Universal', 3000, 128))}
  rows = [dict(estimator='independent', length=8, num_orders=256,
               orders_per_s=2.5, run_s=102.4, compile_s=9.0),
          dict(estimator='universal', length=8, num_orders=256,
               orders_per_s=128.0, run_s=2.0, compile_s=20.0, train_s=62.0,
               orders_per_s_with_training=4.0)]
  return dict(benchmark='estimators', device=common.device_info(),
              task='relu', lengths=[8], num_orders=256, repeats=1,
              estimators=described, rows=rows)


def test_parse_num_orders():
  assert population.parse_num_orders(['1', ' 8', '64']) == [1, 8, 64]
  with pytest.raises(ValueError, match="positive ints, got '0'"):
    population.parse_num_orders(['1', '0'])
  with pytest.raises(ValueError, match="positive ints, got 'x'"):
    population.parse_num_orders(['x'])
  with pytest.raises(ValueError, match='empty'):
    population.parse_num_orders([])


def test_default_num_orders():
  assert population.default_num_orders('cpu') == (1, 8, 64, 256)
  assert population.default_num_orders('gpu')[-1] == 4096


def test_parse_devices_sorts_and_adds_the_reference():
  assert devices.parse_devices(['1', ' 2', '4', '8']) == [1, 2, 4, 8]
  assert devices.parse_devices(['4', '2']) == [1, 2, 4]
  assert devices.parse_devices([3]) == [1, 3]
  with pytest.raises(ValueError, match="devices must be positive ints, got "
                     "'0'"):
    devices.parse_devices(['1', '0'])
  with pytest.raises(ValueError, match="positive ints, got '-2'"):
    devices.parse_devices(['-2'])
  with pytest.raises(ValueError, match="positive ints, got '2.5'"):
    devices.parse_devices(['2.5'])
  with pytest.raises(ValueError, match=r'must not repeat, got \[2\]'):
    devices.parse_devices(['1', '2', '2'])
  with pytest.raises(ValueError, match='devices is empty'):
    devices.parse_devices([])


def test_default_devices_num_orders():
  assert devices.default_devices_num_orders('cpu') == 64
  assert devices.default_devices_num_orders('gpu') == 4096
  assert devices.default_devices_num_orders('tpu') == 4096


def test_cpu_devices_cannot_change_once_jax_has_started():
  count = jax.device_count()  # starts the backends
  assert not common.request_cpu_devices(count + 1)
  assert jax.device_count() == count


def test_make_estimators():
  made = estimators.make_estimators(['universal', 'independent'], steps=20)
  assert list(made) == ['universal', 'independent']
  assert made['universal'].train.steps == 20
  assert made['universal'].train.batch_size == 128  # its own
  assert made['independent'].train.steps == 20
  assert estimators.make_estimators(['halving'])['halving'].train.steps == 300
  with pytest.raises(ValueError, match='distinct'):
    estimators.make_estimators(['mixture', 'mixture'])
  with pytest.raises(ValueError, match="unknown estimator 'x'"):
    estimators.make_estimators(['x'])
  with pytest.raises(ValueError, match='too few for 4 rungs'):
    estimators.make_estimators(['halving'], steps=14)


def test_benchmark_devices_rejects_bad_values():
  too_many = jax.device_count() + 1
  with pytest.raises(ValueError, match=f'up to {too_many} devices but JAX '
                     f'sees only {jax.device_count()}'):
    devices.benchmark_devices(devices=[1, too_many], num_orders=64)
  with pytest.raises(ValueError, match='num_orders must be an int >= the '
                     'largest device count 1, got 0'):
    devices.benchmark_devices(devices=[1], num_orders=0)
  with pytest.raises(ValueError, match='repeats must be a positive int'):
    devices.benchmark_devices(devices=[1], repeats=0)


def test_device_info():
  info = common.device_info()
  assert info['device_kind'] == jax.devices()[0].device_kind
  assert info['platform'] == jax.devices()[0].platform
  assert info['device_count'] == jax.device_count() >= 1
  assert info['jax_version'] == jax.__version__
  assert info['cpu_count'] == os.cpu_count()


def test_markdown_table_marks_prefix_timing():
  table = population.markdown_table(_fake_result())
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
    assert f.read() == population.markdown_table(result)
  with open(paths['png'], 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert sorted(os.listdir(tmp_path)) == ['b.json', 'b.md', 'b.png']


def test_devices_markdown_table():
  result = _fake_devices_result()
  table = devices.markdown_table(result)
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
      population.markdown_table(_fake_result()))


def test_estimators_markdown_table():
  result = _fake_estimators_result()
  table = estimators.markdown_table(result)
  lines = table.splitlines()
  assert 'independent: Independent, 300 steps of batch 32' in lines[0]
  assert '256 random orders per profile' in lines[0]
  assert '| 8 | independent | 2.5 | 102.40 | 9.0 | - | - |' in lines
  assert '| 8 | universal | 128.0 | 2.00 | 20.0 | 62.0 | 4.0 |' in lines
  assert benchmark.render_markdown(result) == table


def test_write_outputs_devices_and_estimators(tmp_path):
  for name, result, render in (
      ('d', _fake_devices_result(), devices.markdown_table),
      ('e', _fake_estimators_result(), estimators.markdown_table)):
    paths = benchmark.write_outputs(result, str(tmp_path / f'{name}.json'))
    with open(paths['json']) as f:
      assert json.load(f) == result
    with open(paths['md']) as f:
      assert f.read() == render(result)
    with open(paths['png'], 'rb') as f:
      assert f.read(8) == b'\x89PNG\r\n\x1a\n'
  assert sorted(os.listdir(tmp_path)) == ['d.json', 'd.md', 'd.png',
                                          'e.json', 'e.md', 'e.png']


@pytest.mark.parametrize('args, match', [
    (['--devices=1,0'], "got '0'"),
    (['--devices=1,4', '--devices_num_orders=2'],
     'largest device count 4, got 2'),
    (['--devices=1,64', '--devices_num_orders=64'], 'up to 64 devices'),
    (['--num_orders=1,-3'], '-3'),
    (['--estimators=independent,nope'], "unknown estimator 'nope'"),
    (['--estimators=halving', '--estimator_steps=10'], 'too few'),
    (['--estimators=mixture', '--estimator_lengths=8,0'], "got '0'"),
])
def test_main_rejects_bad_flags(tmp_path, args, match):
  with flagsaver.flagsaver():
    FLAGS(['benchmark', *args, f'--output={tmp_path / "x.json"}'])
    with pytest.raises(app.UsageError, match=match):
      benchmark.main(['benchmark'])
  assert not os.listdir(tmp_path)


# pylint: disable-next=protected-access
_CACHES = (independent.compiled_chunk, halving._compiled_programs,
           mixture.training_programs, mixture.evaluation_program,
           universal.training_run, universal.own_run)


def _run_main(output, args):
  """Runs main() with ``args`` and XLA optimisations off (compiles take
  about half as long); then empties the estimators' caches of compiled
  programs (and universal models), so that no other test reuses programs
  compiled without optimisations. Returns (output path, JSON)."""
  disabled = jax.config.read('jax_disable_most_optimizations')
  jax.config.update('jax_disable_most_optimizations', True)
  try:
    with flagsaver.flagsaver():
      FLAGS(['benchmark', *args, f'--output={output}'])
      benchmark.main(['benchmark'])
  finally:
    jax.config.update('jax_disable_most_optimizations', disabled)
    for cache in _CACHES:
      cache.cache_clear()
  with open(output) as f:
    return output, json.load(f)


@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
  """The population benchmark, once, tiny; returns (output path, JSON)."""
  output = str(tmp_path_factory.mktemp('bench') / 'bench.json')
  return _run_main(output, ['--steps=3', '--num_orders=1,2', '--seed=3'])


def test_main_writes_rows(smoke):
  _, result = smoke
  assert result['steps'] == 3
  assert result['estimator']['type'] == 'Independent'
  assert result['estimator']['train']['steps'] == 3
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
  output, result = smoke
  device = result['device']
  assert device['device_kind'] == jax.devices()[0].device_kind
  assert device['platform'] == jax.devices()[0].platform
  assert device['device_count'] == jax.device_count()
  assert device['jax_version'] == jax.__version__
  assert device['cpu_count'] == os.cpu_count()
  assert result['command'].startswith('python ')
  assert result['total_s'] > 0
  stem = os.path.splitext(output)[0]
  with open(stem + '.md') as f:
    assert f.read() == population.markdown_table(result)
  with open(stem + '.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_main_estimators_measures_each_estimator(tmp_path):
  output, result = _run_main(
      str(tmp_path / 'e.json'),
      ['--estimators=independent,universal', '--estimator_lengths=3',
       '--estimator_orders=4', '--estimator_steps=4', '--seed=2'])
  assert result['benchmark'] == 'estimators'
  assert (result['lengths'], result['num_orders']) == ([3], 4)
  assert result['estimators']['universal']['train'] == dict(
      result['estimators']['universal']['train'], steps=4, batch_size=128)
  rows = {r['estimator']: r for r in result['rows']}
  assert list(rows) == ['independent', 'universal']
  for row in rows.values():
    assert row['length'] == 3 and row['run_s'] == min(row['run_s_all']) > 0
    assert row['orders_per_s'] == pytest.approx(4 / row['run_s'])
    assert row['compile_s'] >= 0 and row['warmup_s'] > 0
  assert rows['independent']['order_steps'] == 4 * 4
  assert 'train_s' not in rows['independent']
  # Universal: the training is timed apart; scoring alone is faster.
  trained = rows['universal']
  assert trained['train_s'] == min(trained['train_s_all']) > 0
  assert trained['orders_per_s_with_training'] == pytest.approx(
      4 / (trained['train_s'] + trained['run_s']))
  assert trained['order_steps'] == 4
  with open(os.path.splitext(output)[0] + '.md') as f:
    assert f.read() == estimators.markdown_table(result)


@pytest.fixture(scope='module')
def devices_smoke(tmp_path_factory):
  """Runs the binary with --devices=1,2 once, tiny, in a fresh process (the
  CPU device count is fixed when JAX starts); returns its JSON."""
  if jax.default_backend() != 'cpu' and jax.device_count() < 2:
    pytest.skip('needs 2 accelerators (only CPUs get virtual devices)')
  output = str(tmp_path_factory.mktemp('bench_devices') / 'devices.json')
  run_binary('benchmark.py', '--devices=1,2', '--devices_num_orders=2',
             '--steps=3', '--seed=3', f'--output={output}')
  with open(output) as f:
    return output, json.load(f)


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
    assert f.read() == devices.markdown_table(result)
  with open(stem + '.png', 'rb') as f:
    assert f.read(8) == b'\x89PNG\r\n\x1a\n'


def test_main_devices_asks_jax_for_virtual_cpu_devices(devices_smoke):
  _, result = devices_smoke
  device = result['device']
  assert device['cpu_count'] == os.cpu_count()
  assert result['virtual_cpu_devices'] == (device['platform'] == 'cpu')
  if result['virtual_cpu_devices']:
    assert device['device_count'] == 2
    assert result['jax_num_cpu_devices'] == 2
    assert (f"share this machine's {os.cpu_count()} CPU core(s)"
            in result['note'])
  assert result['command'].startswith('python ')
  assert result['total_s'] > 0
