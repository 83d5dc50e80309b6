"""Tests of training (infoflow.train), the runner (launch.runner) and the
launcher (launch.train)."""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from infoflow import models
from infoflow import train as train_lib
from launch import configs
from launch import experiment
from launch import progress as progress_lib
from launch import run_files
from launch import runner
from launch.configs import common as config_common


def _tiny_config(**overrides):
  config = configs.get_config('tiny')
  config.num_epochs = 12
  config.analysis.num_points = 3
  config.analysis.num_eval_inputs = 128
  for key, value in overrides.items():
    target = config
    *parents, leaf = key.split('.')
    for p in parents:
      target = target[p]
    target[leaf] = value
  return config


@pytest.fixture(scope='module')
def finished_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('full')
  records = runner.train_and_analyse(_tiny_config(num_seeds=2), workdir)
  return workdir, records


def _without_time(records):
  return [{k: v for k, v in r.items() if k != 'wall_time'} for r in records]


def test_tiny_run_end_to_end(finished_run):
  workdir, records = finished_run
  lines = (workdir / 'metrics.jsonl').read_text().splitlines()
  assert [json.loads(line) for line in lines] == records
  run = json.loads((workdir / 'run.json').read_text())
  epochs = run['analysis_epochs']
  assert epochs[0] == 0 and epochs[-1] == 12
  assert [(r['epoch'], r['seed']) for r in records] == [
      (e, s) for e in epochs for s in (0, 1)]
  first = [r for r in records if r['epoch'] == 0]
  last = [r for r in records if r['epoch'] == 12]
  for a, b in zip(first, last):
    assert b['train']['loss'] < a['train']['loss']  # the loss falls
  # Two seeds are two different networks.
  assert last[0]['train']['loss'] != last[1]['train']['loss']
  for r in records:
    for name in ('T1', 'T2'):
      mi, stderr = r['information'][name]['mi_input']
      assert 0 <= mi <= np.log(128) + 4 * stderr and stderr >= 0
      assert len(r['information'][name]['mi_label']) == 2
      assert len(r['binning'][name]['entropy']) == 3
      assert 0 <= r['clustering'][name]['knn_agreement'] <= 1
    for split in ('train', 'test'):
      assert set(r[split]) == {'loss', 'accuracy', 'loss_noisy',
                               'accuracy_noisy'}
  saved = np.load(workdir / 'representations' / 'epoch_000012.npz')
  assert saved['T2'].shape == (128, 2) and saved['labels'].shape == (128,)
  assert json.loads((workdir / 'config.json').read_text())['name'] == 'tiny'


def test_resume_reproduces_uninterrupted_run(finished_run, tmp_path):
  _, uninterrupted = finished_run

  class Interrupt(Exception):
    pass

  def stop_after_first_epoch(record):
    if record['epoch'] >= 1 and record['seed'] == 1:
      raise Interrupt

  config = _tiny_config(num_seeds=2)
  with pytest.raises(Interrupt):
    runner.train_and_analyse(config, tmp_path,
                             on_record=stop_after_first_epoch)
  # The interruption came after the epoch-1 records but before their
  # checkpoint: the rerun resumes at epoch 0 and redoes epoch 1.
  resumed = runner.train_and_analyse(config, tmp_path)
  assert _without_time(resumed) == _without_time(uninterrupted)
  lines = (tmp_path / 'metrics.jsonl').read_text().splitlines()
  assert _without_time([json.loads(x) for x in lines]) == _without_time(
      uninterrupted)


def test_analysis_epochs_are_log_spaced():
  epochs = experiment.analysis_epochs(10_000, 90)
  assert epochs[0] == 0 and epochs[-1] == 10_000
  assert 80 <= len(epochs) <= 91
  assert epochs == sorted(set(epochs))
  ratios = np.diff(np.log(np.array(epochs[20:], float)))
  assert ratios.max() < 3 * ratios.min()


