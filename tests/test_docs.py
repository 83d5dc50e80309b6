"""The documentation runs: every ```python block of README.md and docs/api.md.

Each block runs in a fresh Python process with a temporary directory as its
working directory, the repository root on PYTHONPATH and INFOFLOW_DATA_DIR
pointing at an empty folder there (so SZT labels are generated and nothing is
read from, or written to, the user's data). A block whose first line starts
with `# continued` runs after the block before it, in the same process and
namespace (used where a page builds one run and then reads it). Blocks fenced
as anything other than `python` (```bash, ```py sketches, output) are not run.

A failure names the block (file and line of its first code line) and the line
of the document where the error was raised: each block is compiled with the
document as its file name and its own line numbers.

Most of a block's time is importing JAX and compiling, mostly on one core, so
the selected blocks run `INFOFLOW_DOCS_JOBS` (default 2) at a time, started in
test order; each test waits for its own block.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re
import subprocess
import sys
import time
from typing import Optional

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
DOCUMENTS = ('README.md', 'docs/api.md')
LINKED = ('README.md', 'docs/api.md', 'docs/benchmarks.md')
CONTINUED = '# continued'
TIMEOUT_S = 300
_FENCE = re.compile(r'^(\s*)```(\S*)\s*$')
_LINK = re.compile(r'\]\(([^)\s#]+)(?:#[^)]*)?\)')

# Runs the blocks of one group: [(document, first line, code), ...] on stdin.
_DRIVER = """
import json, sys
namespace = None
for path, line, code in json.load(sys.stdin):
  if namespace is None or not code.startswith({continued!r}):
    namespace = {{'__name__': '__main__'}}
  exec(compile('\\n' * (line - 1) + code, path, 'exec'), namespace)
""".format(continued=CONTINUED)


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


@dataclasses.dataclass
class _Job:
  group: tuple[Block, ...]
  folder: pathlib.Path
  process: Optional[subprocess.Popen] = None
  started: float = 0.0
  timed_out: bool = False

  def start(self) -> None:
    data_dir, work = self.folder / 'data', self.folder / 'work'
    data_dir.mkdir(parents=True)
    work.mkdir()
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join([str(ROOT), env.get('PYTHONPATH', '')]).rstrip(os.pathsep)
    env['INFOFLOW_DATA_DIR'] = str(data_dir)
    env['MPLBACKEND'] = 'Agg'
    payload = json.dumps([(str(ROOT / b.document), b.line, b.code) for b in self.group])
    (self.folder / 'stdin.json').write_text(payload)
    with open(self.folder / 'stdin.json') as stdin, open(self.folder / 'output.txt', 'w') as out:
      self.process = subprocess.Popen(
        [sys.executable, '-c', _DRIVER],
        stdin=stdin,
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=work,
        env=env,
      )
    self.started = time.monotonic()

  def running(self) -> bool:
    if self.process is None or self.process.poll() is not None:
      return False
    if time.monotonic() - self.started > TIMEOUT_S:
      self.process.kill()
      self.process.wait()
      self.timed_out = True
      return False
    return True

  def output(self) -> str:
    return (self.folder / 'output.txt').read_text(errors='replace')


class _Pool:
  """Runs the selected groups `jobs` at a time, in order."""

  def __init__(self, groups, folder: pathlib.Path, jobs: int):
    self.jobs = [_Job(g, folder / f'block{i}') for i, g in enumerate(groups)]
    self.by_group = {job.group: job for job in self.jobs}
    self.limit = max(1, jobs)

  def _fill(self) -> None:
    running = sum(job.running() for job in self.jobs)
    for job in self.jobs:
      if running >= self.limit:
        break
      if job.process is None:
        job.start()
        running += 1

  def finished(self, group) -> _Job:
    job = self.by_group[group]
    self._fill()
    while job.process is None or job.running():
      time.sleep(0.05)
      self._fill()
    return job

  def close(self) -> None:
    for job in self.jobs:
      if job.process is not None and job.process.poll() is None:
        job.process.kill()
        job.process.wait()


@pytest.fixture(scope='module')
def pool(request, tmp_path_factory):
  """The block runner, over the groups this session selected (all by default)."""
  selected = []
  for item in request.session.items:
    callspec = getattr(item, 'callspec', None)
    if getattr(item, 'function', None) is test_python_block_runs and callspec is not None:
      selected.append(callspec.params['group'])
  jobs = int(os.environ.get('INFOFLOW_DOCS_JOBS', '2'))
  runner = _Pool(selected or _GROUPS, tmp_path_factory.mktemp('docs'), jobs)
  yield runner
  runner.close()


def _failure_line(output: str) -> str:
  """'document:line' of the innermost document frame of a traceback, or ''."""
  found, position = '', -1
  for document in DOCUMENTS:
    pattern = re.compile(r'File "' + re.escape(str(ROOT / document)) + r'", line (\d+)')
    for match in pattern.finditer(output):
      if match.start() > position:  # later frames are innermost
        found, position = f'{document}:{match.group(1)}', match.start()
  return found


@pytest.mark.parametrize('group', _GROUPS, ids=[g[0].where for g in _GROUPS])
def test_python_block_runs(group, pool):
  job = pool.finished(group)
  if job.timed_out or job.process.returncode != 0:
    output = job.output()
    blocks = ', '.join(b.where for b in group)
    at = _failure_line(output)
    status = f'timed out after {TIMEOUT_S} s' if job.timed_out else f'exit {job.process.returncode}'
    pytest.fail(
      f'python block {blocks} failed ({status})'
      + (f', raised at {at}' if at else '')
      + f':\n{output[-4000:]}',
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
