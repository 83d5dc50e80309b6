"""Tests of per-layer information estimates (infoflow.information); the
networks and their sampling are in test_models.py and test_sampling.py."""

import dataclasses
import math

import helpers
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import infoflow
from infoflow import information
from infoflow import models
from infoflow import record
from infoflow import sampling


def _within(estimate, reference, extra=1e-3):
  return abs(float(estimate.nats) - reference) <= (4 * float(estimate.stderr) + extra)


# ------------------------------------------------------ against quadrature


@pytest.mark.parametrize('form', information.FORMS)
@pytest.mark.parametrize(
  'width,num_inputs,beta',
  [
    (1, 8, 0.1),
    (2, 16, 0.1),
    # Other sizes of the same computation (new shapes to compile): -m slow.
    pytest.param(1, 32, 0.05, marks=pytest.mark.slow),
    pytest.param(2, 24, 0.03, marks=pytest.mark.slow),
  ],
)
def test_first_layer_information_against_quadrature(width, num_inputs, beta, form):
  rng = np.random.default_rng(width * 100 + num_inputs)
  x = jnp.asarray(rng.normal(size=(num_inputs, 3)), jnp.float32)
  model = models.MLP(widths=(width,), num_outputs=2, activation='tanh', beta=beta)
  variables = helpers.init_variables(model, x, seed=num_inputs)
  info = infoflow.network_information(
    jax.random.key(4),
    model,
    variables,
    x,
    beta,
    settings=infoflow.InformationSettings(num_replicas=4, num_mc=20_000, form=form),
  )
  layer = info['T1']
  assert layer.deterministic_given_x
  centers = np.asarray(sampling.noise_free_layers(model, variables, x)['T1'])
  exact = helpers.entropy_quadrature(centers, beta) - float(infoflow.gaussian_entropy(width, beta))
  assert _within(layer.mi_input, exact), (float(layer.mi_input.nats), exact)


def _single_neuron(w, b, beta):
  model = models.MLP(widths=(1,), num_outputs=1, activation='tanh', beta=beta)
  params = {
    'T1_weights': {'kernel': jnp.array([[w]]), 'bias': jnp.array([b])},
    'output': {'kernel': jnp.ones((1, 1)), 'bias': jnp.zeros(1)},
  }
  return model, {'params': params}


@pytest.mark.parametrize(
  'w,b,bits,form',
  [
    (0.3, 0.0, 2.0, 'posterior'),  # 4 clusters
    (6.0, -6.0, 1.5, 'posterior'),  # 3: {-3,-1},{1},{3}
    (6.0, 0.0, 1.0, 'posterior'),  # 2: saturated
    (0.3, 0.0, 2.0, 'difference'),
    # The difference form at the other plateaus (more compilation): -m slow.
    pytest.param(6.0, -6.0, 1.5, 'difference', marks=pytest.mark.slow),
    pytest.param(6.0, 0.0, 1.0, 'difference', marks=pytest.mark.slow),
  ],
)
def test_minimal_example_against_quadrature(w, b, bits, form):
  beta = 0.05
  data = infoflow.data.minimal_tanh()
  model, variables = _single_neuron(w, b, beta)
  info = infoflow.network_information(
    jax.random.key(5),
    model,
    variables,
    data.x_all,
    beta,
    labels=data.y_all,
    settings=infoflow.InformationSettings(num_replicas=2, num_mc=20_000, form=form),
  )['T1']
  centers = np.tanh(w * np.asarray(data.x_all) + b)
  exact = helpers.entropy_quadrature(centers, beta) - float(infoflow.gaussian_entropy(1, beta))
  assert _within(info.mi_input, exact)
  assert float(info.mi_input.bits) == pytest.approx(bits, abs=0.02)
  # I(T;Y) <= H(Y) = H(1/4, 3/4).
  h_y = -(0.25 * math.log(0.25) + 0.75 * math.log(0.75))
  assert float(info.mi_label.nats) <= h_y + 4 * float(info.mi_label.stderr)


# ----------------------------------------------------- inequalities


def _random_deep_net(seed, widths, beta, num_inputs, num_classes=2):
  rng = np.random.default_rng(seed)
  x = jnp.asarray(rng.normal(size=(num_inputs, 4)), jnp.float32)
  labels = rng.integers(0, num_classes, num_inputs).astype(np.int32)
  model = models.MLP(widths=widths, num_outputs=num_classes, activation='tanh', beta=beta)
  return model, helpers.init_variables(model, x, seed), x, labels


