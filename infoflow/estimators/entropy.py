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
from infoflow.estimators import dense
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
_OWN_TERM_FLOOR = draws.OWN_TERM_FLOOR
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


def _check_inputs(key, centers, beta, rank, **options):
  """Checks the common arguments; returns (centers, C / beta or None).

  Draw-based estimators (key given) need beta to survive the rounding of
  c + beta z (`checks.check_beta_resolves`); the others only need the
  dtype's range (`checks.check_beta_range`).
  """
  if key is not None:
    checks.check_key(key)
  shape = '(n, d)' if rank == 2 else '(m, R, d)'
  centers = jnp.asarray(checks.check_float_array(centers, 'centers', rank=rank, shape=shape))
  checks.check_positive_scalar(beta, 'beta')
  for name, value in options.items():
    if name.endswith('tolerance'):
      checks.check_positive_scalar(value, name)
    else:
      checks.check_count(value, name)
  if key is None:
    return centers, checks.check_beta_range(centers, beta)
  return centers, checks.check_beta_resolves(
    centers, beta, rounding_tolerance=options['rounding_tolerance']
  )


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
      many nats (e.g. DEFAULT_TARGET_STDERR = 0.01), at most `max_mc` draws
      (`infoflow.estimators.adaptive`). Give num_mc or target_stderr, not both.
    method: 'dense' (every kernel term), 'pruned' (k-d cells of centres;
      far cells bounded, each log g certified within `prune_tolerance`; see
      `infoflow.estimators.pruned`) or 'auto' (`infoflow.estimators.groups.choose_method`: pruned
      for >= 16384 centres with beta < spread / 10, when cells are sparse).
    rounding_tolerance: largest rounding error, in nats, allowed on a kernel exponent
      that matters (see `infoflow.estimators.dense`).
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
    ValueError: on non-finite or empty centres, a wrong rank, beta <= 0 or
      non-finite, beta too small for the centres' magnitude in their dtype
      (`infoflow.checks.check_beta_resolves`), num_mc < 2 or max_mc < 2,
      both num_mc and target_stderr, a tolerance <= 0 or non-finite, a
      chunk size < 1, a bad method.
    infoflow.checks.ArgumentTypeError: (a TypeError and a ValueError) for
      a key that is not a PRNG key, non-numeric beta or arguments, complex
      or string centres. float16 / bfloat16 centres are computed in float32
      with a warning.
  """
  centers, ratio = _check_inputs(
    key,
    centers,
    beta,
    2,
    rounding_tolerance=rounding_tolerance,
    prune_tolerance=prune_tolerance,
    query_chunk=query_chunk,
    center_chunk=center_chunk,
  )
  beta, (centers,), log_scale = checks.rescale_to_beta(ratio, beta, centers)
  result = _pooled(
    key,
    centers,
    beta,
    num_mc,
    target_stderr,
    max_mc,
    method,
    rounding_tolerance,
    prune_tolerance,
    query_chunk,
    center_chunk,
    mesh,
    return_report,
    DEFAULT_NUM_MC,
  )
  return _report_shifted(result, centers.shape[-1] * log_scale, return_report)


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
  centers, ratio = _check_inputs(
    key, centers, beta, 3, rounding_tolerance=rounding_tolerance, prune_tolerance=prune_tolerance
  )
  beta, (centers,), log_scale = checks.rescale_to_beta(ratio, beta, centers)
  result = _pooled(
    key,
    centers,
    beta,
    num_mc,
    target_stderr,
    max_mc,
    method,
    rounding_tolerance,
    prune_tolerance,
    512,
    2048,
    mesh,
    return_report,
    None,
  )
  return _report_shifted(result, centers.shape[-1] * log_scale, return_report)


def _report_shifted(result, shift, return_report):
  if return_report:
    return _shifted(result[0], shift), result[1]
  return _shifted(result, shift)


def _pooled(
  key,
  centers,
  beta,
  num_mc,
  target_stderr,
  max_mc,
  method,
  rounding_tolerance,
  prune_tolerance,
  query_chunk,
  center_chunk,
  mesh,
  return_report,
  default_num,
):
  """The driver behind `mixture_entropy` and `pooled_mixture_entropy`."""
  num_mc, target = adaptive.plan(num_mc, target_stderr, max_mc, default_num)
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
  centers, ratio = _check_inputs(
    key, centers, beta, 3, rounding_tolerance=rounding_tolerance, mixture_chunk=mixture_chunk
  )
  beta, (centers,), log_scale = checks.rescale_to_beta(ratio, beta, centers)
  num_mc, target = adaptive.plan(num_mc, target_stderr, max_mc, DEFAULT_NUM_MC_PER_MIXTURE)
  mesh = _resolve_mesh(mesh, target, centers, beta, key)

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

  estimate = adaptive.run(
    draw_batch,
    key,
    num_mc,
    target,
    pilot=max(2, min(DEFAULT_PILOT_PER_MIXTURE, max_mc)),
    max_draws=max_mc,
    summary=lambda est: est.mean(),
  )
  return _shifted(estimate, centers.shape[-1] * log_scale)


def mixture_entropy_bounds(
  centers,
  beta,
  *,
  rounding_tolerance: float = 1e-3,
  query_chunk: int = 512,
  center_chunk: int = 2048,
) -> tuple[jax.Array, jax.Array]:
  """Kolchinsky-Tracey bounds on the mixture entropy, in nats.

  With D_ij = ||c_i - c_j||^2 and H0 = (d/2) log(2 pi e beta^2):

    upper = H0 - (1/n) sum_i log((1/n) sum_j exp(-D_ij / (2 beta^2)))   (KL)
    lower = H0 - (1/n) sum_i log((1/n) sum_j exp(-D_ij / (8 beta^2)))
                                                            (Bhattacharyya)

  Exact pairwise sums, chunked like `mixture_entropy` (O(n^2) work).

  Args:
    centers: (n, d) centres.
    beta: noise standard deviation (> 0).

  Returns:
    (lower, upper), scalars in nats.
  """
  centers, ratio = _check_inputs(
    None,
    centers,
    beta,
    2,
    rounding_tolerance=rounding_tolerance,
    query_chunk=query_chunk,
    center_chunk=center_chunk,
  )
  beta, (centers,), log_scale = checks.rescale_to_beta(ratio, beta, centers)
  shift = centers.shape[-1] * log_scale
  lower, upper = _bounds(centers, beta, rounding_tolerance, query_chunk, center_chunk)
  return lower + shift, upper + shift


@functools.partial(jax.jit, static_argnums=(3, 4))
def _bounds(centers, beta, rounding_tolerance, query_chunk, center_chunk):
  n, dim = centers.shape
  dtype = centers.dtype
  beta = jnp.asarray(beta, dtype)
  zeros = jnp.zeros((n,), dtype)
  # The self term exp(0) = 1 makes -1 a safe floor for every row.
  floor = jnp.full((n,), _OWN_TERM_FLOOR, dtype)
  kwargs = dict(
    rounding_tolerance=rounding_tolerance, query_chunk=query_chunk, center_chunk=center_chunk
  )
  h0 = gaussian_entropy(dim, beta)
  # exp(-D / (8 beta^2)) is the kernel of scale 2 beta.
  lower = h0 - jnp.mean(dense.log_mean_kernel(centers, centers, 2 * beta, zeros, floor, **kwargs))
  upper = h0 - jnp.mean(dense.log_mean_kernel(centers, centers, beta, zeros, floor, **kwargs))
  return lower, upper


def log_mixture_density(queries, centers, beta, *, rounding_tolerance: float = 1e-3) -> jax.Array:
  """log g(y) for each query y, with g = (1/n) sum_j N(c_j, beta^2 I).

  Args:
    queries: (q, d) points.
    centers: (n, d) centres.
    beta: noise standard deviation (> 0).

  Returns:
    (q,) log-densities in nats.
  """
  centers, _ = _check_inputs(None, centers, beta, 2, rounding_tolerance=rounding_tolerance)
  queries = jnp.asarray(
    checks.check_float_array(queries, 'queries', rank=2, shape='(q, d)')
  ).astype(centers.dtype)
  if queries.shape[1] != centers.shape[1]:
    raise ValueError(
      f'queries have dimension {queries.shape[1]} but centers have {centers.shape[1]}.'
    )
  ratio = checks.check_beta_range(
    jnp.concatenate([queries, centers]), beta, points_name='queries and centers'
  )
  beta, (queries, centers), log_scale = checks.rescale_to_beta(ratio, beta, queries, centers)
  dim = centers.shape[1]
  beta = jnp.asarray(beta, centers.dtype)
  return (
    dense.log_mean_kernel(queries, centers, beta, rounding_tolerance=rounding_tolerance)
    - 0.5 * dim * jnp.log(2 * jnp.pi * beta**2)
    - dim * log_scale
  )
