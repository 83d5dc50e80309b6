"""From a config to the objects of an experiment: data, evaluation set, model.

Shared by the launcher (`launch.train`) and the benchmarks. A config that
does not fit its data set raises `configs.ConfigError` naming the field.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from infoflow import data as data_lib
from infoflow import models
from launch import configs


def load_data(config) -> data_lib.Dataset:
  """The config's data set (the data dir '' means the default lookup)."""
  data_dir = config.data.data_dir or None
  name = config.data.name
  if name == 'szt':
    return data_lib.szt(data_dir, seed=config.data.split_seed,
                        test_fraction=config.data.test_fraction)
  if name == 'mnist':
    return data_lib.load_mnist(data_dir,
                               validation_size=config.data.validation_size,
                               seed=config.data.split_seed)
  return data_lib.load_dataset(name)


def evaluation_set(config, dataset) -> tuple[np.ndarray, np.ndarray, list]:
  """Inputs and labels the information is measured on, and their indices.

  Finite input sets (SZT, the toys): all inputs, or a fixed random subset of
  `num_eval_inputs`. MNIST: the first `num_eval_inputs` test images.
  """
  count = config.analysis.num_eval_inputs
  if dataset.index_train is not None:  # a finite set of inputs
    x, y = dataset.x_all, dataset.y_all
    if count and count < len(x):
      rng = np.random.default_rng(config.data.split_seed)
      indices = np.sort(rng.choice(len(x), count, replace=False))
      return x[indices], y[indices], indices.tolist()
    return x, y, list(range(len(x)))
  if len(dataset.x_test) == 0:
    raise configs.ConfigError(
        f'data set {dataset.name!r} has no test images to measure '
        'information on; set --config.data.validation_size or use a data '
        'set with a test split.')
  count = count or len(dataset.x_test)
  return (dataset.x_test[:count], dataset.y_test[:count],
          list(range(min(count, len(dataset.x_test)))))


def build_model(config, num_outputs: int):
  m = config.model
  if m.kind == 'mlp':
    return models.MLP(widths=tuple(m.widths), num_outputs=num_outputs,
                      activation=m.activation, beta=m.beta)
  if m.kind == 'cnn':
    return models.CNN(conv_features=tuple(m.conv_features),
                      dense_widths=tuple(m.dense_widths),
                      num_outputs=num_outputs, activation=m.activation,
                      beta=m.beta)
  raise configs.ConfigError(f"config field model.kind must be 'mlp' or "
                            f"'cnn'; got {m.kind!r}.")


def targets(config, dataset, split):
  if config.loss == 'mse':
    targets = getattr(dataset, f'targets_{split}')
    if targets is None:
      raise configs.ConfigError(f'config field loss is mse, which needs '
                                f'regression targets; data set '
                                f'{dataset.name!r} has none.')
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
        f'{dataset.targets_train.shape[-1]}.')
  values = np.zeros(dataset.num_classes, np.float32)
  for c in range(dataset.num_classes):
    values[c] = dataset.targets_train[dataset.y_train == c, 0].mean()
  return jnp.asarray(values)
