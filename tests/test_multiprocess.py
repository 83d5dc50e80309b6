"""Several hosts, for real: two processes on this machine joined by
`jax.distributed` (tests/multiprocess_child.py), one CPU device each.

The estimators split their draws over a mesh of both processes' devices and
must give what one process gives; only process 0 writes a run's workdir,
and every process resumes from process 0's checkpoint and records; a
`launch.train --distributed` run records what a one-process run records
(slow: both processes compile the whole run).

Each pair of processes (`Pair`) runs once, with its output in files and a
deadline, so that a hang fails the test instead of blocking it.
"""

import json
import os
import pathlib
import socket
import subprocess
import sys
import time

from absl import flags
from absl.testing import flagsaver
import helpers
import jax
import multiprocess_child as child
import numpy as np
import pytest

from infoflow import configs
from infoflow import experiment
from infoflow import record as record_lib
from infoflow.experiment import workdir as workdir_lib
from launch import train

_ROOT = pathlib.Path(__file__).resolve().parents[1]
_CHILD = _ROOT / 'tests' / 'multiprocess_child.py'
# The pair computes on the CPU; this process's reference too, or not at all.
_ON_CPU = jax.default_backend() == 'cpu'
_DEADLINE = 300  # seconds for a pair of processes (about 20-60 s on 2 loaded cores)


def free_port() -> int:
  """A TCP port of localhost that nothing listens on now (the coordinator's)."""
  with socket.socket() as s:
    s.bind(('localhost', 0))
    return s.getsockname()[1]


class Pair:
  """Processes 0 and 1 of a two-process run of `multiprocess_child.py MODE`,
  started at once (the test works in its own process meanwhile), process i
  with the workdir folder/process<i>; their output goes to files. Leaving
  the `with` block kills those still running."""

  def __init__(self, mode: str, folder: pathlib.Path):
    port = free_port()
    env = dict(os.environ, JAX_PLATFORMS='cpu')
    env.pop('XLA_FLAGS', None)  # one CPU device per process
    env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(_ROOT), env.get('PYTHONPATH')]))
    self.workdirs = [folder / f'process{i}' for i in range(child.NUM_PROCESSES)]
    self._logs = [folder / f'process{i}.log' for i in range(child.NUM_PROCESSES)]
    self._deadline = time.monotonic() + _DEADLINE
    self._procs = []
    for i, (workdir, log) in enumerate(zip(self.workdirs, self._logs)):
      with log.open('w') as out:
        self._procs.append(
          subprocess.Popen(
            [sys.executable, str(_CHILD), mode, str(i), str(port), str(workdir)],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
          )
        )

  def __enter__(self):
    return self

  def __exit__(self, *exc):
    for proc in self._procs:
      if proc.poll() is None:
        proc.kill()
        proc.wait()

  def results(self) -> list[dict]:
    """The RESULT line of each process, once both have ended (killed at the
    deadline: a hang fails the test, with each process's output)."""
    for proc in self._procs:
      try:
        proc.wait(timeout=max(1.0, self._deadline - time.monotonic()))
      except subprocess.TimeoutExpired:
        self.__exit__()
    outputs = [log.read_text() for log in self._logs]
    for i, (proc, output) in enumerate(zip(self._procs, outputs)):
      assert proc.returncode == 0, f'process {i} (exit {proc.returncode}):\n{output[-4000:]}'
    return [json.loads(out.strip().splitlines()[-1].removeprefix('RESULT ')) for out in outputs]


def assert_estimates_equal(got: dict, want: dict) -> None:
  """The same methods and draw counts; values and standard errors equal to
  float32 rounding (the draws are the same, split into other blocks)."""
  assert got.keys() == want.keys()
  for name, value in want.items():
    if isinstance(value, str):
      assert got[name] == value, name
    else:
      np.testing.assert_allclose(got[name][:2], value[:2], rtol=1e-5, atol=1e-6, err_msg=name)
      assert got[name][2] == value[2], name


@pytest.fixture(scope='module')
def steps(tmp_path_factory):
  """(results, workdirs) of the 'steps' pair, and the estimates of this
  process (one device), made while the pair runs."""
  with Pair('steps', tmp_path_factory.mktemp('steps')) as pair:
    want = child.estimates(None, 'dense') if _ON_CPU else None
    return pair.results(), pair.workdirs, want


