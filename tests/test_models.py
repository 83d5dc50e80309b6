"""Tests of the noisy networks (infoflow.models), and the config fields of
their options (model.readout, model.init)."""

import re

import helpers
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from infoflow import models
from infoflow import sampling


def test_noise_layer_is_identity_when_off_and_records_pre_noise():
  x = jnp.arange(6.0).reshape(2, 3)
  noisy = models.GaussianNoise(beta=0.5)
  out, state = noisy.apply({}, x, rngs={'noise': jax.random.key(0)}, mutable=['intermediates'])
  assert not np.allclose(out, x)
  np.testing.assert_allclose(state['intermediates']['pre_noise'][0], x)
  # Noise std is beta.
  big = jnp.zeros((20000, 1))
  z = noisy.apply({}, big, rngs={'noise': jax.random.key(1)})
  assert float(jnp.std(z)) == pytest.approx(0.5, rel=0.03)
  off = noisy.apply({}, x, deterministic=True)
  np.testing.assert_array_equal(off, x)
  zero = models.GaussianNoise(beta=0.0).apply({}, x)  # needs no rng
  np.testing.assert_array_equal(zero, x)
  with pytest.raises(ValueError, match='beta'):
    models.GaussianNoise(beta=-1.0).apply({}, x)


def test_mlp_and_cnn_shapes_and_layer_order():
  x = jnp.ones((3, 4))
  mlp = models.MLP(widths=[2] * 12, num_outputs=5, activation='leaky_relu', beta=0.1)
  variables = helpers.init_variables(mlp, x)
  names = sampling.layer_names(mlp, variables, x)
  # Numbered from 1, in call order (not string order: T10 comes after T9).
  assert names == [f'T{l}' for l in range(1, 13)]
  assert list(variables['params']) == [f'T{l}_weights' for l in range(1, 13)] + [models.OUTPUT]
  assert mlp.apply(variables, x, rngs={'noise': jax.random.key(0)}).shape == (3, 5)
  images = jnp.ones((2, 28, 28, 1))
  cnn = models.CNN(beta=0.1)
  cnn_vars = helpers.init_variables(cnn, images)
  logits = cnn.apply(cnn_vars, images, rngs={'noise': jax.random.key(0)})
  assert logits.shape == (2, 10)
  samples = sampling.sample_layers(jax.random.key(1), cnn, cnn_vars, images, 3)
  # Layers are named by kind, numbered across the whole net.
  assert list(samples) == ['conv1', 'conv2', 'dense3']
  assert list(cnn_vars['params']) == [
    'conv1_weights',
    'conv2_weights',
    'dense3_weights',
    models.OUTPUT,
  ]
  assert [s.shape for s in samples.values()] == [
    (2, 3, 28 * 28 * 8),
    (2, 3, 14 * 14 * 16),
    (2, 3, 10),
  ]
  with pytest.raises(ValueError, match='activation'):
    models.MLP(widths=(2,), num_outputs=1, activation='gelu').init(jax.random.key(0), x)


def _bound(fan_in):
  return 1.0 / np.sqrt(fan_in)


def test_uniform_fan_in_init_is_pytorchs_default():
  """'uniform_fan_in': every kernel and bias, output layer included, is
  U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (variance 1/(3 fan_in)), fan_in being
  the inputs of one unit (dense: input width; conv: k*k*channels)."""
  x = jnp.ones((1, 12))
  mlp = models.MLP(widths=(400, 300), num_outputs=200, init_scheme='uniform_fan_in')
  params = helpers.init_variables(mlp, x)['params']
  for name, fan_in in (('T1_weights', 12), ('T2_weights', 400), (models.OUTPUT, 300)):
    for kind in ('kernel', 'bias'):
      values = np.asarray(params[name][kind]).ravel()
      bound = _bound(fan_in)
      assert np.abs(values).max() <= bound, (name, kind)
      if values.size >= 200:  # enough draws to test the distribution
        assert np.abs(values).max() > 0.95 * bound, (name, kind)
        assert values.var() == pytest.approx(bound**2 / 3, rel=0.2), (name, kind)
        # Uniform: the fraction within half the bound is 1/2.
        assert np.mean(np.abs(values) < bound / 2) == pytest.approx(0.5, abs=0.08)
  cnn = models.CNN(conv_features=(8, 16), dense_widths=(10,), init_scheme='uniform_fan_in')
  cparams = helpers.init_variables(cnn, jnp.ones((1, 28, 28, 1)))['params']
  fans = {
    'conv1_weights': 25 * 1,
    'conv2_weights': 25 * 8,
    'dense3_weights': 7 * 7 * 16,
    models.OUTPUT: 10,
  }
  for name, fan_in in fans.items():
    for kind in ('kernel', 'bias'):
      values = np.asarray(cparams[name][kind])
      assert np.abs(values).max() <= _bound(fan_in), (name, kind)
      assert np.abs(values).max() > 0.5 * _bound(fan_in), (name, kind)
    kernel = np.asarray(cparams[name]['kernel'])
    assert kernel.var() == pytest.approx(_bound(fan_in) ** 2 / 3, rel=0.25), name


