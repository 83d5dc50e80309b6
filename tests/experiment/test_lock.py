"""Tests of the workdir lock (infoflow.experiment.lock): a second writer of a
run is refused, a killed holder's lock is taken over; with two real
processes."""

import contextlib
import errno
import fcntl
import json
import os
import socket
import subprocess
import sys

import helpers
import jax
import pytest

from infoflow import experiment
from infoflow.experiment import lock

# Takes the lock of argv[1] through the library, says so, and holds it until
# its stdin closes (or it is killed).
_HOLDER = """
import sys
from infoflow.experiment import lock
with lock.hold(sys.argv[1]):
  print('held', flush=True)
  sys.stdin.read()
"""


def test_a_second_writer_is_refused_and_a_killed_holders_lock_taken_over(tmp_path, caplog):
  """Issue 22 row 1: two runs on one workdir at once both wrote every
  record. A process holding the lock makes a run there stop before writing
  anything, naming the holder's pid; killed (SIGKILL), it leaves its lock
  file, which the next writer takes over with a warning naming that pid."""
  holder = subprocess.Popen(
    [sys.executable, '-c', _HOLDER, str(tmp_path)],
    stdin=subprocess.PIPE,
    stdout=subprocess.PIPE,
    text=True,
  )
  try:
    assert holder.stdout.readline() == 'held\n'
    busy = (
      f'another process (pid {holder.pid}) is writing the run in {tmp_path} (it holds the lock '
      f'{tmp_path / lock.LOCK}); wait for it to end, or use another --workdir.'
    )
    with pytest.raises(experiment.RunDirError) as info:
      experiment.train_and_analyse(helpers.tiny_config(), tmp_path)
    assert str(info.value) == busy
    assert sorted(p.name for p in tmp_path.iterdir()) == [lock.LOCK]  # nothing written
  finally:
    holder.kill()
    holder.wait()
  with lock.hold(tmp_path) as held:
    assert f'{held.path} was left by pid {holder.pid}, which ended without releasing' in (
      caplog.text
    )
    assert json.loads(held.path.read_text()) == {'pid': os.getpid(), 'host': socket.gethostname()}
  assert not held.path.exists()  # a release deletes the file


def test_a_released_lock_leaves_nothing_and_is_taken_again_quietly(tmp_path, caplog):
  with lock.hold(tmp_path):
    with pytest.raises(experiment.RunDirError, match=f'another process \\(pid {os.getpid()}\\)'):
      lock.acquire(tmp_path)  # one process, two holds: refused as well
  assert list(tmp_path.iterdir()) == []
  with lock.hold(tmp_path):
    pass
  assert 'left by' not in caplog.text


def test_without_file_locks_the_pid_in_the_file_decides(tmp_path, monkeypatch, caplog):
  """A file system without flock: a running process of this host keeps the
  lock; one that has ended loses it, with the warning."""

  def no_flock(fd, operation):
    raise OSError(errno.ENOLCK, 'No locks available')

  monkeypatch.setattr(fcntl, 'flock', no_flock)
  path = tmp_path / lock.LOCK
  path.write_text(json.dumps({'pid': os.getppid(), 'host': socket.gethostname()}))
  with pytest.raises(experiment.RunDirError, match=f'another process \\(pid {os.getppid()}\\)'):
    lock.acquire(tmp_path)
  dead = _ended_pid()
  path.write_text(json.dumps({'pid': dead, 'host': socket.gethostname()}))
  with lock.hold(tmp_path):
    assert 'file locks are not supported here' in caplog.text
    assert f'was left by pid {dead}, which ended' in caplog.text
  assert not path.exists()


def _ended_pid() -> int:
  """The pid of a process that has ended (and been reaped)."""
  process = subprocess.Popen(['true'])
  process.wait()
  return process.pid


def test_only_process_zero_takes_the_lock(tmp_path, monkeypatch):
  """Under multi-process JAX the other processes do not take it (they would
  be refused by process 0's)."""
  config = helpers.tiny_config()
  with lock.hold(tmp_path):
    monkeypatch.setattr(jax, 'process_index', lambda: 1)
    with contextlib.ExitStack() as stack:
      experiment.open_workdir(config, tmp_path, hold=stack)
    monkeypatch.setattr(jax, 'process_index', lambda: 0)
    with contextlib.ExitStack() as stack:
      with pytest.raises(experiment.RunDirError, match='is writing the run'):
        experiment.open_workdir(config, tmp_path, hold=stack)


def test_a_lock_file_that_cannot_be_opened_is_a_one_line_error(tmp_path):
  (tmp_path / lock.LOCK).mkdir()
  with pytest.raises(
    experiment.RunDirError, match=f'cannot open the lock file {tmp_path / "lock"}'
  ):
    lock.acquire(tmp_path)
