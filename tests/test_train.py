"""Tests of the training library (infoflow.train). The run loop's tests are
in tests/experiment/, the configs' in tests/configs/, the commands' in
tests/launch/."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infoflow import models
from infoflow import train as train_lib


def test_orthonormality_step():
  rng = np.random.default_rng(0)
  kernel = jnp.asarray(rng.normal(size=(6, 4)) * 0.5, jnp.float32)
  params = {
    'T1_weights': {'kernel': kernel, 'bias': jnp.ones(4)},
    'output': {'kernel': kernel, 'bias': jnp.ones(4)},
  }
  deviation = lambda k: float(jnp.linalg.norm(k.T @ k - jnp.eye(4)))
  before = deviation(kernel)
  for _ in range(200):
    params = train_lib.orthonormalize(params, 0.1)
  assert deviation(params['T1_weights']['kernel']) < 1e-3 < before
  # The output layer is not regularised, nor are biases.
  np.testing.assert_array_equal(params['output']['kernel'], kernel)
  np.testing.assert_array_equal(params['T1_weights']['bias'], jnp.ones(4))
  orthonormal = jnp.eye(6, 4)
  same = train_lib.orthonormalize({'T2_weights': {'kernel': orthonormal}}, 0.3)
  np.testing.assert_allclose(same['T2_weights']['kernel'], orthonormal, atol=1e-6)


def test_train_epochs_fits_minimal_lrelu_regression():
  model = models.MLP(widths=(1, 1), num_outputs=1, activation='leaky_relu', beta=0.01)
  optimizer = train_lib.make_optimizer('adam', 0.02)
  x = jnp.arange(1.0, 9.0)[:, None]
  targets = jnp.where(x > 4.5, 0.25, 0.0)
  labels = (x[:, 0] > 4.5).astype(jnp.int32)
  state = train_lib.init_state(jax.random.key(0), model, optimizer, x[:1])
  train_epochs = jax.jit(train_lib.make_train_epochs(model, optimizer, loss='mse', batch_size=8))
  evaluate = jax.jit(train_lib.make_evaluate(model, loss='mse'))
  values = jnp.array([0.0, 0.25])
  before = evaluate(state.params, x, targets, labels, jax.random.key(1), values)
  state = train_epochs(state, x, targets, 1500)
  after = evaluate(state.params, x, targets, labels, jax.random.key(1), values)
  assert int(state.epoch) == 1500 and int(state.step) == 1500
  assert float(after['loss']) < 0.1 * float(before['loss'])
  assert float(after['accuracy']) == 1.0


def test_step_by_step_noise_for_large_nets(monkeypatch):
  """Past the epoch-noise budget (conv nets) noise is drawn per step."""
  monkeypatch.setattr(train_lib, '_EPOCH_NOISE_BUDGET', 0)
  images = jnp.asarray(np.random.default_rng(0).uniform(size=(16, 8, 8, 1)), jnp.float32)
  # A learnable label (brighter than the median image) and a gentle rate, so
  # the loss falls for any noise and shuffle stream.
  brightness = images.mean(axis=(1, 2, 3))
  labels = (brightness > jnp.median(brightness)).astype(jnp.int32)
  model = models.CNN(conv_features=(2,), dense_widths=(3,), num_outputs=2, beta=0.05, kernel_size=3)
  optimizer = train_lib.make_optimizer('adam', 0.01)
  state = train_lib.init_state(jax.random.key(0), model, optimizer, images[:1])
  train_epochs = jax.jit(
    train_lib.make_train_epochs(model, optimizer, loss='cross_entropy', batch_size=4)
  )
  evaluate = jax.jit(train_lib.make_evaluate(model, loss='cross_entropy'))
  before = evaluate(state.params, images, labels, labels, jax.random.key(1))
  trained = train_epochs(state, images, labels, 30)
  again = train_epochs(state, images, labels, 30)
  after = evaluate(trained.params, images, labels, labels, jax.random.key(1))
  assert float(after['loss']) < float(before['loss'])
  np.testing.assert_array_equal(
    trained.params['output']['kernel'], again.params['output']['kernel']
  )


def test_deterministic_net_trains_without_noise_draws():
  """beta = 0: no noise is drawn, and training is a pure function of keys."""
  model = models.MLP(widths=(3,), num_outputs=2, beta=0.0)
  optimizer = train_lib.make_optimizer('sgd', 0.1)
  x = jnp.asarray(np.random.default_rng(0).normal(size=(20, 2)), jnp.float32)
  y = (x[:, 0] > 0).astype(jnp.int32)
  state = train_lib.init_state(jax.random.key(0), model, optimizer, x[:1])
  train_epochs = jax.jit(
    train_lib.make_train_epochs(model, optimizer, loss='cross_entropy', batch_size=8)
  )
  lowered = train_epochs.lower(state, x, y, 3).as_text()
  assert 'erf_inv' not in lowered and 'erfinv' not in lowered.lower()
  a, b = train_epochs(state, x, y, 3), train_epochs(state, x, y, 3)
  np.testing.assert_array_equal(a.params['output']['kernel'], b.params['output']['kernel'])


@pytest.mark.parametrize('n', [1, 2, 7, 4096, 60_000, 131_073])  # 2 rounds
def test_random_order_is_a_permutation(n):
  order = np.asarray(train_lib.random_order(jax.random.key(n), n))
  assert order.dtype == np.int32
  assert not jax.config.jax_enable_x64  # the 64-bit sort keys stay local
  np.testing.assert_array_equal(np.sort(order), np.arange(n))


def test_random_order_is_uniform():
  """All 24 orders of 4 items equally likely (chi-square), and for n = 4096
  (one sort round) every position's mean item is (n - 1) / 2."""
  from scipy import stats

  orders = np.asarray(
    jax.vmap(lambda k: train_lib.random_order(k, 4))(jax.random.split(jax.random.key(0), 24_000))
  )
  _, counts = np.unique(orders @ np.array([64, 16, 4, 1]), return_counts=True)
  assert len(counts) == 24
  assert stats.chisquare(counts).pvalue > 1e-3
  n, draws = 4096, 1000
  orders = np.asarray(
    jax.vmap(lambda k: train_lib.random_order(k, n))(jax.random.split(jax.random.key(1), draws))
  )
  z = (orders.mean(axis=0) - (n - 1) / 2) / (n / np.sqrt(12 * draws))
  assert np.abs(z).max() < 5.5  # 4096 positions, Gaussian tails
