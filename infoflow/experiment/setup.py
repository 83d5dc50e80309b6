"""From a config to the objects of an experiment: data set, evaluation set,
model, targets, and the plan of the analysis (which epochs, layers, measures).

The pieces `infoflow.experiment.runner` assembles into a run. A config that does not fit
its data set raises `configs.ConfigError` naming the field.
"""

from __future__ import annotations

import dataclasses

import jax.numpy as jnp
import numpy as np

from infoflow import analysis
from infoflow import configs
from infoflow import data as data_lib
from infoflow import models
from infoflow import sampling


def read_dataset(config) -> data_lib.Dataset:
  """The config's data set (the data dir '' means the default lookup)."""
  data_dir = config.data.data_dir or None
  name = config.data.name
  if name == 'szt':
    return data_lib.szt(
      data_dir,
      seed=config.data.split_seed,
      test_fraction=config.data.test_fraction,
      split=config.data.split,
    )
  if name == 'mnist':
    return data_lib.load_mnist(
      data_dir, validation_size=config.data.validation_size, seed=config.data.split_seed
    )
  return data_lib.load_dataset(name)


def evaluation_set(config, dataset) -> tuple[np.ndarray, np.ndarray, list]:
  """Inputs and labels the information is measured on, and their indices.

  `analysis.inputs` picks them: 'all' the data set's inputs (`x_all`), or
  those of its 'train' or 'test' split. `analysis.num_eval_inputs` > 0 keeps
  that many: a fixed random subset (seed `data.split_seed`), except for the
  train and test splits of a data set of files (MNIST), whose first ones are
  kept. Indices: positions in `x_all` (for MNIST, train images then test
  images), or in the split for MNIST's train and test.

  Raises:
    configs.ConfigError: the chosen split has no inputs.
  """
  which = config.analysis.inputs
  x, y, positions = _analysis_inputs(dataset, which)
  count = config.analysis.num_eval_inputs
  if not count or count >= len(x):
    return x, y, positions.tolist()
  if dataset.index_train is None and which != 'all':
    chosen = np.arange(count)
  else:
    rng = np.random.default_rng(config.data.split_seed)
    chosen = np.sort(rng.choice(len(x), count, replace=False))
  return x[chosen], y[chosen], positions[chosen].tolist()


def _analysis_inputs(dataset, which: str):
  """`(inputs, labels, indices)` of `which`: all, train or test."""
  if which == 'all':
    return dataset.x_all, dataset.y_all, np.arange(len(dataset.x_all))
  x, y = getattr(dataset, f'x_{which}'), getattr(dataset, f'y_{which}')
  if len(x) == 0:
    raise configs.ConfigError(
      f'config field analysis.inputs is {which!r}, but data set '
      f'{dataset.name!r} has no {which} inputs; use another '
      '--config.analysis.inputs (all, train or test) or split the data set '
      '(data.test_fraction).'
    )
  index = getattr(dataset, f'index_{which}')
  if index is None:
    return x, y, np.arange(len(x))
  order = np.argsort(index)  # the order of x_all
  return x[order], y[order], index[order]


def build_model(config, num_outputs: int):
  """The config's noisy MLP or CNN with `num_outputs` outputs, initialised
  as `model.init` says (`infoflow.models.initializers`)."""
  m = config.model
  if m.kind == 'mlp':
    return models.MLP(
      widths=tuple(m.widths),
      num_outputs=num_outputs,
      activation=m.activation,
      beta=m.beta,
      init_scheme=m.init,
    )
  if m.kind == 'cnn':
    return models.CNN(
      conv_features=tuple(m.conv_features),
      dense_widths=tuple(m.dense_widths),
      num_outputs=num_outputs,
      activation=m.activation,
      beta=m.beta,
      init_scheme=m.init,
    )
  raise configs.ConfigError(f"config field model.kind must be 'mlp' or 'cnn'; got {m.kind!r}.")


