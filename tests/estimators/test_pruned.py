"""Pruned evaluation (infoflow.estimators._src.pruned), against float64 brute
force; the Monte Carlo loop is in test_montecarlo.py."""

import math

import helpers
import jax
import numpy as np
import pytest

import infoflow
from infoflow.estimators._src import groups as groups_lib
from infoflow.estimators._src import pruned


def _key(i=0):
  return jax.random.key(i)


def _log_mean_f64(queries, centers, beta):
  """log((1/n) sum exp(-|y - c|^2 / (2 beta^2))) in float64."""
  dim = queries.shape[1]
  return helpers.log_density_f64(queries, centers.reshape(-1, dim), beta) + 0.5 * dim * math.log(
    2 * math.pi * beta**2
  )


# A module-wide SZT-like layer (compiled once, shared by several tests):
# 1024 inputs x 16 replicas in 3-D, tanh-saturated means far from the
# origin, beta = 2e-3 (16,384 centres, enough for method='auto' to prune).
BETA = 2e-3


@pytest.fixture(scope='module')
def szt():
  rng = np.random.default_rng(0)
  means = np.tanh(3 * rng.normal(size=(1024, 1, 3))) + 10.0
  centers = (means + BETA * rng.normal(size=(1024, 16, 3))).astype(np.float32)
  queries = np.concatenate(
    [
      helpers.mixture_draws(centers, BETA, rng, 448),
      # Points between clusters and a little outside them.
      (rng.uniform(-1.05, 1.05, (64, 3)) + 10.0).astype(np.float32),
    ]
  )
  return centers, groups_lib.build_groups(centers, BETA), queries


# ------------------------------------------------------------- log-densities


def test_matches_float64_far_from_origin(szt):
  """Tight clusters far from the origin: where the expansion cancels."""
  centers, groups, queries = szt
  got, err, info = pruned.log_mean_kernel_pruned(queries, None, None, None, groups, BETA)
  want = _log_mean_f64(queries, centers, BETA)
  got, err = np.asarray(got, np.float64), np.asarray(err, np.float64)
  assert info.max_error <= groups_lib.DEFAULT_PRUNE_TOLERANCE
  assert np.all(err <= groups_lib.DEFAULT_PRUNE_TOLERANCE)
  # Every value within its certified error (plus float32 rounding, relative
  # to the exponent's size for the points between clusters) of exact.
  np.testing.assert_array_less(np.abs(got - want), err + 5e-6 + 1e-6 * np.abs(want))


def test_certified_bound_bounds_the_truncation():
  """With a loose tolerance the truncation is visible and stays in bound."""
  rng = np.random.default_rng(1)
  beta = 0.01
  # Groups a few beta apart: neighbours contribute, but little.
  centers = helpers.grouped_centres(rng, 200, 10, 2, beta, spread=0.25)
  queries = helpers.mixture_draws(centers, beta, rng, 1000)
  got, err, info = infoflow.pruned_log_mixture_density(
    queries, centers, beta, prune_tolerance=1e-2, num_candidates=1
  )
  want = helpers.log_density_f64(queries, centers.reshape(-1, 2), beta)
  gap = want - np.asarray(got, np.float64)
  err = np.asarray(err, np.float64)
  # The exact part is a lower bound; the bound covers the rest.
  assert np.all(gap >= -5e-6)
  assert np.all(gap <= err + 5e-6)
  assert gap.max() > 1e-5, 'test case too easy: nothing truncated'
  assert info.max_error <= 1e-2


def test_k_is_raised_when_too_small():
  """A dense blob of groups needs many candidates; K doubles to reach them."""
  rng = np.random.default_rng(2)
  beta = 0.01
  blob = helpers.grouped_centres(rng, 40, 8, 2, beta, spread=0.02)
  far = helpers.grouped_centres(rng, 200, 8, 2, beta, offset=5.0, spread=3.0)
  centers = np.concatenate([blob, far])
  queries = helpers.mixture_draws(blob, beta, rng, 200)
  got, err, info = infoflow.pruned_log_mixture_density(queries, centers, beta, num_candidates=1)
  assert info.num_candidates >= 16 and info.num_refined > 0
  assert info.max_error <= groups_lib.DEFAULT_PRUNE_TOLERANCE
  want = helpers.log_density_f64(queries, centers.reshape(-1, 2), beta)
  np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


