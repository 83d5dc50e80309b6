"""The paper's experiments from one call: the runs each needs, then the report.

    from infoflow import paper
    path = paper.reproduce(['szt'], 'runs/paper', num_seeds=8)   # runs/paper/report.md

An experiment (`infoflow.paper.registry`) is one or more named configs
(`infoflow/configs`), each run into `WORKDIR/<config name>` by
`infoflow.experiment.train_and_analyse` with `num_seeds` seeds. A run already
finished there under the same config is reused without loading anything; an
unfinished one is resumed from its last checkpoint (the runner's own
resumption); one under another config is an error (`RunDirError`) naming the
directory. Then `infoflow.paper.report` writes `WORKDIR/report.md`, its
figures under `WORKDIR/figures/`. `launch.reproduce` is the command line of
`reproduce`.
"""

from __future__ import annotations

import ast
import dataclasses
import json
import pathlib
import time
from typing import Optional
from typing import Sequence

from absl import logging

from infoflow import configs
from infoflow import experiment
from infoflow import record as record_lib
from infoflow.experiment import workdir as workdir_lib
from infoflow.paper import registry
from infoflow.paper import report


@dataclasses.dataclass(frozen=True)
class RunOutcome:
  """One run of an experiment: where it is and what this call did.

  Attributes:
    config: the config name.
    workdir: `WORKDIR/<config>`.
    seconds: the time this call spent on it (0 when reused).
    reused: it was already finished under the same config.
  """

  config: str
  workdir: pathlib.Path
  seconds: float
  reused: bool


def parse_overrides(items: Sequence[str]) -> list[tuple[str, object]]:
  """`['analysis.num_replicas=4', ...]` as `[(field, value)]`; a value is
  read as a Python literal (`4`, `1e-3`, `(4, 2)`, `True`), else as a string.

  Raises:
    configs.ConfigError: an item without `=`.
  """
  out = []
  for item in items:
    field, sep, text = item.partition('=')
    if not sep or not field:
      raise configs.ConfigError(f'override {item!r} must read FIELD=VALUE, e.g. num_epochs=12.')
    try:
      value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      value = text
    out.append((field.strip(), value))
  return out


def build_config(name: str, num_seeds: int, overrides: Sequence[tuple[str, object]] = ()):
  """The named config with `num_seeds` seeds and the overrides, validated.

  Raises:
    configs.ConfigError: an unknown field, a value of the wrong type, an
      override of `name` (the run's directory `WORKDIR/<config>` and its
      figures' are fixed by the experiment), or a config that fails
      `configs.validate`.
  """
  config = configs.get_config(name)
  config.num_seeds = num_seeds
  for field, value in overrides:
    if field == 'name':
      raise configs.ConfigError(
        f'override name={value!r} is not allowed: the runs of an experiment go to '
        f'WORKDIR/<config> (here WORKDIR/{name}); pass another --workdir instead.'
      )
    *parents, leaf = field.split('.')
    target = config
    try:
      for p in parents:
        target = target[p]
      if leaf not in target:
        raise KeyError(leaf)
      target[leaf] = value
    except (KeyError, TypeError, AttributeError) as error:
      raise configs.ConfigError(
        f'override {field}={value!r} does not fit config {name!r}: '
        f'{"no such field" if isinstance(error, KeyError) else error}.'
      ) from None
  configs.validate(config)
  return config


def is_finished(config, workdir: pathlib.Path) -> bool:
  """Whether `workdir` holds this config's run with a record for every seed
  at its last analysed epoch (`config.num_epochs`)."""
  if not (workdir / record_lib.CONFIG).is_file():
    return False
  try:
    if workdir_lib.config_changes(workdir, config):
      return False
    records = workdir_lib.read_records(workdir)
  except workdir_lib.RunDirError:
    return False
  done = {r.get('seed', 0) for r in records if r['epoch'] == config.num_epochs}
  return done >= set(range(config.num_seeds))


