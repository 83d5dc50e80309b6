"""The documentation runs: every ```python block of README.md and docs/api.md.

All blocks run in one fresh Python process (JAX is imported, and each program
compiled, once for all of them; through the test session's persistent
compilation cache, so a program another test compiled first is read back),
each group of blocks in a fresh namespace with its own temporary working
directory; the repository root is on PYTHONPATH and INFOFLOW_DATA_DIR points
at an empty folder (so SZT labels are generated and nothing is read from, or
written to, the user's data). A block
whose first line starts with `# continued` runs after the block before it, in
the same namespace (used where a page builds one run and then reads it).
Blocks fenced as anything other than `python` (```bash, ```py sketches,
output) are not run.

A failure names the block (file and line of its first code line) and the line
of the document where the error was raised: each block is compiled with the
document as its file name and its own line numbers.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCUMENTS = ('README.md', 'docs/api.md')
LINKED = ('README.md', 'docs/api.md', 'docs/benchmarks.md')
CONTINUED = '# continued'
TIMEOUT_S = 600
_FENCE = re.compile(r'^(\s*)```(\S*)\s*$')
_LINK = re.compile(r'\]\(([^)\s#]+)(?:#[^)]*)?\)')

# Runs every group: [[(document, first line, code), ...], ...] on stdin; after
# each group, one line RESULT_MARK + JSON {index, ok, traceback}.
RESULT_MARK = '@@docs-block-result@@'
_DRIVER = """
import json, os, sys, traceback
from infoflow import compile_cache
compile_cache.enable()  # the test session's cache (INFOFLOW_COMPILE_CACHE): shared programs
base = os.getcwd()
for index, group in enumerate(json.load(sys.stdin)):
  folder = os.path.join(base, f'group{{index}}')
  os.makedirs(folder)
  os.chdir(folder)
  namespace = {{'__name__': '__main__'}}
  try:
    for path, line, code in group:
      exec(compile('\\n' * (line - 1) + code, path, 'exec'), namespace)
    result = dict(index=index, ok=True, traceback='')
  except BaseException:
    result = dict(index=index, ok=False, traceback=traceback.format_exc())
  sys.stdout.flush()
  print({mark!r} + json.dumps(result), flush=True)
""".format(mark=RESULT_MARK)


@dataclasses.dataclass(frozen=True)
class Block:
  """One ```python block: its document, the line of its first code line, its code."""

  document: str
  line: int
  code: str

  @property
  def where(self) -> str:
    return f'{self.document}:{self.line}'


def python_blocks(document: str) -> list[Block]:
  """The ```python blocks of a document (relative to the repository root), in order."""
  lines = (ROOT / document).read_text(encoding='utf-8').splitlines()
  blocks, language, start, body = [], None, 0, []
  for number, text in enumerate(lines, start=1):
    match = _FENCE.match(text)
    if language is None:
      if match:
        language, start, body = match.group(2), number + 1, []
    elif match and not match.group(2):
      if language == 'python':
        blocks.append(Block(document, start, '\n'.join(body) + '\n'))
      language = None
    else:
      body.append(text)
  if language is not None:
    raise AssertionError(f'{document}:{start - 1}: unclosed code fence')
  return blocks


def block_groups() -> list[tuple[Block, ...]]:
  """Blocks that run together: one block, with the `# continued` blocks after it."""
  groups = []
  for document in DOCUMENTS:
    for block in python_blocks(document):
      if block.code.startswith(CONTINUED) and groups and groups[-1][0].document == document:
        groups[-1].append(block)
      else:
        groups.append([block])
  return [tuple(g) for g in groups]


_GROUPS = block_groups()


@pytest.fixture(scope='module')
def block_results(tmp_path_factory) -> dict[int, dict]:
  """{group index: {ok, traceback}} of every group, run in one process."""
  folder = tmp_path_factory.mktemp('docs')
  data_dir, work = folder / 'data', folder / 'work'
  data_dir.mkdir()
  work.mkdir()
  env = dict(os.environ)
  env['PYTHONPATH'] = os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
  env['INFOFLOW_DATA_DIR'] = str(data_dir)
  env['MPLBACKEND'] = 'Agg'
  payload = json.dumps([[(str(ROOT / b.document), b.line, b.code) for b in g] for g in _GROUPS])
  try:
    proc = subprocess.run(
      [sys.executable, '-c', _DRIVER],
      input=payload,
      capture_output=True,
      text=True,
      cwd=work,
      env=env,
      timeout=TIMEOUT_S,
      check=False,
    )
    output = proc.stdout + proc.stderr
  except subprocess.TimeoutExpired as error:
    output = f'timed out after {TIMEOUT_S} s\n{error.stdout or ""}'
  results = {}
  for line in output.splitlines():
    if line.startswith(RESULT_MARK):
      result = json.loads(line[len(RESULT_MARK) :])
      results[result['index']] = result
  for index in range(len(_GROUPS)):
    results.setdefault(index, dict(ok=False, traceback=f'did not run; output:\n{output[-4000:]}'))
  return results


def _failure_line(output: str) -> str:
  """'document:line' of the innermost document frame of a traceback, or ''."""
  found, position = '', -1
  for document in DOCUMENTS:
    pattern = re.compile(r'File "' + re.escape(str(ROOT / document)) + r'", line (\d+)')
    for match in pattern.finditer(output):
      if match.start() > position:  # later frames are innermost
        found, position = f'{document}:{match.group(1)}', match.start()
  return found


@pytest.mark.parametrize('index', range(len(_GROUPS)), ids=[g[0].where for g in _GROUPS])
def test_python_block_runs(index, block_results):
  result = block_results[index]
  if not result['ok']:
    blocks = ', '.join(b.where for b in _GROUPS[index])
    at = _failure_line(result['traceback'])
    pytest.fail(
      f'python block {blocks} failed' + (f', raised at {at}' if at else '') + f':\n'
      f'{result["traceback"][-4000:]}',
      pytrace=False,
    )


def test_documents_have_python_blocks():
  for document in DOCUMENTS:
    assert python_blocks(document), f'{document} has no ```python block'


@pytest.mark.parametrize('document', LINKED)
def test_relative_links_resolve(document):
  """Every relative link of the guide, the reference and the benchmarks names a file."""
  path = ROOT / document
  text = path.read_text(encoding='utf-8')
  missing = [
    target
    for target in _LINK.findall(text)
    if '://' not in target
    and not target.startswith('mailto:')
    and not (path.parent / target).exists()
  ]
  assert not missing, f'{document}: links to missing files: {missing}'
