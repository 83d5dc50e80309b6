"""Mixture log-densities for small beta: prune far groups, certify the rest.

For n centres c_j and kernel width beta, every query y needs

    S(y) = sum_j exp(s(y) - ||y - c_j||^2 / (2 beta^2))

(s is the per-query shift of `infoflow.estimators._src.dense`). When beta is small
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
outside the list (`infoflow.estimators._src.groups`). A query y with home group g (the
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
left) is computed by the dense `infoflow.estimators._src.dense.log_mean_kernel` (all
centres, err = 0). So every returned value is within `prune_tolerance` of the
full sum, and the returned bound says by how much at most.

Accuracy for tiny beta. Candidate exponents come from
`dense.direct_exponents` (direct differences: a few ulps of each squared
distance, however far the data sit from the origin), never from the
cancelling expansion; centroid distances behind the bounds are direct
differences too, shrunk (radii grown) by a relative margin
(`infoflow.estimators._src.dense.safety`) that covers their float rounding, so a bound
never falls below the truth. The certified error covers the truncation
only; the rounding of the exact part is that of the dense path (see
`infoflow.estimators._src.dense`), ~1e-6 nats.

Two jobs use this. The log-density of a mixture (`log_mean_kernel_pruned`,
behind `pruned_log_mixture_density` and the pruned draws of
`mixture_entropy`): the candidates' log-sum. The posterior pass
(`posterior_sums_pruned`, behind `posterior_information` and
`pooled_mixture_entropy`): the candidate inputs' posterior sums
(`candidate_block`, accumulated as in `infoflow.estimators._src.dense.
accumulate`), the rest bounded alike; its uncertified draws are compacted to
a fixed shape and visited a block at a time by a loop with a traced trip
count, the last few by the dense pass (`dense.dense_rows`). Both drivers
share `refine_until_certified`, and the certificates of `dense`
(`certified_error`, `shift_bounds`).

Shapes: queries (q, d); grouped centres (m, R, d). Values in nats.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp

from infoflow import checks
from infoflow.estimators import results
from infoflow.estimators._src import dense as dense_lib
from infoflow.estimators._src import groups as groups_lib
from infoflow.estimators._src import sharding

DEFAULT_NUM_CANDIDATES = 1
# Gathered candidate coordinates per block (peak memory ~ 3x this, in floats).
CHUNK_ELEMENTS = 1 << 20
_MAX_PAIR_BLOCK = 1 << 22


# ------------------------------------------------------------------ kernels


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
  shrink = 1 - dense_lib.safety(dim, q.dtype)
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


def _certified_block(q, home, shift, groups, inv_two_var, k):
  """log E (the exact sum over the top-k candidates) and its error, a block.

  Args: q (b, d), home (b,) int, shift (b,), k static. Returns (b,), (b,).
  """
  _, exps, log_tail = candidate_exponents(q, home, shift, groups, inv_two_var, k)
  log_exact = jax.nn.logsumexp(exps.reshape(q.shape[0], -1), axis=-1)
  return log_exact, dense_lib.certified_error(log_exact, log_tail)


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


def _density_local_first(q, home, shift, groups, inv_two_var, *, k, prune_tolerance):
  value, err = _certified(q, home, shift, groups, inv_two_var, k)
  return value, err, jnp.sum(err > prune_tolerance)[None]


def _density_local_refine(
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
def _density_first_pass(q, home, shift, groups, inv_two_var, *, mesh, k, prune_tolerance):
  fn = functools.partial(_density_local_first, k=k, prune_tolerance=prune_tolerance)
  value, err, fails = sharding.map_shards(fn, mesh, (q, home, shift), (groups, inv_two_var))
  return value, err, jnp.max(fails), jnp.sum(fails)


@functools.partial(jax.jit, static_argnames=('mesh', 'k', 'size', 'prune_tolerance', 'dense'))
def _density_refine_pass(
  q, home, shift, floor, value, err, groups, inv_two_var, *, mesh, k, size, prune_tolerance, dense
):
  fn = functools.partial(
    _density_local_refine, k=k, size=size, prune_tolerance=prune_tolerance, dense=dense
  )
  value, err, fails = sharding.map_shards(
    fn, mesh, (q, home, shift, floor, value, err), (groups, inv_two_var)
  )
  return value, err, jnp.max(fails), jnp.sum(fails)


def candidate_block(q, home, shift, groups: groups_lib.Groups, onehot, inv_two_var, k):
  """Posterior sums over the top-k candidate inputs, and the tail bound.

  The candidates are chosen and the other inputs bounded by
  `candidate_exponents` (centroid bounds of the
  home group's neighbours, top-k; the unselected neighbours and the
  unlisted groups bounded by the triangle inequality).

  Args:
    q: (b, d) queries; home: (b,) home groups; shift: (b,) offsets.
    groups: `build_groups` of the (m, R, d) centres (groups = inputs).
    onehot: (m, C) labels; inv_two_var: 1 / (2 beta^2); k: static.

  Returns:
    (log_exact, h_x, h_y, err), each (b,): the candidates' log-mass, their
    posterior entropies, and err = log(1 + tail / exact), the certified
    truncation error of log_exact (+inf when nothing was summed).
  """
  cand, exps, log_tail = candidate_exponents(q, home, shift, groups, inv_two_var, k)
  acc = dense_lib.accumulate(
    dense_lib.empty(q.shape[0], onehot.shape[1], q.dtype),
    jax.nn.logsumexp(exps, axis=-1),
    onehot[cand],
  )
  log_exact, h_x, h_y = dense_lib.finish(acc)
  return log_exact, h_x, h_y, dense_lib.certified_error(log_exact, log_tail)


# ------------------------------------------------------------------ drivers


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
  small = size * kn * group_elements <= CHUNK_ELEMENTS
  return kn if small else min(4 * k, kn)


def log_mean_kernel_pruned(
  queries,
  home,
  shift,
  row_floor,
  groups: groups_lib.Groups,
  sigma,
  *,
  prune_tolerance: float = groups_lib.DEFAULT_PRUNE_TOLERANCE,
  num_candidates: int = DEFAULT_NUM_CANDIDATES,
  mesh=None,
):
  """log((1/n) sum_j exp(shift - ||y - c_j||^2 / (2 sigma^2))), certified.

  The pruned counterpart of `infoflow.estimators._src.dense.log_mean_kernel` (same value,
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
      `infoflow.estimators._src.sharding.resolve`).

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
  first = _density_first_pass(
    q, home, shift, groups, inv_two_var, mesh=mesh, k=k, prune_tolerance=prune_tolerance
  )
  value, err, k, refined, dense = _refine(placed, first, k, mesh, prune_tolerance)
  value, err = value[:num], err[:num]
  max_err, mean_err = (float(x) for x in _stats(err))
  info = results.PruneInfo(max_err, mean_err, k, kn, refined, dense)
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
    value, err, fails, total = _density_refine_pass(
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


def candidate_rows(q, home, shift, groups, onehot, inv_two_var, k):
  """`candidate_block` over blocks of rows; four (b,) outputs."""
  rows, dim = q.shape
  r = groups.centers.shape[1]
  block = max(1, min(rows, CHUNK_ELEMENTS // (k * r * dim)))
  packed = [checks.pad_to_multiple(a, block) for a in (q, home, shift)]
  packed = tuple(a.reshape((-1, block) + a.shape[1:]) for a in packed)
  outs = jax.lax.map(lambda a: candidate_block(*a, groups, onehot, inv_two_var, k), packed)
  return tuple(o.reshape(-1)[:rows] for o in outs)


def _posterior_local_first(q, home, shift, groups, onehot, inv_two_var, *, k, prune_tolerance):
  out = candidate_rows(q, home, shift, groups, onehot, inv_two_var, k)
  return out, jnp.sum(out[3] > prune_tolerance)[None]


def _posterior_local_refine(
  q,
  home,
  shift,
  log_sum,
  h_x,
  h_y,
  err,
  groups,
  onehot,
  dense_args,
  inv_two_var,
  *,
  k,
  prune_tolerance,
  dense,
  group_chunk,
  rounding_tolerance,
):
  """Redoes the rows whose error exceeds the tolerance, `block` at a time.

  The failing rows are compacted (`jnp.nonzero` to the full row count, a
  static size) and a `fori_loop` with a traced trip count visits only the
  blocks that hold them: one compilation per (K, dense), whatever the count.
  """
  rows = q.shape[0]
  fail = err > prune_tolerance
  count = jnp.sum(fail)
  if dense:
    block = min(rows, dense_lib.DENSE_QUERIES)
  else:
    r, dim = groups.centers.shape[1:]
    block = max(1, min(rows, CHUNK_ELEMENTS // (k * r * dim)))
  idx = checks.pad_to_multiple(jnp.nonzero(fail, size=rows, fill_value=0)[0], block)

  def redo(i, out):
    sel = jax.lax.dynamic_slice(idx, (i * block,), (block,))
    live = i * block + jnp.arange(block) < count
    if dense:
      # Far chunks skipped within half the tolerance: these rows are done.
      new = dense_lib.dense_rows(
        q[sel],
        shift[sel],
        *dense_args,
        inv_two_var,
        group_chunk,
        prune_tolerance / 2,
        rounding_tolerance,
      )
    else:
      new = candidate_block(q[sel], home[sel], shift[sel], groups, onehot, inv_two_var, k)
    target = jnp.where(live, sel, rows)
    return tuple(old.at[target].set(value, mode='drop') for old, value in zip(out, new))

  out = jax.lax.fori_loop(0, (count + block - 1) // block, redo, (log_sum, h_x, h_y, err))
  return out, jnp.sum(out[3] > prune_tolerance)[None]


@functools.partial(jax.jit, static_argnames=('mesh', 'k', 'prune_tolerance'))
def _posterior_first_pass(q, home, shift, groups, onehot, inv_two_var, *, mesh, k, prune_tolerance):
  fn = functools.partial(_posterior_local_first, k=k, prune_tolerance=prune_tolerance)
  out, fails = sharding.map_shards(fn, mesh, (q, home, shift), (groups, onehot, inv_two_var))
  return out, jnp.max(fails), jnp.sum(fails)


@functools.partial(
  jax.jit,
  static_argnames=('mesh', 'k', 'prune_tolerance', 'dense', 'group_chunk', 'rounding_tolerance'),
)
def _posterior_refine_pass(
  q,
  home,
  shift,
  out,
  groups,
  onehot,
  dense_args,
  inv_two_var,
  *,
  mesh,
  k,
  prune_tolerance,
  dense,
  group_chunk,
  rounding_tolerance,
):
  fn = functools.partial(
    _posterior_local_refine,
    k=k,
    prune_tolerance=prune_tolerance,
    dense=dense,
    group_chunk=group_chunk,
    rounding_tolerance=rounding_tolerance,
  )
  out, fails = sharding.map_shards(
    fn, mesh, (q, home, shift, *out), (groups, onehot, dense_args, inv_two_var)
  )
  return out, jnp.max(fails), jnp.sum(fails)


def posterior_sums_pruned(
  q,
  home,
  shift,
  groups,
  onehot,
  dense_args,
  inv_two_var,
  *,
  group_chunk,
  prune_tolerance,
  rounding_tolerance,
  mesh,
):
  """Certified posterior sums of every draw (host driver, module docstring).

  Args:
    q, home, shift: (b,) draws, their home inputs and exponent offsets,
      padded to the shard count.
    groups: `groups.build_groups` of the (m, R, d) samples (groups = inputs).
    onehot: (m, C) labels in input order.
    dense_args, group_chunk: the dense pass's layout (`dense.dense_rows`),
      for the draws no K certifies.
    inv_two_var: 1 / (2 beta^2); prune_tolerance, rounding_tolerance: nats.
    mesh: see `infoflow.estimators._src.sharding.resolve`.

  Returns:
    ((log sum_x e^{L_x}, H(X | T=t), H(Y | T=t), err), each (b,); rows
    refined; rows computed densely).
  """
  kn = groups.num_neighbors
  k = min(DEFAULT_NUM_CANDIDATES, kn)
  out, fails, total = _posterior_first_pass(
    q, home, shift, groups, onehot, inv_two_var, mesh=mesh, k=k, prune_tolerance=prune_tolerance
  )

  def refine_pass(out, k, size, use_dense):
    del size  # compacted to the full row count (one compilation per K)
    return _posterior_refine_pass(
      q,
      home,
      shift,
      out,
      groups,
      onehot,
      dense_args,
      inv_two_var,
      mesh=mesh,
      k=k,
      prune_tolerance=prune_tolerance,
      dense=use_dense,
      group_chunk=group_chunk,
      rounding_tolerance=rounding_tolerance,
    )

  r, dim = groups.centers.shape[1:]
  out, _, refined, dense = refine_until_certified(refine_pass, out, fails, total, k, kn, r * dim)
  return out, refined, dense
