"""Monte Carlo draws and the per-draw values of the entropy integrand.

Draws: i.i.d. draws y = c_i + beta z of a mixture (`monte_carlo_draws`), and
the stratified draws of the posterior pass (`stratified_draws` over the
inputs in `input_order`, with `paired_variance`). Every draw is a draw from
the mixture g, so every value below has mean h(g).

`infoflow.estimators.entropy` averages, over draws y = c_i + beta z, the values

    v = (d/2) log(2 pi e beta^2) - log r(y),
    r(y) = (1/n) sum_j exp(-(||y - c_j||^2 - beta^2 ||z||^2) / (2 beta^2))

(the control-variate form; see `infoflow.estimators.entropy`; the constant
is `gaussian_entropy`). This module computes v
for given draws: densely (`entropy_draw_values`, all n terms, optionally
with the draws split over a device mesh), by the pruned evaluation
(`pruned_draw_values`, certified within a tolerance) and for m small
mixtures at once (`batched_draw_values`, mixtures split over the mesh).
Values in nats.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow import scales
from infoflow.estimators._src import dense
from infoflow.estimators._src import groups
from infoflow.estimators._src import pruned
from infoflow.estimators._src import sharding


def gaussian_entropy(dim: int, beta):
  """Entropy of N(0, beta^2 I_dim): (dim/2) log(2 pi e beta^2), in nats.

  A Python float (float64) for a concrete beta (beta outside [2^-100, 2^100]
  is divided by a power of two p first and dim log p added back, so beta^2
  never leaves the float64 range); a traced array in beta's dtype under jit
  (then beta^2 must be a normal number of that dtype, as it is for the
  rescaled beta of every estimator).

  Raises:
    infoflow.checks.ArgumentTypeError: dim not an integer, beta not a real
      number (e.g. a string).
    ValueError: dim < 1; a concrete beta not finite and > 0.
  """
  dim = checks.check_count(dim, 'dim')
  log, shift = jnp.log, 0.0
  beta = checks.check_positive_scalar(beta, 'beta')
  if checks.is_concrete(beta):
    log = math.log
    if not 2.0**-100 <= beta <= 2.0**100:
      scale = scales.power_of_two_scale(beta)
      beta, shift = beta / scale, dim * math.log(scale)
  return 0.5 * dim * log(2 * math.pi * math.e * beta**2) + shift


def replicas_identical(samples) -> bool:
  """Whether every input's replicas coincide: samples[x, r] == samples[x, 0]
  for all x, r (R = 1, or a layer that is a function of X, like the first).

  Args:
    samples: (m, R, d) concrete samples.
  """
  return bool(jnp.all(samples == samples[:, :1]))


def monte_carlo_draws(key, n: int, dim: int, num_mc: int, dtype=jnp.float32):
  """The i.i.d. draws behind `mixture_entropy`: y = c[owner] + beta z.

  Args:
    key: PRNG key.
    n, dim: number of centres and their dimension.
    num_mc: number of draws.
    dtype: floating dtype of z.

  Returns:
    owner: (num_mc,) int32 centre indices, sorted (draws are exchangeable, and
      sorted owners keep each query block near few centre blocks when the
      centres are stored group by group, as replicas are).
    z: (num_mc, dim) standard normal noise.
  """
  index_key, noise_key = jax.random.split(key)
  owner = jnp.sort(jax.random.randint(index_key, (num_mc,), 0, n))
  z = jax.random.normal(noise_key, (num_mc, dim), dtype)
  return owner, z


def entropy_draw_values(
  centers, beta, owner, z, *, rounding_tolerance=1e-3, query_chunk=512, center_chunk=2048
):
  """Per-draw values v = (d/2) log(2 pi e beta^2) - log r(y), in nats.

  Their mean is the entropy estimate (see `infoflow.estimators.entropy`); exposed so
  that references can be compared on identical draws.

  Args:
    centers: (n, d) centres.
    beta: noise standard deviation.
    owner: (k,) centre index of each draw.
    z: (k, d) standard normal noise of each draw.

  Returns:
    (k,) per-draw values in nats.
  """
  dim = centers.shape[1]
  beta = jnp.asarray(beta, centers.dtype)
  queries = centers[owner] + beta * z
  half_sq = 0.5 * jnp.sum(z * z, axis=-1)
  log_r = dense.log_mean_kernel(
    queries,
    centers,
    beta,
    half_sq,
    jnp.full(half_sq.shape, dense.OWN_TERM_FLOOR, centers.dtype),
    rounding_tolerance=rounding_tolerance,
    query_chunk=query_chunk,
    center_chunk=center_chunk,
  )
  return gaussian_entropy(dim, beta) - log_r


jitted_draws = jax.jit(
  lambda key, n, dim, num, dtype: monte_carlo_draws(key, n, dim, num, dtype),
  static_argnums=(1, 2, 3, 4),
)


@functools.partial(jax.jit, static_argnames=('mesh', 'query_chunk', 'center_chunk'))
def dense_draw_values(
  centers, beta, owner, z, rounding_tolerance, *, mesh, query_chunk, center_chunk
):
  """`entropy_draw_values` with the draws split over the mesh."""
  shards = sharding.num_shards(mesh)

  def local(o, zz, c, b, tol):
    return entropy_draw_values(
      c, b, o, zz, rounding_tolerance=tol, query_chunk=query_chunk, center_chunk=center_chunk
    )

  values = sharding.map_shards(
    local,
    mesh,
    (checks.pad_to_multiple(owner, shards), checks.pad_to_multiple(z, shards)),
    (centers, beta, rounding_tolerance),
  )
  return values[: owner.shape[0]]


@functools.partial(jax.jit, static_argnames=('num_mc', 'mixture_chunk', 'mesh'))
def batched_draw_values(key, centers, beta, rounding_tolerance, *, num_mc, mixture_chunk, mesh):
  """(m, num_mc) per-draw values of m mixtures (centres (m, r, d)).

  Draw j of mixture a is y = centers[a, owner] + beta z with its own owner
  and z; the mixtures are split over the mesh.
  """
  m, r, dim = centers.shape
  dtype = centers.dtype
  beta = jnp.asarray(beta, dtype)
  index_key, noise_key = jax.random.split(key)
  owner = jax.random.randint(index_key, (m, num_mc), 0, r)
  z = jax.random.normal(noise_key, (m, num_mc, dim), dtype)
  queries = jnp.take_along_axis(centers, owner[..., None], axis=1) + beta * z
  half_sq = 0.5 * jnp.sum(z * z, axis=-1)

  def local(q, c, s, b, tol):
    return dense.batched_log_mean_kernel(
      q,
      c,
      b,
      s,
      jnp.full(s.shape, dense.OWN_TERM_FLOOR, dtype),
      rounding_tolerance=tol,
      mixture_chunk=mixture_chunk,
    )

  shards = sharding.num_shards(mesh)
  log_r = sharding.map_shards(
    local,
    mesh,
    tuple(checks.pad_to_multiple(a, shards) for a in (queries, centers, half_sq)),
    (beta, rounding_tolerance),
  )
  return gaussian_entropy(dim, beta) - log_r[:m]


def pruned_draw_values(
  groups,
  beta,
  owner,
  z,
  *,
  prune_tolerance=groups.DEFAULT_PRUNE_TOLERANCE,
  num_candidates=pruned.DEFAULT_NUM_CANDIDATES,
  mesh=None,
):
  """`entropy_draw_values` by the pruned evaluation (`infoflow.estimators._src.pruned`).

  Args:
    groups: `infoflow.estimators._src.groups.build_groups(centers, beta, ...)`; `owner`
      indexes the rows of `groups.flat`.
    beta: kernel (noise) standard deviation.
    owner: (k,) centre index of each draw; z: (k, d) standard normal noise
      (draw y = flat[owner] + beta z).
    prune_tolerance: certified error of each -log g, in nats.
    num_candidates: candidate groups per draw in the first pass.
    mesh: see `infoflow.estimators._src.sharding.resolve`.

  Returns:
    (values (k,), errors (k,), PruneInfo): each value is within its certified
    error (nats) above the full-sum value of the same draw.
  """
  queries, home, half_sq = _draw_queries(groups.flat, groups.group_of, beta, owner, z)
  log_r, errors, info = pruned.log_mean_kernel_pruned(
    queries,
    home,
    half_sq,
    jnp.full(half_sq.shape, dense.OWN_TERM_FLOOR, half_sq.dtype),
    groups,
    float(beta),
    prune_tolerance=prune_tolerance,
    num_candidates=num_candidates,
    mesh=mesh,
  )
  return gaussian_entropy(queries.shape[1], float(beta)) - log_r, errors, info


@jax.jit
def _draw_queries(flat, group_of, beta, owner, z):
  beta = jnp.asarray(beta, flat.dtype)
  return (flat[owner] + beta * z, group_of[owner], 0.5 * jnp.sum(z * z, axis=-1))


def input_order(samples) -> jax.Array:
  """The inputs in a space-filling (Morton, Z-order) order of their means.

  The stratified draws of `stratified_draws` pair neighbours in this order,
  so inputs whose representations lie close (and whose per-draw values are
  alike) share strata. The mean sample of each input is projected onto its
  three leading principal axes (all axes when d <= 3), the coordinates
  quantised to 10 bits over the largest range, and the bits interleaved. Host-side
  NumPy; O(m d^2).

  Args:
    samples: (m, R, d) samples of m inputs.

  Returns:
    (m,) int32 permutation of range(m).
  """
  means = np.asarray(jnp.mean(jnp.asarray(samples), axis=1), np.float64)
  centred = means - means.mean(axis=0)
  if centred.shape[1] > 3:
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    centred = centred @ axes[:3].T
  # One scale for all axes (square cells); the leading axis most significant.
  span = float(np.ptp(centred, axis=0).max()) or 1.0
  cells = np.floor(1023 * (centred - centred.min(axis=0)) / span).astype(np.int64)
  k = cells.shape[1]
  code = np.zeros(len(cells), np.int64)
  for bit in range(10):
    for axis in range(k):
      code |= ((cells[:, axis] >> bit) & 1) << (bit * k + k - 1 - axis)
  return jnp.asarray(np.argsort(code, kind='stable'), jnp.int32)


@functools.partial(jax.jit, static_argnames=('replicas', 'dim', 'size', 'dtype'))
def stratified_draws(key, order, *, replicas: int, dim: int, size: int, dtype):
  """`size` draws t = s_{x,r} + beta z with (x, r) uniform, stratified over x.

  With H = size / 2 strata of equal probability: draws 2j and 2j + 1 lie in
  stratum j, u = (j + v) / H with v ~ U(0, 1) independent, x = order[floor(u
  m)], r uniform in [0, R). The draws follow `order` (blocks of consecutive
  draws lie close together: the dense pass skips far centres per block).
  Each draw is marginally uniform over the m R centres (so t ~ g), and the
  mean of the values is unbiased; its variance is estimated from the pairs
  (`paired_variance`). With `input_order`, the between-input part of the
  variance mostly cancels.

  Args:
    key: PRNG key; order: (m,) int32 permutation of the inputs.
    replicas, dim: R and d; size: even number of draws, with size m / 2 <
      2^31 (j m in int32); dtype: floating dtype of z.

  Returns:
    owner: (size,) int32 centre indices x R + r; z: (size, dim) N(0, I).
  """
  m = order.shape[0]
  half = size // 2
  u_key, r_key, z_key = jax.random.split(key, 3)
  j = jnp.arange(half, dtype=jnp.int32)
  base, rest = (j * m) // half, (j * m) % half  # j m / H = base + rest / H
  v = jax.random.uniform(u_key, (half, 2), dtype=jnp.float32)
  step = jnp.floor((rest[:, None] + v * m) / half).astype(jnp.int32)
  position = jnp.minimum(base[:, None] + step, m - 1).reshape(-1)
  replica = jax.random.randint(r_key, (size,), 0, replicas, dtype=jnp.int32)
  owner = order[position] * replicas + replica
  return owner, jax.random.normal(z_key, (size, dim), dtype)


@jax.jit
def paired_variance(values):
  """(mean, variance of the mean) of (..., 2H) stratified values.

  Values 2j and 2j + 1 share stratum j (`stratified_draws`): the mean is
  (1/H) sum_j (a_j + b_j) / 2 and its variance, sum_j sigma_j^2 / (2 H^2),
  is estimated without bias by sum_j (a_j - b_j)^2 / (4 H^2).
  """
  half = values.shape[-1] // 2
  diff = values[..., 0::2] - values[..., 1::2]
  return jnp.mean(values, axis=-1), jnp.sum(diff * diff, axis=-1) / (4.0 * half * half)
