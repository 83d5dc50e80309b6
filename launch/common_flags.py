"""Flags shared by several mains, defined once so that the mains import
together (tests run them in one process; `bench_run` runs `train` in its
child).

Only mains use them; the library reads no flags.
"""

import logging as pylogging
import os
import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from infoflow import compile_cache
from infoflow import configs

CONFIG = config_flags.DEFINE_config_file(
  'config', None, 'Experiment: a name from infoflow/configs (e.g. szt).', lock_config=True
)

WORKDIR = flags.DEFINE_string(
  'workdir',
  None,
  'Run directory: where launch.train writes its record and launch.plot reads '
  'it (launch.train default: runs/<config name>).',
)

CPU_DEVICES = flags.DEFINE_integer(
  'cpu_devices',
  0,
  "Split the CPU into this many XLA devices (0: JAX's default, one). On a "
  'CPU-only machine the vmapped seeds are then spread over them and the '
  'estimators split their Monte Carlo draws over them, so several cores '
  'work at once; use a divisor of num_seeds, at most the number of cores. '
  'A whole run with several seeds is faster on one device (the default), '
  'where the seeds are analysed side by side, one per core (docs/benchmarks.md). '
  '(On GPU/TPU hosts seeds spread over those devices without this flag.)',
)

OVERRIDE = flags.DEFINE_multi_string(
  'override',
  [],
  'FIELD=VALUE config override applied to every run, e.g. --override=num_epochs=12 (repeatable).',
)

OUT = flags.DEFINE_string(
  'out',
  None,
  'Where the output goes: launch.plot, a directory (default: WORKDIR/figures); '
  'launch.estimate, a JSON file (default: the samples file with .information.json '
  'in place of .npz).',
)

COMPILE_CACHE = flags.DEFINE_string(
  'compile_cache',
  None,
  'Directory of the persistent XLA compilation cache, so that a resumed run or a '
  f'repeated command compiles nothing new; "off" turns it off. Default: ${compile_cache.ENV}, '
  'else $XDG_CACHE_HOME/infoflow/xla (~/.cache/infoflow/xla).',
)

SEED_COUNTS = flags.DEFINE_list(
  'seeds', ['1', '8'], 'Seed counts of a benchmark: one run (or timing) each.'
)


def run_with_config(main, program: str) -> None:
  """Runs `main` under absl after resolving `--config=NAME` to the config's
  file (`configs.resolve_argv`); an unknown name or field exits with one
  line naming it and what exists."""
  try:
    argv = configs.resolve_argv(sys.argv)
  except ValueError as error:
    sys.exit(f'{program}: error: {error}')
  app.run(main, argv=argv)


def apply_compile_cache() -> None:
  """Turns on the persistent compilation cache of --compile_cache
  (`infoflow.compile_cache.enable`)."""
  compile_cache.enable(COMPILE_CACHE.value)


def apply_cpu_devices():
  """Makes --cpu_devices take effect; call before JAX's first computation.

  Raises:
    RuntimeError: when JAX already started with another CPU device count.
  """
  count = CPU_DEVICES.value
  if count <= 0:
    return
  import jax

  try:
    jax.config.update('jax_num_cpu_devices', count)
  except RuntimeError as error:  # the CPU backend is already running
    raise RuntimeError(
      f'--cpu_devices={count} came too late: JAX had already started ({error}).'
    ) from None
  found = len(jax.local_devices(backend='cpu'))
  if found != count:
    raise RuntimeError(
      f'--cpu_devices={count}: JAX made {found} CPU '
      'device(s) (is XLA_FLAGS forcing a device count?).'
    )


class _QuietOrbax(pylogging.Filter):
  """Drops orbax's per-save INFO chatter (warnings and errors pass)."""

  def filter(self, record):
    return record.levelno >= pylogging.WARNING or f'{os.sep}orbax{os.sep}' not in record.pathname


_QUIET_ORBAX = _QuietOrbax()


def quiet_orbax() -> None:
  """Keeps orbax's INFO lines (several per checkpoint saved) out of a main's
  log. Orbax logs through absl's logger, so the filter sits on that logger:
  no handler sees those lines (absl's stderr one, or a test's). Calling it
  again changes nothing."""
  logging.get_absl_logger().addFilter(_QUIET_ORBAX)
