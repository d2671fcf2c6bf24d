"""Tests of lopro.multihost, the binaries' multi-host flags.

A real 2-process run is tested in test_sharding.py.
"""

from absl import flags
from absl.testing import flagsaver
import jax
import pytest

from lopro import multihost

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