@pytest.mark.parametrize('seed', [0, 1])
def test_bounds_and_data_processing(seed):
  model, variables, x, labels = _random_deep_net(seed, (2, 2, 1, 1), 0.1, 12)
  info = infoflow.network_information(
    jax.random.key(seed),
    model,
    variables,
    x,
    0.1,
    labels=labels,
    settings=infoflow.InformationSettings(
      num_replicas=300, num_mc=8000, num_mc_conditional=200, replica_diagnostic=False
    ),
  )
  counts = np.bincount(labels, minlength=2) / len(labels)
  h_y = -np.sum(counts[counts > 0] * np.log(counts[counts > 0]))
  previous = None
  for layer in info.values():
    mi, err = float(layer.mi_input.nats), 4 * float(layer.mi_input.stderr)
    assert -err <= mi <= math.log(12) + err
    mi_y, err_y = float(layer.mi_label.nats), 4 * float(layer.mi_label.stderr)
    assert mi_y <= min(h_y, mi) + err_y + err
    if previous is not None:
      assert mi <= float(previous.nats) + 4 * math.hypot(
        float(previous.stderr), float(layer.mi_input.stderr)
      )
    previous = layer.mi_input


def test_small_beta_distinct_representations_give_log_m():
  model, variables, x, _ = _random_deep_net(7, (3, 3), 1e-3, 32)
  info = infoflow.network_information(
    jax.random.key(8),
    model,
    variables,
    x,
    1e-3,
    settings=infoflow.InformationSettings(num_replicas=20),
  )
  first, second = info.values()
  # Far-apart centres: h(T_1) = log m + h(N(0, beta^2 I)) to float precision.
  assert float(first.mi_input.nats) == pytest.approx(math.log(32), abs=1e-4)
  assert _within(second.mi_input, math.log(32), extra=0.01)


# ----------------------------------------------- finite replicas (R/2)


@pytest.mark.parametrize('seed', [0, 1])
def test_planted_duplicates_the_half_replica_diagnostic(seed):
  # m = 512 rows drawn with replacement from 512 separated means, R = 16,
  # d = 5, beta = 0.005; the truth is the multiplicity entropy (~5.68 nats).
  # Measured (seeds 0-2; docs/method.md, "Finite replicas"): spread 0.25
  # beta: bias at R +0.0035..+0.0044 (se 0.0002), at R/2 +0.0068..+0.0086;
  # spread 2.4 beta: R +0.40..+0.43 (se 0.005), R/2 +0.45..+0.48; the gaps
  # 8-12 combined stderr in both.
  narrow, truth = helpers.planted(0.25 * helpers.PLANTED_BETA, seed)
  info = helpers.full_and_half(narrow, seed)
  full, half = (float(e.nats) for e in (info.mi_input, info.mi_input_half_replicas))
  # A cloud narrow against beta: a bias of a few 1e-3 nats, which the
  # stratified draws resolve and the diagnostic sees; R/2 about twice R's.
  assert 0.0 < full - truth <= 3 * float(info.mi_input.stderr) + 0.01
  assert 1.5 * (full - truth) < half - truth < 3 * (full - truth)
  assert record.replica_gap_flagged(record.information_entry(info))
  wide, truth = helpers.planted(2.4 * helpers.PLANTED_BETA, seed)
  info = helpers.full_and_half(wide, seed)
  full, half = (float(e.nats) for e in (info.mi_input, info.mi_input_half_replicas))
  # A cloud wide against beta: biased upward by ~0.4 nats, R/2 further; the
  # diagnostic flags it but its gap (~0.05) is far below the bias at R.
  assert full - truth > 0.3
  assert half > full + 0.02
  assert record.replica_gap_flagged(record.information_entry(info))
  assert half - full < (full - truth) / 3
  # No duplicates: every input separated, no finite-R bias, no flag.
  distinct, truth = helpers.planted(2.4 * helpers.PLANTED_BETA, seed, duplicates=False)
  info = helpers.full_and_half(distinct, seed)
  assert float(info.mi_input_half_replicas.nats) == pytest.approx(truth, abs=1e-4)
  assert not record.replica_gap_flagged(record.information_entry(info))


def test_half_replica_settings_and_errors():
  with pytest.raises(ValueError, match=r'num_replicas = 1: .*mi_input_half_replicas'):
    information.InformationSettings(num_replicas=1)
  assert not information.InformationSettings(
    num_replicas=1, replica_diagnostic=False
  ).replica_diagnostic
  with pytest.raises(ValueError, match='R >= 2'):
    information.mi_input_half_replicas(jax.random.key(0), np.zeros((4, 1, 2), np.float32), 0.1)
  # Every layer carries the R/2 diagnostic: T1 (deterministic given x) the
  # full estimate itself, T2 an estimate at the same settings.
  model, variables, x, _ = _random_deep_net(3, (2, 2), 0.1, 8)
  settings = information.InformationSettings(num_replicas=4, num_mc=256)
  info = infoflow.network_information(
    jax.random.key(0), model, variables, x, 0.1, settings=settings
  )
  assert info['T1'].mi_input_half_replicas is info['T1'].mi_input
  half = info['T2'].mi_input_half_replicas
  assert 0.0 <= float(half.nats) <= math.log(8) and int(half.num_draws) == 256
  # The full estimates' draws do not depend on the diagnostic; without it
  # the field is None.
  off = dataclasses.replace(settings, replica_diagnostic=False)
  bare = infoflow.network_information(jax.random.key(0), model, variables, x, 0.1, settings=off)
  assert all(layer.mi_input_half_replicas is None for layer in bare.values())
  assert float(bare['T2'].mi_input.nats) == float(info['T2'].mi_input.nats)


