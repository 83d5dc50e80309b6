"""Beta-distinguishable clusters of representations (docs/method.md, section 6).

The paper's reading of "compression": points of the constellation ``{s(x)}``
closer than a few beta are confused through ``T = s(X) + Z``. Here they are
counted directly: single linkage cut at ``threshold * beta``, with the
entropy of the cluster sizes. Memory is ``O(m d)``: no ``m x m`` array is
formed. Re-exported by :mod:`infoflow.measures.clustering` with the other measures;
:func:`as_representations` and :func:`pow2_scale` are shared with it.
"""

from __future__ import annotations

from typing import NamedTuple
from typing import Optional

import chex
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from infoflow import checks


def as_representations(x):
  """`x` as a checked (m, d) float array (ValueError or TypeError if not)."""
  return jnp.asarray(checks.check_float_array(x, 'representations', rank=2, shape='(m, d)'))


def pow2_scale(x):
  """A power of two p ~ max |x| / 4 (1 for x = 0); dividing by it is exact.

  Entries of x / p are at most 4, so squared distances cannot overflow;
  p and 1 / p stay normal numbers (exponent clamped), so no flush to zero.
  """
  peak = jnp.max(jnp.abs(x))
  _, exponent = jnp.frexp(jnp.where(peak > 0, peak, 1.0))
  info = jnp.finfo(x.dtype)
  exponent = jnp.clip(exponent - 2, info.minexp + 2, info.maxexp - 2)
  return jnp.ldexp(jnp.ones((), x.dtype), exponent)


# Q(4/2) = Q(2) ~ 0.023: two points 4 beta apart, seen through N(0, beta^2 I)
# noise, are confused by the best (ML) test with probability ~2.3%.
DEFAULT_THRESHOLD = 4.0


class DistinguishableClusters(NamedTuple):
  """Single-linkage clusters at distance ``threshold * beta``.

  Attributes:
    num_clusters: int32 scalar (or ``(B,)`` for a sweep).
    entropy: entropy of the cluster-size distribution ``(|C|/m)``, nats.
    assignment: ``(m,)`` int32, the smallest input index in each input's
      cluster (``None`` for a sweep).
  """

  num_clusters: jax.Array
  entropy: jax.Array
  assignment: Optional[jax.Array]


def single_linkage_tree(representations):
  """Minimum spanning tree of the rows (Prim), the single-linkage dendrogram.

  ``m - 1`` sequential steps, each computing the distances from the newly
  added point to all rows by direct differences (exact, no cancellation):
  ``O(m^2 d)`` time, ``O(m d)`` memory, no ``m x m`` array.
  Returns ``(parent, sq_length)``, both ``(m,)``: tree edge ``(i, parent[i])``
  of squared length ``sq_length[i]``; the root, row 0, is a harmless self loop
  of length 0.
  """
  parent, sq_length, scale = _mst(as_representations(representations))
  return parent, sq_length * scale**2


@jax.jit
def _mst(x):
  """(parent, squared lengths of x / p, p): p from `pow2_scale`."""
  chex.assert_rank(x, 2)
  m = x.shape[0]
  scale = pow2_scale(x)
  x = x / scale
  inf = jnp.asarray(jnp.inf, x.dtype)

  def body(_, state):
    in_tree, best, parent, current = state
    d2 = jnp.sum((x - x[current]) ** 2, axis=1)
    better = (~in_tree) & (d2 < best)
    best = jnp.where(better, d2, best)
    parent = jnp.where(better, current, parent)
    nxt = jnp.argmin(jnp.where(in_tree, inf, best)).astype(jnp.int32)
    return in_tree.at[nxt].set(True), best, parent, nxt

  state = (
    jnp.zeros((m,), bool).at[0].set(True),
    jnp.full((m,), inf).at[0].set(0.0),
    jnp.zeros((m,), jnp.int32),
    jnp.int32(0),
  )
  _, best, parent, _ = lax.fori_loop(0, m - 1, body, state)
  return parent, best, scale


def _components(parent, sq_length, sq_radius):
  """Connected components of the tree edges with sq_length <= sq_radius.

  Min-label propagation along active edges plus pointer jumping; labels only
  decrease and stay inside the component, so the loop ends with every node
  labelled by the smallest index of its component.
  """
  m = parent.shape[0]
  active = sq_length <= sq_radius
  big = jnp.int32(m)

  def body(state):
    lab, _ = state
    low = jnp.minimum(lab, lab[parent])
    new = jnp.where(active, low, lab)
    new = new.at[parent].min(jnp.where(active, low, big))
    new = new[new]  # pointer jumping: O(log) rounds on long chains
    return new, jnp.any(new != lab)

  lab, _ = lax.while_loop(lambda s: s[1], body, (jnp.arange(m, dtype=jnp.int32), jnp.bool_(True)))
  return lab


