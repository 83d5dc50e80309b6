"""Flags shared by the launchers (defined once: they can be imported together).

Only entry points use them; `infoflow.experiment.runner` reads no flags.
"""

from absl import flags

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
  '(On GPU/TPU hosts seeds spread over those devices without this flag.)',
)


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
  found = len(jax.devices('cpu'))
  if found != count:
    raise RuntimeError(
      f'--cpu_devices={count}: JAX made {found} CPU '
      'device(s) (is XLA_FLAGS forcing a device count?).'
    )
