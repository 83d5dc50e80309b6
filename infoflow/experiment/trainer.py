"""The data and the trainer of a run: what trains and evaluates every seed.

  load_data      the data set's arrays and the evaluation inputs (`Data`)
  build_trainer  model, optimizer, the train states of all seeds (with their
                 shuffle and noise keys), the jitted steps (`Trainer`)
  evaluate       the metrics of every seed on every split
  train_until    train the seeds up to an epoch, with progress lines

The run loop (runner.py) calls them; launch/bench_train.py times them.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any
from typing import Callable
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
import optax

from infoflow import train as train_lib
from infoflow.experiment import progress as progress_lib
from infoflow.experiment import setup


@dataclasses.dataclass(frozen=True)
class Data:
  """The arrays of a run (on the device).

  Attributes:
    dataset: the data set (its name, source and number of classes).
    x_train: training inputs.
    t_train: training targets: labels, or regression targets (`mse` loss).
    splits: split name -> (inputs, targets, labels), evaluated at progress
      lines and analysed epochs: train, test (train again when the data set
      has no test split) and, when held out (MNIST), validation.
    eval_x: the inputs the information is measured on (`analysis.inputs`).
    eval_y: their labels (host array).
    eval_indices: their indices in the data set (`evaluation_set`).
    eval_ceiling: the ceiling of I(X;T) on `eval_x`, nats
      (`setup.ceiling_of_inputs`), computed once: the `information_ceiling`
      of every record of an 'all', 'train' or 'test' run (a 'resample' run
      records that of each draw instead).
    class_values: for regression, the target value of each class (for the
      accuracy); None otherwise.
    num_outputs: outputs of the network.
  """

  dataset: Any
  x_train: jax.Array
  t_train: jax.Array
  splits: dict[str, tuple[jax.Array, jax.Array, jax.Array]]
  eval_x: np.ndarray
  eval_y: np.ndarray
  eval_indices: list[int]
  eval_ceiling: float
  class_values: Optional[jax.Array]
  num_outputs: int


def load_data(config) -> Data:
  """The config's data set as the arrays a run uses.

  Raises:
    configs.ConfigError: the config does not fit the data set.
    infoflow.data.DataNotFoundError, DataFormatError: unreadable data.
  """
  dataset = setup.read_dataset(config)
  has_test = len(dataset.x_test) > 0
  test = 'test' if has_test else 'train'
  t_train = jnp.asarray(setup.targets(config, dataset, 'train'))
  splits = {
    'train': (jnp.asarray(dataset.x_train), t_train, jnp.asarray(dataset.y_train)),
    'test': (
      jnp.asarray(getattr(dataset, f'x_{test}')),
      jnp.asarray(setup.targets(config, dataset, test)),
      jnp.asarray(getattr(dataset, f'y_{test}')),
    ),
  }
  if dataset.x_val is not None and len(dataset.x_val) > 0:
    # Held out of training (MNIST): the paper's validation error.
    y_val = jnp.asarray(dataset.y_val)
    splits['validation'] = (jnp.asarray(dataset.x_val), y_val, y_val)
  eval_x, eval_y, eval_indices = setup.evaluation_set(config, dataset)
  num_outputs = dataset.num_classes if config.loss != 'mse' else t_train.shape[-1]
  return Data(
    dataset=dataset,
    x_train=splits['train'][0],
    t_train=t_train,
    splits=splits,
    eval_x=eval_x,
    eval_y=eval_y,
    eval_indices=eval_indices,
    eval_ceiling=setup.ceiling_of_inputs(eval_x),
    class_values=setup.class_values(config, dataset),
    num_outputs=num_outputs,
  )


@dataclasses.dataclass(frozen=True)
class Trainer:
  """What trains and evaluates every seed of a run at once.

  Attributes:
    model: the noisy network (flax module).
    optimizer: its optax optimizer.
    states: the fresh `TrainState`s of all seeds, stacked on a leading axis
      (spread over the devices); each holds its seed's shuffle and noise
      keys.
    train_epochs: `(states, inputs, targets, num_epochs) -> states`, jitted.
    evaluate: `(params, inputs, targets, labels, key, class_values) ->
      metrics` of every seed, jitted.
    eval_key: key of the noisy metrics (folded with the epoch).
    analysis_key: key of the analysis (folded with the epoch, then the seed).
  """

  model: Any
  optimizer: optax.GradientTransformation
  states: train_lib.TrainState
  train_epochs: Callable[..., train_lib.TrainState]
  evaluate: Callable[..., dict]
  eval_key: jax.Array
  analysis_key: jax.Array


def build_trainer(config, data: Data) -> Trainer:
  """Model, optimizer and the train states of `config.num_seeds`."""
  model = setup.build_model(config, data.num_outputs)
  optimizer = train_lib.make_optimizer(config.optimizer.name, config.optimizer.learning_rate)
  init_key, eval_key, analysis_key = jax.random.split(jax.random.key(config.seed), 3)
  states = train_lib.init_states(init_key, config.num_seeds, model, optimizer, data.x_train[:1])
  # Seeds are independent: with several devices each trains a share of them.
  seed_sharding = train_lib.seed_sharding(config.num_seeds)
  if seed_sharding is not None:
    states = jax.device_put(states, seed_sharding)
  train_epochs = jax.jit(
    jax.vmap(
      train_lib.make_train_epochs(
        model,
        optimizer,
        loss=config.loss,
        batch_size=config.batch_size,
        orthonormal_alpha=config.orthonormal_alpha,
      ),
      in_axes=(0, None, None, None),
    )
  )
  evaluate = jax.jit(
    jax.vmap(
      train_lib.make_evaluate(model, loss=config.loss), in_axes=(0, None, None, None, None, None)
    )
  )
  return Trainer(
    model=model,
    optimizer=optimizer,
    states=states,
    train_epochs=train_epochs,
    evaluate=evaluate,
    eval_key=eval_key,
    analysis_key=analysis_key,
  )


def evaluate(trainer: Trainer, data: Data, states, epoch: int) -> dict:
  """{split: {metric: (num_seeds,) host array}} of every split of `data`."""
  key = jax.random.fold_in(trainer.eval_key, epoch)
  # One noise stream per split (fold_in by position) for the noisy metrics.
  return {
    name: jax.tree.map(
      np.asarray,
      trainer.evaluate(states.params, x, t, y, jax.random.fold_in(key, i), data.class_values),
    )
    for i, (name, (x, t, y)) in enumerate(data.splits.items())
  }


def train_until(
  config,
  data: Data,
  trainer: Trainer,
  states,
  epoch: int,
  target: int,
  progress: progress_lib.Progress,
):
  """Trains every seed from `epoch` to `target`, with a progress line at
  each multiple of the logging interval (and at the last epoch).

  Returns:
    `(states, metrics)`: metrics (`evaluate`) at `target` if a progress line
    was written there, else None.
  """
  log_every = config.log_every_epochs or max(config.num_epochs // 100, 1)
  metrics = None
  while epoch < target:
    chunk = min(log_every - epoch % log_every, target - epoch)
    chunk_start = time.time()
    states = jax.block_until_ready(
      trainer.train_epochs(states, data.x_train, data.t_train, jnp.int32(chunk))
    )
    progress.trained(chunk, time.time() - chunk_start)
    epoch += chunk
    metrics = None
    if epoch % log_every == 0 or epoch == config.num_epochs:
      metrics = evaluate(trainer, data, states, epoch)
      progress.report(jax.tree.map(_mean_of_finite, metrics))
  return states, metrics


def _mean_of_finite(values) -> float:
  """Mean over the seeds that have not diverged (NaN if none)."""
  values = np.asarray(values, np.float64)
  finite = values[np.isfinite(values)]
  return float(finite.mean()) if finite.size else float('nan')