def test_orthonormality_step():
  rng = np.random.default_rng(0)
  kernel = jnp.asarray(rng.normal(size=(6, 4)) * 0.5, jnp.float32)
  params = {'T1_weights': {'kernel': kernel, 'bias': jnp.ones(4)},
            'output': {'kernel': kernel, 'bias': jnp.ones(4)}}
  deviation = lambda k: float(jnp.linalg.norm(k.T @ k - jnp.eye(4)))
  before = deviation(kernel)
  for _ in range(200):
    params = train_lib.orthonormalize(params, 0.1)
  assert deviation(params['T1_weights']['kernel']) < 1e-3 < before
  # The output layer is not regularised, nor are biases.
  np.testing.assert_array_equal(params['output']['kernel'], kernel)
  np.testing.assert_array_equal(params['T1_weights']['bias'], jnp.ones(4))
  orthonormal = jnp.eye(6, 4)
  same = train_lib.orthonormalize({'T2_weights': {'kernel': orthonormal}}, 0.3)
  np.testing.assert_allclose(same['T2_weights']['kernel'], orthonormal,
                             atol=1e-6)


def test_train_epochs_fits_minimal_lrelu_regression():
  model = models.MLP(widths=(1, 1), num_outputs=1, activation='leaky_relu',
                     beta=0.01)
  optimizer = train_lib.make_optimizer('adam', 0.02)
  x = jnp.arange(1.0, 9.0)[:, None]
  targets = jnp.where(x > 4.5, 0.25, 0.0)
  labels = (x[:, 0] > 4.5).astype(jnp.int32)
  state = train_lib.init_state(jax.random.key(0), model, optimizer, x[:1])
  train_epochs = jax.jit(train_lib.make_train_epochs(
      model, optimizer, loss='mse', batch_size=8))
  evaluate = jax.jit(train_lib.make_evaluate(model, loss='mse'))
  values = jnp.array([0.0, 0.25])
  before = evaluate(state.params, x, targets, labels, jax.random.key(1),
                    values)
  state = train_epochs(state, x, targets, 1500)
  after = evaluate(state.params, x, targets, labels, jax.random.key(1),
                   values)
  assert int(state.epoch) == 1500 and int(state.step) == 1500
  assert float(after['loss']) < 0.1 * float(before['loss'])
  assert float(after['accuracy']) == 1.0


def test_config_names_and_overrides():
  names = configs.available()
  for required in ('minimal_tanh', 'minimal_lrelu', 'szt', 'szt_relu',
                   'szt_orthonormal', 'szt_deterministic', 'mnist',
                   'mnist_deterministic'):
    assert required in names
    assert configs.get_config(required).name == required
  argv = configs.resolve_argv(['prog', '--config=szt',
                               '--config.optimizer.learning_rate=1e-3'])
  assert argv[1].endswith('szt.py') and argv[2].endswith('=1e-3')
  spaced = configs.resolve_argv(['prog', '--config', 'szt_relu',
                                 '--config.num_epochs=5'])
  assert spaced[1].endswith('szt_relu.py') and len(spaced) == 3
  with pytest.raises(ValueError, match='available:'):
    configs.resolve_argv(['prog', '--config', 'nope'])
  with pytest.raises(ValueError, match='available: .*szt_relu'):
    configs.resolve_argv(['prog', '--config=nope'])
  with pytest.raises(ValueError, match='fields of optimizer: .*learning_rate'):
    configs.resolve_argv(['prog', '--config=szt',
                          '--config.optimizer.learnin_rate=1'])
  with pytest.raises(ValueError, match='unknown optimizer'):
    train_lib.make_optimizer('adagrad2', 0.1)