def test_dense_fallback_for_far_queries():
  """Far from every centre no group bound is small relative to the sum."""
  rng = np.random.default_rng(3)
  beta = 0.01
  centers = helpers.grouped_centres(rng, 100, 10, 3, beta)
  queries = rng.uniform(-3, 3, (40, 3)).astype(np.float32)
  groups = groups_lib.build_groups(centers, beta)
  got, err, info = pruned.log_mean_kernel_pruned(queries, None, None, None, groups, beta)
  assert info.num_dense > 0
  want = _log_mean_f64(queries, centers, beta)
  np.testing.assert_allclose(got, want, rtol=1e-5)


def test_kd_groups_of_ungrouped_centres():
  rng = np.random.default_rng(4)
  beta = 2e-3
  centers = helpers.grouped_centres(rng, 150, 20, 3, beta, offset=7.0).reshape(-1, 3)
  centers = centers[rng.permutation(len(centers))]
  groups = groups_lib.build_groups(centers, beta, group_size=32)
  valid = np.asarray(groups.valid)
  assert valid.sum() == len(centers) and valid.shape[1] <= 32
  # Every centre sits in its group, within the radius.
  flat = np.asarray(groups.flat)
  home = np.asarray(groups.group_of)
  dist = np.linalg.norm(flat - np.asarray(groups.centroids)[home], axis=1)
  assert np.all(dist <= np.asarray(groups.radii)[home])
  queries = helpers.mixture_draws(centers[:, None], beta, rng, 300)
  got, _, _ = infoflow.pruned_log_mixture_density(queries, groups, beta)
  want = helpers.log_density_f64(queries, centers, beta)
  np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


