r"""Reproduces the paper's experiments and writes a findings report.

    python -m launch.reproduce --experiment=szt --num_seeds=8 --workdir=runs/paper
    python -m launch.reproduce --experiment=minimal_tanh,minimal_lrelu --workdir=runs/paper

Runs every config the experiments need into WORKDIR/<config> (a finished
run there is reused, an unfinished one resumed), then writes
WORKDIR/report.md with its figures in WORKDIR/figures/: per experiment, a
findings table computed from the run records (mean and min-max over seeds,
the authors' values beside ours) and the sentences on where the results
differ from the paper (docs/reproduce.md). A bad flag, config override,
workdir or missing data file ends the command with one line,
`launch.reproduce: error: ...` (docs/errors.md).

This module only parses flags; the work is `infoflow.paper.reproduce`.
Installed, the command is also `infoflow-reproduce`.
"""

from __future__ import annotations

import shlex
import sys

from absl import app
from absl import flags
from absl import logging

from infoflow import configs
from infoflow import data as data_lib
from infoflow import experiment
from infoflow import paper
from infoflow import record
from infoflow.plots import files as figure_files

from . import common_flags

_EXPERIMENT = flags.DEFINE_list(
  'experiment',
  None,
  'Experiments, comma-separated: '
  + '; '.join(
    f'{e.name} ({e.about}; runs {", ".join(e.configs)})' for e in paper.EXPERIMENTS.values()
  )
  + '.',
)
_NUM_SEEDS = flags.DEFINE_integer(
  'num_seeds',
  None,
  'Seeds of every run (default: those of a run of the config already in WORKDIR, so that it is '
  "reused; else each experiment's, chosen to fit in about 30 minutes on 2 cores: "
  f'{paper.SEEDS_NOTE}).',
  lower_bound=1,
)
_WORKDIR = common_flags.WORKDIR
# --override (common_flags.OVERRIDE): for smoke tests; the report then says
# that it no longer describes the paper's settings.


def main(argv):
  """Flags -> `paper.reproduce`; a bad input exits 1 with one line."""
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  if not _EXPERIMENT.value:
    raise app.UsageError('--experiment is required; known: ' + ', '.join(paper.EXPERIMENTS))
  if not _WORKDIR.value:
    raise app.UsageError('--workdir is required.')
  try:
    common_flags.apply_cpu_devices()
  except RuntimeError as error:
    sys.exit(f'launch.reproduce: error: {error}')
  common_flags.quiet_orbax()
  common_flags.apply_compile_cache()
  try:
    path = paper.reproduce(
      _EXPERIMENT.value,
      _WORKDIR.value,
      num_seeds=_NUM_SEEDS.value,
      overrides=common_flags.OVERRIDE.value,
      command=' '.join(['python -m launch.reproduce'] + [shlex.quote(a) for a in sys.argv[1:]]),
    )
  except (
    paper.ExperimentError,
    configs.ConfigError,
    experiment.RunDirError,
    record.RunRecordError,
    data_lib.DataNotFoundError,
    data_lib.DataFormatError,
    figure_files.OutputError,
  ) as error:
    sys.exit(f'launch.reproduce: error: {error}')
  logging.info('report written: %s', path)
  print(f'wrote {path}')


def run():
  """The command (`python -m launch.reproduce`, installed as `infoflow-reproduce`)."""
  app.run(main)


if __name__ == '__main__':
  run()
