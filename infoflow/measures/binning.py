"""Binning estimators of past work (docs/method.md, section 6).

Shwartz-Ziv & Tishby (2017) and Saxe et al. (2018) estimate "I(X;T)" on a
*deterministic* network by discretising every neuron of a layer and taking the
entropy of the resulting discrete symbol. For a deterministic network and a
finite, uniform input set this does not estimate the true mutual information
(which is the vacuous log m); it measures how much the representations cluster
at the scale of the bin size. These functions reproduce that measurement
exactly, so it can be compared with the noisy-network estimator.

Conventions
-----------
* ``representations``: noise-free layer outputs ``T`` of shape ``(m, d)``, one
  row per input; inputs are uniform (weight ``1/m`` each).
* ``labels``: shape ``(m,)``, integers in ``[0, num_classes)``.
* All information quantities are in nats; ``bits = nats / ln 2`` (see
  :attr:`BinnedInformation.bits`).
* Discretisation of a coordinate ``t``:

  - ``bin_size=b`` (Saxe et al.): bin index ``floor(t / b)``, unbounded.
  - ``edges=e`` (``num_bins + 1`` increasing values): bin ``k`` is
    ``[e[k], e[k+1])``; the last bin is closed on the right (as in
    ``np.histogram``). Values below ``e[0]`` are clamped into bin 0 and values
    at or above ``e[-1]`` into the last bin, so every value gets a bin (for
    tanh and ``[-1, 1]`` edges no clamping ever happens).

* Exactness: each input's ``d``-tuple of bin indices is a symbol, and two
  inputs share a symbol iff *all* ``d`` indices are equal. No hashing is used:
  symbols are identified by iterated exact sorting (see
  :func:`symbol_ids`), so distinct tuples are never merged.
"""

from __future__ import annotations

from collections.abc import Sequence
import math
from typing import NamedTuple
from typing import Optional

import chex
import jax
from jax import lax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow import units

# Columns consumed per sort in `symbol_ids`: a multi-key sort of a few columns
# at once cuts the number of sequential scan steps (d / _COLUMN_BLOCK) without
# making the sort comparator large.
_COLUMN_BLOCK = 8


class BinnedInformation(NamedTuple):
  """Binning estimates for one layer (nats; scalars or arrays of equal shape).

  Attributes:
    entropy: ``H(Bin(T))``.
    mi_input: ``I(X; Bin(T))``; equals ``entropy`` because ``Bin(T)`` is a
      deterministic function of a uniform ``X``.
    mi_label: ``I(Bin(T); Y) = H(Bin(T)) - sum_y p(y) H(Bin(T) | Y=y)``.
  """

  entropy: jax.Array
  mi_input: jax.Array
  mi_label: jax.Array

  @property
  def bits(self) -> 'BinnedInformation':
    """The same quantities in bits (``nats / ln 2``)."""
    return BinnedInformation(*(units.to_bits(v) for v in self))


# ----------------------------------------------------------------------------
# Input validation (eager, at the Python boundary).
# ----------------------------------------------------------------------------


def _as_representations(x, name: str = 'representations') -> jax.Array:
  return jnp.asarray(checks.check_float_array(x, name, rank=2, shape='(m, d)'))


def _check_bin_size_range(x, bin_size: float, name: str = 'bin_size'):
  """floor(t / b) must not overflow the dtype (it would merge symbols)."""
  if checks.is_concrete(x):
    peak = float(jnp.max(jnp.abs(x)))
    limit = float(jnp.finfo(x.dtype).max) / 2
    if peak / bin_size > limit:
      raise ValueError(
        f'{name} = {bin_size:.3g} is too small for values up to '
        f'{peak:.3g} in {x.dtype}: t / {name} overflows (largest ratio '
        f'{limit:.3g}); use a larger {name} or float64 data.'
      )


