"""Tests of the exact I(X;T) of a one-unit noisy layer (infoflow.measures.quadrature), and of
the analysis hook that records it (infoflow.analysis.quadrature_hook)."""

import math

import helpers
import jax
import numpy as np
import pytest
from scipy import integrate
from scipy import stats

from infoflow import analysis
from infoflow import configs
from infoflow import models
from infoflow import units
from infoflow.experiment import setup
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


def test_quadrature_hook_records_the_exact_information_of_the_first_layer():
  """`analysis.analyse` with the quadrature hook: the record's `quadrature`
  holds T1's exact I(X;T) in nats (one-unit T1, Gaussian given X); T2 (its
  input is the noisy T1) is not Gaussian given X and gets none. (The Monte
  Carlo estimate against this value: tests/test_information.py.)"""
  x = np.array([[-3.0], [-1.0], [1.0], [3.0]], np.float32)
  beta, w, b = 0.3, 0.7, -0.3
  net = models.MLP(widths=(1, 1), num_outputs=1, beta=beta, readout=False)
  params = {
    'T1_weights': {'kernel': np.array([[w]], np.float32), 'bias': np.array([b], np.float32)},
    'T2_weights': {'kernel': np.array([[1.0]], np.float32), 'bias': np.array([0.0], np.float32)},
  }
  layers = analysis.quadrature_layers({'T1': 1, 'T2': 1}, beta)
  assert layers == ['T1']
  record, _ = analysis.analyse(
    jax.random.key(0),
    net,
    params,
    x,
    np.array([0, 0, 0, 1]),
    2,
    beta=beta,
    estimated_layers=(),  # no estimate: its compilation would cost seconds
    hooks=[analysis.quadrature_hook(beta, layers)],
  )
  exact = quadrature.gaussian_channel_information(np.tanh(w * x[:, 0] + b), beta)
  assert record['quadrature'] == {'T1': pytest.approx(exact, abs=1e-6)}
  assert 0.3 < exact < math.log(4) - 0.3  # between the steps: a real check


def test_quadrature_layers_and_hook_limits():
  """Only a one-unit first layer of a noisy net qualifies; the hook skips
  input sets over its limit and refuses a wider layer by name; a run's plan
  (`setup.plan_analysis`) adds it for the minimal tanh neuron."""
  assert analysis.quadrature_layers({'T1': 2, 'T2': 1}, 0.1) == []
  assert analysis.quadrature_layers({'T1': 1}, 0.0) == []
  assert analysis.quadrature_layers({}, 0.1) == []
  reps = {'T1': np.zeros((5, 1)), 'T2': np.zeros((5, 2))}
  labels = np.zeros(5, int)
  assert analysis.quadrature_hook(0.1, ['T1'], max_inputs=4)(reps, labels, 2) == {}
  assert analysis.quadrature_hook(0.1, ['T1'])(reps, labels, 2) == {'quadrature': {'T1': 0.0}}
  with pytest.raises(ValueError, match='layer T2 has representations of shape'):
    analysis.quadrature_hook(0.1, ['T2'])(reps, labels, 2)
  config = configs.get_config('minimal_tanh')
  config.analysis.binning = config.analysis.clustering = False  # the other hooks
  model = setup.build_model(config, 1)
  x = np.ones((1, 1), np.float32)
  plan = setup.plan_analysis(config, model, helpers.init_variables(model, x)['params'], x)
  points = np.array([[-1.0], [-1.0], [1.0], [1.0], [1.0]])
  (hook,) = plan.hooks
  record = hook({'T1': points}, np.array([0, 0, 1, 1, 1]), 2)
  two_fifths = -(0.4 * math.log(0.4) + 0.6 * math.log(0.6))  # beta = 0.05 << 2
  assert record['quadrature'] == {'T1': pytest.approx(two_fifths, abs=1e-9)}
