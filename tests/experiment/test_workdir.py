"""Tests of the run directory (infoflow.experiment.workdir): the workdir,
metrics.jsonl when resuming and the checkpoints, with their faults, through
a run."""

import json
import logging
import os
import pathlib
import re
import shutil

import helpers
import pytest

from infoflow import experiment
from infoflow.experiment import lock
from infoflow.experiment import workdir as workdir_lib


def test_resume_refuses_a_different_config(finished_run):
  workdir, _ = finished_run
  with pytest.raises(ValueError, match='fields differing: .*num_epochs'):
    experiment.train_and_analyse(helpers.tiny_config(num_seeds=2, num_epochs=13), workdir)


def _copy_of_finished_run(finished_run, tmp_path):
  workdir, records = finished_run
  copy = tmp_path / 'run'
  shutil.copytree(workdir, copy)
  return copy, records


def test_corrupt_latest_checkpoint_falls_back_exactly(finished_run, tmp_path, caplog):
  """Item 7: the newest readable checkpoint is used, with a warning naming
  the bad one, and the records are those of the uninterrupted run."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  checkpoints = workdir / 'checkpoints'
  assert sorted(int(p.name) for p in checkpoints.iterdir()) == [0, 1, 12]
  for path in (checkpoints / '12' / 'default' / 'd').iterdir():
    os.truncate(path, 10)
  records = experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  assert helpers.without_time(records) == helpers.without_time(uninterrupted)
  assert f'checkpoint {checkpoints / "12"} is unreadable' in caplog.text
  assert 'resuming from epoch 1' in caplog.text
  # Checkpoint 12 was rewritten: a rerun restores it without a warning.
  caplog.clear()
  again = experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  assert helpers.without_time(again) == helpers.without_time(uninterrupted)
  assert 'unreadable' not in caplog.text
  # No readable checkpoint at all: a one-line error, nothing deleted.
  for step in ('0', '1', '12'):
    (checkpoints / step / 'default' / '_METADATA').write_text('{"tree')
  with pytest.raises(experiment.RunDirError, match=f'no checkpoint in {checkpoints} is readable'):
    experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  assert sorted(p.name for p in checkpoints.iterdir()) == ['0', '1', '12']


def test_torn_last_metrics_line_is_dropped(finished_run, tmp_path, caplog):
  """Item 8: a torn last line is dropped with a warning naming the file; a
  corrupt line elsewhere is an error naming file and line."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  metrics = workdir / 'metrics.jsonl'
  lines = metrics.read_text().splitlines()
  metrics.write_text('\n'.join(lines) + '\n{"epoch": 12, "se')
  records = experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  assert helpers.without_time(records) == helpers.without_time(uninterrupted)
  assert f'{metrics}: dropping the incomplete last line 7' in caplog.text
  assert metrics.read_text() == '\n'.join(lines) + '\n'
  metrics.write_text('\n'.join([lines[0], '{oops'] + lines[1:]) + '\n')
  with pytest.raises(experiment.RunDirError, match=re.escape(f'{metrics}, line 2: invalid JSON')):
    experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)


def test_workdir_that_is_a_file_or_not_writable(tmp_path):
  """Item 12: a one-line error naming the path, nothing written."""
  a_file = tmp_path / 'file'
  a_file.write_text('x')
  with pytest.raises(experiment.RunDirError, match=f'--workdir {a_file} is a file'):
    experiment.train_and_analyse(helpers.tiny_config(), a_file)
  below = a_file / 'run'
  with pytest.raises(
    experiment.RunDirError, match=f'--workdir {below} is not a writable directory'
  ):
    experiment.train_and_analyse(helpers.tiny_config(), below)
  locked = tmp_path / 'locked'
  locked.mkdir(mode=0o500)
  if os.access(locked, os.W_OK):  # root writes anywhere
    pytest.skip('running as root: permissions do not stop writes')
  with pytest.raises(experiment.RunDirError, match=f'{locked} is not a writable directory'):
    experiment.train_and_analyse(helpers.tiny_config(), locked)


