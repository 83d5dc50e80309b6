"""The fast standard normal draws of the training noise."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from infoflow import normal


def test_hash_is_jax_threefry():
  """Hashing (0, i) and xor-ing the two words is how jax.random.bits makes
  word i of a threefry key (its default, partitionable mode)."""
  if not jax.config.jax_threefry_partitionable:
    pytest.skip('jax is in its non-partitionable threefry mode')
  key = jax.random.key(1234)
  n = 1000
  first, second = normal.threefry2x32(
    jax.random.key_data(key), jnp.zeros(n, jnp.uint32), jnp.arange(n, dtype=jnp.uint32)
  )
  np.testing.assert_array_equal(first ^ second, jax.random.bits(key, (n,), jnp.uint32))


def test_draws_are_standard_normal():
  z = np.asarray(normal.standard_normal(jax.random.key(0), (400, 500)))
  assert z.shape == (400, 500) and z.dtype == np.float32
  flat = z.ravel().astype(np.float64)
  assert stats.kstest(flat, 'norm').pvalue > 1e-3
  se = 1 / np.sqrt(flat.size)
  assert abs(flat.mean()) < 5 * se
  assert abs(flat.var() - 1) < 5 * np.sqrt(2) * se
  assert abs(stats.skew(flat)) < 5 * np.sqrt(6) * se
  # The two halves of the counter space are not correlated.
  half = flat.size // 2
  assert abs(np.corrcoef(flat[:half], flat[half : 2 * half])[0, 1]) < 5 * np.sqrt(2) * se
  assert np.isfinite(flat).all() and -5.43 < flat.min() and flat.max() < 5.23


def test_keys_give_independent_streams_and_odd_sizes():
  keys = jax.random.split(jax.random.key(3), 4)
  z = np.asarray(jax.vmap(lambda k: normal.standard_normal(k, (7, 3)))(keys))
  assert z.shape == (4, 7, 3)
  assert len({row.tobytes() for row in z}) == 4
  np.testing.assert_array_equal(
    z[1], normal.standard_normal(keys[1], (7, 3))
  )  # vmap = one at a time
  corr = np.corrcoef(np.asarray(jax.vmap(lambda k: normal.standard_normal(k, (20_000,)))(keys)))
  assert np.abs(corr - np.eye(4)).max() < 0.035  # 5 standard errors


def test_other_dtypes_and_keys_fall_back_to_jax():
  rbg = jax.random.key(0, impl='rbg')
  np.testing.assert_array_equal(normal.standard_normal(rbg, (5,)), jax.random.normal(rbg, (5,)))
  key = jax.random.key(0)
  half = normal.standard_normal(key, (5,), jnp.bfloat16)
  assert half.dtype == jnp.bfloat16
  np.testing.assert_array_equal(half, jax.random.normal(key, (5,), jnp.bfloat16))