def partition_stats(lab):
  """``(count, entropy)`` of a partition of ``m`` rows given as labels.

  ``lab`` is ``(m,)`` int32 with ``lab[i]`` the index of a representative
  row of ``i``'s block, and ``lab[c] = c`` for every representative ``c``
  (as both cluster rules return). The count is the number of blocks; the
  entropy ``-sum_C (|C|/m) log(|C|/m)`` is in nats, summed as
  ``(|C|/m) log(m/|C|)`` (no cancellation).
  """
  m = lab.shape[0]
  num = jnp.sum(lab == jnp.arange(m)).astype(jnp.int32)
  sizes = jnp.bincount(lab, length=m).astype(jnp.float32)
  safe = jnp.maximum(sizes, 1.0)  # (n/m) log(m/n): no cancellation
  return num, jnp.sum(jnp.where(sizes > 0, (safe / m) * jnp.log(m / safe), 0.0))


@jax.jit
def _clusters_from_tree(parent, sq_length, sq_radii):
  labs = jax.vmap(lambda r: _components(parent, sq_length, r))(sq_radii)
  num, ent = jax.vmap(partition_stats)(labs)
  return num, ent, labs


def num_distinguishable_clusters(
  representations, beta, *, threshold: float = DEFAULT_THRESHOLD
) -> DistinguishableClusters:
  """Number of beta-distinguishable clusters and the entropy of their sizes.

  Definition: clusters are the connected components of the graph on the
  ``m`` points with an edge ``i ~ j`` iff ``||t_i - t_j|| <= r``,
  ``r = threshold * beta`` (equivalently: single linkage cut at height
  ``r``). Why: in ``T = t + Z``, ``Z ~ N(0, beta^2 I)``, two points at
  distance ``D`` are confused by the optimal test with probability
  ``Q(D / (2 beta))``; the default ``threshold = 4`` (error ``Q(2) ~ 2.3%``)
  calls points closer than ``4 beta`` indistinguishable, and single linkage
  makes the relation transitive. The entropy of the partition
  ``H = -sum_C (|C|/m) log(|C|/m)`` (nats) is the paper's approximation of
  ``I(X;T)`` for clustered constellations (``log k`` for ``k`` equal
  clusters, ``log m`` when all points are distinguishable). With
  ``beta = 0`` the clusters are the groups of identical points.

  ``beta`` may be a scalar or a 1-D array of ``B`` values (a sweep: the tree
  is built once, ``O(m^2 d)`` time, ``O(m d)`` memory; see
  :func:`single_linkage_tree`).

  Returns:
    :class:`DistinguishableClusters`; for an array ``beta``, fields of shape
    ``(B,)`` and ``assignment=None``.
  """
  x = as_representations(representations)
  threshold = checks.check_positive_scalar(threshold, 'threshold')
  b = np.asarray(beta, dtype=object)
  if b.ndim > 1 or b.size == 0:
    raise ValueError(f'beta must be a scalar or a non-empty 1-D array; got {beta!r}.')
  b = np.asarray(
    [checks.check_positive_scalar(v, 'beta', allow_zero=True) for v in b.reshape(-1)], np.float64
  ).reshape(b.shape)
  parent, sq_length, scale = _mst(x)
  # Radii in the units of the rescaled tree; beyond the dtype's range they
  # saturate (inf: one cluster; 0: only identical points merge), which is
  # the exact answer there.
  with np.errstate(over='ignore', under='ignore'):
    radii = np.atleast_1d((threshold * b / float(scale)) ** 2).astype(x.dtype)
  sq_radii = jnp.asarray(radii)
  num, ent, labs = _clusters_from_tree(parent, sq_length, sq_radii)
  if b.ndim == 0:
    return DistinguishableClusters(num[0], ent[0], labs[0])
  return DistinguishableClusters(num, ent, None)


