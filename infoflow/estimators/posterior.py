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

Stratified draws. The draws come in blocks of BLOCK, each a stratified
sample over the inputs (`infoflow.estimators.draws.stratified_draws`): the
inputs are ordered along a space-filling curve of their mean samples, cut
into strata of equal probability, and each stratum gets two draws. Every
draw is still t ~ g, so the estimand is unchanged, but the variance between
inputs (most of it: inputs in crowded regions have larger H(X | T=t)) drops
out of the error. The standard errors come from the pairs
(`infoflow.estimators.draws.paired_variance`).

Precision. By default blocks of draws are added until the standard errors
of I(X;T) and I(T;Y) are at most 0.02 and 0.005 nats, up to a cap (then a
`RuntimeWarning` names the precision reached). Every block has the same
shape, so one compiled program serves every layer of a width, every
analysed epoch and every seed.
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
from infoflow.estimators import adaptive
from infoflow.estimators import draws as draws_lib
from infoflow.estimators import posterior_passes as passes
from infoflow.estimators import posterior_setup as setup
from infoflow.estimators import posterior_sums as sums
from infoflow.estimators import pruned as pruned_lib
from infoflow.estimators import sharding
from infoflow.estimators.estimate import Estimate
from infoflow.estimators.layer import LayerInformation

DEFAULT_TARGET_MI_INPUT = 0.02
DEFAULT_TARGET_MI_LABEL = 0.005
DEFAULT_PILOT = 2048
BLOCK = 2048  # draws per jitted batch
DEFAULT_MAX_MC = 1 << 18
# Rows of the per-draw value matrix.
_ROWS = ('entropy', 'mi_input', 'mi_label', 'conditional_entropy', 'label_conditional_entropy')


