"""From a config to the objects of an experiment: data set, evaluation set,
model, targets, and the plan of the analysis (which epochs, layers, measures).

The pieces `infoflow.experiment.runner` assembles into a run. A config that does not fit
its data set raises `configs.ConfigError` naming the field.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import analysis
from infoflow import configs
from infoflow import data as data_lib
from infoflow import information
from infoflow import models
from infoflow import sampling
from infoflow.configs import base as config_base
from infoflow.measures import clustering


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
  images), or in the split for MNIST's train and test. 'resample': all the
  inputs, the pool from which each analysed epoch draws its own
  (`analysed_inputs`).

  Raises:
    configs.ConfigError: the chosen split has no inputs.
  """
  which = config.analysis.inputs
  resample = which == config_base.RESAMPLE
  x, y, positions = _analysis_inputs(dataset, 'all' if resample else which)
  count = config.analysis.num_eval_inputs
  if not (resample or not count or count >= len(x)):
    if dataset.index_train is None and which != 'all':
      chosen = np.arange(count)
    else:
      rng = np.random.default_rng(config.data.split_seed)
      chosen = np.sort(rng.choice(len(x), count, replace=False))
    x, y, positions = x[chosen], y[chosen], positions[chosen]
  _check_clustering_pairs(config, y, dataset.num_classes)
  return x, y, positions.tolist()


def _check_clustering_pairs(config, labels, num_classes: int) -> None:
  """With `analysis.clustering` on, the evaluation inputs must hold the pairs
  the class measures compare (`clustering.pair_problem`), or the run would
  train and then fail at its first analysis.

  Raises:
    configs.ConfigError: naming the fields to change.
  """
  problem = config.analysis.clustering and clustering.pair_problem(labels, num_classes)
  if not problem:
    return
  counts = np.bincount(np.asarray(labels), minlength=num_classes)
  raise configs.ConfigError(
    f'config field analysis.num_eval_inputs = {config.analysis.num_eval_inputs} leaves '
    f'{len(labels)} evaluation input(s) with class counts {counts[counts > 0].tolist()}, '
    f'{problem} The clustering measures need two inputs of one class and inputs of two '
    'classes: analyse more inputs (--config.analysis.num_eval_inputs=0 for all) or set '
    '--config.analysis.clustering=False.'
  )


def num_analysed_inputs(config, num_eval: int) -> int:
  """m, the inputs analysed at each epoch: the `num_eval` of the evaluation
  set (`evaluation_set`), or with 'resample' the `analysis.num_eval_inputs`
  rows drawn from it (0: `num_eval` of them)."""
  if config.analysis.inputs == config_base.RESAMPLE:
    return config.analysis.num_eval_inputs or num_eval
  return num_eval


def analysed_inputs(config, inputs, labels, key: jax.Array):
  """The inputs one seed analyses at one epoch: `(inputs, labels, key)`.

  For 'all', 'train' and 'test': the evaluation set `inputs`, `labels` as
  they are, and `key`. For 'resample' (the authors' estimand,
  docs/method.md): m = `num_analysed_inputs` rows drawn with replacement
  from them with the first of the two keys `jax.random.split(key)` gives
  (`resample_rows`), and the second for the analysis. Each drawn row,
  copies included, is one input of weight 1/m: the information (each row
  with its own R replicas) and the measures of the representations see the
  drawn multiset. `key` is the seed's key of the epoch (the runner folds
  the epoch, then the seed, into the run's analysis key), so the draws
  differ between epochs and seeds and a resumed run draws the same rows.
  """
  if config.analysis.inputs != config_base.RESAMPLE:
    return inputs, labels, key
  draw_key, key = jax.random.split(key)
  rows = resample_rows(draw_key, len(inputs), num_analysed_inputs(config, len(inputs)))
  return inputs[rows], labels[rows], key


def resample_rows(key: jax.Array, num_rows: int, count: int) -> np.ndarray:
  """`count` row indices drawn uniformly with replacement from
  `range(num_rows)`, sorted (copies side by side): a `(count,)` int host array."""
  return np.sort(np.asarray(jax.random.randint(key, (count,), 0, num_rows)))


def distinct_counts(inputs) -> np.ndarray:
  """The multiplicity of each distinct row (by value) of `(m, ...)` `inputs`,
  in no particular order; they sum to m (`information.information_ceiling`).
  Rows are compared by their bytes, float rows after adding 0.0, which turns
  -0.0 into 0.0 (equal values, other bytes)."""
  flat = np.asarray(inputs).reshape(len(inputs), -1)
  if np.issubdtype(flat.dtype, np.floating):
    flat = flat + flat.dtype.type(0.0)
  flat = np.ascontiguousarray(flat)
  rows = flat.view(np.dtype((np.void, flat.dtype.itemsize * flat.shape[1])))
  return np.unique(rows.ravel(), return_counts=True)[1]


def ceiling_of_inputs(inputs) -> float:
  """The largest I(X;T) the `(m, ...)` `inputs` allow, each row an input of
  weight 1/m (nats): the entropy of the multiplicities of its distinct rows,
  log m when all differ (`information.information_ceiling`)."""
  return information.information_ceiling(distinct_counts(inputs))


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
  as `model.init` says (`infoflow.models.initializers`); an MLP without
  `model.readout` outputs its last hidden layer."""
  m = config.model
  if m.kind == 'mlp':
    return models.MLP(
      widths=tuple(m.widths),
      num_outputs=num_outputs,
      activation=m.activation,
      beta=m.beta,
      init_scheme=m.init,
      readout=m.readout,
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
      clustering, the quadrature of a one-unit first layer).
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
  # The exact I(X;T) of a one-unit first layer, for every seed (the reference
  # of the minimal examples' estimates; analysis.quadrature_layers).
  exact_layers = analysis.quadrature_layers(layer_widths, beta)
  if exact_layers:
    hooks.append(analysis.quadrature_hook(beta, exact_layers))
  return AnalysisPlan(
    epochs=analysis_epochs(config.num_epochs, config.analysis.num_points),
    beta=beta,
    layer_widths=layer_widths,
    estimated=list(config.analysis.estimated_layers) or list(layer_widths),
    kept=[n for n, w in layer_widths.items() if w <= config.analysis.representation_max_width],
    hooks=hooks,
    cluster_beta=cluster_beta,
  )