def test_resume_removes_temporary_directory_of_interrupted_save(finished_run, tmp_path):
  """Item 13: orbax's `N.orbax-checkpoint-tmp-*` of a save cut short is
  removed on resume, and never mistaken for a checkpoint."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  checkpoints = workdir / 'checkpoints'
  tmp = checkpoints / '13.orbax-checkpoint-tmp-1733000000000000'
  shutil.copytree(checkpoints / '12', tmp)
  (tmp / 'default' / '_METADATA').write_text('{"tr')  # cut mid-write
  records = experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  assert helpers.without_time(records) == helpers.without_time(uninterrupted)
  assert sorted(p.name for p in checkpoints.iterdir()) == ['0', '1', '12']


def test_run_from_before_the_layer_names_is_refused_clearly(finished_run, tmp_path):
  """A workdir whose run.json names layers noise_k (older releases) cannot
  resume: its checkpoints' parameter names differ. Say so, naming it."""
  workdir, _ = _copy_of_finished_run(finished_run, tmp_path)
  info = workdir / 'run.json'
  info.write_text(re.sub(r'"T(\d+)"', lambda m: f'"noise_{int(m.group(1)) - 1}"', info.read_text()))
  with pytest.raises(experiment.RunDirError, match='before the layer names'):
    experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)


# ------------------------------------------- reconciliation on resume (issue 22)


def _lock_is_released(workdir):
  return not (workdir / lock.LOCK).exists()


def test_torn_record_of_a_checkpointed_epoch_is_redone(finished_run, tmp_path, caplog):
  """Issue 22 row 2: the torn last line was the record of an epoch whose
  checkpoint exists: it was dropped and never redone. Its epoch is
  re-analysed from that checkpoint (no training), giving the same record."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  metrics = workdir / 'metrics.jsonl'
  metrics.write_text(metrics.read_text()[:-20])  # epoch 12, seed 1, torn
  records = experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  assert helpers.without_time(records) == helpers.without_time(uninterrupted)
  lines = [json.loads(x) for x in metrics.read_text().splitlines()]
  assert helpers.without_time(lines) == helpers.without_time(uninterrupted)
  assert 'lacks records of analysed epoch(s) 12, which checkpoint 12 has passed' in caplog.text
  assert 'redoing them from checkpoint 12.' in caplog.text
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()) == ['0', '1', '12']
  assert _lock_is_released(workdir)


def test_deleted_metrics_are_redone_from_the_first_checkpoint(finished_run, tmp_path, caplog):
  """Issue 22 row 3: with metrics.jsonl deleted the rerun wrote it empty and
  said nothing. Every analysed epoch is redone, from checkpoint 0, and the
  newer checkpoints are saved again."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  (workdir / 'metrics.jsonl').unlink()
  caplog.set_level(logging.INFO, logger='absl')
  records = experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  assert helpers.without_time(records) == helpers.without_time(uninterrupted)
  assert 'lacks records of analysed epoch(s) 0, 1, 12' in caplog.text
  assert 'redoing them from checkpoint 0.' in caplog.text
  assert f'deleting checkpoint {workdir / "checkpoints" / "12"}' in caplog.text
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()) == ['0', '1', '12']


def test_missing_records_without_a_checkpoint_before_them_restart_at_epoch_0(
  finished_run, tmp_path, caplog
):
  """Issue 22 rows 2-3: records missing for an epoch that no kept checkpoint
  precedes (orbax keeps `checkpoint.keep`): the run trains again from the
  fresh states (deterministic), keeps the records before that epoch and
  redoes the others."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  metrics = workdir / 'metrics.jsonl'
  lines = metrics.read_text().splitlines(keepends=True)
  metrics.write_text(''.join(lines[:2] + lines[3:]))  # epoch 1, seed 0
  for step in ('0', '1'):
    shutil.rmtree(workdir / 'checkpoints' / step)
  seen = []
  records = experiment.train_and_analyse(
    helpers.tiny_config(num_seeds=2), workdir, on_record=seen.append
  )
  assert helpers.without_time(records) == helpers.without_time(uninterrupted)
  assert [(r['epoch'], r['seed']) for r in seen] == [(1, 0), (1, 1), (12, 0), (12, 1)]
  assert 'no checkpoint at or before epoch 1 is left (checkpoint.keep = 3)' in caplog.text
  assert sorted(p.name for p in (workdir / 'checkpoints').iterdir()) == ['1', '12']


def test_records_without_any_checkpoint_are_redone_with_a_warning(finished_run, tmp_path, caplog):
  """Deleted checkpoints/: the records cannot be continued; they are
  dropped, saying so, and the run starts at epoch 0 (no longer silently)."""
  workdir, _ = _copy_of_finished_run(finished_run, tmp_path)
  shutil.rmtree(workdir / 'checkpoints')
  _, start, states, records = workdir_lib.reconcile(workdir, 3, 'fresh states', [0, 1, 12], 2)
  assert (start, states, records) == (0, 'fresh states', [])
  assert 'has no checkpoint: the 6 records of' in caplog.text


def test_a_bad_newest_checkpoint_dir_does_not_hide_the_others(finished_run, tmp_path, caplog):
  """Issue 22 row 5: an empty newest checkpoint directory made every
  checkpoint unreadable (one failed orbax restore spoiled the manager). The
  bad ones, an empty and a partial one, are deleted with a warning, and the
  run resumes from checkpoint 12."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  checkpoints = workdir / 'checkpoints'
  (checkpoints / '999').mkdir()
  shutil.copytree(checkpoints / '12', checkpoints / '13')
  (checkpoints / '13' / 'default' / '_METADATA').unlink()
  records = experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  assert helpers.without_time(records) == helpers.without_time(uninterrupted)
  for bad in ('999', '13'):
    assert f'checkpoint {checkpoints / bad} is unreadable' in caplog.text
  assert sorted(p.name for p in checkpoints.iterdir()) == ['0', '1', '12']


