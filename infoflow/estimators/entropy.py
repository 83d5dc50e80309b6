"""Entropies and log-densities of Gaussian mixtures (the public entry points).

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
single centre), without bias. The estimate is the mean of the v over the
draws, with its standard error (`infoflow.estimators._src.montecarlo`).

Three estimators. `mixture_entropy` (n, d) centres: i.i.d. draws, log r
summed densely over all n centres (`infoflow.estimators._src.dense`) or, for
many centres and small beta, by the pruned evaluation
(`infoflow.estimators._src.pruned`: far cells of centres bounded, each log g
certified within 1e-6 nats); `method='auto'` chooses
(`infoflow.estimators._src.groups.choose_method`). `pooled_mixture_entropy`
(m, R, d) grouped centres: the posterior pass of
`infoflow.estimators.posterior` without labels (stratified draws over the m
groups, the same kernels and the same h(T) as `posterior_information`).
`mixture_entropies`: m small mixtures at once (i.i.d. draws of each). All
three run the one Monte Carlo loop (fixed `num_mc` or adaptive to
`target_stderr`), and split draws (or mixtures) over a device mesh
(`infoflow.estimators._src.sharding`). The per-draw values are in
`infoflow.estimators._src.draws`.

Exact quantities. `mixture_entropy_bounds` (Kolchinsky-Tracey bounds from
every pair of centres), `log_mixture_density` (log g at given points, every
term summed) and `pruned_log_mixture_density` (certified pruned log g).

All entropies are in nats (bits = nats / ln 2). Computations run in the
centres' floating dtype: float32 by default, float64 when JAX's x64 mode is
enabled and float64 centres are passed (float16 / bfloat16: float32, with a
warning). Arguments are checked by `infoflow.checks`; in particular a beta
below what the dtype resolves next to the centres' magnitude raises
(`infoflow.scales.check_beta_resolves`: beta >= ~1.3e-6 max ||c|| in
float32). Extreme magnitudes (beta outside [2^-20, 2^20], centres over 2^30
beta) are handled exactly by dividing centres and beta by a power of two p
and adding d log p.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from infoflow import checks
from infoflow import scales
from infoflow.estimators import results
from infoflow.estimators._src import dense
from infoflow.estimators._src import draws
from infoflow.estimators._src import groups as groups_lib
from infoflow.estimators._src import montecarlo
from infoflow.estimators._src import posterior_pass
from infoflow.estimators._src import pruned
from infoflow.estimators._src import sharding

DEFAULT_NUM_MC = 8192
DEFAULT_NUM_MC_PER_MIXTURE = 256
# Adaptive runs of `mixture_entropies`: draws per block (the pilot) and cap,
# per mixture.
BLOCK_PER_MIXTURE = 32
DEFAULT_MAX_MC_PER_MIXTURE = 4096
gaussian_entropy = draws.gaussian_entropy


def _check_inputs(key, centers, beta, rank, **options):
  """Checks the common arguments; returns (centers, C / beta or None).

  Draw-based estimators (key given) need beta to survive the rounding of
  c + beta z (`scales.check_beta_resolves`); the others only need the
  dtype's range (`scales.check_beta_range`).
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
    return centers, scales.check_beta_range(centers, beta)
  return centers, scales.check_beta_resolves(
    centers, beta, rounding_tolerance=options['rounding_tolerance']
  )


def _rescaled_inputs(key, centers, beta, rank, **options):
  """`_check_inputs`, then centres and beta divided by a power of two p when
  needed (`scales.rescale_to_beta`); returns (centers, beta, d log p), the
  last to be added to entropies."""
  centers, ratio = _check_inputs(key, centers, beta, rank, **options)
  beta, (centers,), log_scale = scales.rescale_to_beta(ratio, beta, centers)
  return centers, beta, centers.shape[-1] * log_scale


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
  return results.Estimate(estimate.nats + shift, estimate.stderr, estimate.num_draws)


