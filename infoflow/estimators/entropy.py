"""Differential entropy of Gaussian mixtures by Monte Carlo integration.

The object is the equal-weight mixture of n isotropic Gaussians

    g(y) = (1/n) sum_{i=1}^n N(y; c_i, beta^2 I_d),

the law of T = S + Z when S is drawn uniformly from the centres c_i and
Z ~ N(0, beta^2 I) (sample propagation, Goldfeld et al. 2019). Its entropy
h(g) = -E_g[log g(Y)] has no closed form and is computed by Monte Carlo.

Estimator. Draw i ~ Uniform{1..n} and z ~ N(0, I) i.i.d., set y = c_i + beta z.
Then -log g(y) = (d/2) log(2 pi beta^2) + ||z||^2/2 - log r(y) with

    r(y) = (1/n) sum_j exp(-(||y - c_j||^2 - beta^2 ||z||^2) / (2 beta^2)),

and since E||z||^2/2 = d/2 exactly, each draw's value

    v = (d/2) log(2 pi e beta^2) - log r(y)

has mean h(g). Replacing ||z||^2/2 by its mean is a control variate: it
removes the chi-square term, the largest source of variance (all of it for a
single centre), without bias. The estimate is the mean of the v over i.i.d.
draws and its standard error is their sample standard deviation / sqrt(k).
Draws are i.i.d. (not stratified over centres) so that this standard error is
exactly the one of the estimator, not a conservative bound.

Paths. log r is summed densely over all n centres (`infoflow.estimators.dense`) or,
for many centres and small beta, by the pruned evaluation (`infoflow.estimators.pruned`:
far groups of centres bounded, each log g certified within 1e-6 nats);
`method='auto'` chooses (`infoflow.estimators.groups.choose_method`). The number of
draws is fixed (`num_mc`) or adaptive (`target_stderr`, `infoflow.estimators.adaptive`),
and draws (or mixtures) can be split over a device mesh (`infoflow.estimators.sharding`).
The per-draw values of every path are in `infoflow.estimators.draws`.

All entropies are in nats (bits = nats / ln 2). Computations run in the
centres' floating dtype: float32 by default, float64 when JAX's x64 mode is
enabled and float64 centres are passed (float16 / bfloat16: float32, with a
warning). Arguments are checked by `infoflow.checks`; in particular a beta
below what the dtype resolves next to the centres' magnitude raises
(`infoflow.checks.check_beta_resolves`: beta >= ~1.3e-6 max ||c|| in
float32). Extreme magnitudes (beta outside [2^-20, 2^20], centres over 2^30
beta) are handled exactly by dividing centres and beta by a power of two p
and adding d log p.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from infoflow import checks
from infoflow.estimators import adaptive
from infoflow.estimators import density
from infoflow.estimators import draws
from infoflow.estimators import estimate as estimate_lib
from infoflow.estimators import groups as groups_lib
from infoflow.estimators import pruned
from infoflow.estimators import sharding

Estimate = estimate_lib.Estimate

DEFAULT_NUM_MC = 8192
DEFAULT_NUM_MC_PER_MIXTURE = 256
DEFAULT_TARGET_STDERR = adaptive.DEFAULT_TARGET_STDERR
# Adaptive runs: pilot batch and cap (per mixture for the batched form).
DEFAULT_PILOT = 2048
DEFAULT_MAX_MC = 1 << 20
DEFAULT_PILOT_PER_MIXTURE = 32
DEFAULT_MAX_MC_PER_MIXTURE = 4096
EntropyReport = adaptive.EntropyReport
gaussian_entropy = draws.gaussian_entropy
monte_carlo_draws = draws.monte_carlo_draws
entropy_draw_values = draws.entropy_draw_values


def _resolve_mesh(mesh, target, *arrays):
  """`sharding.resolve(mesh)`, but no mesh when called inside jit.

  Raises:
    ValueError: for a mesh or an adaptive target (host-side loops) in jit.
  """
  if checks.is_concrete(*arrays):
    return sharding.resolve(mesh)
  if mesh is not None or target is not None:
    raise ValueError(
      'mesh= and target_stderr= need concrete inputs: call '
      'the estimator outside jit (it jits its own work).'
    )
  return None


def _shifted(estimate, shift):
  if not shift:
    return estimate
  return Estimate(estimate.nats + shift, estimate.stderr, estimate.num_draws)


def mixture_entropy(
  key: jax.Array,
  centers,
  beta,
  *,
  num_mc: int | None = None,
  target_stderr: float | None = None,
  max_mc: int = DEFAULT_MAX_MC,
  method: str = 'auto',
  rounding_tolerance: float = 1e-3,
  prune_tolerance: float = pruned.DEFAULT_PRUNE_TOLERANCE,
  query_chunk: int = 512,
  center_chunk: int = 2048,
  mesh=None,
  return_report: bool = False,
):
  """Entropy h((1/n) sum_i N(c_i, beta^2 I)) in nats, by Monte Carlo.

  Args:
    key: a JAX PRNG key.
    centers: (n, d) mixture centres (e.g. samples of a layer's S).
    beta: the noise standard deviation (> 0), a scalar.
    num_mc: a fixed number of i.i.d. draws (DEFAULT_NUM_MC = 8192 when
      target_stderr is not given either).
    target_stderr: draw adaptively until the standard error is at most this
      many nats, at most `max_mc` draws (`infoflow.estimators.adaptive`).
      Give num_mc or target_stderr, not both.
    method: 'dense' (every kernel term), 'pruned' (far cells of centres
      bounded, each log g certified within `prune_tolerance`;
      `infoflow.estimators.pruned`) or 'auto' (`groups.choose_method`: pruned
      for >= 16384 centres with beta < spread / 10, when cells are sparse).
    rounding_tolerance: largest rounding error, in nats, allowed on a kernel
      exponent that matters (see `infoflow.estimators.dense`).
    prune_tolerance: certified truncation error of each log g, in nats.
    query_chunk, center_chunk: dense block sizes; peak memory is about
      4 * query_chunk * center_chunk numbers, independent of n and num_mc.
    mesh: a `jax.sharding.Mesh` to split the draws over; None: all local
      devices when there are several (`infoflow.estimators.sharding`).
    return_report: also return an `EntropyReport`.

  Returns:
    An `Estimate` (`.nats`, `.stderr`, `.bits`, `.num_draws`); with
    return_report, (Estimate, EntropyReport).

  Raises:
    ValueError: on bad centres (non-finite, empty, wrong rank), a bad beta
      (<= 0, non-finite, or too small for the centres' magnitude in their
      dtype: `checks.check_beta_resolves`), num_mc or max_mc < 2, both num_mc
      and target_stderr, a bad tolerance, a chunk size < 1, a bad method.
    infoflow.checks.ArgumentTypeError: (a TypeError and a ValueError) for a
      non-key key, non-numeric arguments, complex or string centres.
      float16 / bfloat16 centres are computed in float32 with a warning.
  """
  tolerances = dict(rounding_tolerance=rounding_tolerance, prune_tolerance=prune_tolerance)
  chunks = dict(query_chunk=query_chunk, center_chunk=center_chunk)
  plan = (num_mc, target_stderr, max_mc, DEFAULT_NUM_MC)
  return _pooled(key, centers, beta, 2, plan, method, tolerances, chunks, mesh, return_report)


def pooled_mixture_entropy(
  key: jax.Array,
  centers,
  beta,
  *,
  num_mc: int | None = None,
  target_stderr: float | None = None,
  max_mc: int = DEFAULT_MAX_MC,
  method: str = 'auto',
  rounding_tolerance: float = 1e-3,
  prune_tolerance: float = pruned.DEFAULT_PRUNE_TOLERANCE,
  mesh=None,
  return_report: bool = False,
):
  """Entropy of the pooled mixture of grouped centres, e.g. h(T_l), in nats.

  centers[x, r] is replica r of input x; the mixture is
  (1 / (m R)) sum_{x, r} N(centers[x, r], beta^2 I), and the replicas of one
  input are the groups of the pruned evaluation (at SZT scale, beta = 0.005
  and 4096 x 1000 centres, only a handful of groups matter per draw).

  Adaptive by default: without num_mc it draws until the standard error is
  at most target_stderr (default DEFAULT_TARGET_STDERR = 0.01 nats). Other
  arguments and the result are as in `mixture_entropy`.

  Args:
    key: a JAX PRNG key.
    centers: (m, R, d) grouped centres.
    beta: the noise standard deviation (> 0).
  """
  tolerances = dict(rounding_tolerance=rounding_tolerance, prune_tolerance=prune_tolerance)
  plan = (num_mc, target_stderr, max_mc, None)
  return _pooled(key, centers, beta, 3, plan, method, tolerances, None, mesh, return_report)


def _pooled(key, centers, beta, rank, plan, method, tolerances, chunks, mesh, return_report):
  """Checks and rescales the arguments of `mixture_entropy` and
  `pooled_mixture_entropy` (chunks None: the default sizes, unchecked), runs
  `_pooled_draws` and shifts the estimate back by d log p."""
  centers, beta, shift = density.rescaled_inputs(
    key, centers, beta, rank, **tolerances, **(chunks or {})
  )
  chunks = chunks or dict(query_chunk=512, center_chunk=2048)
  result = _pooled_draws(
    key, centers, beta, plan, method, mesh, return_report, **tolerances, **chunks
  )
  if return_report:
    return _shifted(result[0], shift), result[1]
  return _shifted(result, shift)


def _pooled_draws(
  key,
  centers,
  beta,
  plan,
  method,
  mesh,
  return_report,
  *,
  rounding_tolerance,
  prune_tolerance,
  query_chunk,
  center_chunk,
):
  """The driver behind `mixture_entropy` and `pooled_mixture_entropy`."""
  num_mc, target = adaptive.plan(*plan)
  mesh = _resolve_mesh(mesh, target, centers, beta, key)
  method, groups = groups_lib.choose_method(method, centers, beta, prune_tolerance)
  flat = centers.reshape(-1, centers.shape[-1])
  if method == 'dense' and target is None and mesh is None and not return_report:
    # The original single-jit path (also usable inside jit).
    return _mixture_entropy(key, flat, beta, num_mc, rounding_tolerance, query_chunk, center_chunk)
  n, dim = flat.shape
  beta = jnp.asarray(beta, flat.dtype)
  infos = []

  def draw_batch(batch_key, size):
    owner, z = draws.jitted_draws(batch_key, n, dim, size, flat.dtype)
    if method == 'pruned':
      values, _, info = draws.pruned_draw_values(
        groups, beta, owner, z, prune_tolerance=prune_tolerance, mesh=mesh
      )
      infos.append((size, info))
      return values
    args = (flat, beta, owner, z, jnp.asarray(rounding_tolerance, flat.dtype))
    return draws.dense_draw_values(
      *sharding.replicate(args, mesh), mesh=mesh, query_chunk=query_chunk, center_chunk=center_chunk
    )

  max_mc = plan[2]
  estimate = adaptive.run(
    draw_batch, key, num_mc, target, pilot=min(DEFAULT_PILOT, max_mc), max_draws=max_mc
  )
  if not return_report:
    return estimate
  info = adaptive.merge_infos(infos) if infos else None
  return estimate, EntropyReport(
    method, int(estimate.num_draws), info.mean_error if info else 0.0, info
  )


@functools.partial(jax.jit, static_argnums=(3, 5, 6))
def _mixture_entropy(key, centers, beta, num_mc, rounding_tolerance, query_chunk, center_chunk):
  owner, z = monte_carlo_draws(key, centers.shape[0], centers.shape[1], num_mc, centers.dtype)
  values = entropy_draw_values(
    centers,
    beta,
    owner,
    z,
    rounding_tolerance=rounding_tolerance,
    query_chunk=query_chunk,
    center_chunk=center_chunk,
  )
  return estimate_lib.from_draws(values)


def mixture_entropies(
  key: jax.Array,
  centers,
  beta,
  *,
  num_mc: int | None = None,
  target_stderr: float | None = None,
  max_mc: int = DEFAULT_MAX_MC_PER_MIXTURE,
  rounding_tolerance: float = 1e-3,
  mixture_chunk: int = 64,
  mesh=None,
) -> Estimate:
  """Entropies of m small mixtures at once, e.g. h(T | X = x) for every x.

  Mixture a is (1/r) sum_i N(centers[a, i], beta^2 I). Each gets the same
  number of i.i.d. draws of its own.

  Args:
    key: a JAX PRNG key.
    centers: (m, r, d) centres: r samples for each of m mixtures.
    beta: the noise standard deviation (> 0).
    num_mc: a fixed number of Monte Carlo draws per mixture (default
      DEFAULT_NUM_MC_PER_MIXTURE = 256 when target_stderr is not given).
    target_stderr: draw adaptively (batches of draws for every mixture)
      until the standard error of the batch MEAN, `.mean().stderr` (what
      I(X;T) uses), is at most this many nats; at most `max_mc` draws per
      mixture. Individual estimates are then noisier than the mean.
    rounding_tolerance: as in `mixture_entropy`.
    mixture_chunk: mixtures per block; peak memory ~ mixture_chunk * num_mc * r.
    mesh: a `jax.sharding.Mesh` to split the mixtures over (see
      `infoflow.estimators.sharding.resolve`).

  Returns:
    An `Estimate` whose fields have shape (m,). `.mean()` gives the average
    entropy with its standard error.
  """
  centers, beta, shift = density.rescaled_inputs(
    key, centers, beta, 3, rounding_tolerance=rounding_tolerance, mixture_chunk=mixture_chunk
  )
  num_mc, target = adaptive.plan(num_mc, target_stderr, max_mc, DEFAULT_NUM_MC_PER_MIXTURE)
  mesh = _resolve_mesh(mesh, target, centers, beta, key)
  estimate = _batched_draws(
    key, centers, beta, num_mc, target, max_mc, rounding_tolerance, mixture_chunk, mesh
  )
  return _shifted(estimate, shift)


def _batched_draws(
  key, centers, beta, num_mc, target, max_mc, rounding_tolerance, mixture_chunk, mesh
):
  """The adaptive (or fixed) run of batched draws behind `mixture_entropies`."""

  def draw_batch(batch_key, size):
    args = (
      batch_key,
      centers,
      jnp.asarray(beta, centers.dtype),
      jnp.asarray(rounding_tolerance, centers.dtype),
    )
    return draws.batched_draw_values(
      *sharding.replicate(args, mesh), num_mc=size, mixture_chunk=mixture_chunk, mesh=mesh
    )

  return adaptive.run(
    draw_batch,
    key,
    num_mc,
    target,
    pilot=max(2, min(DEFAULT_PILOT_PER_MIXTURE, max_mc)),
    max_draws=max_mc,
    summary=lambda est: est.mean(),
  )


mixture_entropy_bounds = density.mixture_entropy_bounds
log_mixture_density = density.log_mixture_density