@dataclasses.dataclass(frozen=True)
class PosteriorReport:
  """How a posterior-form estimate was computed (host-side numbers).

  Attributes:
    method: 'dense' (blocks of draws against every chunk of inputs that can
      matter; the far chunks bounded) or 'pruned' (per draw).
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


@functools.partial(jax.jit, static_argnames=('num_inputs', 'num_centers', 'deterministic'))
def _values(log_sum, h_x, h_y, h0, label_entropy, *, num_inputs, num_centers, deterministic):
  """(5, k) per-draw values, rows as in `_ROWS`."""
  mi_input = math.log(num_inputs) - jnp.minimum(h_x, math.log(num_inputs))
  mi_label = label_entropy - h_y
  if deterministic:
    entropy = mi_input + h0
  else:
    entropy = h0 - (log_sum - math.log(num_centers))
  return jnp.stack([entropy, mi_input, mi_label, entropy - mi_input, entropy - mi_label])


def posterior_information(
  key: jax.Array,
  samples,
  beta,
  *,
  labels=None,
  num_classes: int | None = None,
  deterministic_given_x: bool | None = None,
  num_mc: int | None = None,
  target_stderr_mi_input: float = DEFAULT_TARGET_MI_INPUT,
  target_stderr_mi_label: float = DEFAULT_TARGET_MI_LABEL,
  max_mc: int = DEFAULT_MAX_MC,
  method: str = 'auto',
  prune_tolerance: float = pruned_lib.DEFAULT_PRUNE_TOLERANCE,
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
    num_mc: a fixed number of draws (>= 2, rounded up to even: the draws
      come in stratified pairs); default adaptive.
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
  samples, labels, num_classes, ratio = setup.check_arguments(
    key, samples, beta, labels, num_classes, num_mc, targets, max_mc, prune_tolerance
  )
  # Entropies shift by d log p when samples and beta are divided by p.
  beta, (samples,), log_scale = checks.rescale_to_beta(ratio, beta, samples)
  problem = _make_problem(
    samples, beta, labels, num_classes, deterministic_given_x, method, prune_tolerance, mesh
  )
  run = _run_draws(problem, key, num_mc, targets, max_mc)
  info = _assemble(problem, run, log_scale)
  return (info, _report(problem, run)) if return_report else info


def _make_problem(
  samples, beta, labels, num_classes, deterministic_given_x, method, prune_tolerance, mesh
):
  """The `_Problem` of checked, rescaled samples (replicas compared when
  deterministic_given_x is None).

  Identical replicas are kept once: g_x = N(s_x, beta^2 I) is the same
  mixture, at 1/R of the cost (the first hidden layer).
  """
  identical = bool(jnp.all(samples == samples[:, :1]))
  if deterministic_given_x is None:
    deterministic_given_x = identical
  if identical:
    samples = samples[:, :1]
  layout, method, label_entropy = setup.prepare(
    samples, beta, labels, num_classes, method, prune_tolerance
  )
  return _Problem(
    samples,
    float(beta),
    layout,
    method,
    prune_tolerance,
    sharding.resolve(mesh),
    label_entropy,
    num_classes,
    labels is not None,
    bool(deterministic_given_x),
  )


def _report(problem, run) -> PosteriorReport:
  """The `PosteriorReport` of a finished run: mean truncation bounds."""
  count = run.moments.count
  bounds = run.bounds / count
  return PosteriorReport(
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


@dataclasses.dataclass(frozen=True)
class _Problem:
  """What every batch of draws needs (host-side bookkeeping)."""

  samples: jax.Array
  beta: float
  layout: passes.Layout
  method: str
  prune_tolerance: float
  mesh: object
  label_entropy: float
  num_classes: int
  has_labels: bool
  deterministic: bool


@dataclasses.dataclass
class _Run:
  """The merged results of the batches of draws."""

  moments: adaptive.StratifiedMoments
  bounds: np.ndarray
  refined: int = 0
  dense: int = 0
  targets_met: bool = True


def _run_draws(problem: _Problem, key, num_mc, targets, max_mc) -> _Run:
  """Blocks of stratified draws until the targets (or num_mc, or max_mc).

  Block i uses fold_in(key, i) (the first: key itself) and has BLOCK draws
  (fewer only for a short total), so one compiled shape serves every layer
  of a width, every epoch and every seed. After the pilot, the draws still
  needed are estimated from the measured variance and drawn in one go.
  """
  total = 2 * ((num_mc + 1) // 2) if num_mc else 2 * (max_mc // 2)
  goal = total if num_mc else min(DEFAULT_PILOT, total)
  run, index = _Run(adaptive.StratifiedMoments(), np.zeros(3)), 0
  while True:
    while run.moments.count < goal:
      size = min(BLOCK, goal - run.moments.count)
      _add_block(problem, run, key if index == 0 else jax.random.fold_in(key, index), size)
      index += 1
    stderr = run.moments.stderr()
    ratio = max(stderr[1] / targets[0], stderr[2] / targets[1] if problem.has_labels else 0.0)
    if num_mc or ratio <= 1 or run.moments.count >= total:
      break
    needed = math.ceil(run.moments.count * ratio**2 * 1.05)
    goal = min(total, max(goal + 2, -(-needed // BLOCK) * BLOCK))
  run.targets_met = bool(num_mc) or ratio <= 1
  if not run.targets_met:
    warnings.warn(
      f'posterior_information stopped at max_mc = {run.moments.count} '
      f'draws: stderr of I(X;T) {stderr[1]:.3g} nats (target '
      f'{targets[0]:.3g})'
      + (
        f', of I(T;Y) {stderr[2]:.3g} nats (target {targets[1]:.3g})' if problem.has_labels else ''
      )
      + '.',
      RuntimeWarning,
      stacklevel=3,
    )
  return run


def _add_block(problem: _Problem, run: _Run, key, size: int) -> None:
  """Draws one block of `size` stratified draws and merges it into `run`."""
  m, r, dim = problem.samples.shape
  (log_sum, h_x, h_y, err), refined, dense = passes.draw_batch(
    key,
    size,
    problem.samples,
    problem.beta,
    problem.layout,
    problem.method,
    problem.prune_tolerance,
    problem.mesh,
  )
  values = _values(
    log_sum,
    h_x,
    h_y,
    0.5 * dim * math.log(2 * math.pi * math.e * problem.beta**2),
    problem.label_entropy,
    num_inputs=m,
    num_centers=m * r,
    deterministic=problem.deterministic,
  )
  run.moments.add(size, *draws_lib.paired_variance(values))
  run.bounds += sums.shift_bounds(err, m, problem.num_classes)
  run.refined, run.dense = run.refined + refined, run.dense + dense


def _assemble(problem: _Problem, run: _Run, log_scale) -> LayerInformation:
  """The `LayerInformation` of the merged per-draw moments.

  d log p (`log_scale`) is added to the entropies of samples rescaled by p.
  """
  m, _, dim = problem.samples.shape
  dtype = problem.samples.dtype
  mean, stderr, count = run.moments.mean, run.moments.stderr(), run.moments.count
  shift = dim * log_scale
  h0 = 0.5 * dim * math.log(2 * math.pi * math.e * problem.beta**2) + shift
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
    return Estimate(jnp.asarray(value, dtype), jnp.asarray(stderr[row], dtype), count)

  mi_input = estimate(1, 0.0, math.log(m))
  entropy = estimate(0)

  def remainder(mi, row):
    # h(T) - I from the (possibly clipped) I, so the identity holds exactly;
    # the stderr is that of the per-draw differences.
    return Estimate(entropy.nats - mi.nats, jnp.asarray(stderr[row], dtype), count)

  if problem.deterministic:
    conditional = Estimate.exact(jnp.asarray(h0, dtype))
  else:
    conditional = remainder(mi_input, 3)
  mi_label = label_conditional = None
  if problem.has_labels:
    mi_label = estimate(2, 0.0, problem.label_entropy)
    label_conditional = remainder(mi_label, 4)
  return LayerInformation(
    mi_input=mi_input,
    entropy=entropy,
    conditional_entropy=conditional,
    mi_label=mi_label,
    label_conditional_entropy=label_conditional,
    deterministic_given_x=problem.deterministic,
  )