def packing_clusters(
  representations, beta, *, threshold: float = DEFAULT_THRESHOLD
) -> DistinguishableClusters:
  """Clusters of a greedy packing at radius ``threshold * beta / 2``: a count
  that cannot chain.

  Single linkage (:func:`num_distinguishable_clusters`) joins any chain of
  points whose steps are shorter than ``r = threshold * beta``, so a
  continuum of close points is one cluster however wide it is: a layer can
  read 1 cluster while ``I(X;T)`` says dozens of inputs are told apart. Here
  the rows are visited in order; a row not yet covered becomes a centre and
  covers every uncovered row within ``r / 2`` of it. Every cluster then lies
  in a ball of radius ``r / 2`` (diameter at most ``r``: any two of its
  points are within the distance the default threshold calls confusable,
  ``Q(2) ~ 2.3%`` error), and the centres are more than ``r / 2`` apart (a
  packing), so the count ``K`` satisfies ``N(r / 2) <= K <= M(r / 2)``, the
  covering and packing numbers of the constellation: chaining cannot merge
  two points more than ``r`` apart. The entropy
  ``H = -sum_C (|C|/m) log(|C|/m)`` (nats) of the partition reads like the
  single-linkage one: ``log m`` when every point is alone, ``log k`` for
  ``k`` equal tight groups. It depends on the row order (a packing is not
  unique); the analysis uses the inputs' fixed order, so it is reproducible.
  ``O(K m d)`` time for ``K`` clusters (at most ``O(m^2 d)``), ``O(m d)``
  memory (:func:`greedy_packing`).

  Args:
    representations: (m, d) noise-free representations.
    beta: the noise std (a scalar >= 0; 0 groups identical rows).
    threshold: the cluster diameter in units of beta.

  Returns:
    :class:`DistinguishableClusters` with ``assignment[i]`` the index of the
    centre covering row ``i``.
  """
  x = as_representations(representations)
  threshold = checks.check_positive_scalar(threshold, 'threshold')
  beta = checks.check_positive_scalar(beta, 'beta', allow_zero=True)
  scale = pow2_scale(x)
  with np.errstate(over='ignore', under='ignore'):
    sq_radius = np.asarray((threshold * beta / 2 / float(scale)) ** 2, x.dtype)
  labels = greedy_packing(x / scale, jnp.asarray(sq_radius))
  num, entropy = partition_stats(labels)
  return DistinguishableClusters(num, entropy, labels)


@jax.jit
def greedy_packing(x, sq_radius, neighbours=None):
  """(m,) int32: the centre of each row's cluster in the greedy packing.

  The rows are visited in order; a row not yet covered becomes a centre and
  covers every uncovered row ``j`` with ``||x_j - x_i||^2 <= sq_radius``
  (:func:`packing_clusters`; ``x`` already divided by a power of two, as
  :func:`pow2_scale` gives, and ``sq_radius`` in its units). Only centres
  cost a step: the loop jumps to the next uncovered row, so the time is
  ``O(K m d)`` for ``K`` centres, not ``O(m^2 d)``.

  ``neighbours``, optional: ``(indices, sq_distances)``, both ``(m, k)``, the
  ``k`` nearest other rows of every row with their exact squared distances
  (as ``infoflow.measures.neighbours.neighbour_pass`` finds them). Then a
  row with no other row within the radius is its own centre at no cost, and
  a centre whose ``k``-th neighbour lies beyond the radius covers from its
  list (every row within the radius is on it) in ``O(k)``; only centres of
  dense regions scan all rows. Spread layers, where most rows are alone,
  then cost almost nothing beyond the neighbour pass. The result is the
  same either way (up to the rounding of the distances at the radius).
  """
  m = x.shape[0]
  free = jnp.int32(m)
  rows = jnp.arange(m, dtype=jnp.int32)
  centre = jnp.full((m,), free)
  if neighbours is not None:
    nbr, nbr_sq = neighbours
    centre = jnp.where(nbr_sq[:, 0] > sq_radius, rows, centre)  # alone: its own centre
    listed = nbr_sq[:, -1] > sq_radius

  def scan_all(centre, i):
    d2 = jnp.sum((x - x[i]) ** 2, axis=1)
    return jnp.where((centre == free) & (d2 <= sq_radius), i, centre)

  def from_list(centre, i):
    take = (nbr_sq[i] <= sq_radius) & (centre[nbr[i]] == free)
    return centre.at[jnp.where(take, nbr[i], m)].set(i, mode='drop').at[i].set(i)

  def next_free(centre):
    j = jnp.argmax(centre == free).astype(jnp.int32)
    return jnp.where(centre[j] == free, j, free)

  def body(state):
    centre, i = state
    if neighbours is None:
      centre = scan_all(centre, i)
    else:
      centre = lax.cond(listed[i], from_list, scan_all, centre, i)
    return centre, next_free(centre)

  centre, _ = lax.while_loop(lambda s: s[1] < m, body, (centre, next_free(centre)))
  return centre