def test_launcher_command_line(tmp_path):
  def launch(*args):
    return subprocess.run([sys.executable, '-m', 'launch.train', *args],
                          capture_output=True, text=True, timeout=300)

  bad = launch('--config=nope')
  assert bad.returncode != 0 and 'available:' in bad.stderr
  bad_field = launch('--config=tiny', '--config.num_epoch=3')
  assert bad_field.returncode != 0 and 'num_epochs' in bad_field.stderr
  # Two seeds spread over two CPU devices (--cpu_devices), `--config NAME`.
  ok = launch('--config', 'tiny', '--config.num_epochs=2',
              '--config.num_seeds=2', '--cpu_devices=2',
              '--config.analysis.num_points=2',
              '--config.analysis.clustering=False',
              '--config.analysis.num_eval_inputs=64',
              f'--workdir={tmp_path}')
  assert ok.returncode == 0, ok.stderr[-2000:]
  config = json.loads((tmp_path / 'config.json').read_text())
  assert config['num_epochs'] == 2 and not config['analysis']['clustering']
  assert len(json.loads((tmp_path / 'run.json').read_text())['devices']) == 2
  records = [json.loads(x) for x in
             (tmp_path / 'metrics.jsonl').read_text().splitlines()]
  assert [(r['epoch'], r['seed']) for r in records] == [(0, 0), (0, 1),
                                                        (2, 0), (2, 1)]
  assert 'clustering' not in records[0] and 'binning' in records[0]
  assert records[2]['train'] != records[3]['train']  # independent seeds


def test_plot_command_on_a_real_run(finished_run, tmp_path):
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')
  from launch import plot  # pylint: disable=g-import-not-at-top
  workdir, _ = finished_run
  written, skipped = plot.write_figures(workdir, tmp_path / 'figures')
  stems = {p.stem for p in written}
  for expected in ('training_curves', 'information_curves',
                   'information_plane', 'binned_entropy', 'clustering'):
    assert expected in stems, (expected, skipped)
  assert any(s.startswith('cosine_similarity') for s in stems)
  assert any(s.startswith('scatter') for s in stems)
  for path in written:
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert path.stat().st_size > 1000


def test_step_by_step_noise_for_large_nets(monkeypatch):
  """Past the epoch-noise budget (conv nets) noise is drawn per step."""
  monkeypatch.setattr(train_lib, '_EPOCH_NOISE_BUDGET', 0)
  images = jnp.asarray(np.random.default_rng(0).uniform(size=(16, 8, 8, 1)),
                       jnp.float32)
  # A learnable label (brighter than the median image) and a gentle rate, so
  # the loss falls for any noise and shuffle stream.
  brightness = images.mean(axis=(1, 2, 3))
  labels = (brightness > jnp.median(brightness)).astype(jnp.int32)
  model = models.CNN(conv_features=(2,), dense_widths=(3,), num_outputs=2,
                     beta=0.05, kernel_size=3)
  optimizer = train_lib.make_optimizer('adam', 0.01)
  state = train_lib.init_state(jax.random.key(0), model, optimizer, images[:1])
  train_epochs = jax.jit(train_lib.make_train_epochs(
      model, optimizer, loss='cross_entropy', batch_size=4))
  evaluate = jax.jit(train_lib.make_evaluate(model, loss='cross_entropy'))
  before = evaluate(state.params, images, labels, labels, jax.random.key(1))
  trained = train_epochs(state, images, labels, 30)
  again = train_epochs(state, images, labels, 30)
  after = evaluate(trained.params, images, labels, labels, jax.random.key(1))
  assert float(after['loss']) < float(before['loss'])
  np.testing.assert_array_equal(trained.params['output']['kernel'],
                                again.params['output']['kernel'])


def test_resume_refuses_a_different_config(finished_run):
  workdir, _ = finished_run
  with pytest.raises(ValueError, match='fields differing: .*num_epochs'):
    runner.train_and_analyse(_tiny_config(num_seeds=2, num_epochs=13),
                             workdir)