def test_estimates_split_over_two_processes_equal_one_process(steps):
  results, _, want = steps
  if want is None:
    pytest.skip('the one-process estimates are made on the CPU only')
  for i, result in enumerate(results):
    assert (result['process_index'], result['process_count']) == (i, 2)
    assert result['default_mesh_size'] == 2  # mesh=None: every process's device
  got = [{name: r[name] for name in want} for r in results]
  assert got[0] == got[1]  # replicated results: every process reads the same
  assert_estimates_equal(got[0], want)


def test_only_process_0_writes_and_every_process_resumes_alike(steps):
  results, workdirs, _ = steps
  written = [{'epoch': e, 'seed': 0, 'loss': 1.0 / (e + 1)} for e in child.STEPS_EPOCHS]
  trained = {'w': [[2.0, 3.0, 4.0], [5.0, 6.0, 7.0]], 'step': 2, 'key': [7, 2]}
  for i, result in enumerate(results):
    owner = i == 0  # process 0 alone has a checkpoint manager
    assert result['steps']['fresh'] == [0, [], owner]
    assert result['steps']['resumed'] == [2, written, owner]
    assert result['steps']['resumed_states'] == trained
  refused = results[0]['steps']['refused']
  assert 'holds a run with a different config (fields differing: num_epochs' in refused
  # Process 1 stops too, with process 0's error, instead of waiting for it.
  assert results[1]['steps']['refused'] == f'process 0 stopped the run: {refused}'
  assert not workdirs[1].exists()
  assert sorted(p.name for p in workdirs[0].iterdir()) == sorted(
    [workdir_lib.CHECKPOINTS, record_lib.CONFIG, record_lib.METRICS]
  )  # the lock released
  assert [p.name for p in (workdirs[0] / workdir_lib.CHECKPOINTS).iterdir()] == ['2']


@pytest.mark.parametrize(
  'value, want',
  [
    ('auto', {}),
    ('node0:1234,4,3', dict(coordinator_address='node0:1234', num_processes=4, process_id=3)),
  ],
)
def test_distributed_flag_values(value, want):
  assert train.distributed_arguments(value) == want


@pytest.mark.parametrize('value', ['', 'yes', 'node0:1234,4', 'node0,4,3', 'node0:1234,four,0'])
def test_a_bad_distributed_flag_is_a_one_line_error(value, monkeypatch):
  with pytest.raises(ValueError, match='--distributed=.*HOST:PORT,NUM_PROCESSES,PROCESS_ID'):
    train.distributed_arguments(value)
  argv = configs.resolve_argv(['launch.train', '--config=tiny', f'--distributed={value}'])
  monkeypatch.setattr(sys, 'argv', argv)
  with flagsaver.flagsaver(), pytest.raises(SystemExit) as info:
    train.main(flags.FLAGS(argv))
  assert str(info.value.code).startswith('launch.train: error: --distributed=')


@pytest.mark.slow
@pytest.mark.skipif(not _ON_CPU, reason='the one-process run must run on the CPU, as the pair does')
def test_a_train_run_on_two_processes_records_what_one_process_records(tmp_path):
  one = tmp_path / 'one'
  with Pair('train', tmp_path) as pair:
    want = child.estimates(None, 'pruned')
    records = experiment.train_and_analyse(helpers.tiny_config(**child.TRAIN), one)
    results = pair.results()
  assert results[0] == results[1]
  assert_estimates_equal(results[0], want)
  two, other = pair.workdirs
  assert not other.exists()
  assert helpers.without_time(record_lib.read_metrics(two / record_lib.METRICS)) == (
    helpers.without_time(records)
  )
  for name in (record_lib.CONFIG, record_lib.RUN_INFO):
    assert (two / name).read_text() == (one / name).read_text(), name
  for path in sorted((one / record_lib.REPRESENTATIONS).iterdir()):
    with np.load(path) as saved, np.load(two / record_lib.REPRESENTATIONS / path.name) as got:
      assert sorted(got.files) == sorted(saved.files)
      for name in saved.files:
        np.testing.assert_array_equal(got[name], saved[name])
  assert sorted(p.name for p in (two / workdir_lib.CHECKPOINTS).iterdir()) == ['0', '2']
  # Its checkpoints (host copies) and records resume in one process: nothing is redone.
  redone = []
  resumed = experiment.train_and_analyse(
    helpers.tiny_config(**child.TRAIN), two, on_record=redone.append
  )
  assert redone == [] and helpers.without_time(resumed) == helpers.without_time(records)
