"""Log-density of equal-weight isotropic Gaussian mixtures, evaluated exactly.

The estimators need, for query points y_q and centres c_1..c_n,

    log_mean_kernel(y_q) = log( (1/n) sum_j exp(-||y_q - c_j||^2 / (2 sigma^2)
                                                 + shift_q) ),

from which log g(y) = log_mean_kernel(y) - (d/2) log(2 pi sigma^2) is the
log-density of g = (1/n) sum_j N(c_j, sigma^2 I). Every term is kept: the sum
is a streaming (online) logsumexp over chunks of centres, so peak memory is
O(query_chunk x center_chunk), never O(num_queries x n).

Squared distances, and why there are two ways to compute them
--------------------------------------------------------------
The fast way is the expansion ||y-a||^2 + ||c-a||^2 - 2 (y-a).(c-a) (one
matrix product, a = an anchor). In float32 it cancels catastrophically when
sigma is small compared with the data: its rounding error is up to
(d + 10) u (||y-a||^2 + ||c-a||^2) with u = 2^-24 (`_expansion_error_factor`),
~0.1 nats in the exponent when sigma is 1e-3 of the data scale. The exact way,
the direct sum of squared differences, is accurate to a few ulps of the
distance itself but ~5x slower on a CPU.

Each (query chunk, centre chunk) block is computed by the expansion, anchored
at the query chunk's mean, together with its worst-case error bound. Terms
that can matter and whose bound exceeds `rounding_tolerance` (default 1e-3 nats) are
recomputed by direct differences, for the whole block. A term cannot matter
when even its upper bound lies `_NEGLIGIBLE` = 40 nats under a known lower
bound of its row's largest exponent: with n <= 1e9 centres such terms move
the log-sum by less than n e^-40 < 1e-8 nats, whatever their error. So every term that matters is
within `rounding_tolerance` of exact, hence so is each log g (a weighted mean of them);
large sigma takes the fast path and tiny sigma is exact where it counts. The
bound is a worst case: measured errors are ~1e-6 nats (see the benchmark).

Matrix products use `Precision.HIGHEST`: on GPUs the default float32 matmul
may round its inputs to TF32, which would void the bound.

Kernels. `log_mean_kernel` (a mixture's log-density at given points: every
centre, in chunks), `batched_log_mean_kernel` (m small mixtures at once) and
`dense_block` (the posterior sums of the posterior pass: per-input
log-masses accumulated over chunks of inputs, far chunks skipped and
bounded; `dense_rows` runs it over blocks of rows). The certificates of a
skipped or pruned part (`certified_error`, `shift_bounds`) are here too:
the dense pass and the pruned evaluation (`infoflow.estimators._src.pruned`)
share them.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks

# A term this many nats below the row's largest exponent is negligible.
_NEGLIGIBLE = 40.0
# An exponent of the own centre is 0 up to rounding; this slack makes -1 a safe
# lower bound of the row maximum.
OWN_TERM_FLOOR = -1.0
# Queries per block of the dense posterior pass.
DENSE_QUERIES = 256


def safety(dim: int, dtype) -> float:
  """Relative slack covering the float rounding of a direct distance."""
  return 4.0 * (dim + 4) * float(jnp.finfo(dtype).eps)


def _expansion_error_factor(dim: int, dtype) -> float:
  """gamma with |error of the anchored expansion| <= gamma (|q-a|^2 + |c-a|^2).

  With u the unit roundoff: the compensated squared norms are within 2u of
  exact, the dot product within d u |q||c| <= (d u / 2)(|q|^2 + |c|^2), the
  two final additions within 4u (|q|^2 + |c|^2), and rounding q - a and c - a
  moves the distance by at most 4u (|q-a|^2 + |c-a|^2): (d + 10) u in all.
  """
  unit_roundoff = float(jnp.finfo(dtype).eps) / 2
  return (dim + 10) * unit_roundoff


def compensated_sq_norms(x):
  """Row-wise ||x||^2 by Kahan summation over features: error <= 2u ||x||^2."""

  def add(carry, column):
    total, compensation = carry
    term = column * column - compensation
    new_total = total + term
    return (new_total, (new_total - total) - term), None

  zeros = jnp.zeros(x.shape[:-1], x.dtype)
  (total, _), _ = jax.lax.scan(add, (zeros, zeros), jnp.moveaxis(x, -1, 0))
  return total


def expansion_exponents(queries, centers, anchor, inv_two_var, shift):
  """Exponents -||q - c||^2 / (2 sigma^2) + shift by the anchored expansion.

  Args:
    queries: (bq, d) query points.
    centers: (bc, d) centres.
    anchor: (d,) common anchor subtracted from both (reduces rounding error).
    inv_two_var: scalar 1 / (2 sigma^2).
    shift: (bq,) per-query additive offset of the exponent.

  Returns:
    (exponents, error_bound), both (bq, bc): the exponents and a worst-case
    bound, in nats, on their rounding error.
  """
  q = queries - anchor
  c = centers - anchor
  q_sq = compensated_sq_norms(q)
  c_sq = compensated_sq_norms(c)
  cross = jnp.matmul(q, c.T, precision=jax.lax.Precision.HIGHEST)
  sq_dist = jnp.maximum(q_sq[:, None] + c_sq[None, :] - 2.0 * cross, 0.0)
  gamma = _expansion_error_factor(queries.shape[-1], queries.dtype)
  error = gamma * (q_sq[:, None] + c_sq[None, :]) * inv_two_var
  return shift[:, None] - sq_dist * inv_two_var, error


def direct_exponents(queries, centers, inv_two_var, shift):
  """Exponents -||q - c||^2 / (2 sigma^2) + shift from direct differences.

  Accurate to a few ulps of each squared distance, however close the points.
  Shapes as in `expansion_exponents`; returns (bq, bc).
  """
  dim = queries.shape[-1]
  if dim <= 16:
    # Summing coordinate by coordinate fuses into one loop over the block and
    # never materialises a (bq, bc, d) array.
    sq_dist = jnp.zeros((queries.shape[0], centers.shape[0]), queries.dtype)
    for k in range(dim):
      diff = queries[:, k, None] - centers[None, :, k]
      sq_dist = sq_dist + diff * diff
  else:
    diff = queries[:, None, :] - centers[None, :, :]
    sq_dist = jnp.sum(diff * diff, axis=-1)
  return shift[:, None] - sq_dist * inv_two_var


def block_exponents(
  queries, centers, anchor, inv_two_var, shift, row_floor, valid, rounding_tolerance
):
  """Exponents of one block: the expansion, or direct differences if unsafe.

  The block is recomputed by direct differences when any term that can matter
  has an expansion error bound above `rounding_tolerance`. (Fixing such terms one by
  one with a gather/scatter was measured slower on CPU than redoing the
  block.)

  Args:
    queries, centers, anchor, inv_two_var, shift: as in `expansion_exponents`.
    row_floor: (bq,) a lower bound of each row's largest exponent over all
      centres (-inf when unknown).
    valid: (bc,) bool, False for padding centres.
    rounding_tolerance: the largest rounding error, in nats, allowed on a term that
      can matter.

  Returns:
    (bq, bc) exponents, -inf at padding.
  """
  fast, error = expansion_exponents(queries, centers, anchor, inv_two_var, shift)
  can_matter = (fast + error >= row_floor[:, None] - _NEGLIGIBLE) & valid
  needs_direct = jnp.any(can_matter & (error > rounding_tolerance))
  exponents = jax.lax.cond(
    needs_direct, lambda: direct_exponents(queries, centers, inv_two_var, shift), lambda: fast
  )
  return jnp.where(valid[None, :], exponents, -jnp.inf)


def _merge_logsumexp(running_max, running_sum, exponents):
  """One step of a streaming logsumexp over the last axis of `exponents`."""
  new_max = jnp.maximum(running_max, jnp.max(exponents, axis=-1))
  safe_max = jnp.where(jnp.isfinite(new_max), new_max, 0.0)
  rescale = jnp.where(jnp.isfinite(running_max), jnp.exp(running_max - safe_max), 0.0)
  block_sum = jnp.sum(jnp.exp(exponents - safe_max[..., None]), axis=-1)
  return new_max, running_sum * rescale + block_sum


def _chunk_log_sum(q, shift, floor, centers_blocks, valid, inv_two_var, rounding_tolerance):
  """log sum_j exp(exponent) of one query chunk over all centre blocks.

  Args:
    q: (query_chunk, d) queries.
    shift, floor: (query_chunk,) row shifts and row-maximum floors.
    centers_blocks: (num_blocks, center_chunk, d) padded centres.
    valid: (num_blocks, center_chunk) mask of the real centres.
    inv_two_var: 1 / (2 sigma^2).
    rounding_tolerance: as in `log_mean_kernel`.

  Returns:
    (query_chunk,) log-sums (before the division by n).
  """
  anchor = jnp.mean(q, axis=0)

  def step(carry, block):
    running_max, running_sum = carry
    c, v = block
    # Exponents already summed are exact to `rounding_tolerance`: their max
    # is a valid lower bound of the row maximum too.
    floor_now = jnp.maximum(floor, running_max - rounding_tolerance)
    a = block_exponents(q, c, anchor, inv_two_var, shift, floor_now, v, rounding_tolerance)
    return _merge_logsumexp(running_max, running_sum, a), None

  init = (jnp.full(q.shape[:1], -jnp.inf, q.dtype), jnp.zeros(q.shape[:1], q.dtype))
  (running_max, running_sum), _ = jax.lax.scan(step, init, (centers_blocks, valid))
  return running_max + jnp.log(running_sum)


@functools.partial(jax.jit, static_argnames=('query_chunk', 'center_chunk'))
def log_mean_kernel(
  queries,
  centers,
  sigma,
  shift=None,
  row_floor=None,
  *,
  rounding_tolerance=1e-3,
  query_chunk=512,
  center_chunk=2048,
):
  """log((1/n) sum_j exp(-||y - c_j||^2 / (2 sigma^2) + shift)) per query.

  Exact up to floating-point rounding (every term is summed; see the module
  docstring for how distances are kept accurate for small sigma).

  Args:
    queries: (num_queries, d) points y.
    centers: (n, d) centres c_j, n >= 1.
    sigma: scalar kernel standard deviation (> 0).
    shift: optional (num_queries,) offset added to every exponent of a row
      (lets callers fold a known term in before the logsumexp).
    row_floor: optional (num_queries,) lower bound on each row's largest
      exponent (shift included); it only enables the fast path earlier.
    rounding_tolerance: rounding error allowed on a term that matters, in nats.
    query_chunk: queries per block.
    center_chunk: centres per block. Peak memory is about
      query_chunk * center_chunk * 4 numbers.

  Returns:
    (num_queries,) values, in nats.
  """
  num_queries, dim = queries.shape
  n = centers.shape[0]
  dtype = queries.dtype
  inv_two_var = 0.5 / (jnp.asarray(sigma, dtype) ** 2)
  if shift is None:
    shift = jnp.zeros((num_queries,), dtype)
  if row_floor is None:
    row_floor = jnp.full((num_queries,), -jnp.inf, dtype)

  query_chunk = min(query_chunk, num_queries)
  center_chunk = min(center_chunk, n)
  pad = checks.pad_to_multiple
  centers_p = pad(centers, center_chunk, fill=0).reshape(-1, center_chunk, dim)
  valid = pad(jnp.ones((n,), bool), center_chunk, fill=False).reshape(-1, center_chunk)
  packed = [pad(a, query_chunk, fill=0) for a in (queries, shift, row_floor)]
  packed = [a.reshape((-1, query_chunk) + a.shape[1:]) for a in packed]

  def one_query_chunk(args):
    q, s, floor = args
    return _chunk_log_sum(q, s, floor, centers_p, valid, inv_two_var, rounding_tolerance)

  out = jax.lax.map(one_query_chunk, tuple(packed))
  return out.reshape(-1)[:num_queries] - math.log(n)


@functools.partial(jax.jit, static_argnames=('mixture_chunk',))
def batched_log_mean_kernel(
  queries, centers, sigma, shift, row_floor, *, rounding_tolerance=1e-3, mixture_chunk=64
):
  """`log_mean_kernel` for m independent small mixtures at once.

  Args:
    queries: (m, k, d): k queries for each of m mixtures.
    centers: (m, r, d): r centres for each mixture (small: all r are handled in
      one block).
    sigma: scalar kernel standard deviation.
    shift: (m, k) exponent offsets.
    row_floor: (m, k) lower bounds of each row's largest exponent.
    rounding_tolerance: as in `log_mean_kernel`.
    mixture_chunk: mixtures per block; peak memory ~ mixture_chunk * k * r.

  Returns:
    (m, k) values, in nats.
  """
  m, k, dim = queries.shape
  r = centers.shape[1]
  dtype = queries.dtype
  inv_two_var = 0.5 / (jnp.asarray(sigma, dtype) ** 2)
  mixture_chunk = min(mixture_chunk, m)
  packed = [
    checks.pad_to_multiple(a, mixture_chunk, fill=0) for a in (queries, centers, shift, row_floor)
  ]
  packed = [a.reshape((-1, mixture_chunk) + a.shape[1:]) for a in packed]

  def one_chunk(args):
    q, c, s, floor = args
    # Anchoring at each mixture's own mean keeps the expansion accurate even
    # when the mixture sits far from the origin.
    anchor = jnp.mean(c, axis=1)
    fast, error = jax.vmap(expansion_exponents, (0, 0, 0, None, 0))(q, c, anchor, inv_two_var, s)
    can_matter = fast + error >= floor[..., None] - _NEGLIGIBLE
    needs_direct = jnp.any(can_matter & (error > rounding_tolerance))
    a = jax.lax.cond(
      needs_direct,
      lambda: jax.vmap(direct_exponents, (0, 0, None, 0))(q, c, inv_two_var, s),
      lambda: fast,
    )
    return jax.nn.logsumexp(a, axis=-1)

  out = jax.lax.map(one_chunk, tuple(packed))
  return out.reshape(-1, k)[:m] - math.log(r)


# ------------------------------------------------------------ posterior sums
#
# For a draw t and the grouped centres s_{x,r} (m inputs x, R replicas r), the
# per-input log-masses
#
#     L_x(t) = log sum_r exp(shift(t) - ||t - s_{x,r}||^2 / (2 beta^2))
#
# give everything the posterior pass needs:
#
#     log sum_x e^{L_x}                      (log g(t) up to constants)
#     H(X | T=t) = -sum_x p_x log p_x,       p_x = e^{L_x} / sum_x' e^{L_x'}
#     H(Y | T=t) = -sum_y P_y log P_y,       P_y = sum_{x: label y} p_x.
#
# They are accumulated over chunks of inputs in one streaming pass, in
# coordinates relative to the running maximum M (no cancellation):
#
#     S = sum_x e^{L_x - M},   W = sum_x e^{L_x - M} (L_x - M) <= 0,
#     C_y = sum_{x: label y} e^{L_x - M},
#
# so that log sum_x e^{L_x} = M + log S, H(X | T=t) = log S - W / S (a sum of
# two non-negative terms) and P_y = C_y / S. A new chunk with a larger maximum
# M' rescales S, C by e^{M - M'} and W by e^{M - M'} (W + (M - M') S).
# Shapes: queries (b, d); grouped centres (m, R, d); one-hot labels (m, C).


def empty(rows: int, num_classes: int, dtype):
  """The accumulator (M, S, W, C) of no inputs yet."""
  return (
    jnp.full((rows,), -jnp.inf, dtype),
    jnp.zeros((rows,), dtype),
    jnp.zeros((rows,), dtype),
    jnp.zeros((rows, num_classes), dtype),
  )


def accumulate(acc, log_mass, onehot):
  """Adds inputs with log-masses (b, G) and one-hot labels to `acc`.

  Args:
    acc: (M, S, W, C) as in the module docstring.
    log_mass: (b, G) per-input log-masses L_x (-inf for absent inputs).
    onehot: (G, C) or (b, G, C) one-hot labels of those inputs.
  """
  big, total, weighted, classes = acc
  new_big = jnp.maximum(big, jnp.max(log_mass, axis=-1))
  safe = jnp.where(jnp.isfinite(new_big), new_big, 0.0)
  seen = jnp.isfinite(big)
  scale = jnp.where(seen, jnp.exp(big - safe), 0.0)
  delta = jnp.where(seen, big - safe, 0.0)
  rel = log_mass - safe[:, None]
  mass = jnp.exp(rel)
  rel = jnp.where(mass > 0, rel, 0.0)
  new_total = total * scale + jnp.sum(mass, axis=-1)
  new_weighted = scale * (weighted + delta * total) + jnp.sum(mass * rel, -1)
  if onehot.ndim == 2:
    class_mass = jnp.matmul(mass, onehot, precision=jax.lax.Precision.HIGHEST)
  else:
    class_mass = jnp.einsum('bg,bgc->bc', mass, onehot, precision=jax.lax.Precision.HIGHEST)
  return new_big, new_total, new_weighted, classes * scale[:, None] + class_mass


def finish(acc):
  """(log sum_x e^{L_x}, H(X | T=t), H(Y | T=t)) per row, in nats."""
  big, total, weighted, classes = acc
  log_total = jnp.log(total)
  h_x = jnp.maximum(log_total - weighted / total, 0.0)
  probs = classes / total[:, None]
  logs = jnp.log(jnp.where(probs > 0, probs, 1.0))
  h_y = jnp.maximum(-jnp.sum(probs * logs, axis=-1), 0.0)
  return big + log_total, h_x, h_y


def chunk_bounds(centers, valid, group_chunk):
  """(centroids (s, d), radii (s,), log counts (s,)) of the s = m / group_chunk
  chunks of inputs that `dense_block` scans: every valid centre of chunk k lies
  within radii[k] of centroids[k] (direct differences, grown by
  `safety`)."""
  m, r, dim = centers.shape
  flat = centers.reshape(m // group_chunk, group_chunk * r, dim)
  ok = valid.reshape(m // group_chunk, group_chunk * r)
  counts = jnp.sum(ok, axis=1).astype(centers.dtype)
  centroids = jnp.sum(jnp.where(ok[..., None], flat, 0), axis=1) / counts[:, None]
  diff = flat - centroids[:, None, :]
  radii = jnp.sqrt(jnp.max(jnp.where(ok, jnp.sum(diff * diff, axis=-1), 0), axis=1))
  return centroids, radii * (1 + safety(dim, centers.dtype)), jnp.log(counts)


def far_chunks(q, shift, floor, bounds, inv_two_var, skip_tolerance):
  """Which chunks a query block may skip, and each row's bound of each.

  A chunk of n_k centres within rho_k of mu_k adds at most
  n_k exp(shift - max(||t - mu_k|| - rho_k, 0)^2 / (2 beta^2)) to a row's sum
  (triangle inequality). It is skipped when that bound is at most
  e^floor skip_tolerance / s for every row of the block (s chunks; e^floor
  is at most the row's largest term), so that the skipped mass B of a row is
  at most skip_tolerance times its exact part E.

  Returns:
    skip: (s,) bool; log_bound: (b, s) log of each chunk's bound per row.
  """
  centroids, radii, log_counts = bounds
  diff = q[:, None, :] - centroids[None]
  slack = safety(q.shape[1], q.dtype)
  gap = jnp.maximum(jnp.sqrt(jnp.sum(diff * diff, axis=-1)) * (1 - slack) - radii[None], 0)
  log_bound = log_counts[None] + shift[:, None] - gap * gap * inv_two_var
  limit = floor + math.log(skip_tolerance) - math.log(centroids.shape[0])
  return jnp.all(log_bound <= limit[:, None], axis=0), log_bound


def dense_block(
  q, shift, floor, centers, valid, onehot, inv_two_var, tolerance, group_chunk, bounds, skip
):
  """Posterior sums of one query block over every chunk of centres that can
  matter (`far_chunks`); the others are bounded.

  Args:
    q: (b, d) queries; shift, floor: (b,) exponent offset and a lower bound
      of each row's largest exponent (see `dense.log_mean_kernel`).
    centers: (m, R, d) grouped centres, m a multiple of group_chunk.
    valid: (m, R) bool; onehot: (m, C) labels.
    inv_two_var: 1 / (2 beta^2); tolerance: rounding tolerance of the
      exponents (`dense.block_exponents`).
    group_chunk: inputs per step of the scan.
    bounds: `chunk_bounds` of the centres; skip: the skip tolerance (0: sum
      every chunk).

  Returns:
    (log sum_x e^{L_x}, H(X | T=t), H(Y | T=t), err), each (b,): err =
    log(1 + B / E) <= skip, the certified error of the first from the
    skipped chunks (as in `candidate_block`).
  """
  m, r, dim = centers.shape
  steps = m // group_chunk
  anchor = jnp.mean(q, axis=0)
  if skip > 0:
    far, log_bound = far_chunks(q, shift, floor, bounds, inv_two_var, skip)
  else:
    far, log_bound = jnp.zeros((steps,), bool), jnp.full((q.shape[0], steps), -jnp.inf, q.dtype)
  chunks = (
    centers.reshape(steps, group_chunk * r, dim),
    valid.reshape(steps, group_chunk * r),
    onehot.reshape(steps, group_chunk, -1),
    far,
  )

  def step(acc, chunk):
    c, v, oh, skipped = chunk

    def add():
      exps = block_exponents(q, c, anchor, inv_two_var, shift, floor, v, tolerance)
      log_mass = jax.nn.logsumexp(exps.reshape(-1, group_chunk, r), axis=-1)
      return accumulate(acc, log_mass, oh)

    return jax.lax.cond(skipped, lambda: acc, add), None

  acc, _ = jax.lax.scan(step, empty(q.shape[0], onehot.shape[1], q.dtype), chunks)
  log_sum, h_x, h_y = finish(acc)
  log_far = jax.nn.logsumexp(jnp.where(far[None], log_bound, -jnp.inf), axis=1)
  return log_sum, h_x, h_y, certified_error(log_sum, log_far)


def dense_rows(
  q, shift, centers, valid, onehot, bounds, inv_two_var, group_chunk, skip, rounding_tolerance
):
  """`dense_block` over blocks of DENSE_QUERIES rows: (log-sum, H_X, H_Y, err),
  each (b,)."""
  rows = q.shape[0]
  block = min(rows, DENSE_QUERIES)
  floor = jnp.full((rows,), OWN_TERM_FLOOR, q.dtype)
  packed = [checks.pad_to_multiple(a, block) for a in (q, shift, floor)]
  packed = tuple(a.reshape((-1, block) + a.shape[1:]) for a in packed)
  outs = jax.lax.map(
    lambda a: dense_block(
      *a, centers, valid, onehot, inv_two_var, rounding_tolerance, group_chunk, bounds, skip
    ),
    packed,
  )
  return tuple(o.reshape(-1)[:rows] for o in outs)


# -------------------------------------------------------------- certificates


def certified_error(log_exact, log_tail):
  """err = log(1 + tail / exact): the certified error of log_exact (+inf
  when nothing was summed)."""
  err = jnp.log1p(jnp.exp(log_tail - log_exact))
  return jnp.where(jnp.isfinite(err), err, jnp.inf)


def binary_entropy(eps):
  """h2(eps) = -eps log eps - (1 - eps) log(1 - eps), eps clipped to [0, 1/2]."""
  eps = np.clip(eps, 0.0, 0.5)
  safe = np.where(eps > 0, eps, 1.0)
  return np.where(eps > 0, -safe * np.log(safe) - (1 - eps) * np.log1p(-eps), 0.0)


def shift_bounds(err, num_inputs, num_classes):
  """Sums over draws of the bounds on the shifts of -log g, H(X|T=t), H(Y|T=t).

  From each draw's certified error err of log g (`candidate_block`): with
  eps = 1 - e^{-err}, |shift of H(X|T=t)| <= h2(eps) + eps log m and
  |shift of H(Y|T=t)| <= h2(eps) + eps log C (docs/method.md, section 5).
  Host-side float64; returns three floats.
  """
  err = np.asarray(err, np.float64)
  eps = -np.expm1(-err)
  h2 = binary_entropy(eps)
  return (
    err.sum(),
    (h2 + eps * math.log(num_inputs)).sum(),
    (h2 + eps * math.log(max(num_classes, 1))).sum(),
  )
