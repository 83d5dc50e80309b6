r"""Trains a noisy network and records its information flow.

    python -m launch.train --config=szt --workdir=runs/szt
    python -m launch.train --config=szt --config.optimizer.learning_rate=1e-3

`--config=NAME` picks `launch/configs/NAME.py` (an unknown name or field is an
error that lists what exists). Outputs go to the workdir (docs/run_record.md):
config.json, run.json, metrics.jsonl (one record per analysed epoch and seed,
estimates with standard errors), representations/ and orbax checkpoints.
Re-running the same command resumes from the last checkpoint and produces the
same metrics as an uninterrupted run (after a kill at any point too).

The config is validated whole before anything is read or written; a bad
field, workdir, data file or run record stops the command with a one-line
error naming it (docs/errors.md).
"""

from __future__ import annotations

import json
import logging as pylogging
import os
import pathlib
import sys
import time
from typing import Callable, Optional

from absl import app
from absl import logging
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np
import orbax.checkpoint as ocp

import infoflow
from infoflow import analysis
from infoflow import clustering
from infoflow import data as data_lib
from infoflow import train as train_lib
from launch import common_flags
from launch import configs
from launch import experiment
from launch import run_files

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'Experiment: a name from launch/configs (e.g. szt).',
    lock_config=True)
_WORKDIR = common_flags.WORKDIR


def analysis_epochs(num_epochs: int, num_points: int) -> list[int]:
  """`num_points` epochs: 0, then log-spaced ones up to `num_epochs`.

  Rounding merges the smallest log-spaced epochs, so the grid is refined
  until `num_points` distinct epochs exist (or every epoch is taken).

  Raises:
    ValueError: `num_epochs` < 0 or `num_points` < 2.
  """
  if num_epochs < 0 or num_points < 2:
    raise ValueError(f'analysis_epochs needs num_epochs >= 0 and num_points '
                     f'>= 2; got {num_epochs} and {num_points}.')
  wanted = min(num_points, num_epochs + 1)
  epochs = {0, num_epochs}
  size = max(wanted - 1, 1)
  while len(epochs) < wanted:
    grid = np.logspace(0, np.log10(max(num_epochs, 1)), size)
    epochs = {0, num_epochs} | {int(round(e)) for e in grid}
    size += 1
  return sorted(epochs)


def _finite_or_null(value):
  """Non-finite floats -> None, so metrics.jsonl is strict JSON."""
  if isinstance(value, float):
    return value if np.isfinite(value) else None
  if isinstance(value, dict):
    return {k: _finite_or_null(v) for k, v in value.items()}
  if isinstance(value, list):
    return [_finite_or_null(v) for v in value]
  return value


def _mean_of_finite(values) -> float:
  """Mean over the seeds that have not diverged (NaN if none)."""
  values = np.asarray(values, np.float64)
  finite = values[np.isfinite(values)]
  return float(finite.mean()) if finite.size else float('nan')


def _diverged(model, params, inputs) -> bool:
  """Non-finite parameters, or finite ones whose activations overflow."""
  if not all(np.isfinite(a).all() for a in jax.tree.leaves(params)):
    return True
  layers = infoflow.sampling.noise_free_layers(model, {'params': params},
                                               inputs)
  return not all(bool(jnp.isfinite(a).all()) for a in layers.values())


def _seed_slice(tree, seed):
  return jax.tree.map(lambda a: a[seed], tree)