def test_deterministic_net_trains_without_noise_draws():
  """beta = 0: no noise is drawn, and training is a pure function of keys."""
  model = models.MLP(widths=(3,), num_outputs=2, beta=0.0)
  optimizer = train_lib.make_optimizer('sgd', 0.1)
  x = jnp.asarray(np.random.default_rng(0).normal(size=(20, 2)), jnp.float32)
  y = (x[:, 0] > 0).astype(jnp.int32)
  state = train_lib.init_state(jax.random.key(0), model, optimizer, x[:1])
  train_epochs = jax.jit(train_lib.make_train_epochs(
      model, optimizer, loss='cross_entropy', batch_size=8))
  lowered = train_epochs.lower(state, x, y, 3).as_text()
  assert 'erf_inv' not in lowered and 'erfinv' not in lowered.lower()
  a, b = train_epochs(state, x, y, 3), train_epochs(state, x, y, 3)
  np.testing.assert_array_equal(a.params['output']['kernel'],
                                b.params['output']['kernel'])


@pytest.mark.filterwarnings('ignore:overflow encountered in cast')
def test_diverged_seed_is_recorded_not_analysed(tmp_path):
  """Non-finite parameters (an overflowing step) give a 'diverged' record."""
  config = configs.get_config('tiny')
  config.optimizer.name = 'sgd'
  config.optimizer.learning_rate = 1e39  # inf in float32: updates overflow
  config.num_epochs = 2
  config.analysis.num_points = 2
  config.analysis.num_eval_inputs = 64
  records = runner.train_and_analyse(config, str(tmp_path))
  assert [r['epoch'] for r in records] == [0, 2]
  assert 'information' in records[0] and 'diverged' not in records[0]
  assert records[1]['diverged'] is True and 'information' not in records[1]
  for line in (tmp_path / 'metrics.jsonl').read_text().splitlines():
    json.loads(line, parse_constant=pytest.fail)  # no NaN/Infinity tokens


@pytest.mark.parametrize('n', [1, 2, 7, 4096, 60_000, 131_073])  # 2 rounds
def test_random_order_is_a_permutation(n):
  order = np.asarray(train_lib.random_order(jax.random.key(n), n))
  assert order.dtype == np.int32
  assert not jax.config.jax_enable_x64  # the 64-bit sort keys stay local
  np.testing.assert_array_equal(np.sort(order), np.arange(n))


def test_random_order_is_uniform():
  """All 24 orders of 4 items equally likely (chi-square), and for n = 4096
  (one sort round) every position's mean item is (n - 1) / 2."""
  from scipy import stats  # pylint: disable=g-import-not-at-top
  orders = np.asarray(jax.vmap(lambda k: train_lib.random_order(k, 4))(
      jax.random.split(jax.random.key(0), 24_000)))
  _, counts = np.unique(orders @ np.array([64, 16, 4, 1]), return_counts=True)
  assert len(counts) == 24
  assert stats.chisquare(counts).pvalue > 1e-3
  n, draws = 4096, 1000
  orders = np.asarray(jax.vmap(lambda k: train_lib.random_order(k, n))(
      jax.random.split(jax.random.key(1), draws)))
  z = (orders.mean(axis=0) - (n - 1) / 2) / (n / np.sqrt(12 * draws))
  assert np.abs(z).max() < 5.5  # 4096 positions, Gaussian tails


def test_progress_eta_adds_training_and_analysis_rates():
  progress = progress_lib.Progress(0, 1000, num_analyses=5)
  assert progress.eta() == 0.0  # nothing measured yet
  progress.analysed(10.0)             # 4 analyses left at 10 s each
  progress.trained(100, 2.0)          # 900 epochs left at 0.02 s each
  assert progress.eta() == pytest.approx(4 * 10.0 + 900 * 0.02)
  # Later calls replace the first (compiling) ones in the rates.
  progress.analysed(2.0)              # 3 left at 2 s each
  progress.trained(100, 1.0)          # 800 left at 0.01 s each
  assert progress.eta() == pytest.approx(3 * 2.0 + 800 * 0.01)
  progress.trained(100, 3.0)          # later calls average: 0.02 s each
  assert progress.eta() == pytest.approx(3 * 2.0 + 700 * 0.02)


