"""Flags shared by the launchers (defined once, so they can be imported together)."""

import os

from absl import flags

WORKDIR = flags.DEFINE_string(
    'workdir', None,
    'Run directory: where launch.train writes its record and launch.plot reads '
    'it (launch.train default: runs/<config name>).')

CPU_DEVICES = flags.DEFINE_integer(
    'cpu_devices', 0,
    'Split the CPU into this many XLA devices (0: XLA\'s default, one). '
    'Vmapped seeds are then spread over them and the estimators split their '
    'Monte Carlo draws over them, so several cores work at once; use a '
    'divisor of num_seeds, at most the number of cores.')


def apply_cpu_devices():
  """Makes --cpu_devices take effect; call before JAX's first computation.

  Raises:
    RuntimeError: when JAX already started with another device count.
  """
  count = CPU_DEVICES.value
  if count <= 0:
    return
  os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') +
                             f' --xla_force_host_platform_device_count={count}')
  import jax  # pylint: disable=g-import-not-at-top
  found = len(jax.devices('cpu'))
  if found != count:
    raise RuntimeError(f'--cpu_devices={count} came too late: JAX had already '
                       f'started with {found} CPU device(s).')
