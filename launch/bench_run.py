r"""Benchmark of whole runs: wall time, memory, compilation, precision.

    python -m launch.bench_run [--configs=szt] [--seeds=1,8] \
        [--num_points=N] [--override=field=value ...] [--cpu_devices=N] \
        [--workdir=DIR] [--output=FILE]

Runs `python -m launch.train` as a child process for every config and seed
count (`--config.num_seeds=S`, `--config.analysis.num_points=N` when given,
then each `--override` as `--config.field=value`), one after the other, and
prints a Markdown table, one row per run:

  wall s          the child's wall time (imports, data, training, analysis,
                  checkpoints: the whole command);
  peak RSS GB     the child's maximum resident set size (`os.wait4` rusage);
  compile s, compiles  XLA backend compilations in the child: their total
                  seconds and count (a `jax.monitoring` listener; tracing and
                  lowering to MLIR are not included);
  train s, analysis s  the run's own split (`infoflow.experiment.progress`): seconds in
                  training calls, and in analysed epochs (analysis, records,
                  figures, checkpoint); both include their compilations;
  analysis CPU %   the child's CPU time during the analysed epochs over their
                  wall time (100: one core busy);
  seeds at once   the seeds analysed side by side (`infoflow.experiment.
                  seed_pool.seed_workers`);
  max se I(X;T), max se I(T;Y)  the largest standard errors (nats) over all
                  records, layers and seeds of metrics.jsonl.

Under the table, one table per run splits the analysis into its stages
(`stage_table`): the sampling, each layer's estimate, the noise-free
representations, the binning and clustering measures. Each stage's calls are
timed in the child (`StageClock`, waiting for their results), their seconds
summed over the seeds: the first analysed epoch (compilations included) and
the seconds per seed at each later one. Seeds analysed side by side overlap,
so the stages then add up to more than the wall time.

The machine (CPU count, load averages before and after) is printed under the
table, so that a number quoted from it can state the load. Runs go to
`--workdir` (kept) or to a temporary directory (deleted). A failed run prints
the tail of its stderr and the benchmark exits 1.
"""

from __future__ import annotations

import atexit
import functools
import json
import math
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import NamedTuple
from typing import Optional
from typing import Sequence

from absl import app
from absl import flags

from infoflow import record

from . import common_flags

_CONFIGS = flags.DEFINE_list('configs', ['szt'], 'Config names.')
_NUM_POINTS = flags.DEFINE_integer('num_points', 0, 'Analysed epochs (0: the config value).')
_OUTPUT = flags.DEFINE_string('output', None, 'Also write the table to this file.')
# Also: --seeds, --override, --cpu_devices (passed to launch.train), --workdir
# (where the runs go, kept; default: a temporary directory, deleted).

STATS_ENV = 'INFOFLOW_BENCH_STATS'  # where the child writes its statistics
STDERR_TAIL = 40  # lines of a failed child's stderr shown
_REPO = pathlib.Path(__file__).resolve().parent.parent
# This package: `launch` in a clone, `infoflow_launch` installed.
_CHILD = f'from {__package__} import bench_run; bench_run.child_main()'
# The jax.monitoring event of one XLA backend compilation ends so
# ('/jax/core/compile/backend_compile_duration' in jax 0.10).
_COMPILE_EVENT_SUFFIX = 'backend_compile_duration'


class RunFailed(RuntimeError):
  """A benchmarked run exited non-zero (the message holds its stderr tail)."""


class Row(NamedTuple):
  """One benchmarked run (seconds, GB, nats; NaN where unknown)."""

  config: str
  num_seeds: int
  analysed_epochs: int
  wall_seconds: float
  peak_rss_gb: float
  compile_seconds: float
  compiles: int
  train_seconds: float
  analysis_seconds: float
  analysis_cpu_percent: float
  seeds_at_once: int
  max_stderr_mi_input: float
  max_stderr_mi_label: float
  devices: str
  first_analysis_seconds: float  # of the first analysed epoch (compilations included)
  stages: dict  # `StageClock.stages` of the run ({} if unknown)


