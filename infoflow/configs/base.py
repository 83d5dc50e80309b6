"""Defaults shared by the named configs (one file per experiment, as Python).

Every field is documented here; the experiment files change only what differs.
`validate` checks a config's every field (types, ranges, names) before a run
touches data or disk.
"""

import math
import re

import ml_collections
import numpy as np

from infoflow import data
from infoflow import estimators
from infoflow import information
from infoflow import models
from infoflow.data import toy

# Names `infoflow.train.make_optimizer` knows.
OPTIMIZERS = ('adam', 'adamw', 'sgd', 'momentum')
# Data sets with regression targets (`loss = 'mse'` needs them).
REGRESSION_DATASETS = tuple(toy.TARGET_WIDTHS)
# Seeds are integers in [0, SEED_LIMIT): `jax.random.key` keeps 32 bits, so a
# larger seed would silently repeat the run of seed % 2**32.
SEED_LIMIT = 2**32
# `analysis.inputs`: the analysed inputs. RESAMPLE draws them with replacement
# from all inputs, afresh at every analysed epoch (the authors' estimand).
RESAMPLE = 'resample'
ANALYSIS_INPUTS = ('all', 'train', 'test', RESAMPLE)
# A config name is one plain path component (it names the run's directory,
# runs/<name> or WORKDIR/<name>): no '/', not '.', '..' or hidden.
_NAME = re.compile(r'[A-Za-z0-9_][A-Za-z0-9_.-]*')


def base_config() -> ml_collections.ConfigDict:
  """The fields every run has, with defaults."""
  c = ml_collections.ConfigDict()
  c.name = ''  # the run's name (runs/<name> by default): letters, digits, _ - .
  c.seed = 0  # root seed in [0, 2**32): parameters, data order, noise, analysis
  c.num_seeds = 1  # independent runs trained together with vmap

  c.data = ml_collections.ConfigDict()
  c.data.name = 'szt'  # szt | minimal_tanh | minimal_lrelu | mnist
  c.data.data_dir = ''  # '' = $INFOFLOW_DATA_DIR, else ~/.cache/infoflow
  c.data.split = 'auto'  # SZT: 'auto' (the authors' IB_data.npz if in the data dir, else
  # the seeded split), 'authors' (that file, required) or 'seeded'
  c.data.split_seed = 0  # SZT seeded train/test split seed
  c.data.test_fraction = 0.2
  c.data.validation_size = 0  # MNIST: examples held out of training

  c.model = ml_collections.ConfigDict()
  c.model.kind = 'mlp'  # mlp | cnn
  c.model.widths = (10, 7, 5, 4, 3)
  c.model.activation = 'tanh'
  c.model.beta = 0.005  # noise std after every hidden activation
  # infoflow.models.INITS: 'lecun_normal' (Flax's default), 'uniform_fan_in'
  # (PyTorch's, the authors' SZT code: kernel, bias U(+-1/sqrt(fan_in))) or 'zeros'.
  c.model.init = 'lecun_normal'
  # mlp: True = a linear output layer on top; False = the last hidden layer's noisy
  # output is the prediction (loss mse, last width = the target width).
  c.model.readout = True
  c.model.conv_features = (8, 16)  # cnn only
  c.model.dense_widths = (10,)  # cnn only

  c.loss = 'cross_entropy'  # cross_entropy | mse (regression targets)
  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = 'adam'
  c.optimizer.learning_rate = 4e-4
  c.batch_size = 256
  c.num_epochs = 10_000
  c.orthonormal_alpha = 0.0  # > 0: K <- K - alpha (K K^T K - K) after updates

  c.analysis = ml_collections.ConfigDict()
  c.analysis.num_points = 90  # ~log-spaced analysed epochs, 0 and last
  c.analysis.num_replicas = 100  # R noisy passes per input
  c.analysis.estimated_layers = ()  # () = all hidden layers, or T1, ...
  c.analysis.form = 'posterior'  # or 'difference' (docs/method.md)
  c.analysis.num_mc = 0  # fixed MC draws per layer (>= 2); 0 = adaptive
  # (difference form: 8192 for h(T), h(T|Y=y))
  c.analysis.num_mc_conditional = (
    estimators.DEFAULT_NUM_MC_CONDITIONAL
  )  # difference form: draws per h(T|X=x)
  c.analysis.target_stderr_mi_input = 0.02  # nats, adaptive posterior form
  c.analysis.target_stderr_mi_label = 0.005  # nats
  c.analysis.max_mc = estimators.DEFAULT_MAX_MC  # cap on the adaptive draws per layer
  c.analysis.inputs = 'all'  # inputs analysed: all | train | test | resample
  # all/train/test: 0 = all of them, else a fixed subset; resample: m, the rows drawn
  # with replacement from all inputs at each analysed epoch and seed (0 = as many as there are)
  c.analysis.num_eval_inputs = 0
  c.analysis.input_chunk = 256
  c.analysis.bin_sizes = (0.01, 2 / 30, 0.2)  # 2/30: SZT's 30 bins on [-1, 1]
  c.analysis.cluster_beta = 0.0  # 0 = the model's beta (or 0.005 if none)
  c.analysis.representation_max_width = 64  # save S_l(x) of layers this narrow
  c.analysis.clustering = True
  c.analysis.binning = True

  c.checkpoint = ml_collections.ConfigDict()
  c.checkpoint.keep = 3
  c.log_every_epochs = 0  # progress line period; 0 = about 100 lines a run
  # Metric writers besides metrics.jsonl (always written): 'tensorboard'
  # (WORKDIR/tensorboard) and any registered with infoflow.experiment.writers.register.
  c.writers = ('tensorboard',)
  return c


