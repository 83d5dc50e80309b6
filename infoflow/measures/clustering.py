"""Direct clustering measures of representations (docs/method.md, section 6).

The paper's reading of "compression": the noisy layer ``T = s(X) + Z`` is an
AWGN channel whose input constellation is ``{s(x)}``; ``I(X;T)`` drops when
the ``s(x)`` gather into groups closer than ~beta. These functions measure the
clustering of (noise-free) representations directly.

Conventions: ``representations`` has shape ``(m, d)`` (one row per input,
inputs uniform), ``labels`` shape ``(m,)`` with ints in ``[0, num_classes)``.
Entropies are in nats (bits = nats / ln 2). Everything except
:func:`cosine_similarity_matrix` (a plotting helper) uses memory
``O(m d + chunk * m)`` or less: no ``m x m`` array is ever formed, so
``m = 10,000``, ``d ~ 1000`` fits easily on a small CPU.

Similarity measures and k-nearest neighbours are here; the count of
beta-distinguishable clusters (single linkage) is in
:mod:`infoflow.measures.distinguishable`, its names re-exported here.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple
from typing import Optional

import chex
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow import scales
from infoflow.measures import neighbours

# Re-exported: distinguishable clusters are one of this module's measures.
from infoflow.measures.distinguishable import DEFAULT_THRESHOLD
from infoflow.measures.distinguishable import DistinguishableClusters
from infoflow.measures.distinguishable import as_representations
from infoflow.measures.distinguishable import greedy_packing
from infoflow.measures.distinguishable import num_distinguishable_clusters
from infoflow.measures.distinguishable import packing_clusters
from infoflow.measures.distinguishable import partition_stats
from infoflow.measures.distinguishable import pow2_scale
from infoflow.measures.distinguishable import single_linkage_tree

__all__ = [
  'ClassSimilarity',
  'LayerMeasures',
  'DEFAULT_THRESHOLD',
  'DistinguishableClusters',
  'ScatterRatio',
  'SortedSimilarity',
  'class_similarity',
  'cosine_similarity_matrix',
  'k_nearest_neighbors',
  'knn_label_agreement',
  'layer_measures',
  'num_distinguishable_clusters',
  'packing_clusters',
  'scatter_ratio',
  'single_linkage_tree',
]

# Full float32 matmuls: on GPUs the default may use TF32 (10-bit mantissa),
# far too coarse for similarities and distance screening.
_HI = lax.Precision.HIGHEST


def _unit_rows(x):
  """Rows scaled to unit norm; zero rows stay zero (cosine with 0 := 0).

  Each row is first divided by its largest |entry|, so its squared norm
  neither overflows (|t| ~ 1e19 and up in float32) nor underflows.
  """
  peak = jnp.max(jnp.abs(x), axis=1, keepdims=True)
  x = x / jnp.where(peak > 0, peak, 1.0)
  norm = jnp.linalg.norm(x, axis=1, keepdims=True)
  safe = jnp.where(norm > 0, norm, 1.0)  # no 0/0, hence no NaN
  return jnp.where(norm > 0, x / safe, 0.0)


class SortedSimilarity(NamedTuple):
  """Class-sorted cosine similarity matrix (for plots).

  Attributes:
    matrix: ``(m, m)``; ``matrix[a, b] = cos(t_{order[a]}, t_{order[b]})``.
    order: ``(m,)`` int32, stable argsort of the labels.
    boundaries: ``(num_classes + 1,)`` int32; class ``c`` occupies sorted
      rows ``boundaries[c]:boundaries[c + 1]``.
  """

  matrix: jax.Array
  order: jax.Array
  boundaries: jax.Array


@functools.partial(jax.jit, static_argnames='num_classes')
def _sorted_similarity(x, labels, num_classes):
  chex.assert_rank([x, labels], [2, 1])
  chex.assert_type(labels, jnp.int32)
  order = jnp.argsort(labels, stable=True).astype(jnp.int32)
  u = _unit_rows(x[order])
  s = jnp.matmul(u, u.T, precision=_HI)
  s = jnp.clip(0.5 * (s + s.T), -1.0, 1.0)  # exactly symmetric, in [-1, 1]
  nonzero = jnp.any(u != 0, axis=1)
  # cos(t, t) = 1 exactly for t != 0 (removes rounding); 0 for t = 0.
  s = s.at[jnp.diag_indices(s.shape[0])].set(nonzero.astype(s.dtype))
  counts = jnp.bincount(labels, length=num_classes)
  bounds = jnp.concatenate([jnp.zeros((1,), jnp.int32), jnp.cumsum(counts).astype(jnp.int32)])
  return SortedSimilarity(s, order, bounds)


def cosine_similarity_matrix(
  representations, labels, *, num_classes: Optional[int] = None
) -> SortedSimilarity:
  """Class-sorted matrix of ``cos(t_i, t_j) = <t_i, t_j> / (|t_i| |t_j|)``.

  Rows/columns are ordered by a stable sort of the labels, so within-class
  blocks lie on the diagonal. The cosine with a zero vector is defined as 0
  (also on the diagonal), never NaN. This is a plotting helper: it returns
  the full ``(m, m)`` matrix, so memory is ``O(m^2)``; pass a subset of inputs.
  Use :func:`class_similarity` for summary statistics at scale.

  Args: ``representations`` ``(m, d)``; ``labels`` ``(m,)`` ints in
  ``[0, num_classes)``; ``num_classes`` defaults to ``max(labels) + 1``.
  """
  x = as_representations(representations)
  y, k = checks.label_array(labels, x.shape[0], num_classes)
  return _sorted_similarity(x, y, k)


class ClassSimilarity(NamedTuple):
  """Mean cosine similarity over pairs ``i != j`` with equal labels
  (``within``) and different labels (``between``); ``gap = within - between``.
  """

  within: jax.Array
  between: jax.Array
  gap: jax.Array


@functools.partial(jax.jit, static_argnames='num_classes')
def _class_similarity(x, labels, num_classes):
  chex.assert_rank([x, labels], [2, 1])
  chex.assert_type(labels, jnp.int32)
  u = _unit_rows(x)
  onehot = jax.nn.one_hot(labels, num_classes, dtype=u.dtype)  # (m, K)
  # Class sums S_c = sum_{i in c} u_i via a matmul (blocked accumulation is
  # more accurate than a sequential scatter-add for large classes).
  sums = jnp.matmul(onehot.T, u, precision=_HI)  # (K, d)
  gram = jnp.matmul(sums, sums.T, precision=_HI)  # (K, K)
  counts = jnp.sum(onehot, axis=0)
  self_terms = jnp.sum(u * u, axis=1)  # cos(t_i, t_i): 1, or 0 for t_i = 0
  within_sum = jnp.trace(gram) - jnp.sum(self_terms)
  between_sum = jnp.sum(gram) - jnp.trace(gram)
  within_pairs = jnp.sum(counts * (counts - 1))
  between_pairs = jnp.sum(counts) ** 2 - jnp.sum(counts**2)
  within = within_sum / within_pairs
  between = between_sum / between_pairs
  return ClassSimilarity(within, between, within - between)


def class_similarity(representations, labels, num_classes: int) -> ClassSimilarity:
  """Mean within-class and between-class cosine similarity, and their gap.

  ``within = sum_{i != j, y_i = y_j} cos(t_i, t_j) / #{such pairs}``, and
  ``between`` likewise over ``y_i != y_j`` (cosine with a zero vector is 0).
  Computed without any ``m x m`` array: with unit rows ``u_i`` and class sums
  ``S_c``, ``sum_{i,j in c} <u_i,u_j> = <S_c,S_c>`` and the between-class sum
  is ``sum_{c != c'} <S_c,S_c'>``; the diagonal ``i = j`` is subtracted
  exactly. Cost ``O(m d K)``, memory ``O(m (d + K))``, ``K`` the number of
  classes present (at most ``m``; ``num_classes`` only bounds the labels).

  Returns :class:`ClassSimilarity` of scalars. Raises ValueError on bad
  input, or when there is no within-class pair (all classes have < 2
  members) or no between-class pair (one class); if labels are traced this
  cannot be checked and a mean over no pairs is NaN.
  """
  x = as_representations(representations)
  y, k = _class_labels(labels, x.shape[0], num_classes)
  if checks.is_concrete(y):
    _check_pairs(np.asarray(y), k)
  return _class_similarity(x, y, k)


def _class_labels(labels, num_rows: int, num_classes):
  """Checked labels as a device array, renumbered to the classes present
  (`checks.partition_labels`: absent classes add nothing to these measures,
  and per-class arrays stay within the rows whatever num_classes is)."""
  y, k = checks.partition_labels(
    labels, 'labels', num_rows=num_rows, num_classes=num_classes, rows_name='representations'
  )
  return jnp.asarray(y), k


def pair_problem(labels, num_classes: int):
  """What keeps the class measures from being defined for `labels`, or None.

  The class similarity and scatter compare pairs of inputs of one class with
  pairs of two classes, so both must exist: a class with >= 2 members and
  >= 2 classes present. Returns a short reason ('no within-class pairs: ...'),
  or None when both kinds of pair exist.
  """
  counts = np.bincount(np.asarray(labels), minlength=num_classes)
  if np.sum(counts * (counts - 1)) == 0:
    return 'no within-class pairs: every class has < 2 members.'
  if np.count_nonzero(counts) < 2:
    return 'no between-class pairs: only one class is present.'
  return None


def _check_pairs(labels: np.ndarray, num_classes: int) -> None:
  """ValueError unless there are within-class and between-class pairs (`pair_problem`)."""
  problem = pair_problem(labels, num_classes)
  if problem:
    raise ValueError(problem)


class ScatterRatio(NamedTuple):
  """Trace-form scatters ``within``, ``between``; ``ratio = within/between``."""

  within: jax.Array
  between: jax.Array
  ratio: jax.Array


@functools.partial(jax.jit, static_argnames='num_classes')
def _scatter(x, labels, num_classes):
  chex.assert_rank([x, labels], [2, 1])
  chex.assert_type(labels, jnp.int32)
  onehot = jax.nn.one_hot(labels, num_classes, dtype=x.dtype)
  counts = jnp.sum(onehot, axis=0)
  # Scatters are computed for x / p (exact, p a power of two) and scaled
  # back by p^2: no overflow of the squares, so no inf / inf = NaN ratio.
  scale = pow2_scale(x)
  x = x / scale
  mu = jnp.mean(x, axis=0)
  xc = x - mu  # centre first: keeps the class means well conditioned
  mu_c = jnp.matmul(onehot.T, xc, precision=_HI)
  mu_c = mu_c / jnp.maximum(counts, 1.0)[:, None]
  # Two-pass form (deviations from class means), not E|t|^2 - |mu|^2, to avoid
  # cancellation when classes are tight.
  within = jnp.sum((xc - mu_c[labels]) ** 2)
  between = jnp.sum(counts * jnp.sum(mu_c**2, axis=1))  # empty classes: 0
  safe = jnp.where(between > 0, between, 1.0)
  ratio = jnp.where(between > 0, within / safe, jnp.inf)
  return ScatterRatio(within * scale**2, between * scale**2, ratio)


def scatter_ratio(representations, labels, num_classes: int) -> ScatterRatio:
  """Within-class over between-class scatter (trace form).

  ``ratio = sum_c sum_{i in c} ||t_i - mu_c||^2 / sum_c n_c ||mu_c - mu||^2``
  with class means ``mu_c``, overall mean ``mu`` and class sizes ``n_c``.
  Small ratio = tight, well separated classes. Empty classes contribute 0.
  If the between-class scatter is exactly 0 (all class means coincide,
  including when only one class is present) the ratio is ``+inf`` (never
  NaN), also when the within-class scatter is 0 too. The ratio is computed
  from rescaled data, so it is right for any finite input; ``within`` and
  ``between`` are in the input's units and may overflow to ``inf``.
  Returns :class:`ScatterRatio` of scalars.
  """
  x = as_representations(representations)
  y, k = _class_labels(labels, x.shape[0], num_classes)
  return _scatter(x, y, k)


def _check_neighbor_args(k, chunk_size, m: int) -> tuple[int, int]:
  """The checked ``k`` (``1 <= k <= m - 1``) and ``chunk_size`` (at most ``m``)."""
  k = checks.check_count(k, 'k')
  if k > m - 1:
    raise ValueError(f'k must be <= m - 1 = {m - 1}; got {k}.')
  return k, min(checks.check_count(chunk_size, 'chunk_size'), m)


@functools.partial(jax.jit, static_argnames=('k', 'chunk_size'))
def _knn(x, k, chunk_size):
  scale = pow2_scale(x)  # exact; squared distances cannot overflow
  found = neighbours.neighbour_pass(x / scale, k=k, chunk=chunk_size)
  return found.indices, found.sq_distances * scale**2


def k_nearest_neighbors(representations, k: int = 10, *, chunk_size: int = 256, refine: int = 32):
  """The ``k`` nearest neighbours of every row (Euclidean, excluding itself).

  Exact: every squared distance is summed from direct differences
  ``sum_a (t_ia - t_ja)^2`` (accurate to ~1e-7 of itself in float32, also in
  clusters far tighter than their distance to the origin, where the matmul
  form ``|a|^2 + |b|^2 - 2<a,b>`` cancels), in chunks of ``chunk_size`` query
  rows against all rows; the ``k`` smallest per row are chosen among the
  ``k`` column blocks with the smallest minima (:mod:`infoflow.measures.neighbours`).
  Peak memory ``O(chunk_size * m)``; no ``m x m`` array. Ties go to the lower
  index; self is excluded by index (duplicates are neighbours at distance 0).
  Rows wider than ``neighbours.MAX_DIRECT_DIM`` (32; conv maps) are screened
  by the matmul form instead, ``k + refine`` candidates per row re-ranked by
  direct differences and certified against its rounding bound (else redone
  exhaustively): exact too (:func:`infoflow.measures.neighbours.screened_knn`).

  Returns:
    ``(indices, sq_distances)``, both ``(m, k)``, nearest first.
  """
  x = as_representations(representations)
  k, chunk_size = _check_neighbor_args(k, chunk_size, x.shape[0])
  refine = checks.check_count(refine, 'refine', minimum=0)
  if x.shape[1] > neighbours.MAX_DIRECT_DIM:
    return neighbours.screened_knn(x, k, chunk_size, refine)
  return _knn(x, k, chunk_size)


def knn_label_agreement(
  representations,
  labels,
  k: int = 10,
  *,
  num_classes: Optional[int] = None,
  chunk_size: int = 256,
  refine: int = 32,
) -> jax.Array:
  """Mean fraction of each point's ``k`` nearest neighbours sharing its label.

  ``(1/m) sum_i (1/k) #{j in N_k(i) : y_j = y_i}``, ``N_k(i)`` the ``k``
  nearest other points (Euclidean; see :func:`k_nearest_neighbors` for the
  chunking and the cancellation-free distances). 1 for perfectly clustered
  classes; about ``sum_c p_c^2`` (``1/K`` for balanced classes) for labels
  unrelated to the representation.

  ``1 <= k <= m - 1``; ``num_classes`` (default ``max(labels) + 1``) is only
  used for validation; ``chunk_size`` (query rows per chunk, the memory knob)
  and ``refine`` are as in :func:`k_nearest_neighbors`. Returns a scalar.
  """
  x = as_representations(representations)
  y, _ = checks.label_array(labels, x.shape[0], num_classes)
  nbr, _ = k_nearest_neighbors(x, k, chunk_size=chunk_size, refine=refine)
  return jnp.mean(y[nbr] == y[:, None])


class LayerMeasures(NamedTuple):
  """The clustering measures of one layer (scalars; see :func:`layer_measures`).

  ``num_clusters``/``cluster_entropy``: single linkage at ``threshold * beta``
  (:func:`num_distinguishable_clusters`); ``packed_clusters``/
  ``packed_cluster_entropy``: the greedy packing at the same threshold
  (:func:`packing_clusters`, a count that cannot chain). All four are None
  without ``beta``.
  """

  within: jax.Array
  between: jax.Array
  gap: jax.Array
  scatter_ratio: jax.Array
  knn_agreement: jax.Array
  num_clusters: Optional[jax.Array]
  cluster_entropy: Optional[jax.Array]
  packed_clusters: Optional[jax.Array]
  packed_cluster_entropy: Optional[jax.Array]


@functools.partial(jax.jit, static_argnames=('num_classes', 'k', 'clusters', 'chunk_size'))
def _layer_measures(x, labels, radius_scale, sq_radius, num_classes, k, clusters, chunk_size):
  """All measures of one layer in one program (radius r = ``radius_scale``
  ``* sqrt(sq_radius)``: `_scaled_sq_radius`)."""
  sim = _class_similarity(x, labels, num_classes)
  scatter = _scatter(x, labels, num_classes)
  scale = pow2_scale(x)
  inv = 1.0 / scale  # a power of two: x * inv is exact
  x = x * inv
  factor = radius_scale * inv  # powers of two: (r / p)^2 exact in range
  r2 = sq_radius * factor * factor
  found = neighbours.neighbour_pass(x, k=k, chunk=chunk_size)
  agreement = jnp.mean(labels[found.indices] == labels[:, None])
  chained = packed = (None, None)
  if clusters:
    chained = partition_stats(neighbours.radius_components(x, r2, found, chunk=chunk_size))
    # The packing's radius is r / 2: (r / 2)^2 = r^2 / 4 exactly.
    packed = partition_stats(greedy_packing(x, r2 * 0.25, found))
  return LayerMeasures(
    sim.within, sim.between, sim.gap, scatter.ratio, agreement, *chained, *packed
  )


def layer_measures(
  representations,
  labels,
  num_classes: int,
  *,
  beta: Optional[float] = None,
  k: int = 10,
  threshold: float = DEFAULT_THRESHOLD,
  chunk_size: int = 256,
) -> LayerMeasures:
  """Every measure of this module for one layer, computed in one program.

  The same values as :func:`class_similarity`, :func:`scatter_ratio`,
  :func:`knn_label_agreement` (``k`` neighbours) and, when ``beta`` is given,
  :func:`num_distinguishable_clusters` at radius ``r = threshold * beta``
  (its ``num_clusters`` and ``entropy``, nats) and :func:`packing_clusters`
  at the same threshold (``packed_clusters``, ``packed_cluster_entropy``),
  up to float32 rounding: the single-linkage clusters are the components of
  the radius graph found from the neighbour pass
  (:mod:`infoflow.measures.neighbours`, ``O(m^2 d)`` time in one or a few
  chunked passes, ``O(chunk_size * m)`` memory), not from a spanning tree
  built in ``m - 1`` sequential steps; the packing reuses the pass's
  neighbour lists, so only centres in dense regions scan all rows
  (:func:`~infoflow.measures.distinguishable.greedy_packing`). Rows wider
  than ``neighbours.MAX_DIRECT_DIM`` use the separate functions. One compilation per
  ``(m, d, num_classes, k, chunk_size)`` and whether ``beta`` is given;
  ``beta`` and the data are traced, so new epochs compile nothing. Nothing
  is copied to the host: ``jax.device_get`` the result once.

  Raises:
    ValueError: as the separate functions do (bad representations, labels,
      ``k``, ``beta``, ``threshold``; no within- or between-class pair).
  """
  x = as_representations(representations)
  y, num_classes = _class_labels(labels, x.shape[0], num_classes)
  _check_pairs(np.asarray(y), num_classes)
  k, chunk_size = _check_neighbor_args(k, chunk_size, x.shape[0])
  radius_scale, sq_radius = 1.0, 0.0
  if beta is not None:
    beta = checks.check_positive_scalar(beta, 'beta', allow_zero=True)
    threshold = checks.check_positive_scalar(threshold, 'threshold')
    radius_scale, sq_radius = _scaled_sq_radius(threshold * beta, x.dtype)
  if x.shape[1] > neighbours.MAX_DIRECT_DIM:  # wide rows: the separate functions
    return _separate_measures(x, y, num_classes, beta, k, threshold, chunk_size)
  radius_scale, sq_radius = (jnp.asarray(v, x.dtype) for v in (radius_scale, sq_radius))
  return _layer_measures(
    x, y, radius_scale, sq_radius, num_classes, k, beta is not None, chunk_size
  )


def _scaled_sq_radius(radius: float, dtype) -> tuple[float, np.ndarray]:
  """(q, (radius / q)^2 in dtype): q a power of two near the radius.

  The square of the radius itself leaves the dtype's range far sooner than
  the radius (float32: r below ~1e-19 squares to a subnormal or 0, above
  ~1e19 to inf), so it is squared at unit scale; the kernel multiplies it by
  (q / p)^2 with p the rows' scale (`pow2_scale`), all exact powers of two.
  In range this is the tree's radius float32(r^2) / p^2 bit for bit.
  """
  if radius == 0 or not math.isfinite(radius):  # r^2 = 0 or inf exactly
    return 1.0, np.asarray(radius * radius).astype(dtype)
  scale = scales.power_of_two_scale(radius, dtype)
  with np.errstate(over='ignore', under='ignore'):
    return scale, np.asarray((radius / scale) ** 2).astype(dtype)


def _separate_measures(x, y, num_classes, beta, k, threshold, chunk_size) -> LayerMeasures:
  """`layer_measures` from the separate functions (spanning-tree clusters)."""
  sim, scatter = _class_similarity(x, y, num_classes), _scatter(x, y, num_classes)
  agreement = knn_label_agreement(x, y, k, chunk_size=chunk_size)
  chained = packed = (None, None)
  if beta is not None:
    chained = num_distinguishable_clusters(x, beta, threshold=threshold)[:2]
    packed = packing_clusters(x, beta, threshold=threshold)[:2]
  return LayerMeasures(
    sim.within, sim.between, sim.gap, scatter.ratio, agreement, *chained, *packed
  )