def mixture_entropy(
  key: jax.Array,
  centers,
  beta,
  *,
  num_mc: int | None = None,
  target_stderr: float | None = None,
  max_mc: int = montecarlo.DEFAULT_MAX_MC,
  method: str = 'auto',
  rounding_tolerance: float = scales.RESOLUTION_TOLERANCE,
  prune_tolerance: float = groups_lib.DEFAULT_PRUNE_TOLERANCE,
  query_chunk: int = 512,
  center_chunk: int = 2048,
  mesh=None,
  return_report: bool = False,
):
  """Entropy h((1/n) sum_i N(c_i, beta^2 I)) in nats, by Monte Carlo.

  Blocks of montecarlo.BLOCK i.i.d. draws (block i with fold_in(key, i),
  block 0 with key), their moments merged (`montecarlo.run`).

  Args:
    key: a JAX PRNG key.
    centers: (n, d) mixture centres (e.g. samples of a layer's S).
    beta: the noise standard deviation (> 0), a scalar.
    num_mc: a fixed number of i.i.d. draws, rounded up to even, at most
      montecarlo.MAX_DRAWS = 2^30 (DEFAULT_NUM_MC = 8192 when target_stderr
      is not given either).
    target_stderr: draw adaptively until the standard error is at most this
      many nats, at most `max_mc` draws. Give num_mc or target_stderr, not
      both.
    method: 'dense' (every kernel term), 'pruned' (far cells of centres
      bounded, each log g certified within `prune_tolerance`) or 'auto'
      (`groups.choose_method`: pruned for >= 16384 centres with beta <
      spread / 10, when cells are sparse).
    rounding_tolerance: largest rounding error, in nats, allowed on a kernel
      exponent that matters (see `infoflow.estimators._src.dense`).
    prune_tolerance: certified truncation error of each log g, in nats.
    query_chunk, center_chunk: dense block sizes; peak memory is about
      4 * query_chunk * center_chunk numbers, independent of n and num_mc.
    mesh: a `jax.sharding.Mesh` to split the draws over; None: all local
      devices when there are several (`infoflow.estimators._src.sharding`).
    return_report: also return an `EntropyReport`.

  Returns:
    An `Estimate` (`.nats`, `.stderr`, `.bits`, `.num_draws`); with
    return_report, (Estimate, EntropyReport).

  Raises:
    ValueError: on bad centres (non-finite, empty, wrong rank), a bad beta
      (<= 0, non-finite, or too small for the centres' magnitude in their
      dtype: `scales.check_beta_resolves`), num_mc or max_mc outside
      [2, MAX_DRAWS], both num_mc
      and target_stderr, a bad tolerance, a chunk size < 1, a bad method.
    infoflow.checks.ArgumentTypeError: (a TypeError and a ValueError) for a
      non-key key, non-numeric arguments, complex or string centres.
      float16 / bfloat16 centres are computed in float32 with a warning.
  """
  centers, beta, shift = _rescaled_inputs(
    key,
    centers,
    beta,
    2,
    rounding_tolerance=rounding_tolerance,
    prune_tolerance=prune_tolerance,
    query_chunk=query_chunk,
    center_chunk=center_chunk,
  )
  num_mc, target = montecarlo.plan(num_mc, target_stderr, max_mc, DEFAULT_NUM_MC)
  mesh = _resolve_mesh(mesh, target, centers, beta, key)
  method, groups = groups_lib.choose_method(method, centers, beta, prune_tolerance)
  n, dim = centers.shape
  beta = jnp.asarray(beta, centers.dtype)
  # The pruned path's host float (same rounded value): synced once, not per block.
  host_beta = float(beta) if method == 'pruned' else None
  pruned_runs = []
  # Placed once per call, not per block: only the draws change.
  placed_centers, placed_beta, placed_tolerance = sharding.replicate(
    (centers, beta, jnp.asarray(rounding_tolerance, centers.dtype)), mesh
  )

  def draw_block(block_key, size):
    owner, z = draws.jitted_draws(block_key, n, dim, size, centers.dtype)
    if method == 'pruned':
      values, _, info = draws.pruned_draw_values(
        groups, host_beta, owner, z, prune_tolerance=prune_tolerance, mesh=mesh
      )
      pruned_runs.append((size, info))
      return values
    owner, z = sharding.replicate((owner, z), mesh)
    return draws.dense_draw_values(
      placed_centers,
      placed_beta,
      owner,
      z,
      placed_tolerance,
      mesh=mesh,
      query_chunk=query_chunk,
      center_chunk=center_chunk,
    )

  moments, met = montecarlo.run(
    draw_block,
    key,
    num_mc=num_mc,
    targets=(target,),
    max_mc=max_mc,
    block=montecarlo.BLOCK,
    paired=False,
    monitor=lambda moments: [moments.stderr()],
    name='mixture_entropy',
    labels=('h',),
  )
  estimate = _shifted(moments.estimate(centers.dtype), shift)
  if not return_report:
    return estimate
  count = moments.count
  return estimate, results.EntropyReport(
    method,
    count,
    sum(size * info.mean_error for size, info in pruned_runs) / count,
    sum(info.num_refined for _, info in pruned_runs),
    sum(info.num_dense for _, info in pruned_runs),
    met,
  )


