"""The posterior form of the information estimates (estimators/posterior.py)."""

import math
import warnings

import helpers
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import special

from infoflow.data import synthetic
from infoflow.estimators import difference
from infoflow.estimators import posterior
from infoflow.estimators import results
from infoflow.estimators._src import draws


def _agree(a, b, sigmas=4.0, extra=0.0):
  gap = abs(float(a.nats) - float(b.nats))
  return gap <= sigmas * math.hypot(float(a.stderr), float(b.stderr)) + extra


def _label_entropy(labels):
  p = np.bincount(labels) / len(labels)
  p = p[p > 0]
  return float(-np.sum(p * np.log(p)))


# The clustered case runs in the fast suite; the other two (the same code
# paths at other shapes, ~30 s of compilation) with -m slow.
CASES = [
  pytest.param('separated', 256, 16, 5, 0.005, 2, marks=pytest.mark.slow),
  ('clustered', 256, 16, 3, 0.005, 2),
  pytest.param('multiclass', 300, 12, 2, 0.05, 5, marks=pytest.mark.slow),
]


@pytest.mark.parametrize('kind,m,r,d,beta,classes', CASES)
def test_forms_agree_and_bounds_hold(kind, m, r, d, beta, classes):
  samples, labels = synthetic.layer_samples(kind, m, r, d, beta, seed=1, num_classes=classes)
  key = jax.random.key(0)
  post = posterior.posterior_information(key, samples, beta, labels=labels, num_mc=8192)
  diff = difference.difference_information(
    key, samples, beta, labels=labels, num_mc=16384, num_mc_conditional=64
  )
  for field in results.FIELDS:
    assert _agree(getattr(post, field), getattr(diff, field)), field
  assert 0.0 <= float(post.mi_input.nats) <= math.log(m)
  assert 0.0 <= float(post.mi_label.nats) <= _label_entropy(labels)
  # The identities hold for the fields of one pass.
  assert float(post.entropy.nats) == pytest.approx(
    float(post.mi_input.nats) + float(post.conditional_entropy.nats), abs=1e-4
  )
  assert float(post.entropy.nats) == pytest.approx(
    float(post.mi_label.nats) + float(post.label_conditional_entropy.nats), abs=1e-4
  )
  # Rao-Blackwellised: never noisier than the difference form on I(T;Y).
  assert float(post.mi_label.stderr) < float(diff.mi_label.stderr)


