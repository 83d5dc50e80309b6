"""The scale of data against the noise std beta, in floating point.

`check_beta_range` and `check_beta_resolves` bound the ratio of the data's
magnitude to beta that a floating dtype can represent (their docstrings
derive the limits); `rescale_to_beta` divides by an exact power of two when
the ratio leaves the range where squared distances stay finite unscaled.
Traced values (inside jit) cannot be inspected (`checks.is_concrete`): the
checks return None for them.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from infoflow import checks

# Default bias budget, in nats, of the rounding of Monte Carlo draws (the
# estimators' default `rounding_tolerance`); see `check_beta_resolves`.
RESOLUTION_TOLERANCE = 1e-3
_X64_HINT = (
  "use float64 centres with jax.config.update('jax_enable_x64', True), or rescale the data"
)


@jax.jit
def _max_sq_norm(x, first, second):
  scaled = (x * first) * second  # two normal powers of two: exact
  return jnp.max(jnp.sum(scaled * scaled, axis=-1))


def max_row_norm(x) -> float:
  """max_i ||x_i|| over the last axis, as a Python float (no overflow).

  The rows are scaled by 2^-e (max |x| < 2^e) in two exact steps, so that
  neither the squares overflow nor a factor falls below the normal range.
  """
  x = jnp.asarray(x)
  peak = float(jnp.max(jnp.abs(x)))
  if peak == 0:
    return 0.0
  exponent = math.frexp(peak)[1]
  half = exponent // 2
  sq = float(_max_sq_norm(x, 2.0**-half, 2.0 ** (half - exponent)))
  return math.ldexp(math.sqrt(sq), exponent)


def _norm_ratio(points, beta, name, points_name):
  """max ||x_i|| / beta after checking beta is a normal number of the dtype."""
  if not checks.is_concrete(points, beta):
    return None
  info = jnp.finfo(points.dtype)
  beta = float(beta)
  if not float(info.tiny) <= beta <= float(info.max):
    raise ValueError(
      f'{name} = {beta:.3g} is outside the range of '
      f'{points_name} dtype {info.dtype} '
      f'[{float(info.tiny):.3g}, {float(info.max):.3g}]; '
      f'{_X64_HINT}.'
    )
  return max_row_norm(points) / beta


def check_beta_range(
  points, beta, name: str = 'beta', *, points_name: str = 'centers'
) -> float | None:
  """beta and the scale of `points` fit the dtype of `points`; their ratio.

  Squared distances are formed after rescaling by a power of two p with
  beta / p in [1, 2) (exact). The anchored expansion then sums terms of up
  to 16 (C / p)^2, C = max_i ||x_i||, so everything stays finite when
  C / beta <= sqrt(max) / 8 (max: the dtype's largest number; 2.3e18 for
  float32, 1.7e153 for float64). beta must also be a normal number of the
  dtype (>= its smallest normal, 1.2e-38 for float32), or it rounds to 0.

  Returns:
    C / beta, or None for traced inputs (nothing checked).

  Raises:
    ValueError: naming `name` and the supported range.
  """
  ratio = _norm_ratio(points, beta, name, points_name)
  if ratio is None:
    return None
  info = jnp.finfo(points.dtype)
  limit = math.sqrt(float(info.max)) / 8
  if ratio > limit:
    raise ValueError(
      f'{points_name} are too large for {name} = {beta:.3g} '
      f'in {info.dtype}: max row norm / {name} = {ratio:.3g} '
      f'> {limit:.3g}; {_X64_HINT}.'
    )
  return ratio


def smallest_resolved_beta(
  max_norm: float, dtype, rounding_tolerance: float = RESOLUTION_TOLERANCE
) -> float:
  """u C / sqrt(2 min(rounding_tolerance, 0.5)): see `check_beta_resolves`."""
  unit_roundoff = float(jnp.finfo(dtype).eps) / 2
  return unit_roundoff * max_norm / math.sqrt(2 * min(rounding_tolerance, 0.5))


def check_beta_resolves(
  centers,
  beta,
  name: str = 'beta',
  *,
  centers_name: str = 'centers',
  rounding_tolerance: float = RESOLUTION_TOLERANCE,
) -> float | None:
  """Monte Carlo draws y = c + beta z keep beta z after rounding.

  Derivation. In floating point with unit roundoff u (2^-24 for float32,
  2^-53 for float64), fl(c_k + beta z_k) = (c_k + beta z_k)(1 + t_k) with
  |t_k| <= u, so the draw is off by delta, |delta_k| <= u (|c_k| +
  beta |z_k|). The entropy integrand's own-centre exponent
  (||y - c||^2 - beta^2 ||z||^2) / (2 beta^2) then moves by

      z . delta / beta + ||delta||^2 / (2 beta^2).

  The first term is a rounding residue uncorrelated with z (mean ~0): it
  adds variance, which the standard error reports. The second is a bias
  (the estimate comes out low), at most (u C / beta)^2 / 2 + O(u^2 d) with
  C = max_i ||c_i||; once beta |z| falls below ulp(c), y rounds to c and
  the bias saturates at d/2 nats. Asking for a bias <= rounding_tolerance (capped at
  0.5 nats, which also keeps C / beta <= 1 / u, far from overflow) gives

      beta >= beta_min = u C / sqrt(2 rounding_tolerance),

  ~1.3e-6 C for float32 and 2.5e-15 C for float64 at rounding_tolerance 1e-3 (e.g.
  beta >= 5.3e-6 for float32 centres of norm ~4). Only the draws need this:
  densities at given points (and the pairwise bounds) subtract directly and
  need `check_beta_range` only, which this bound implies.

  Returns:
    C / beta, or None for traced inputs (nothing checked).

  Raises:
    ValueError: stating beta_min and how to lower it.
  """
  # The bound below is far stricter than `check_beta_range`'s, so it
  # implies it.
  ratio = _norm_ratio(centers, beta, name, centers_name)
  if ratio is None:
    return None
  beta = float(beta)
  dtype = jnp.finfo(centers.dtype).dtype
  beta_min = smallest_resolved_beta(ratio * beta, dtype, rounding_tolerance)
  if beta < beta_min:
    raise ValueError(
      f'{name} = {beta:.3g} is too small for {centers_name} of norm up to '
      f'{ratio * beta:.3g} in {dtype}: a draw c + {name} z rounds '
      f'{name} z away (bias up to d/2 nats). The smallest {name} this '
      f'dtype resolves is {beta_min:.3g} ({name} / max norm >= '
      f'{beta_min / (ratio * beta):.2g}); {_X64_HINT} (centre it: only '
      f'the distance from the origin counts).'
    )
  return ratio


def power_of_two_scale(value: float, dtype=None) -> float:
  """2^floor(log2 value): dividing by it is exact, leaving [1, 2).

  With a dtype, the exponent is clamped so that the scale and its
  reciprocal are normal numbers of it (XLA may divide by multiplying with
  the reciprocal, and flushes subnormals to zero); value / scale is then in
  [1, 4) for any normal value.
  """
  exponent = math.floor(math.log2(value))
  if dtype is not None:
    info = jnp.finfo(dtype)
    exponent = min(max(exponent, int(info.minexp)), int(info.maxexp) - 2)
  return 2.0**exponent


def rescale_to_beta(ratio, beta, *arrays):
  """Divides arrays and beta by p ~ beta, a power of two, when needed (exact).

  h(c / p, beta / p) = h(c, beta) - d log p, so the caller adds d log p.
  Needed when beta or max ||c|| / beta (`ratio`) leave the range where
  squared distances stay finite unscaled; p = 1 (no copy) otherwise and
  for traced inputs.

  Returns:
    (beta / p, arrays / p, log p).
  """
  if ratio is None or (2.0**-20 <= float(beta) <= 2.0**20 and ratio <= 2.0**30):
    return beta, arrays, 0.0
  scale = power_of_two_scale(float(beta), arrays[0].dtype)
  return (float(beta) / scale, tuple(a / scale for a in arrays), math.log(scale))
