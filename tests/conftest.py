"""Configs and helpers shared by the test files.

Tests check equalities, plumbing and decisions, not learning, so models are
tiny; test files import these names (``from conftest import TINY_TRAIN``)
so that equal configs share compiled programs within a worker.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile

# One persistent compilation cache per test run, made by the process that
# starts it: the xdist workers and the binaries the tests start inherit the
# environment, so a program compiled in two test files, or by two runs of a
# binary, is compiled once. Set before jax is imported, which reads it.
_OWN_CACHE = 'JAX_COMPILATION_CACHE_DIR' not in os.environ
if _OWN_CACHE:
  os.environ['JAX_COMPILATION_CACHE_DIR'] = tempfile.mkdtemp(
      prefix='lopro-tests-jax-cache-')
  os.environ['JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS'] = '0'
  os.environ['JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES'] = '0'
# Compiles dominate the suite and take about half as long with XLA's
# optimisations off; the models are tiny, so running unoptimised costs less
# than it saves, and every test compares runs made the same way.
os.environ.setdefault('JAX_DISABLE_MOST_OPTIMIZATIONS', '1')
# XLA's older CPU code emitters compile these programs in about 40% less
# time than its fusion emitters (an evaluation program: 11.3 s -> 6.5 s,
# jaxlib 0.10.2). The flag is XLA's own: a jaxlib that does not know it
# aborts on it, so it is set only where a probe process accepts it. The
# workers, binaries and notebooks the tests start inherit it.
_FAST_COMPILE = '--xla_cpu_use_fusion_emitters=false'
if _OWN_CACHE and _FAST_COMPILE not in os.environ.get('XLA_FLAGS', ''):
  _flags = f'{os.environ.get("XLA_FLAGS", "")} {_FAST_COMPILE}'.strip()
  if subprocess.run([sys.executable, '-c', 'import jax; jax.devices()'],
                    env=dict(os.environ, XLA_FLAGS=_flags, JAX_PLATFORMS='cpu'),
                    capture_output=True, check=False).returncode == 0:
    os.environ['XLA_FLAGS'] = _flags

# pylint: disable=g-import-not-at-top,wrong-import-position
import jax
import numpy as np
import pytest

import lopro
from lopro import orders
# pylint: enable=g-import-not-at-top,wrong-import-position

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One layer of width 16, 8 steps of batch 8: compiles in seconds.
TINY_TRAIN = lopro.TrainConfig(steps=8, width=16, num_heads=2, batch_size=8,
                               warmup_steps=2)
TINY_INDEPENDENT = lopro.Independent(train=TINY_TRAIN)
# A mixture that learns an identifiable task in 200 steps.
LEARNING_TRAIN = lopro.TrainConfig(steps=200, width=32, num_heads=2,
                                   batch_size=32, learning_rate=1e-2,
                                   warmup_steps=10)
# A tiny evaluation: 1 layer, width 32, 300 steps, 200 held-out examples.
TINY_EVAL = lopro.EvalConfig(
    train=lopro.TrainConfig(num_layers=1, width=32, num_heads=2, steps=300,
                            batch_size=32, learning_rate=3e-3,
                            lr_schedule='constant', warmup_steps=10),
    num_heldout=200, decode_batch=64, profile_steps=50, profile_batch_size=16)


def write_file(tmp_path, name, content):
  """Writes ``content`` (str as UTF-8, or bytes) to ``tmp_path / name``."""
  path = tmp_path / name
  if isinstance(content, str):
    content = content.encode('utf-8')
  path.write_bytes(content)
  return str(path)


def chain_ref(step, x, chain):
  """A chain recurrence in plain Python: y[chain[0]] copies its input, and
  y[chain[k]] = step(x[chain[k]], y[chain[k - 1]])."""
  y = [None] * len(x)
  y[chain[0]] = x[chain[0]]
  for k in range(1, len(x)):
    y[chain[k]] = step(x[chain[k]], y[chain[k - 1]])
  return y


def hidden_order(length: int, seed: int) -> np.ndarray:
  """The hidden order of synthetic scorers: a fixed permutation per seed."""
  return np.random.default_rng(1000 + seed).permutation(length)


def kendall_rows(h, perms) -> np.ndarray:
  """int[N]: the Kendall distance of every row of ``perms`` to ``h``."""
  pos = orders.invert_order(np.asarray(h))[np.asarray(perms)]
  upper = np.triu_indices(pos.shape[1], 1)
  return (pos[:, upper[0]] > pos[:, upper[1]]).sum(axis=1)


def kendall_scorer(h):
  """Scores an order by its Kendall distance to h (0 only at h)."""
  return lambda perms: kendall_rows(h, perms).astype(np.float64)


def adjacency_scorer(h):
  """Adjacent pairs not consecutive in h, plus a tiny Kendall tie-breaker."""
  inverse = orders.invert_order(np.asarray(h))

  def score(perms):
    broken = (np.diff(inverse[np.asarray(perms)], axis=1) != 1).sum(axis=1)
    return broken + 1e-3 * kendall_rows(h, perms)

  return score


def run_strategy(strategy, scorer, length, seed=0):
  """A user's ask/tell loop over a synthetic scorer.

  Returns:
    ([(stage, perms, scores, kept) per profiling run], the final state).
  """
  state = strategy.init(jax.random.key(seed), length)
  runs = []
  while len(perms := strategy.ask(state)):
    stage = state['stage']
    scores = scorer(perms)
    state = strategy.tell(state, perms, scores)
    runs.append((stage, perms, np.asarray(scores, float), state['kept']))
  return runs, state


class FunctionEstimator:
  """An estimator whose scores are a synthetic function of the orders.

  Records every batch it profiles (``calls``), so tests can check what a
  search asked for and what it reused.
  """

  def __init__(self, fn, reusable: bool = True):
    self.fn, self.reusable, self.calls = fn, reusable, []

  def __repr__(self):  # stable across processes: it keys checkpoints
    return f'FunctionEstimator(reusable={self.reusable})'

  def profile(self, task, perms, seed, *, callback=None, runtime=None):
    del callback, runtime
    self.calls.append(np.array(perms))
    scores = np.asarray(self.fn(perms), np.float32)
    return lopro.Profile(
        perms=perms, losses=scores[:, None], scores=scores,
        ranking=np.argsort(scores, kind='stable'),
        nonfinite=np.flatnonzero(~np.isfinite(scores)), task=task.name,
        estimator=self, seed=seed, timings={},
        loss_steps=np.ones(1, np.int64))


@pytest.fixture
def relu8():
  return lopro.get_task('relu', length=8)


@pytest.fixture
def optimised():
  """XLA's optimisations on for one test: for a test that trains long
  enough that running unoptimised costs more than compiling optimised."""
  jax.config.update('jax_disable_most_optimizations', False)
  yield
  jax.config.update('jax_disable_most_optimizations',
                    os.environ['JAX_DISABLE_MOST_OPTIMIZATIONS'] == '1')


# The test files that take longest (about 35 s or more of one worker in
# `pytest tests --durations=0`), roughly longest first. They start first, so
# that under xdist the short files fill in at the end instead of one long
# file running alone.
_LONG_FILES = ('test_binaries.py', 'test_notebooks.py',
               'test_discovery_binary.py', 'test_tables.py',
               'test_sharding.py', 'test_search.py', 'test_benchmark.py',
               'test_mixture.py', 'test_evaluate.py', 'test_experiments.py',
               'test_delay_table.py', 'test_strategies_base.py',
               'test_profile.py')


def pytest_collection_modifyitems(items):
  """Puts the long files first, each file's tests in their own order."""

  def rank(item):
    name = item.path.name
    return _LONG_FILES.index(name) if name in _LONG_FILES else len(_LONG_FILES)

  items.sort(key=rank)