class _Progress:
  """One line per chunk: epoch, loss, accuracy, elapsed time and ETA.

  The ETA adds the remaining epochs at the measured training rate and the
  remaining analysed epochs at the measured analysis time per epoch (the two
  differ by orders of magnitude, and the analysed epochs are log-spaced).
  The first measurement of each includes compilation, so it is used only
  until a second one exists.
  """

  def __init__(self, start_epoch, num_epochs, num_analyses):
    self.start = time.time()
    self.epoch = start_epoch
    self.num_epochs = num_epochs
    self.analyses_left = num_analyses
    self.training = []  # (epochs, seconds) of each training call
    self.analysis = []  # (1, seconds) of each analysed epoch

  @staticmethod
  def _rate(calls):
    """Seconds per unit, leaving out the first (compiling) call if others
    exist."""
    counted = calls[1:] or calls
    count = sum(c for c, _ in counted)
    return sum(s for _, s in counted) / count if count else 0.0

  def trained(self, epochs, seconds):
    self.epoch += epochs
    self.training.append((epochs, seconds))

  def analysed(self, seconds):
    self.analyses_left -= 1
    self.analysis.append((1, seconds))

  def eta(self) -> float:
    return (self._rate(self.training) * (self.num_epochs - self.epoch)
            + self._rate(self.analysis) * self.analyses_left)

  def report(self, metrics):
    logging.info('epoch %d/%d  train loss %.4f acc %.4f  test loss %.4f '
                 'acc %.4f  elapsed %.0fs  ETA %.0fs', self.epoch,
                 self.num_epochs, metrics['train']['loss'],
                 metrics['train']['accuracy'], metrics['test']['loss'],
                 metrics['test']['accuracy'], time.time() - self.start,
                 self.eta())


def _resume(workdir: pathlib.Path, config, states):
  """Opens the checkpoints and restores the newest readable one.

  Rewrites metrics.jsonl without the records after that checkpoint (the
  run redoes their epochs).

  Returns:
    `(checkpoint manager, start epoch, states, records kept)`.
  """
  directory = workdir / 'checkpoints'
  manager = run_files.open_checkpoints(directory, config.checkpoint.keep)
  metrics_path = workdir / 'metrics.jsonl'
  records = run_files.read_records(metrics_path)
  step, states = run_files.restore_newest(manager, states, directory)
  start_epoch = 0 if step is None else int(step)
  if step is None:
    records = []
  else:
    records = [r for r in records if r['epoch'] <= start_epoch]
    logging.info('resumed from epoch %d (%s)', start_epoch, workdir)
  run_files.write_text(metrics_path,
                       ''.join(json.dumps(r) + '\n' for r in records))
  return manager, start_epoch, states, records


