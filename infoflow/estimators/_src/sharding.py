"""Splitting per-query (or per-mixture) work over the devices of a Mesh.

Every estimator in infoflow is embarrassingly parallel over its Monte Carlo
draws (and, in the batched form, over its mixtures): each draw's log-density
needs all the centres but no other draw. So the draws are split along their
leading axis over every axis of a `jax.sharding.Mesh` (flattened into one),
the centres are replicated, and each device runs the single-device kernel on
its share under `shard_map`. Reductions that decide what to do next (the
largest certified error, the standard error of an adaptive estimate) are
taken inside the same jit, so they come back replicated: every process of a
multi-host run reads the same value and takes the same branch.

Several processes (`jax.distributed`). A mesh whose devices belong to
several processes (`Mesh.is_multi_process`) splits the draws over all of
them; each process then holds only its own rows of a sharded output, which
it cannot read back to NumPy. So on such a mesh `map_shards` gathers the
outputs inside the shard_map (`jax.lax.all_gather`, a few numbers per draw)
and returns them replicated: every host-side read (certificates, the
pruned path's refinement, the moments) works on every process and sees the
same values. Every process must make the same calls with the same
arguments (same key, same centres), as for any multi-process JAX program.

`mesh=None` means: every device of the run when there are more than one
(the local devices; under `jax.distributed`, those of every process), else
no sharding at all (the single-device code path, unchanged).
"""

from __future__ import annotations

import functools
import math

import jax
from jax.sharding import Mesh
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

try:  # jax >= 0.6
  _shard_map = jax.shard_map
  _NEW_API = True
except AttributeError:  # pragma: no cover - older jax
  from jax.experimental.shard_map import shard_map as _shard_map

  _NEW_API = False

AXIS = 'data'


def default_mesh() -> Mesh | None:
  """A 1-D mesh over every device of the run, or None when there is only one.

  `jax.devices()`: the local devices of a single process; under multi-process
  JAX (`jax.distributed`) the devices of every process, in the same order on
  each, so every process calling an estimator splits the draws over all.
  """
  devices = jax.devices()
  if len(devices) <= 1:
    return None
  return Mesh(np.asarray(devices), (AXIS,))


def resolve(mesh) -> Mesh | None:
  """The mesh to use: `mesh` itself, or `default_mesh()` when None.

  A mesh of a single device is treated as no mesh.

  Raises:
    ValueError: if `mesh` is neither None nor a `jax.sharding.Mesh`.
  """
  if mesh is None:
    mesh = default_mesh()
  if mesh is None:
    return None
  if not isinstance(mesh, Mesh):
    raise ValueError(f'mesh must be a jax.sharding.Mesh or None, got {type(mesh).__name__}.')
  return None if mesh.size == 1 else mesh


def num_shards(mesh: Mesh | None) -> int:
  return 1 if mesh is None else mesh.size


def replicate(tree, mesh: Mesh | None):
  """Places every array of `tree` on all devices of the mesh (no-op if None).

  Called on the inputs of a sharded computation: process-local arrays
  become global replicated ones, as jit over a multi-host mesh requires
  (every process must pass the same values: same key, same centres).
  """
  if mesh is None:
    return tree
  return jax.device_put(tree, NamedSharding(mesh, P()))


def map_shards(fn, mesh: Mesh | None, sharded, replicated=()):
  """fn(*sharded, *replicated) with the leading axis of `sharded` split.

  Must be called inside jit. Without a mesh it is just the call. With one,
  every array of `sharded` (a tuple of arrays whose leading axis is a
  multiple of the mesh size) is split over all mesh axes, every leaf of
  `replicated` is copied to all devices, and the outputs (a pytree of arrays
  whose leading axis indexes the local rows, or of per-shard statistics of
  leading size 1) are concatenated back in order. On a mesh spanning several
  processes the outputs are gathered to every device (module docstring), so
  that each process can read them.
  """
  if mesh is None:
    return fn(*sharded, *replicated)
  axes = tuple(mesh.axis_names)
  row = P(axes)
  in_specs = tuple(row for _ in sharded) + tuple(P() for _ in replicated)
  body, out_specs = fn, row
  if mesh.is_multi_process:
    body, out_specs = functools.partial(_gathered, fn, axes), P()
  if _NEW_API:
    mapped = _shard_map(body, mesh=mesh, in_specs=in_specs, out_specs=out_specs, check_vma=False)
  else:  # pragma: no cover
    mapped = _shard_map(body, mesh, in_specs=in_specs, out_specs=out_specs, check_rep=False)
  return mapped(*sharded, *replicated)


def _gathered(fn, axes, *args):
  """The outputs of `fn(*args)` on one shard, gathered over the mesh `axes`
  along their leading axis: every shard's rows, in order, on every device."""
  return jax.tree.map(lambda x: jax.lax.all_gather(x, axes, axis=0, tiled=True), fn(*args))


def bucket(count: int, minimum: int = 8) -> int:
  """The power of two >= count (and >= minimum): limits recompilations."""
  return max(minimum, 1 << max(0, math.ceil(math.log2(max(count, 1)))))
