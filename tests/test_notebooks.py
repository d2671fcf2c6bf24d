"""Runs every Colab notebook (colab/*.ipynb) and checks the stored copies.

Each notebook executes top to bottom in a fresh ``python3`` kernel (nbclient)
whose working directory is a temporary one and which imports this checkout's
lopro, so the install cell is skipped and nothing is downloaded; on a CPU the
notebooks pick their tiny configs (up to about a minute each on 2 cores).
Needs nbformat, nbclient and ipykernel.
"""

import importlib.util
import os
import pathlib

import nbclient
import nbformat
import pytest

import lopro

ROOT = pathlib.Path(__file__).resolve().parent.parent
COLAB = ROOT / 'colab'
NOTEBOOKS = sorted(COLAB.glob('*.ipynb'))
# Seconds one cell may run; a notebook takes about a minute on 2 CPU cores.
CELL_TIMEOUT = 300
# Text every notebook must print (on a CPU, with its tiny configs).
EXPECTED_OUTPUT = {
    'quickstart': ['losses (64, 60)', 'friendly order ranks',
                   'reverse order ranks', 'top 5'],
    'discover': ['discovered order:', 'ask/tell rounds',
                 # The user's ask/tell loop scored with lopro's estimator
                 # retraces search_order exactly.
                 'the same order as search_order: True',
                 'forward', 'reverse', 'success'],
    'scaling': ["mesh: {'orders': ", 'order-steps/s', '128 orders'],
}

parametrize = pytest.mark.parametrize('path', NOTEBOOKS,
                                      ids=[p.stem for p in NOTEBOOKS])


def code_cells(notebook):
  return [c for c in notebook.cells if c.cell_type == 'code']


def text_output(cell) -> str:
  """What a code cell printed (streams and plain-text results)."""
  return ''.join(o.get('text', '') + o.get('data', {}).get('text/plain', '')
                 for o in cell.outputs)


def test_colab_has_the_notebooks():
  names = {p.stem for p in NOTEBOOKS}
  assert {'quickstart', 'discover', 'scaling'} <= names, names
  assert set(EXPECTED_OUTPUT) <= names


@parametrize
def test_stored_notebook_is_clean(path):
  notebook = nbformat.read(path, as_version=4)
  nbformat.validate(notebook)
  assert notebook.metadata.kernelspec.name == 'python3'
  for cell in code_cells(notebook):
    assert cell.outputs == [], f'{path.name}: cell {cell.id} has outputs'
    assert cell.execution_count is None, (
        f'{path.name}: cell {cell.id} has an execution count')
  install = code_cells(notebook)[0].source
  assert 'REPO_URL' in install and "find_spec('lopro') is None" in install, (
      f'{path.name}: the first code cell must be the guarded install cell')


def test_notebooks_equal_the_generator_output():
  spec = importlib.util.spec_from_file_location(
      'build_notebooks', COLAB / 'build_notebooks.py')
  build = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(build)
  assert sorted(build.NOTEBOOKS) == sorted(p.stem for p in NOTEBOOKS)
  for path in NOTEBOOKS:
    assert path.read_text() == build.render(path.stem), (
        f'{path.name} differs from colab/build_notebooks.py: rerun it')


@parametrize
def test_notebook_runs_and_draws(path, tmp_path):
  notebook = nbformat.read(path, as_version=4)
  # The kernel imports the lopro under test, wherever it is installed from.
  package_root = str(pathlib.Path(lopro.__file__).resolve().parent.parent)
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join(
      p for p in (package_root, env.get('PYTHONPATH')) if p)
  # A smoke run of the CPU configs: compiles take about half as long.
  env['JAX_DISABLE_MOST_OPTIMIZATIONS'] = '1'
  client = nbclient.NotebookClient(
      notebook, timeout=CELL_TIMEOUT, kernel_name='python3',
      resources={'metadata': {'path': str(tmp_path)}})
  client.execute(env=env)  # raises CellExecutionError if a cell fails

  cells = code_cells(notebook)
  install_output = text_output(cells[0])
  assert 'skipping the install' in install_output, install_output
  printed = ''.join(text_output(c) for c in cells)
  for text in EXPECTED_OUTPUT.get(path.stem, ()):
    assert text in printed, f'{path.name} did not print {text!r}:\n{printed}'
  images = [o for c in cells for o in c.outputs
            if 'image/png' in o.get('data', {})]
  assert images, f'{path.name} drew no plot'
  assert not list(tmp_path.iterdir()), (
      f'{path.name} wrote files: {list(tmp_path.iterdir())}')
