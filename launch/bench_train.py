r"""Benchmark of training alone (no analysis): one seed against many.

    python -m launch.bench_train [--config=szt] [--num_epochs=10000] \
        [--seeds=1,8] [--cpu_devices=2]

Trains the config's network for `num_epochs` epochs (jit warm: the program is
compiled on a 1-epoch call first) once per seed count, with the data and
trainer of a run (`infoflow.experiment`: the seeds vmapped together and spread
over the devices, see --cpu_devices), and prints wall time, epochs per second,
time relative to one seed, and the final noise-free train/test accuracy
(mean over seeds).
"""

from __future__ import annotations

import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
import numpy as np

from infoflow import configs
from infoflow import experiment
from infoflow import train as train_lib

from . import common_flags

DEFAULT_CONFIG = 'szt'  # without --config
_NUM_EPOCHS = flags.DEFINE_integer('num_epochs', 10_000, 'Epochs to train.')


def time_training(config, num_seeds: int, num_epochs: int):
  """Seconds to train `num_seeds` vmapped runs for `num_epochs` epochs.

  The data and trainer are those of a run (`infoflow.experiment`), with
  `num_seeds` in place of the config's seed count.

  Returns:
    `(seconds, {'train': accuracy, 'test': accuracy})`: noise-free
    accuracies after training, means over the seeds.
  """
  config = config.copy_and_resolve_references()
  config.num_seeds = num_seeds
  data = experiment.load_data(config)
  trainer = experiment.build_trainer(config, data)
  jax.block_until_ready(
    trainer.train_epochs(trainer.states, data.x_train, data.t_train, jnp.int32(1))
  )
  start = time.perf_counter()
  states = jax.block_until_ready(
    trainer.train_epochs(trainer.states, data.x_train, data.t_train, jnp.int32(num_epochs))
  )
  seconds = time.perf_counter() - start
  metrics = experiment.evaluate(trainer, data, states, num_epochs)
  return seconds, {split: float(np.mean(metrics[split]['accuracy'])) for split in ('train', 'test')}


def devices_used(num_seeds: int) -> int:
  """How many devices `num_seeds` vmapped seeds are spread over."""
  seed_sharding = train_lib.seed_sharding(num_seeds)
  return 1 if seed_sharding is None else seed_sharding.mesh.devices.size


def format_table(name, num_epochs, rows):
  """The printed table: one row (seeds, devices, seconds, accuracy) a count."""
  base = rows[0][2]
  lines = [
    f'{"config":<18} {"epochs":>7} {"seeds":>5} {"devices":>7} '
    f'{"time s":>8} {"epochs/s":>9} {"vs 1st":>7} {"train acc":>9} '
    f'{"test acc":>8}'
  ]
  for count, devices, seconds, accuracy in rows:
    lines.append(
      f'{name:<18} {num_epochs:>7} {count:>5} {devices:>7} '
      f'{seconds:>8.3f} {num_epochs / seconds:>9.1f} '
      f'{seconds / base:>6.2f}x '
      f'{accuracy["train"]:>9.4f} {accuracy["test"]:>8.4f}'
    )
  return '\n'.join(lines)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  common_flags.apply_cpu_devices()
  config = common_flags.CONFIG.value or configs.get_config(DEFAULT_CONFIG)
  num_epochs = _NUM_EPOCHS.value
  rows = []
  for count in [int(s) for s in common_flags.SEED_COUNTS.value]:
    seconds, accuracy = time_training(config, count, num_epochs)
    rows.append((count, devices_used(count), seconds, accuracy))
    print(f'{count} seed(s): {seconds:.1f} s', flush=True)
  print(
    f'\n{len(jax.local_devices())} {jax.local_devices()[0].platform} '
    'device(s); accuracies are means over the seeds'
  )
  print(format_table(config.name, num_epochs, rows))


if __name__ == '__main__':
  common_flags.run_with_config(main, 'launch.bench_train')
