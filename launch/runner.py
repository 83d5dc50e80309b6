"""An experiment run as named steps: the launcher without its flags.

    from launch import configs, runner
    records = runner.train_and_analyse(configs.get_config('tiny'), 'runs/tiny')

`train_and_analyse` is the loop of a run; each step is a function of its
own, so benchmarks and tests build exactly what a run builds:

  open_workdir      validate the config whole, create the workdir
  load_data         the data set's arrays and the evaluation inputs
  build_trainer     model, optimizer, the train states of all seeds (with
                    their shuffle and noise keys), the jitted steps
  experiment.plan_analysis, run_info   what is analysed when (run.json)
  resume_or_start   the newest readable checkpoint, or a fresh start
  then, for each analysed epoch:
  train_until       train the seeds up to it, with progress lines
  analyse_epoch     metrics and information of every seed
  write_record      each record to the writers (metrics.jsonl, TensorBoard)

then figures (launch/writers.py) and a checkpoint. Outputs:
docs/run_record.md; errors: docs/errors.md.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib
import time
from typing import Any
from typing import Callable
from typing import Iterator
from typing import Optional
from typing import Sequence

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
import optax
import orbax.checkpoint as ocp

import infoflow
from infoflow import analysis
from infoflow import clustering
from infoflow import train as train_lib
from launch import configs
from launch import experiment
from launch import progress as progress_lib
from launch import run_files
from launch import writers as writers_lib


@dataclasses.dataclass(frozen=True)
class Data:
  """The arrays of a run (on the device).

  Attributes:
    dataset: the data set (its name, source and number of classes).
    x_train: training inputs.
    t_train: training targets: labels, or regression targets (`mse` loss).
    splits: split name -> (inputs, targets, labels), evaluated at progress
      lines and analysed epochs: train, test (train again when the data set
      has no test split) and, when held out (MNIST), validation.
    eval_x: the inputs the information is measured on (`analysis.inputs`).
    eval_y: their labels (host array).
    eval_indices: their indices in the data set (`evaluation_set`).
    class_values: for regression, the target value of each class (for the
      accuracy); None otherwise.
    num_outputs: outputs of the network.
  """

  dataset: Any
  x_train: jax.Array
  t_train: jax.Array
  splits: dict[str, tuple[jax.Array, jax.Array, jax.Array]]
  eval_x: np.ndarray
  eval_y: np.ndarray
  eval_indices: list[int]
  class_values: Optional[jax.Array]
  num_outputs: int


def open_workdir(config, workdir) -> pathlib.Path:
  """Validates `config` whole, then creates `workdir` and writes config.json.

  Raises:
    configs.ConfigError: a bad config field (before anything is written).
    run_files.RunDirError: an unusable workdir, or one holding a run of
      another config.
  """
  configs.validate(config)
  workdir = run_files.prepare_workdir(workdir)
  run_files.check_same_config(workdir, config)
  run_files.write_text(workdir / 'config.json', config.to_json(indent=2))
  return workdir


def load_data(config) -> Data:
  """The config's data set as the arrays a run uses.

  Raises:
    configs.ConfigError: the config does not fit the data set.
    infoflow.data.DataNotFoundError, DataFormatError: unreadable data.
  """
  dataset = experiment.read_dataset(config)
  has_test = len(dataset.x_test) > 0
  test = 'test' if has_test else 'train'
  t_train = jnp.asarray(experiment.targets(config, dataset, 'train'))
  splits = {
    'train': (jnp.asarray(dataset.x_train), t_train, jnp.asarray(dataset.y_train)),
    'test': (
      jnp.asarray(getattr(dataset, f'x_{test}')),
      jnp.asarray(experiment.targets(config, dataset, test)),
      jnp.asarray(getattr(dataset, f'y_{test}')),
    ),
  }
  if dataset.x_val is not None and len(dataset.x_val) > 0:
    # Held out of training (MNIST): the paper's validation error.
    y_val = jnp.asarray(dataset.y_val)
    splits['validation'] = (jnp.asarray(dataset.x_val), y_val, y_val)
  eval_x, eval_y, eval_indices = experiment.evaluation_set(config, dataset)
  num_outputs = dataset.num_classes if config.loss != 'mse' else t_train.shape[-1]
  return Data(
    dataset=dataset,
    x_train=splits['train'][0],
    t_train=t_train,
    splits=splits,
    eval_x=eval_x,
    eval_y=eval_y,
    eval_indices=eval_indices,
    class_values=experiment.class_values(config, dataset),
    num_outputs=num_outputs,
  )


@dataclasses.dataclass(frozen=True)
class Trainer:
  """What trains and evaluates every seed of a run at once.

  Attributes:
    model: the noisy network (flax module).
    optimizer: its optax optimizer.
    states: the fresh `TrainState`s of all seeds, stacked on a leading axis
      (spread over the devices); each holds its seed's shuffle and noise
      keys.
    train_epochs: `(states, inputs, targets, num_epochs) -> states`, jitted.
    evaluate: `(params, inputs, targets, labels, key, class_values) ->
      metrics` of every seed, jitted.
    eval_key: key of the noisy metrics (folded with the epoch).
    analysis_key: key of the analysis (folded with the epoch, then the seed).
  """

  model: Any
  optimizer: optax.GradientTransformation
  states: train_lib.TrainState
  train_epochs: Callable[..., train_lib.TrainState]
  evaluate: Callable[..., dict]
  eval_key: jax.Array
  analysis_key: jax.Array


def build_trainer(config, data: Data) -> Trainer:
  """Model, optimizer and the train states of `config.num_seeds`."""
  model = experiment.build_model(config, data.num_outputs)
  optimizer = train_lib.make_optimizer(config.optimizer.name, config.optimizer.learning_rate)
  init_key, eval_key, analysis_key = jax.random.split(jax.random.key(config.seed), 3)
  states = train_lib.init_states(init_key, config.num_seeds, model, optimizer, data.x_train[:1])
  # Seeds are independent: with several devices each trains a share of them.
  seed_sharding = train_lib.seed_sharding(config.num_seeds)
  if seed_sharding is not None:
    states = jax.device_put(states, seed_sharding)
  train_epochs = jax.jit(
    jax.vmap(
      train_lib.make_train_epochs(
        model,
        optimizer,
        loss=config.loss,
        batch_size=config.batch_size,
        orthonormal_alpha=config.orthonormal_alpha,
      ),
      in_axes=(0, None, None, None),
    )
  )
  evaluate = jax.jit(
    jax.vmap(
      train_lib.make_evaluate(model, loss=config.loss), in_axes=(0, None, None, None, None, None)
    )
  )
  return Trainer(
    model=model,
    optimizer=optimizer,
    states=states,
    train_epochs=train_epochs,
    evaluate=evaluate,
    eval_key=eval_key,
    analysis_key=analysis_key,
  )


def evaluate(trainer: Trainer, data: Data, states, epoch: int) -> dict:
  """{split: {metric: (num_seeds,) host array}} of every split of `data`."""
  key = jax.random.fold_in(trainer.eval_key, epoch)
  # One noise stream per split (fold_in by position) for the noisy metrics.
  return {
    name: jax.tree.map(
      np.asarray,
      trainer.evaluate(states.params, x, t, y, jax.random.fold_in(key, i), data.class_values),
    )
    for i, (name, (x, t, y)) in enumerate(data.splits.items())
  }


def run_info(config, data: Data, plan: experiment.AnalysisPlan) -> dict:
  """The contents of run.json (docs/run_record.md)."""
  return {
    'config': config.name,
    'data_source': data.dataset.source,
    'num_classes': data.dataset.num_classes,
    'beta': plan.beta,
    'layers': plan.layer_widths,
    'estimated_layers': plan.estimated if plan.beta > 0 else [],
    'representation_layers': plan.kept,
    'analysis_inputs': config.analysis.inputs,
    'num_eval_inputs': len(data.eval_x),
    'eval_indices': data.eval_indices,
    'analysis_epochs': plan.epochs,
    'num_seeds': config.num_seeds,
    'devices': [str(d) for d in jax.local_devices()],
    'num_replicas': config.analysis.num_replicas,
    'clustering': {
      'beta': plan.cluster_beta,
      'threshold': clustering.DEFAULT_THRESHOLD,
      'knn_k': analysis.KNN_K,
    },
    'infoflow_version': infoflow.__version__,
  }


def resume_or_start(workdir: pathlib.Path, config, states):
  """Restores the newest readable checkpoint, or starts afresh.

  Rewrites metrics.jsonl without the records after that checkpoint (the
  run redoes their epochs).

  Returns:
    `(checkpoint manager, start epoch, states, records kept)`.

  Raises:
    run_files.RunDirError: a corrupt metrics line, no readable checkpoint.
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
  run_files.write_text(metrics_path, ''.join(json.dumps(r) + '\n' for r in records))
  return manager, start_epoch, states, records