def _as_edges(edges) -> jax.Array:
  e = np.asarray(
    checks.check_float_array(edges, 'edges', rank=1, shape='(num_bins + 1,)', dtype=np.float32)
  )
  if e.shape[0] < 2:
    raise ValueError(f'edges must be 1-D with >= 2 values; got {e.shape}.')
  if not np.all(np.diff(e) > 0):
    raise ValueError('edges must be strictly increasing (in float32).')
  return jnp.asarray(e)


# ----------------------------------------------------------------------------
# Bin edges.
# ----------------------------------------------------------------------------


def bin_edges_uniform(low: float, high: float, num_bins: int) -> jax.Array:
  """Edges of ``num_bins`` equal-width bins covering ``[low, high]``.

  Args:
    low: left end.
    high: right end, ``> low``.
    num_bins: number of bins, ``>= 1``.

  Returns:
    Array of shape ``(num_bins + 1,)``: ``low + k (high - low) / num_bins``.
  """
  num_bins = checks.check_count(num_bins, 'num_bins')
  low, high = float(low), float(high)
  if not (math.isfinite(low) and math.isfinite(high)) or high <= low:
    raise ValueError(f'need finite low < high; got low={low}, high={high}.')
  return jnp.asarray(np.linspace(low, high, num_bins + 1), dtype=jnp.float32)


def szt_bin_edges(num_bins: int = 30) -> jax.Array:
  """Shwartz-Ziv & Tishby convention: ``num_bins`` (30) equal bins on [-1, 1].

  Meant for tanh layers, whose outputs lie in ``(-1, 1)``. (SZT's code built
  ``np.linspace(-1, 1, 30)`` as edges for ``np.digitize``; we follow the
  paper's description, 30 equal bins, i.e. 31 edges of width 2/30.)

  Returns:
    Array of shape ``(num_bins + 1,)``.
  """
  return bin_edges_uniform(-1.0, 1.0, num_bins)


# ----------------------------------------------------------------------------
# Core (jit-compiled).
# ----------------------------------------------------------------------------


def _discretise(x: jax.Array, bin_size, edges) -> jax.Array:
  """Per-coordinate bin keys, shape (m, d); exact integers (float or int)."""
  if edges is not None:
    num_bins = edges.shape[0] - 1
    # side='right' - 1: value v lands in k with e[k] <= v < e[k+1]; clamping
    # puts v < e[0] into bin 0 and v >= e[-1] (including v == e[-1], the
    # right-closed last bin) into bin num_bins - 1.
    k = jnp.searchsorted(edges, x.astype(jnp.float32), side='right') - 1
    return jnp.clip(k, 0, num_bins - 1).astype(jnp.int32)
  # Keep floor(t / b) as float: it is an exact integer-valued float, compares
  # exactly, and cannot overflow an int cast for tiny bin sizes. Map -0.0 to
  # +0.0 so the two zeros are one symbol regardless of sort order.
  k = jnp.floor(x / bin_size)
  return jnp.where(k == 0, jnp.zeros_like(k), k)


def _refine(group: jax.Array, columns: Sequence[jax.Array]) -> jax.Array:
  """Dense ids of the tuples (group, *columns); ids in [0, m), exact."""
  m = group.shape[0]
  idx = jnp.arange(m, dtype=jnp.int32)
  keys = (group, *columns)
  out = lax.sort((*keys, idx), num_keys=len(keys))
  sorted_keys, perm = out[:-1], out[-1]
  differs = jnp.zeros((m - 1,), dtype=bool)
  for k in sorted_keys:
    differs = differs | (k[1:] != k[:-1])
  new_run = jnp.concatenate([jnp.zeros((1,), jnp.int32), differs.astype(jnp.int32)])
  rank = jnp.cumsum(new_run)
  return jnp.zeros((m,), jnp.int32).at[perm].set(rank)