def pytest_sessionfinish(session):
  """The process that made the compilation cache removes it."""
  del session
  if _OWN_CACHE:
    shutil.rmtree(os.environ['JAX_COMPILATION_CACHE_DIR'], ignore_errors=True)


def run_binary_process(script, *args):
  """Runs ``experiments/<script>`` with ``args``; the CompletedProcess."""
  # Smoke runs of tiny configs: compiles take about half as long with XLA's
  # optimisations off, and no test here compares with an optimised run.
  env = dict(os.environ, JAX_DISABLE_MOST_OPTIMIZATIONS='1')
  return subprocess.run(
      [sys.executable, os.path.join(ROOT, 'experiments', script), *args],
      capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)


def run_binary(script, *args):
  """``run_binary_process``, asserting that the binary succeeded."""
  proc = run_binary_process(script, *args)
  assert proc.returncode == 0, proc.stderr[-3000:]
  return proc


def run_binary_steps(script, *steps):
  """Runs main() of ``experiments/<script>`` once per argument list in
  ``steps``, in order, in one process (tests/binary_worker.py), so that JAX
  starts once. Returns one dict per step: ``args``, ``error`` (None when it
  succeeded, else its message: see tests/binary_worker.py) and ``output``
  (what it printed and logged). Tests still run each binary once as a real
  command (``run_binary``); this is for its reruns, reports and refusals."""
  with tempfile.TemporaryDirectory(prefix='lopro-binary-steps-') as tmp:
    steps_path = os.path.join(tmp, 'steps.json')
    out_path = os.path.join(tmp, 'out.json')
    with open(steps_path, 'w') as f:
      json.dump([list(step) for step in steps], f)
    env = dict(os.environ, JAX_DISABLE_MOST_OPTIMIZATIONS='1')
    proc = subprocess.run(
        [sys.executable, os.path.join(ROOT, 'tests', 'binary_worker.py'),
         os.path.join(ROOT, 'experiments', script), steps_path, out_path],
        capture_output=True, text=True, timeout=600, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(out_path) as f:
      return json.load(f)
