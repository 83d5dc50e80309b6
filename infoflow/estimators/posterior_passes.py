"""Jitted passes of the posterior form over all draws, dense or pruned.

`dense_pass` sums, for each block of draws, every chunk of inputs that can
matter (`posterior_sums.dense_block`; the far chunks are bounded, within half
the prune_tolerance). `pruned_sums` is the host-side driver of the pruned
evaluation, as in `infoflow.estimators.pruned`: a first pass sums each draw's
top-K candidate inputs (`posterior_sums.candidate_block`) and certifies the
rest; the draws whose certified error exceeds the prune_tolerance are compacted
(to a fixed shape, visited a block at a time by a loop with a traced trip
count) and redone with 4K, 16K, ... candidates (one compilation per K), and the
few left after the whole neighbour list by the dense pass. Draws are split over
a device mesh (`infoflow.estimators.sharding`).

Outputs per draw: log sum_x e^{L_x}, H(X | T=t), H(Y | T=t) and the
certified error of the first (`infoflow.estimators.posterior_sums`).
`draw_batch` draws one block of stratified t ~ g and runs the pass the method
chooses.
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp

from infoflow import checks
from infoflow.estimators import draws as draws_lib
from infoflow.estimators import posterior_sums as sums
from infoflow.estimators import pruned as pruned_lib
from infoflow.estimators import sharding

_CHUNK_ELEMENTS = 1 << 20  # gathered candidate coordinates per block
_DENSE_QUERIES = 256  # queries per dense block
_ROUNDING_TOLERANCE = 1e-3  # dense exponents (see `dense.block_exponents`)
_DENSE_CENTERS = 2048  # centres per step of the dense scan


@dataclasses.dataclass(frozen=True)
class Layout:
  """A layer's samples laid out for the kernels (arrays are device-side).

  The dense pass sees the inputs in `order` (a space-filling curve), so that
  each chunk of group_chunk inputs is compact and far chunks can be skipped.
  """

  centers: jax.Array  # (m', R, d) in `order`, m' padded to a multiple of the chunk
  valid: jax.Array  # (m', R)
  dense_onehot: jax.Array  # (m', C) labels in `order`
  bounds: tuple  # `posterior_sums.chunk_bounds` of the chunks
  group_chunk: int
  onehot: jax.Array  # (m, C) labels in input order (the groups')
  groups: object  # `Groups` of the samples (input order) for the pruned path, else None
  order: jax.Array  # (m,) inputs in `draws.input_order`: the strata

  @property
  def dense_args(self):
    """The arrays every dense evaluation takes."""
    return (self.centers, self.valid, self.dense_onehot, self.bounds)


def make_layout(samples, onehot, groups) -> Layout:
  """Pads the inputs to a multiple of the dense chunk (masked padding)."""
  m, r, _ = samples.shape
  order = draws_lib.input_order(samples)
  centers, labels = samples[order], onehot[order]
  chunk = max(1, min(m, _DENSE_CENTERS // r))
  padded = -(-m // chunk) * chunk
  pad = padded - m
  valid = jnp.ones((m, r), bool)
  if pad:
    centers = jnp.concatenate([centers, jnp.repeat(centers[:1], pad, 0)])
    valid = jnp.concatenate([valid, jnp.zeros((pad, r), bool)])
    labels = jnp.concatenate([labels, jnp.zeros((pad, onehot.shape[1]), onehot.dtype)])
  bounds = sums.chunk_bounds(centers, valid, chunk)
  return Layout(centers, valid, labels, bounds, chunk, onehot, groups, order)


def _dense_rows(q, shift, centers, valid, onehot, bounds, inv_two_var, group_chunk, skip):
  """`sums.dense_block` over blocks of rows: (log-sum, H_X, H_Y, err), each (b,)."""
  rows = q.shape[0]
  block = min(rows, _DENSE_QUERIES)
  floor = jnp.full((rows,), draws_lib.OWN_TERM_FLOOR, q.dtype)
  packed = [checks.pad_to_multiple(a, block) for a in (q, shift, floor)]
  packed = tuple(a.reshape((-1, block) + a.shape[1:]) for a in packed)
  outs = jax.lax.map(
    lambda a: sums.dense_block(
      *a, centers, valid, onehot, inv_two_var, _ROUNDING_TOLERANCE, group_chunk, bounds, skip
    ),
    packed,
  )
  return tuple(o.reshape(-1)[:rows] for o in outs)


def _candidate_rows(q, home, shift, groups, onehot, inv_two_var, k):
  """`sums.candidate_block` over blocks of rows; four (b,) outputs."""
  rows, dim = q.shape
  r = groups.centers.shape[1]
  block = max(1, min(rows, _CHUNK_ELEMENTS // (k * r * dim)))
  packed = [checks.pad_to_multiple(a, block) for a in (q, home, shift)]
  packed = tuple(a.reshape((-1, block) + a.shape[1:]) for a in packed)
  outs = jax.lax.map(lambda a: sums.candidate_block(*a, groups, onehot, inv_two_var, k), packed)
  return tuple(o.reshape(-1)[:rows] for o in outs)


@functools.partial(jax.jit, static_argnames=('mesh', 'group_chunk', 'skip'))
def dense_pass(q, shift, dense_args, inv_two_var, *, mesh, group_chunk, skip):
  """Every draw against every chunk that can matter (`sums.dense_block`)."""

  def local(q, shift, dense_args, inv_two_var):
    return _dense_rows(q, shift, *dense_args, inv_two_var, group_chunk, skip)

  return sharding.map_shards(local, mesh, (q, shift), (dense_args, inv_two_var))


def _local_first(q, home, shift, groups, onehot, inv_two_var, *, k, prune_tolerance):
  out = _candidate_rows(q, home, shift, groups, onehot, inv_two_var, k)
  return out, jnp.sum(out[3] > prune_tolerance)[None]


def _local_refine(
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
    block = min(rows, _DENSE_QUERIES)
  else:
    r, dim = groups.centers.shape[1:]
    block = max(1, min(rows, _CHUNK_ELEMENTS // (k * r * dim)))
  idx = checks.pad_to_multiple(jnp.nonzero(fail, size=rows, fill_value=0)[0], block)

  def redo(i, out):
    sel = jax.lax.dynamic_slice(idx, (i * block,), (block,))
    live = i * block + jnp.arange(block) < count
    if dense:
      # Far chunks skipped within half the tolerance: these rows are done.
      new = _dense_rows(
        q[sel], shift[sel], *dense_args, inv_two_var, group_chunk, prune_tolerance / 2
      )
    else:
      new = sums.candidate_block(q[sel], home[sel], shift[sel], groups, onehot, inv_two_var, k)
    target = jnp.where(live, sel, rows)
    return tuple(old.at[target].set(value, mode='drop') for old, value in zip(out, new))

  out = jax.lax.fori_loop(0, (count + block - 1) // block, redo, (log_sum, h_x, h_y, err))
  return out, jnp.sum(out[3] > prune_tolerance)[None]


@functools.partial(jax.jit, static_argnames=('mesh', 'k', 'prune_tolerance'))
def _first_pass(q, home, shift, groups, onehot, inv_two_var, *, mesh, k, prune_tolerance):
  fn = functools.partial(_local_first, k=k, prune_tolerance=prune_tolerance)
  out, fails = sharding.map_shards(fn, mesh, (q, home, shift), (groups, onehot, inv_two_var))
  return out, jnp.max(fails), jnp.sum(fails)


@functools.partial(
  jax.jit, static_argnames=('mesh', 'k', 'prune_tolerance', 'dense', 'group_chunk')
)
def _refine_pass(
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
):
  fn = functools.partial(
    _local_refine, k=k, prune_tolerance=prune_tolerance, dense=dense, group_chunk=group_chunk
  )
  out, fails = sharding.map_shards(
    fn, mesh, (q, home, shift, *out), (groups, onehot, dense_args, inv_two_var)
  )
  return out, jnp.max(fails), jnp.sum(fails)


def pruned_sums(q, home, shift, layout, inv_two_var, prune_tolerance, mesh):
  """Certified posterior sums of every draw (host driver, as in `pruned`)."""
  groups = layout.groups
  kn = groups.num_neighbors
  k = min(pruned_lib.DEFAULT_NUM_CANDIDATES, kn)
  out, fails, total = _first_pass(
    q,
    home,
    shift,
    groups,
    layout.onehot,
    inv_two_var,
    mesh=mesh,
    k=k,
    prune_tolerance=prune_tolerance,
  )

  def refine_pass(out, k, size, use_dense):
    del size  # compacted to the full row count (one compilation per K)
    return _refine_pass(
      q,
      home,
      shift,
      out,
      groups,
      layout.onehot,
      layout.dense_args,
      inv_two_var,
      mesh=mesh,
      k=k,
      prune_tolerance=prune_tolerance,
      dense=use_dense,
      group_chunk=layout.group_chunk,
    )

  r, dim = groups.centers.shape[1:]
  out, _, refined, dense = pruned_lib.refine_until_certified(
    refine_pass, out, fails, total, k, kn, r * dim
  )
  return out, refined, dense


@functools.partial(jax.jit, static_argnames=('replicas',))
def _queries(flat, beta, owner, z, *, replicas):
  return (
    flat[owner] + beta * z,
    (owner // replicas).astype(jnp.int32),
    0.5 * jnp.sum(z * z, axis=-1),
  )


def draw_batch(key, size, samples, beta, layout, method, prune_tolerance, mesh):
  """One batch of `size` stratified draws (`draws.stratified_draws` over
  `layout.order`): per-draw (log sum_x e^{L_x}, H(X | T=t), H(Y | T=t),
  certified error of log g), and the refined and dense counts."""
  m, r, dim = samples.shape
  flat = samples.reshape(m * r, dim)
  dtype = samples.dtype
  owner, z = draws_lib.stratified_draws(
    key, layout.order, replicas=r, dim=dim, size=size, dtype=dtype
  )
  q, home, shift = _queries(flat, jnp.asarray(beta, dtype), owner, z, replicas=r)
  inv_two_var = jnp.asarray(0.5 / float(beta) ** 2, dtype)
  q, home, shift = (checks.pad_to_multiple(a, sharding.num_shards(mesh)) for a in (q, home, shift))
  if method == 'pruned':
    (log_sum, h_x, h_y, err), refined, dense = pruned_sums(
      q, home, shift, layout, inv_two_var, prune_tolerance, mesh
    )
  else:
    log_sum, h_x, h_y, err = dense_pass(
      q,
      shift,
      layout.dense_args,
      inv_two_var,
      mesh=mesh,
      group_chunk=layout.group_chunk,
      skip=prune_tolerance / 2,
    )
    refined, dense = 0, 0
  return (log_sum[:size], h_x[:size], h_y[:size], err[:size]), refined, dense
