"""The loop of a run: `train_and_analyse(config, workdir)`, step by step.

Each step is a function of its own, so benchmarks and tests build exactly
what a run builds:

  open_workdir      validate the config whole, create the workdir, take its
                    lock (held for the whole run; lock.py), refuse another
                    config's run
  load_data         the data set's arrays and the evaluation inputs
  build_trainer     model, optimizer, the train states of all seeds (with
                    their shuffle and noise keys), the jitted steps
  plan_run          what is analysed when (setup.plan_analysis), written to
                    run.json (run_info)
  resume_or_start   where to resume: records and checkpoints reconciled
                    (workdir.reconcile), or a fresh start
  then, for each analysed epoch:
  train_until       train the seeds up to it, with progress lines
  record_epoch      analyse_epoch (metrics and information of every seed;
                    several seeds side by side, seed_pool.py),
                    write_record (each record to the writers: metrics.jsonl,
                    TensorBoard), then the writers' figures at the
                    `figure_epochs` only (drawing them takes ~0.6 s)
  save_checkpoint   the train states of the epoch

load_data, build_trainer, evaluate and train_until live in trainer.py; the
run directory and its checkpoints in workdir.py; the files of the record in
`infoflow.record`. Outputs: docs/run_record.md; errors: docs/errors.md.
"""

from __future__ import annotations

import _thread
import contextlib
import dataclasses
import functools
import json
import math
import pathlib
import sys
import threading
import time
from typing import Callable
from typing import Iterator
from typing import Optional
from typing import Sequence

from absl import logging
import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp

import infoflow
from infoflow import analysis
from infoflow import configs
from infoflow import record as record_lib
from infoflow import units
from infoflow.configs import base as config_base
from infoflow.experiment import lock as lock_lib
from infoflow.experiment import progress as progress_lib
from infoflow.experiment import seed_pool
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
INTERRUPT_DELAY = 0.01  # seconds before an unraisable Ctrl-C is delivered again


def figure_epochs(epochs: Sequence[int]) -> set[int]:
  """About FIGURE_POINTS of the analysed `epochs`, evenly spaced in the list,
  and the last: the epochs at which the writers get figures (TensorBoard
  images of the information plane and a scatter)."""
  stride = max(1, math.ceil(len(epochs) / FIGURE_POINTS))
  return set(epochs[::stride]) | set(epochs[-1:])


def open_workdir(config, workdir, *, hold: Optional[contextlib.ExitStack] = None) -> pathlib.Path:
  """Validates `config` whole, then creates `workdir` and writes config.json.

  Args:
    config: the run's config.
    workdir: its directory.
    hold: where the workdir lock (lock.py) is held: taken right after the
      workdir is created, before anything in it is read or written, and
      released when `hold` closes (`train_and_analyse` holds it for the whole
      run). None: no lock (a caller that only builds the steps of a run).

  Under multi-process JAX only process 0 (`workdir.writes_record`) creates,
  locks, checks and writes the workdir; the others validate the config and
  touch nothing there, but raise process 0's `RunDirError` too
  (`_on_process_0`).

  Raises:
    configs.ConfigError: a bad config field, or an unregistered writer name
      (before anything is written).
    workdir_lib.RunDirError: an unusable workdir, one another process writes
      (its lock is held), or one holding a run of another config.
  """
  configs.validate(config)
  writers_lib.check_names(config)

  def prepare():
    path = workdir_lib.prepare_workdir(workdir)
    if hold is not None:
      hold.enter_context(lock_lib.hold(path))
    workdir_lib.check_same_config(path, config)
    record_lib.write_text(path / record_lib.CONFIG, config.to_json(indent=2))
    return path

  return _on_process_0(prepare) or pathlib.Path(workdir).expanduser()


def _on_process_0(step: Callable):
  """`step()` in a single process; under multi-process JAX, on process 0
  alone (None elsewhere), its `RunDirError` raised on every process (the
  message sent over, `_from_process_0`): no process waits for one that
  stopped."""
  result, error = None, None
  if workdir_lib.writes_record():
    try:
      result = step()
    except workdir_lib.RunDirError as raised:
      if jax.process_count() == 1:
        raise
      error = raised
  if jax.process_count() > 1:
    message = _from_process_0(None if error is None else str(error))
    if error is not None:
      raise error
    if message is not None:
      raise workdir_lib.RunDirError(f'process 0 stopped the run: {message}')
  return result


