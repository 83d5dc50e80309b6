"""Monte Carlo draws (infoflow/estimators/_src/draws.py): stratified draws of the
posterior pass, the Gaussian entropy and the identical-replicas test."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infoflow.estimators._src import draws


def test_input_order_is_a_permutation_that_keeps_neighbours_together():
  rng = np.random.default_rng(0)
  # Two far clusters of 50 inputs each, interleaved in the input order.
  centres = np.where(np.arange(100)[:, None] % 2 == 0, 0.0, 1.0) + 0.01 * rng.normal(size=(100, 5))
  samples = centres[:, None, :] + 0.001 * rng.normal(size=(100, 3, 5))
  order = np.asarray(draws.input_order(samples))
  assert sorted(order.tolist()) == list(range(100))
  # The ordered clusters are contiguous: the parity changes once.
  assert int(np.sum(np.diff(order % 2) != 0)) == 1


@pytest.mark.parametrize('m, size', [(7, 16), (64, 16), (1000, 2048)])
def test_stratified_draws_are_uniform_over_centres(m, size):
  replicas = 3
  order = jnp.asarray(np.random.default_rng(1).permutation(m), jnp.int32)
  counts = np.zeros(m * replicas)
  rounds = 400 if m < 100 else 40
  for i in range(rounds):
    owner, z = draws.stratified_draws(
      jax.random.key(i), order, replicas=replicas, dim=2, size=size, dtype=jnp.float32
    )
    counts += np.bincount(np.asarray(owner), minlength=m * replicas)
    assert z.shape == (size, 2)
  expected = rounds * size / (m * replicas)
  # Multinomial counts: within 5 sd of the uniform expectation everywhere.
  assert np.all(np.abs(counts - expected) < 5 * np.sqrt(expected) + 1)


def test_each_stratum_holds_a_pair_of_neighbours_in_the_order():
  m, size = 64, 32  # 16 strata of 4 inputs each
  order = jnp.arange(m, dtype=jnp.int32)[::-1]
  owner, _ = draws.stratified_draws(
    jax.random.key(0), order, replicas=1, dim=1, size=size, dtype=jnp.float32
  )
  position = m - 1 - np.asarray(owner)  # position in `order`
  half = size // 2
  np.testing.assert_array_equal(position[0::2] // 4, np.arange(half))
  np.testing.assert_array_equal(position[1::2] // 4, np.arange(half))


def test_paired_variance_matches_the_stratified_formula():
  values = jnp.asarray([[1.0, 3.0, 2.0, 2.0, 5.0, 9.0]])  # strata (1,3), (2,2), (5,9)
  mean, variance = draws.paired_variance(values)
  assert float(mean[0]) == pytest.approx(22 / 6)
  assert float(variance[0]) == pytest.approx((4 + 0 + 16) / (4 * 9))


@pytest.mark.parametrize('beta', [0.3, 1e-3, 2.0**-120, 2.0**120])
def test_gaussian_entropy_is_the_closed_form_at_any_scale(beta):
  exact = 0.5 * 3 * (math.log(2 * math.pi * math.e) + 2 * math.log(beta))
  assert draws.gaussian_entropy(3, beta) == pytest.approx(exact, rel=1e-12)
  traced = jax.jit(lambda b: draws.gaussian_entropy(3, b))(jnp.float32(0.3))
  assert float(traced) == pytest.approx(draws.gaussian_entropy(3, 0.3), rel=1e-6)


def test_replicas_identical():
  samples = np.random.default_rng(0).normal(size=(4, 1, 2))
  assert draws.replicas_identical(np.repeat(samples, 3, 1))
  noisy = np.repeat(samples, 3, 1)
  noisy[2, 1, 0] += 1e-7
  assert not draws.replicas_identical(noisy)
