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

Several hosts: start the same command on every host (one process per host or
per accelerator) with `--distributed=auto` under a cluster scheduler (SLURM,
Open MPI, Cloud TPU: `jax.distributed.initialize` reads the coordinator,
process count and id from it), or `--distributed=HOST:PORT,NUM_PROCESSES,
PROCESS_ID` elsewhere. Every process trains and analyses (the Monte Carlo
draws are split over the devices of all); only process 0 writes the workdir
(docs/api.md, section 9).

This module only parses flags; the run itself is `infoflow.experiment`
(`experiment.train_and_analyse(config, workdir)`, importable and flag-free).
Installed, the command is also `infoflow-train`.
"""

from __future__ import annotations

import os
import sys

from absl import app
from absl import flags

from infoflow import configs
from infoflow import data as data_lib
from infoflow import experiment
from infoflow.experiment import workdir as workdir_lib

from . import common_flags

DISTRIBUTED = flags.DEFINE_string(
  'distributed',
  None,
  'Join a multi-process JAX run (jax.distributed) before anything else: "auto" takes the '
  'coordinator address, process count and process id from the cluster (SLURM, Open MPI, '
  'Cloud TPU), "HOST:PORT,NUM_PROCESSES,PROCESS_ID" gives them. Every process runs the same '
  'command; process 0 writes the workdir.',
)


def distributed_arguments(value: str) -> dict:
  """The `jax.distributed.initialize` keyword arguments of --distributed:
  none for 'auto' (the cluster's), else coordinator_address, num_processes
  and process_id of 'HOST:PORT,NUM_PROCESSES,PROCESS_ID'.

  Raises:
    ValueError: any other value, naming the flag and the two forms.
  """
  if value == 'auto':
    return {}
  parts = value.split(',')
  if len(parts) == 3 and ':' in parts[0] and all(p.strip().isdigit() for p in parts[1:]):
    return dict(
      coordinator_address=parts[0].strip(), num_processes=int(parts[1]), process_id=int(parts[2])
    )
  raise ValueError(
    f'--distributed={value!r}: use auto (under SLURM, Open MPI or Cloud TPU) or '
    'HOST:PORT,NUM_PROCESSES,PROCESS_ID, e.g. --distributed=node0:1234,2,0.'
  )


def join_distributed() -> None:
  """`jax.distributed.initialize` as --distributed says (nothing without it);
  call before JAX's first computation.

  Raises:
    ValueError: a bad --distributed, or arguments jax refuses (named).
  """
  value = DISTRIBUTED.value
  if value is None:
    return
  arguments = distributed_arguments(value)
  import jax

  try:
    jax.distributed.initialize(**arguments)
  except (RuntimeError, ValueError) as error:
    hint = (
      ' (auto reads them from SLURM, Open MPI or Cloud TPU; elsewhere pass '
      'HOST:PORT,NUM_PROCESSES,PROCESS_ID)'
      if value == 'auto'
      else ''
    )
    raise ValueError(f'--distributed={value}: {error}{hint}') from None


def main(argv):
  """Flags -> config -> `experiment.train_and_analyse`; a bad input exits 1
  with one line on stderr."""
  try:
    join_distributed()
    common_flags.apply_cpu_devices()
  except (RuntimeError, ValueError) as error:
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
  if not workdir_lib.writes_record():
    return  # process k > 0 of a multi-process run: process 0 wrote the outputs
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
