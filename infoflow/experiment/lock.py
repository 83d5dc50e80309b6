"""The workdir lock: one process at a time writes a run.

`hold(workdir)` takes the lock for the block; `train_and_analyse` (and so
`launch.train` and `launch.reproduce`) holds it for the whole run, so that a
second command on the same workdir stops at once with `RunDirError` naming
the process that writes it, instead of writing every record twice.

The lock is the file `WORKDIR/lock` (`LOCK`), held with `fcntl.flock`
(exclusive, not waiting). The OS releases it when the holding process ends,
however it ends, so a killed run never blocks the next one. The file holds
the holder's pid and host name (JSON), which the refused process reports.
Releasing deletes the file, so a lock file found by the process that gets
the lock was left by a holder that ended without releasing it (killed): the
lock is taken over with a warning naming that pid.

On a file system without `flock` (some network mounts) the pid in the file
decides: a running process of this host that is not the caller keeps the
lock, a process of another host too (its state cannot be seen from here).
"""

from __future__ import annotations

import contextlib
import dataclasses
import errno
import fcntl
import json
import os
import pathlib
import socket
from typing import Iterator
from typing import Optional

from absl import logging

from infoflow.experiment.workdir import RunDirError

LOCK = 'lock'  # the lock file in the workdir
_TRIES = 100  # attempts when the lock file is replaced between open and lock


@dataclasses.dataclass(frozen=True)
class Holder:
  """The process named in a lock file."""

  pid: int
  host: str

  def __str__(self) -> str:
    where = '' if self.host == socket.gethostname() else f' on host {self.host}'
    return f'pid {self.pid}{where}'

  def may_be_running(self) -> bool:
    """False only when it is known to have ended (a process of this host
    that no longer exists)."""
    if self.host != socket.gethostname():
      return True
    try:
      os.kill(self.pid, 0)
    except ProcessLookupError:
      return False
    except PermissionError:  # another user's process
      return True
    return True


class WorkdirLock:
  """A held workdir lock; `release()` deletes its file and unlocks it."""

  def __init__(self, path: pathlib.Path, fd: int):
    self.path = path
    self._fd = fd

  def release(self) -> None:
    """Deletes the lock file, then unlocks it (closing the descriptor)."""
    if self._fd is None:
      return
    with contextlib.suppress(FileNotFoundError):
      os.unlink(self.path)
    os.close(self._fd)
    self._fd = None


def acquire(workdir) -> WorkdirLock:
  """Takes the lock of `workdir` (which exists) for this process.

  Raises:
    RunDirError: another process holds it (or this one, through another
      `acquire`); the message names its pid and the lock file. Or the lock
      file cannot be opened.
  """
  path = pathlib.Path(workdir) / LOCK
  for _ in range(_TRIES):
    try:
      fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as error:
      raise RunDirError(
        f'cannot open the lock file {path} ({error.strerror or error}); delete it if no run '
        'writes there, or use another --workdir.'
      ) from None
    try:
      locked = _flock(fd, path)
      if _is_current(fd, path):
        previous = _read_holder(fd)
        if not locked:
          _check_no_live_holder(previous, path)
        if previous is not None and previous.pid != os.getpid():
          logging.warning(
            '%s was left by %s, which ended without releasing it (killed?); taking the lock over.',
            path,
            previous,
          )
        _write_holder(fd)
        return WorkdirLock(path, fd)
    except BaseException:
      os.close(fd)
      raise
    os.close(fd)  # deleted or replaced by its holder's release: open it again
  raise RunDirError(
    f'could not take the lock {path}: it was replaced {_TRIES} times in a row; '
    'another process keeps taking it. Use another --workdir.'
  )


@contextlib.contextmanager
def hold(workdir) -> Iterator[WorkdirLock]:
  """`acquire(workdir)` for the block; released however the block ends."""
  lock = acquire(workdir)
  try:
    yield lock
  finally:
    lock.release()


def _flock(fd: int, path: pathlib.Path) -> bool:
  """Locks `fd`: True when locked, False when the file system has no flock.

  Raises:
    RunDirError: another process holds the lock.
  """
  try:
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
  except OSError as error:
    if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
      raise RunDirError(_busy_message(_read_holder(fd), path)) from None
    logging.warning(
      '%s: file locks are not supported here (%s); relying on the pid in the lock file.',
      path,
      error.strerror or error,
    )
    return False
  return True


def _is_current(fd: int, path: pathlib.Path) -> bool:
  """Whether `path` still names the file open as `fd` (a holder's release
  deletes it; a new holder may then have created another)."""
  try:
    named = os.stat(path)
  except FileNotFoundError:
    return False
  opened = os.fstat(fd)
  return (named.st_dev, named.st_ino) == (opened.st_dev, opened.st_ino)


def _check_no_live_holder(holder: Optional[Holder], path: pathlib.Path) -> None:
  """Without flock: refuses when `holder` is another process that may run."""
  if holder is not None and holder.pid != os.getpid() and holder.may_be_running():
    raise RunDirError(_busy_message(holder, path))


def _busy_message(holder: Optional[Holder], path: pathlib.Path) -> str:
  who = f'another process ({holder})' if holder else 'another process'
  return (
    f'{who} is writing the run in {path.parent} (it holds the lock {path}); wait for it to '
    'end, or use another --workdir.'
  )


def _read_holder(fd: int) -> Optional[Holder]:
  """The holder written in the lock file; None when empty or unreadable."""
  try:
    text = os.pread(fd, 4096, 0).decode()
    info = json.loads(text)
    holder = Holder(int(info['pid']), str(info['host']))
  except (OSError, ValueError, KeyError, TypeError):
    return None
  return holder if holder.pid > 0 else None


def _write_holder(fd: int) -> None:
  text = json.dumps({'pid': os.getpid(), 'host': socket.gethostname()}).encode()
  os.ftruncate(fd, 0)
  os.pwrite(fd, text, 0)