@jax.jit
def symbol_ids(keys: jax.Array) -> jax.Array:
  """Exact dense ids of the rows of ``keys``: equal rows <=> equal ids.

  Rows are refined column block by column block: the current id of each row
  and the next few columns are sorted together and runs of equal tuples get
  consecutive ids. After all columns, ids are the ranks of the distinct rows
  in lexicographic order. No hashing, so no collisions; cost
  ``O(d m log m)`` with ``d / 8`` sequential sorts.

  Args:
    keys: ``(m, d)`` array (any ordered dtype).

  Returns:
    ``(m,)`` int32 ids in ``[0, number of distinct rows)``.
  """
  chex.assert_rank(keys, 2)
  m, d = keys.shape
  if m == 1:
    return jnp.zeros((1,), jnp.int32)
  pad = (-d) % _COLUMN_BLOCK
  # Constant padding columns cannot split a group, so they do not change ids.
  cols = jnp.pad(keys, ((0, 0), (0, pad))).T
  blocks = cols.reshape(-1, _COLUMN_BLOCK, m)

  def step(group, block):
    return _refine(group, [block[i] for i in range(_COLUMN_BLOCK)]), None

  group, _ = lax.scan(step, jnp.zeros((m,), jnp.int32), blocks)
  return group


def _entropy_from_ids(ids: jax.Array) -> jax.Array:
  """Plug-in entropy (nats) of the empirical law of ids in [0, m)."""
  m = ids.shape[0]
  counts = jnp.bincount(ids, length=m).astype(jnp.float32)
  # sum_c (n_c/m) log(m/n_c): non-negative terms, no cancellation, and
  # exactly 0 when a single symbol has all the mass.
  safe = jnp.maximum(counts, 1.0)
  return jnp.sum(jnp.where(counts > 0, (safe / m) * jnp.log(m / safe), 0.0))


def _information_core(x, labels, bin_size, edges):
  chex.assert_rank([x, labels], [2, 1])
  chex.assert_equal_shape_prefix([x, labels], 1)
  chex.assert_type(labels, jnp.int32)
  keys = _discretise(x, bin_size, edges)
  ids = symbol_ids(keys)
  h_t = _entropy_from_ids(ids)
  # Dense-rank the labels first: bincount in _entropy_from_ids needs ids < m.
  h_y = _entropy_from_ids(_refine(jnp.zeros_like(labels), [labels]))
  h_ty = _entropy_from_ids(_refine(ids, [labels]))
  # I(T;Y) = H(T) + H(Y) - H(T,Y) = H(T) - sum_y p(y) H(T|Y=y); clip the
  # rounding-level excursions outside [0, min(H(T), H(Y))].
  mi_y = jnp.clip(h_t + h_y - h_ty, 0.0, jnp.minimum(h_t, h_y))
  return BinnedInformation(entropy=h_t, mi_input=h_t, mi_label=mi_y)


@jax.jit
def _entropy_bin_size(x, bin_size):
  return _entropy_from_ids(symbol_ids(_discretise(x, bin_size, None)))


@jax.jit
def _entropy_edges(x, edges):
  return _entropy_from_ids(symbol_ids(_discretise(x, None, edges)))


_info_bin_size = jax.jit(lambda x, y, b: _information_core(x, y, b, None))
_info_edges = jax.jit(lambda x, y, e: _information_core(x, y, None, e))
# Many bin sizes at once: one compiled, batched sort per column block.
_info_bin_sizes = jax.jit(
  jax.vmap(lambda x, y, b: _information_core(x, y, b, None), in_axes=(None, None, 0))
)


def _pick_scheme(bin_size, edges):
  if (bin_size is None) == (edges is None):
    raise ValueError('give exactly one of bin_size or edges.')
  if edges is not None:
    return None, _as_edges(edges)
  return checks.check_positive_scalar(bin_size, 'bin_size'), None


# ----------------------------------------------------------------------------
# Public API.
# ----------------------------------------------------------------------------