def test_lecun_normal_init_is_the_default_and_unchanged():
  """The default: Flax's nn.Dense initialisers (lecun_normal kernel, zero
  bias), so existing runs keep their parameters."""
  x = jnp.ones((1, 300))
  default = models.MLP(widths=(200,), num_outputs=2)
  params = helpers.init_variables(default, x)['params']
  assert default.init_scheme == 'lecun_normal'
  np.testing.assert_array_equal(params['T1_weights']['bias'], 0.0)
  kernel = np.asarray(params['T1_weights']['kernel'])
  assert kernel.var() == pytest.approx(1 / 300, rel=0.1)
  import flax.linen as nn

  ours = models.initializers('lecun_normal', 300)[0](jax.random.key(1), (300, 200))
  reference = nn.initializers.lecun_normal()(jax.random.key(1), (300, 200))
  np.testing.assert_array_equal(ours, reference)


def test_unknown_init_scheme_is_named():
  with pytest.raises(ValueError, match="unknown init scheme 'xavier'; known: lecun_normal"):
    models.MLP(widths=(2,), num_outputs=1, init_scheme='xavier').init(
      jax.random.key(0), jnp.ones((1, 3))
    )
  with pytest.raises(ValueError, match='fan_in must be >= 1'):
    models.initializers('uniform_fan_in', 0)


def test_mlp_without_readout_outputs_its_last_noisy_layer():
  """`readout=False` (the minimal tanh neuron): no output layer; the output
  is T = tanh(w x + b) + beta z itself, and S = tanh(w x + b) without noise.
  'zeros' starts w = b = 0."""
  x = jnp.array([[-3.0], [-1.0], [1.0], [3.0]])
  neuron = models.MLP(widths=(1,), num_outputs=1, beta=0.05, init_scheme='zeros', readout=False)
  variables = helpers.init_variables(neuron, x)
  assert list(variables['params']) == ['T1_weights']  # no `output` layer
  assert all(np.all(np.asarray(p) == 0) for p in jax.tree.leaves(variables))
  params = {'T1_weights': {'kernel': jnp.array([[0.7]]), 'bias': jnp.array([-0.3])}}
  clean = neuron.apply({'params': params}, x, deterministic=True)
  np.testing.assert_allclose(clean, jnp.tanh(0.7 * x - 0.3), rtol=1e-6)
  z = jnp.array([[0.5], [-1.0], [2.0], [0.0]])
  noisy = neuron.apply({'params': params, models.GIVEN_NOISE: {'T1': {'z': z}}}, x)
  np.testing.assert_allclose(noisy, jnp.tanh(0.7 * x - 0.3) + 0.05 * z, rtol=1e-6)
  with_readout = models.MLP(widths=(1,), num_outputs=1, init_scheme='zeros')
  assert models.OUTPUT in helpers.init_variables(with_readout, x)['params']
  with pytest.raises(ValueError, match='last width must equal num_outputs = 2'):
    models.MLP(widths=(1,), num_outputs=2, readout=False).init(jax.random.key(0), x)


@pytest.mark.parametrize(
  'changes, message',
  [
    ({'loss': 'cross_entropy'}, 'model.readout is False (the last hidden layer is the prediction)'),
    ({'model.widths': (1, 2)}, 'model.widths ends in 2, but with model.readout False'),
    ({'model.kind': 'cnn'}, 'model.readout is False, which only an mlp supports'),
    ({'model.readout': 0}, 'model.readout must be True or False'),
    ({'model.init': 'ones'}, 'model.init must be one of lecun_normal, uniform_fan_in, zeros'),
  ],
)
def test_config_fields_of_the_model_options_are_checked(changes, message):
  """`model.readout = False` needs an mlp, loss mse and a last width equal
  to the data set's target width; each refusal is one line naming the field."""
  from infoflow import configs

  config = ml_collections.ConfigDict(configs.get_config('minimal_tanh').to_dict(), type_safe=False)
  configs.validate(config)  # readout False, zeros: valid as configured
  for field, value in changes.items():
    *parents, leaf = field.split('.')
    target = config
    for p in parents:
      target = target[p]
    target[leaf] = value
  with pytest.raises(configs.ConfigError, match=re.escape(message)) as raised:
    configs.validate(config)
  assert '\n' not in str(raised.value)
