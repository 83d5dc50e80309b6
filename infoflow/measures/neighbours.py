"""Exact neighbour searches by chunked direct differences (no m x m array).

Two measures of :mod:`infoflow.measures.clustering` need the pairwise squared
distances ``D_ij = sum_a (x_ia - x_ja)^2`` of ``m`` rows: the ``k`` nearest
neighbours of every row, and the connected components of the radius graph
``i ~ j  iff  D_ij <= r^2`` (beta-distinguishable clusters). Both come from
one pass over blocks of ``chunk`` query rows against all ``m`` rows:

- ``D`` is summed coordinate by coordinate from direct differences, which is
  accurate to ~1e-7 ``D_ij`` in float32 even for points far closer to each
  other than to the origin (the matmul form ``|a|^2 + |b|^2 - 2 a.b`` cancels
  there). The rows are first divided by a power of two ``p`` (exact), so the
  squares cannot overflow; distances are reported in the input's units.
- The ``k`` nearest (self excluded, ties to the lower index) are selected in
  two stages: the columns fall in blocks of ``b``; the ``k`` blocks with the
  smallest minima hold every one of the ``k`` nearest (a block holding one of
  them has a minimum at most its distance, and at most ``k - 1`` other blocks
  can have smaller minima), so ``top_k`` runs on ``k b`` candidates per row,
  not ``m``.
- Components: a row whose ``k``-th nearest neighbour lies beyond ``r`` has
  every edge of the radius graph among its ``k`` nearest; an edge between two
  other ("dense") rows may be unlisted. The listed edges are merged by label
  propagation; then passes over the pairs of dense rows merge the components
  that such edges join, until a pass finds nothing new. Spread points need no
  extra pass; tight clusters one (or a few, when clusters chain).

The results equal those of the sequential algorithms they replace (a brute
force top-k; single linkage from Prim's spanning tree, which gives the same
components at any cut) up to the rounding of ``D``, and are tested against
them. Time ``O(m^2 d)`` per pass, memory ``O(chunk * m + m (d + k))``. One compiled
program per ``(m, d, k, chunk)``; radii are traced values, so a new radius or
new data of the same shape compiles nothing.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import jax
from jax import lax
import jax.numpy as jnp

from infoflow import checks
from infoflow.measures.distinguishable import pow2_scale

__all__ = [
  'MAX_DIRECT_DIM',
  'NeighbourPass',
  'block_size',
  'neighbour_pass',
  'radius_components',
  'screened_knn',
]

# Widest rows for the coordinate-by-coordinate pass (its loop is unrolled);
# wider rows (conv maps) go through `screened_knn`, whose matmul is cheaper.
MAX_DIRECT_DIM = 32


class NeighbourPass(NamedTuple):
  """The ``k`` nearest other rows of every row (the pass's result).

  Attributes:
    indices: ``(m, k)`` int32, nearest first (ties: lower index first).
    sq_distances: ``(m, k)`` their squared distances, in the units of the
      rows passed in.
  """

  indices: jax.Array
  sq_distances: jax.Array


def block_size(m: int, k: int) -> int:
  """Columns per block of the two-stage selection: at most 64, and at least
  ``k`` blocks (so that ``k`` of them can be chosen)."""
  return max(1, min(64, m // max(k, 1)))


def _sq_distances(q, xt):
  """``(c, n)`` squared distances of rows ``q`` (c, d) to the columns of
  ``xt`` (d, n), summed coordinate by coordinate (one fused loop)."""
  d2 = jnp.zeros((q.shape[0], xt.shape[1]), q.dtype)
  for a in range(q.shape[1]):
    diff = q[:, a : a + 1] - xt[a][None, :]
    d2 = d2 + diff * diff
  return d2


def _padded_columns(x, multiple):
  """``x.T`` with its columns padded to a multiple of ``multiple``; padded
  columns hold a huge value, so their squared distances overflow to inf."""
  m = x.shape[0]
  n = -(-m // multiple) * multiple
  far = jnp.full((n - m, x.shape[1]), jnp.finfo(x.dtype).max, x.dtype)
  return jnp.concatenate([x, far]).T, n


def _query_chunks(m, chunk):
  """``(num_chunks, chunk)`` row indices; padded slots repeat row 0."""
  n = -(-m // chunk) * chunk
  idx = jnp.concatenate([jnp.arange(m, dtype=jnp.int32), jnp.zeros((n - m,), jnp.int32)])
  return idx.reshape(-1, chunk)


def _select_k(d2, k, b):
  """The ``k`` smallest entries of each row of ``d2`` (c, n), n a multiple of
  ``b``, lower index first on ties: (indices, values)."""
  c, n = d2.shape
  blocks = d2.reshape(c, n // b, b)
  _, chosen = lax.top_k(-jnp.min(blocks, axis=2), k)  # (c, k) block numbers
  chosen = jnp.sort(chosen, axis=1)  # candidates in column order: ties -> lower index
  cand = jnp.take_along_axis(blocks, chosen[:, :, None], axis=1).reshape(c, k * b)
  neg, pos = lax.top_k(-cand, k)
  cols = chosen[:, :, None] * b + jnp.arange(b, dtype=jnp.int32)
  return jnp.take_along_axis(cols.reshape(c, k * b), pos, axis=1), -neg


def _drop_self(nbr, dist, idx):
  """The first k of k + 1 neighbours that are not the query row itself."""
  k = nbr.shape[1] - 1
  is_self = nbr == idx[:, None]
  # Slot j takes entry j + 1 once the query row has been passed.
  shift = jnp.cumsum(is_self, axis=1)[:, :k] > 0
  return (jnp.where(shift, nbr[:, 1:], nbr[:, :k]), jnp.where(shift, dist[:, 1:], dist[:, :k]))


@functools.partial(jax.jit, static_argnames=('k', 'chunk'))
def neighbour_pass(x, *, k: int, chunk: int) -> NeighbourPass:
  """The ``k`` nearest other rows of each row of ``x`` (m, d), ``1 <= k < m``.

  ``x`` should already be divided by a power of two, so that the squares
  cannot overflow (:func:`infoflow.measures.distinguishable.pow2_scale`).
  """
  m = x.shape[0]
  b = block_size(m, k + 1)
  xt, _ = _padded_columns(x, b)

  def one_chunk(idx):
    d2 = _sq_distances(x[idx], xt)  # padded columns: inf
    # Self (distance 0) is among the k + 1 nearest unless k + 1 duplicates
    # of lower index are: either way dropping it (or the last) is exact.
    return _drop_self(*_select_k(d2, k + 1, b), idx)

  nbr, dist = lax.map(one_chunk, _query_chunks(m, chunk))
  return NeighbourPass(nbr.reshape(-1, k)[:m], dist.reshape(-1, k)[:m])


def _propagate(labels, sources, targets):
  """Labels of the graph with edges ``sources[e] -- targets[e]`` to a fixed
  point: min-label propagation with hooking and pointer jumping. Labels only
  decrease and stay in their component, so at the end every node carries the
  smallest index of its component (given labels that started as such)."""

  def body(state):
    lab, _ = state
    low = jnp.minimum(lab[sources], lab[targets])  # per edge
    new = lab.at[sources].min(low).at[targets].min(low)
    new = new.at[lab[sources]].min(low).at[lab[targets]].min(low)  # hook the roots
    new = new[new]  # pointer jumping
    return new, jnp.any(new != lab)

  labels, _ = lax.while_loop(lambda s: s[1], body, (labels, jnp.bool_(True)))
  return labels


@functools.partial(jax.jit, static_argnames=('chunk',))
def radius_components(x, sq_radius, found: NeighbourPass, *, chunk: int):
  """Connected components of the graph ``D_ij <= sq_radius`` on the rows of
  ``x`` (``x``, ``found`` as for :func:`neighbour_pass`; ``sq_radius`` in the
  same units): ``(m,)`` int32, the smallest index in each row's component.

  A row whose ``k``-th nearest neighbour is farther than the radius has all
  its edges in ``found``; the edges between the other ("dense") rows are
  checked by passes over their pairs, each merging what it finds, until a
  pass finds nothing new.
  """
  m, k = found.indices.shape
  rows = jnp.arange(m, dtype=jnp.int32)
  sources = jnp.repeat(rows, k)
  targets = jnp.where(found.sq_distances <= sq_radius, found.indices, rows[:, None]).reshape(-1)
  dense = found.sq_distances[:, k - 1] <= sq_radius  # edges possibly unlisted
  xt, _ = _padded_columns(x, 1)
  queries = _query_chunks(m, chunk)
  big = jnp.int32(m)

  def lowest_label(labels):
    """min(L_i, min{L_j : D_ij <= r^2, i and j dense}) of every row."""

    def one_chunk(idx):
      def scan():
        d2 = _sq_distances(x[idx], xt)
        ok = (d2 <= sq_radius) & dense[None, :] & dense[idx][:, None]
        return jnp.minimum(labels[idx], jnp.min(jnp.where(ok, labels[None, :], big), axis=1))

      return lax.cond(jnp.any(dense[idx]), scan, lambda: labels[idx])

    return lax.map(one_chunk, queries).reshape(-1)[:m]

  def body(state):
    labels, first, _ = state
    # Round 0 propagates the listed edges alone (self loops i -- i); each
    # later round adds the edges i -- low_i (low_i labels a row of the
    # component found within the radius), which merge the two components.
    low = lax.cond(first, lambda: rows, lambda: lowest_label(labels))
    new = _propagate(labels, jnp.concatenate([sources, rows]), jnp.concatenate([targets, low]))
    return new, False, jnp.any(dense) & (first | jnp.any(new != labels))

  labels, _, _ = lax.while_loop(lambda s: s[2], body, (rows, True, True))
  return labels


def _running_top_k(best, block_d, block_i, k):
  """Merge (c, k) best (sq_dist, index) with a (c, b) block; keep k smallest."""
  d = jnp.concatenate([best[0], block_d], axis=1)
  i = jnp.concatenate([best[1], block_i], axis=1)
  neg, pos = lax.top_k(-d, k)
  return -neg, jnp.take_along_axis(i, pos, axis=1)


def _exhaustive_knn(xc, idx, k):
  """The ``k`` nearest rows of ``xc`` to the rows ``idx`` (self excluded) by
  direct differences, in blocks of ~2^22 difference elements:
  ``(indices, sq_distances)``, each ``(len(idx), k)``."""
  m, d = xc.shape
  c = idx.shape[0]
  rb = max(1, min(m, 2**22 // (c * d)))
  ref_idx = jnp.arange(-(-m // rb) * rb, dtype=jnp.int32).reshape(-1, rb)
  q = xc[idx]

  def step(best, r):
    diff = xc[jnp.minimum(r, m - 1)][None, :, :] - q[:, None, :]
    d2 = jnp.sum(diff * diff, axis=-1)
    bad = (r[None, :] >= m) | (r[None, :] == idx[:, None])
    d2 = jnp.where(bad, jnp.inf, d2)
    return _running_top_k(best, d2, jnp.broadcast_to(r, d2.shape), k), None

  init = (jnp.full((c, k), jnp.inf, xc.dtype), jnp.zeros((c, k), jnp.int32))
  (dist, nbr), _ = lax.scan(step, init, ref_idx)
  return nbr, dist


@functools.partial(jax.jit, static_argnames=('k', 'chunk_size', 'refine'))
def screened_knn(x, k: int, chunk_size: int, refine: int):
  """The ``k`` nearest other rows of ``x`` (m, d) for wide rows (d above
  ``MAX_DIRECT_DIM``): ``(indices, sq_distances)`` in the input's units.

  Per chunk of query rows, the matmul form ``|a|^2 + |b|^2 - 2<a,b>`` (on
  centred rows; fast for large d) nominates ``k + refine`` candidates, whose
  distances are recomputed by direct differences; a chunk whose choice a
  rigorous rounding bound of the screening cannot certify is redone
  exhaustively by direct differences, so the neighbours are exact.
  """
  m, d = x.shape
  kc = min(m - 1, k + refine)
  scale = pow2_scale(x)  # exact; squared distances cannot overflow
  x = x / scale
  xc = x - jnp.mean(x, axis=0)  # shrinks |t|^2, hence the screening error
  sq = jnp.sum(xc * xc, axis=1)
  # Rounding bound of the matmul form for a pair (a, b), valid for any
  # summation order: (2 gamma_d + 3 eps)(|a|^2 + |b|^2), with
  # gamma_d = d eps / (1 - d eps) (Higham's bound for a length-d dot product).
  eps = float(jnp.finfo(x.dtype).eps)
  gamma = d * eps / max(1.0 - d * eps, 0.5)
  tol = (2.0 * gamma + 3.0 * eps) * (sq + jnp.max(sq))
  # Padded query slots repeat row 0; their results are sliced off.
  q_idx = checks.pad_to_multiple(jnp.arange(m, dtype=jnp.int32), chunk_size)
  q_idx = q_idx.reshape(-1, chunk_size)
  cols = jnp.arange(m, dtype=jnp.int32)

  def one_chunk(idx):
    q = xc[idx]  # (c, d)
    # Screening with the fast matmul form |a|^2 + |b|^2 - 2<a,b>; it cancels
    # badly for close pairs, so it only nominates kc candidates.
    approx = (
      sq[idx][:, None] + sq[None, :] - 2.0 * jnp.matmul(q, xc.T, precision=lax.Precision.HIGHEST)
    )
    approx = jnp.where(cols[None, :] == idx[:, None], jnp.inf, approx)
    neg_a, cand = lax.top_k(-approx, kc)  # (c, kc)
    # Re-rank candidates by direct differences (accurate for close pairs).
    diff = xc[cand] - q[:, None, :]  # (c, kc, d)
    exact = jnp.sum(diff * diff, axis=-1)
    neg, pos = lax.top_k(-exact, k)
    nbr, dist = jnp.take_along_axis(cand, pos, axis=1), -neg
    # Certified iff every non-candidate is provably farther than the k-th:
    # true >= approx - tol >= (largest candidate approx) - tol. (min/max, not
    # [:, -1]: slicing a top_k output makes XLA:CPU fall back to a full sort.)
    bound = -jnp.min(neg_a, axis=1) - tol[idx]
    ok = (kc == m - 1) | (jnp.max(dist, axis=1) < bound)
    return lax.cond(jnp.all(ok), lambda: (nbr, dist), lambda: _exhaustive_knn(xc, idx, k))

  nbr, dist = lax.map(one_chunk, q_idx)
  return nbr.reshape(-1, k)[:m], dist.reshape(-1, k)[:m] * scale**2
