"""Tests of lopro.sharding: profiles sharded over devices and processes.

The device count is fixed when JAX starts, so the multi-device runs happen in
subprocesses (tests/sharding_worker.py) with 4 virtual CPU devices, or as 2
processes joined by ``jax.distributed`` over 127.0.0.1 (CPU collectives).
Each profiles the same orders with ``lopro.Independent``, ``lopro.Halving``
and ``lopro.Mixture``, sharded by ``lopro.Runtime(mesh=...)``; a Runtime
never changes a result, so they must equal the one-device profiles.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys

import jax
import numpy as np
import pytest

import lopro
from lopro import sharding
from lopro.estimators import independent

WORKER = pathlib.Path(__file__).with_name('sharding_worker.py')
PROFILES = ('independent', 'halving', 'mixture')


def _env(num_devices):
  env = dict(os.environ)
  env['XLA_FLAGS'] = (env.get('XLA_FLAGS', '') + ' --xla_force_host_platform'
                      f'_device_count={num_devices}').strip()
  env['JAX_PLATFORMS'] = 'cpu'
  # Compiles take a quarter less time, and these runs are tiny; the
  # profiles compared are all made this way.
  env['JAX_DISABLE_MOST_OPTIMIZATIONS'] = '1'
  return env


def _assert_same_profiles(got, want):
  for name in PROFILES:
    np.testing.assert_allclose(got[name]['losses'], want[name]['losses'],
                               atol=1e-4, rtol=1e-4, err_msg=name)
    np.testing.assert_allclose(got[name]['scores'], want[name]['scores'],
                               atol=1e-4, rtol=1e-4, err_msg=name)


def test_round_robin_deals_orders_evenly_and_fills_slots_from_the_front():
  rows = sharding.round_robin(6, 4, 3)
  np.testing.assert_array_equal(rows, [0, 3, 6, 9, 1, 4])
  np.testing.assert_array_equal(sharding.device_counts(6, 4), [2, 2, 1, 1])
  np.testing.assert_array_equal(sharding.device_counts(2, 4), [1, 1, 0, 0])
  _, rows, groups = independent.pack_chunk(np.arange(6), 12, 2, 4)
  np.testing.assert_array_equal(groups, [1, 1, 1, 1])
  index, rows, groups = independent.pack_chunk(np.arange(10) + 5, 12, 2, 4)
  np.testing.assert_array_equal(groups, [2, 2, 1, 1])
  assert len(set(rows.tolist())) == 10 and rows.max() < 12
  np.testing.assert_array_equal(index[rows], np.arange(10) + 5)
  assert np.all(np.delete(index, rows) == 5)  # empty slots: the first order


def test_chunk_plan_is_a_multiple_of_the_devices():
  grouped = lopro.Runtime(chunk_size=10, vmap_group=2)
  assert independent.chunk_plan(3, grouped, 4) == (16, 2)
  assert independent.chunk_plan(3, grouped, 1) == (10, 2)
  ungrouped = lopro.Runtime(chunk_size=256, vmap_group=64)
  assert independent.chunk_plan(3, ungrouped, 8) == (256, 32)


def test_make_mesh_and_bad_meshes():
  mesh = sharding.make_mesh()
  assert mesh.axis_names == (sharding.AXIS,)
  assert mesh.size == jax.device_count()
  assert sharding.make_mesh(1).size == 1
  with pytest.raises(ValueError, match='devices must be in 1..'):
    sharding.make_mesh(jax.device_count() + 1)
  with pytest.raises(ValueError, match='must not be empty'):
    sharding.make_mesh([])
  other = jax.sharding.Mesh(np.array(jax.devices()), ('batch',))
  with pytest.raises(ValueError, match="axis 'orders'"):
    lopro.Runtime(mesh=other)
  with pytest.raises(ValueError, match='must be a lopro.Runtime'):
    lopro.profile_orders(np.arange(3)[None], 'relu', runtime=other)


def test_put_and_to_host_round_trip():
  x = np.arange(12, dtype=np.float32).reshape(4, 3)
  placed = sharding.put(x, sharding.make_mesh())
  assert isinstance(placed, jax.Array)
  np.testing.assert_array_equal(sharding.to_host(placed), x)


@pytest.fixture(scope='module')
def four_devices(tmp_path_factory):
  """The worker's result with 4 virtual devices: profiles on all 4 and on
  one of them (the one-device reference of both multi-device tests)."""
  out = tmp_path_factory.mktemp('sharding') / 'virtual.json'
  proc = subprocess.run([sys.executable, str(WORKER), str(out)], env=_env(4),
                        timeout=600, capture_output=True, text=True)
  assert proc.returncode == 0, (proc.stdout + proc.stderr)[-3000:]
  return json.loads(out.read_text())


def test_profiles_on_4_devices_equal_one_device_and_stay_sharded(
    four_devices):
  result = four_devices
  assert result['device_count'] == 4
  for name in PROFILES:
    assert result['sharded'][name]['devices'] == 4
    assert result['single'][name]['devices'] == 1
  _assert_same_profiles(result['sharded'], result['single'])
  # The independent profile's loss array spans the 4 devices, split by order.
  assert result['sharded']['chunk_devices'] == 4
  assert result['sharded']['chunk_spec'] == str(sharding.SHARDED)
  assert result['single']['chunk_devices'] == 1


def _free_port():
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def test_two_processes_give_the_same_profiles_as_one(tmp_path,
                                                    four_devices):
  out = tmp_path / 'distributed.json'
  address = f'127.0.0.1:{_free_port()}'
  procs = [subprocess.Popen(
      [sys.executable, str(WORKER), str(out), f'--coordinator={address}',
       '--num_processes=2', f'--process_id={i}'],
      env=_env(1), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
           for i in range(2)]
  try:
    logs = [p.communicate(timeout=600)[0].decode() for p in procs]
  finally:
    for p in procs:  # Never leave a process behind, even on a timeout.
      if p.poll() is None:
        p.kill()
        p.wait()
  assert all(p.returncode == 0 for p in procs), '\n'.join(logs)[-3000:]
  result = json.loads(out.read_text())
  assert result['process_count'] == 2 and result['device_count'] == 2
  assert result['sharded']['chunk_devices'] == 2
  # The same profiles in one process on one device.
  for name in PROFILES:
    assert result['sharded'][name]['devices'] == 2
    assert four_devices['single'][name]['devices'] == 1
  _assert_same_profiles(result['sharded'], four_devices['single'])
