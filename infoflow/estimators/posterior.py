"""One-pass I(X;T), I(T;Y) and h(T) from posterior entropies.

The estimand. Sample propagation gives R samples s_{x,r} of a layer's
pre-noise activations S for each of m inputs x. The noisy layer T = S + Z,
Z ~ N(0, beta^2 I), is then modelled by the joint law: X uniform on the m
inputs and

    T | X=x ~ g_x = (1/R) sum_r N(s_{x,r}, beta^2 I),   g = (1/m) sum_x g_x.

Its mutual informations are, exactly,

    I(X;T) = log m - E_{t~g} H(X | T=t),   p(x | t) = g_x(t) / (m g(t)),
    I(T;Y) = H(Y)  - E_{t~g} H(Y | T=t),   p(y | t) = sum_{x: y(x)=y} p(x | t),

(since I(X;T) = H(X) - H(X|T) with H(X) = log m; likewise for Y, a function
of X). This is the same plug-in estimand as the difference of entropies
h(T) - (1/m) sum_x h(T | X=x) (same mixture g, same g_x): only the Monte
Carlo integral is different. It is the input Rao-Blackwellised: where the
difference form averages -log g_x(t) over draws of one x, this form sums over
every x in closed form at the draw.

Why it is precise. Each draw's value log m - H(X | T=t) lies in [0, log m]
and H(Y) - H(Y | T=t) in [H(Y) - log C, H(Y)] (C classes; [0, H(Y)] for
balanced labels), so the estimates lie within the hard bounds, and the
variance vanishes where representations are separated (H(X | T=t) ~ 0) or
classes resolved (H(Y | T=t) ~ 0). The difference form instead subtracts two
entropies of order (d/2) log(2 pi e beta^2) + log m, each with its own error.
Estimates of I(T;Y) are clipped to [0, H(Y)] (a projection onto the set that
contains the truth, so it never moves an estimate away from it; it acts only
for unbalanced labels).

One pass. Draws t = s_{x,r} + beta z with (x, r) uniform (so t ~ g) give,
from the per-input kernel sums L_x(t) (`infoflow.estimators.posterior_sums`):
log g(t) (their log-sum), hence h(T) with the control variate of
`infoflow.estimators.entropy`; H(X | T=t); and H(Y | T=t). The derived fields
h(T|X) = h(T) - I(X;T) and h(T|Y) = h(T) - I(T;Y) are means of per-draw
differences, with their own standard errors. When every input's replicas
coincide (R = 1, or the first hidden layer), h(T|X) is the closed form
(d/2) log(2 pi e beta^2) and h(T) = I(X;T) + h(T|X) (the same code; no
log g term is needed).

Pruning certificate. On the pruned path (many centres, small beta; see
`infoflow.estimators.pruned`) each draw sums the top-K candidate inputs
exactly; the others' total mass B' is at most B, with err = log(1 + B/E)
(E the exact part). With eps = B / (E + B) = 1 - e^{-err} the largest share
the left-out inputs can hold, the true posterior is (1 - e) P_E + e Q for
some e <= eps and Q on the left-out inputs, so (disjoint supports for X;
concavity and the mixing bound for Y)

    |H(X | T=t) - H(P_E)| <= h2(eps) + eps log m,
    |H(Y | T=t) - H(P_E,Y)| <= h2(eps) + eps log C,   h2 the binary entropy

(for eps <= 1/2). Their means over the draws bound how far I(X;T) and I(T;Y)
can be from the full-sum values on the same draws; `PosteriorReport`
carries them (about 2e-5 nats at the default 1e-6 tolerance).

Precision. By default the draws are added in batches until the standard
errors of I(X;T) and I(T;Y) are at most 0.02 and 0.005 nats, up to a cap
(then a `RuntimeWarning` names the precision reached).
"""

from __future__ import annotations

import dataclasses
import functools
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow.estimators import draws as draws_lib
from infoflow.estimators import groups as groups_lib
from infoflow.estimators import posterior_passes as passes
from infoflow.estimators import pruned as pruned_lib
from infoflow.estimators import sharding
from infoflow.estimators.estimate import Estimate
from infoflow.estimators.layer import LayerInformation

DEFAULT_TARGET_MI_INPUT = 0.02
DEFAULT_TARGET_MI_LABEL = 0.005
DEFAULT_PILOT = 2048
DEFAULT_MAX_MC = 1 << 18
_DENSE_CENTERS = 2048  # centres per step of the dense scan
# Rows of the per-draw value matrix.
_ROWS = ('entropy', 'mi_input', 'mi_label', 'conditional_entropy',
         'label_conditional_entropy')