# ----------------------------------------------------------- bad inputs


def test_layer_information_errors():
  samples = np.zeros((4, 3, 2), np.float32)
  key = jax.random.key(0)
  with pytest.raises(ValueError, match=r'\(m, R, d\)'):
    information.layer_information(key, samples[0], 0.1)
  with pytest.raises(ValueError, match='beta'):
    information.layer_information(key, samples, 0.0)
  with pytest.raises(ValueError, match='labels must have shape'):
    information.layer_information(key, samples, 0.1, labels=np.zeros(3, int))
  with pytest.raises(ValueError, match='labels must lie'):
    information.layer_information(key, samples, 0.1, labels=np.array([0, 1, 2, 3]), num_classes=2)
  with pytest.raises(ValueError, match='integers'):
    information.layer_information(key, samples, 0.1, labels=np.zeros(4))
  noisy = np.random.default_rng(0).normal(size=(4, 1, 2))
  with pytest.raises(ValueError, match='R >= 2'):
    information.difference_information(key, noisy, 0.1, deterministic_given_x=False)
  with pytest.raises(ValueError, match='form must be one of'):
    information.InformationSettings(form='posterior_v2')


def test_layer_information_is_the_posterior_form():
  samples = np.random.default_rng(1).normal(size=(6, 3, 2)).astype(np.float32)
  key = jax.random.key(2)
  info, report = information.layer_information(
    key, samples, 0.3, num_mc=256, method='dense', return_report=True
  )
  same = infoflow.posterior_information(key, samples, 0.3, num_mc=256, method='dense')
  assert report.method == 'dense' and report.num_draws == 256
  assert float(info.mi_input.nats) == float(same.mi_input.nats)


@pytest.mark.parametrize('form', information.FORMS)
def test_settings_pass_only_the_arguments_of_their_form(form):
  settings = information.InformationSettings(form=form, num_mc=128, num_mc_conditional=4)
  kwargs = settings.estimator_kwargs()
  assert settings.estimator() is information.ESTIMATORS[form]
  assert ('num_mc_conditional' in kwargs) == (form == 'difference')
  assert 'target_stderr_mi_input' not in kwargs  # a fixed num_mc: no targets
  adaptive = information.InformationSettings(form=form).estimator_kwargs()
  assert ('target_stderr_mi_input' in adaptive) == (form == 'posterior')
  samples = np.random.default_rng(3).normal(size=(6, 3, 2)).astype(np.float32)
  info = settings.estimator()(jax.random.key(0), samples, 0.3, **kwargs)
  assert 0.0 <= float(info.mi_input.nats) <= math.log(6) + 4 * float(info.mi_input.stderr)


# ------------------------------------------------------------ issue 22


def test_settings_refuse_targets_no_estimate_uses():
  # Issue 22 row 10: with num_mc (or the difference form) the targets were
  # silently ignored; the estimators raise for num_mc with a target.
  with pytest.raises(ValueError, match=r'pass num_mc .* or target_stderr_mi_input = 0.0001'):
    information.InformationSettings(num_mc=64, target_stderr_mi_input=1e-4)
  with pytest.raises(
    ValueError, match='target_stderr_mi_label = 0.001: only the posterior form draws to a target'
  ):
    information.InformationSettings(form='difference', target_stderr_mi_label=1e-3)
  kwargs = information.InformationSettings(num_mc=64, max_mc=4096).estimator_kwargs()
  assert kwargs == {'num_mc': 64}
  with pytest.raises(ValueError, match='target_stderr_mi_label'):
    information.layer_information(
      jax.random.key(0), np.zeros((4, 3, 2)), 0.1, num_mc=64, target_stderr_mi_label=0.01
    )


def test_a_beta_other_than_the_models_raises_naming_both():
  # Issue 22 row 12: the samples carry the model's noise (beta 0.1) and the
  # estimate added beta 0.2: a network that does not exist, silently.
  x = jnp.asarray(np.random.default_rng(0).normal(size=(4, 3)), jnp.float32)
  model = models.MLP(widths=(2,), num_outputs=2, activation='tanh', beta=0.1)
  variables = helpers.init_variables(model, x, seed=0)
  with pytest.raises(ValueError, match=r"beta = 0.2 differs from the model's noise std beta = 0.1"):
    infoflow.network_information(jax.random.key(0), model, variables, x, 0.2)
  # float32 rounding of the same beta is the same beta, and a deterministic
  # network (beta 0) is analysed at the given noise: both pass the check
  # (and stop at the next one, the layer names, before any estimate).
  for net_beta, beta in ((0.1, np.float32(0.1)), (0.0, 0.1)):
    net = models.MLP(widths=(2,), num_outputs=2, activation='tanh', beta=net_beta)
    with pytest.raises(ValueError, match='unknown layers'):
      infoflow.network_information(jax.random.key(0), net, variables, x, beta, layers=['T9'])