class StageClock:
  """Times the stages of a run's analysis, in the child process.

  `install` wraps the library functions each stage calls (module
  attributes, looked up at each call): `infoflow.sampling.sample_layers`
  (stage 'sampling'), the information estimators of
  `infoflow.information.ESTIMATORS` ('estimate LAYER', named by the layers
  the seed's sampling returned, in their order, as `network_information`
  estimates them), `infoflow.analysis.noise_free_representations`
  ('representations') and the hooks built by `analysis.binning_hook` and
  `analysis.clustering_hook` ('binning', 'clustering'). Each call waits for
  its result (`jax.block_until_ready`), so its seconds are its own, not
  those of programs still running when it returns.

  Attributes:
    stages: {stage: {'calls', 'seconds', 'first_calls', 'first_seconds'}},
      the first two over the run, the last two at the first analysed epoch.
    first_epoch: True until `epoch_done` is called.
  """

  def __init__(self):
    self.stages = {}
    self.first_epoch = True
    self._lock = threading.Lock()
    self._layers = threading.local()  # the layers a thread's estimates are of

  def add(self, stage: str, seconds: float) -> None:
    with self._lock:
      entry = self.stages.setdefault(
        stage, {'calls': 0, 'seconds': 0.0, 'first_calls': 0, 'first_seconds': 0.0}
      )
      entry['calls'] += 1
      entry['seconds'] += seconds
      if self.first_epoch:
        entry['first_calls'] += 1
        entry['first_seconds'] += seconds

  def epoch_done(self) -> None:
    """Marks the end of the first analysed epoch (later calls do nothing)."""
    self.first_epoch = False

  def timed(self, stage_of, fn):
    """`fn` timed under the stage `stage_of(result)` names."""
    import jax

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
      start = time.perf_counter()
      result = jax.block_until_ready(fn(*args, **kwargs))
      self.add(stage_of(result), time.perf_counter() - start)
      return result

    return wrapper

  def _sampled(self, samples) -> str:
    self._layers.names = list(samples)
    return 'sampling'

  def _estimated(self, _) -> str:
    names = getattr(self._layers, 'names', None)
    return f'estimate {names.pop(0)}' if names else 'estimate R/2 (all layers)'

  def install(self) -> None:
    """Wraps the stages' functions (see the class docstring)."""
    from infoflow import analysis
    from infoflow import information
    from infoflow import sampling

    sampling.sample_layers = self.timed(self._sampled, sampling.sample_layers)
    for form, estimator in list(information.ESTIMATORS.items()):
      information.ESTIMATORS[form] = self.timed(self._estimated, estimator)
    analysis.noise_free_representations = self.timed(
      lambda _: 'representations', analysis.noise_free_representations
    )
    for stage in ('binning', 'clustering'):
      setattr(
        analysis, f'{stage}_hook', self._timed_hooks(stage, getattr(analysis, f'{stage}_hook'))
      )

  def _timed_hooks(self, stage: str, factory):
    """`factory` (a hook builder) whose hooks are timed under `stage`."""

    @functools.wraps(factory)
    def build(*args, **kwargs):
      return self.timed(lambda _: stage, factory(*args, **kwargs))

    return build


