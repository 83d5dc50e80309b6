"""Layer names: one scheme (infoflow.models) in models, configs and training.

T1..TL for an MLP; conv1, conv2, dense3 (kind, numbered across the net) for
the CNN. Old run records are covered in tests/test_record.py
(`test_current_layer_name`).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infoflow import configs
from infoflow import models
from infoflow import sampling
from infoflow import train as train_lib
from infoflow.configs import base as config_common


def _model_of(config):
  """The config's model, built from its fields (as the launcher does)."""
  m = config.model
  if m.kind == 'mlp':
    return models.MLP(widths=tuple(m.widths), num_outputs=2, beta=m.beta)
  return models.CNN(
    conv_features=tuple(m.conv_features), dense_widths=tuple(m.dense_widths), beta=m.beta
  )


@pytest.mark.parametrize(
  'name, expected',
  [
    ('szt', ['T1', 'T2', 'T3', 'T4', 'T5']),
    ('tiny', ['T1', 'T2']),
    ('mnist', ['conv1', 'conv2', 'dense3']),
  ],
)
def test_configs_name_the_layers_their_models_have(name, expected):
  config = configs.get_config(name)
  assert config_common.layer_names(config) == expected
  model = _model_of(config)
  x = jnp.zeros((1, 28, 28, 1) if config.model.kind == 'cnn' else (1, 12))
  variables = model.init(jax.random.key(0), x, deterministic=True)
  assert sampling.layer_names(model, variables, x) == expected
  assert list(config.analysis.estimated_layers) in ([], expected[-1:])


def test_orthonormalize_finds_hidden_dense_kernels_by_structure():
  cnn = models.CNN(conv_features=(2,), dense_widths=(6, 4))
  params = cnn.init(jax.random.key(0), jnp.zeros((1, 8, 8, 1)), deterministic=True)['params']
  updated = train_lib.orthonormalize(params, 0.1)
  changed = {
    name for name in params if not np.array_equal(params[name]['kernel'], updated[name]['kernel'])
  }
  # Dense kernels of hidden layers only: not the conv kernel, nor the output.
  assert changed == {'dense2_weights', 'dense3_weights'}
  for name in params:
    np.testing.assert_array_equal(params[name]['bias'], updated[name]['bias'])