# ------------------------------------------- bad input and faults (launcher)


def _launch(*args, **kwargs):
  return subprocess.run([sys.executable, '-m', 'launch.train', *args],
                        capture_output=True, text=True, timeout=300, **kwargs)


def _assert_one_line_error(result, *needles):
  """Non-zero exit, no traceback, and a last line naming `needles`."""
  assert result.returncode != 0
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('launch.train: error: '), last
  for needle in needles:
    assert needle in last, (needle, last)


def test_negative_num_epochs_is_refused(tmp_path):
  """Item 6: exit non-zero, naming the field, before anything is written."""
  with pytest.raises(ValueError, match='num_epochs'):
    experiment.analysis_epochs(-5, 3)
  workdir = tmp_path / 'w'
  with pytest.raises(configs.ConfigError, match='num_epochs must be >= 0'):
    runner.train_and_analyse(_tiny_config(num_epochs=-5), workdir)
  assert not workdir.exists()
  result = _launch('--config=tiny', '--config.num_epochs=-5',
                   f'--workdir={workdir}')
  _assert_one_line_error(result, 'num_epochs', '--config.num_epochs=')
  assert not workdir.exists()


def _unchecked(config):
  """A copy of `config` whose fields take any value (no type safety)."""
  return ml_collections.ConfigDict(config.to_dict(), type_safe=False)


@pytest.mark.parametrize('field, value, message', [
    # Types.
    ('num_seeds', True, 'num_seeds must be an integer'),
    ('batch_size', 2.5, 'batch_size must be an integer'),
    ('model.widths', ('4,x',), 'model.widths must be a sequence of positive'),
    ('analysis.binning', 'yes', 'analysis.binning must be True or False'),
    ('data.data_dir', None, 'data.data_dir must be a string'),
    # Ranges.
    ('batch_size', 0, 'batch_size must be >= 1'),
    ('batch_size', -4, 'batch_size must be >= 1'),
    ('num_seeds', 0, 'num_seeds must be >= 1'),
    ('optimizer.learning_rate', 0.0, 'learning_rate must be > 0'),
    ('optimizer.learning_rate', float('nan'), 'must be a finite number'),
    ('data.test_fraction', 1.0, 'test_fraction must be < 1'),
    ('analysis.num_points', 1, 'num_points must be >= 2'),
    ('analysis.bin_sizes', (0.1, -0.2), 'bin_sizes must be a sequence of'),
    ('checkpoint.keep', 0, 'checkpoint.keep must be >= 1'),
    # Names.
    ('data.name', 'szz', 'data.name must be one of szt, '),
    ('model.activation', 'tanhh', 'must be one of leaky_relu, linear'),
    ('model.kind', 'rnn', "model.kind must be one of mlp, cnn"),
    ('optimizer.name', 'adagrad', 'optimizer.name must be one of adam'),
    ('loss', 'hinge', 'loss must be one of cross_entropy, mse'),
    ('analysis.estimated_layers', ('T7',),
     'names T7, not a layer of this model; its layers: T1, T2'),
    # Fields together.
    ('model.widths', (), 'model.widths is empty'),
    ('analysis.bin_sizes', (), 'bin_sizes is empty while analysis.binning'),
    ('loss', 'mse', 'data set szt has no regression targets'),
])
def test_config_validation_names_each_kind_of_bad_field(field, value,
                                                        message):
  """Item 9: every bad field is refused up front, named, with the fix."""
  config = _unchecked(configs.get_config('tiny'))
  *parents, leaf = field.split('.')
  target = config
  for p in parents:
    target = target[p]
  target[leaf] = value
  with pytest.raises(configs.ConfigError, match=re.escape(message)):
    configs.validate(config)


