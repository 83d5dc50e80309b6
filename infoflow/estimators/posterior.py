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
from the per-input kernel sums L_x(t) (`infoflow.estimators._src.posterior_pass`):
log g(t) (their log-sum), hence h(T) with the control variate of
`infoflow.estimators.entropy`; H(X | T=t); and H(Y | T=t). The derived fields
h(T|X) = h(T) - I(X;T) and h(T|Y) = h(T) - I(T;Y) are means of per-draw
differences, with their own standard errors. When every input's replicas
coincide (R = 1, or the first hidden layer), h(T|X) is the closed form
(d/2) log(2 pi e beta^2) and h(T) = I(X;T) + h(T|X) (the same code; no
log g term is needed).

Pruning certificate. On the pruned path (many centres, small beta; see
`infoflow.estimators._src.pruned`) each draw sums the top-K candidate inputs
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

Stratified draws. The draws come in blocks of BLOCK, each a stratified
sample over the inputs (`infoflow.estimators._src.draws.stratified_draws`): the
inputs are ordered along a space-filling curve of their mean samples, cut
into strata of equal probability, and each stratum gets two draws. Every
draw is still t ~ g, so the estimand is unchanged, but the variance between
inputs (most of it: inputs in crowded regions have larger H(X | T=t)) drops
out of the error. The standard errors come from the pairs
(`infoflow.estimators._src.draws.paired_variance`).

Precision. By default blocks of draws are added until the standard errors
of I(X;T) and I(T;Y) are at most 0.02 and 0.005 nats, up to a cap (then a
`RuntimeWarning` names the precision reached): the Monte Carlo loop of
`infoflow.estimators._src.montecarlo`. Every block has the same shape, so
one compiled program serves every layer of a width, every analysed epoch
and every seed.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow import scales
from infoflow.estimators import results
from infoflow.estimators._src import draws
from infoflow.estimators._src import groups
from infoflow.estimators._src import montecarlo
from infoflow.estimators._src import posterior_pass

DEFAULT_TARGET_MI_INPUT = 0.02
DEFAULT_TARGET_MI_LABEL = 0.005
_TARGET_NAMES = ('target_stderr_mi_input', 'target_stderr_mi_label')


def posterior_information(
  key: jax.Array,
  samples,
  beta,
  *,
  labels=None,
  num_classes: int | None = None,
  deterministic_given_x: bool | None = None,
  num_mc: int | None = None,
  target_stderr_mi_input: float | None = None,
  target_stderr_mi_label: float | None = None,
  max_mc: int = montecarlo.DEFAULT_MAX_MC,
  method: str = 'auto',
  prune_tolerance: float = groups.DEFAULT_PRUNE_TOLERANCE,
  mesh=None,
  return_report: bool = False,
):
  """I(X;T), I(T;Y) and h(T) of one layer in one pass (module docstring).

  Args:
    key: PRNG key for the Monte Carlo draws.
    samples: (m, R, d) samples of the layer's S given each of m inputs.
    beta: noise standard deviation (> 0).
    labels: optional (m,) integer labels in [0, num_classes), for I(T;Y).
    num_classes: number of classes (default: max label + 1).
    deterministic_given_x: use the closed form for h(T | X). Default:
      detected, True exactly when every input's replicas are identical.
    num_mc: a fixed number of draws (2 to montecarlo.MAX_DRAWS = 2^30,
      rounded up to even: the draws come in stratified pairs); default
      adaptive.
    target_stderr_mi_input, target_stderr_mi_label: the standard errors, in
      nats, to draw until (adaptive runs; None: DEFAULT_TARGET_MI_INPUT =
      0.02 and DEFAULT_TARGET_MI_LABEL = 0.005). Give num_mc or targets,
      not both.
    max_mc: the most draws of an adaptive run (then a RuntimeWarning), at
      most MAX_DRAWS.
    method: 'auto', 'dense' or 'pruned' (`infoflow.estimators._src.pruned`).
    prune_tolerance: certified error of each log g on the pruned path, nats.
    mesh: a `jax.sharding.Mesh` to split the draws over (see
      `infoflow.estimators._src.sharding.resolve`).
    return_report: also return a `PosteriorReport`.

  Returns:
    A `LayerInformation` (nats), and with return_report a `PosteriorReport`.

  Labels only partition the inputs: I(T;Y) uses the classes present
  (`checks.partition_labels`), whatever num_classes is.

  Raises:
    ValueError: on a wrong rank, non-finite samples, a bad beta, labels of
      the wrong shape, type or range, bad draw settings (num_mc together
      with a target), or traced inputs (call it outside jit / vmap).
  """
  targets = _targets(num_mc, target_stderr_mi_input, target_stderr_mi_label)
  samples, labels, num_classes, ratio = _check_arguments(
    key, samples, beta, labels, num_classes, num_mc, targets, max_mc, prune_tolerance
  )
  # Entropies shift by d log p when samples and beta are divided by p.
  beta, (samples,), log_scale = scales.rescale_to_beta(ratio, beta, samples)
  problem = posterior_pass.make_problem(
    samples,
    beta,
    labels,
    num_classes,
    deterministic_given_x,
    method,
    prune_tolerance,
    scales.RESOLUTION_TOLERANCE,
    mesh,
  )
  run = posterior_pass.run(problem, key, num_mc, targets, max_mc, 'posterior_information')
  info = _assemble(problem, run, log_scale)
  return (info, _report(problem, run)) if return_report else info


