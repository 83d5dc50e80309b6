"""Tests of the Gaussian-mixture entropy estimator against float64 references."""

import math

import helpers
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import infoflow
from infoflow.estimators._src import dense as mixture


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
  ('1d_tiny_clustered', 1, 2e-3, lambda r: _clustered_mixture(r, 4, 5, 1, 2e-3, offset=10.0)),
  ('2d_wide', 2, 0.8, lambda r: _spread_mixture(r, 9, 2)),
  ('2d_mid', 2, 0.25, lambda r: _spread_mixture(r, 9, 2)),
  ('2d_tiny_clustered', 2, 2e-3, lambda r: _clustered_mixture(r, 3, 4, 2, 2e-3, offset=10.0)),
]


@pytest.mark.parametrize(
  'name,dim,beta,builder', QUADRATURE_CASES, ids=[c[0] for c in QUADRATURE_CASES]
)
def test_against_quadrature(name, dim, beta, builder):
  del name
  rng = np.random.default_rng(dim)
  centers = builder(rng).astype(np.float32)
  reference = helpers.entropy_quadrature(centers, beta)
  est = infoflow.mixture_entropy(_key(1), centers, beta, num_mc=20_000)
  ok, error = _close(est, reference)
  assert ok, (
    f'error {error:.2e} nats vs stderr {float(est.stderr):.2e} '
    f'(estimate {float(est.nats):.5f}, quadrature {reference:.5f})'
  )
  lower, upper = infoflow.mixture_entropy_bounds(centers, beta)
  assert float(lower) - 1e-4 <= reference <= float(upper) + 1e-4


def test_tiny_beta_exponents_match_float64():
  """log g of points near a far-from-origin cluster, against float64."""
  rng = np.random.default_rng(3)
  beta = 1e-3
  centers = _clustered_mixture(rng, 30, 20, 5, beta, offset=5.0)
  centers = centers.astype(np.float32)
  queries = centers[rng.integers(0, len(centers), 500)] + (beta * rng.normal(size=(500, 5))).astype(
    np.float32
  )
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
      q, c, q.mean(0), inv_two_var, np.zeros(64, np.float32)
    )
    q64, c64 = q.astype(np.float64), c.astype(np.float64)
    exact = -((q64[:, None] - c64[None]) ** 2).sum(-1) * float(inv_two_var)
    assert np.all(np.abs(np.asarray(fast) - exact) <= np.asarray(bound))


# ---------------------------------------------------------------------- bounds


def test_bounds_match_brute_force_and_contain_estimates():
  rng = np.random.default_rng(5)
  for n, dim, beta in [(40, 2, 0.3), (300, 5, 0.5), (200, 10, 0.05)]:
    centers = rng.normal(size=(n, dim)).astype(np.float32)
    lower, upper = infoflow.mixture_entropy_bounds(centers, beta, center_chunk=64)
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
  assert float(scaled.nats) == pytest.approx(float(base.nats) + 4 * math.log(a), abs=1e-4)

  # A permutation changes which draws land where, not the distribution.
  permuted = infoflow.mixture_entropy(_key(8), centers[rng.permutation(500)], beta)
  both = math.hypot(float(base.stderr), float(permuted.stderr))
  assert abs(float(permuted.nats) - float(base.nats)) <= 4 * both


def test_chunk_sizes_do_not_change_the_result():
  rng = np.random.default_rng(9)
  centers = rng.normal(size=(777, 3)).astype(np.float32)
  a = infoflow.mixture_entropy(_key(), centers, 0.2, num_mc=999, query_chunk=100, center_chunk=50)
  b = infoflow.mixture_entropy(_key(), centers, 0.2, num_mc=999)
  assert float(a.nats) == pytest.approx(float(b.nats), abs=1e-5)


# ----------------------------------------------------------------- calibration


