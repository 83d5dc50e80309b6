"""Tests of the run directory (infoflow.experiment.workdir): the workdir,
metrics.jsonl when resuming and the checkpoints, with their faults, through
a run."""

import os
import re
import shutil

import helpers
import pytest

from infoflow import experiment


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