def train_until(
  config,
  data: Data,
  trainer: Trainer,
  states,
  epoch: int,
  target: int,
  progress: progress_lib.Progress,
):
  """Trains every seed from `epoch` to `target`, with a progress line at
  each multiple of the logging interval (and at the last epoch).

  Returns:
    `(states, metrics)`: metrics (`evaluate`) at `target` if a progress line
    was written there, else None.
  """
  log_every = config.log_every_epochs or max(config.num_epochs // 100, 1)
  metrics = None
  while epoch < target:
    chunk = min(log_every - epoch % log_every, target - epoch)
    chunk_start = time.time()
    states = jax.block_until_ready(
      trainer.train_epochs(states, data.x_train, data.t_train, jnp.int32(chunk))
    )
    progress.trained(chunk, time.time() - chunk_start)
    epoch += chunk
    metrics = None
    if epoch % log_every == 0 or epoch == config.num_epochs:
      metrics = evaluate(trainer, data, states, epoch)
      progress.report(jax.tree.map(_mean_of_finite, metrics))
  return states, metrics


def analyse_epoch(
  config,
  data: Data,
  trainer: Trainer,
  plan: experiment.AnalysisPlan,
  states,
  epoch: int,
  metrics: dict,
  *,
  started: float,
) -> Iterator[tuple[dict, dict]]:
  """Yields `(record, representations)` of each seed in turn.

  A record holds the seed's metrics (`evaluate`), the seconds since
  `started` and its analysis; a seed whose parameters or activations are
  non-finite is recorded as diverged. Each is yielded as soon as it is made,
  so that it is written before the next seed is analysed.
  """
  for seed in range(config.num_seeds):
    key = jax.random.fold_in(jax.random.fold_in(trainer.analysis_key, epoch), seed)
    # On the host: the analysis places its arrays itself.
    params = jax.tree.map(lambda a, s=seed: np.asarray(a[s]), states.params)
    if _diverged(trainer.model, params, data.eval_x):
      # A diverged seed has nothing to measure; the other seeds go on.
      logging.warning(
        'seed %d has non-finite parameters or activations at '
        'epoch %d: training diverged; no analysis recorded.',
        seed,
        epoch,
      )
      record, reps = {'diverged': True}, {}
    else:
      record, reps = _analyse_seed(
        config, data, trainer.model, plan, params, key, keep=plan.kept if seed == 0 else ()
      )
    yield (
      {
        'epoch': epoch,
        'seed': seed,
        'step': int(states.step[seed]),
        'wall_time': time.time() - started,
        **{
          split: {k: float(v[seed]) for k, v in values.items()} for split, values in metrics.items()
        },
        **record,
      },
      reps,
    )


def write_record(
  workdir: pathlib.Path,
  record: dict,
  representations: dict,
  labels,
  writers: Optional[writers_lib.Writers] = None,
) -> dict:
  """Saves `representations` in the workdir, then writes `record` to
  metrics.jsonl (non-finite numbers as null) and the other `writers`
  (default: metrics.jsonl alone); returns the record as written."""
  if representations:
    (workdir / 'representations').mkdir(exist_ok=True)
    run_files.save_npz(
      workdir / 'representations' / f'epoch_{record["epoch"]:06d}.npz',
      labels=np.asarray(labels, np.int32),
      **representations,
    )
  writers = writers or writers_lib.Writers([writers_lib.JsonlWriter(workdir / 'metrics.jsonl')])
  return writers.write_record(record)


def train_and_analyse(
  config,
  workdir,
  *,
  on_record: Optional[Callable[[dict], None]] = None,
  writers: Sequence[writers_lib.MetricWriter] = (),
) -> list[dict]:
  """Runs (or resumes) the experiment; returns every metrics record.

  Args:
    config: a config from `launch.configs`.
    workdir: output directory (created).
    on_record: called with each new record after it is written (tests use it
      to simulate an interruption).
    writers: metric writers added to those of `config.writers`
      (launch/writers.py); flushed at each analysed epoch, not closed.

  Raises:
    configs.ConfigError: a bad config field (before anything is written).
    run_files.RunDirError: an unusable workdir, metrics.jsonl or checkpoints.
  """
  workdir = open_workdir(config, workdir)
  data = load_data(config)
  trainer = build_trainer(config, data)
  plan = experiment.plan_analysis(
    config, trainer.model, jax.tree.map(lambda a: a[0], trainer.states.params), data.eval_x[:1]
  )
  run_files.write_text(workdir / 'run.json', json.dumps(run_info(config, data, plan), indent=1))
  manager, epoch, states, records = resume_or_start(workdir, config, trainer.states)
  todo = [e for e in plan.epochs if e > epoch or (e == 0 and epoch == 0 and not records)]
  progress = progress_lib.Progress(epoch, config.num_epochs, len(todo))
  out, started = writers_lib.open_writers(config, workdir, writers), time.time()
  try:
    for target in todo:
      states, metrics = train_until(config, data, trainer, states, epoch, target, progress)
      epoch, analysis_start, kept = target, time.time(), {}
      if metrics is None:
        metrics = evaluate(trainer, data, states, epoch)
      for record, reps in analyse_epoch(
        config, data, trainer, plan, states, epoch, metrics, started=started
      ):
        records.append(write_record(workdir, record, reps, data.eval_y, out))
        kept.update(reps)  # seed 0's saved layers
        if on_record is not None:
          on_record(record)
      out.write_figures(epoch, records, kept, data.eval_y, plan.layer_widths)
      out.flush()
      manager.save(epoch, args=ocp.args.StandardSave(states), force=True)
      manager.wait_until_finished()
      progress.analysed(time.time() - analysis_start)
      _log_information(records, epoch)
  finally:
    out.close()
  manager.close()
  logging.info('done: %d records in %s', len(records), workdir / 'metrics.jsonl')
  return records


def _analyse_seed(
  config, data: Data, model, plan: experiment.AnalysisPlan, params, key, *, keep
) -> tuple[dict, dict]:
  """`analysis.analyse` of one seed's parameters, as `config.analysis` says."""
  a = config.analysis
  return analysis.analyse(
    key,
    model,
    params,
    data.eval_x,
    data.eval_y,
    data.dataset.num_classes,
    beta=plan.beta,
    estimated_layers=plan.estimated,
    num_replicas=a.num_replicas,
    form=a.form,
    num_mc=a.num_mc,
    num_mc_conditional=a.num_mc_conditional,
    target_stderr_mi_input=a.target_stderr_mi_input,
    target_stderr_mi_label=a.target_stderr_mi_label,
    max_mc=a.max_mc,
    input_chunk=a.input_chunk,
    hooks=plan.hooks,
    keep_representations=keep,
  )


def _diverged(model, params, inputs) -> bool:
  """Non-finite parameters, or finite ones whose activations overflow."""
  if not all(np.isfinite(a).all() for a in jax.tree.leaves(params)):
    return True
  layers = infoflow.sampling.noise_free_layers(model, {'params': params}, inputs)
  return not all(bool(jnp.isfinite(a).all()) for a in layers.values())


def _mean_of_finite(values) -> float:
  """Mean over the seeds that have not diverged (NaN if none)."""
  values = np.asarray(values, np.float64)
  finite = values[np.isfinite(values)]
  return float(finite.mean()) if finite.size else float('nan')


def _log_information(records: list[dict], epoch: int) -> None:
  """One line: I(X;T) of each layer at `epoch` (the last seed measured)."""
  info = next(
    (r['information'] for r in reversed(records) if r['epoch'] == epoch and 'information' in r), {}
  )
  logging.info(
    'analysed epoch %d: %s',
    epoch,
    '  '.join(f'{n} I(X;T)={v["mi_input"][0] / np.log(2):.3f} bits' for n, v in info.items()),
  )
