"""Tests of experiments/multihost.py, the binaries' multi-host flags.

A real 2-process run is tested in test_sharding.py.
"""

from absl import flags
from absl.testing import flagsaver
import jax
import pytest

from experiments import multihost

FLAGS = flags.FLAGS


def test_without_flags_it_stays_one_process_and_keeps_paths():
  with flagsaver.flagsaver():
    FLAGS(['prog'])
    multihost.initialize()
  assert jax.process_count() == 1
  assert multihost.process_dir('/tmp/x/checkpoint') == '/tmp/x/checkpoint'


def test_coordinator_needs_process_count_and_id():
  with flagsaver.flagsaver():
    FLAGS(['prog', '--coordinator_address=127.0.0.1:1', '--num_processes=2'])
    with pytest.raises(flags.ValidationError, match='--process_id'):
      multihost.initialize()


def test_the_library_defines_no_flags():
  import lopro  # pylint: disable=g-import-not-at-top
  assert lopro.search_order  # every module of the library is imported
  owners = [m for m in FLAGS.flags_by_module_dict()
            if m.split('.')[0] == 'lopro']
  assert not owners
