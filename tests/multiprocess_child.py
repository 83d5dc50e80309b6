"""One process of a two-process JAX run on this machine, for
tests/test_multiprocess.py:

    python tests/multiprocess_child.py MODE PROCESS_ID PORT WORKDIR

Two such processes emulate two hosts, one CPU device each, joined by
`jax.distributed.initialize` with the coordinator in process 0 on
localhost:PORT (CPU collectives over gloo, JAX's default). MODE:

  steps  `estimates` (the dense pass) over a mesh of both devices, then the
         run's workdir steps (`workdir_steps`) in WORKDIR.
  train  `launch.train --distributed=localhost:PORT,2,PROCESS_ID` of the
         tiny run `TRAIN` into WORKDIR, then `estimates` by the pruned pass
         (slower to compile: ~8 s of 2 CPU cores).

Each prints 'RESULT {json}' as its last line.

The test runs the same computations in its own single-device process and
compares.
"""

import contextlib
import json
import sys

import numpy as np

NUM_PROCESSES = 2
# The tiny run of the train mode (config overrides of 'tiny'): two epochs,
# analysed at 0 and 2, on 64 inputs, metrics.jsonl alone.
TRAIN = {
  'num_epochs': 2,
  'analysis.num_points': 2,
  'analysis.num_eval_inputs': 64,
  'analysis.clustering': False,
  'writers': (),
}
BETA = 0.05
NUM_MC = 1001  # odd: the draws are padded to a multiple of the device count
STEPS_EPOCHS = [0, 2]  # the analysed epochs of `workdir_steps`


def layer_samples():
  """(128, 4, 3) samples of a noisy layer (noise BETA), and (128,) labels:
  inputs close enough that neither I(X;T) nor I(T;Y) is at its bound."""
  rng = np.random.default_rng(0)
  means = np.tanh(rng.normal(size=(128, 1, 3)))
  samples = (means + BETA * rng.normal(size=(128, 4, 3))).astype(np.float32)
  return samples, (means[:, 0, 0] > 0).astype(np.int32)


def estimates(mesh, method: str) -> dict:
  """h(T) by `pooled_mixture_entropy` and I(X;T), I(T;Y), h(T) by
  `layer_information`, by `method` ('dense' or 'pruned': then the host-side
  refinement reads every draw's certificate), their draws split over `mesh`
  (None: this process's device). Entries [nats, stderr, draws], or the
  method used."""
  import jax

  import infoflow

  samples, labels = layer_samples()
  key = jax.random.key(0)
  h, report = infoflow.pooled_mixture_entropy(
    key, samples, BETA, num_mc=NUM_MC, method=method, mesh=mesh, return_report=True
  )
  info, layer_report = infoflow.layer_information(
    key, samples, BETA, labels=labels, num_mc=NUM_MC, method=method, mesh=mesh, return_report=True
  )
  layer = {f'layer_{q}': _numbers(getattr(info, q)) for q in ('mi_input', 'mi_label', 'entropy')}
  return {
    'pooled': _numbers(h),
    'pooled_method': report.method,
    'layer_method': layer_report.method,
    **layer,
  }


def _numbers(estimate) -> list:
  return [float(estimate.nats), float(estimate.stderr), int(estimate.num_draws)]


def toy_states(shift: float):
  """A small pytree of the kinds of arrays train states hold."""
  import jax.numpy as jnp

  return {
    'params': {'w': jnp.arange(6, dtype=jnp.float32).reshape(2, 3) + shift},
    'step': jnp.asarray(int(shift), jnp.int32),
    'key': jnp.asarray([7, int(shift)], jnp.uint32),
  }


def workdir_steps(workdir: str) -> dict:
  """The runner's workdir steps, as every process of a run calls them:
  open the workdir, start (nothing to resume), save the states of epoch 2
  after process 0 wrote the records of epochs 0 and 2, resume; then open the
  workdir for another config. Returns what each resumption gave this
  process, and the error of the last step."""
  from infoflow import configs
  from infoflow import record as record_lib
  from infoflow.experiment import runner
  from infoflow.experiment import workdir as workdir_lib

  config = configs.get_config('tiny')
  fresh, trained = toy_states(0), toy_states(2)
  out = {}
  with contextlib.ExitStack() as stack:
    path = runner.open_workdir(config, workdir, hold=stack)
    manager, start, _, records = runner.resume_or_start(path, config, fresh, STEPS_EPOCHS)
    out['fresh'] = [start, records, manager is not None]
    if workdir_lib.writes_record():
      written = [{'epoch': e, 'seed': 0, 'loss': 1.0 / (e + 1)} for e in STEPS_EPOCHS]
      record_lib.write_metrics(path / record_lib.METRICS, written)
    runner.save_checkpoint(manager, 2, trained)
    if manager is not None:
      manager.close()
    manager, start, states, records = runner.resume_or_start(path, config, fresh, STEPS_EPOCHS)
    out['resumed'] = [start, records, manager is not None]
    out['resumed_states'] = {
      'w': np.asarray(states['params']['w']).tolist(),
      'step': int(states['step']),
      'key': np.asarray(states['key']).tolist(),
    }
    if manager is not None:
      manager.close()
  config.num_epochs += 1  # another run's config: process 0 refuses the workdir
  try:
    runner.open_workdir(config, workdir)
  except workdir_lib.RunDirError as error:
    out['refused'] = str(error)
  return out


def run_steps(process_id: int, port: int, workdir: str) -> None:
  import jax
  from jax.sharding import Mesh

  jax.distributed.initialize(
    coordinator_address=f'localhost:{port}',
    num_processes=NUM_PROCESSES,
    process_id=process_id,
    initialization_timeout=60,
  )
  from infoflow.estimators._src import sharding

  result = estimates(Mesh(np.asarray(jax.devices()), ('data',)), 'dense')
  default = sharding.default_mesh()
  result.update(
    process_index=jax.process_index(),
    process_count=jax.process_count(),
    default_mesh_size=None if default is None else int(default.devices.size),
    steps=workdir_steps(workdir),
  )
  print('RESULT ' + json.dumps(result), flush=True)


def train_flags() -> list[str]:
  """`TRAIN` as launch.train's config flags."""
  return ['--config=tiny'] + [f'--config.{field}={value}' for field, value in TRAIN.items()]


def run_train(process_id: int, port: int, workdir: str) -> None:
  from absl import flags

  from infoflow import configs
  from launch import train

  argv = configs.resolve_argv(
    [
      'launch.train',
      *train_flags(),
      f'--workdir={workdir}',
      f'--distributed=localhost:{port},{NUM_PROCESSES},{process_id}',
    ]
  )
  sys.argv = argv  # config_flags reads the overrides there
  train.main(flags.FLAGS(argv))
  import jax
  from jax.sharding import Mesh

  result = estimates(Mesh(np.asarray(jax.devices()), ('data',)), 'pruned')
  print('RESULT ' + json.dumps(result), flush=True)


if __name__ == '__main__':
  mode, process, coordinator_port, directory = sys.argv[1:]
  {'steps': run_steps, 'train': run_train}[mode](int(process), int(coordinator_port), directory)
