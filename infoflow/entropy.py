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

All entropies are in nats (bits = nats / ln 2). Computations run in the
centres' floating dtype: float32 by default, float64 when JAX's x64 mode is
enabled and float64 centres are passed.
"""

from __future__ import annotations

import functools
import math
import jax
import jax.numpy as jnp
import numpy as np

from infoflow import estimate as estimate_lib
from infoflow import mixture

Estimate = estimate_lib.Estimate

DEFAULT_NUM_MC = 8192
DEFAULT_NUM_MC_PER_MIXTURE = 256
# An exponent of the own centre is 0 up to rounding; this slack makes -1 a safe
# lower bound of the row maximum.
_OWN_TERM_FLOOR = -1.0


def gaussian_entropy(dim: int, beta) -> jax.Array:
  """Entropy of N(0, beta^2 I_dim): (dim/2) log(2 pi e beta^2), in nats."""
  beta = jnp.asarray(beta)
  if not jnp.issubdtype(beta.dtype, jnp.floating):
    beta = beta.astype(jnp.result_type(float))
  return 0.5 * dim * (math.log(2 * math.pi * math.e) + 2 * jnp.log(beta))


def _is_concrete(x) -> bool:
  return not isinstance(x, jax.core.Tracer)


def _check_beta(beta):
  if _is_concrete(beta):
    b = np.asarray(beta)
    if b.ndim != 0:
      raise ValueError(f'beta must be a scalar, got shape {b.shape}.')
    if not np.isfinite(b) or b <= 0:
      raise ValueError(f'beta must be a finite positive noise std, got {b}.')


def _check_centers(centers, rank: int, what: str):
  """Converts to a floating array and checks rank, size and finiteness."""
  centers = jnp.asarray(centers)
  if not jnp.issubdtype(centers.dtype, jnp.floating):
    centers = centers.astype(jnp.result_type(float))
  if centers.ndim != rank:
    shape = '(n, d)' if rank == 2 else '(m, r, d)'
    raise ValueError(f'{what} must have shape {shape} (rank {rank}), '
                     f'got shape {centers.shape}.')
  if any(s == 0 for s in centers.shape):
    raise ValueError(f'{what} must be non-empty, got shape {centers.shape}.')
  if _is_concrete(centers) and not bool(jnp.all(jnp.isfinite(centers))):
    raise ValueError(f'{what} contain non-finite values (NaN or inf).')
  return centers


def _check_count(value: int, name: str):
  if not isinstance(value, (int, np.integer)) or value < 1:
    raise ValueError(f'{name} must be a positive integer, got {value!r}.')


def mixture_entropy(key: jax.Array, centers, beta, *,
                    num_mc: int = DEFAULT_NUM_MC,
                    tolerance: float = 1e-3,
                    query_chunk: int = 512,
                    center_chunk: int = 2048) -> Estimate:
  """Entropy h((1/n) sum_i N(c_i, beta^2 I)) in nats, by Monte Carlo.

  Args:
    key: a JAX PRNG key.
    centers: (n, d) mixture centres (e.g. samples of a layer's pre-noise
      activations S).
    beta: the noise standard deviation (> 0), a scalar.
    num_mc: number of i.i.d. Monte Carlo draws from the mixture.
    tolerance: largest rounding error, in nats, allowed on a kernel exponent
      that matters (see `infoflow.mixture`).
    query_chunk, center_chunk: block sizes; peak memory is about
      4 * query_chunk * center_chunk numbers, independent of n and num_mc.

  Returns:
    An `Estimate` with `.nats`, `.stderr`, `.bits` and `.num_draws`.

  Raises:
    ValueError: on non-finite or empty centres, a wrong rank, beta <= 0 or
      non-finite, or num_mc < 1.
  """
  centers = _check_centers(centers, 2, 'centers')
  _check_beta(beta)
  _check_count(num_mc, 'num_mc')
  return _mixture_entropy(key, centers, beta, num_mc, tolerance,
                          query_chunk, center_chunk)


@functools.partial(jax.jit, static_argnums=(3, 5, 6))
def _mixture_entropy(key, centers, beta, num_mc, tolerance, query_chunk,
                     center_chunk):
  owner, z = monte_carlo_draws(key, centers.shape[0], centers.shape[1],
                               num_mc, centers.dtype)
  values = entropy_draw_values(centers, beta, owner, z, tolerance=tolerance,
                               query_chunk=query_chunk,
                               center_chunk=center_chunk)
  return estimate_lib.from_draws(values)


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


def entropy_draw_values(centers, beta, owner, z, *, tolerance=1e-3,
                        query_chunk=512, center_chunk=2048):
  """Per-draw values v = (d/2) log(2 pi e beta^2) - log r(y), in nats.

  Their mean is the entropy estimate (see the module docstring); exposed so
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
  log_r = mixture.log_mean_kernel(
      queries, centers, beta, half_sq,
      jnp.full(half_sq.shape, _OWN_TERM_FLOOR, centers.dtype),
      tolerance=tolerance, query_chunk=query_chunk, center_chunk=center_chunk)
  return gaussian_entropy(dim, beta) - log_r


