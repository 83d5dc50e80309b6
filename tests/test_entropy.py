"""Tests of the Gaussian-mixture entropy estimator against float64 references."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import helpers
import infoflow
from infoflow.estimators import dense as mixture


def _key(i=0):
  return jax.random.key(i)


def _close(estimate, reference, floor=1e-3):
  error = abs(float(estimate.nats) - reference)
  return error <= max(4 * float(estimate.stderr), floor), error


# ----------------------------------------------------------------- closed forms


@pytest.mark.parametrize('dim,beta', [(1, 0.1), (3, 1.0), (10, 2e-3)])
def test_one_center_is_gaussian_entropy(dim, beta):
  centers = np.full((1, dim), 3.0, np.float32)
  est = infoflow.mixture_entropy(_key(), centers, beta, num_mc=2000)
  exact = 0.5 * dim * math.log(2 * math.pi * math.e * beta**2)
  assert abs(float(est.nats) - exact) <= 3 * float(est.stderr) + 1e-5
  assert float(infoflow.gaussian_entropy(dim, beta)) == pytest.approx(exact)


def test_far_apart_centers_add_log_n():
  rng = np.random.default_rng(0)
  n, dim, beta = 50, 3, 0.01
  centers = rng.normal(size=(n, dim)) * 10.0  # pairwise distances >> beta
  est = infoflow.mixture_entropy(_key(), centers.astype(np.float32), beta)
  expected = math.log(n) + float(infoflow.gaussian_entropy(dim, beta))
  assert abs(float(est.nats) - expected) <= max(4 * float(est.stderr), 1e-4)
  assert est.num_draws == infoflow.estimators.entropy.DEFAULT_NUM_MC
  assert float(est.bits) == pytest.approx(float(est.nats) / math.log(2))


# ------------------------------------------------------------------ quadrature


def _spread_mixture(rng, n, dim):
  return rng.uniform(-1.0, 1.0, size=(n, dim))


def _clustered_mixture(rng, num_groups, per_group, dim, beta, offset):
  """Groups of centres within ~beta of each other, spread over ~[-1, 1]^d,
  far from the origin: the float32 expansion cancels catastrophically here."""
  means = rng.uniform(-1.0, 1.0, size=(num_groups, 1, dim)) + offset
  jitter = rng.normal(size=(num_groups, per_group, dim)) * beta
  return (means + jitter).reshape(-1, dim)


QUADRATURE_CASES = [
    # (name, dim, beta, builder)
    ('1d_wide', 1, 1.0, lambda r: _spread_mixture(r, 7, 1)),
    ('1d_mid', 1, 0.2, lambda r: _spread_mixture(r, 7, 1)),
    ('1d_narrow', 1, 0.02, lambda r: _spread_mixture(r, 12, 1)),
    ('1d_tiny_clustered', 1, 2e-3,
     lambda r: _clustered_mixture(r, 4, 5, 1, 2e-3, offset=10.0)),
    ('2d_wide', 2, 0.8, lambda r: _spread_mixture(r, 9, 2)),
    ('2d_mid', 2, 0.25, lambda r: _spread_mixture(r, 9, 2)),
    ('2d_tiny_clustered', 2, 2e-3,
     lambda r: _clustered_mixture(r, 3, 4, 2, 2e-3, offset=10.0)),
]


@pytest.mark.parametrize('name,dim,beta,builder', QUADRATURE_CASES,
                         ids=[c[0] for c in QUADRATURE_CASES])
def test_against_quadrature(name, dim, beta, builder):
  del name
  rng = np.random.default_rng(dim)
  centers = builder(rng).astype(np.float32)
  reference = helpers.entropy_quadrature(centers, beta)
  est = infoflow.mixture_entropy(_key(1), centers, beta, num_mc=20_000)
  ok, error = _close(est, reference)
  assert ok, (f'error {error:.2e} nats vs stderr {float(est.stderr):.2e} '
              f'(estimate {float(est.nats):.5f}, quadrature {reference:.5f})')
  lower, upper = infoflow.mixture_entropy_bounds(centers, beta)
  assert float(lower) - 1e-4 <= reference <= float(upper) + 1e-4


def test_tiny_beta_exponents_match_float64():
  """log g of points near a far-from-origin cluster, against float64."""
  rng = np.random.default_rng(3)
  beta = 1e-3
  centers = _clustered_mixture(rng, 30, 20, 5, beta, offset=5.0)
  centers = centers.astype(np.float32)
  queries = centers[rng.integers(0, len(centers), 500)] + (
      beta * rng.normal(size=(500, 5))).astype(np.float32)
  got = np.asarray(infoflow.log_mixture_density(queries, centers, beta))
  want = helpers.log_density_f64(queries, centers, beta)
  np.testing.assert_allclose(got, want, atol=2e-3, rtol=0)


def test_expansion_error_bound_holds():
  """The bound used to pick the fast path really bounds its error."""
  rng = np.random.default_rng(4)
  for dim, scale, sigma in [(3, 1.0, 0.5), (10, 30.0, 0.1), (64, 1.0, 1e-2)]:
    q = (rng.normal(size=(64, dim)) * scale + 2.0).astype(np.float32)
    c = (rng.normal(size=(96, dim)) * scale + 2.0).astype(np.float32)
    inv_two_var = np.float32(0.5 / sigma**2)
    fast, bound = mixture.expansion_exponents(
        q, c, q.mean(0), inv_two_var, np.zeros(64, np.float32))
    q64, c64 = q.astype(np.float64), c.astype(np.float64)
    exact = -((q64[:, None] - c64[None]) ** 2).sum(-1) * float(inv_two_var)
    assert np.all(np.abs(np.asarray(fast) - exact) <= np.asarray(bound))


# ---------------------------------------------------------------------- bounds


def test_bounds_match_brute_force_and_contain_estimates():
  rng = np.random.default_rng(5)
  for n, dim, beta in [(40, 2, 0.3), (300, 5, 0.5), (200, 10, 0.05)]:
    centers = rng.normal(size=(n, dim)).astype(np.float32)
    lower, upper = infoflow.mixture_entropy_bounds(centers, beta,
                                                   center_chunk=64)
    ref_lower, ref_upper = helpers.bounds_f64(centers, beta)
    assert float(lower) == pytest.approx(ref_lower, abs=1e-4)
    assert float(upper) == pytest.approx(ref_upper, abs=1e-4)
    est = infoflow.mixture_entropy(_key(n), centers, beta)
    slack = 4 * float(est.stderr) + 1e-4  # MC error plus float32 rounding
    assert float(lower) - slack <= float(est.nats) <= float(upper) + slack


# ------------------------------------------------------------------ invariance


def test_invariances():
  rng = np.random.default_rng(6)
  centers = rng.normal(size=(500, 4)).astype(np.float32)
  beta = 0.3
  base = infoflow.mixture_entropy(_key(7), centers, beta)

  # Same draws (same key), centres shifted: identical up to rounding.
  shifted = infoflow.mixture_entropy(_key(7), centers + 3.0, beta)
  assert float(shifted.nats) == pytest.approx(float(base.nats), abs=1e-4)

  # h(a c, a beta) = h(c, beta) + d log a, draw by draw.
  a = 7.5
  scaled = infoflow.mixture_entropy(_key(7), centers * a, beta * a)
  assert float(scaled.nats) == pytest.approx(
      float(base.nats) + 4 * math.log(a), abs=1e-4)

  # A permutation changes which draws land where, not the distribution.
  permuted = infoflow.mixture_entropy(
      _key(8), centers[rng.permutation(500)], beta)
  both = math.hypot(float(base.stderr), float(permuted.stderr))
  assert abs(float(permuted.nats) - float(base.nats)) <= 4 * both


def test_chunk_sizes_do_not_change_the_result():
  rng = np.random.default_rng(9)
  centers = rng.normal(size=(777, 3)).astype(np.float32)
  a = infoflow.mixture_entropy(_key(), centers, 0.2, num_mc=999,
                               query_chunk=100, center_chunk=50)
  b = infoflow.mixture_entropy(_key(), centers, 0.2, num_mc=999)
  assert float(a.nats) == pytest.approx(float(b.nats), abs=1e-5)


# ----------------------------------------------------------------- calibration


def test_stderr_is_calibrated():
  rng = np.random.default_rng(10)
  centers = rng.normal(size=(200, 2)).astype(np.float32)
  keys = jax.random.split(_key(11), 40)
  estimates = [infoflow.mixture_entropy(k, centers, 0.2, num_mc=500)
               for k in keys]
  values = np.array([float(e.nats) for e in estimates])
  reported = np.mean([float(e.stderr) for e in estimates])
  ratio = values.std(ddof=1) / reported
  assert 1 / 1.5 <= ratio <= 1.5, ratio


# --------------------------------------------------------------------- batched


def test_batched_matches_one_by_one_and_quadrature():
  rng = np.random.default_rng(12)
  beta = 0.1
  centers = rng.uniform(-0.5, 0.5, size=(6, 9, 1)).astype(np.float32)
  centers[3] += 40.0  # one mixture far from the origin
  batch = infoflow.mixture_entropies(_key(13), centers, beta, num_mc=4000)
  assert batch.nats.shape == (6,)
  for a in range(6):
    reference = helpers.entropy_quadrature(centers[a], beta)
    one = infoflow.estimators.estimate.Estimate(batch.nats[a], batch.stderr[a],
                                     batch.num_draws[a])
    ok, error = _close(one, reference)
    assert ok, (a, error)
  mean = batch.mean()
  assert float(mean.nats) == pytest.approx(float(np.mean(batch.nats)))
  assert float(mean.stderr) == pytest.approx(
      float(np.sqrt(np.sum(np.asarray(batch.stderr) ** 2)) / 6))


def test_batched_tiny_beta_clusters():
  """Conditional mixtures of an SZT-like layer: tight replicas, far away."""
  rng = np.random.default_rng(14)
  beta = 0.005
  means = np.tanh(rng.normal(size=(20, 1, 2)) * 3) + 5.0
  centers = (means + rng.normal(size=(20, 8, 2)) * beta).astype(np.float32)
  batch = infoflow.mixture_entropies(_key(15), centers, beta, num_mc=3000)
  for a in [0, 7, 19]:
    reference = helpers.entropy_quadrature(centers[a], beta)
    one = infoflow.estimators.estimate.Estimate(batch.nats[a], batch.stderr[a],
                                     batch.num_draws[a])
    ok, error = _close(one, reference)
    assert ok, (a, error)


def test_float64_when_x64_enabled():
  with jax.enable_x64(True):
    centers = jnp.asarray(np.random.default_rng(0).normal(size=(50, 2)))
    est = infoflow.mixture_entropy(_key(), centers, 0.3)
    assert est.nats.dtype == jnp.float64
  est32 = infoflow.mixture_entropy(_key(), np.zeros((3, 2)), 0.3)
  assert est32.nats.dtype == jnp.float32


# ------------------------------------------------------------------ bad inputs


@pytest.mark.parametrize('centers,beta,kwargs,match', [
    (np.array([[0.0, np.nan]]), 1.0, {}, 'non-finite'),
    (np.array([[0.0, np.inf]]), 1.0, {}, 'non-finite'),
    (np.zeros((3, 2)), 0.0, {}, 'beta'),
    (np.zeros((3, 2)), -1.0, {}, 'beta'),
    (np.zeros((3, 2)), np.nan, {}, 'beta'),
    (np.zeros((3, 2)), np.inf, {}, 'beta'),
    (np.zeros(3), 1.0, {}, 'rank'),
    (np.zeros((2, 3, 4)), 1.0, {}, 'rank'),
    (np.zeros((0, 2)), 1.0, {}, 'non-empty'),
    (np.zeros((3, 2)), 1.0, {'num_mc': 0}, 'num_mc'),
])
def test_bad_inputs_raise(centers, beta, kwargs, match):
  with pytest.raises(ValueError, match=match):
    infoflow.mixture_entropy(_key(), centers, beta, **kwargs)


def test_bad_inputs_raise_batched_and_bounds():
  with pytest.raises(ValueError, match='rank'):
    infoflow.mixture_entropies(_key(), np.zeros((3, 2)), 1.0)
  with pytest.raises(ValueError, match='num_mc'):
    infoflow.mixture_entropies(_key(), np.zeros((3, 2, 1)), 1.0, num_mc=1)
  with pytest.raises(ValueError, match='non-finite'):
    infoflow.mixture_entropy_bounds(np.array([[np.nan]]), 1.0)
  with pytest.raises(ValueError, match='beta'):
    infoflow.mixture_entropy_bounds(np.zeros((2, 1)), 0.0)
  with pytest.raises(ValueError, match='dimension'):
    infoflow.log_mixture_density(np.zeros((2, 3)), np.zeros((2, 1)), 1.0)