def child_main() -> None:
  """Entry of the child process: `launch.train`, with statistics.

  Registers a listener for XLA backend compilations, times the run's
  training and analysis through its progress object (a subclass of
  `infoflow.experiment.progress.Progress` put in its place, which also takes
  the process's CPU time during the analysed epochs), its analysis stages
  (`StageClock`) and the seeds it analyses at once, then runs `launch.train`
  with the command line; at exit writes `{'compile_seconds', 'compiles',
  'train_seconds', 'analysis_seconds', 'first_analysis_seconds',
  'analysis_cpu_seconds', 'seeds_at_once', 'stages', 'devices'}` as JSON to
  the file named by the environment variable INFOFLOW_BENCH_STATS.
  """
  import jax

  from infoflow.experiment import progress
  from infoflow.experiment import seed_pool

  from . import train

  stats = {
    'compile_seconds': 0.0,
    'compiles': 0,
    'train_seconds': 0.0,
    'analysis_seconds': 0.0,
    'first_analysis_seconds': math.nan,
    'analysis_cpu_seconds': 0.0,
    'seeds_at_once': 0,
  }
  clock = StageClock()

  def on_event(event, duration, **kwargs):
    del kwargs
    if event.endswith(_COMPILE_EVENT_SUFFIX):
      stats['compile_seconds'] += duration
      stats['compiles'] += 1

  def cpu_seconds():
    return sum(os.times()[:2])

  class TimedProgress(progress.Progress):
    def __init__(self, *args, **kwargs):
      super().__init__(*args, **kwargs)
      self.cpu_mark = cpu_seconds()  # the first analysed epoch may come first

    def trained(self, epochs, seconds):
      stats['train_seconds'] += seconds
      super().trained(epochs, seconds)
      self.cpu_mark = cpu_seconds()

    def analysed(self, seconds):
      stats['analysis_seconds'] += seconds
      stats['analysis_cpu_seconds'] += cpu_seconds() - self.cpu_mark
      if clock.first_epoch:
        stats['first_analysis_seconds'] = seconds
      clock.epoch_done()
      super().analysed(seconds)
      self.cpu_mark = cpu_seconds()

  def seed_workers(num_seeds):
    stats['seeds_at_once'] = count = workers_of(num_seeds)
    return count

  def write_stats():
    try:
      kinds = [d.device_kind for d in jax.devices()]
      stats['devices'] = f'{len(kinds)} x {kinds[0]}'
    except RuntimeError:
      stats['devices'] = '?'
    stats['stages'] = clock.stages
    pathlib.Path(os.environ[STATS_ENV]).write_text(json.dumps(stats))

  jax.monitoring.register_event_duration_secs_listener(on_event)
  progress.Progress = TimedProgress
  workers_of, seed_pool.seed_workers = seed_pool.seed_workers, seed_workers
  clock.install()
  atexit.register(write_stats)
  train.run()


def child_command(
  config: str,
  num_seeds: int,
  workdir: pathlib.Path,
  *,
  num_points: Optional[int] = None,
  overrides: Sequence[str] = (),
  cpu_devices: int = 0,
) -> list[str]:
  """The child's command line (`launch.train` flags).

  Raises:
    ValueError: an override that is not 'field=value' (names --override).
  """
  argv = [sys.executable, '-c', _CHILD, f'--config={config}', f'--workdir={workdir}']
  # Cold compiles: what a first run on a fresh machine costs.
  argv.append('--compile_cache=off')
  argv.append(f'--config.num_seeds={num_seeds}')
  if num_points:
    argv.append(f'--config.analysis.num_points={num_points}')
  for override in overrides:
    field, sep, _ = override.partition('=')
    if not sep or not field or field.startswith('-'):
      raise ValueError(
        f"--override must be 'field=value' (e.g. analysis.num_replicas=20); got {override!r}."
      )
    argv.append(f'--config.{override}')
  if cpu_devices:
    argv.append(f'--cpu_devices={cpu_devices}')
  return argv


def _wait(proc: subprocess.Popen):
  """(exit code, rusage) of `proc`; kills it if the wait is interrupted."""
  try:
    _, status, usage = os.wait4(proc.pid, 0)
  except BaseException:
    proc.kill()
    os.wait4(proc.pid, 0)
    raise
  proc.returncode = os.waitstatus_to_exitcode(status)
  return proc.returncode, usage