def test_stderr_is_calibrated():
  rng = np.random.default_rng(10)
  centers = rng.normal(size=(200, 2)).astype(np.float32)
  keys = jax.random.split(_key(11), 40)
  estimates = [infoflow.mixture_entropy(k, centers, 0.2, num_mc=500) for k in keys]
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
    one = infoflow.Estimate(batch.nats[a], batch.stderr[a], batch.num_draws[a])
    ok, error = _close(one, reference)
    assert ok, (a, error)
  mean = batch.mean()
  assert float(mean.nats) == pytest.approx(float(np.mean(batch.nats)))
  assert float(mean.stderr) == pytest.approx(
    float(np.sqrt(np.sum(np.asarray(batch.stderr) ** 2)) / 6)
  )


def test_batched_tiny_beta_clusters():
  """Conditional mixtures of an SZT-like layer: tight replicas, far away."""
  rng = np.random.default_rng(14)
  beta = 0.005
  means = np.tanh(rng.normal(size=(20, 1, 2)) * 3) + 5.0
  centers = (means + rng.normal(size=(20, 8, 2)) * beta).astype(np.float32)
  batch = infoflow.mixture_entropies(_key(15), centers, beta, num_mc=3000)
  for a in [0, 7, 19]:
    reference = helpers.entropy_quadrature(centers[a], beta)
    one = infoflow.Estimate(batch.nats[a], batch.stderr[a], batch.num_draws[a])
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


@pytest.mark.parametrize(
  'centers,beta,kwargs,match',
  [
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
  ],
)
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


# ------------------------------------------- reported bad inputs (docs/errors.md)


@pytest.mark.parametrize('scale,beta', [(1.0, 1e-8), (1.0, 1e-9), (1e9, 0.1), (1.0, 1e-20)])
def test_beta_below_float_resolution_raises(scale, beta):
  # Item 1: y = c + beta z rounds beta z away; used to be biased by -0.8 nats.
  with pytest.raises(
    ValueError,
    match=r'smallest beta this dtype resolves '
    r'is .*jax_enable_x64',
  ):
    infoflow.mixture_entropy(_key(), helpers.normal_centres() * scale, beta, num_mc=64)
  with pytest.raises(ValueError, match='smallest beta'):
    infoflow.pooled_mixture_entropy(
      _key(), helpers.normal_centres().reshape(16, 4, 3) * scale, beta, num_mc=64
    )
  with pytest.raises(ValueError, match='smallest beta'):
    infoflow.mixture_entropies(
      _key(), helpers.normal_centres().reshape(16, 4, 3) * scale, beta, num_mc=4
    )


def test_beta_just_above_resolution_is_accurate():
  # Item 1: at twice the documented limit the bias is below `tolerance`.
  centers = helpers.normal_centres()
  norm = float(np.max(np.linalg.norm(centers, axis=1)))
  beta = 2 * 2.0**-24 * norm / math.sqrt(2e-3)
  est = infoflow.mixture_entropy(_key(), centers, beta, num_mc=1024)
  exact = float(infoflow.gaussian_entropy(3, beta)) + math.log(64)
  assert abs(float(est.nats) - exact) <= 4 * float(est.stderr) + 1e-3


def test_pairwise_bounds_and_density_need_no_resolution():
  # Exact distances: no draw is rounded, so beta far below the draw limit
  # is still right.
  centers = helpers.normal_centres()
  lower, upper = infoflow.mixture_entropy_bounds(centers, 1e-9)
  exact = float(infoflow.gaussian_entropy(3, 1e-9)) + math.log(64)
  assert float(lower) == pytest.approx(exact, abs=1e-4)
  assert float(upper) == pytest.approx(exact, abs=1e-4)


