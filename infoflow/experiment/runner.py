"""The loop of a run: `train_and_analyse(config, workdir)`, step by step.

Each step is a function of its own, so benchmarks and tests build exactly
what a run builds:

  open_workdir      validate the config whole, create the workdir
  load_data         the data set's arrays and the evaluation inputs
  build_trainer     model, optimizer, the train states of all seeds (with
                    their shuffle and noise keys), the jitted steps
  plan_run          what is analysed when (setup.plan_analysis), written to
                    run.json (run_info)
  resume_or_start   the newest readable checkpoint, or a fresh start
  then, for each analysed epoch:
  train_until       train the seeds up to it, with progress lines
  record_epoch      analyse_epoch (metrics and information of every seed),
                    write_record (each record to the writers: metrics.jsonl,
                    TensorBoard), then the writers' figures at the
                    `figure_epochs` only (drawing them takes ~0.6 s)
  save_checkpoint   the train states of the epoch

load_data, build_trainer, evaluate and train_until live in trainer.py; the
run directory and its checkpoints in workdir.py; the files of the record in
`infoflow.record`. Outputs: docs/run_record.md; errors: docs/errors.md.
"""

from __future__ import annotations

import math
import pathlib
import time
from typing import Callable
from typing import Iterator
from typing import Optional
from typing import Sequence

from absl import logging
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

import infoflow
from infoflow import analysis
from infoflow import configs
from infoflow import record as record_lib
from infoflow import units
from infoflow.experiment import progress as progress_lib
from infoflow.experiment import setup
from infoflow.experiment import workdir as workdir_lib
from infoflow.experiment import writers as writers_lib
from infoflow.experiment.trainer import Data
from infoflow.experiment.trainer import Trainer
from infoflow.experiment.trainer import build_trainer
from infoflow.experiment.trainer import evaluate
from infoflow.experiment.trainer import load_data
from infoflow.experiment.trainer import train_until
from infoflow.measures import clustering

FIGURE_POINTS = 10  # analysed epochs whose figures go to the writers (and the last)


def figure_epochs(epochs: Sequence[int]) -> set[int]:
  """About FIGURE_POINTS of the analysed `epochs`, evenly spaced in the list,
  and the last: the epochs at which the writers get figures (TensorBoard
  images of the information plane and a scatter)."""
  stride = max(1, math.ceil(len(epochs) / FIGURE_POINTS))
  return set(epochs[::stride]) | set(epochs[-1:])


def open_workdir(config, workdir) -> pathlib.Path:
  """Validates `config` whole, then creates `workdir` and writes config.json.

  Raises:
    configs.ConfigError: a bad config field, or an unregistered writer name
      (before anything is written).
    workdir_lib.RunDirError: an unusable workdir, or one holding a run of
      another config.
  """
  configs.validate(config)
  writers_lib.check_names(config)
  workdir = workdir_lib.prepare_workdir(workdir)
  workdir_lib.check_same_config(workdir, config)
  record_lib.write_text(workdir / record_lib.CONFIG, config.to_json(indent=2))
  return workdir


def run_info(config, data: Data, plan: setup.AnalysisPlan) -> dict:
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
    workdir_lib.RunDirError: a corrupt metrics line, no readable checkpoint.
  """
  directory = workdir / workdir_lib.CHECKPOINTS
  manager = workdir_lib.open_checkpoints(directory, config.checkpoint.keep)
  records = workdir_lib.read_records(workdir)
  step, states = workdir_lib.restore_newest(manager, states, directory)
  start_epoch = 0 if step is None else int(step)
  if step is None:
    records = []
  else:
    records = [r for r in records if r['epoch'] <= start_epoch]
    logging.info('resumed from epoch %d (%s)', start_epoch, workdir)
  record_lib.write_metrics(workdir / record_lib.METRICS, records)
  return manager, start_epoch, states, records


def analyse_epoch(
  config,
  data: Data,
  trainer: Trainer,
  plan: setup.AnalysisPlan,
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
    record_lib.save_representations(workdir, record['epoch'], labels, representations)
  writers = writers or writers_lib.Writers([writers_lib.JsonlWriter(workdir / record_lib.METRICS)])
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
    config: a config from `infoflow.configs`.
    workdir: output directory (created).
    on_record: called with each new record after it is written (tests use it
      to simulate an interruption).
    writers: metric writers added to those of `config.writers`
      (writers.py); flushed at each analysed epoch, not closed.

  Raises:
    configs.ConfigError: a bad config field (before anything is written).
    workdir_lib.RunDirError: an unusable workdir, metrics.jsonl or checkpoints.
  """
  workdir = open_workdir(config, workdir)
  data = load_data(config)
  trainer = build_trainer(config, data)
  plan = plan_run(workdir, config, data, trainer)
  manager, epoch, states, records = resume_or_start(workdir, config, trainer.states)
  todo = [e for e in plan.epochs if e > epoch or (e == 0 and epoch == 0 and not records)]
  progress = progress_lib.Progress(epoch, config.num_epochs, len(todo))
  out, started = writers_lib.open_writers(config, workdir, writers), time.time()
  drawn = figure_epochs(plan.epochs)
  try:
    for target in todo:
      states, metrics = train_until(config, data, trainer, states, epoch, target, progress)
      epoch, analysis_start = target, time.time()
      record_epoch(
        workdir,
        config,
        data,
        trainer,
        plan,
        states,
        epoch,
        metrics,
        records,
        out,
        started=started,
        on_record=on_record,
        figures=epoch in drawn,
      )
      save_checkpoint(manager, epoch, states)
      progress.analysed(time.time() - analysis_start)
      _log_information(records, epoch)
  finally:
    out.close()
  manager.close()
  logging.info('done: %d records in %s', len(records), workdir / record_lib.METRICS)
  return records


