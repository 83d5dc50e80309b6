"""The jitted kernels of the pruned evaluation (`infoflow.estimators.pruned`).

`candidate_exponents` picks each query's top-K candidate groups and bounds
the rest; `certified_error` turns the exact part and the bound into the
certified error log(1 + B/E). `first_pass` evaluates every query with K
candidates; `refine_pass` redoes the (compacted) queries whose error exceeds
the prune_tolerance with a larger K, or by the dense sum. Both split the
queries over a device mesh (`infoflow.estimators.sharding`). The host-side
driver that chooses K and calls them is `pruned.log_mean_kernel_pruned`.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from infoflow import checks
from infoflow.estimators import dense as dense_lib
from infoflow.estimators import groups as groups_lib
from infoflow.estimators import sharding

# Gathered candidate coordinates per block (peak memory ~ 3x this, in floats).
CHUNK_ELEMENTS = 1 << 20


def candidate_exponents(q, home, shift, groups, inv_two_var, k):
  """The top-k candidate groups' exact exponents and the bound on the rest.

  Args: q (b, d) queries, home (b,) int home groups, shift (b,) offsets,
  groups (`build_groups`), inv_two_var = 1 / (2 sigma^2), k static.

  Returns:
    (cand, exps, log_tail): cand (b, k) the candidate groups; exps (b, k, R)
    their members' exponents shift - ||q - c||^2 / (2 sigma^2) by direct
    differences (-inf at padding); log_tail (b,) the log of an upper bound
    of the sum of exp(exponent) over every other centre (module docstring).
  """
  b, dim = q.shape
  r = groups.centers.shape[1]
  shrink = 1 - groups_lib.safety(dim, q.dtype)
  nbrs = groups.neighbors[home]  # (b, Kn)
  listed = groups.listed[home]
  diff = q[:, None, :] - groups.centroids[nbrs]
  dist = jnp.sqrt(jnp.sum(diff * diff, axis=-1)) * shrink
  lower = jnp.maximum(dist - groups.radii[nbrs], 0)
  log_bound = jnp.where(
    listed, shift[:, None] + jnp.log(groups.counts[nbrs]) - lower * lower * inv_two_var, -jnp.inf
  )
  _, pick = jax.lax.top_k(log_bound, k)  # (b, k)
  cand = jnp.take_along_axis(nbrs, pick, axis=1)
  # A padding entry may be picked when k exceeds the list: mask it out.
  live = groups.valid[cand] & jnp.take_along_axis(listed, pick, 1)[..., None]
  members = groups.centers[cand].reshape(b, k * r, dim)
  exps = jax.vmap(dense_lib.direct_exponents, (0, 0, None, 0))(
    q[:, None, :], members, inv_two_var, shift[:, None]
  )[:, 0]
  exps = jnp.where(live, exps.reshape(b, k, r), -jnp.inf)
  # Unselected neighbours: their bounds (a scatter mask, robust to ties).
  picked = jnp.zeros(log_bound.shape, bool).at[jnp.arange(b)[:, None], pick].set(True)
  log_rest = jax.nn.logsumexp(jnp.where(picked, -jnp.inf, log_bound), -1)
  # Groups outside the list, through the home centroid.
  to_home = q - groups.centroids[home]
  t = jnp.sqrt(jnp.sum(to_home * to_home, -1)) * (2 - shrink)
  far_count = groups.far_count[home]
  gap = jnp.maximum(groups.far_gap[home] - t, 0)
  log_far = jnp.where(far_count > 0, shift + jnp.log(far_count) - gap * gap * inv_two_var, -jnp.inf)
  return cand, exps, jnp.logaddexp(log_rest, log_far)


def certified_error(log_exact, log_tail):
  """err = log(1 + tail / exact): the certified error of log_exact (+inf
  when nothing was summed)."""
  err = jnp.log1p(jnp.exp(log_tail - log_exact))
  return jnp.where(jnp.isfinite(err), err, jnp.inf)


def _certified_block(q, home, shift, groups, inv_two_var, k):
  """log E (the exact sum over the top-k candidates) and its error, a block.

  Args: q (b, d), home (b,) int, shift (b,), k static. Returns (b,), (b,).
  """
  _, exps, log_tail = candidate_exponents(q, home, shift, groups, inv_two_var, k)
  log_exact = jax.nn.logsumexp(exps.reshape(q.shape[0], -1), axis=-1)
  return log_exact, certified_error(log_exact, log_tail)


def _certified(q, home, shift, groups, inv_two_var, k):
  """`_certified_block` over row blocks; returns log mean and error."""
  rows, dim = q.shape
  r = groups.centers.shape[1]
  block = max(1, min(rows, CHUNK_ELEMENTS // (k * r * dim)))
  packed = [checks.pad_to_multiple(a, block) for a in (q, home, shift)]
  packed = tuple(a.reshape((-1, block) + a.shape[1:]) for a in packed)
  log_exact, err = jax.lax.map(lambda args: _certified_block(*args, groups, inv_two_var, k), packed)
  n = groups.flat.shape[0]
  return log_exact.reshape(-1)[:rows] - math.log(n), err.reshape(-1)[:rows]


def _compact(err, prune_tolerance, size):
  """Indices of (up to size) rows whose err exceeds prune_tolerance, and liveness."""
  fail = err > prune_tolerance
  idx = jnp.nonzero(fail, size=size, fill_value=0)[0]
  return idx, jnp.arange(size) < jnp.sum(fail)


def _local_first(q, home, shift, groups, inv_two_var, *, k, prune_tolerance):
  value, err = _certified(q, home, shift, groups, inv_two_var, k)
  return value, err, jnp.sum(err > prune_tolerance)[None]


def _local_refine(
  q, home, shift, floor, value, err, groups, inv_two_var, *, k, size, prune_tolerance, dense
):
  idx, live = _compact(err, prune_tolerance, size)
  if dense:
    sigma = jnp.sqrt(0.5 / inv_two_var)
    new_value = dense_lib.log_mean_kernel(q[idx], groups.flat, sigma, shift[idx], floor[idx])
    new_err = jnp.zeros_like(new_value)
  else:
    new_value, new_err = _certified(q[idx], home[idx], shift[idx], groups, inv_two_var, k)
  target = jnp.where(live, idx, q.shape[0])
  value = value.at[target].set(new_value, mode='drop')
  err = err.at[target].set(new_err, mode='drop')
  return value, err, jnp.sum(err > prune_tolerance)[None]


@functools.partial(jax.jit, static_argnames=('mesh', 'k', 'prune_tolerance'))
def first_pass(q, home, shift, groups, inv_two_var, *, mesh, k, prune_tolerance):
  fn = functools.partial(_local_first, k=k, prune_tolerance=prune_tolerance)
  value, err, fails = sharding.map_shards(fn, mesh, (q, home, shift), (groups, inv_two_var))
  return value, err, jnp.max(fails), jnp.sum(fails)


@functools.partial(jax.jit, static_argnames=('mesh', 'k', 'size', 'prune_tolerance', 'dense'))
def refine_pass(
  q, home, shift, floor, value, err, groups, inv_two_var, *, mesh, k, size, prune_tolerance, dense
):
  fn = functools.partial(
    _local_refine, k=k, size=size, prune_tolerance=prune_tolerance, dense=dense
  )
  value, err, fails = sharding.map_shards(
    fn, mesh, (q, home, shift, floor, value, err), (groups, inv_two_var)
  )
  return value, err, jnp.max(fails), jnp.sum(fails)