def pooled_mixture_entropy(
  key: jax.Array,
  centers,
  beta,
  *,
  num_mc: int | None = None,
  target_stderr: float | None = None,
  max_mc: int = montecarlo.DEFAULT_MAX_MC,
  method: str = 'auto',
  rounding_tolerance: float = scales.RESOLUTION_TOLERANCE,
  prune_tolerance: float = groups_lib.DEFAULT_PRUNE_TOLERANCE,
  mesh=None,
  return_report: bool = False,
):
  """Entropy of the pooled mixture of grouped centres, e.g. h(T_l), in nats.

  centers[x, r] is replica r of input x; the mixture is
  (1 / (m R)) sum_{x, r} N(centers[x, r], beta^2 I). It is the posterior
  pass of `infoflow.estimators.posterior` without labels: blocks of
  montecarlo.BLOCK draws stratified over the m groups, each draw's
  log g summed over every group that can matter (far chunks of groups
  bounded) or, for many centres and small beta, over the top candidate
  groups (pruned; at SZT scale, beta = 0.005 and 4096 x 1000 centres, only a
  handful of groups matter per draw), every log g certified within
  prune_tolerance. The same key and samples give the h(T) of
  `posterior_information` on a layer that is not deterministic given X.

  Adaptive by default: without num_mc it draws until the standard error is
  at most target_stderr (default 0.01 nats). Other arguments and the result
  are as in `mixture_entropy`; needs concrete inputs (it is a host-side
  loop: call it outside jit).

  Args:
    key: a JAX PRNG key.
    centers: (m, R, d) grouped centres.
    beta: the noise standard deviation (> 0).
  """
  centers, beta, shift = _rescaled_inputs(
    key, centers, beta, 3, rounding_tolerance=rounding_tolerance, prune_tolerance=prune_tolerance
  )
  num_mc, target = montecarlo.plan(num_mc, target_stderr, max_mc, None)
  checks.check_concrete('pooled_mixture_entropy', centers, beta, key)
  problem = posterior_pass.make_problem(
    centers, beta, None, 1, False, method, prune_tolerance, rounding_tolerance, mesh
  )
  run = posterior_pass.run(
    problem, key, num_mc, {'entropy': target}, max_mc, 'pooled_mixture_entropy'
  )
  # Row 0 of the posterior pass is h(T); d log p added in float64, as there.
  moments, dtype = run.moments, centers.dtype
  estimate = results.Estimate(
    jnp.asarray(moments.mean[0] + shift, dtype),
    jnp.asarray(moments.stderr()[0], dtype),
    jnp.asarray(moments.count, jnp.int32),
  )
  if not return_report:
    return estimate
  return estimate, results.EntropyReport(
    problem.method,
    run.moments.count,
    float(run.bounds[0] / run.moments.count),
    run.refined,
    run.dense,
    run.targets_met,
  )


