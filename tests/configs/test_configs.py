"""Tests of the named configs and their validation (infoflow.configs)."""

import re

import helpers
import ml_collections
import pytest

from infoflow import configs
from infoflow import experiment
from infoflow import train as train_lib
from infoflow.configs import base as config_common


def test_config_names_and_overrides():
  names = configs.available()
  for required in (
    'minimal_tanh',
    'minimal_lrelu',
    'szt',
    'szt_relu',
    'szt_orthonormal',
    'szt_deterministic',
    'szt_resample',
    'mnist',
    'mnist_deterministic',
    'mnist_narrow_tanh',
  ):
    assert required in names
    assert configs.get_config(required).name == required
  argv = configs.resolve_argv(['prog', '--config=szt', '--config.optimizer.learning_rate=1e-3'])
  assert argv[1].endswith('szt.py') and argv[2].endswith('=1e-3')
  spaced = configs.resolve_argv(['prog', '--config', 'szt_relu', '--config.num_epochs=5'])
  assert spaced[1].endswith('szt_relu.py') and len(spaced) == 3
  with pytest.raises(ValueError, match='available:'):
    configs.resolve_argv(['prog', '--config', 'nope'])
  with pytest.raises(ValueError, match='available: .*szt_relu'):
    configs.resolve_argv(['prog', '--config=nope'])
  with pytest.raises(ValueError, match='fields of optimizer: .*learning_rate'):
    configs.resolve_argv(['prog', '--config=szt', '--config.optimizer.learnin_rate=1'])
  with pytest.raises(ValueError, match='unknown optimizer'):
    train_lib.make_optimizer('adagrad2', 0.1)


def _unchecked(config):
  """A copy of `config` whose fields take any value (no type safety)."""
  return ml_collections.ConfigDict(config.to_dict(), type_safe=False)


@pytest.mark.parametrize(
  'field, value, message',
  [
    # Types.
    ('num_seeds', True, 'num_seeds must be an integer'),
    ('batch_size', 2.5, 'batch_size must be an integer'),
    ('model.widths', ('4,x',), 'model.widths must be a sequence of positive'),
    ('analysis.binning', 'yes', 'analysis.binning must be True or False'),
    ('data.data_dir', None, 'data.data_dir must be a string'),
    # Ranges.
    ('batch_size', 0, 'batch_size must be >= 1'),
    ('batch_size', -4, 'batch_size must be >= 1'),
    ('num_seeds', 0, 'num_seeds must be >= 1'),
    ('optimizer.learning_rate', 0.0, 'learning_rate must be > 0'),
    ('optimizer.learning_rate', float('nan'), 'must be a finite number'),
    ('data.test_fraction', 1.0, 'test_fraction must be < 1'),
    ('analysis.num_points', 1, 'num_points must be >= 2'),
    ('analysis.num_replicas', 1, 'analysis.num_replicas must be >= 2'),  # the R/2 diagnostic
    ('analysis.bin_sizes', (0.1, -0.2), 'bin_sizes must be a sequence of'),
    ('checkpoint.keep', 0, 'checkpoint.keep must be >= 1'),
    # Names.
    ('data.name', 'szz', 'data.name must be one of szt, '),
    ('model.activation', 'tanhh', 'must be one of leaky_relu, linear'),
    ('model.kind', 'rnn', 'model.kind must be one of mlp, cnn'),
    ('model.init', 'xavier', 'model.init must be one of lecun_normal, uniform_fan_in'),
    ('model.init', 3, 'model.init must be one of lecun_normal, uniform_fan_in'),
    ('optimizer.name', 'adagrad', 'optimizer.name must be one of adam'),
    ('loss', 'hinge', 'loss must be one of cross_entropy, mse'),
    ('analysis.inputs', 'bootstrap', 'analysis.inputs must be one of all, train, test, resample'),
    (
      'analysis.estimated_layers',
      ('T7',),
      'names T7, not a layer of this model; its layers: T1, T2',
    ),
    # Issue 22 row 6: every Monte Carlo count needs two draws (a stderr).
    ('analysis.num_mc', 1, 'analysis.num_mc must be 0 (adaptive) or an integer >= 2'),
    ('analysis.num_mc', -2, 'analysis.num_mc must be 0 (adaptive) or an integer >= 2'),
    ('analysis.max_mc', 1, 'analysis.max_mc must be an integer >= 2'),
    ('analysis.num_mc_conditional', 1, 'analysis.num_mc_conditional must be an integer >= 2'),
    # Issue 22 row 9: JAX keys keep 32 bits of the seed.
    ('seed', 2**32 + 5, 'seed must be an integer in [0, 2**32)'),
    ('seed', -1, 'seed must be an integer in [0, 2**32)'),
    # Issue 22 row 20: the name is a directory (runs/<name>, WORKDIR/<name>).
    ('name', '/abs/dir', 'name must be a plain name'),
    ('name', '../up', 'name must be a plain name'),
    ('name', 'a/b', 'name must be a plain name'),
    ('name', '..', 'name must be a plain name'),
    ('name', '', 'name must be a plain name'),
    # Fields together.
    ('model.widths', (), 'model.widths is empty'),
    ('analysis.bin_sizes', (), 'bin_sizes is empty while analysis.binning'),
    ('loss', 'mse', 'data set szt has no regression targets'),
    ('model.init', 'zeros', "model.init is 'zeros', but model.widths gives hidden layer T1 4"),
  ],
)
def test_config_validation_names_each_kind_of_bad_field(field, value, message):
  """Item 9: every bad field is refused up front, named, with the fix."""
  config = _unchecked(configs.get_config('tiny'))
  *parents, leaf = field.split('.')
  target = config
  for p in parents:
    target = target[p]
  target[leaf] = value
  with pytest.raises(configs.ConfigError, match=re.escape(message)):
    configs.validate(config)


