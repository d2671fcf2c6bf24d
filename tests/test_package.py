"""Tests of the package's shape: module size, import cycles, no flags.

The modules are read as text (``ast``), so these checks see every import a
module makes at any depth, not only the ones that run.
"""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parent.parent / 'lopro'
MAX_LINES = 500


def _modules() -> dict[str, pathlib.Path]:
  """Dotted name -> file, packages by their ``__init__.py``."""
  found = {}
  for path in sorted(PACKAGE.rglob('*.py')):
    parts = path.relative_to(PACKAGE.parent).with_suffix('').parts
    if parts[-1] == '__init__':
      parts = parts[:-1]
    found['.'.join(parts)] = path
  return found


def _imports(path: pathlib.Path, modules: dict[str, pathlib.Path]
             ) -> set[str]:
  """The lopro modules a file imports (``from P import m`` of a submodule
  m counts as importing P.m)."""
  found = set()
  for node in ast.walk(ast.parse(path.read_text())):
    if isinstance(node, ast.Import):
      found.update(a.name for a in node.names if a.name in modules)
    elif isinstance(node, ast.ImportFrom) and node.module in modules:
      subs = {f'{node.module}.{a.name}' for a in node.names}
      named = subs & set(modules)
      found.update(named)
      if len(named) < len(subs):  # names defined in the module itself
        found.add(node.module)
  return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
  """One import cycle of ``graph``, or None."""
  state, stack = {}, []

  def visit(node):
    state[node] = 'open'
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 'open':
        return stack[stack.index(nxt):] + [nxt]
      if nxt not in state and (found := visit(nxt)):
        return found
    state[node] = 'done'
    stack.pop()
    return None

  for node in sorted(graph):
    if node not in state and (found := visit(node)):
      return found
  return None


def test_the_cycle_finder_finds_cycles():
  assert _cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
  assert _cycle({'a': {'b', 'c'}, 'b': {'c'}, 'c': set()}) is None


def test_no_module_is_over_500_lines():
  long = {name: n for name, path in _modules().items()
          if (n := len(path.read_text().splitlines())) > MAX_LINES}
  assert not long


def test_no_lopro_module_imports_in_a_circle():
  modules = _modules()
  graph = {}
  for name, path in modules.items():
    # A package's __init__ re-exports its submodules; a submodule that
    # imports a name from its own package's __init__ closes a circle.
    graph[name] = _imports(path, modules) - {name}
  assert _cycle(graph) is None


@pytest.mark.parametrize('text', ['absl import flags', 'flags.DEFINE'])
def test_the_library_defines_no_flags(text):
  assert not [path.name for path in _modules().values()
              if text in path.read_text()]
