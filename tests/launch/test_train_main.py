"""Tests of the training command (launch/train.py): flags, one-line errors,
a real process on two CPU devices, a real process killed and resumed."""

import json
import os
import signal
import subprocess
import sys
import time

import helpers
import pytest

from infoflow import configs
from infoflow import experiment
from infoflow.experiment import lock
from infoflow.experiment import setup
from launch import train


def test_a_real_process_on_two_cpu_devices_and_its_one_line_error(tmp_path):
  """--cpu_devices takes effect only in a fresh process; a bad config name
  ends the process with one line listing what exists."""
  bad = helpers.run_main('train', '--config=nope')
  helpers.assert_one_line_error(bad, 'launch.train', "unknown config 'nope'", 'available:')
  # Two seeds spread over two CPU devices (--cpu_devices), `--config NAME`.
  ok = helpers.run_main(
    'train',
    '--config',
    'tiny',
    '--config.num_epochs=2',
    '--config.num_seeds=2',
    '--cpu_devices=2',
    '--config.analysis.num_points=2',
    '--config.analysis.clustering=False',
    '--config.analysis.num_eval_inputs=64',
    f'--workdir={tmp_path}',
  )
  assert ok.returncode == 0, ok.stderr[-2000:]
  assert f'outputs in {tmp_path}' in ok.stdout
  config = json.loads((tmp_path / 'config.json').read_text())
  assert config['num_epochs'] == 2 and not config['analysis']['clustering']
  assert len(json.loads((tmp_path / 'run.json').read_text())['devices']) == 2
  records = [json.loads(x) for x in (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert [(r['epoch'], r['seed']) for r in records] == [(0, 0), (0, 1), (2, 0), (2, 1)]
  assert 'clustering' not in records[0] and 'binning' in records[0]
  assert records[2]['train'] != records[3]['train']  # independent seeds


def test_unknown_config_field_lists_the_fields(monkeypatch):
  monkeypatch.setattr(sys, 'argv', ['train', '--config=tiny', '--config.num_epoch=3'])
  with pytest.raises(SystemExit) as info:
    train.run()
  assert str(info.value.code).startswith(
    "launch.train: error: unknown config field 'num_epoch' in config 'tiny': no field or group "
    "'num_epoch'; fields: "
  )
  assert 'num_epochs' in str(info.value.code)


@pytest.mark.parametrize('value', ['', '/nonexistent.py'])
def test_empty_or_path_config_is_the_unknown_config_error(monkeypatch, value):
  """Issue 22 row 16: one line listing the configs, not ml_collections' traceback."""
  monkeypatch.setattr(sys, 'argv', ['train', f'--config={value}'])
  with pytest.raises(SystemExit) as info:
    train.run()
  assert str(info.value.code).startswith(f'launch.train: error: unknown config {value!r}')
  assert 'available: ' in str(info.value.code) and 'tiny' in str(info.value.code)


@pytest.mark.parametrize(
  'override, message',
  [
    # Issue 22 row 6: it trained, wrote the run, then the estimator's traceback.
    ('analysis.num_mc=1', 'analysis.num_mc must be 0 (adaptive) or an integer >= 2'),
    ('analysis.max_mc=1', 'analysis.max_mc must be an integer >= 2'),
    ('analysis.num_mc_conditional=1', 'analysis.num_mc_conditional must be an integer >= 2'),
    # Issue 22 row 9: it ran seed 5 (JAX keys keep 32 bits) and recorded 4294967301.
    ('seed=4294967301', 'seed must be an integer in [0, 2**32)'),
    # Issue 22 row 20: the default workdir runs/<name> must stay under runs/.
    ('name=../escaped', 'name must be a plain name'),
  ],
)
def test_bad_count_seed_or_name_is_refused_before_anything_is_written(
  tmp_path, monkeypatch, call_main, override, message
):
  monkeypatch.chdir(tmp_path)  # the default workdir, runs/<name>, lies here
  error = call_main(train, '--config=tiny', f'--config.{override}')
  assert error.startswith(f'launch.train: error: config field {message}'), error
  assert list(tmp_path.iterdir()) == []


def test_negative_num_epochs_is_refused(tmp_path, call_main):
  """Item 6: a one-line error naming the field, before anything is written."""
  with pytest.raises(ValueError, match='num_epochs'):
    setup.analysis_epochs(-5, 3)
  workdir = tmp_path / 'w'
  with pytest.raises(configs.ConfigError, match='num_epochs must be >= 0'):
    experiment.train_and_analyse(helpers.tiny_config(num_epochs=-5), workdir)
  assert not workdir.exists()
  error = call_main(train, '--config=tiny', '--config.num_epochs=-5', f'--workdir={workdir}')
  assert error.startswith('launch.train: error: config field num_epochs'), error
  assert '--config.num_epochs=' in error
  assert not workdir.exists()


def test_workdir_that_is_a_file_is_a_one_line_error(tmp_path, call_main):
  """Item 12: the path named, nothing written."""
  a_file = tmp_path / 'file'
  a_file.write_text('x')
  error = call_main(train, '--config=tiny', f'--workdir={a_file}')
  assert error == (
    f'launch.train: error: --workdir {a_file} is a file, not a directory; pass a '
    'directory (it is created if absent).'
  )


def test_a_workdir_another_run_writes_is_a_one_line_error(tmp_path, call_main):
  """Issue 22 row 1: a second `launch.train` on a workdir in use wrote every
  record a second time. It stops before writing anything, naming the pid of
  the process that writes there (here this one: a lock is held once, even
  within a process) and the lock file."""
  with lock.hold(tmp_path):
    error = call_main(train, '--config=tiny', f'--workdir={tmp_path}')
  assert error == (
    f'launch.train: error: another process (pid {os.getpid()}) is writing the run in {tmp_path} '
    f'(it holds the lock {tmp_path / lock.LOCK}); wait for it to end, or use another --workdir.'
  )
  assert list(tmp_path.iterdir()) == []


def _kill_9_after_first_checkpoint(workdir, overrides):
  """Runs `launch.train --config=tiny` with `overrides` (field: value) and
  SIGKILLs it as soon as its first checkpoint exists."""
  args = [f'--config.{k}={v}' for k, v in overrides.items()]
  process = subprocess.Popen(
    [sys.executable, '-m', 'launch.train', '--config=tiny', *args, f'--workdir={workdir}'],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
  )
  try:
    deadline = time.time() + 240
    while not (workdir / 'checkpoints' / '0').is_dir():
      assert process.poll() is None, 'the run ended before its checkpoint'
      assert time.time() < deadline, 'no checkpoint after 240 s'
      time.sleep(0.02)
  finally:
    process.kill()  # SIGKILL: no cleanup of any kind
    process.wait()
  assert process.returncode == -signal.SIGKILL


def _assert_resumes_to(workdir, config, uninterrupted):
  resumed = experiment.train_and_analyse(config, workdir)
  assert helpers.without_time(resumed) == helpers.without_time(uninterrupted)
  lines = (workdir / 'metrics.jsonl').read_text().splitlines()
  assert helpers.without_time([json.loads(x) for x in lines]) == helpers.without_time(uninterrupted)
  assert not [p for p in (workdir / 'checkpoints').iterdir() if 'tmp' in p.name]


_TINY_OVERRIDES = {
  'num_seeds': 2,
  'num_epochs': 12,
  'analysis.num_points': 3,
  'analysis.num_eval_inputs': 128,
}


def test_kill_9_then_resume_gives_the_uninterrupted_records(tmp_path):
  """A real `launch.train` process killed (SIGKILL) right after its first
  checkpoint, then resumed, gives the records of an uninterrupted run.

  Fast: a deterministic net without clustering or binning (their compiles
  dominate a tiny run); the noisy net is the slow test below.
  """
  overrides = dict(
    _TINY_OVERRIDES, **{'model.beta': 0.0, 'analysis.clustering': False, 'analysis.binning': False}
  )
  _kill_9_after_first_checkpoint(tmp_path / 'killed', overrides)
  config = helpers.tiny_config(**overrides)
  uninterrupted = experiment.train_and_analyse(config, tmp_path / 'whole')
  _assert_resumes_to(tmp_path / 'killed', config, uninterrupted)


@pytest.mark.slow
def test_kill_9_of_a_noisy_run_then_resume(finished_run, tmp_path):
  """As above for the noisy tiny net with every analysis (about a minute)."""
  _kill_9_after_first_checkpoint(tmp_path, _TINY_OVERRIDES)
  _assert_resumes_to(tmp_path, helpers.tiny_config(num_seeds=2), finished_run[1])