def run_one(
  config: str,
  num_seeds: int,
  workdir,
  *,
  num_points: Optional[int] = None,
  overrides: Sequence[str] = (),
  cpu_devices: int = 0,
) -> Row:
  """Runs one config with `num_seeds` seeds in `workdir/CONFIG_sS` and measures it.

  Raises:
    ValueError: a bad override, or a run directory that is not empty.
    RunFailed: the run exited non-zero (with its stderr tail).
  """
  run_dir = pathlib.Path(workdir) / f'{config}_s{num_seeds}'
  if run_dir.exists() and any(run_dir.iterdir()):
    raise ValueError(f'--workdir: {run_dir} is not empty (a run there would resume).')
  argv = child_command(
    config, num_seeds, run_dir, num_points=num_points, overrides=overrides, cpu_devices=cpu_devices
  )
  run_dir.mkdir(parents=True, exist_ok=True)
  stats_path, err_path = run_dir / 'bench_stats.json', run_dir / 'bench_stderr.log'
  env = dict(os.environ, **{STATS_ENV: str(stats_path)})
  env['PYTHONPATH'] = os.pathsep.join(filter(None, [str(_REPO), env.get('PYTHONPATH')]))
  start = time.perf_counter()
  with open(run_dir / 'bench_stdout.log', 'wb') as out, open(err_path, 'wb') as err:
    code, usage = _wait(subprocess.Popen(argv, cwd=_REPO, env=env, stdout=out, stderr=err))
  wall = time.perf_counter() - start
  if code != 0:
    tail = err_path.read_text(errors='replace').splitlines()[-STDERR_TAIL:]
    raise RunFailed(
      f'{config} with {num_seeds} seed(s) exited {code}: {" ".join(argv[3:])}\n' + '\n'.join(tail)
    )
  stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
  epochs, se_input, se_label = record_summary(run_dir / 'metrics.jsonl')
  return Row(
    config,
    num_seeds,
    epochs,
    wall,
    usage.ru_maxrss * _RSS_UNIT / 1e9,
    stats.get('compile_seconds', math.nan),
    stats.get('compiles', -1),
    stats.get('train_seconds', math.nan),
    stats.get('analysis_seconds', math.nan),
    100 * stats.get('analysis_cpu_seconds', math.nan) / stats.get('analysis_seconds', math.nan),
    stats.get('seeds_at_once', -1),
    se_input,
    se_label,
    stats.get('devices', '?'),
    stats.get('first_analysis_seconds', math.nan),
    stats.get('stages', {}),
  )


_RSS_UNIT = 1 if sys.platform == 'darwin' else 1024  # ru_maxrss: bytes on macOS, else KiB


def record_summary(path) -> tuple[int, float, float]:
  """(analysed epochs, largest stderr of I(X;T), of I(T;Y)) of a metrics.jsonl.

  Standard errors are the second items of the records' `information` pairs
  `[nats, stderr]`; null (non-finite) ones are skipped; NaN if there are none.
  """
  records = record.read_metrics(pathlib.Path(path))
  worst = {}
  for field in ('mi_input', 'mi_label'):
    errors = [
      record.value_stderr(entry.get(field))[1]
      for r in records
      for entry in (r.get('information') or {}).values()
    ]
    worst[field] = max((se for se in errors if math.isfinite(se)), default=math.nan)
  return len({r['epoch'] for r in records}), worst['mi_input'], worst['mi_label']


_COLUMNS = (
  ('config', '{}'),
  ('seeds', '{}'),
  ('analysed epochs', '{}'),
  ('wall s', '{:.1f}'),
  ('peak RSS GB', '{:.2f}'),
  ('compile s', '{:.1f}'),
  ('compiles', '{}'),
  ('train s', '{:.1f}'),
  ('analysis s', '{:.1f}'),
  ('analysis CPU %', '{:.0f}'),
  ('seeds at once', '{}'),
  ('max se I(X;T) nats', '{:.4f}'),
  ('max se I(T;Y) nats', '{:.4f}'),
)


def format_table(rows: Sequence[Row]) -> str:
  """The rows as a Markdown table (the `devices`, first analysis and
  `stages` fields are left to the footer and `stage_table`)."""
  lines = ['| ' + ' | '.join(name for name, _ in _COLUMNS) + ' |']
  lines.append('|' + '---|' * len(_COLUMNS))
  for row in rows:
    cells = [fmt.format(value) for (_, fmt), value in zip(_COLUMNS, row)]
    lines.append('| ' + ' | '.join(cells) + ' |')
  return '\n'.join(lines)