@dataclasses.dataclass(frozen=True)
class PosteriorReport:
  """How a posterior-form estimate was computed (host-side numbers).

  Attributes:
    method: 'dense' (every centre summed) or 'pruned'.
    num_draws: Monte Carlo draws used.
    entropy_bound: nats; h(T) exceeds its full-sum value on the same draws by
      at most this (mean certified error of -log g), and by at least 0.
    mi_input_bound, mi_label_bound: nats; I(X;T) and I(T;Y) are within these
      of their full-sum values on the same draws (module docstring).
    num_refined, num_dense: draws redone with more candidates, and by the
      dense sum (pruned path).
    targets_met: whether the requested standard errors were reached.
  """

  method: str
  num_draws: int
  entropy_bound: float
  mi_input_bound: float
  mi_label_bound: float
  num_refined: int = 0
  num_dense: int = 0
  targets_met: bool = True


@dataclasses.dataclass(frozen=True)
class _Layout:
  """A layer's samples laid out for the kernels (arrays are device-side)."""

  centers: jax.Array      # (m', R, d), m' padded to a multiple of the chunk
  valid: jax.Array        # (m', R)
  onehot: jax.Array       # (m', C)
  group_chunk: int
  num_inputs: int
  groups: object          # `Groups` for the pruned path, else None


def _binary_entropy(eps):
  eps = np.clip(eps, 0.0, 0.5)
  safe = np.where(eps > 0, eps, 1.0)
  return np.where(eps > 0, -safe * np.log(safe)
                  - (1 - eps) * np.log1p(-eps), 0.0)


