"""The run directory of a run being trained: preparing it, refusing to resume
another config's run, reconciling its records with its checkpoints when
resuming, and the orbax checkpoints.

(The files of the run record themselves are `infoflow.record`'s; the lock that
lets one process at a time write a run is lock.py's.) Every fault here (a
workdir that is a file or not writable, a corrupt metrics line, no readable
checkpoint) raises `RunDirError`, whose message names the path and says what
to do; `launch.train` prints it as one line.

Resuming never drops a record silently (`reconcile`): a torn last metrics
line (a crash mid-write), records missing for epochs a checkpoint has
passed, and a corrupt newest checkpoint are recovered from, with a warning:
the run goes back to a checkpoint from which the missing epochs can be redone
(docs/errors.md, "Reconciliation on resume"). Training is deterministic, so
the redone epochs give the records they gave the first time.

Several processes (`jax.distributed`): only process 0 reads and writes the
workdir (`writes_record`); its checkpoint manager is of that process alone
(`open_checkpoints`), and the runner sends the others what they need to
resume.
"""

from __future__ import annotations

import contextlib
import json
import os
import pathlib
import shutil
import sys
import tempfile
from typing import Any
from typing import Optional
from typing import Sequence

from absl import logging
import jax
import orbax.checkpoint as ocp

from infoflow import record as record_lib
from infoflow.configs import base as config_base

# Fields that may change between a run and its resumption.
RESUMABLE_CHANGES = ('log_every_epochs', 'checkpoint', 'writers')
CHECKPOINTS = 'checkpoints'  # the folder of the orbax checkpoints
# The key of run.json holding the whole config, as config.json does: the
# config of a run whose config.json is gone.
FULL_CONFIG = 'full_config'
# Changed values are shown in a config error when both print this short.
_SHORT = 30


class RunDirError(ValueError):
  """The run directory cannot be used; the message names the path."""


def writes_record() -> bool:
  """Whether this process writes the run directory: a single process does;
  of a multi-process JAX run (`jax.distributed`) only process 0 (the others
  compute the same records and write nothing)."""
  return jax.process_index() == 0