def binned_entropy(representations, *, bin_size: Optional[float] = None, edges=None) -> jax.Array:
  """Entropy of the binned representation, ``H(Bin(T))`` in nats.

  ``H = -sum_s p(s) log p(s)`` with ``p(s) = #{i : Bin(t_i) = s} / m``, where
  ``Bin(t_i)`` is the ``d``-tuple of per-coordinate bin indices of row ``i``
  (inputs uniform). Ranges from 0 (all rows in one cell) to ``log m`` (all
  rows in distinct cells).

  Args:
    representations: ``(m, d)`` float array, finite.
    bin_size: bin width ``b > 0``; coordinate ``t`` goes to ``floor(t / b)``.
    edges: alternatively, ``(num_bins + 1,)`` strictly increasing edges; out
      of range values are clamped to the end bins (module docstring).

  Returns:
    Scalar, nats.
  """
  x = _as_representations(representations)
  b, e = _pick_scheme(bin_size, edges)
  if b is not None:
    _check_bin_size_range(x, b)
  if e is not None:
    return _entropy_edges(x, e)
  return _entropy_bin_size(x, jnp.asarray(b, x.dtype))


def binned_information(
  representations, labels, num_classes: int, *, bin_size: Optional[float] = None, edges=None
) -> BinnedInformation:
  """``H(Bin(T))``, ``I(X;Bin(T))`` and ``I(Bin(T);Y)`` for one layer (nats).

  ``I(X;Bin(T)) = H(Bin(T))`` (deterministic function of uniform ``X``);
  ``I(Bin(T);Y) = H(Bin(T)) - sum_y p(y) H(Bin(T)|Y=y)``, with
  ``p(y) = n_y / m``, computed as ``H(Bin(T)) + H(Y) - H(Bin(T), Y)``.

  Args:
    representations: ``(m, d)`` float array, finite.
    labels: ``(m,)`` ints in ``[0, num_classes)``.
    num_classes: number of classes.
    bin_size: bin width (``floor(t / b)`` binning), or
    edges: bin edges (clamped binning); exactly one of the two.

  Returns:
    :class:`BinnedInformation` of scalars (nats; ``.bits`` for bits).
  """
  x = _as_representations(representations)
  y, _ = checks.label_array(labels, x.shape[0], num_classes)
  b, e = _pick_scheme(bin_size, edges)
  if b is not None:
    _check_bin_size_range(x, b)
  if e is not None:
    return _info_edges(x, y, e)
  return _info_bin_size(x, y, jnp.asarray(b, x.dtype))


def binned_information_all(
  layers: Sequence, labels, num_classes: int, bin_sizes: Sequence[float]
) -> BinnedInformation:
  """:func:`binned_information` for every layer and every bin size.

  Args:
    layers: sequence of ``L`` arrays, layer ``l`` of shape ``(m, d_l)`` (same
      ``m`` and input order for all layers).
    labels: ``(m,)`` ints in ``[0, num_classes)``.
    num_classes: number of classes.
    bin_sizes: ``B`` positive bin widths (``floor(t / b)`` binning).

  Returns:
    :class:`BinnedInformation` whose fields have shape ``(L, B)`` (nats).
    Bin sizes are vectorised (``vmap``) per layer; layers are looped over
    because their widths differ.
  """
  if isinstance(layers, (jax.Array, np.ndarray)) or len(layers) < 1:
    raise ValueError('layers must be a non-empty sequence of (m, d_l) arrays.')
  sizes = np.atleast_1d(np.asarray(bin_sizes, dtype=object))
  if sizes.ndim != 1 or sizes.shape[0] < 1:
    raise ValueError(f'bin_sizes must be non-empty and 1-D; got {bin_sizes!r}.')
  sizes = np.asarray([checks.check_positive_scalar(b, 'bin_sizes') for b in sizes], np.float64)
  xs = [_as_representations(t, f'layers[{i}]') for i, t in enumerate(layers)]
  m = xs[0].shape[0]
  for i, x in enumerate(xs):
    if x.shape[0] != m:
      raise ValueError(f'layers[{i}] has {x.shape[0]} rows; layers[0] has {m}.')
  y, _ = checks.label_array(labels, m, num_classes)
  for x in xs:
    _check_bin_size_range(x, float(np.min(sizes)), 'bin_sizes')
  rows = [_info_bin_sizes(x, y, jnp.asarray(sizes, x.dtype)) for x in xs]
  return BinnedInformation(*(jnp.stack(f) for f in zip(*rows)))