def _layout(samples, onehot, groups) -> _Layout:
  m, r, _ = samples.shape
  chunk = max(1, min(m, _DENSE_CENTERS // r))
  padded = -(-m // chunk) * chunk
  pad = padded - m
  valid = jnp.ones((m, r), bool)
  if pad:
    samples = jnp.concatenate([samples, jnp.repeat(samples[:1], pad, 0)])
    valid = jnp.concatenate([valid, jnp.zeros((pad, r), bool)])
    onehot = jnp.concatenate([onehot, jnp.zeros((pad, onehot.shape[1]),
                                                onehot.dtype)])
  return _Layout(samples, valid, onehot, chunk, m, groups)


@functools.partial(jax.jit, static_argnames=('num_groups', 'replicas'))
def _queries(flat, beta, owner, z, *, num_groups, replicas):
  del num_groups
  return (flat[owner] + beta * z, (owner // replicas).astype(jnp.int32),
          0.5 * jnp.sum(z * z, axis=-1))


@functools.partial(jax.jit, static_argnames=('num_inputs', 'num_centers',
                                             'deterministic'))
def _values(log_sum, h_x, h_y, h0, label_entropy, *, num_inputs, num_centers,
            deterministic):
  """(5, k) per-draw values, rows as in `_ROWS`."""
  mi_input = math.log(num_inputs) - jnp.minimum(h_x, math.log(num_inputs))
  mi_label = label_entropy - h_y
  if deterministic:
    entropy = mi_input + h0
  else:
    entropy = h0 - (log_sum - math.log(num_centers))
  return jnp.stack([entropy, mi_input, mi_label, entropy - mi_input,
                    entropy - mi_label])


@jax.jit
def _batch_stats(values):
  """Per-row mean and centred sum of squares (two-pass, no cancellation)."""
  mean = jnp.mean(values, axis=-1)
  centred = values - mean[:, None]
  return mean, jnp.sum(centred * centred, axis=-1)


class _Moments:
  """Running means and squared deviations (Chan et al.), host float64."""

  def __init__(self):
    self.count, self.mean, self.m2 = 0, None, None

  def add(self, count, mean, m2):
    mean, m2 = np.asarray(mean, np.float64), np.asarray(m2, np.float64)
    if self.count == 0:
      self.count, self.mean, self.m2 = count, mean, m2
      return
    total = self.count + count
    delta = mean - self.mean
    self.mean = self.mean + delta * (count / total)
    self.m2 = self.m2 + m2 + delta * delta * (self.count * count / total)
    self.count = total

  def stderr(self):
    return np.sqrt(self.m2 / max(self.count - 1, 1) / self.count)


def _certificate(err, num_inputs, num_classes):
  """Per-draw bounds on the shifts of -log g, H(X|T=t) and H(Y|T=t)."""
  err = np.asarray(err, np.float64)
  eps = -np.expm1(-err)
  h2 = _binary_entropy(eps)
  return (err.sum(), (h2 + eps * math.log(num_inputs)).sum(),
          (h2 + eps * math.log(max(num_classes, 1))).sum())


def _check_arguments(key, samples, beta, labels, num_classes, num_mc,
                     targets, max_mc, prune_tolerance):
  """The checked (samples, labels, num_classes, C / beta) of a call."""
  checks.check_key(key)
  samples = jnp.asarray(checks.check_float_array(samples, 'samples', rank=3,
                                                 shape='(m, R, d)'))
  checks.check_positive_scalar(beta, 'beta')
  ratio = checks.check_beta_resolves(samples, beta, centers_name='samples')
  if num_mc is not None:
    checks.check_count(num_mc, 'num_mc', minimum=2)
  checks.check_count(max_mc, 'max_mc', minimum=2)
  for name, value in zip(('target_stderr_mi_input',
                          'target_stderr_mi_label'), targets):
    checks.check_positive_scalar(value, name)
  checks.check_positive_scalar(prune_tolerance, 'prune_tolerance')
  if labels is None:
    return samples, None, 1, ratio
  labels, num_classes = checks.check_labels(
      labels, 'labels', num_rows=samples.shape[0], num_classes=num_classes,
      rows_name='samples')
  return samples, np.asarray(labels), num_classes, ratio


def _prepare(samples, beta, labels, num_classes, method, prune_tolerance):
  """(layout, method, label entropy H(Y)) of a layer's samples."""
  m = samples.shape[0]
  if labels is None:
    onehot = jnp.ones((m, 1), samples.dtype)
    label_entropy = 0.0
  else:
    onehot = jax.nn.one_hot(labels, num_classes, dtype=samples.dtype)
    freq = np.bincount(labels, minlength=num_classes) / m
    freq = freq[freq > 0]
    label_entropy = float(-np.sum(freq * np.log(freq)))
  method, groups = groups_lib.choose_method(method, samples, beta,
                                            prune_tolerance)
  return _layout(samples, onehot, groups), method, label_entropy


def _draw_batch(key, size, samples, beta, layout, method, prune_tolerance,
                mesh):
  """Per-draw values (5, size) and the per-draw certified errors of log g."""
  m, r, dim = samples.shape
  flat = samples.reshape(m * r, dim)
  dtype = samples.dtype
  owner, z = draws_lib.jitted_draws(key, m * r, dim, size, dtype)
  q, home, shift = _queries(flat, jnp.asarray(beta, dtype), owner, z,
                            num_groups=m, replicas=r)
  inv_two_var = jnp.asarray(0.5 / float(beta) ** 2, dtype)
  q, home, shift = (sharding.pad_rows(a, sharding.num_shards(mesh))
                    for a in (q, home, shift))
  if method == 'pruned':
    (log_sum, h_x, h_y, err), refined, dense = passes.pruned_sums(
        q, home, shift, layout, inv_two_var, prune_tolerance, mesh)
  else:
    log_sum, h_x, h_y = passes.dense_pass(
        q, shift, layout.centers, layout.valid, layout.onehot, inv_two_var,
        mesh=mesh, group_chunk=layout.group_chunk)
    err, refined, dense = jnp.zeros_like(log_sum), 0, 0
  return (log_sum[:size], h_x[:size], h_y[:size], err[:size]), refined, dense


def posterior_information(key: jax.Array, samples, beta, *, labels=None,
                          num_classes: int | None = None,
                          deterministic_given_x: bool | None = None,
                          num_mc: int | None = None,
                          target_stderr_mi_input: float =
                          DEFAULT_TARGET_MI_INPUT,
                          target_stderr_mi_label: float =
                          DEFAULT_TARGET_MI_LABEL,
                          max_mc: int = DEFAULT_MAX_MC,
                          method: str = 'auto',
                          prune_tolerance: float =
                          pruned_lib.DEFAULT_TOLERANCE,
                          mesh=None, return_report: bool = False):
  """I(X;T), I(T;Y) and h(T) of one layer in one pass (module docstring).

  Args:
    key: PRNG key for the Monte Carlo draws.
    samples: (m, R, d) samples of the layer's S given each of m inputs.
    beta: noise standard deviation (> 0).
    labels: optional (m,) integer labels in [0, num_classes), for I(T;Y).
    num_classes: number of classes (default: max label + 1).
    deterministic_given_x: use the closed form for h(T | X). Default:
      detected, True exactly when every input's replicas are identical.
    num_mc: a fixed number of draws (>= 2); default adaptive.
    target_stderr_mi_input, target_stderr_mi_label: the standard errors, in
      nats, to draw until (adaptive runs).
    max_mc: the most draws of an adaptive run (then a RuntimeWarning).
    method: 'auto', 'dense' or 'pruned' (`infoflow.estimators.pruned`).
    prune_tolerance: certified error of each log g on the pruned path, nats.
    mesh: a `jax.sharding.Mesh` to split the draws over (see
      `infoflow.estimators.sharding.resolve`).
    return_report: also return a `PosteriorReport`.

  Returns:
    A `LayerInformation` (nats), and with return_report a `PosteriorReport`.

  Raises:
    ValueError: on a wrong rank, non-finite samples, a bad beta, labels of
      the wrong shape, type or range, or bad draw settings.
  """
  targets = (target_stderr_mi_input, target_stderr_mi_label)
  samples, labels, num_classes, ratio = _check_arguments(
      key, samples, beta, labels, num_classes, num_mc, targets, max_mc,
      prune_tolerance)
  # Entropies shift by d log p when samples and beta are divided by p.
  beta, (samples,), log_scale = checks.rescale_to_beta(ratio, beta, samples)
  m, r, dim = samples.shape
  if deterministic_given_x is None:
    deterministic_given_x = bool(jnp.all(samples == samples[:, :1]))
  mesh = sharding.resolve(mesh)
  layout, method, label_entropy = _prepare(samples, beta, labels, num_classes,
                                           method, prune_tolerance)
  h0 = float(draws_lib.gaussian_entropy(dim, float(beta)))
  moments, bounds = _Moments(), np.zeros(3)
  refined = dense = 0
  size = num_mc or min(DEFAULT_PILOT, max_mc)
  index = 0
  while True:
    batch_key = key if index == 0 else jax.random.fold_in(key, index)
    (log_sum, h_x, h_y, err), ref, den = _draw_batch(
        batch_key, size, samples, beta, layout, method, prune_tolerance, mesh)
    values = _values(log_sum, h_x, h_y, h0, label_entropy, num_inputs=m,
                     num_centers=m * r, deterministic=deterministic_given_x)
    mean, m2 = _batch_stats(values)
    moments.add(size, mean, m2)
    bounds += _certificate(err, m, num_classes)
    refined, dense, index = refined + ref, dense + den, index + 1
    stderr = moments.stderr()
    ratio = max(stderr[1] / targets[0],
                stderr[2] / targets[1] if labels is not None else 0.0)
    if num_mc or ratio <= 1 or moments.count >= max_mc:
      break
    needed = math.ceil(moments.count * ratio ** 2 * 1.05) - moments.count
    multiple = 1 << max(0, int(math.floor(math.log2(max(needed, 1)
                                                    / DEFAULT_PILOT))))
    size = min(DEFAULT_PILOT * multiple, max_mc - moments.count)
  met = bool(num_mc) or ratio <= 1
  if not met:
    warnings.warn(
        f'posterior_information stopped at max_mc = {moments.count} draws: '
        f'stderr of I(X;T) {stderr[1]:.3g} nats (target {targets[0]:.3g})'
        + (f', of I(T;Y) {stderr[2]:.3g} nats (target {targets[1]:.3g})'
           if labels is not None else '') + '.', RuntimeWarning, stacklevel=2)
  info = _assemble(moments, stderr, m, label_entropy, h0, labels is not None,
                   deterministic_given_x, samples.dtype, dim * log_scale)
  if not return_report:
    return info
  count = moments.count
  report = PosteriorReport(method, count, float(bounds[0] / count),
                           float(bounds[1] / count),
                           float(bounds[2] / count) if labels is not None
                           else 0.0, refined, dense, met)
  return info, report


def _assemble(moments, stderr, num_inputs, label_entropy, h0, has_labels,
              deterministic, dtype, shift) -> LayerInformation:
  """The `LayerInformation` of the merged per-draw moments.

  `shift` (d log p) is added to the entropies of samples rescaled by p.
  """
  moments.mean[[0, 3, 4]] += shift
  count = jnp.asarray(moments.count, jnp.int32)

  def estimate(row, low=None, high=None):
    value = np.asarray(moments.mean[row], dtype)
    if high is not None:
      # The bound rounded down into the estimate's dtype.
      top = np.asarray(high, dtype)
      if float(top) > high:
        top = np.nextafter(top, np.asarray(-np.inf, dtype))
      value = np.clip(value, np.asarray(low, dtype), top)
    return Estimate(jnp.asarray(value, dtype), jnp.asarray(stderr[row], dtype),
                    count)

  mi_input = estimate(1, 0.0, math.log(num_inputs))
  entropy = estimate(0)
  if deterministic:
    conditional = Estimate.exact(jnp.asarray(h0 + shift, dtype))
  else:
    conditional = estimate(3)
  mi_label = label_conditional = None
  if has_labels:
    mi_label = estimate(2, 0.0, label_entropy)
    label_conditional = estimate(4)
  return LayerInformation(mi_input=mi_input, entropy=entropy,
                          conditional_entropy=conditional, mi_label=mi_label,
                          label_conditional_entropy=label_conditional,
                          deterministic_given_x=bool(deterministic))