def test_config_validation_keeps_the_edge_values():
  """Issue 22 rows 6, 9, 20: the smallest draw counts, the largest seed and
  dotted or dashed names stay valid."""
  config = configs.get_config('tiny')
  config.analysis.num_mc, config.analysis.max_mc, config.analysis.num_mc_conditional = 2, 2, 2
  config.seed, config.name = config_common.SEED_LIMIT - 1, 'tiny-v1.2'
  configs.validate(config)
  config.analysis.num_mc = 0  # adaptive
  configs.validate(config)


def test_unknown_config_name_or_path_lists_the_configs():
  """Issue 22 row 16: an empty name or a file path is an unknown config (no
  traceback from ml_collections' file loader)."""
  for value in ('', '/nonexistent.py', 'infoflow/configs/tiny.py', '../tiny'):
    with pytest.raises(ValueError, match=f'unknown config {re.escape(repr(value))}.*available: '):
      configs.resolve_argv(['prog', f'--config={value}'])
  with pytest.raises(ValueError, match=r"'/nonexistent.py' \(a config name, not a file path\)"):
    configs.resolve_argv(['prog', '--config', '/nonexistent.py'])


def test_unknown_group_lists_the_fields_and_groups():
  """Issue 22, also seen (a): a typo in a group name lists the top-level
  fields and groups (it listed nothing: 'fields of optimiser: .')."""
  groups = 'groups: analysis, checkpoint, data, model, optimizer.'
  with pytest.raises(ValueError) as info:
    configs.resolve_argv(['prog', '--config=tiny', '--config.optimiser.learning_rate=1'])
  message = str(info.value)
  assert message.startswith(
    "unknown config field 'optimiser.learning_rate' in config 'tiny': no field or group "
    "'optimiser'; fields: batch_size, "
  ), message
  assert message.endswith(groups) and 'num_epochs' in message
  with pytest.raises(ValueError, match=re.escape('seed is a field, not a group; fields: ')):
    configs.resolve_argv(['prog', '--config=tiny', '--config.seed.x=1'])
  with pytest.raises(
    ValueError, match=re.escape("'learnin_rate' in optimizer; fields of optimizer")
  ):
    configs.resolve_argv(['prog', '--config=tiny', '--config.optimizer.learnin_rate=1'])