def mixture_entropies(
  key: jax.Array,
  centers,
  beta,
  *,
  num_mc: int | None = None,
  target_stderr: float | None = None,
  max_mc: int = DEFAULT_MAX_MC_PER_MIXTURE,
  rounding_tolerance: float = scales.RESOLUTION_TOLERANCE,
  mixture_chunk: int = 64,
  mesh=None,
) -> results.Estimate:
  """Entropies of m small mixtures at once, e.g. h(T | X = x) for every x.

  Mixture a is (1/r) sum_i N(centers[a, i], beta^2 I). Each gets the same
  number of i.i.d. draws of its own, in blocks of BLOCK_PER_MIXTURE draws
  per mixture (`montecarlo.run`).

  Args:
    key: a JAX PRNG key.
    centers: (m, r, d) centres: r samples for each of m mixtures.
    beta: the noise standard deviation (> 0).
    num_mc: a fixed number of Monte Carlo draws per mixture, rounded up to
      even (default DEFAULT_NUM_MC_PER_MIXTURE = 256 when target_stderr is
      not given).
    target_stderr: draw adaptively (blocks of draws for every mixture)
      until the standard error of the batch MEAN, `.mean().stderr` (what
      I(X;T) uses), is at most this many nats; at most `max_mc` draws per
      mixture. Individual estimates are then noisier than the mean.
    rounding_tolerance: as in `mixture_entropy`.
    mixture_chunk: mixtures per step of a block; peak memory ~ m *
      BLOCK_PER_MIXTURE * d for a block's draws plus mixture_chunk *
      BLOCK_PER_MIXTURE * r kernel terms, whatever num_mc or max_mc.
    mesh: a `jax.sharding.Mesh` to split the mixtures over (see
      `infoflow.estimators._src.sharding.resolve`).

  Returns:
    An `Estimate` whose fields have shape (m,). `.mean()` gives the average
    entropy with its standard error.
  """
  centers, beta, shift = _rescaled_inputs(
    key, centers, beta, 3, rounding_tolerance=rounding_tolerance, mixture_chunk=mixture_chunk
  )
  num_mc, target = montecarlo.plan(num_mc, target_stderr, max_mc, DEFAULT_NUM_MC_PER_MIXTURE)
  mesh = _resolve_mesh(mesh, target, centers, beta, key)
  # Placed once per call, not per block: only the key changes.
  placed = sharding.replicate(
    (centers, jnp.asarray(beta, centers.dtype), jnp.asarray(rounding_tolerance, centers.dtype)),
    mesh,
  )

  def draw_block(block_key, size):
    return draws.batched_draw_values(
      sharding.replicate(block_key, mesh),
      *placed,
      num_mc=size,
      mixture_chunk=mixture_chunk,
      mesh=mesh,
    )

  def mean_stderr(moments):
    return [math.sqrt(float((moments.stderr() ** 2).sum())) / centers.shape[0]]

  moments, _ = montecarlo.run(
    draw_block,
    key,
    num_mc=num_mc,
    targets=(target,),
    max_mc=max_mc,
    block=BLOCK_PER_MIXTURE,
    paired=False,
    monitor=mean_stderr,
    name='mixture_entropies',
    labels=('the mean entropy',),
  )
  return _shifted(moments.estimate(centers.dtype), shift)