def run_info(config, data: Data, plan: setup.AnalysisPlan) -> dict:
  """The contents of run.json (docs/run_record.md)."""
  return {
    'config': config.name,
    workdir_lib.FULL_CONFIG: json.loads(config.to_json()),
    'data_source': data.dataset.source,
    'data_split': data.dataset.split,
    'num_classes': data.dataset.num_classes,
    'beta': plan.beta,
    'layers': plan.layer_widths,
    'estimated_layers': plan.estimated if plan.beta > 0 else [],
    'representation_layers': plan.kept,
    'analysis_inputs': config.analysis.inputs,
    'num_eval_inputs': setup.num_analysed_inputs(config, len(data.eval_x)),
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


def resume_or_start(workdir: pathlib.Path, config, states, epochs: Sequence[int]):
  """Where the run resumes, its records and checkpoints reconciled
  (`workdir.reconcile`: the newest checkpoint from which every missing
  analysed epoch of `epochs` can be redone), or a fresh start.

  Rewrites metrics.jsonl with the records kept; the run redoes the analysed
  epochs at or after the start epoch that have none (`epochs_to_do`).

  Under multi-process JAX process 0 alone reconciles the workdir; the others
  get its start epoch, states and records (broadcast) and no checkpoint
  manager (None): they never read the workdir, which may be on process 0's
  disk only.

  Returns:
    `(checkpoint manager, start epoch, states, records kept)`.

  Raises:
    workdir_lib.RunDirError: a corrupt metrics line, no readable checkpoint.
  """

  def reconcile():
    found = workdir_lib.reconcile(workdir, config.checkpoint.keep, states, epochs, config.num_seeds)
    record_lib.write_metrics(workdir / record_lib.METRICS, found[3])
    return found

  found = _on_process_0(reconcile)
  if jax.process_count() == 1:
    return found
  manager, start_epoch, resumed, records = found or (None, None, states, None)
  start_epoch, records = _from_process_0([start_epoch, records])
  # The states as host arrays, placed as the fresh ones are; process 0 keeps its own.
  host = multihost_utils.broadcast_one_to_all(jax.tree.map(np.asarray, resumed))
  if not workdir_lib.writes_record():
    resumed = jax.device_put(host, jax.tree.map(lambda a: a.sharding, states))
  return manager, start_epoch, resumed, records


def _from_process_0(value):
  """Process 0's JSON value (its `value`; the others' is ignored) on every
  process of a multi-process run: `multihost_utils.broadcast_one_to_all`
  of its UTF-8 bytes, their length first."""
  text = np.frombuffer(json.dumps(value).encode(), np.uint8)
  size = int(multihost_utils.broadcast_one_to_all(np.int32(text.size)))
  if not workdir_lib.writes_record():
    text = np.zeros(size, np.uint8)
  return json.loads(bytes(multihost_utils.broadcast_one_to_all(text)))


def epochs_to_do(epochs: Sequence[int], start: int, records: list[dict]) -> list[int]:
  """The analysed `epochs` a run resumed at `start` with `records` analyses:
  those from `start` on without records (`start` itself when its records
  are missing: its checkpoint is re-analysed, or epoch 0 at a fresh start)."""
  recorded = {r['epoch'] for r in records}
  return [e for e in epochs if e >= start and e not in recorded]


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
  workers: Optional[int] = None,
) -> Iterator[tuple[dict, dict]]:
  """Yields `(record, representations)` of each seed, in seed order.

  A record holds the seed's metrics (`evaluate`), the seconds since
  `started` and its analysis; a seed whose parameters or activations are
  non-finite is recorded as diverged. The seeds are analysed `workers` at a
  time (default `seed_pool.seed_workers`: on a one-device CPU, one seed per
  core), each in a thread of its own; each record is yielded as soon as it
  and those of the seeds before it are made, so that it is written while the
  later seeds are analysed. A seed's key (`seed_key`) and its programs are
  those of a lone seed: the records do not depend on `workers`. With
  `analysis.inputs = 'resample'` each seed analyses rows drawn afresh from
  its key (`setup.analysed_inputs`).
  """
  if workers is None:
    workers = seed_pool.seed_workers(config.num_seeds)

  def one_seed(seed: int) -> tuple[dict, dict]:
    return _seed_record(config, data, trainer, plan, states, epoch, metrics, seed, started)

  yield from seed_pool.in_order(one_seed, config.num_seeds, workers)


