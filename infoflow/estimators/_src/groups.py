"""Centres in groups with centroids, radii and neighbour lists.

The pruned evaluation (`infoflow.estimators._src.pruned`) needs the centres in groups: the R
replicas of one input (centres shaped (m, R, d)), or, for ungrouped (n, d)
centres, the cells of a k-d partition (median cuts, `kd_partition`). For each
group g: its member count n_g, centroid mu_g, a radius rho_g with every
member within rho_g of mu_g, and the list of groups near it. Every number
that later bounds a kernel term is rounded the safe way: radii are grown
and distances shrunk by `safety`, a relative margin above the float rounding
of a direct-difference distance.

Neighbour lists. Group h is listed for g when a lower bound of its gap
||mu_h - mu_g|| - rho_h is below rho_g + reach. The bounds come from float32
direct differences over all m^2 pairs, shrunk by `safety` (jitted, blocks of
rows; ~0.05 s for the 4096 groups of an SZT layer), and each row keeps its
Kn smallest by `lax.top_k`. Then every unlisted h has a gap >= far_gap(g):
rho_g + reach, or, for the few rows with more than Kn groups within reach,
the first gap bound dropped (their far draws then take the slower paths of
`infoflow.estimators._src.pruned`). reach is the distance at which a far bound
certifies a typical Monte Carlo draw (|z| <= sqrt(d) + 2) to the
prune_tolerance: beta (a + sqrt(a^2 + 2 log n + 2 log(1/tol))), a = sqrt(d) +
2. Kn (`list_length`) is a power of 4 at or above the 99th percentile of the
list lengths, padded (`listed` marks the real entries): few distinct Kn, so
few compilations of the passes that take the lists.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow.estimators._src import dense

DEFAULT_PRUNE_TOLERANCE = 1e-6
# method='auto' prunes only from this many centres on (below, dense is cheap)
# and only when beta < spread / PRUNE_SPREAD_RATIO (see `choose_method`).
PRUNE_MIN_CENTERS = 16384
PRUNE_SPREAD_RATIO = 10.0
METHODS = ('auto', 'dense', 'pruned')


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Groups:
  """Centres in groups, with the bounds the pruned evaluation needs.

  Attributes (m groups of at most R members, n centres, d dims, Kn listed
  neighbours):
    centers: (m, R, d) members; padding slots are masked by `valid`.
    valid: (m, R) bool.
    counts: (m,) members per group (float).
    centroids: (m, d) group means mu_g.
    radii: (m,) upper bounds of max ||c - mu_g|| over members.
    neighbors: (m, Kn) int32, the groups near each group.
    listed: (m, Kn) bool, False for padding entries of `neighbors`.
    far_gap: (m,) lower bound of ||mu_h - mu_g|| - rho_h over the groups h
      not listed (+inf when all are listed).
    far_count: (m,) centres outside the listed groups (float).
    flat: (n, d) all centres, ungrouped (for the dense fallback and draws).
    group_of: (n,) int32 group of each row of `flat`.
  """

  centers: jax.Array
  valid: jax.Array
  counts: jax.Array
  centroids: jax.Array
  radii: jax.Array
  neighbors: jax.Array
  listed: jax.Array
  far_gap: jax.Array
  far_count: jax.Array
  flat: jax.Array
  group_of: jax.Array

  @property
  def num_groups(self) -> int:
    return self.centers.shape[0]

  @property
  def num_neighbors(self) -> int:
    return self.neighbors.shape[1]


# -------------------------------------------------------------------- groups


def kd_partition(points: np.ndarray, leaf_size: int):
  """Splits points into compact cells of <= leaf_size points (host, NumPy).

  A cell with more than `leaf_size` points is cut across its widest
  coordinate at the widest empty gap among the middle half of its points
  (sorted along that coordinate): tight clusters (the replicas of one
  input) stay whole whenever a gap separates them, and both parts keep at
  least a quarter of the points.

  Returns:
    (order, sizes): a permutation of range(n) listing the cells one after
    the other, and the (m,) cell sizes.
  """
  order = np.arange(len(points))
  stack, sizes = [(0, len(points))], []
  while stack:
    lo, hi = stack.pop()
    count = hi - lo
    if count <= leaf_size:
      sizes.append(count)
      continue
    idx = order[lo:hi]
    pts = points[idx]
    axis = int(np.argmax(pts.max(0) - pts.min(0)))
    ranked = np.argsort(pts[:, axis], kind='stable')
    values = pts[ranked, axis]
    first, last = count // 4, count - count // 4
    cut = first + int(np.argmax(values[first : last + 1] - values[first - 1 : last]))
    order[lo:hi] = idx[ranked]
    # Pushed right first: cells come out left to right, in `order`.
    stack.extend([(lo + cut, hi), (lo, lo + cut)])
  return order, np.asarray(sizes)


def default_group_size(n: int) -> int:
  """Cells of ~n/4096 points (a power of two in [16, 1024])."""
  target = max(1, -(-n // 4096))
  return int(min(1024, max(16, 1 << math.ceil(math.log2(target)))))


@jax.jit
def _grouped_layout(centers):
  m, r, dim = centers.shape
  group_of = jnp.repeat(jnp.arange(m, dtype=jnp.int32), r)
  return (centers, jnp.ones((m, r), bool), centers.reshape(m * r, dim), group_of)


def _layout(centers, group_size):
  """(grouped, valid, flat, group_of) from (m, R, d) or (n, d) centres."""
  if centers.ndim == 3:
    return _grouped_layout(centers)
  host = np.asarray(centers)
  n, dim = host.shape
  order, sizes = kd_partition(host, group_size or default_group_size(n))
  m, r = len(sizes), int(sizes.max())
  cell = np.repeat(np.arange(m), sizes)
  slot = np.arange(n) - np.repeat(np.cumsum(sizes) - sizes, sizes)
  grouped = np.zeros((m, r, dim), host.dtype)
  grouped[cell, slot] = host[order]
  valid = np.zeros((m, r), bool)
  valid[cell, slot] = True
  group_of = np.empty(n, np.int32)
  group_of[order] = cell
  return (jnp.asarray(grouped), jnp.asarray(valid), jnp.asarray(centers), jnp.asarray(group_of))


@jax.jit
def _group_stats(centers, valid):
  dim = centers.shape[-1]
  counts = jnp.sum(valid, axis=1).astype(centers.dtype)
  centroids = jnp.sum(jnp.where(valid[..., None], centers, 0), 1) / counts[:, None]
  zeros = jnp.zeros((1,), centers.dtype)
  sq = jax.vmap(lambda mu, c: -dense.direct_exponents(mu[None], c, 1.0, zeros)[0])(
    centroids, centers
  )
  radii = jnp.sqrt(jnp.max(jnp.where(valid, sq, 0), axis=1))
  return counts, centroids, radii * (1 + dense.safety(dim, centers.dtype))


def _row_blocks(m: int) -> int:
  """Rows of the (rows, m) distance matrix held at once (~4M entries)."""
  return max(1, min(m, (1 << 22) // max(m, 1)))


@jax.jit
def _near_matrix(centroids, radii, limit):
  """(m, m) bool: the gap bound of column h is below the limit of row g.

  The gap bound is ||mu_h - mu_g|| - rho_h with the distance replaced by a
  lower bound of the exact one: a block of rows at a time, one matrix product
  gives the squared distances by the anchored expansion
  (`dense.expansion_exponents`, anchor the mean centroid) with their rounding
  bound, which is subtracted; the square root is then shrunk by the relative
  `dense.safety`. So no pair whose exact gap is below the limit is missed (a
  few more may be listed: safe, slightly more work), at the cost of a matmul
  rather than (rows, m, d) direct differences.
  """
  m, dim = centroids.shape
  block = _row_blocks(m)
  slack = dense.safety(dim, centroids.dtype)
  anchor = jnp.mean(centroids, axis=0)
  half = jnp.asarray(0.5, centroids.dtype)  # 1 / (2 sigma^2) at sigma = 1
  rows = checks.pad_to_multiple(centroids, block).reshape(-1, block, dim)
  lims = checks.pad_to_multiple(limit, block).reshape(-1, block)

  def near(args):
    r, lim = args
    # exponents = -d2 / 2, error its rounding bound: d2 >= -2 (exponents + error).
    exponents, error = dense.expansion_exponents(
      r, centroids, anchor, half, jnp.zeros(r.shape[:1], r.dtype)
    )
    dist = jnp.sqrt(jnp.maximum(-2.0 * (exponents + error), 0.0))
    return dist * (1 - slack) - radii[None, :] < lim[:, None]

  return jax.lax.map(near, (rows, lims)).reshape(-1, m)[:m]


def _lists_of(near: np.ndarray, counts, kn: int):
  """(neighbors, listed, far_count): the first kn True columns of each row
  of the host (m, m) bool matrix `near`."""
  m = near.shape[0]
  rows, cols = np.nonzero(near)  # row-major: sorted by row
  lengths = np.bincount(rows, minlength=m)
  slot = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
  keep = slot < kn
  nbrs = np.repeat(np.arange(m, dtype=np.int32)[:, None], kn, axis=1)
  nbrs[rows[keep], slot[keep]] = cols[keep]
  listed = np.arange(kn)[None, :] < np.minimum(lengths, kn)[:, None]
  cnt = np.asarray(counts, np.float64)
  far_count = cnt.sum() - np.sum(np.where(listed, cnt[nbrs], 0), axis=1)
  return nbrs, listed, np.maximum(far_count, 0)


def _trim_long_lists(centroids, radii, counts, nbrs, far_gap, far_count, long_rows, kn):
  """For the rows with more than kn groups within reach (few): keep the kn
  smallest gaps (float64, host) and lower far_gap to the first one dropped."""
  cent = np.asarray(centroids, np.float64)
  rad, cnt = np.asarray(radii, np.float64), np.asarray(counts, np.float64)
  far_gap = np.array(far_gap, np.float64)
  for g in long_rows:
    gaps = np.sqrt(((cent - cent[g]) ** 2).sum(-1)) - rad
    nearest = np.argpartition(gaps, kn)[: kn + 1]
    nearest = nearest[np.argsort(gaps[nearest])]
    nbrs[g] = nearest[:kn]
    # Float64 distances of float32 points are exact to ~1e-16 relative.
    far_gap[g] = gaps[nearest[kn]] - 1e-12 * (1 + np.abs(cent).max())
    far_count[g] = cnt.sum() - cnt[nearest[:kn]].sum()
  return nbrs, far_gap, far_count


def list_length(lengths) -> int:
  """Kn: a power of 4 (>= 16) at or above the 99th percentile of the list
  lengths; few distinct values keep the jitted passes from recompiling."""
  top = max(16.0, float(np.quantile(np.asarray(lengths), 0.99)))
  return int(4 ** math.ceil(math.log(top, 4) - 1e-9))


def _round_down(values, dtype) -> np.ndarray:
  """float64 `values` in `dtype`, each rounded down (a lower bound stays one)."""
  values = np.asarray(values, np.float64)
  cast = values.astype(dtype)
  return np.where(cast > values, np.nextafter(cast, np.asarray(-np.inf, dtype)), cast)


def _neighbor_lists(b, near: np.ndarray, kn: int):
  """(neighbors, listed, far_gap, far_count) (module docstring) from the
  host matrix `near`; every group is listed when kn > m / 2."""
  m = near.shape[0]
  dtype = b.centroids.dtype
  if kn > m // 2:  # hardly any pruning left: list everything
    nbrs = jnp.broadcast_to(jnp.arange(m, dtype=jnp.int32), (m, m))
    return nbrs, jnp.ones((m, m), bool), jnp.full((m,), jnp.inf, dtype), jnp.zeros((m,), dtype)
  nbrs, listed, far_count = _lists_of(near, b.counts, kn)
  far_gap = np.asarray(b.limit, np.float64)
  long_rows = np.flatnonzero(near.sum(axis=1) > kn)
  if len(long_rows):
    nbrs, far_gap, far_count = _trim_long_lists(
      b.centroids, b.radii, b.counts, nbrs, far_gap, far_count, long_rows, kn
    )
  return (
    jnp.asarray(nbrs),
    jnp.asarray(listed),
    jnp.asarray(_round_down(far_gap, dtype)),
    jnp.asarray(far_count, dtype),
  )


@dataclasses.dataclass(frozen=True)
class _Bounds:
  """The grouped centres and their bounds, before the neighbour lists."""

  grouped: jax.Array
  valid: jax.Array
  flat: jax.Array
  group_of: jax.Array
  counts: jax.Array
  centroids: jax.Array
  radii: jax.Array
  limit: jax.Array  # (m,) list h for g when its gap bound is below limit_g


def _bounds(centers, beta, prune_tolerance, group_size) -> _Bounds:
  """Groups, their statistics and the listing limits rho_g + reach."""
  grouped, valid, flat, group_of = _layout(centers, group_size)
  counts, centroids, radii = _group_stats(grouped, valid)
  dim = centroids.shape[1]
  a = math.sqrt(dim) + 2.0
  reach = float(beta) * (
    a + math.sqrt(a * a + 2 * math.log(flat.shape[0]) + 2 * math.log(1.0 / prune_tolerance))
  )
  return _Bounds(grouped, valid, flat, group_of, counts, centroids, radii, radii + reach)


def build_groups(
  centers, beta, *, prune_tolerance: float = DEFAULT_PRUNE_TOLERANCE, group_size: int | None = None
) -> Groups:
  """Groups centres and precomputes the bounds for `beta` and `prune_tolerance`.

  Neighbour lists: see the module docstring (all m groups are listed when
  the padded length would exceed m / 2).

  Args:
    centers: (m, R, d) grouped centres (the pooled mixture of all m * R;
      e.g. R replicas of m inputs), or (n, d) centres, then grouped by a k-d
      partition into cells of `group_size` (default `default_group_size`).
    beta: kernel standard deviation (> 0), a Python or NumPy scalar.
    prune_tolerance: the certified error, in nats, the neighbour lists aim for.
    group_size: cell size for (n, d) centres.

  Returns:
    A `Groups` (a pytree: pass it to jitted code as an argument).
  """
  beta = checks.check_positive_scalar(beta, 'beta')
  prune_tolerance = checks.check_positive_scalar(prune_tolerance, 'prune_tolerance')
  if group_size is not None:
    checks.check_count(group_size, 'group_size')
  b = _bounds(jnp.asarray(centers), beta, prune_tolerance, group_size)
  near = np.asarray(_near_matrix(b.centroids, b.radii, b.limit))
  return _groups(b, near, list_length(near.sum(axis=1)))


def _groups(b: _Bounds, near: np.ndarray, kn: int) -> Groups:
  nbrs, listed, far_gap, far_count = _neighbor_lists(b, near, kn)
  return Groups(
    b.grouped,
    b.valid,
    b.counts,
    b.centroids,
    b.radii,
    nbrs,
    listed,
    far_gap,
    far_count,
    b.flat,
    b.group_of,
  )


@jax.jit
def _spread(flat):
  """RMS per-coordinate standard deviation of the centres."""
  return jnp.sqrt(jnp.mean(jnp.var(flat, axis=0)))


def choose_method(method, centers, beta, prune_tolerance, max_list_fraction=0.25):
  """('dense', None) or ('pruned', groups): the rule behind method='auto'.

  Pruning pays when the kernel is narrow compared with the spread of the
  centres: 'auto' prunes when there are at least PRUNE_MIN_CENTERS centres,
  beta < spread / PRUNE_SPREAD_RATIO (spread: the RMS per-coordinate std of
  the centres), and the groups' neighbour lists (see the module docstring)
  cover at most `max_list_fraction` of the groups.
  Traced inputs (a call inside jit) always take the dense path.
  """
  if method not in METHODS:
    raise ValueError(f'method must be one of {METHODS}, got {method!r}.')
  concrete = checks.is_concrete(centers, beta)
  if method == 'dense' or (method == 'auto' and not concrete):
    return 'dense', None
  if not concrete:
    raise ValueError(
      "method='pruned' needs concrete centres and beta: it "
      'is a host-side driver, call it outside jit.'
    )
  flat = centers.reshape(-1, centers.shape[-1])
  if method == 'auto' and (
    flat.shape[0] < PRUNE_MIN_CENTERS or float(beta) * PRUNE_SPREAD_RATIO >= float(_spread(flat))
  ):
    return 'dense', None
  beta = checks.check_positive_scalar(beta, 'beta')
  prune_tolerance = checks.check_positive_scalar(prune_tolerance, 'prune_tolerance')
  b = _bounds(jnp.asarray(centers), beta, prune_tolerance, None)
  near = np.asarray(_near_matrix(b.centroids, b.radii, b.limit))
  kn = list_length(near.sum(axis=1))
  if method == 'auto' and kn > b.centroids.shape[0] * max_list_fraction:
    return 'dense', None  # decided before the lists are built
  return 'pruned', _groups(b, near, kn)
