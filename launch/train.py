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

This module only parses flags; the run itself is `infoflow.experiment.runner`
(`runner.train_and_analyse(config, workdir)`, importable and flag-free).
"""

from __future__ import annotations

import logging as pylogging
import os
import sys

from absl import app
from absl import logging
from ml_collections import config_flags

from infoflow import configs
from infoflow import data as data_lib
from infoflow.experiment import runner
from infoflow.experiment import workdir as run_files
from launch import common_flags

_CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment: a name from infoflow/configs (e.g. szt).', lock_config=True
)
_WORKDIR = common_flags.WORKDIR


class _QuietOrbax(pylogging.Filter):
  """Drops orbax's per-save INFO chatter from the progress log."""

  def filter(self, record):
    return record.levelno >= pylogging.WARNING or f'{os.sep}orbax{os.sep}' not in record.pathname


def main(argv):
  """Flags -> config -> `runner.train_and_analyse`; a bad input exits 1 with
  one line on stderr."""
  try:
    common_flags.apply_cpu_devices()
  except RuntimeError as error:
    sys.exit(f'launch.train: error: {error}')
  logging.get_absl_handler().addFilter(_QuietOrbax())
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  config = _CONFIG.value
  if config is None:
    raise app.UsageError('--config=NAME is required; available: ' + ', '.join(configs.available()))
  workdir = _WORKDIR.value or os.path.join('runs', config.name)
  try:
    runner.train_and_analyse(config, workdir)
  except (
    configs.ConfigError,
    run_files.RunDirError,
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
  """Resolves `--config=NAME` to its file, then runs `main` under absl."""
  try:
    argv = configs.resolve_argv(sys.argv)
  except ValueError as error:
    sys.exit(f'error: {error}')
  app.run(main, argv=argv)


if __name__ == '__main__':
  run()