def _seed_record(
  config, data: Data, trainer: Trainer, plan, states, epoch: int, metrics: dict, seed: int, started
) -> tuple[dict, dict]:
  """`(record, representations)` of `seed` at `epoch` (`analyse_epoch`)."""
  key = seed_key(trainer, epoch, seed)
  # On the host: the analysis places its arrays itself.
  params = jax.tree.map(lambda a: np.asarray(a[seed]), states.params)
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
  head = {
    'epoch': epoch,
    'seed': seed,
    'step': int(states.step[seed]),
    'wall_time': time.time() - started,
  }
  scores = {
    split: {k: float(v[seed]) for k, v in values.items()} for split, values in metrics.items()
  }
  return {**head, **scores, **record}, reps


def seed_key(trainer: Trainer, epoch: int, seed: int) -> jax.Array:
  """The analysis key of `seed` at `epoch`: fold_in(fold_in(analysis_key,
  epoch), seed), a function of the run's seed alone (`build_trainer`), so a
  resumed run analyses with the keys of an uninterrupted one."""
  return jax.random.fold_in(jax.random.fold_in(trainer.analysis_key, epoch), seed)


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

  The workdir's lock (lock.py) is held for the whole run, and a Ctrl-C that
  lands in a garbage-collection callback stops it too (`interrupts_delivered`).

  Several processes (`jax.distributed` initialised before): every process
  calls this with the same config. Each trains every seed (the same states
  everywhere) and the estimators split their Monte Carlo draws over the
  devices of all processes; only process 0 writes (config.json, run.json,
  metrics.jsonl, representations, checkpoints, the writers), the others
  write nothing and return the same records.

  Args:
    config: a config from `infoflow.configs`.
    workdir: output directory (created).
    on_record: called with each new record after it is written (tests use it
      to simulate an interruption).
    writers: metric writers added to those of `config.writers`
      (writers.py); flushed at each analysed epoch, not closed. Only
      process 0 of a multi-process run writes to them.

  Raises:
    configs.ConfigError: a bad config field (before anything is written).
    workdir_lib.RunDirError: an unusable workdir, metrics.jsonl or checkpoints;
      a workdir another process writes (its lock, lock.py), or one holding a
      run of another config.
  """
  with contextlib.ExitStack() as stack:
    stack.enter_context(interrupts_delivered())
    workdir = open_workdir(config, workdir, hold=stack)
    return _run(config, workdir, on_record, writers)


def _run(config, workdir: pathlib.Path, on_record, writers) -> list[dict]:
  """`train_and_analyse` in an opened (and locked) `workdir`."""
  data = load_data(config)
  trainer = build_trainer(config, data)
  plan = plan_run(workdir, config, data, trainer)
  manager, epoch, states, records = resume_or_start(workdir, config, trainer.states, plan.epochs)
  todo = epochs_to_do(plan.epochs, epoch, records)
  progress = progress_lib.Progress(epoch, config.num_epochs, len(todo))
  out = writers_lib.Writers([])  # process k > 0 of a multi-process run writes nothing
  if workdir_lib.writes_record():
    out = writers_lib.open_writers(config, workdir, writers)
  started = time.time()
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
    if manager is not None:
      manager.close()
  if workdir_lib.writes_record():
    logging.info('done: %d records in %s', len(records), workdir / record_lib.METRICS)
  return records


def plan_run(workdir: pathlib.Path, config, data: Data, trainer: Trainer) -> setup.AnalysisPlan:
  """`setup.plan_analysis` of the run, written to run.json (`run_info`).

  Process k > 0 of a multi-process run writes nothing, so its plan keeps no
  representations (`kept` empty: none are computed to be saved).
  """
  plan = setup.plan_analysis(
    config, trainer.model, jax.tree.map(lambda a: a[0], trainer.states.params), data.eval_x[:1]
  )
  if not workdir_lib.writes_record():
    return dataclasses.replace(plan, kept=[])
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
  # Closed on the way out: after an exception (from `on_record`, a writer)
  # the seeds not yet started are dropped (`seed_pool.in_order`).
  seeds = contextlib.closing(
    analyse_epoch(config, data, trainer, plan, states, epoch, metrics, started=started)
  )
  with seeds as analysed:
    for record, reps in analysed:
      records.append(write_record(workdir, record, reps, data.eval_y, out))
      kept.update(reps)  # seed 0's saved layers
      if on_record is not None:
        on_record(record)
  if figures:
    out.write_figures(epoch, records, kept, data.eval_y, plan.layer_widths)
  out.flush()


def save_checkpoint(manager, epoch: int, states) -> None:
  """Saves the train states of `epoch` and waits until they are written;
  nothing when `epoch` is saved already (the checkpoint a resumed run
  restored to re-analyse its epoch: the same states), or without a manager
  (process k > 0 of a multi-process run: process 0 saves).

  Host copies are saved: orbax refuses a process's local device arrays when
  several processes run, and restoring places them as the run's states are
  (`workdir.restore_newest`), so one checkpoint format serves both."""
  if manager is None or epoch in manager.all_steps():
    return
  manager.save(epoch, args=ocp.args.StandardSave(jax.tree.map(np.asarray, states)), force=True)
  manager.wait_until_finished()


@contextlib.contextmanager
def interrupts_delivered():
  """Within the block, a Ctrl-C that lands where Python cannot raise it (in
  a garbage-collection callback, such as JAX's, or a `__del__`) stops the
  run as a Ctrl-C anywhere else does, instead of being printed as
  "Exception ignored" and lost: `sys.unraisablehook` (`deliver_interrupt`)
  delivers it again to the main thread."""
  previous = sys.unraisablehook
  sys.unraisablehook = functools.partial(deliver_interrupt, previous)
  try:
    yield
  finally:
    sys.unraisablehook = previous


def deliver_interrupt(previous: Callable, unraisable) -> None:
  """An unraisable KeyboardInterrupt raised again in the main thread, as
  SIGINT would (`_thread.interrupt_main`); any other goes to `previous`.

  Delivered from a timer thread `INTERRUPT_DELAY` seconds later: raised at
  once, it would be raised in this hook, or in the garbage collection that
  called it, and be unraisable again. Should it land in such a place once
  more, this hook delivers it again.
  """
  if not isinstance(unraisable.exc_value, KeyboardInterrupt):
    previous(unraisable)
    return
  timer = threading.Timer(INTERRUPT_DELAY, _thread.interrupt_main)
  timer.daemon = True
  try:
    timer.start()
  except RuntimeError:  # no new threads at interpreter shutdown
    previous(unraisable)


def _analyse_seed(
  config, data: Data, model, plan: setup.AnalysisPlan, params, key, *, keep
) -> tuple[dict, dict]:
  """`analysis.analyse` of one seed's parameters on its analysed inputs of
  the epoch (`setup.analysed_inputs`), as `config.analysis` says, with the
  `information_ceiling` of those inputs beside their information. The
  representations kept (`keep`) are those of the evaluation set, each input
  once, whatever rows were drawn."""
  inputs, labels, key = setup.analysed_inputs(config, data.eval_x, data.eval_y, key)
  drawn = config.analysis.inputs == config_base.RESAMPLE
  record, reps = analysis.analyse(
    key,
    model,
    params,
    inputs,
    labels,
    data.dataset.num_classes,
    beta=plan.beta,
    estimated_layers=plan.estimated,
    settings=configs.information_settings(config),
    hooks=plan.hooks,
    keep_representations=() if drawn else keep,
  )
  if drawn and keep:
    clean = analysis.noise_free_representations(model, {'params': params}, data.eval_x)
    reps = {name: clean[name] for name in keep}
  if 'information' in record:
    record['information_ceiling'] = setup.ceiling_of_inputs(inputs) if drawn else data.eval_ceiling
  return record, reps


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
