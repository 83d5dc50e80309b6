"""Per-draw posterior entropies from per-input kernel sums (the kernels).

For a draw t and the grouped centres s_{x,r} (m inputs x, R replicas r), the
per-input log-masses

    L_x(t) = log sum_r exp(shift(t) - ||t - s_{x,r}||^2 / (2 beta^2))

give everything the posterior form of `infoflow.estimators.posterior` needs:

    log sum_x e^{L_x}                      (log g(t) up to constants)
    H(X | T=t) = -sum_x p_x log p_x,       p_x = e^{L_x} / sum_x' e^{L_x'}
    H(Y | T=t) = -sum_y P_y log P_y,       P_y = sum_{x: label y} p_x.

They are accumulated over chunks of inputs in one streaming pass, in
coordinates relative to the running maximum M (no cancellation):

    S = sum_x e^{L_x - M},   W = sum_x e^{L_x - M} (L_x - M) <= 0,
    C_y = sum_{x: label y} e^{L_x - M},

so that log sum_x e^{L_x} = M + log S, H(X | T=t) = log S - W / S (a sum of
two non-negative terms) and P_y = C_y / S. A new chunk with a larger maximum
M' rescales S, C by e^{M - M'} and W by e^{M - M'} (W + (M - M') S).

Two evaluations use this: `dense_block` sums every chunk of inputs that can
matter for a block of draws (a scan over chunks, exponents by
`infoflow.estimators.dense.block_exponents`; far chunks bounded, `far_chunks`),
and `candidate_block` sums the top-K candidate inputs of the pruned
evaluation exactly and bounds the mass of all others (as
`infoflow.estimators.pruned` does for log g). Shapes: queries (b, d); grouped
centres (m, R, d); one-hot labels (m, C). Values in nats.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from infoflow.estimators import dense as dense_lib
from infoflow.estimators import groups as groups_lib
from infoflow.estimators import pruned as pruned_lib


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
  `groups.safety`)."""
  m, r, dim = centers.shape
  flat = centers.reshape(m // group_chunk, group_chunk * r, dim)
  ok = valid.reshape(m // group_chunk, group_chunk * r)
  counts = jnp.sum(ok, axis=1).astype(centers.dtype)
  centroids = jnp.sum(jnp.where(ok[..., None], flat, 0), axis=1) / counts[:, None]
  diff = flat - centroids[:, None, :]
  radii = jnp.sqrt(jnp.max(jnp.where(ok, jnp.sum(diff * diff, axis=-1), 0), axis=1))
  return centroids, radii * (1 + groups_lib.safety(dim, centers.dtype)), jnp.log(counts)


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
  slack = groups_lib.safety(q.shape[1], q.dtype)
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
      exps = dense_lib.block_exponents(q, c, anchor, inv_two_var, shift, floor, v, tolerance)
      log_mass = jax.nn.logsumexp(exps.reshape(-1, group_chunk, r), axis=-1)
      return accumulate(acc, log_mass, oh)

    return jax.lax.cond(skipped, lambda: acc, add), None

  acc, _ = jax.lax.scan(step, empty(q.shape[0], onehot.shape[1], q.dtype), chunks)
  log_sum, h_x, h_y = finish(acc)
  log_far = jax.nn.logsumexp(jnp.where(far[None], log_bound, -jnp.inf), axis=1)
  return log_sum, h_x, h_y, pruned_lib.certified_error(log_sum, log_far)


def candidate_block(q, home, shift, groups: groups_lib.Groups, onehot, inv_two_var, k):
  """Posterior sums over the top-k candidate inputs, and the tail bound.

  The candidates are chosen and the other inputs bounded by
  `infoflow.estimators.pruned.candidate_exponents` (centroid bounds of the
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
  cand, exps, log_tail = pruned_lib.candidate_exponents(q, home, shift, groups, inv_two_var, k)
  acc = accumulate(
    empty(q.shape[0], onehot.shape[1], q.dtype), jax.nn.logsumexp(exps, axis=-1), onehot[cand]
  )
  log_exact, h_x, h_y = finish(acc)
  return log_exact, h_x, h_y, pruned_lib.certified_error(log_exact, log_tail)


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