@pytest.mark.parametrize('factor', [2.0**70, 2.0**-80])
def test_extreme_magnitudes_are_rescaled_exactly(factor):
  # Item 2: centres ~1e20 (or beta <= 1e-19) used to give NaN.
  centers, beta, dim = helpers.normal_centres(16), 0.3, 3
  shift = dim * math.log(factor)
  ref = infoflow.mixture_entropy(_key(), centers, beta, num_mc=256)
  est = infoflow.mixture_entropy(_key(), centers * factor, beta * factor, num_mc=256)
  assert float(est.nats) == pytest.approx(float(ref.nats) + shift, abs=1e-3)
  batched = infoflow.mixture_entropies(
    _key(), centers.reshape(4, 4, 3) * factor, beta * factor, num_mc=8
  )
  ref_b = infoflow.mixture_entropies(_key(), centers.reshape(4, 4, 3), beta, num_mc=8)
  np.testing.assert_allclose(batched.nats, ref_b.nats + shift, atol=1e-3)
  bounds = infoflow.mixture_entropy_bounds(centers * factor, beta * factor)
  ref_bounds = infoflow.mixture_entropy_bounds(centers, beta)
  np.testing.assert_allclose(bounds, np.add(ref_bounds, shift), atol=1e-3)
  density = infoflow.log_mixture_density(centers * factor, centers * factor, beta * factor)
  ref_density = infoflow.log_mixture_density(centers, centers, beta)
  np.testing.assert_allclose(density, ref_density - shift, atol=1e-3)
  assert np.all(np.isfinite(density))


def test_magnitude_beyond_the_dtype_raises():
  with pytest.raises(ValueError, match='too large for beta'):
    infoflow.mixture_entropy_bounds(helpers.normal_centres() * 1e30, 1e-9)
  with pytest.raises(ValueError, match='outside the range'):
    infoflow.mixture_entropy_bounds(np.zeros((2, 2), np.float32), 1e-45)


def test_one_draw_has_no_standard_error():
  # Item 3: num_mc=1 reported +- 0; max_mc=1 missed its target silently.
  centers = helpers.normal_centres(8)
  with pytest.raises(ValueError, match='num_mc must be an integer >= 2'):
    infoflow.mixture_entropy(_key(), centers, 0.3, num_mc=1)
  with pytest.raises(ValueError, match='max_mc must be an integer >= 2'):
    infoflow.mixture_entropy(_key(), centers, 0.3, target_stderr=1e-6, max_mc=1)
  with pytest.warns(RuntimeWarning, match='target 1e-06'):
    est = infoflow.mixture_entropy(_key(), centers, 0.3, target_stderr=1e-6, max_mc=2)
  assert int(est.num_draws) == 2 and float(est.stderr) > 0


@pytest.mark.parametrize('name', ['rounding_tolerance', 'prune_tolerance'])
@pytest.mark.parametrize('value', [float('nan'), float('inf'), 0.0, -1.0])
def test_bad_tolerances_raise(name, value):
  # A tolerance of nan gave -15.47 +- 0.55 (exact -19.2).
  with pytest.raises(ValueError, match=f'{name} must be a finite number'):
    infoflow.mixture_entropy(_key(), helpers.normal_centres(8), 0.3, **{name: value})


def test_complex_and_half_precision_centres():
  # Item 5: complex is an error; float16 / bfloat16 run in float32, warned.
  with pytest.raises(TypeError, match='centers must be real; got complex'):
    infoflow.mixture_entropy(_key(), helpers.normal_centres(8) + 1j, 0.3)
  for dtype in (np.float16, jnp.bfloat16):
    with pytest.warns(UserWarning, match='computing in float32'):
      est = infoflow.mixture_entropy(
        _key(), jnp.asarray(helpers.normal_centres(8), dtype), 0.3, num_mc=64
      )
    assert est.nats.dtype == jnp.float32


