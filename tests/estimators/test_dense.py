"""The dense posterior sums with far chunks skipped (_src/dense.py)."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from infoflow.estimators._src import dense


def _problem(seed=0, m=64, r=8, dim=2, beta=0.05):
  """Inputs on a line (chunks far apart), draws near the first inputs."""
  rng = np.random.default_rng(seed)
  means = np.stack([np.linspace(0, 4, m)] + [np.zeros(m)] * (dim - 1), 1)
  centers = (means[:, None, :] + beta * rng.normal(size=(m, r, dim))).astype(np.float32)
  owner = rng.integers(0, 8 * r, size=32)  # the first 8 inputs' replicas
  z = rng.normal(size=(32, dim)).astype(np.float32)
  q = centers.reshape(-1, dim)[owner] + beta * z
  shift = 0.5 * (z * z).sum(1)
  onehot = np.eye(2, dtype=np.float32)[np.arange(m) % 2]
  return q, shift, jnp.asarray(centers), jnp.ones((m, r), bool), jnp.asarray(onehot), beta


@pytest.mark.parametrize('skip', [1e-6, 1e-3])
def test_skipped_chunks_stay_within_the_certified_error(skip):
  q, shift, centers, valid, onehot, beta = _problem()
  chunk = 4
  bounds = dense.chunk_bounds(centers, valid, chunk)
  floor = jnp.full((q.shape[0],), -1.0)
  inv_two_var = 0.5 / beta**2

  def sums(tolerance):
    return dense.dense_block(
      q, shift, floor, centers, valid, onehot, inv_two_var, 1e-3, chunk, bounds, tolerance
    )

  full, pruned = sums(0.0), sums(skip)
  far, _ = dense.far_chunks(q, shift, floor, bounds, inv_two_var, skip)
  assert 0 < int(far.sum()) < far.shape[0]  # some chunks skipped, not all
  err = np.asarray(pruned[3])
  assert np.all(err <= skip) and np.all(np.asarray(full[3]) == 0)
  # The full log-sum lies in [log E, log E + err].
  gap = np.asarray(full[0]) - np.asarray(pruned[0])
  assert np.all(gap >= -1e-6) and np.all(gap <= err + 1e-6)
  # The posterior entropies shift by at most h2(eps) + eps log m (eps = 1 - e^-err).
  eps = -np.expm1(-err.astype(np.float64))
  h2 = dense.binary_entropy(eps)
  allowed = h2 + eps * math.log(centers.shape[0]) + 1e-5
  assert np.all(np.abs(np.asarray(full[1]) - np.asarray(pruned[1])) <= allowed)


def test_chunk_bounds_cover_every_member():
  _, _, centers, valid, _, _ = _problem(seed=1)
  centroids, radii, log_counts = dense.chunk_bounds(centers, valid, 4)
  members = np.asarray(centers).reshape(16, -1, 2)
  dist = np.linalg.norm(members - np.asarray(centroids)[:, None], axis=-1)
  assert np.all(dist.max(1) <= np.asarray(radii))
  np.testing.assert_allclose(np.exp(np.asarray(log_counts)), 32)
