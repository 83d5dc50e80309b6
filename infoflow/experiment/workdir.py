"""The run directory of a run being trained: preparing it, refusing to resume
another config's run, its metrics for resuming, and the orbax checkpoints.

(The files of the run record themselves are `infoflow.record`'s.) Every
fault here (a workdir that is a file or not writable, a corrupt metrics
line, no readable checkpoint) raises `RunDirError`, whose message names the
path and says what to do; `launch.train` prints it as one line.
A torn last metrics line (a crash mid-write) and a corrupt newest checkpoint
are recovered from, with a warning: the run resumes from the newest
checkpoint that reads, dropping the records after it (docs/errors.md).
"""

from __future__ import annotations

import contextlib
import json
import pathlib
import shutil
import sys
import tempfile
from typing import Any
from typing import Optional

from absl import logging
import orbax.checkpoint as ocp

from infoflow import record as record_lib

# Fields that may change between a run and its resumption.
RESUMABLE_CHANGES = ('log_every_epochs', 'checkpoint', 'writers')
CHECKPOINTS = 'checkpoints'  # the folder of the orbax checkpoints


class RunDirError(ValueError):
  """The run directory cannot be used; the message names the path."""


def prepare_workdir(workdir) -> pathlib.Path:
  """Creates `workdir` and checks that files can be written in it.

  Raises:
    RunDirError: it is a file, cannot be created, or is not writable.
  """
  workdir = pathlib.Path(workdir).expanduser()
  if workdir.exists() and not workdir.is_dir():
    raise RunDirError(
      f'--workdir {workdir} is a file, not a directory; pass a directory (it is created if absent).'
    )
  try:
    workdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryFile(dir=workdir):
      pass
  except OSError as error:
    raise RunDirError(
      f'--workdir {workdir} is not a writable directory '
      f'({error.strerror or error}); pass another --workdir or fix its '
      'permissions.'
    ) from None
  return workdir


def config_changes(workdir: pathlib.Path, config) -> list[str]:
  """The config fields (top level) in which `workdir/config.json` differs
  from `config`, besides the `RESUMABLE_CHANGES`.

  Raises:
    RunDirError: config.json is not valid JSON.
  """
  saved = workdir / record_lib.CONFIG
  try:
    old = json.loads(saved.read_text())
  except json.JSONDecodeError as error:
    raise RunDirError(
      f'{saved} is not valid JSON ({error}); delete {workdir} to start over.'
    ) from None
  new = json.loads(config.to_json())
  return sorted(
    k for k in set(old) | set(new) if k not in RESUMABLE_CHANGES and old.get(k) != new.get(k)
  )


def check_same_config(workdir: pathlib.Path, config) -> None:
  """Refuses to resume a run in `workdir` under a different config.

  Raises:
    RunDirError: the fields that differ, and what to do.
  """
  if not (workdir / record_lib.CONFIG).exists() or not (workdir / CHECKPOINTS).exists():
    return
  if any(record_lib.is_old_layer_name(n) for n in _recorded_layers(workdir)):
    raise RunDirError(
      f'{workdir} holds a run from before the layer names T1.. / conv1..: '
      'its checkpoints do not load under this version. `launch.plot` still '
      'draws it (old names are mapped); to train, use another --workdir or '
      f'delete {workdir}.'
    )
  changed = config_changes(workdir, config)
  if changed:
    raise RunDirError(
      f'{workdir} holds a run with a different config (fields differing: '
      f'{", ".join(changed)}); resuming would mix two experiments. Use '
      f'another --workdir, or delete {workdir} to start over.'
    )


def _recorded_layers(workdir: pathlib.Path) -> list[str]:
  """The layer names of run.json (none when it is absent or unreadable: the
  run rewrites it)."""
  try:
    layers = json.loads((workdir / record_lib.RUN_INFO).read_text()).get('layers')
  except (OSError, json.JSONDecodeError, AttributeError):
    return []
  return list(layers) if isinstance(layers, dict) else []


def read_records(workdir: pathlib.Path) -> list[dict]:
  """The records of the run's metrics.jsonl ([] if absent).

  A torn last line (no final newline: a crash mid-write) is dropped with a
  warning, as `launch.plot` does.

  Raises:
    RunDirError: another line is not a JSON record; names file and line.
  """
  path = workdir / record_lib.METRICS
  if not path.exists():
    return []
  return record_lib.read_metrics(
    path,
    error=RunDirError,
    advice=' Fix or delete that line (its epoch is then redone), or delete the workdir '
    'to start over.',
  )


def open_checkpoints(directory: pathlib.Path, keep: int) -> ocp.CheckpointManager:
  """An orbax manager for `directory` that keeps the `keep` newest steps.

  Temporary directories of a save that was interrupted (`N.orbax-checkpoint-
  tmp-*`) are removed.
  """
  return ocp.CheckpointManager(
    directory.absolute(),
    options=ocp.CheckpointManagerOptions(max_to_keep=keep, cleanup_tmp_directories=True),
  )


def _first_line(error: Exception, limit: int = 200) -> str:
  text = (str(error).strip().splitlines() or [type(error).__name__])[0]
  return text if len(text) <= limit else text[:limit] + '...'


@contextlib.contextmanager
def _closed_event_loop_errors_dropped():
  """Drops the 'Event loop is closed' errors that tensorstore callbacks
  report (through `sys.unraisablehook`, as tracebacks) after a failed
  restore: the one-line warning says it all."""
  previous = sys.unraisablehook

  def hook(unraisable):
    error = unraisable.exc_value
    if not (isinstance(error, RuntimeError) and 'Event loop is closed' in str(error)):
      previous(unraisable)

  sys.unraisablehook = hook
  try:
    yield
  finally:
    sys.unraisablehook = previous


def _restore(manager, step, target):
  """`(state, None)`, or `(None, a one-line description of the error)`."""
  with _closed_event_loop_errors_dropped():
    try:
      return manager.restore(step, args=ocp.args.StandardRestore(target)), None
    except Exception as error:  # pylint: disable=broad-except
      # orbax and tensorstore raise ValueError, OSError, KeyError, ...
      return None, f'{type(error).__name__}: {_first_line(error)}'


def restore_newest(
  manager: ocp.CheckpointManager, target: Any, directory: pathlib.Path
) -> tuple[Optional[int], Any]:
  """Restores the newest readable checkpoint into the structure of `target`.

  Unreadable steps (truncated or missing files) newer than the one restored
  are deleted, each with a warning naming it, so that the run redoes them.

  Returns:
    `(step, state)`, or `(None, target)` when there is no checkpoint.

  Raises:
    RunDirError: checkpoints exist but none is readable (nothing deleted).
  """
  steps = sorted(manager.all_steps(), reverse=True)
  errors = []
  for step in steps:
    state, error = _restore(manager, step, target)
    if error:
      errors.append(error)
      continue
    for bad, error in zip(steps, errors):
      logging.warning(
        'checkpoint %s is unreadable (%s); deleted it, resuming from epoch %d.',
        directory / str(bad),
        error,
        step,
      )
      shutil.rmtree(directory / str(bad))
    if errors:
      manager.reload()
    return step, state
  if steps:
    raise RunDirError(
      f'no checkpoint in {directory} is readable (epochs '
      f'{", ".join(map(str, steps))}; the newest: {errors[0]}). Delete '
      f'{directory.parent} to start the run over.'
    )
  return None, target