def stage_table(row: Row) -> str:
  """The analysis of `row`'s run by stage (`StageClock`), a Markdown table.

  Columns: the stage's seconds at the first analysed epoch (compilations
  included), summed over the seeds; its seconds per seed at each later
  analysed epoch (the mean over those calls); that mean's share of the
  stages' total. Two last rows: the stages' total, and the analysed epochs'
  wall time (first epoch; later ones per epoch and seed), which is less than
  the total when seeds are analysed side by side. Empty when no stage was
  timed (a run with no analysed epoch after resuming, say).
  """
  if not row.stages:
    return ''
  later = {}
  for stage, entry in row.stages.items():
    calls = entry['calls'] - entry['first_calls']
    later[stage] = (entry['seconds'] - entry['first_seconds']) / calls if calls else math.nan
  total = sum(v for v in later.values() if math.isfinite(v))
  lines = [
    f'Analysis by stage: {row.config}, {row.num_seeds} seed(s), {row.seeds_at_once} at once',
    '',
    '| stage | first epoch s | later epochs s per seed | share |',
    '|---|---|---|---|',
  ]
  for stage, entry in row.stages.items():
    share = later[stage] / total if total > 0 else math.nan
    lines.append(
      f'| {stage} | {entry["first_seconds"]:.2f} | {later[stage]:.3f} | {100 * share:.0f}% |'
    )
  first_total = sum(entry['first_seconds'] for entry in row.stages.values())
  lines.append(f'| all stages | {first_total:.2f} | {total:.3f} | 100% |')
  seed_epochs = (row.analysed_epochs - 1) * row.num_seeds
  wall = row.analysis_seconds - row.first_analysis_seconds
  per_seed = wall / seed_epochs if seed_epochs > 0 else math.nan
  lines.append(f'| analysed epochs, wall | {row.first_analysis_seconds:.2f} | {per_seed:.3f} | |')
  return '\n'.join(lines)


def machine_line(load_before, load_after, rows: Sequence[Row]) -> str:
  """CPU count, load averages (1, 5, 15 min) before and after, devices."""
  devices = sorted({row.devices for row in rows}) or ['?']
  fmt = lambda load: '/'.join(f'{v:.2f}' for v in load)
  return (
    f'{os.cpu_count()} CPUs; load average (1/5/15 min) before {fmt(load_before)}, '
    f'after {fmt(load_after)}; JAX devices: {", ".join(devices)}'
  )


def _on_sigterm(signum, frame):
  del frame
  raise KeyboardInterrupt(f'signal {signum}')  # the running child is killed


def main(argv):
  """Runs every config x seed count, prints the table; exits 1 on a failure."""
  if len(argv) > 1:
    sys.exit(f'launch.bench_run: error: unexpected arguments {argv[1:]}')
  signal.signal(signal.SIGTERM, _on_sigterm)
  kept = common_flags.WORKDIR.value
  workdir = kept or tempfile.mkdtemp(prefix='bench_run_')
  load_before, rows = os.getloadavg(), []
  try:
    for config in _CONFIGS.value:
      for seeds in common_flags.SEED_COUNTS.value:
        row = run_one(
          config,
          int(seeds),
          workdir,
          num_points=_NUM_POINTS.value or None,
          overrides=common_flags.OVERRIDE.value,
          cpu_devices=common_flags.CPU_DEVICES.value,
        )
        rows.append(row)
        print(f'{config}, {seeds} seed(s): {row.wall_seconds:.1f} s', file=sys.stderr, flush=True)
  except (ValueError, RunFailed) as error:
    sys.exit(f'launch.bench_run: error: {error}')
  except KeyboardInterrupt as error:
    sys.exit(f'launch.bench_run: interrupted ({error}); the running child was stopped.')
  finally:
    if not kept:
      shutil.rmtree(workdir, ignore_errors=True)
  stages = [stage_table(row) for row in rows]
  table = '\n\n'.join(
    [format_table(rows), machine_line(load_before, os.getloadavg(), rows), *filter(None, stages)]
  )
  table += '\n'
  print(table)
  if _OUTPUT.value:
    pathlib.Path(_OUTPUT.value).write_text(table)


if __name__ == '__main__':
  app.run(main)