def test_against_float64_brute_force_of_the_posterior():
  samples, labels = synthetic.layer_samples('multiclass', 40, 6, 2, 0.05, seed=3, num_classes=3)
  beta, key, k = 0.05, jax.random.key(2), 4096
  est = posterior.posterior_information(key, samples, beta, labels=labels, num_mc=k)
  # The same stratified draws (two blocks), evaluated in float64 by brute force.
  m, r, d = samples.shape
  order = draws.input_order(samples)
  blocks = [
    draws.stratified_draws(b, order, replicas=r, dim=d, size=k // 2, dtype=jnp.float32)
    for b in (key, jax.random.fold_in(key, 1))
  ]
  owner, z = (np.concatenate([np.asarray(b[i]) for b in blocks]) for i in (0, 1))
  flat = samples.reshape(-1, d).astype(np.float64)
  t = flat[np.asarray(owner)] + beta * np.asarray(z, np.float64)
  sq = ((t[:, None, :] - flat[None]) ** 2).sum(-1) / (2 * beta**2)
  log_mass = special.logsumexp(-sq.reshape(k, m, r), axis=2)
  p = np.exp(log_mass - special.logsumexp(log_mass, 1)[:, None])
  h_x = -np.sum(p * np.log(np.maximum(p, 1e-300)), 1)
  p_y = np.stack([p[:, labels == y].sum(1) for y in range(3)], 1)
  h_y = -np.sum(p_y * np.log(np.maximum(p_y, 1e-300)), 1)
  assert float(est.mi_input.nats) == pytest.approx(math.log(m) - h_x.mean(), abs=1e-4)
  assert float(est.mi_label.nats) == pytest.approx(_label_entropy(labels) - h_y.mean(), abs=1e-4)
  # The paired variance of each block: draws 2j and 2j + 1 share stratum j.
  pairs = h_x.reshape(2, k // 4, 2)
  variance = (((pairs[..., 0] - pairs[..., 1]) ** 2).sum(1) / (4 * (k // 4) ** 2)).sum() / 4
  assert float(est.mi_input.stderr) == pytest.approx(math.sqrt(variance), rel=1e-3)


def test_pruned_certificate_holds_against_dense():
  samples, labels = synthetic.layer_samples('separated', 2048, 8, 3, 0.005, seed=4)
  key, beta = jax.random.key(5), 0.005
  pruned, report = posterior.posterior_information(
    key, samples, beta, labels=labels, num_mc=2048, method='pruned', return_report=True
  )
  dense, dense_report = posterior.posterior_information(
    key, samples, beta, labels=labels, num_mc=2048, method='dense', return_report=True
  )
  assert report.method == 'pruned' and dense_report.method == 'dense'
  assert 0 <= report.mi_input_bound <= 1e-4
  rounding = 1e-5  # float32 rounding of the exact parts
  for field, bound in (
    ('mi_input', report.mi_input_bound),
    ('mi_label', report.mi_label_bound),
    ('entropy', report.entropy_bound),
  ):
    gap = abs(float(getattr(pruned, field).nats) - float(getattr(dense, field).nats))
    assert gap <= bound + rounding, (field, gap, bound)


def test_deterministic_layer_is_the_closed_form():
  rng = np.random.default_rng(6)
  means = rng.normal(size=(50, 1, 2)).astype(np.float32)
  beta, key = 0.3, jax.random.key(7)
  one = posterior.posterior_information(key, means, beta, num_mc=4096)
  same = posterior.posterior_information(key, np.repeat(means, 5, 1), beta, num_mc=4096)
  h0 = float(draws.gaussian_entropy(2, beta))
  for info in (one, same):
    assert info.deterministic_given_x
    assert float(info.conditional_entropy.nats) == pytest.approx(h0)
    assert float(info.conditional_entropy.stderr) == 0.0
    assert float(info.entropy.nats) == pytest.approx(float(info.mi_input.nats) + h0, abs=1e-5)
  # Identical replicas change nothing but the owner indices of the draws.
  assert _agree(one.mi_input, same.mi_input)
  exact = helpers.entropy_quadrature(means[:, 0], beta) - h0
  assert _agree(one.mi_input, results.Estimate(exact, 0.0, 0))


def test_adaptive_reaches_targets_and_warns_at_the_cap():
  samples, labels = synthetic.layer_samples('multiclass', 200, 8, 2, 0.05, seed=8, num_classes=4)
  info, report = posterior.posterior_information(
    jax.random.key(9),
    samples,
    0.05,
    labels=labels,
    target_stderr_mi_input=0.01,
    target_stderr_mi_label=0.004,
    return_report=True,
  )
  assert report.targets_met
  assert float(info.mi_input.stderr) <= 0.01
  assert float(info.mi_label.stderr) <= 0.004
  with pytest.warns(RuntimeWarning, match='stderr of I\\(X;T\\)'):
    _, capped = posterior.posterior_information(
      jax.random.key(9),
      samples,
      0.05,
      labels=labels,
      target_stderr_mi_input=1e-5,
      max_mc=4096,
      return_report=True,
    )
  assert not capped.targets_met and capped.num_draws == 4096


def test_no_labels_gives_no_label_fields():
  samples, _ = synthetic.layer_samples('multiclass', 30, 4, 2, 0.05)
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    info = posterior.posterior_information(jax.random.key(0), samples, 0.05, num_mc=512)
  assert info.mi_label is None and info.label_conditional_entropy is None


def test_bad_input_gets_a_clear_error():
  samples = np.zeros((4, 3, 2), np.float32)
  key = jax.random.key(0)
  call = posterior.posterior_information
  with pytest.raises(ValueError, match=r'samples must have shape \(m, R, d\)'):
    call(key, samples[0], 0.1)
  with pytest.raises(ValueError, match='non-finite'):
    call(key, np.full((4, 3, 2), np.nan), 0.1)
  for beta in (0.0, -1.0, float('nan'), 'abc', np.ones(2)):
    with pytest.raises(ValueError, match='beta'):
      call(key, samples, beta)
  with pytest.raises(ValueError, match='labels must have shape'):
    call(key, samples, 0.1, labels=np.zeros(3, int))
  with pytest.raises(ValueError, match='labels must hold integer'):
    call(key, samples, 0.1, labels=np.zeros(4))
  with pytest.raises(ValueError, match='num_mc'):
    call(key, samples, 0.1, num_mc=1)
  with pytest.raises(ValueError, match='max_mc'):
    call(key, samples, 0.1, max_mc=0)
  with pytest.raises(ValueError, match='target_stderr_mi_label'):
    call(key, samples, 0.1, target_stderr_mi_label=float('nan'))
  with pytest.raises(ValueError, match='method'):
    call(key, samples, 0.1, method='fast')


def test_bad_types_and_scales_name_the_argument():
  samples, labels = synthetic.layer_samples('multiclass', 20, 3, 2, 0.05)
  call = posterior.posterior_information
  with pytest.raises(TypeError, match='key must be one JAX PRNG key'):
    call(0, samples, 0.05)
  with pytest.raises(ValueError, match='smallest beta'):
    call(jax.random.key(0), samples, 1e-9)
  with pytest.raises(ValueError, match='prune_tolerance'):
    call(jax.random.key(0), samples, 0.05, prune_tolerance=-1.0)
  with pytest.raises(ValueError, match='num_mc_conditional'):
    difference.difference_information(jax.random.key(0), samples, 0.05, num_mc_conditional=1)


def test_scale_invariance_far_from_unit_scale():
  samples, labels = synthetic.layer_samples('multiclass', 40, 4, 2, 0.05, seed=2)
  key = jax.random.key(3)
  base = posterior.posterior_information(key, samples, 0.05, labels=labels, num_mc=1024)
  scale = 2.0**70  # squared distances would overflow float32 unscaled
  big = posterior.posterior_information(
    key, samples * scale, 0.05 * scale, labels=labels, num_mc=1024
  )
  for field in ('mi_input', 'mi_label'):
    assert float(getattr(big, field).nats) == pytest.approx(
      float(getattr(base, field).nats), abs=1e-5
    )
  assert float(big.entropy.nats) == pytest.approx(
    float(base.entropy.nats) + 2 * math.log(scale), abs=1e-3
  )


@pytest.mark.parametrize('method', ['pruned', 'dense'])
def test_a_second_layer_of_the_same_shape_compiles_nothing(method):
  # 16,384 centres, small beta: blocks of one shape; on the pruned path lists
  # of a power-of-4 length and K in powers of 4, so new data reuse them.
  def estimate(seed):
    samples, labels = synthetic.layer_samples('separated', 512, 32, 3, 0.005, seed=seed)
    return posterior.posterior_information(
      jax.random.key(seed),
      samples,
      0.005,
      labels=labels,
      num_classes=2,
      method=method,
      return_report=True,
    )

  with helpers.count_compilations() as first:
    _, report = estimate(0)
  assert report.method == method and first
  with helpers.count_compilations() as second:
    _, report = estimate(1)
  assert second == [], f'{len(second)} new compilations for new samples of the same shape'


# ------------------------------------------------------------ issue 22


def _classes_seen(monkeypatch):
  """The num_classes of every posterior problem built; more classes than
  inputs fail before the (m, num_classes) one-hot is allocated."""
  seen, make = [], posterior.posterior_pass.make_problem

  def bounded(samples, beta, labels, num_classes, *args):
    seen.append(num_classes)
    assert num_classes <= samples.shape[0], f'a one-hot of {num_classes} classes'
    return make(samples, beta, labels, num_classes, *args)

  monkeypatch.setattr(posterior.posterior_pass, 'make_problem', bounded)
  return seen


def test_sparse_labels_are_renumbered_to_the_classes_present(monkeypatch):
  # Issue 22 row 14: one label of 10**7 (classes inferred as max + 1), or
  # num_classes=10**9, built an (m, num_classes) one-hot: 7.7 GB, out of memory.
  samples, labels = synthetic.layer_samples('multiclass', 40, 4, 2, 0.05, seed=2)
  key = jax.random.key(3)
  seen = _classes_seen(monkeypatch)
  base = posterior.posterior_information(key, samples, 0.05, labels=labels, num_mc=1024)
  sparse = np.where(labels == 1, 10**7, labels)
  for kwargs in (dict(labels=sparse), dict(labels=labels, num_classes=10**9)):
    info = posterior.posterior_information(key, samples, 0.05, num_mc=1024, **kwargs)
    assert float(info.mi_label.nats) == float(base.mi_label.nats)  # I(T;Y): the partition
    assert float(info.mi_label.stderr) == float(base.mi_label.stderr)
  assert seen == [2, 2, 2]


@pytest.mark.parametrize(
  'labels', [[0, 1, 0, 2**40], np.array([0, 1, 0, 2**32]), np.array([0, 1, 0, 2**63], np.uint64)]
)
def test_labels_beyond_int32_name_the_labels(monkeypatch, labels):
  # Issue 22 rows 7 and 14: 2**40 asked numpy for 8 TiB, uint64 2**63 raised a
  # TypeError, int64 2**32 was cast to class 0.
  _classes_seen(monkeypatch)
  samples = np.zeros((4, 3, 2), np.float32)
  with pytest.raises(ValueError, match='labels must be class indices <= 2147483647'):
    posterior.posterior_information(jax.random.key(0), samples, 0.1, labels=labels)


def test_num_mc_with_a_target_raises_naming_both():
  # Issue 22 row 10: a fixed num_mc silently ignored target_stderr_mi_input.
  samples = np.zeros((4, 3, 2), np.float32)
  key = jax.random.key(0)
  for target in ('target_stderr_mi_input', 'target_stderr_mi_label'):
    with pytest.raises(ValueError, match=f'pass num_mc .* or {target} .*not both'):
      posterior.posterior_information(key, samples, 0.1, num_mc=64, **{target: 1e-4})


def _no_draws(monkeypatch):
  """Fails any call that reaches the Monte Carlo loop (before drawing)."""

  def refuse(*args, **kwargs):
    raise AssertionError('the Monte Carlo loop started')

  monkeypatch.setattr(posterior.posterior_pass.montecarlo, 'run', refuse)


@pytest.mark.parametrize(
  'kwargs,name',
  [
    (dict(num_mc=2**31), 'num_mc'),
    (dict(num_mc=2**30 + 2), 'num_mc'),
    (dict(target_stderr_mi_input=1e-9, max_mc=2**40), 'max_mc'),
  ],
)
def test_draw_counts_beyond_the_limit_raise(monkeypatch, kwargs, name):
  # Issue 22 row 13: counts past int32 overflowed (after hours of draws).
  _no_draws(monkeypatch)
  samples = np.zeros((4, 3, 2), np.float32)
  with pytest.raises(ValueError, match=f'{name} must be at most MAX_DRAWS = 2\\*\\*30'):
    posterior.posterior_information(jax.random.key(0), samples, 0.1, **kwargs)
  with pytest.raises(ValueError, match='num_mc_conditional must be at most MAX_DRAWS'):
    difference.difference_information(jax.random.key(0), samples, 0.1, num_mc_conditional=2**31)


@pytest.mark.parametrize('transform', ['jit', 'vmap'])
def test_inside_jit_or_vmap_says_call_it_outside(transform):
  # Issue 22 row 15: a raw TracerBoolConversionError.
  samples = np.zeros((2, 4, 3, 2), np.float32)
  forms = (posterior.posterior_information, difference.difference_information)
  for form in forms:

    def estimate(s, form=form):
      return form(jax.random.key(0), s, 0.1, num_mc=64).mi_input.nats

    name = form.__name__
    with pytest.raises(ValueError, match=f'{name} needs concrete inputs: call it outside jax.jit'):
      if transform == 'jit':
        jax.jit(estimate)(samples[0])
      else:
        jax.vmap(estimate)(samples)