def test_kd_partition_keeps_clusters_whole():
  rng = np.random.default_rng(5)
  points = helpers.grouped_centres(rng, 64, 16, 2, 1e-3).reshape(-1, 2)
  order, sizes = groups_lib.kd_partition(points, 16)
  assert sorted(order) == list(range(len(points)))
  cells = np.split(order // 16, np.cumsum(sizes)[:-1])
  whole = sum(len(set(c)) == 1 for c in cells)
  assert whole >= 0.9 * len(cells)


# ------------------------------------------------------------------ entropy


def test_pruned_entropy_equals_dense_on_same_draws(szt):
  centers, _, _ = szt
  flat_centers = centers.reshape(-1, 3)
  dense = infoflow.mixture_entropy(_key(1), flat_centers, BETA, num_mc=512, method='dense')
  flat, report = infoflow.mixture_entropy(
    _key(1), flat_centers, BETA, num_mc=512, method='pruned', return_report=True
  )
  # method='auto' picks pruning here (many centres, small beta); the pooled
  # form draws stratified over the groups: its dense reference is its own.
  pooled, pooled_report = infoflow.pooled_mixture_entropy(
    _key(1), centers, BETA, num_mc=512, return_report=True
  )
  pooled_dense = infoflow.pooled_mixture_entropy(_key(1), centers, BETA, num_mc=512, method='dense')
  for est, rep, ref in [(flat, report, dense), (pooled, pooled_report, pooled_dense)]:
    assert rep.method == 'pruned' and rep.num_draws == 512
    assert 0 <= rep.truncation_bound <= 1e-6
    assert abs(float(est.nats) - float(ref.nats)) <= 2e-5
    assert float(est.stderr) == pytest.approx(float(ref.stderr), rel=1e-3)


def test_auto_rule(szt):
  centers, _, _ = szt
  _, rep = infoflow.mixture_entropy(_key(), centers[:100, 0], BETA, num_mc=64, return_report=True)
  assert rep.method == 'dense'  # too few centres
  _, rep = infoflow.pooled_mixture_entropy(_key(), centers, 0.5, num_mc=64, return_report=True)
  assert rep.method == 'dense'  # beta comparable with the spread


@pytest.mark.parametrize(
  'kwargs,match',
  [
    ({'num_mc': 100, 'target_stderr': 0.1}, 'not both'),
    ({'target_stderr': 0.0}, 'target_stderr'),
    ({'target_stderr': float('nan')}, 'target_stderr'),
    ({'target_stderr': 0.1, 'max_mc': 0}, 'max_mc'),
    ({'method': 'tree'}, 'method'),
  ],
)
def test_bad_arguments(kwargs, match):
  with pytest.raises(ValueError, match=match):
    infoflow.mixture_entropy(_key(), np.zeros((3, 2)), 1.0, **kwargs)


def test_bad_arguments_pooled_and_density():
  with pytest.raises(ValueError, match='rank'):
    infoflow.pooled_mixture_entropy(_key(), np.zeros((3, 2)), 1.0)
  with pytest.raises(ValueError, match='beta'):
    infoflow.pruned_log_mixture_density(np.zeros((2, 2)), np.zeros((3, 2)), 0.0)
  with pytest.raises(ValueError, match='shape'):
    infoflow.pruned_log_mixture_density(np.zeros((2, 3)), np.zeros((3, 2)), 1.0)
  with pytest.raises(ValueError, match='finite'):
    infoflow.pruned_log_mixture_density(np.zeros((2, 2)), np.full((3, 2), np.nan), 1.0)


# ------------------------------------------- reported bad inputs (docs/errors.md)


@pytest.mark.parametrize(
  'kwargs,error,match',
  [
    ({'prune_tolerance': float('nan')}, ValueError, 'prune_tolerance must be a finite'),
    ({'prune_tolerance': -1e-6}, ValueError, 'prune_tolerance must be a finite'),
    ({'num_candidates': 0}, ValueError, 'num_candidates'),
  ],
)
def test_density_bad_options(kwargs, error, match):
  with pytest.raises(error, match=match):
    infoflow.pruned_log_mixture_density(np.zeros((2, 2)), np.ones((3, 2)), 1.0, **kwargs)


def test_density_bad_types():
  with pytest.raises(TypeError, match='beta must be a real number'):
    infoflow.pruned_log_mixture_density(np.zeros((2, 2)), np.ones((3, 2)), 'x')
  with pytest.raises(TypeError, match='centers must be real'):
    infoflow.pruned_log_mixture_density(np.zeros((2, 2)), np.ones((3, 2)) + 1j, 1.0)
  with pytest.raises(ValueError, match='tolerance'):
    groups_lib.build_groups(np.ones((3, 2), np.float32), 0.1, prune_tolerance=-1.0)


@pytest.mark.parametrize('factor', [2.0**70, 2.0**-70])
def test_density_extreme_magnitudes(factor):
  # Item 2: centres ~1e20 (or beta ~1e-20) are rescaled exactly, not NaN.
  rng = np.random.default_rng(3)
  centers = rng.normal(size=(40, 2)).astype(np.float32)
  queries = centers[:5] + 0.1
  ref, _, _ = infoflow.pruned_log_mixture_density(queries, centers, 0.2)
  out, _, _ = infoflow.pruned_log_mixture_density(queries * factor, centers * factor, 0.2 * factor)
  np.testing.assert_allclose(out, ref - 2 * math.log(factor), atol=1e-4)


def test_long_neighbour_lists_are_trimmed_with_a_valid_far_gap():
  # 3000 isolated groups and one tight clump of 24: the clump's lists exceed
  # Kn (set by the 99th percentile), so they keep the nearest Kn groups and
  # far_gap must still bound every group left out.
  rng = np.random.default_rng(0)
  spread = rng.uniform(-1, 1, size=(3000, 2))
  clump = 0.001 * rng.normal(size=(24, 2))
  means = np.concatenate([spread, clump]).astype(np.float32)
  centers = means[:, None, :] + 1e-4 * rng.normal(size=(len(means), 4, 2)).astype(np.float32)
  groups = groups_lib.build_groups(centers, 0.001)
  lengths = np.asarray(groups.listed).sum(1)
  kn = groups.num_neighbors
  trimmed = np.flatnonzero(lengths == kn)
  assert len(trimmed) > 0 and kn < 24
  cent = np.asarray(groups.centroids, np.float64)
  rad = np.asarray(groups.radii, np.float64)
  for g in trimmed:
    listed = set(np.asarray(groups.neighbors)[g].tolist())
    others = np.array([h for h in range(len(cent)) if h not in listed])
    gaps = np.linalg.norm(cent[others] - cent[g], axis=1) - rad[others]
    assert gaps.min() >= float(groups.far_gap[g])
