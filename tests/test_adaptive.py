"""Adaptive Monte Carlo (infoflow.estimators.adaptive): draws until a target
standard error, through the entropy estimators."""

import warnings

import helpers
import jax
import numpy as np
import pytest

import infoflow
from infoflow.estimators import entropy


def _key(i=0):
  return jax.random.key(i)


# The adaptive tests share one small mixture, helpers.normal_centres(100,
# 2, seed=8) (one set of compilations).


def test_adaptive_reaches_target_and_pilot_equals_fixed():
  centers = helpers.normal_centres(100, 2, seed=8)
  est = infoflow.mixture_entropy(_key(2), centers, 0.3, target_stderr=0.01)
  assert float(est.stderr) <= 0.01
  assert int(est.num_draws) > entropy.DEFAULT_PILOT  # more than the pilot
  # A loose target stops at the pilot: the same draws as a fixed run.
  loose = infoflow.mixture_entropy(_key(2), centers, 0.3, target_stderr=10.0)
  fixed = infoflow.mixture_entropy(_key(2), centers, 0.3, num_mc=entropy.DEFAULT_PILOT)
  assert float(loose.nats) == pytest.approx(float(fixed.nats), abs=1e-6)
  assert int(loose.num_draws) == entropy.DEFAULT_PILOT


def test_adaptive_stderr_is_honest():
  """Across repeats, the spread of adaptive estimates matches the stderr."""
  centers = helpers.normal_centres(100, 2, seed=8)
  truth = helpers.entropy_quadrature(centers, 0.3, nodes=6)
  runs = [
    infoflow.mixture_entropy(k, centers, 0.3, target_stderr=0.02)
    for k in jax.random.split(_key(3), 20)
  ]
  z = [(float(e.nats) - truth) / float(e.stderr) for e in runs]
  assert all(float(e.stderr) <= 0.02 for e in runs)
  assert 0.5 <= np.std(z) <= 1.6 and abs(np.mean(z)) <= 1.0, z


def test_adaptive_batched_targets_the_mean():
  centers = helpers.normal_centres(100, 2, seed=8).reshape(20, 5, 2)
  est = infoflow.mixture_entropies(_key(4), centers, 0.3, target_stderr=0.01)
  assert est.nats.shape == (20,)
  assert float(est.mean().stderr) <= 0.01
  assert int(est.num_draws[0]) > entropy.DEFAULT_PILOT_PER_MIXTURE


def test_adaptive_cap_warns():
  with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter('always')
    est = infoflow.mixture_entropy(
      _key(), helpers.normal_centres(100, 2, seed=8), 0.3, target_stderr=1e-4, max_mc=6144
    )
  assert int(est.num_draws) == 6144
  assert any('max draws' in str(w.message) for w in caught)


def test_pooled_adaptive_bad_targets():
  centers = np.zeros((4, 2, 1), np.float32)
  with pytest.raises(ValueError, match='max_mc must be an integer >= 2'):
    infoflow.pooled_mixture_entropy(_key(), centers, 1.0, max_mc=1)
  with pytest.raises(TypeError, match='target_stderr'):
    infoflow.pooled_mixture_entropy(_key(), centers, 1.0, target_stderr='x')
