"""Kolchinsky-Tracey entropy bounds and exact mixture log-densities.

For the equal-weight mixture g = (1/n) sum_j N(c_j, beta^2 I) (see
`infoflow.estimators.entropy`): `mixture_entropy_bounds` sums every pair of
centres (O(n^2) work, chunked like the dense Monte Carlo path) and
`log_mixture_density` evaluates log g at given points. Both use the dense
kernel sums of `infoflow.estimators.dense`. `check_inputs` and
`rescaled_inputs` are the argument checks shared with the entropy estimators.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp

from infoflow import checks
from infoflow.estimators import dense
from infoflow.estimators import draws


def check_inputs(key, centers, beta, rank, **options):
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


def rescaled_inputs(key, centers, beta, rank, **options):
  """`check_inputs`, then centres and beta divided by a power of two p when
  needed (`checks.rescale_to_beta`); returns (centers, beta, d log p), the
  last to be added to entropies."""
  centers, ratio = check_inputs(key, centers, beta, rank, **options)
  beta, (centers,), log_scale = checks.rescale_to_beta(ratio, beta, centers)
  return centers, beta, centers.shape[-1] * log_scale


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
  centers, beta, shift = rescaled_inputs(
    None,
    centers,
    beta,
    2,
    rounding_tolerance=rounding_tolerance,
    query_chunk=query_chunk,
    center_chunk=center_chunk,
  )
  lower, upper = _bounds(centers, beta, rounding_tolerance, query_chunk, center_chunk)
  return lower + shift, upper + shift


@functools.partial(jax.jit, static_argnums=(3, 4))
def _bounds(centers, beta, rounding_tolerance, query_chunk, center_chunk):
  n, dim = centers.shape
  dtype = centers.dtype
  beta = jnp.asarray(beta, dtype)
  zeros = jnp.zeros((n,), dtype)
  # The self term exp(0) = 1 makes -1 a safe floor for every row.
  floor = jnp.full((n,), draws.OWN_TERM_FLOOR, dtype)
  kwargs = dict(
    rounding_tolerance=rounding_tolerance, query_chunk=query_chunk, center_chunk=center_chunk
  )
  h0 = draws.gaussian_entropy(dim, beta)
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
  centers, _ = check_inputs(None, centers, beta, 2, rounding_tolerance=rounding_tolerance)
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