class ConfigError(ValueError):
  """A config field has a bad type or value; the message names the field."""


def _is_int(value) -> bool:
  return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_real(value) -> bool:
  return (_is_int(value) or isinstance(value, (float, np.floating))) and math.isfinite(value)


def _integer(low):
  def check(value):
    if not _is_int(value):
      return 'must be an integer'
    return None if value >= low else f'must be >= {low}'

  return check


def _draw_count(*, zero=None):
  """A Monte Carlo draw count: an integer >= 2 (a standard error needs two
  draws); with `zero`, 0 is allowed too and means `zero`."""
  at_least_two = _integer(2)

  def check(value):
    if zero is not None and _is_int(value) and value == 0:
      return None
    problem = at_least_two(value)
    if problem is None and value <= estimators.MAX_DRAWS:
      return None
    allowed = f'0 ({zero}) or an integer >= 2' if zero else 'an integer >= 2'
    return (
      f'must be {allowed} (a standard error needs two draws) and at most '
      f'estimators.MAX_DRAWS = 2**30'
    )

  return check


def seed_problem(value):
  """None for a seed in [0, SEED_LIMIT), else what is wrong (for messages:
  `configs.validate`'s `seed`, `launch.estimate`'s --seed)."""
  if _is_int(value) and 0 <= value < SEED_LIMIT:
    return None
  return (
    'must be an integer in [0, 2**32): JAX keys keep 32 bits, so seed 2**32 + s would '
    'silently repeat the run of seed s'
  )


def _run_name(value):
  if isinstance(value, str) and _NAME.fullmatch(value):
    return None
  return (
    "must be a plain name (letters, digits, '_', '-', '.'; not starting with '.'): "
    "it names the run's directory"
  )


def _real(low, *, above=False, high=None):
  """A finite number >= low (> low with `above`; < high if given)."""

  def check(value):
    if not _is_real(value):
      return 'must be a finite number'
    if value < low or (above and value == low):
      return f'must be {">" if above else ">="} {low}'
    return None if high is None or value < high else f'must be < {high}'

  return check


def _choice(options):
  def check(value):
    return None if value in options else f'must be one of {", ".join(options)}'

  return check


def _sequence(item_check, what):
  def check(value):
    if isinstance(value, (str, bytes)) or not hasattr(value, '__len__'):
      return f'must be a sequence of {what}'
    return None if all(item_check(v) is None for v in value) else (f'must be a sequence of {what}')

  return check


def _of_type(kind, what):
  return lambda value: None if isinstance(value, kind) else f'must be {what}'


def _writer_names(value):
  """A sequence of writer names besides metrics.jsonl; whether each is
  registered is checked where the writers live
  (`infoflow.experiment.writers.check_names`, before a run writes anything)."""
  if (
    isinstance(value, (str, bytes))
    or not hasattr(value, '__len__')
    or not all(isinstance(v, str) for v in value)
  ):
    return 'must be a sequence of writer names (e.g. ("tensorboard",), or ())'
  if 'jsonl' in value:
    return 'must not list jsonl: metrics.jsonl is always written; list only the other writers'
  return None


