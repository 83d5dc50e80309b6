"""Mixture log-densities for small beta: prune far groups, certify the rest.

For n centres c_j and kernel width beta, every query y needs

    S(y) = sum_j exp(s(y) - ||y - c_j||^2 / (2 beta^2))

(s is the per-query shift of `infoflow.estimators.dense`). When beta is small
compared with the spread of the centres (SZT: beta = 0.005, centres in
[-1, 1]^d), almost every term is below any prune_tolerance, so the dense sum over
all n wastes nearly all of its work. Here the centres come in groups (the R
replicas of one input; or cells of a k-d partition for ungrouped centres),
each with a centroid mu_g and a radius rho_g (every member within rho_g of
mu_g). By the triangle inequality the n_g members of group g contribute at
most

    U_g(y) = n_g exp(s(y) - max(||y - mu_g|| - rho_g, 0)^2 / (2 beta^2)).

Candidates, exact part, tail. Each group keeps a list of the groups near it
and a lower bound E_g of the gap ||mu_h - mu_g|| - rho_h of every group
outside the list (`infoflow.estimators.groups`). A query y with home group g (the
group of the centre it was drawn from, or its nearest group) gets the bounds
U_h(y) of its listed neighbours, and the K largest (`lax.top_k`) become the
candidates, summed exactly over all their members (E(y)). Everything else is
bounded: the unselected neighbours by sum U_h(y), and all groups outside the
list at once by (n - members of the list) exp(s - max(E_g - t, 0)^2 /
(2 beta^2)), t >= ||y - mu_g|| (the triangle inequality through mu_g). With
B(y) the sum of these bounds, the full sum lies in [E, E + B], so reporting
log E errs by at most

    err(y) = log(1 + B(y) / E(y))   nats (the certified truncation error).

Static shapes, adaptive K. K is static under jit. A first pass uses a small K
for every query; the queries whose err exceeds `prune_tolerance` (default 1e-6
nats) are compacted (`jnp.nonzero(size=F)`, F a power of two) and redone
with 4K, 16K, ... (one recompilation per new K; straight to the whole list
once the rows left are few enough for one block), until K covers the whole
neighbour list; any query still uncertified (only the far-group bound is
left) is computed by the dense `infoflow.estimators.dense.log_mean_kernel` (all
centres, err = 0). So every returned value is within `prune_tolerance` of the
full sum, and the returned bound says by how much at most.

Accuracy for tiny beta. Candidate exponents come from
`dense.direct_exponents` (direct differences: a few ulps of each squared
distance, however far the data sit from the origin), never from the
cancelling expansion; centroid distances behind the bounds are direct
differences too, shrunk (radii grown) by a relative margin
(`infoflow.estimators.groups.safety`) that covers their float rounding, so a bound
never falls below the truth. The certified error covers the truncation
only; the rounding of the exact part is that of the dense path (see
`infoflow.estimators.dense`), ~1e-6 nats.

Shapes: queries (q, d); grouped centres (m, R, d). Values in nats.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from infoflow import checks
from infoflow.estimators import dense as dense_lib
from infoflow.estimators import groups as groups_lib
from infoflow.estimators import pruned_kernels as kernels
from infoflow.estimators import sharding

DEFAULT_PRUNE_TOLERANCE = groups_lib.DEFAULT_PRUNE_TOLERANCE
DEFAULT_NUM_CANDIDATES = 1
_MAX_PAIR_BLOCK = 1 << 22
build_groups = groups_lib.build_groups
Groups = groups_lib.Groups
candidate_exponents = kernels.candidate_exponents
certified_error = kernels.certified_error


@dataclasses.dataclass(frozen=True)
class PruneInfo:
  """What the pruned evaluation did (host-side numbers).

  Attributes:
    max_error: the largest certified truncation error of any log-density,
      in nats (<= the requested prune_tolerance).
    mean_error: its mean over the queries, in nats (bounds the shift of an
      entropy estimate that averages them).
    num_candidates: the largest K (candidate groups per query) used.
    num_neighbors: Kn, the neighbour-list length.
    num_refined: query evaluations redone with a larger K.
    num_dense: queries computed by the dense fallback.
  """

  max_error: float
  mean_error: float
  num_candidates: int
  num_neighbors: int
  num_refined: int
  num_dense: int


@jax.jit
def _stats(err):
  return jnp.max(err), jnp.mean(err)


def _placed_inputs(queries, home, shift, row_floor, groups: groups_lib.Groups, sigma, mesh):
  """(queries, home, shift, floor, groups, 1 / (2 sigma^2)) for the passes:
  defaults filled in, rows padded to the shard count, replicated on `mesh`."""
  queries = jnp.asarray(queries, groups.flat.dtype)
  num = queries.shape[0]
  dtype = queries.dtype
  if home is None:
    home = find_home(queries, groups)
  shift = jnp.zeros((num,), dtype) if shift is None else jnp.asarray(shift, dtype)
  floor = jnp.full((num,), -jnp.inf, dtype) if row_floor is None else jnp.asarray(row_floor, dtype)
  args = [
    checks.pad_to_multiple(jnp.asarray(a), sharding.num_shards(mesh))
    for a in (queries, home, shift, floor)
  ]
  placed = sharding.replicate((*args, groups), mesh)
  inv_two_var = sharding.replicate(jnp.asarray(0.5 / float(sigma) ** 2, dtype), mesh)
  return (*placed, inv_two_var)


def next_num_candidates(k, kn, size, group_elements):
  """K times 4; when the `size` rows left fit one block even with the whole
  list, straight there: few distinct K, so few recompilations."""
  small = size * kn * group_elements <= kernels.CHUNK_ELEMENTS
  return kn if small else min(4 * k, kn)


def log_mean_kernel_pruned(
  queries,
  home,
  shift,
  row_floor,
  groups: groups_lib.Groups,
  sigma,
  *,
  prune_tolerance: float = DEFAULT_PRUNE_TOLERANCE,
  num_candidates: int = DEFAULT_NUM_CANDIDATES,
  mesh=None,
):
  """log((1/n) sum_j exp(shift - ||y - c_j||^2 / (2 sigma^2))), certified.

  The pruned counterpart of `infoflow.estimators.dense.log_mean_kernel` (same value,
  up to the certified error). A host-side driver: it runs jitted passes and
  reads two scalars between them.

  Args:
    queries: (q, d) points y.
    home: (q,) int group index near each query (e.g. the group of the
      centre a Monte Carlo draw came from); None finds the nearest group.
    shift: (q,) per-query exponent offset (zeros if None).
    row_floor: (q,) lower bound of each row's largest exponent, or None; only
      used by the dense fallback.
    groups: from `build_groups` with the same sigma.
    sigma: kernel standard deviation.
    prune_tolerance: certified error allowed on each value, in nats.
    num_candidates: K of the first pass (times 4 for the queries that need
      more).
    mesh: a `jax.sharding.Mesh` to split the queries over (see
      `infoflow.estimators.sharding.resolve`).

  Returns:
    (values (q,), errors (q,), PruneInfo): values in nats, each within its
    certified error (<= prune_tolerance) of the full sum.
  """
  mesh = sharding.resolve(mesh)
  num = jnp.shape(queries)[0]
  placed = _placed_inputs(queries, home, shift, row_floor, groups, sigma, mesh)
  q, home, shift, _, groups, inv_two_var = placed
  kn = groups.num_neighbors
  k = min(num_candidates, kn)
  first = kernels.first_pass(
    q, home, shift, groups, inv_two_var, mesh=mesh, k=k, prune_tolerance=prune_tolerance
  )
  value, err, k, refined, dense = _refine(placed, first, k, mesh, prune_tolerance)
  value, err = value[:num], err[:num]
  max_err, mean_err = (float(x) for x in _stats(err))
  info = PruneInfo(max_err, mean_err, k, kn, refined, dense)
  return value, err, info


def refine_until_certified(refine_pass, state, fails, total, k, kn, group_elements):
  """The host loop of every pruned evaluation: redo the uncertified rows.

  While some rows' certified error exceeds the tolerance, `refine_pass(state,
  k, size, use_dense)` redoes them (compacted into `size` rows, a power of
  two) with K raised by `next_num_candidates`, or by the dense sum once K
  covers the whole neighbour list (kn), and returns (state, fails, total).

  Returns:
    (state, last K, rows refined, rows computed densely).
  """
  refined = dense = 0
  fails, total = int(fails), int(total)
  while fails:
    use_dense = k >= kn
    size = sharding.bucket(fails)
    if use_dense:
      dense += total
    else:
      k = next_num_candidates(k, kn, size, group_elements)
      refined += total
    state, fails, total = refine_pass(state, k, size, use_dense)
    fails, total = int(fails), int(total)
  return state, k, refined, dense


def _refine(placed, first, k, mesh, prune_tolerance):
  """Refinement passes with larger K (then dense) until every value is
  certified; returns (value, err, last K, refined count, dense count)."""
  q, home, shift, floor, groups, inv_two_var = placed
  value, err, fails, total = first

  def refine_pass(state, k, size, use_dense):
    value, err, fails, total = kernels.refine_pass(
      q,
      home,
      shift,
      floor,
      *state,
      groups,
      inv_two_var,
      mesh=mesh,
      k=k,
      size=size,
      prune_tolerance=prune_tolerance,
      dense=use_dense,
    )
    return (value, err), fails, total

  r, dim = groups.centers.shape[1:]
  (value, err), k, refined, dense = refine_until_certified(
    refine_pass, (value, err), fails, total, k, groups.num_neighbors, r * dim
  )
  return value, err, k, refined, dense


@jax.jit
def find_home(queries, groups: groups_lib.Groups):
  """(q,) index of the group whose bound ||y - mu_g|| - rho_g is smallest.

  Any choice keeps the result exact (it only steers which neighbour list is
  searched); the fast anchored expansion is accurate enough for it.
  """
  num, dim = queries.shape
  block = max(1, min(num, _MAX_PAIR_BLOCK // groups.num_groups))
  padded = checks.pad_to_multiple(queries, block)

  def one(q):
    sq, _ = dense_lib.expansion_exponents(
      q, groups.centroids, jnp.mean(q, 0), 1.0, jnp.zeros((block,), q.dtype)
    )
    gap = jnp.sqrt(jnp.maximum(-sq, 0)) - groups.radii[None, :]
    return jnp.argmin(gap, axis=1).astype(jnp.int32)

  return jax.lax.map(one, padded.reshape(-1, block, dim)).reshape(-1)[:num]


def pruned_log_mixture_density(
  queries,
  centers,
  beta,
  *,
  prune_tolerance: float = DEFAULT_PRUNE_TOLERANCE,
  num_candidates: int = DEFAULT_NUM_CANDIDATES,
  mesh=None,
):
  """log g(y) of g = (1/n) sum_j N(c_j, beta^2 I), pruned and certified.

  Args:
    queries: (q, d) points.
    centers: (n, d) or grouped (m, R, d) centres, or a `Groups` built by
      `build_groups` for this beta.
    beta: kernel standard deviation (> 0).
    prune_tolerance: certified error allowed on each log g, in nats.
    num_candidates, mesh: as in `log_mean_kernel_pruned`.

  Returns:
    (log_g (q,), errors (q,), PruneInfo): log-densities in nats, each at
    most its certified error below the exact (full-sum) value.

  Raises:
    ValueError: on a bad beta or prune_tolerance, non-finite input, mismatched
      shapes, or magnitudes out of the dtype's range
      (`infoflow.checks.check_beta_range`; array centres of any finite
      magnitude within it are handled exactly by power-of-two rescaling,
      a prebuilt `Groups` is used as is).
  """
  beta = checks.check_positive_scalar(beta, 'beta')
  checks.check_positive_scalar(prune_tolerance, 'prune_tolerance')
  checks.check_count(num_candidates, 'num_candidates')
  queries, groups, scale = _prepare_density(queries, centers, beta, prune_tolerance)
  log_mean, errors, info = log_mean_kernel_pruned(
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
  return (log_mean - 0.5 * dim * math.log(2 * math.pi * beta**2), errors, info)


def _prepare_density(queries, centers, beta, prune_tolerance):
  """Checked (queries / p, groups of centres / p, p) for `log_mixture_density`.

  p = 2^floor(log2 beta) when beta or the magnitudes leave the range where
  squared distances stay finite unscaled (exact; log-kernel sums do not
  change), else 1. A prebuilt `Groups` is used as is (p = 1).
  """
  prebuilt = isinstance(centers, Groups)
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
    checks.check_beta_range(queries, beta, points_name='queries')
    return queries, centers, 1.0
  ratio = max(
    checks.check_beta_range(centers.reshape(-1, dim), beta),
    checks.check_beta_range(queries, beta, points_name='queries'),
  )
  scale = 1.0
  if ratio > 2.0**30 or not 2.0**-20 <= beta <= 2.0**20:
    scale = checks.power_of_two_scale(beta, dtype)
    queries, centers = queries / scale, centers / scale
  return (queries, build_groups(centers, beta / scale, prune_tolerance=prune_tolerance), scale)
