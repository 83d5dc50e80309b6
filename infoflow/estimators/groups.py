"""Centres in groups with centroids, radii and neighbour lists.

The pruned evaluation (`infoflow.estimators.pruned`) needs the centres in groups: the R
replicas of one input (centres shaped (m, R, d)), or, for ungrouped (n, d)
centres, the cells of a k-d partition (median cuts, `kd_partition`). For each
group g: its member count n_g, centroid mu_g, a radius rho_g with every
member within rho_g of mu_g, and the list of groups near it. Every number
that later bounds a kernel term is rounded the safe way: radii are grown
and distances shrunk by `safety`, a relative margin above the float rounding
of a direct-difference distance.

Neighbour lists. Group h is listed for g when its gap ||mu_h - mu_g|| -
rho_h is below rho_g + reach, found by brute force over the m centroids
(NumPy float64 direct differences, host side, once per mixture: O(m^2 d),
~0.3 s for the 4096 groups of an SZT layer; the per-query work stays in
JAX). Then every unlisted h has a gap >= far_gap(g) = rho_g + reach.
reach is the distance at which a far bound certifies a typical Monte Carlo
draw (|z| <= sqrt(d) + 2) to the prune_tolerance: beta (a + sqrt(a^2 + 2 log n +
2 log(1/tol))), a = sqrt(d) + 2. Lists are padded (`listed` marks the real
entries) to a power of two above the 99th percentile of their lengths; the
few longer lists keep their smallest gaps and lower far_gap to the first gap
dropped (their far draws then take the slower paths of `infoflow.estimators.pruned`).
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow.estimators import dense

DEFAULT_PRUNE_TOLERANCE = 1e-6
# method='auto' prunes only from this many centres on (below, dense is cheap)
# and only when beta < spread / PRUNE_SPREAD_RATIO (see `choose_method`).
PRUNE_MIN_CENTERS = 16384
PRUNE_SPREAD_RATIO = 10.0
METHODS = ('auto', 'dense', 'pruned')


def safety(dim: int, dtype) -> float:
  """Relative slack covering the float rounding of a direct distance."""
  return 4.0 * (dim + 4) * float(jnp.finfo(dtype).eps)


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
  return counts, centroids, radii * (1 + safety(dim, centers.dtype))


def _pairs_within(points, targets, radius, budget=1 << 22):
  """(row, col) pairs with ||points[row] - targets[col]|| <= radius[row].

  Brute force in float64 by direct differences (no cancellation), chunked so
  that at most `budget` differences are held at once: O(m^2 d) work, about
  0.3 s for the 4096 groups of an SZT layer.
  """
  m, dim = points.shape
  chunk = max(1, budget // max(len(targets) * dim, 1))
  rows, cols = [], []
  for lo in range(0, m, chunk):
    diff = points[lo : lo + chunk, None, :] - targets[None, :, :]
    dist = np.sqrt(np.einsum('ijk,ijk->ij', diff, diff))
    r, c = np.nonzero(dist <= radius[lo : lo + chunk, None])
    rows.append(r + lo)
    cols.append(c)
  return np.concatenate(rows), np.concatenate(cols)


def _neighbor_lists(centroids, radii, counts, reach):
  """(neighbors, listed, far_gap, far_count) as NumPy arrays (module doc)."""
  cent = np.asarray(centroids, np.float64)
  rad = np.asarray(radii, np.float64)
  m = len(cent)
  limit = rad + reach  # list h for g when gap_gh < limit_g
  # Few groups with outlying radii (a k-d cell cut across two clusters)
  # must not widen every search: they are checked one by one.
  typical = np.quantile(rad, 0.99)
  big = np.flatnonzero(rad > typical)
  normal = np.flatnonzero(rad <= typical)
  # (row, neighbour) pairs among the typical groups and with the outliers.
  row, col = _pairs_within(cent, cent[normal], limit + typical)
  rows, cols = [row], [normal[col]]
  if len(big):
    gap = np.sqrt(((cent[:, None] - cent[big]) ** 2).sum(-1)) - rad[big]
    r, c = np.nonzero(gap < limit[:, None])
    rows.append(r)
    cols.append(big[c])
  rows, cols = np.concatenate(rows), np.concatenate(cols)
  order = np.argsort(rows, kind='stable')
  rows, cols = rows[order], cols[order]
  lengths = np.bincount(rows, minlength=m)
  kn = min(m, max(8, 1 << math.ceil(math.log2(np.quantile(lengths, 0.99)))))
  if kn > m // 2:  # hardly any pruning left: list everything
    nbrs = np.broadcast_to(np.arange(m, dtype=np.int32), (m, m))
    return nbrs, np.ones((m, m), bool), np.full(m, np.inf), np.zeros(m)
  starts = np.cumsum(lengths) - lengths
  slot = np.arange(len(rows)) - np.repeat(starts, lengths)
  nbrs = np.repeat(np.arange(m, dtype=np.int32)[:, None], kn, axis=1)
  short = (lengths <= kn)[rows]
  nbrs[rows[short], slot[short]] = cols[short]
  far_gap = limit.copy()
  for g in np.flatnonzero(lengths > kn):
    # Keep the kn smallest gaps; the first one dropped bounds the rest.
    entries = cols[starts[g] : starts[g] + lengths[g]]
    gaps = np.sqrt(((cent[entries] - cent[g]) ** 2).sum(-1)) - rad[entries]
    ranked = np.argsort(gaps)
    nbrs[g], far_gap[g] = entries[ranked[:kn]], gaps[ranked[kn]]
  lengths = np.minimum(lengths, kn)
  listed = np.arange(kn)[None, :] < lengths[:, None]
  counts = np.asarray(counts, np.float64)
  far_count = counts.sum() - np.sum(np.where(listed, counts[nbrs], 0), 1)
  # Float64 distances of float32 points are exact to ~1e-16 relative.
  far_gap -= 1e-12 * (1 + np.abs(cent).max())
  return nbrs, listed, far_gap, far_count


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
  centers = jnp.asarray(centers)
  grouped, valid, flat, group_of = _layout(centers, group_size)
  counts, centroids, radii = _group_stats(grouped, valid)
  dim = centroids.shape[1]
  n = flat.shape[0]
  a = math.sqrt(dim) + 2.0
  reach = float(beta) * (
    a + math.sqrt(a * a + 2 * math.log(n) + 2 * math.log(1.0 / prune_tolerance))
  )
  nbrs, listed, far_gap, far_count = _neighbor_lists(centroids, radii, counts, reach)
  dtype = centroids.dtype
  return Groups(
    grouped,
    valid,
    counts,
    centroids,
    radii,
    jnp.asarray(nbrs),
    jnp.asarray(listed),
    jnp.asarray(far_gap, dtype),
    jnp.asarray(far_count, dtype),
    flat,
    group_of,
  )


@jax.jit
def _spread(flat):
  """RMS per-coordinate standard deviation of the centres."""
  return jnp.sqrt(jnp.mean(jnp.var(flat, axis=0)))


def choose_method(method, centers, beta, prune_tolerance):
  """('dense', None) or ('pruned', groups): the rule behind method='auto'.

  Pruning pays when the kernel is narrow compared with the spread of the
  centres: 'auto' prunes when there are at least PRUNE_MIN_CENTERS centres,
  beta < spread / PRUNE_SPREAD_RATIO (spread: the RMS per-coordinate std of
  the centres), and the groups' neighbour lists (see
  the module docstring) cover at most a quarter of the groups.
  Traced inputs (a call inside jit) always take the dense path.
  """
  if method not in METHODS:
    raise ValueError(f'method must be one of {METHODS}, got {method!r}.')
  concrete = not any(isinstance(x, jax.core.Tracer) for x in (centers, beta))
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
  groups = build_groups(centers, float(beta), prune_tolerance=prune_tolerance)
  if method == 'auto' and groups.num_neighbors > groups.num_groups // 4:
    return 'dense', None
  return 'pruned', groups