def _checks():
  """{dotted field: check(value) -> None or what is wrong} for every field."""
  text, flag = _of_type(str, 'a string'), _of_type(bool, 'True or False')
  positive_ints = _sequence(_integer(1), 'positive integers')
  return {
    'name': _run_name,
    'seed': seed_problem,
    'num_seeds': _integer(1),
    'data.name': _choice(data.DATASETS),
    'data.data_dir': text,
    'data.split': _choice(data.SZT_SPLITS),
    'data.split_seed': _integer(0),
    'data.test_fraction': _real(0.0, high=1.0),
    'data.validation_size': _integer(0),
    'model.kind': _choice(('mlp', 'cnn')),
    'model.widths': positive_ints,
    'model.activation': _choice(tuple(sorted(models.ACTIVATIONS))),
    'model.beta': _real(0.0),
    'model.init': _choice(models.INITS),
    'model.readout': flag,
    'model.conv_features': positive_ints,
    'model.dense_widths': positive_ints,
    'loss': _choice(('cross_entropy', 'mse')),
    'optimizer.name': _choice(OPTIMIZERS),
    'optimizer.learning_rate': _real(0.0, above=True),
    'batch_size': _integer(1),
    'num_epochs': _integer(0),
    'orthonormal_alpha': _real(0.0),
    'analysis.num_points': _integer(2),
    # >= 2: every run also estimates I(X;T) from the first R // 2 replicas (the finite-R
    # diagnostic, `InformationSettings.replica_diagnostic`).
    'analysis.num_replicas': _integer(2),
    'analysis.estimated_layers': _sequence(text, 'layer names'),
    'analysis.form': _choice(('posterior', 'difference')),
    'analysis.num_mc': _draw_count(zero='adaptive'),
    'analysis.num_mc_conditional': _draw_count(),
    'analysis.target_stderr_mi_input': _real(0.0, above=True),
    'analysis.target_stderr_mi_label': _real(0.0, above=True),
    'analysis.max_mc': _draw_count(),
    'analysis.inputs': _choice(ANALYSIS_INPUTS),
    'analysis.num_eval_inputs': _integer(0),
    'analysis.input_chunk': _integer(1),
    'analysis.bin_sizes': _sequence(_real(0.0, above=True), 'positive numbers'),
    'analysis.cluster_beta': _real(0.0),
    'analysis.representation_max_width': _integer(0),
    'analysis.clustering': flag,
    'analysis.binning': flag,
    'checkpoint.keep': _integer(1),
    'log_every_epochs': _integer(0),
    'writers': _writer_names,
  }


def leaf_fields(config, prefix: str = '') -> list[str]:
  """Dotted names of the leaf fields of `config` (`data.name`, ...)."""
  names = []
  for key, value in config.items():
    if hasattr(value, 'items'):
      names.extend(leaf_fields(value, f'{prefix}{key}.'))
    else:
      names.append(f'{prefix}{key}')
  return names


def _get(config, name):
  for key in name.split('.'):
    config = config[key]
  return config


def layer_names(config) -> list[str]:
  """The hidden layers the config's model has (`infoflow.models`' names):
  T1, T2, ... for an MLP; conv1, conv2, dense3, ... for a CNN."""
  m = config.model
  if m.kind == 'mlp':
    return models.mlp_layer_names(len(m.widths))
  return models.cnn_layer_names(len(m.conv_features), len(m.dense_widths))


def validate(config) -> None:
  """Checks every field of `config` (types, ranges, names) before a run.

  Raises:
    ConfigError: the first bad field, named with its value and what it must
      be (fields missing from, or unknown to, `base_config` included).
  """
  checks = _checks()
  known, names = leaf_fields(base_config()), leaf_fields(config)
  for name in names:
    if name not in known:
      raise ConfigError(f'unknown config field {name}; fields: {", ".join(known)}.')
  for name in known:
    if name not in names:
      raise ConfigError(f'config field {name} is missing.')
    value = _get(config, name)
    problem = checks[name](value) if name in checks else None
    if problem:
      raise ConfigError(
        f'config field {name} {problem}; got {value!r}. Fix it with --config.{name}=VALUE.'
      )
  _validate_together(config)