def test_config_validation_covers_every_field(tmp_path):
  """Item 9: each field of common.base_config is checked; unknown and
  missing fields are errors; the named configs pass; a bad config writes
  nothing (so the corrected command is not refused as another config)."""
  for name in configs.available():
    configs.validate(configs.get_config(name))
  for field in config_common.leaf_fields(config_common.base_config()):
    config = _unchecked(configs.get_config('tiny'))
    *parents, leaf = field.split('.')
    target = config
    for p in parents:
      target = target[p]
    target[leaf] = object()
    with pytest.raises(configs.ConfigError, match=re.escape(field)):
      configs.validate(config)
  config = _unchecked(configs.get_config('tiny'))
  config.analysis.num_mcc = 3
  with pytest.raises(configs.ConfigError, match='unknown config field '
                     'analysis.num_mcc'):
    configs.validate(config)
  del config.analysis['num_mcc'], config.analysis['num_replicas']
  with pytest.raises(configs.ConfigError, match='analysis.num_replicas is '
                     'missing'):
    configs.validate(config)
  for bad in ({'batch_size': 0}, {'batch_size': -1}, {'num_seeds': 0}):
    with pytest.raises(configs.ConfigError):
      runner.train_and_analyse(_tiny_config(**bad), tmp_path / 'w')
    assert not (tmp_path / 'w').exists()


def _copy_of_finished_run(finished_run, tmp_path):
  workdir, records = finished_run
  copy = tmp_path / 'run'
  shutil.copytree(workdir, copy)
  return copy, records


def test_corrupt_latest_checkpoint_falls_back_exactly(finished_run, tmp_path,
                                                      caplog):
  """Item 7: the newest readable checkpoint is used, with a warning naming
  the bad one, and the records are those of the uninterrupted run."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  checkpoints = workdir / 'checkpoints'
  assert sorted(int(p.name) for p in checkpoints.iterdir()) == [0, 1, 12]
  for path in (checkpoints / '12' / 'default' / 'd').iterdir():
    os.truncate(path, 10)
  records = runner.train_and_analyse(_tiny_config(num_seeds=2), workdir)
  assert _without_time(records) == _without_time(uninterrupted)
  assert f'checkpoint {checkpoints / "12"} is unreadable' in caplog.text
  assert 'resuming from epoch 1' in caplog.text
  # Checkpoint 12 was rewritten: a rerun restores it without a warning.
  caplog.clear()
  again = runner.train_and_analyse(_tiny_config(num_seeds=2), workdir)
  assert _without_time(again) == _without_time(uninterrupted)
  assert 'unreadable' not in caplog.text
  # No readable checkpoint at all: a one-line error, nothing deleted.
  for step in ('0', '1', '12'):
    (checkpoints / step / 'default' / '_METADATA').write_text('{"tree')
  with pytest.raises(run_files.RunDirError,
                     match=f'no checkpoint in {checkpoints} is readable'):
    runner.train_and_analyse(_tiny_config(num_seeds=2), workdir)
  assert sorted(p.name for p in checkpoints.iterdir()) == ['0', '1', '12']


def test_torn_last_metrics_line_is_dropped(finished_run, tmp_path, caplog):
  """Item 8: a torn last line is dropped with a warning naming the file; a
  corrupt line elsewhere is an error naming file and line."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  metrics = workdir / 'metrics.jsonl'
  lines = metrics.read_text().splitlines()
  metrics.write_text('\n'.join(lines) + '\n{"epoch": 12, "se')
  records = runner.train_and_analyse(_tiny_config(num_seeds=2), workdir)
  assert _without_time(records) == _without_time(uninterrupted)
  assert f'{metrics}: dropping the incomplete last line 7' in caplog.text
  assert metrics.read_text() == '\n'.join(lines) + '\n'
  metrics.write_text('\n'.join([lines[0], '{oops'] + lines[1:]) + '\n')
  with pytest.raises(run_files.RunDirError,
                     match=re.escape(f'{metrics}, line 2: invalid JSON')):
    runner.train_and_analyse(_tiny_config(num_seeds=2), workdir)


