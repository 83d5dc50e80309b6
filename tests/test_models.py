"""Tests of the noisy networks (infoflow.models)."""

import helpers
import jax
import jax.numpy as jnp
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