def mixture_entropy_bounds(
  centers,
  beta,
  *,
  rounding_tolerance: float = scales.RESOLUTION_TOLERANCE,
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
  centers, beta, shift = _rescaled_inputs(
    None,
    centers,
    beta,
    2,
    rounding_tolerance=rounding_tolerance,
    query_chunk=query_chunk,
    center_chunk=center_chunk,
  )
  lower, upper = _entropy_bounds(centers, beta, rounding_tolerance, query_chunk, center_chunk)
  return lower + shift, upper + shift


@functools.partial(jax.jit, static_argnums=(3, 4))
def _entropy_bounds(centers, beta, rounding_tolerance, query_chunk, center_chunk):
  n, dim = centers.shape
  dtype = centers.dtype
  beta = jnp.asarray(beta, dtype)
  zeros = jnp.zeros((n,), dtype)
  # The self term exp(0) = 1 makes -1 a safe floor for every row.
  floor = jnp.full((n,), dense.OWN_TERM_FLOOR, dtype)
  kwargs = dict(
    rounding_tolerance=rounding_tolerance, query_chunk=query_chunk, center_chunk=center_chunk
  )
  h0 = gaussian_entropy(dim, beta)
  # exp(-D / (8 beta^2)) is the kernel of scale 2 beta.
  lower = h0 - jnp.mean(dense.log_mean_kernel(centers, centers, 2 * beta, zeros, floor, **kwargs))
  upper = h0 - jnp.mean(dense.log_mean_kernel(centers, centers, beta, zeros, floor, **kwargs))
  return lower, upper


def log_mixture_density(
  queries, centers, beta, *, rounding_tolerance: float = scales.RESOLUTION_TOLERANCE
) -> jax.Array:
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
  ratio = scales.check_beta_range(
    jnp.concatenate([queries, centers]), beta, points_name='queries and centers'
  )
  beta, (queries, centers), log_scale = scales.rescale_to_beta(ratio, beta, queries, centers)
  dim = centers.shape[1]
  log_mean = dense.log_mean_kernel(
    queries, centers, jnp.asarray(beta, centers.dtype), rounding_tolerance=rounding_tolerance
  )
  # log N(y; c, beta^2 I) = -(d/2) log(2 pi beta^2) - ||y - c||^2 / (2 beta^2).
  return log_mean - (gaussian_entropy(dim, beta) - 0.5 * dim) - dim * log_scale


def pruned_log_mixture_density(
  queries,
  centers,
  beta,
  *,
  prune_tolerance: float = groups_lib.DEFAULT_PRUNE_TOLERANCE,
  num_candidates: int = pruned.DEFAULT_NUM_CANDIDATES,
  mesh=None,
):
  """log g(y) of g = (1/n) sum_j N(c_j, beta^2 I), pruned and certified.

  Args:
    queries: (q, d) points.
    centers: (n, d) or grouped (m, R, d) centres, or a `Groups` built by
      `infoflow.estimators._src.groups.build_groups` for this beta.
    beta: kernel standard deviation (> 0).
    prune_tolerance: certified error allowed on each log g, in nats.
    num_candidates, mesh: as in `infoflow.estimators._src.pruned.
      log_mean_kernel_pruned`.

  Returns:
    (log_g (q,), errors (q,), PruneInfo): log-densities in nats, each at
    most its certified error below the exact (full-sum) value.

  Raises:
    ValueError: on a bad beta or prune_tolerance, non-finite input, mismatched
      shapes, or magnitudes out of the dtype's range
      (`infoflow.scales.check_beta_range`; array centres of any finite
      magnitude within it are handled exactly by power-of-two rescaling,
      a prebuilt `Groups` is used as is).
  """
  beta = checks.check_positive_scalar(beta, 'beta')
  checks.check_positive_scalar(prune_tolerance, 'prune_tolerance')
  checks.check_count(num_candidates, 'num_candidates')
  queries, groups, scale = _prepare_density(queries, centers, beta, prune_tolerance)
  log_mean, errors, info = pruned.log_mean_kernel_pruned(
    queries,
    None,
    None,
    None,
    groups,
    beta / scale,
    prune_tolerance=prune_tolerance,
    num_candidates=num_candidates,
    mesh=mesh,
  )
  dim = queries.shape[1]
  # log N(y; c, beta^2 I) = -(d/2) log(2 pi beta^2) - ||y - c||^2 / (2 beta^2).
  return log_mean - (gaussian_entropy(dim, beta) - 0.5 * dim), errors, info


def _prepare_density(queries, centers, beta, prune_tolerance):
  """Checked (queries / p, groups of centres / p, p) for
  `pruned_log_mixture_density`.

  p = 2^floor(log2 beta) when beta or the magnitudes leave the range where
  squared distances stay finite unscaled (exact; log-kernel sums do not
  change), else 1. A prebuilt `Groups` is used as is (p = 1).
  """
  prebuilt = isinstance(centers, groups_lib.Groups)
  if prebuilt:
    dtype, dim = centers.flat.dtype, centers.flat.shape[1]
  else:
    centers = jnp.asarray(
      checks.check_float_array(centers, 'centers', min_rank=2, shape='(n, d) or (m, R, d)')
    )
    dtype, dim = centers.dtype, centers.shape[-1]
  queries = jnp.asarray(
    checks.check_float_array(queries, 'queries', rank=2, shape=f'(q, {dim})')
  ).astype(dtype)
  if queries.shape[1] != dim or (not prebuilt and centers.ndim > 3):
    raise ValueError(
      f'queries must have shape (q, {dim}) and centers '
      f'(n, {dim}) or (m, R, {dim}); got {queries.shape} and '
      f'{centers.shape}.'
    )
  if prebuilt:
    scales.check_beta_range(queries, beta, points_name='queries')
    return queries, centers, 1.0
  ratio = max(
    scales.check_beta_range(centers.reshape(-1, dim), beta),
    scales.check_beta_range(queries, beta, points_name='queries'),
  )
  scale = 1.0
  if ratio > 2.0**30 or not 2.0**-20 <= beta <= 2.0**20:
    scale = scales.power_of_two_scale(beta, dtype)
    queries, centers = queries / scale, centers / scale
  return (
    queries,
    groups_lib.build_groups(centers, beta / scale, prune_tolerance=prune_tolerance),
    scale,
  )
