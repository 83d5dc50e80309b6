"""The layout of the source tree: imports without circles, the library apart
from the commands, no folder holding most of the code, the packages that
setup.cfg installs."""

import ast
import configparser
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]
SOURCES = ('infoflow', 'launch')
MAX_FOLDER_SHARE = 0.3


def _module_name(path: pathlib.Path) -> str:
  parts = list(path.relative_to(ROOT).with_suffix('').parts)
  return '.'.join(parts[:-1] if parts[-1] == '__init__' else parts)


def _modules() -> dict[str, pathlib.Path]:
  """{dotted name: path} of every module of infoflow/ and launch/."""
  return {_module_name(p): p for top in SOURCES for p in sorted((ROOT / top).rglob('*.py'))}


def _imported(name: str, path: pathlib.Path, module_level_only: bool = False) -> set[str]:
  """The names `path` imports (absolute, relative resolved), at any depth
  (function-level imports included) unless `module_level_only`."""
  tree = ast.parse(path.read_text())
  package = name if path.name == '__init__.py' else name.rpartition('.')[0]
  nodes = tree.body if module_level_only else ast.walk(tree)
  found = set()
  for node in nodes:
    if isinstance(node, ast.Import):
      found.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ''
      if node.level:
        anchor = package.split('.')[: len(package.split('.')) - node.level + 1]
        base = '.'.join(anchor + ([base] if base else []))
      found.add(base)
      found.update(f'{base}.{alias.name}' for alias in node.names)
  return found


def import_graph(module_level_only: bool = False) -> dict[str, set[str]]:
  """{module: the modules of the tree it imports}; importing `a.b.c` counts
  as importing the packages `a` and `a.b` too (their __init__ runs)."""
  modules = _modules()
  graph = {}
  for name, path in modules.items():
    edges = set()
    for target in _imported(name, path, module_level_only):
      parts = target.split('.')
      for i in range(1, len(parts) + 1):
        prefix = '.'.join(parts[:i])
        if prefix in modules and prefix != name and not name.startswith(prefix + '.'):
          edges.add(prefix)
    graph[name] = edges
  return graph


def find_cycle(graph: dict[str, set[str]]):
  """A list of modules forming an import circle, or None."""
  state, stack = {}, []

  def visit(node):
    state[node] = 'open'
    stack.append(node)
    for nxt in sorted(graph[node]):
      if state.get(nxt) == 'open':
        return stack[stack.index(nxt) :] + [nxt]
      if nxt not in state:
        cycle = visit(nxt)
        if cycle:
          return cycle
    state[node] = 'done'
    stack.pop()
    return None

  for node in sorted(graph):
    if node not in state:
      cycle = visit(node)
      if cycle:
        return cycle
  return None


def _closure(graph, start: str) -> set[str]:
  seen, todo = set(), [start]
  while todo:
    node = todo.pop()
    if node not in seen:
      seen.add(node)
      todo.extend(graph[node])
  return seen


def test_find_cycle_finds_one():
  assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == ['a', 'b', 'c', 'a']
  assert find_cycle({'a': {'b'}, 'b': set()}) is None
  assert find_cycle({'a': {'b'}, 'b': {'c'}, 'c': {'b'}}) == ['b', 'c', 'b']


def test_import_graph_sees_the_imports():
  """The graph the checks walk is not empty: module-level and
  function-level imports are edges, the latter only without
  `module_level_only`."""
  graph, top = import_graph(), import_graph(module_level_only=True)
  assert {'infoflow.record', 'infoflow.experiment.workdir'} <= top['infoflow.experiment.runner']
  assert 'infoflow.plots.images' in graph['infoflow.experiment.writers']
  assert 'infoflow.plots.images' not in top['infoflow.experiment.writers']


def test_no_import_circle():
  graph = {n: e for n, e in import_graph().items() if n.startswith('infoflow')}
  assert find_cycle(graph) is None, ' -> '.join(find_cycle(graph))


def test_the_library_never_imports_the_commands():
  for name, edges in import_graph().items():
    if name.startswith('infoflow'):
      assert not any(e == 'launch' or e.startswith('launch.') for e in edges), name


def test_a_run_and_its_resumption_load_no_plotting():
  """The run loop draws TensorBoard images through a function-level import
  (only when a writer wants them); nothing else of a run imports plotting."""
  graph = import_graph(module_level_only=True)
  for start in ('infoflow.experiment', 'infoflow.record'):
    loaded = _closure(graph, start)
    assert not any(m.startswith('infoflow.plots') for m in loaded), start


def test_no_folder_holds_most_of_the_code():
  lines = {}
  for path in _modules().values():
    folder = path.parent.relative_to(ROOT)
    lines[folder] = lines.get(folder, 0) + len(path.read_text().splitlines())
  total = sum(lines.values())
  biggest = max(lines, key=lines.get)
  assert lines[biggest] <= MAX_FOLDER_SHARE * total, (biggest, lines[biggest], total)


def test_setup_cfg_installs_every_package_and_the_commands():
  """Every folder of infoflow/ with modules is listed; launch/ is installed
  as infoflow_launch, not as a generic top-level `launch`."""
  parser = configparser.ConfigParser()
  parser.read(ROOT / 'setup.cfg')
  listed = set(parser['options']['packages'].split())
  folders = {'.'.join(p.parent.relative_to(ROOT).parts) for p in (ROOT / 'infoflow').rglob('*.py')}
  assert listed == folders | {'infoflow_launch'}
  assert parser['options']['package_dir'].split() == ['infoflow_launch', '=', 'launch']
  scripts = parser['options.entry_points']['console_scripts']
  for main in ('train', 'plot', 'estimate', 'reproduce', 'download_mnist'):
    command = f'infoflow-{main.replace("_", "-")} = infoflow_launch.{main}:run'
    assert command in scripts
