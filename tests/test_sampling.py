"""Tests of layer sampling (infoflow.sampling)."""

import flax.linen as nn
import helpers
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infoflow import models
from infoflow import sampling


class _UserModule(nn.Module):
  """A user's own noisy module: a nested block with the noise layer."""

  @nn.compact
  def __call__(self, x, deterministic=False):
    x = models.GaussianNoise(0.2, name='first')(
      jnp.tanh(nn.Dense(3)(x)), deterministic=deterministic
    )

    class Block(nn.Module):
      @nn.compact
      def __call__(self, x, deterministic=False):
        return models.GaussianNoise(0.2, name='inner')(
          nn.relu(nn.Dense(2)(x)), deterministic=deterministic
        )

    x = Block(name='block')(x, deterministic=deterministic)
    return nn.Dense(1)(x)


def test_user_module_is_sampled_like_builtin_ones():
  x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 4)), jnp.float32)
  model = _UserModule()
  variables = helpers.init_variables(model, x)
  samples = sampling.sample_layers(jax.random.key(0), model, variables, x, 7)
  assert list(samples) == ['first', 'block/inner']
  assert samples['first'].shape == (5, 7, 3)
  assert samples['block/inner'].shape == (5, 7, 2)
  # S of the first noisy layer is a function of x; the second is not.
  assert bool(jnp.all(samples['first'] == samples['first'][:, :1]))
  assert not bool(jnp.all(samples['block/inner'] == samples['block/inner'][:, :1]))


def test_sampling_is_reproducible_and_chunk_independent_in_shape():
  x = jnp.asarray(np.random.default_rng(1).normal(size=(10, 3)), jnp.float32)
  model = models.MLP(widths=(4, 3), num_outputs=2, beta=0.1)
  variables = helpers.init_variables(model, x)
  a = sampling.sample_layers(jax.random.key(3), model, variables, x, 5, input_chunk=3)
  b = sampling.sample_layers(jax.random.key(3), model, variables, x, 5, input_chunk=3)
  c = sampling.sample_layers(
    jax.random.key(3), model, variables, x, 5, input_chunk=10, layers=['T2']
  )
  np.testing.assert_array_equal(a['T2'], b['T2'])
  assert list(c) == ['T2'] and c['T2'].shape == (10, 5, 3)
  # Noise-free representations are the replicas' common first layer.
  clean = sampling.noise_free_layers(model, variables, x)
  np.testing.assert_allclose(clean['T1'], a['T1'][:, 0], atol=1e-6)
  with pytest.raises(ValueError, match='unknown layers'):
    sampling.sample_layers(jax.random.key(0), model, variables, x, 2, layers=['T9'])
  with pytest.raises(
    ValueError,
    match=r"unknown layers \['T9'\]; the model "
    r"has \['T1', 'T2'\]",
  ):
    sampling.noise_free_layers(model, variables, x, layers=['T9'])
  with pytest.raises(ValueError, match='num_replicas'):
    sampling.sample_layers(jax.random.key(0), model, variables, x, 0)