def train_and_analyse(config, workdir: str,
                      on_record: Optional[Callable[[dict], None]] = None
                      ) -> list[dict]:
  """Runs (or resumes) the experiment; returns every metrics record.

  Args:
    config: a config from `launch.configs`.
    workdir: output directory (created).
    on_record: called with each new record after it is written (tests use it
      to simulate an interruption).

  Raises:
    configs.ConfigError: a bad config field (before anything is written).
    run_files.RunDirError: an unusable workdir, metrics.jsonl or checkpoints.
  """
  configs.validate(config)
  workdir = run_files.prepare_workdir(workdir)
  run_files.check_same_config(workdir, config)
  run_files.write_text(workdir / 'config.json', config.to_json(indent=2))

  dataset = experiment.load_data(config)
  x_train = jnp.asarray(dataset.x_train)
  t_train = jnp.asarray(experiment.targets(config, dataset, 'train'))
  y_train = jnp.asarray(dataset.y_train)
  has_test = len(dataset.x_test) > 0
  x_test = jnp.asarray(dataset.x_test if has_test else dataset.x_train)
  t_test = jnp.asarray(experiment.targets(config, dataset, 'test' if has_test
                                else 'train'))
  y_test = jnp.asarray(dataset.y_test if has_test else dataset.y_train)
  has_val = dataset.x_val is not None and len(dataset.x_val) > 0
  if has_val:  # held out of training (MNIST): the paper's validation error
    x_val, y_val = jnp.asarray(dataset.x_val), jnp.asarray(dataset.y_val)
  eval_x, eval_y, eval_indices = experiment.evaluation_set(config, dataset)
  class_values = experiment.class_values(config, dataset)
  num_outputs = (dataset.num_classes if config.loss != 'mse'
                 else t_train.shape[-1])

  model = experiment.build_model(config, num_outputs)
  optimizer = train_lib.make_optimizer(config.optimizer.name,
                                       config.optimizer.learning_rate)
  root = jax.random.key(config.seed)
  init_key, eval_key, analysis_key = jax.random.split(root, 3)
  states = train_lib.init_states(init_key, config.num_seeds, model, optimizer,
                                 x_train[:1])
  # Seeds are independent: with several devices each trains a share of them.
  seed_sharding = train_lib.seed_sharding(config.num_seeds)
  if seed_sharding is not None:
    states = jax.device_put(states, seed_sharding)
  train_epochs = jax.jit(jax.vmap(
      train_lib.make_train_epochs(
          model, optimizer, loss=config.loss, batch_size=config.batch_size,
          orthonormal_alpha=config.orthonormal_alpha),
      in_axes=(0, None, None, None)))
  evaluate = jax.jit(jax.vmap(
      train_lib.make_evaluate(model, loss=config.loss),
      in_axes=(0, None, None, None, None, None)))

  layer_widths = {name: int(np.prod(s.shape[1:])) for name, s in
                  infoflow.sampling.noise_free_layers(
                      model, {'params': _seed_slice(states.params, 0)},
                      eval_x[:1]).items()}
  beta = float(config.model.beta)
  estimated = list(config.analysis.estimated_layers) or list(layer_widths)
  epochs = analysis_epochs(config.num_epochs, config.analysis.num_points)
  hooks = []
  if config.analysis.binning:
    hooks.append(analysis.binning_hook(config.analysis.bin_sizes))
  cluster_beta = config.analysis.cluster_beta or beta or 0.005
  if config.analysis.clustering:
    hooks.append(analysis.clustering_hook(cluster_beta))
  kept = [n for n, w in layer_widths.items()
          if w <= config.analysis.representation_max_width]
  run_info = {
      'config': config.name, 'data_source': dataset.source,
      'num_classes': dataset.num_classes, 'beta': beta,
      'layers': layer_widths,
      'estimated_layers': estimated if beta > 0 else [],
      'representation_layers': kept,
      'num_eval_inputs': len(eval_x), 'eval_indices': eval_indices,
      'analysis_epochs': epochs, 'num_seeds': config.num_seeds,
      'devices': [str(d) for d in jax.local_devices()],
      'num_replicas': config.analysis.num_replicas,
      'clustering': {'beta': cluster_beta,
                     'threshold': clustering.DEFAULT_THRESHOLD,
                     'knn_k': analysis.KNN_K},
      'infoflow_version': infoflow.__version__}
  run_files.write_text(workdir / 'run.json', json.dumps(run_info, indent=1))
  manager, start_epoch, states, records = _resume(workdir, config, states)
  metrics_path = workdir / 'metrics.jsonl'

  todo = [e for e in epochs if e > start_epoch or
          (e == 0 and start_epoch == 0 and not records)]
  progress = _Progress(start_epoch, config.num_epochs, len(todo))
  log_every = config.log_every_epochs or max(config.num_epochs // 100, 1)
  start_time = time.time()

  def eval_metrics(states, epoch):
    key = jax.random.fold_in(eval_key, epoch)
    splits = {'train': (x_train, t_train, y_train),
              'test': (x_test, t_test, y_test)}
    if has_val:
      splits['validation'] = (x_val, y_val, y_val)
    # One noise stream per split (fold_in by position) for the noisy metrics.
    return {name: jax.tree.map(np.asarray, evaluate(
        states.params, x, t, y, jax.random.fold_in(key, i), class_values))
            for i, (name, (x, t, y)) in enumerate(splits.items())}

  epoch = start_epoch
  for target in todo:
    metrics = None
    while epoch < target:
      chunk = min(log_every - epoch % log_every, target - epoch)
      chunk_start = time.time()
      states = jax.block_until_ready(
          train_epochs(states, x_train, t_train, jnp.int32(chunk)))
      progress.trained(chunk, time.time() - chunk_start)
      epoch += chunk
      metrics = None
      if epoch % log_every == 0 or epoch == config.num_epochs:
        metrics = eval_metrics(states, epoch)
        progress.report(jax.tree.map(_mean_of_finite, metrics))
    analysis_start = time.time()
    if metrics is None:
      metrics = eval_metrics(states, epoch)
    for seed in range(config.num_seeds):
      key = jax.random.fold_in(jax.random.fold_in(analysis_key, epoch), seed)
      # On the host: the analysis places its arrays itself.
      params = jax.tree.map(np.asarray, _seed_slice(states.params, seed))
      if not _diverged(model, params, eval_x):
        record, reps = analysis.analyse(
            key, model, params, eval_x, eval_y,
            dataset.num_classes, beta=beta, estimated_layers=estimated,
            num_replicas=config.analysis.num_replicas,
            form=config.analysis.form, num_mc=config.analysis.num_mc,
            num_mc_conditional=config.analysis.num_mc_conditional,
            target_stderr_mi_input=config.analysis.target_stderr_mi_input,
            target_stderr_mi_label=config.analysis.target_stderr_mi_label,
            max_mc=config.analysis.max_mc,
            input_chunk=config.analysis.input_chunk, hooks=hooks,
            keep_representations=kept if seed == 0 else ())
      else:
        # A diverged seed (non-finite parameters or activations) has nothing
        # to measure; the other seeds go on. Its record says so.
        logging.warning('seed %d has non-finite parameters or activations at '
                        'epoch %d: training diverged; no analysis recorded.',
                        seed, epoch)
        record, reps = {'diverged': True}, {}
      record = {'epoch': epoch, 'seed': seed,
                'step': int(states.step[seed]),
                'wall_time': time.time() - start_time,
                **{split: {k: float(v[seed]) for k, v in values.items()}
                   for split, values in metrics.items()},
                **record}
      if reps:
        (workdir / 'representations').mkdir(exist_ok=True)
        run_files.save_npz(
            workdir / 'representations' / f'epoch_{epoch:06d}.npz',
            labels=np.asarray(eval_y, np.int32), **reps)
      with metrics_path.open('a') as f:
        f.write(json.dumps(_finite_or_null(record)) + '\n')
      records.append(_finite_or_null(record))
      if on_record is not None:
        on_record(record)
    manager.save(epoch, args=ocp.args.StandardSave(states), force=True)
    manager.wait_until_finished()
    progress.analysed(time.time() - analysis_start)
    info = next((r['information'] for r in reversed(records)
                 if r['epoch'] == epoch and 'information' in r), {})
    logging.info('analysed epoch %d: %s', epoch, '  '.join(
        f'{n} I(X;T)={v["mi_input"][0] / np.log(2):.3f} bits'
        for n, v in info.items()))
  manager.close()
  logging.info('done: %d records in %s', len(records), metrics_path)
  return records


class _QuietOrbax(pylogging.Filter):
  """Drops orbax's per-save INFO chatter from the progress log."""

  def filter(self, record):
    return (record.levelno >= pylogging.WARNING
            or f'{os.sep}orbax{os.sep}' not in record.pathname)


def main(argv):
  common_flags.apply_cpu_devices()
  logging.get_absl_handler().addFilter(_QuietOrbax())
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  config = _CONFIG.value
  if config is None:
    raise app.UsageError('--config=NAME is required; available: '
                         + ', '.join(configs.available()))
  workdir = _WORKDIR.value or os.path.join('runs', config.name)
  try:
    train_and_analyse(config, workdir)
  except (configs.ConfigError, run_files.RunDirError,
          data_lib.DataNotFoundError, data_lib.DataFormatError) as error:
    sys.exit(f'launch.train: error: {error}')
  print(f'outputs in {workdir}: config.json, run.json, metrics.jsonl, '
        f'representations/, checkpoints/.  Plot them: python -m launch.plot '
        f'--workdir={workdir}')


def run():
  try:
    argv = configs.resolve_argv(sys.argv)
  except ValueError as error:
    sys.exit(f'error: {error}')
  app.run(main, argv=argv)


if __name__ == '__main__':
  run()