def prepare_workdir(workdir) -> pathlib.Path:
  """Creates `workdir` and checks that the run can write in it: the
  directory, and the files and folders of a run there (`unwritable`).

  Raises:
    RunDirError: it is a file, cannot be created, or it or a file of the
      run in it is not writable.
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
  blocked = unwritable(workdir)
  if blocked:
    raise RunDirError(
      f'{", ".join(map(str, blocked))} of the run in {workdir} '
      f'{"is" if len(blocked) == 1 else "are"} not writable; the run would stop when it first '
      'writes there. Fix the permissions (chmod u+w), or pass another --workdir.'
    )
  return workdir


def unwritable(workdir: pathlib.Path) -> list[pathlib.Path]:
  """The existing files of a run in `workdir` that it could not write:
  metrics.jsonl (appended to), the representations and checkpoint folders
  (files are made and deleted in them)."""
  files = [workdir / record_lib.METRICS]
  folders = [workdir / record_lib.REPRESENTATIONS, workdir / CHECKPOINTS]
  return [p for p in files if p.is_file() and not os.access(p, os.W_OK)] + [
    p for p in folders if p.is_dir() and not os.access(p, os.W_OK | os.X_OK)
  ]


def saved_config(workdir: pathlib.Path) -> Optional[dict]:
  """The config of the run in `workdir`: config.json, else the copy in
  run.json (`FULL_CONFIG`); None when neither holds one.

  Raises:
    RunDirError: config.json is not a JSON object.
  """
  path = workdir / record_lib.CONFIG
  if not path.exists():
    config = _run_info(workdir).get(FULL_CONFIG)
    return config if isinstance(config, dict) else None
  return record_lib.read_json_object(
    path, error=RunDirError, advice=f' Delete {workdir} to start over.'
  )


def config_changes(workdir: pathlib.Path, config) -> list[str]:
  """The fields in which the config of the run in `workdir` (`saved_config`)
  differs from `config`, besides the `RESUMABLE_CHANGES`: dotted paths to
  the values (`model.beta`), with the old and new value when both are short
  (`model.beta (0.05 -> 0.1)`). A field the saved config lacks is no change
  when the new value is its default (`configs.base.base_config`): the field
  was added to infoflow after the run was made, and the run behaved as the
  default does.

  Raises:
    RunDirError: config.json is not a JSON object, or neither config.json
      nor run.json holds the config.
  """
  old = saved_config(workdir)
  if old is None:
    raise RunDirError(
      f'neither {workdir / record_lib.CONFIG} nor {workdir / record_lib.RUN_INFO} holds the '
      'config of the run there.'
    )
  old, new = _leaves(old), _leaves(json.loads(config.to_json()))
  defaults = _leaves(json.loads(config_base.base_config().to_json()))
  for path in set(new) - set(old):
    if path in defaults and new[path] == defaults[path]:
      old[path] = new[path]
  return [
    _describe(path, old.get(path, _ABSENT), new.get(path, _ABSENT))
    for path in sorted(set(old) | set(new))
    if path.split('.')[0] not in RESUMABLE_CHANGES
    and old.get(path, _ABSENT) != new.get(path, _ABSENT)
  ]


_ABSENT = object()


def _leaves(tree, prefix: str = '') -> dict[str, Any]:
  """{dotted path: value} of the leaves of nested dicts (a list is a leaf)."""
  if not isinstance(tree, dict) or not tree:
    return {prefix: tree}
  leaves = {}
  for key, value in tree.items():
    leaves.update(_leaves(value, f'{prefix}.{key}' if prefix else str(key)))
  return leaves


def _describe(path: str, old, new) -> str:
  shown = ['absent' if v is _ABSENT else json.dumps(v) for v in (old, new)]
  if max(map(len, shown)) > _SHORT:
    return path
  return f'{path} ({shown[0]} -> {shown[1]})'


def check_same_config(workdir: pathlib.Path, config) -> None:
  """Refuses to resume a run in `workdir` under a different config.

  A workdir holds a run when it has records, checkpoints or representation
  files (`run_contents`); its config is config.json's, else run.json's copy
  (so deleting either does not hide it).

  Raises:
    RunDirError: the fields that differ, and what to do; or neither file
      says which config the run held.
  """
  held = run_contents(workdir)
  if not held:
    return
  if any(record_lib.is_old_layer_name(n) for n in _recorded_layers(workdir)):
    raise RunDirError(
      f'{workdir} holds a run from before the layer names T1.. / conv1..: '
      'its checkpoints do not load under this version. `launch.plot` still '
      'draws it (old names are mapped); to train, use another --workdir or '
      f'delete {workdir}.'
    )
  if saved_config(workdir) is None:
    raise RunDirError(
      f'{workdir} holds a run ({", ".join(held)}) but neither {record_lib.CONFIG} nor '
      f'{record_lib.RUN_INFO} says which config it ran; resuming could mix two experiments. '
      f'Use another --workdir, or delete {workdir} to start over.'
    )
  changed = config_changes(workdir, config)
  if changed:
    raise RunDirError(
      f'{workdir} holds a run with a different config (fields differing: '
      f'{", ".join(changed)}); resuming would mix two experiments. Use '
      f'another --workdir, or delete {workdir} to start over.'
    )


def run_contents(workdir: pathlib.Path) -> list[str]:
  """What in `workdir` belongs to a run: a non-empty metrics.jsonl, a
  non-empty checkpoints/ or representations/ (their names)."""
  metrics = workdir / record_lib.METRICS
  held = [record_lib.METRICS] if metrics.is_file() and metrics.stat().st_size else []
  for folder in (CHECKPOINTS, record_lib.REPRESENTATIONS):
    if (workdir / folder).is_dir() and any((workdir / folder).iterdir()):
      held.append(f'{folder}/')
  return held


def _run_info(workdir: pathlib.Path) -> dict:
  """run.json ({} when absent or unreadable: the run rewrites it)."""
  try:
    return record_lib.read_json_object(workdir / record_lib.RUN_INFO, error=RunDirError)
  except (OSError, RunDirError):
    return {}


def _recorded_layers(workdir: pathlib.Path) -> list[str]:
  """The layer names of run.json (none when it is absent or unreadable)."""
  layers = _run_info(workdir).get('layers')
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


def reconcile(
  workdir: pathlib.Path, keep: int, target: Any, epochs: Sequence[int], num_seeds: int
) -> tuple[ocp.CheckpointManager, int, Any, list[dict]]:
  """Where a run resumes: its records and checkpoints made consistent.

  The rule (docs/errors.md, "Reconciliation on resume"):
  1. The newest readable checkpoint N is restored (`restore_newest`:
     unreadable newer ones are deleted with a warning). The records of
     epochs after N are dropped (their epochs are redone); with no
     checkpoint at all, every record is, with a warning, and the run starts
     at epoch 0.
  2. An analysed epoch (of `epochs`) up to N lacking the record of some seed
     (a torn or deleted line, a deleted metrics.jsonl) is missing. With none
     missing the run resumes at N.
  3. Else, with M the earliest missing epoch, the run resumes from the
     newest readable checkpoint at or before M, or from epoch 0 and the
     fresh `target` states when none is left (orbax keeps `keep`); with a
     warning naming the missing epochs. The checkpoints after that point are
     deleted (each logged) and the records from M on dropped: the analysed
     epochs from M on are redone (M itself, when its checkpoint is the one
     restored, without training).
  Duplicate records of an (epoch, seed) keep the last, with a warning.

  Args:
    workdir: the run directory.
    keep: the checkpoints orbax keeps (`checkpoint.keep`).
    target: the fresh train states (the structure restored into).
    epochs: the analysed epochs of the run.
    num_seeds: the seeds each analysed epoch has a record of.

  Returns:
    `(checkpoint manager, epoch resumed at, its states, records kept)`.

  Raises:
    RunDirError: a corrupt metrics line, or checkpoints none of which reads.
  """
  directory = workdir / CHECKPOINTS
  records = _unique(read_records(workdir), workdir / record_lib.METRICS)
  manager, newest, states = restore_newest(directory, keep, target)
  if newest is None:
    if records:
      logging.warning(
        '%s has no checkpoint: the %d records of %s are dropped and redone from epoch 0.',
        directory,
        len(records),
        workdir / record_lib.METRICS,
      )
    return manager, 0, target, []
  after = [r for r in records if r['epoch'] > newest]
  if after:
    logging.info(
      'dropping the %d records after checkpoint %d; their epochs are redone.', len(after), newest
    )
  records = [r for r in records if r['epoch'] <= newest]
  missing = incomplete_epochs([e for e in epochs if e <= newest], records, num_seeds)
  if not missing:
    logging.info('resumed from epoch %d (%s)', newest, workdir)
    return manager, newest, states, records
  manager.close()
  manager, step, states = restore_newest(directory, keep, target, at_most=missing[0])
  logging.warning(
    '%s lacks records of analysed epoch(s) %s, which checkpoint %d has passed; '
    'redoing them from %s.',
    workdir / record_lib.METRICS,
    ', '.join(map(str, missing)),
    newest,
    f'checkpoint {step}'
    if step is not None
    else f'epoch 0: no checkpoint at or before epoch {missing[0]} is left (checkpoint.keep = '
    f'{keep}); training is deterministic, so the redone epochs equal the first ones',
  )
  delete_after(manager, directory, step)
  return manager, step or 0, states, [r for r in records if r['epoch'] < missing[0]]


def incomplete_epochs(epochs: Sequence[int], records: list[dict], num_seeds: int) -> list[int]:
  """Those of `epochs` lacking the record of some seed, in order."""
  seeds = {}
  for r in records:
    seeds.setdefault(r['epoch'], set()).add(r.get('seed', 0))
  return [e for e in epochs if not seeds.get(e, set()) >= set(range(num_seeds))]


def _unique(records: list[dict], path: pathlib.Path) -> list[dict]:
  """`records` sorted by (epoch, seed), the last of each kept (a warning
  when there were duplicates)."""
  unique = {(r['epoch'], r.get('seed', 0)): r for r in records}
  if len(unique) < len(records):
    logging.warning(
      '%s: %d duplicate (epoch, seed) records; keeping the last.', path, len(records) - len(unique)
    )
  return [unique[k] for k in sorted(unique)]


def open_checkpoints(directory: pathlib.Path, keep: int) -> ocp.CheckpointManager:
  """An orbax manager for `directory` that keeps the `keep` newest steps.

  Temporary directories of a save that was interrupted (`N.orbax-checkpoint-
  tmp-*`) are removed. Under multi-process JAX the manager is process 0's
  alone (orbax's `active_processes`: it waits for no other process), which
  saves host copies of its states (`runner.save_checkpoint`).
  """
  options = {}
  if jax.process_count() > 1:
    # orbax creates no directory for a subset of processes: made here.
    directory.mkdir(parents=True, exist_ok=True)
    options = dict(
      create=False,
      multiprocessing_options=ocp.options.MultiprocessingOptions(
        primary_host=0, active_processes={0}
      ),
    )
  return ocp.CheckpointManager(
    directory.absolute(),
    options=ocp.CheckpointManagerOptions(max_to_keep=keep, cleanup_tmp_directories=True, **options),
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
  directory: pathlib.Path, keep: int, target: Any, *, at_most: Optional[int] = None
) -> tuple[ocp.CheckpointManager, Optional[int], Any]:
  """Restores the newest readable checkpoint in `directory` (of a step at
  most `at_most`, when given) into the structure of `target`.

  Unreadable steps newer than the one restored are deleted, each with a
  warning naming it, so that the run redoes them. After a failed restore the
  orbax manager is reopened: the one that failed restores no other step.

  Returns:
    `(manager, step, state)`, or `(manager, None, target)` when there is no
    checkpoint (or, with `at_most`, none readable).

  Raises:
    RunDirError: without `at_most`, checkpoints exist but none is readable
      (nothing deleted).
  """
  manager = open_checkpoints(directory, keep)
  steps = sorted((s for s in manager.all_steps() if at_most is None or s <= at_most), reverse=True)
  errors = []
  for step in steps:
    state, error = _restore(manager, step, target)
    if error:
      errors.append(error)
      manager.close()
      manager = open_checkpoints(directory, keep)
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
    return manager, step, state
  if steps and at_most is None:
    raise RunDirError(
      f'no checkpoint in {directory} is readable (epochs '
      f'{", ".join(map(str, steps))}; the newest: {errors[0]}). Delete '
      f'{directory.parent} to start the run over.'
    )
  return manager, None, target


def delete_after(manager: ocp.CheckpointManager, directory: pathlib.Path, step: Optional[int]):
  """Deletes the checkpoints after `step` (all of them when None), each
  with a log line, so that the run can save those steps again."""
  newer = [s for s in manager.all_steps() if step is None or s > step]
  for s in sorted(newer):
    logging.info('deleting checkpoint %s: the run redoes its epoch.', directory / str(s))
    shutil.rmtree(directory / str(s))
  if newer:
    manager.reload()