def _validate_together(config) -> None:
  """The checks that involve several fields."""
  layers = layer_names(config)
  if not layers:
    field = 'widths' if config.model.kind == 'mlp' else 'dense_widths'
    raise ConfigError(
      f'config field model.{field} is empty: a {config.model.kind} needs a hidden layer to measure.'
    )
  unknown = [n for n in config.analysis.estimated_layers if n not in layers]
  if unknown:
    raise ConfigError(
      f'config field analysis.estimated_layers names {", ".join(unknown)}, '
      f'not a layer of this model; its layers: {", ".join(layers)} (or () '
      'for all).'
    )
  if config.analysis.binning and not config.analysis.bin_sizes:
    raise ConfigError(
      'config field analysis.bin_sizes is empty while '
      'analysis.binning is True; give bin sizes or set '
      '--config.analysis.binning=False.'
    )
  if config.loss == 'mse' and config.data.name not in REGRESSION_DATASETS:
    raise ConfigError(
      f'config field loss is mse, but data set {config.data.name} has no '
      'regression targets (those that do: '
      f'{", ".join(REGRESSION_DATASETS)}).'
    )
  if not config.model.readout:
    _check_without_readout(config)
  if config.model.init == 'zeros':
    _check_zeros_init(config)
  if config.analysis.inputs == RESAMPLE and config.analysis.num_eval_inputs == 1:
    raise ConfigError(
      "config field analysis.num_eval_inputs is 1 with analysis.inputs 'resample': one drawn "
      'input carries no information; draw 0 (as many as the data set has) or >= 2 inputs.'
    )
  try:
    information_settings(config)
  except ValueError as error:  # fields of config.analysis that do not go together
    raise ConfigError(f'config fields analysis.*: {error}') from None


def _check_zeros_init(config) -> None:
  """`model.init` 'zeros': all units of a layer start equal and get equal
  gradients but for their noise: at beta = 0 they stay equal forever (a
  layer of width w is one unit copied w times), at beta > 0 only the noise
  tells them apart. So only one-unit layers (the minimal neurons) may start
  at zero."""
  m = config.model
  if m.kind != 'mlp':
    raise ConfigError(
      f"config field model.init is 'zeros' with model.kind {m.kind}: the filters and units of "
      'each layer would start equal, and only the noise would tell them apart (at beta = 0 '
      'they stay equal forever). Set --config.model.init=lecun_normal.'
    )
  wide = [(n, w) for n, w in zip(layer_names(config), m.widths) if w > 1]
  if wide:
    name, width = wide[0]
    raise ConfigError(
      f"config field model.init is 'zeros', but model.widths gives hidden layer {name} {width} "
      'units: they would start equal, and only the noise would tell them apart (at beta = 0 '
      'they stay equal forever). Use zeros only with one-unit layers (e.g. model.widths=(1,)), '
      'or set --config.model.init=lecun_normal.'
    )


def _check_without_readout(config) -> None:
  """`model.readout` False: the last hidden layer's output is the prediction,
  so the net must be an MLP trained by mean squared error whose last width is
  the data set's target width (`infoflow.data.toy.TARGET_WIDTHS`)."""
  m = config.model
  if m.kind != 'mlp':
    raise ConfigError(
      f'config field model.readout is False, which only an mlp supports; model.kind is {m.kind}. '
      'Set --config.model.readout=True.'
    )
  if config.loss != 'mse':
    raise ConfigError(
      'config field model.readout is False (the last hidden layer is the prediction), which '
      f'needs loss mse against regression targets; got loss {config.loss}. Set --config.loss=mse.'
    )
  width = toy.TARGET_WIDTHS[config.data.name]
  if m.widths[-1] != width:
    raise ConfigError(
      f'config field model.widths ends in {m.widths[-1]}, but with model.readout False the last '
      f'hidden layer is the output and data set {config.data.name} has {width} target(s) per '
      f'input; end model.widths with {width}.'
    )


def information_settings(config) -> information.InformationSettings:
  """The `InformationSettings` of a run's `config.analysis` (num_mc 0: None)."""
  a = config.analysis
  return information.InformationSettings(
    num_replicas=a.num_replicas,
    input_chunk=a.input_chunk,
    form=a.form,
    num_mc=a.num_mc or None,
    num_mc_conditional=a.num_mc_conditional,
    target_stderr_mi_input=a.target_stderr_mi_input,
    target_stderr_mi_label=a.target_stderr_mi_label,
    max_mc=a.max_mc,
  )