# ------------------------------------------------ the config of a run (issue 22)


def test_a_deleted_config_json_does_not_hide_the_runs_config(finished_run, tmp_path):
  """Issue 22 row 4: without config.json another config resumed the old
  checkpoints; without checkpoints/ it discarded the old records. Either
  way the different-config error now, naming each field changed."""
  other = helpers.tiny_config(**{'num_seeds': 2, 'num_epochs': 8, 'optimizer.learning_rate': 0.5})
  changes = 'fields differing: num_epochs (12 -> 8), optimizer.learning_rate (0.01 -> 0.5)'
  workdir, _ = _copy_of_finished_run(finished_run, tmp_path)
  (workdir / 'config.json').unlink()
  with pytest.raises(experiment.RunDirError, match=re.escape(changes)):
    experiment.train_and_analyse(other, workdir)
  assert not (workdir / 'config.json').exists()
  workdir, _ = _copy_of_finished_run(finished_run, tmp_path / 'b')
  shutil.rmtree(workdir / 'checkpoints')
  with pytest.raises(experiment.RunDirError, match=re.escape(changes)):
    experiment.train_and_analyse(other, workdir)
  (workdir / 'config.json').unlink()
  (workdir / 'run.json').unlink()
  unknown = (
    f'{workdir} holds a run (metrics.jsonl, representations/) but neither config.json nor '
    'run.json says which config it ran'
  )
  with pytest.raises(experiment.RunDirError, match=re.escape(unknown)):
    experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)


def test_config_changes_name_the_leaf_fields(tmp_path):
  """Issue 22, also seen: the error named only the top group ('model')."""
  saved = helpers.tiny_config()
  (tmp_path / 'config.json').write_text(saved.to_json())
  config = helpers.tiny_config(
    **{
      'model.beta': 0.1,
      'model.widths': (8,) * 12,  # too long to show
      'checkpoint.keep': 5,  # a resumable change
    }
  )
  assert workdir_lib.config_changes(tmp_path, config) == [
    'model.beta (0.05 -> 0.1)',
    'model.widths',
  ]


def test_a_field_added_since_the_run_is_no_change_at_its_default(tmp_path):
  """A run made before a config field existed (saved without it) is the
  same run when the field keeps its default; another value is a change."""
  saved = json.loads(helpers.tiny_config().to_json())
  del saved['model']['readout']
  (tmp_path / 'config.json').write_text(json.dumps(saved))
  assert workdir_lib.config_changes(tmp_path, helpers.tiny_config()) == []
  changed = helpers.tiny_config(**{'model.readout': False})
  assert workdir_lib.config_changes(tmp_path, changed) == ['model.readout (absent -> false)']


# ------------------------------------------------ files the run cannot write (issue 22)


def test_unwritable_run_files_are_refused_before_training(finished_run, tmp_path, monkeypatch):
  """Issue 22 row 19: a read-only metrics.jsonl or representations/ gave a
  PermissionError traceback after the epoch was trained again. Checked up
  front now (os.access stands in for the permissions: the tests may run as
  root, who writes anywhere)."""
  workdir, _ = _copy_of_finished_run(finished_run, tmp_path)
  metrics = workdir / 'metrics.jsonl'
  metrics.write_text(metrics.read_text()[:-20])  # work to do
  before = metrics.read_text()
  denied = {metrics, workdir / 'representations'}
  access = os.access
  monkeypatch.setattr(
    os, 'access', lambda path, mode, **kw: pathlib.Path(path) not in denied and access(path, mode)
  )
  assert workdir_lib.unwritable(workdir) == sorted(denied)
  message = (
    f'{metrics}, {workdir / "representations"} of the run in {workdir} are not writable; the run '
    'would stop when it first writes there. Fix the permissions (chmod u+w), or pass another '
    '--workdir.'
  )
  with pytest.raises(experiment.RunDirError) as info:
    experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  assert str(info.value) == message
  assert metrics.read_text() == before