def test_config_validation_covers_every_field(tmp_path):
  """Item 9: each field of common.base_config is checked; unknown and
  missing fields are errors; the named configs pass; a bad config writes
  nothing (so the corrected command is not refused as another config)."""
  for name in configs.available():
    configs.validate(configs.get_config(name))
  for field in config_common.leaf_fields(config_common.base_config()):
    config = _unchecked(configs.get_config('tiny'))
    *parents, leaf = field.split('.')
    target = config
    for p in parents:
      target = target[p]
    target[leaf] = object()
    with pytest.raises(configs.ConfigError, match=re.escape(field)):
      configs.validate(config)
  config = _unchecked(configs.get_config('tiny'))
  config.analysis.num_mcc = 3
  with pytest.raises(configs.ConfigError, match='unknown config field analysis.num_mcc'):
    configs.validate(config)
  del config.analysis['num_mcc'], config.analysis['num_replicas']
  with pytest.raises(configs.ConfigError, match='analysis.num_replicas is missing'):
    configs.validate(config)
  for bad in ({'batch_size': 0}, {'batch_size': -1}, {'num_seeds': 0}):
    with pytest.raises(configs.ConfigError):
      experiment.train_and_analyse(helpers.tiny_config(**bad), tmp_path / 'w')
    assert not (tmp_path / 'w').exists()


def test_init_scheme_of_each_config():
  """The SZT configs use the authors' initialisation (PyTorch's default);
  the others keep Flax's, and every named config states where each of its
  settings comes from."""
  for name in (
    'szt',
    'szt_relu',
    'szt_orthonormal',
    'szt_deterministic',
    'szt_quick',
    'szt_resample',
  ):
    assert configs.get_config(name).model.init == 'uniform_fan_in', name
  for name in ('minimal_lrelu', 'mnist', 'mnist_deterministic', 'mnist_narrow_tanh', 'tiny'):
    assert configs.get_config(name).model.init == 'lecun_normal', name
  assert configs.get_config('minimal_tanh').model.init == 'zeros'
  assert config_common.base_config().model.init == 'lecun_normal'
  cnn = configs.get_config('tiny')  # zeros: only one-unit layers; a cnn's filters stay alike
  cnn.model.kind, cnn.model.init = 'cnn', 'zeros'
  with pytest.raises(configs.ConfigError, match="model.init is 'zeros' with model.kind cnn"):
    configs.validate(cnn)
  import importlib

  for name in configs.available():
    doc = importlib.import_module(f'infoflow.configs.{name}').__doc__
    assert 'Where each setting comes from' in doc or 'Every setting is our choice' in doc, name


@pytest.mark.parametrize(
  'overrides, match',
  [
    # issue 22 row 13 at the config: more draws than any estimator takes.
    ({'analysis.num_mc': 2**31}, 'analysis.num_mc must be .* at most estimators.MAX_DRAWS'),
    ({'analysis.max_mc': 2**40}, 'analysis.max_mc must be .* at most'),
    # issue 22 row 10 at the config: a fixed num_mc with a target no draw follows.
    (
      {'analysis.num_mc': 64, 'analysis.target_stderr_mi_input': 1e-4},
      r'analysis\.\*: pass num_mc .* not both',
    ),
    ({'analysis.form': 'difference', 'analysis.target_stderr_mi_label': 1e-3}, 'difference'),
  ],
)
def test_draw_settings_that_no_estimate_follows_are_refused(overrides, match):
  config = configs.get_config('tiny')
  for name, value in overrides.items():
    group, field = name.split('.')
    config[group][field] = value
  with pytest.raises(configs.ConfigError, match=match):
    configs.validate(config)


def test_resampled_inputs_config():
  """Issue 24: `szt_resample` is `szt` on the authors' estimand (4096 rows
  drawn with replacement at each analysed epoch); any m >= 2 draws, one
  input is refused."""
  resample, szt = configs.get_config('szt_resample'), configs.get_config('szt')
  assert (resample.analysis.inputs, resample.analysis.num_eval_inputs) == ('resample', 0)
  assert szt.analysis.inputs == 'all'
  resample.analysis.inputs, resample.name = szt.analysis.inputs, szt.name
  assert resample.to_dict() == szt.to_dict()  # nothing else differs
  config = helpers.tiny_config(**{'analysis.inputs': 'resample'})
  for m in (0, 2, 10**6):  # with replacement: more draws than inputs too
    config.analysis.num_eval_inputs = m
    configs.validate(config)
  config.analysis.num_eval_inputs = 1
  with pytest.raises(
    configs.ConfigError, match="analysis.num_eval_inputs is 1 with analysis.inputs 'resample'"
  ):
    configs.validate(config)