def mixture_entropies(key: jax.Array, centers, beta, *,
                      num_mc: int = DEFAULT_NUM_MC_PER_MIXTURE,
                      tolerance: float = 1e-3,
                      mixture_chunk: int = 64) -> Estimate:
  """Entropies of m small mixtures at once, e.g. h(T | X = x) for every x.

  Mixture a is (1/r) sum_i N(centers[a, i], beta^2 I). Each gets `num_mc`
  i.i.d. draws of its own.

  Args:
    key: a JAX PRNG key.
    centers: (m, r, d) centres: r samples for each of m mixtures.
    beta: the noise standard deviation (> 0).
    num_mc: Monte Carlo draws per mixture.
    tolerance: as in `mixture_entropy`.
    mixture_chunk: mixtures per block; peak memory ~ mixture_chunk * num_mc * r.

  Returns:
    An `Estimate` whose fields have shape (m,). `.mean()` gives the average
    entropy with its standard error.
  """
  centers = _check_centers(centers, 3, 'centers')
  _check_beta(beta)
  _check_count(num_mc, 'num_mc')
  if num_mc < 2:
    raise ValueError('num_mc must be >= 2 per mixture to estimate a stderr.')
  return _mixture_entropies(key, centers, beta, num_mc, tolerance,
                            mixture_chunk)


@functools.partial(jax.jit, static_argnums=(3, 5))
def _mixture_entropies(key, centers, beta, num_mc, tolerance, mixture_chunk):
  m, r, dim = centers.shape
  dtype = centers.dtype
  beta = jnp.asarray(beta, dtype)
  index_key, noise_key = jax.random.split(key)
  owner = jax.random.randint(index_key, (m, num_mc), 0, r)
  z = jax.random.normal(noise_key, (m, num_mc, dim), dtype)
  queries = jnp.take_along_axis(centers, owner[..., None], axis=1) + beta * z
  half_sq = 0.5 * jnp.sum(z * z, axis=-1)
  log_r = mixture.batched_log_mean_kernel(
      queries, centers, beta, half_sq,
      jnp.full((m, num_mc), _OWN_TERM_FLOOR, dtype), tolerance=tolerance,
      mixture_chunk=mixture_chunk)
  values = gaussian_entropy(dim, beta) - log_r
  return estimate_lib.from_draws(values, axis=-1)


def mixture_entropy_bounds(centers, beta, *, tolerance: float = 1e-3,
                           query_chunk: int = 512,
                           center_chunk: int = 2048
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
  centers = _check_centers(centers, 2, 'centers')
  _check_beta(beta)
  return _bounds(centers, beta, tolerance, query_chunk, center_chunk)


@functools.partial(jax.jit, static_argnums=(3, 4))
def _bounds(centers, beta, tolerance, query_chunk, center_chunk):
  n, dim = centers.shape
  dtype = centers.dtype
  beta = jnp.asarray(beta, dtype)
  zeros = jnp.zeros((n,), dtype)
  # The self term exp(0) = 1 makes -1 a safe floor for every row.
  floor = jnp.full((n,), _OWN_TERM_FLOOR, dtype)
  kwargs = dict(tolerance=tolerance, query_chunk=query_chunk,
                center_chunk=center_chunk)
  h0 = gaussian_entropy(dim, beta)
  # exp(-D / (8 beta^2)) is the kernel of scale 2 beta.
  lower = h0 - jnp.mean(mixture.log_mean_kernel(
      centers, centers, 2 * beta, zeros, floor, **kwargs))
  upper = h0 - jnp.mean(mixture.log_mean_kernel(
      centers, centers, beta, zeros, floor, **kwargs))
  return lower, upper


def log_mixture_density(queries, centers, beta, *,
                        tolerance: float = 1e-3) -> jax.Array:
  """log g(y) for each query y, with g = (1/n) sum_j N(c_j, beta^2 I).

  Args:
    queries: (q, d) points.
    centers: (n, d) centres.
    beta: noise standard deviation (> 0).

  Returns:
    (q,) log-densities in nats.
  """
  centers = _check_centers(centers, 2, 'centers')
  queries = _check_centers(queries, 2, 'queries')
  _check_beta(beta)
  if queries.shape[1] != centers.shape[1]:
    raise ValueError(f'queries have dimension {queries.shape[1]} but centers '
                     f'have {centers.shape[1]}.')
  dim = centers.shape[1]
  beta = jnp.asarray(beta, centers.dtype)
  return (mixture.log_mean_kernel(queries.astype(centers.dtype), centers, beta,
                                  tolerance=tolerance)
          - 0.5 * dim * jnp.log(2 * jnp.pi * beta ** 2))
