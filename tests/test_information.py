"""Tests of noisy networks, sampling and per-layer information estimates."""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import helpers
import infoflow
from infoflow import information
from infoflow import models
from infoflow import sampling


def _init(model, x, seed=0):
  return model.init({'params': jax.random.key(seed)}, x[:1],
                    deterministic=True)


def _within(estimate, reference, extra=1e-3):
  return abs(float(estimate.nats) - reference) <= (
      4 * float(estimate.stderr) + extra)


# -------------------------------------------------------------------- modules


def test_noise_layer_is_identity_when_off_and_records_pre_noise():
  x = jnp.arange(6.0).reshape(2, 3)
  noisy = models.GaussianNoise(beta=0.5)
  out, state = noisy.apply({}, x, rngs={'noise': jax.random.key(0)},
                           mutable=['intermediates'])
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
  mlp = models.MLP(widths=[2] * 12, num_outputs=5, activation='leaky_relu',
                   beta=0.1)
  variables = _init(mlp, x)
  names = sampling.layer_names(mlp, variables, x)
  # Numbered from 1, in call order (not string order: T10 comes after T9).
  assert names == [f'T{l}' for l in range(1, 13)]
  assert list(variables['params']) == [f'T{l}_weights' for l in range(1, 13)
                                       ] + [models.OUTPUT]
  assert mlp.apply(variables, x, rngs={'noise': jax.random.key(0)}).shape == (
      3, 5)
  images = jnp.ones((2, 28, 28, 1))
  cnn = models.CNN(beta=0.1)
  cnn_vars = _init(cnn, images)
  logits = cnn.apply(cnn_vars, images, rngs={'noise': jax.random.key(0)})
  assert logits.shape == (2, 10)
  samples = sampling.sample_layers(jax.random.key(1), cnn, cnn_vars, images,
                                   3)
  # Layers are named by kind, numbered across the whole net.
  assert list(samples) == ['conv1', 'conv2', 'dense3']
  assert list(cnn_vars['params']) == ['conv1_weights', 'conv2_weights',
                                      'dense3_weights', models.OUTPUT]
  assert [s.shape for s in samples.values()] == [
      (2, 3, 28 * 28 * 8), (2, 3, 14 * 14 * 16), (2, 3, 10)]
  with pytest.raises(ValueError, match='activation'):
    models.MLP(widths=(2,), num_outputs=1, activation='gelu').init(
        jax.random.key(0), x)


class _UserModule(nn.Module):
  """A user's own noisy module: a nested block with the noise layer."""

  @nn.compact
  def __call__(self, x, deterministic=False):
    x = models.GaussianNoise(0.2, name='first')(
        jnp.tanh(nn.Dense(3)(x)), deterministic=deterministic)

    class Block(nn.Module):

      @nn.compact
      def __call__(self, x, deterministic=False):
        return models.GaussianNoise(0.2, name='inner')(
            nn.relu(nn.Dense(2)(x)), deterministic=deterministic)

    x = Block(name='block')(x, deterministic=deterministic)
    return nn.Dense(1)(x)


def test_user_module_is_sampled_like_builtin_ones():
  x = jnp.asarray(np.random.default_rng(0).normal(size=(5, 4)),
                  jnp.float32)
  model = _UserModule()
  variables = _init(model, x)
  samples = sampling.sample_layers(jax.random.key(0), model, variables, x, 7)
  assert list(samples) == ['first', 'block/inner']
  assert samples['first'].shape == (5, 7, 3)
  assert samples['block/inner'].shape == (5, 7, 2)
  # S of the first noisy layer is a function of x; the second is not.
  assert bool(jnp.all(samples['first'] == samples['first'][:, :1]))
  assert not bool(jnp.all(samples['block/inner'] ==
                          samples['block/inner'][:, :1]))


def test_sampling_is_reproducible_and_chunk_independent_in_shape():
  x = jnp.asarray(np.random.default_rng(1).normal(size=(10, 3)), jnp.float32)
  model = models.MLP(widths=(4, 3), num_outputs=2, beta=0.1)
  variables = _init(model, x)
  a = sampling.sample_layers(jax.random.key(3), model, variables, x, 5,
                             input_chunk=3)
  b = sampling.sample_layers(jax.random.key(3), model, variables, x, 5,
                             input_chunk=3)
  c = sampling.sample_layers(jax.random.key(3), model, variables, x, 5,
                             input_chunk=10, layers=['T2'])
  np.testing.assert_array_equal(a['T2'], b['T2'])
  assert list(c) == ['T2'] and c['T2'].shape == (10, 5, 3)
  # Noise-free representations are the replicas' common first layer.
  clean = sampling.noise_free_layers(model, variables, x)
  np.testing.assert_allclose(clean['T1'], a['T1'][:, 0], atol=1e-6)
  with pytest.raises(ValueError, match='unknown layers'):
    sampling.sample_layers(jax.random.key(0), model, variables, x, 2,
                           layers=['T9'])
  with pytest.raises(ValueError, match=r"unknown layers \['T9'\]; the model "
                     r"has \['T1', 'T2'\]"):
    sampling.noise_free_layers(model, variables, x, layers=['T9'])
  with pytest.raises(ValueError, match='num_replicas'):
    sampling.sample_layers(jax.random.key(0), model, variables, x, 0)


# ------------------------------------------------------ against quadrature


@pytest.mark.parametrize('form', information.FORMS)
@pytest.mark.parametrize('width,num_inputs,beta', [(1, 8, 0.1), (1, 32, 0.05),
                                                   (2, 16, 0.1),
                                                   (2, 24, 0.03)])
