r"""Trains a noisy network and records its information flow.

    python -m launch.train --config=szt --workdir=runs/szt
    python -m launch.train --config=szt --config.optimizer.learning_rate=1e-3

`--config=NAME` picks `infoflow/configs/NAME.py` (an unknown name or field is an
error that lists what exists). Outputs go to the workdir (docs/run_record.md):
config.json, run.json, metrics.jsonl (one record per analysed epoch and seed,
estimates with standard errors), representations/ and orbax checkpoints.
Re-running the same command resumes from the last checkpoint and produces the
same metrics as an uninterrupted run (after a kill at any point too).

The config is validated whole before anything is read or written; a bad
field, workdir, data file or run record stops the command with a one-line
error naming it (docs/errors.md).

This module only parses flags; the run itself is `infoflow.experiment`
(`experiment.train_and_analyse(config, workdir)`, importable and flag-free).
Installed, the command is also `infoflow-train`.
"""

from __future__ import annotations

import os
import sys

from absl import app

from infoflow import configs
from infoflow import data as data_lib
from infoflow import experiment

from . import common_flags


def main(argv):
  """Flags -> config -> `experiment.train_and_analyse`; a bad input exits 1
  with one line on stderr."""
  try:
    common_flags.apply_cpu_devices()
  except RuntimeError as error:
    sys.exit(f'launch.train: error: {error}')
  common_flags.quiet_orbax()
  common_flags.apply_compile_cache()
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  config = common_flags.CONFIG.value
  if config is None:
    raise app.UsageError('--config=NAME is required; available: ' + ', '.join(configs.available()))
  workdir = common_flags.WORKDIR.value or os.path.join('runs', config.name)
  try:
    experiment.train_and_analyse(config, workdir)
  except (
    configs.ConfigError,
    experiment.RunDirError,
    data_lib.DataNotFoundError,
    data_lib.DataFormatError,
  ) as error:
    sys.exit(f'launch.train: error: {error}')
  tensorboard = ', tensorboard/' if config.writers else ''
  print(
    f'outputs in {workdir}: config.json, run.json, metrics.jsonl, '
    f'representations/, checkpoints/{tensorboard}.  Plot them: python -m '
    f'launch.plot --workdir={workdir}'
  )


def run():
  """The command: `main` under absl, `--config=NAME` resolved to its file."""
  common_flags.run_with_config(main, 'launch.train')


if __name__ == '__main__':
  run()