def targets(config, dataset, split):
  """What the loss compares the outputs with: labels, or regression
  targets under the `mse` loss."""
  if config.loss == 'mse':
    targets = getattr(dataset, f'targets_{split}')
    if targets is None:
      raise configs.ConfigError(
        f'config field loss is mse, which needs '
        f'regression targets; data set '
        f'{dataset.name!r} has none.'
      )
    return targets
  return getattr(dataset, f'y_{split}')


def class_values(config, dataset):
  """For regression: the target value of each class (for accuracy)."""
  if config.loss != 'mse':
    return None
  if dataset.targets_train.shape[-1] != 1:
    raise configs.ConfigError(
      'config field loss is mse, whose accuracy needs one regression '
      f'output per example; {dataset.name!r} has '
      f'{dataset.targets_train.shape[-1]}.'
    )
  values = np.zeros(dataset.num_classes, np.float32)
  for c in range(dataset.num_classes):
    values[c] = dataset.targets_train[dataset.y_train == c, 0].mean()
  return jnp.asarray(values)


def analysis_epochs(num_epochs: int, num_points: int) -> list[int]:
  """`num_points` epochs: 0, then log-spaced ones up to `num_epochs`.

  Rounding merges the smallest log-spaced epochs, so the grid is refined
  until `num_points` distinct epochs exist (or every epoch is taken).

  Raises:
    ValueError: `num_epochs` < 0 or `num_points` < 2.
  """
  if num_epochs < 0 or num_points < 2:
    raise ValueError(
      f'analysis_epochs needs num_epochs >= 0 and num_points '
      f'>= 2; got {num_epochs} and {num_points}.'
    )
  wanted = min(num_points, num_epochs + 1)
  epochs = {0, num_epochs}
  size = max(wanted - 1, 1)
  while len(epochs) < wanted:
    grid = np.logspace(0, np.log10(max(num_epochs, 1)), size)
    epochs = {0, num_epochs} | {int(round(e)) for e in grid}
    size += 1
  return sorted(epochs)


@dataclasses.dataclass(frozen=True)
class AnalysisPlan:
  """What is analysed, and when.

  Attributes:
    epochs: the analysed epochs (`analysis_epochs`).
    beta: the network's noise std (0: no information estimated).
    layer_widths: width of every hidden layer, by its name (T1, ... or
      conv1, conv2, dense3; see `infoflow.models`).
    estimated: layers whose information is estimated.
    kept: layers whose noise-free representations are saved (seed 0).
    hooks: the measures applied to the representations (binning,
      clustering).
    cluster_beta: the noise std of the clustering measures.
  """

  epochs: list[int]
  beta: float
  layer_widths: dict[str, int]
  estimated: list[str]
  kept: list[str]
  hooks: list[analysis.Hook]
  cluster_beta: float


def plan_analysis(config, model, params, example_input) -> AnalysisPlan:
  """The analysed epochs, layers and measures of `config.analysis`.

  Args:
    config: the run's config.
    model, params: the network (one seed's parameters), to name its layers.
    example_input: a batch of one input.
  """
  layer_widths = {
    name: int(np.prod(s.shape[1:]))
    for name, s in sampling.noise_free_layers(model, {'params': params}, example_input).items()
  }
  beta = float(config.model.beta)
  hooks = []
  if config.analysis.binning:
    hooks.append(analysis.binning_hook(config.analysis.bin_sizes))
  cluster_beta = config.analysis.cluster_beta or beta or 0.005
  if config.analysis.clustering:
    hooks.append(analysis.clustering_hook(cluster_beta))
  return AnalysisPlan(
    epochs=analysis_epochs(config.num_epochs, config.analysis.num_points),
    beta=beta,
    layer_widths=layer_widths,
    estimated=list(config.analysis.estimated_layers) or list(layer_widths),
    kept=[n for n, w in layer_widths.items() if w <= config.analysis.representation_max_width],
    hooks=hooks,
    cluster_beta=cluster_beta,
  )
