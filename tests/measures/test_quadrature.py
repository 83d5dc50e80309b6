"""Tests of the exact I(X;T) of a one-unit noisy layer (infoflow.measures.quadrature)."""

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats

from infoflow import units
from infoflow.measures import quadrature


def _reference(points, beta, weights=None):
  """h(T) - h(T|X) by scipy's adaptive quadrature of -g log g."""
  points = np.asarray(points, float)
  weights = np.full(len(points), 1 / len(points)) if weights is None else np.asarray(weights)

  def integrand(t):
    g = float(np.sum(weights * stats.norm.pdf(t, points, beta)))
    return -g * math.log(g) if g > 0 else 0.0

  low, high = points.min() - 12 * beta, points.max() + 12 * beta
  h_t = integrate.quad(integrand, low, high, points=sorted(set(points)), limit=1000)[0]
  return h_t - 0.5 * math.log(2 * math.pi * math.e * beta**2)


def test_closed_form_limits():
  """Far apart: H(X) (2 bits for 4 points); identical: 0; two far groups of
  3 and 1: H(3/4, 1/4); the minimal tanh neuron's 1.5-bit step."""
  info = quadrature.gaussian_channel_information
  assert info([-3, -1, 1, 3], 0.01) * units.BITS_PER_NAT == pytest.approx(2.0, abs=1e-9)
  assert info(np.array([[-3.0], [-1.0], [1.0], [3.0]]), 0.01) * units.BITS_PER_NAT == pytest.approx(
    2.0, abs=1e-9
  )
  assert info([0.5, 0.5, 0.5, 0.5], 0.1) == pytest.approx(0.0, abs=1e-12)
  h34 = -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25))
  assert info([0.0, 0.0, 0.0, 10.0], 0.1) * units.BITS_PER_NAT == pytest.approx(h34, abs=1e-9)
  assert info([-1.0, 0.0, 0.0, 1.0], 1e-3) * units.BITS_PER_NAT == pytest.approx(1.5, abs=1e-9)
  assert info([0.0, 5.0], 0.1, weights=[0.9, 0.1]) == pytest.approx(
    -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)), abs=1e-9
  )


@pytest.mark.parametrize(
  'points, beta, weights',
  [
    ([-0.9, -0.5, -0.45, 0.3], 0.05, None),  # overlapping and separated
    ([-0.94, -0.53, 0.53, 0.94], 0.2, None),  # the tanh neuron at init, wide noise
    ([0.1, 0.12, 0.5, 0.9, 1.3, 1.31, 2.0, 2.6], 0.05, None),  # leaky-ReLU-like, 8 inputs
    ([0.0, 0.3, 0.35], 0.1, [0.5, 0.3, 0.2]),
  ],
)
def test_agrees_with_adaptive_quadrature(points, beta, weights):
  ours = quadrature.gaussian_channel_information(points, beta, weights=weights)
  assert ours == pytest.approx(_reference(points, beta, weights), abs=1e-7)


def test_bad_input_is_named():
  info = quadrature.gaussian_channel_information
  with pytest.raises(ValueError, match='points must be a non-empty vector'):
    info(np.zeros((2, 2)), 0.1)
  with pytest.raises(ValueError, match='points must be a non-empty vector'):
    info([], 0.1)
  with pytest.raises(ValueError, match='points has 1 non-finite'):
    info([0.0, math.nan], 0.1)
  with pytest.raises(ValueError, match='beta must be a finite number > 0'):
    info([0.0, 1.0], 0.0)
  with pytest.raises(ValueError, match='weights must be 2 finite non-negative'):
    info([0.0, 1.0], 0.1, weights=[1.0])
  with pytest.raises(ValueError, match='weights must sum to 1'):
    info([0.0, 1.0], 0.1, weights=[0.5, 0.6])