def _targets(num_mc, *targets) -> tuple:
  """The (I(X;T), I(T;Y)) targets of a call, defaults for None.

  Raises:
    ValueError: num_mc together with a target (which a fixed run ignores).
  """
  given = [name for name, value in zip(_TARGET_NAMES, targets) if value is not None]
  if num_mc is not None and given:
    raise ValueError(
      f'pass num_mc (a fixed number of draws) or {" and ".join(given)} (adaptive), not both.'
    )
  defaults = (DEFAULT_TARGET_MI_INPUT, DEFAULT_TARGET_MI_LABEL)
  return tuple(d if v is None else v for v, d in zip(targets, defaults))


def _check_arguments(
  key, samples, beta, labels, num_classes, num_mc, targets, max_mc, prune_tolerance
):
  """The checked (samples, labels, num_classes, C / beta) of a call; the
  labels renumbered to the classes present."""
  checks.check_concrete('posterior_information', key, samples, beta, labels)
  checks.check_key(key)
  samples = jnp.asarray(checks.check_float_array(samples, 'samples', rank=3, shape='(m, R, d)'))
  checks.check_positive_scalar(beta, 'beta')
  ratio = scales.check_beta_resolves(samples, beta, centers_name='samples')
  if num_mc is not None:
    montecarlo.check_draws(num_mc, 'num_mc')
  montecarlo.check_draws(max_mc, 'max_mc')
  for name, value in zip(_TARGET_NAMES, targets):
    checks.check_positive_scalar(value, name)
  checks.check_positive_scalar(prune_tolerance, 'prune_tolerance')
  if labels is None:
    return samples, None, 1, ratio
  labels, num_classes = checks.partition_labels(
    labels, 'labels', num_rows=samples.shape[0], num_classes=num_classes, rows_name='samples'
  )
  return samples, np.asarray(labels), num_classes, ratio


def _report(problem, run) -> results.PosteriorReport:
  """The `PosteriorReport` of a finished run: mean truncation bounds."""
  count = run.moments.count
  bounds = run.bounds / count
  return results.PosteriorReport(
    problem.method,
    count,
    # A deterministic layer's h(T) is I(X;T) + h(T|X): the H(X|T) bound.
    float(bounds[1] if problem.deterministic else bounds[0]),
    float(bounds[1]),
    float(bounds[2]) if problem.has_labels else 0.0,
    run.refined,
    run.dense,
    run.targets_met,
  )


def _assemble(problem, run, log_scale) -> results.LayerInformation:
  """The `LayerInformation` of the merged per-draw moments.

  d log p (`log_scale`) is added to the entropies of samples rescaled by p.
  """
  m, _, dim = problem.samples.shape
  dtype = problem.samples.dtype
  mean, stderr, count = run.moments.mean, run.moments.stderr(), run.moments.count
  shift = dim * log_scale
  h0 = draws.gaussian_entropy(dim, problem.beta) + shift
  mean[0] += shift
  count = jnp.asarray(count, jnp.int32)

  def estimate(row, low=None, high=None):
    value = np.asarray(mean[row], dtype)
    if high is not None:
      # The bound rounded down into the estimate's dtype.
      top = np.asarray(high, dtype)
      if float(top) > high:
        top = np.nextafter(top, np.asarray(-np.inf, dtype))
      value = np.clip(value, np.asarray(low, dtype), top)
    return results.Estimate(jnp.asarray(value, dtype), jnp.asarray(stderr[row], dtype), count)

  mi_input = estimate(1, 0.0, math.log(m))
  entropy = estimate(0)

  def remainder(mi, row):
    # h(T) - I from the (possibly clipped) I, so the identity holds exactly;
    # the stderr is that of the per-draw differences.
    return results.Estimate(entropy.nats - mi.nats, jnp.asarray(stderr[row], dtype), count)

  if problem.deterministic:
    conditional = results.Estimate.exact(jnp.asarray(h0, dtype))
  else:
    conditional = remainder(mi_input, 3)
  mi_label = label_conditional = None
  if problem.has_labels:
    mi_label = estimate(2, 0.0, problem.label_entropy)
    label_conditional = remainder(mi_label, 4)
  return results.LayerInformation(
    mi_input=mi_input,
    entropy=entropy,
    conditional_entropy=conditional,
    mi_label=mi_label,
    label_conditional_entropy=label_conditional,
    deterministic_given_x=problem.deterministic,
  )