def plan_run(workdir: pathlib.Path, config, data: Data, trainer: Trainer) -> setup.AnalysisPlan:
  """`setup.plan_analysis` of the run, written to run.json (`run_info`)."""
  plan = setup.plan_analysis(
    config, trainer.model, jax.tree.map(lambda a: a[0], trainer.states.params), data.eval_x[:1]
  )
  record_lib.write_json(workdir / record_lib.RUN_INFO, run_info(config, data, plan))
  return plan


def record_epoch(
  workdir: pathlib.Path,
  config,
  data: Data,
  trainer: Trainer,
  plan: setup.AnalysisPlan,
  states,
  epoch: int,
  metrics: Optional[dict],
  records: list[dict],
  out: writers_lib.Writers,
  *,
  started: float,
  on_record: Optional[Callable[[dict], None]] = None,
  figures: bool = True,
) -> None:
  """Analyses every seed at `epoch` (`analyse_epoch`), appends each record to
  `records` as written (`write_record`), then writes the figures (when
  `figures`) and flushes `out`. `metrics` (`evaluate`) are computed when
  None; `on_record` is called with each record after it is written."""
  if metrics is None:
    metrics = evaluate(trainer, data, states, epoch)
  kept = {}
  for record, reps in analyse_epoch(
    config, data, trainer, plan, states, epoch, metrics, started=started
  ):
    records.append(write_record(workdir, record, reps, data.eval_y, out))
    kept.update(reps)  # seed 0's saved layers
    if on_record is not None:
      on_record(record)
  if figures:
    out.write_figures(epoch, records, kept, data.eval_y, plan.layer_widths)
  out.flush()


def save_checkpoint(manager, epoch: int, states) -> None:
  """Saves the train states of `epoch` and waits until they are written."""
  manager.save(epoch, args=ocp.args.StandardSave(states), force=True)
  manager.wait_until_finished()


def _analyse_seed(
  config, data: Data, model, plan: setup.AnalysisPlan, params, key, *, keep
) -> tuple[dict, dict]:
  """`analysis.analyse` of one seed's parameters, as `config.analysis` says."""
  return analysis.analyse(
    key,
    model,
    params,
    data.eval_x,
    data.eval_y,
    data.dataset.num_classes,
    beta=plan.beta,
    estimated_layers=plan.estimated,
    settings=configs.information_settings(config),
    hooks=plan.hooks,
    keep_representations=keep,
  )


def _diverged(model, params, inputs) -> bool:
  """Non-finite parameters, or finite ones whose activations overflow."""
  if not all(np.isfinite(a).all() for a in jax.tree.leaves(params)):
    return True
  layers = infoflow.sampling.noise_free_layers(model, {'params': params}, inputs)
  return not all(bool(jnp.isfinite(a).all()) for a in layers.values())


def _log_information(records: list[dict], epoch: int) -> None:
  """One line: I(X;T) of each layer at `epoch` (the last seed measured)."""
  info = next(
    (r['information'] for r in reversed(records) if r['epoch'] == epoch and 'information' in r), {}
  )
  logging.info(
    'analysed epoch %d: %s',
    epoch,
    '  '.join(
      f'{n} I(X;T)={v["mi_input"][0] * units.BITS_PER_NAT:.3f} bits'
      if (v.get('mi_input') or [None])[0] is not None
      else f'{n} I(X;T)=non-finite'
      for n, v in info.items()
    ),
  )