def test_workdir_that_is_a_file_or_not_writable(tmp_path):
  """Item 12: a one-line error naming the path, nothing written."""
  a_file = tmp_path / 'file'
  a_file.write_text('x')
  with pytest.raises(run_files.RunDirError,
                     match=f'--workdir {a_file} is a file'):
    runner.train_and_analyse(_tiny_config(), a_file)
  below = a_file / 'run'
  with pytest.raises(run_files.RunDirError,
                     match=f'--workdir {below} is not a writable directory'):
    runner.train_and_analyse(_tiny_config(), below)
  _assert_one_line_error(_launch('--config=tiny', f'--workdir={a_file}'),
                         str(a_file))
  locked = tmp_path / 'locked'
  locked.mkdir(mode=0o500)
  if os.access(locked, os.W_OK):  # root writes anywhere
    pytest.skip('running as root: permissions do not stop writes')
  with pytest.raises(run_files.RunDirError, match=f'{locked} is not a '
                     'writable directory'):
    runner.train_and_analyse(_tiny_config(), locked)


def test_resume_removes_temporary_directory_of_interrupted_save(
    finished_run, tmp_path):
  """Item 13: orbax's `N.orbax-checkpoint-tmp-*` of a save cut short is
  removed on resume, and never mistaken for a checkpoint."""
  workdir, uninterrupted = _copy_of_finished_run(finished_run, tmp_path)
  checkpoints = workdir / 'checkpoints'
  tmp = checkpoints / '13.orbax-checkpoint-tmp-1733000000000000'
  shutil.copytree(checkpoints / '12', tmp)
  (tmp / 'default' / '_METADATA').write_text('{"tr')  # cut mid-write
  records = runner.train_and_analyse(_tiny_config(num_seeds=2), workdir)
  assert _without_time(records) == _without_time(uninterrupted)
  assert sorted(p.name for p in checkpoints.iterdir()) == ['0', '1', '12']


def _kill_9_after_first_checkpoint(workdir, overrides):
  """Runs `launch.train --config=tiny` with `overrides` (field: value) and
  SIGKILLs it as soon as its first checkpoint exists."""
  args = [f'--config.{k}={v}' for k, v in overrides.items()]
  process = subprocess.Popen(
      [sys.executable, '-m', 'launch.train', '--config=tiny', *args,
       f'--workdir={workdir}'],
      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
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
  resumed = runner.train_and_analyse(config, workdir)
  assert _without_time(resumed) == _without_time(uninterrupted)
  lines = (workdir / 'metrics.jsonl').read_text().splitlines()
  assert _without_time([json.loads(x) for x in lines]) == _without_time(
      uninterrupted)
  assert not [p for p in (workdir / 'checkpoints').iterdir()
              if 'tmp' in p.name]


_TINY_OVERRIDES = {'num_seeds': 2, 'num_epochs': 12,
                   'analysis.num_points': 3, 'analysis.num_eval_inputs': 128}


def test_kill_9_then_resume_gives_the_uninterrupted_records(tmp_path):
  """A real `launch.train` process killed (SIGKILL) right after its first
  checkpoint, then resumed, gives the records of an uninterrupted run.

  Fast: a deterministic net without clustering or binning (their compiles
  dominate a tiny run); the noisy net is the slow test below.
  """
  overrides = dict(_TINY_OVERRIDES, **{
      'model.beta': 0.0, 'analysis.clustering': False,
      'analysis.binning': False})
  _kill_9_after_first_checkpoint(tmp_path / 'killed', overrides)
  config = _tiny_config(**overrides)
  uninterrupted = runner.train_and_analyse(config, tmp_path / 'whole')
  _assert_resumes_to(tmp_path / 'killed', config, uninterrupted)


@pytest.mark.slow
def test_kill_9_of_a_noisy_run_then_resume(finished_run, tmp_path):
  """As above for the noisy tiny net with every analysis (about a minute)."""
  _kill_9_after_first_checkpoint(tmp_path, _TINY_OVERRIDES)
  _assert_resumes_to(tmp_path, _tiny_config(num_seeds=2), finished_run[1])