@pytest.mark.parametrize(
  'args,kwargs,error,match',
  [
    ((0.3,), {'target_stderr': 'small'}, TypeError, 'target_stderr'),
    (('0.3',), {}, TypeError, 'beta must be a real number; got str'),
    ((0.3,), {'query_chunk': 0}, ValueError, 'query_chunk must be an integer'),
    ((0.3,), {'center_chunk': 2.5}, TypeError, 'center_chunk'),
    ((0.3,), {'num_mc': 100.0}, TypeError, 'num_mc'),
    ((0.3,), {'prune_tolerance': -1e-6}, ValueError, 'prune_tolerance'),
  ],
)
def test_wrong_argument_types_name_the_argument(args, kwargs, error, match):
  # Item 10: these raised from deep inside NumPy / JAX.
  with pytest.raises(error, match=match):
    infoflow.mixture_entropy(_key(), helpers.normal_centres(8), *args, **kwargs)


def test_key_and_centre_types_name_the_argument():
  with pytest.raises(TypeError, match='key must be one JAX PRNG key'):
    infoflow.mixture_entropy(0, helpers.normal_centres(8), 0.3)
  with pytest.raises(TypeError, match='key must be one JAX PRNG key'):
    infoflow.mixture_entropies(0, np.zeros((2, 2, 1)), 0.3)
  with pytest.raises(TypeError, match='centers must be a real numeric'):
    infoflow.mixture_entropy(_key(), [['a', 'b']], 0.3)
  with pytest.raises(TypeError, match='mixture_chunk'):
    infoflow.mixture_entropies(_key(), np.zeros((2, 2, 1)), 0.3, mixture_chunk='8')
  with pytest.raises(TypeError, match='queries must be a real numeric'):
    infoflow.log_mixture_density([['x']], np.zeros((2, 1)), 0.3)


def test_estimators_still_run_inside_jit():
  centers = jnp.asarray(helpers.normal_centres(8))
  est = jax.jit(lambda k, c, b: infoflow.mixture_entropy(k, c, b, num_mc=64))(_key(), centers, 0.3)
  ref = infoflow.mixture_entropy(_key(), centers, 0.3, num_mc=64)
  assert float(est.nats) == pytest.approx(float(ref.nats), abs=1e-5)


def test_pooled_entropy_is_the_posterior_h_t_on_the_same_draws():
  """One pass, one kernel: pooled_mixture_entropy is the posterior pass
  without labels, so it equals the posterior form's h(T) draw for draw."""
  samples = helpers.normal_centres(96, 2, seed=3).reshape(24, 4, 2)
  key = jax.random.key(5)
  pooled = infoflow.pooled_mixture_entropy(key, samples, 0.2, num_mc=1024)
  info = infoflow.posterior_information(key, samples, 0.2, num_mc=1024, deterministic_given_x=False)
  assert float(pooled.nats) == float(info.entropy.nats)
  assert float(pooled.stderr) == float(info.entropy.stderr)
  assert int(pooled.num_draws) == 1024
  lower, upper = infoflow.mixture_entropy_bounds(samples.reshape(-1, 2), 0.2)
  assert float(lower) - 4 * float(pooled.stderr) <= float(pooled.nats)
  assert float(pooled.nats) <= float(upper) + 4 * float(pooled.stderr)


# ------------------------------------------------------------ issue 22


@pytest.mark.parametrize(
  'dim,beta,error,match',
  [
    (2, -0.1, ValueError, 'beta must be a finite number > 0; got -0.1'),
    (2, 0, ValueError, 'beta must be a finite number > 0; got 0.0'),
    (2, float('nan'), ValueError, 'beta must be a finite number > 0'),
    (-3, 0.1, ValueError, 'dim must be an integer >= 1; got -3'),
    (0, 0.1, ValueError, 'dim must be an integer >= 1; got 0'),
    (2, '0.1', TypeError, "beta must be a real number; got str '0.1'"),
    (2.5, 0.1, TypeError, 'dim must be an integer >= 1; got float'),
  ],
)
def test_gaussian_entropy_checks_its_arguments(dim, beta, error, match):
  # Issue 22 row 11: NaN, -inf, 2.65 or a raw TypeError.
  with pytest.raises(error, match=match):
    infoflow.gaussian_entropy(dim, beta)