def test_first_layer_information_against_quadrature(width, num_inputs, beta,
                                                    form):
  rng = np.random.default_rng(width * 100 + num_inputs)
  x = jnp.asarray(rng.normal(size=(num_inputs, 3)), jnp.float32)
  model = models.MLP(widths=(width,), num_outputs=2, activation='tanh',
                     beta=beta)
  variables = _init(model, x, seed=num_inputs)
  info = infoflow.network_information(jax.random.key(4), model, variables, x,
                                      beta, num_replicas=4, num_mc=20_000,
                                      form=form)
  layer = info['T1']
  assert layer.deterministic_given_x
  centers = np.asarray(sampling.noise_free_layers(model, variables,
                                                  x)['T1'])
  exact = (helpers.entropy_quadrature(centers, beta)
           - float(infoflow.gaussian_entropy(width, beta)))
  assert _within(layer.mi_input, exact), (float(layer.mi_input.nats), exact)


def _single_neuron(w, b, beta):
  model = models.MLP(widths=(1,), num_outputs=1, activation='tanh',
                     beta=beta)
  params = {'T1_weights': {'kernel': jnp.array([[w]]), 'bias': jnp.array([b])},
            'output': {'kernel': jnp.ones((1, 1)), 'bias': jnp.zeros(1)}}
  return model, {'params': params}


@pytest.mark.parametrize('form', information.FORMS)
@pytest.mark.parametrize('w,b,bits', [(0.3, 0.0, 2.0),   # 4 clusters
                                      (6.0, -6.0, 1.5),  # 3: {-3,-1},{1},{3}
                                      (6.0, 0.0, 1.0)])  # 2: saturated
def test_minimal_example_against_quadrature(w, b, bits, form):
  beta = 0.05
  data = infoflow.data.minimal_tanh()
  model, variables = _single_neuron(w, b, beta)
  info = infoflow.network_information(
      jax.random.key(5), model, variables, data.x_all, beta,
      labels=data.y_all, num_replicas=2, num_mc=20_000, form=form)['T1']
  centers = np.tanh(w * np.asarray(data.x_all) + b)
  exact = (helpers.entropy_quadrature(centers, beta)
           - float(infoflow.gaussian_entropy(1, beta)))
  assert _within(info.mi_input, exact)
  assert float(info.mi_input.bits) == pytest.approx(bits, abs=0.02)
  # I(T;Y) <= H(Y) = H(1/4, 3/4).
  h_y = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
  assert float(info.mi_label.nats) <= h_y + 4 * float(info.mi_label.stderr)


# ----------------------------------------------------- inequalities


def _random_deep_net(seed, widths, beta, num_inputs, num_classes=2):
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.normal(size=(num_inputs, 4)), jnp.float32)
  labels = rng.integers(0, num_classes, num_inputs).astype(np.int32)
  model = models.MLP(widths=widths, num_outputs=num_classes,
                     activation='tanh', beta=beta)
  return model, _init(model, x, seed), x, labels


@pytest.mark.parametrize('seed', [0, 1])
def test_bounds_and_data_processing(seed):
  model, variables, x, labels = _random_deep_net(seed, (2, 2, 1, 1), 0.1, 12)
  info = infoflow.network_information(
      jax.random.key(seed), model, variables, x, 0.1, labels=labels,
      num_replicas=300, num_mc=8000, num_mc_conditional=200)
  counts = np.bincount(labels, minlength=2) / len(labels)
  h_y = -np.sum(counts[counts > 0] * np.log(counts[counts > 0]))
  previous = None
  for layer in info.values():
    mi, err = float(layer.mi_input.nats), 4 * float(layer.mi_input.stderr)
    assert -err <= mi <= math.log(12) + err
    mi_y, err_y = float(layer.mi_label.nats), 4 * float(layer.mi_label.stderr)
    assert mi_y <= min(h_y, mi) + err_y + err
    if previous is not None:
      assert mi <= float(previous.nats) + 4 * math.hypot(
          float(previous.stderr), float(layer.mi_input.stderr))
    previous = layer.mi_input


def test_small_beta_distinct_representations_give_log_m():
  model, variables, x, _ = _random_deep_net(7, (3, 3), 1e-3, 32)
  info = infoflow.network_information(jax.random.key(8), model, variables, x,
                                      1e-3, num_replicas=20)
  first, second = info.values()
  # Far-apart centres: h(T_1) = log m + h(N(0, beta^2 I)) to float precision.
  assert float(first.mi_input.nats) == pytest.approx(math.log(32), abs=1e-4)
  assert _within(second.mi_input, math.log(32), extra=0.01)


# ----------------------------------------------------------- bad inputs


def test_layer_information_errors():
  samples = np.zeros((4, 3, 2), np.float32)
  key = jax.random.key(0)
  with pytest.raises(ValueError, match=r'\(m, R, d\)'):
    information.layer_information(key, samples[0], 0.1)
  with pytest.raises(ValueError, match='beta'):
    information.layer_information(key, samples, 0.0)
  with pytest.raises(ValueError, match='labels must have shape'):
    information.layer_information(key, samples, 0.1, labels=np.zeros(3, int))
  with pytest.raises(ValueError, match='labels must lie'):
    information.layer_information(key, samples, 0.1,
                                  labels=np.array([0, 1, 2, 3]),
                                  num_classes=2)
  with pytest.raises(ValueError, match='integers'):
    information.layer_information(key, samples, 0.1, labels=np.zeros(4))
  noisy = np.random.default_rng(0).normal(size=(4, 1, 2))
  with pytest.raises(ValueError, match='R >= 2'):
    information.layer_information(key, noisy, 0.1, form='difference',
                                  deterministic_given_x=False)
  with pytest.raises(ValueError, match='form must be one of'):
    information.layer_information(key, samples, 0.1, form='posterior_v2')