def ensure_run(config, workdir) -> RunOutcome:
  """Runs `config` into `workdir`, or reuses it there when finished.

  Raises:
    configs.ConfigError, RunDirError: as `experiment.train_and_analyse` (a
      workdir holding another config's run).
  """
  workdir = pathlib.Path(workdir)
  if is_finished(config, workdir):
    logging.info('%s: finished run found in %s; reusing it.', config.name, workdir)
    return RunOutcome(config.name, workdir, 0.0, True)
  start = time.time()
  experiment.train_and_analyse(config, workdir)
  return RunOutcome(config.name, workdir, time.time() - start, False)


def existing_seeds(run_dir: pathlib.Path) -> Optional[int]:
  """`num_seeds` of the run already in `run_dir` (its config.json), or None."""
  try:
    seeds = json.loads((run_dir / record_lib.CONFIG).read_text()).get('num_seeds')
  except (OSError, json.JSONDecodeError, AttributeError):
    return None
  return seeds if isinstance(seeds, int) and seeds >= 1 else None


def plan_runs(name: str, workdir, *, num_seeds: Optional[int] = None, overrides=()) -> list:
  """The validated configs of experiment `name`, in its config order.

  Seeds: `num_seeds`; when None, those of a run of the config already in
  `workdir/<config>` (so it is reused or resumed, whichever experiment
  made it), else the experiment's `default_seeds`.

  Raises:
    registry.ExperimentError: an unknown experiment (the message lists them).
    configs.ConfigError: a bad override or config.
  """
  (planned,) = registry.get([name])
  return [
    build_config(
      c, num_seeds or existing_seeds(pathlib.Path(workdir) / c) or planned.default_seeds, overrides
    )
    for c in planned.configs
  ]


def run_experiment(
  name: str, workdir, *, num_seeds: Optional[int] = None, overrides=()
) -> list[RunOutcome]:
  """Every run of experiment `name` into `workdir/<config>` (`plan_runs`,
  then `ensure_run`).

  Raises:
    registry.ExperimentError, configs.ConfigError: as `plan_runs`, before
      any run.
    RunDirError: as `ensure_run`.
  """
  built = plan_runs(name, workdir, num_seeds=num_seeds, overrides=overrides)
  return [ensure_run(config, pathlib.Path(workdir) / config.name) for config in built]


def reproduce(
  experiments: Sequence[str],
  workdir,
  *,
  num_seeds: Optional[int] = None,
  overrides: Sequence[str] = (),
  command: str = '',
) -> pathlib.Path:
  """Runs the experiments (reusing finished runs), then writes the report.

  Args:
    experiments: names from `registry.EXPERIMENTS`.
    workdir: where the runs (`workdir/<config>`) and `report.md` go.
    num_seeds: seeds of every run (default: those of a run of the config
      already in `workdir`, else each experiment's; `plan_runs`).
    overrides: `FIELD=VALUE` items applied to every config (for smoke tests:
      fewer epochs, replicas and inputs).
    command: the command line, for the report.

  Returns:
    The path of `report.md`.

  Raises:
    registry.ExperimentError: an unknown experiment; configs.ConfigError: a
      bad override or config; RunDirError: an unusable run directory; the
      data loaders' errors (MNIST files absent); record.RunRecordError,
      figure_files.OutputError: as `report.write_report`.
  """
  registry.get(experiments)
  parsed, start = parse_overrides(overrides), time.time()
  # Every config is checked before the first run starts.
  plans = {e: plan_runs(e, workdir, num_seeds=num_seeds, overrides=parsed) for e in experiments}
  outcomes = {
    e: [ensure_run(c, pathlib.Path(workdir) / c.name) for c in built] for e, built in plans.items()
  }
  return report.write_report(
    workdir, outcomes, command=command, seconds=time.time() - start, overrides=list(overrides)
  )
