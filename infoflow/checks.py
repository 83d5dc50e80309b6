"""Argument checks shared by every public function of infoflow.

Each check raises at the Python boundary, before any jitted work, with a
message that names the argument as the caller spelled it (the `name`
argument: pass the public name, e.g. 'num_mc_conditional'), says what is
expected and what was given. Bad values raise ValueError; values of the wrong
type (a string for a number, an int for a PRNG key, complex centres) raise
`ArgumentTypeError`, which is both a TypeError and a ValueError so that
either `except` clause catches it.

Traced values (inside jit) cannot be inspected: checks of values are skipped
for them (`is_concrete`), checks of shapes and dtypes still run.

Floating dtypes. Arrays are computed on in float32 or float64. float16 and
bfloat16 inputs are upcast to float32 with a UserWarning (their 3-4
significant digits resolve no noise below ~1e-3 of the data scale); integer
and bool inputs become the default float dtype; complex, string and object
inputs are rejected.

Scale. `check_beta_range` and `check_beta_resolves` bound the ratio of the
data's magnitude to the noise std beta that a floating dtype can represent;
their docstrings derive the limits.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

# Default bias budget, in nats, of the rounding of Monte Carlo draws (the
# estimators' default `rounding_tolerance`); see `check_beta_resolves`.
RESOLUTION_TOLERANCE = 1e-3
_X64_HINT = (
  "use float64 centres with jax.config.update('jax_enable_x64', True), or rescale the data"
)


class ArgumentTypeError(TypeError, ValueError):
  """An argument of the wrong type (also a ValueError, for old callers)."""


def is_concrete(*values) -> bool:
  """True when no value is a jit tracer (so its contents can be read)."""
  return not any(isinstance(v, jax.core.Tracer) for v in values)


def _describe(value) -> str:
  if hasattr(value, 'shape') and hasattr(value, 'dtype'):
    return f'{type(value).__name__} of dtype {value.dtype}, shape {value.shape}'
  text = repr(value)
  return f'{type(value).__name__} {text[:60]}'


def check_positive_scalar(value, name: str, *, allow_zero: bool = False):
  """A finite real scalar > 0 (>= 0 with allow_zero), as a Python float.

  For beta, target_stderr, tolerances, bin sizes. A traced value is
  returned unchanged (its shape is still checked).

  Raises:
    ArgumentTypeError: not a real number (a string, complex, bool, None).
    ValueError: not a scalar, not finite, or out of range.
  """
  if isinstance(value, (bool, np.bool_, str, bytes)) or value is None:
    raise ArgumentTypeError(f'{name} must be a real number; got {_describe(value)}.')
  if not is_concrete(value):
    if np.ndim(value) != 0:
      raise ValueError(f'{name} must be a scalar; got shape {value.shape}.')
    return value
  try:
    arr = np.asarray(value)
  except Exception as e:  # pylint: disable=broad-except
    raise ArgumentTypeError(f'{name} must be a real number; got {_describe(value)}.') from e
  if arr.dtype.kind not in 'iuf':
    raise ArgumentTypeError(f'{name} must be a real number; got {_describe(value)}.')
  if arr.ndim != 0:
    raise ValueError(f'{name} must be a scalar; got shape {arr.shape}.')
  v = float(arr)
  if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
    bound = '>= 0' if allow_zero else '> 0'
    raise ValueError(f'{name} must be a finite number {bound}; got {v!r}.')
  return v


def check_count(value, name: str, *, minimum: int = 1) -> int:
  """An integer >= minimum (draw counts, chunk sizes, class counts).

  Raises:
    ArgumentTypeError: not an integer (floats such as 2.0 and bools too).
    ValueError: below `minimum`.
  """
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
    raise ArgumentTypeError(f'{name} must be an integer >= {minimum}; got {_describe(value)}.')
  if value < minimum:
    raise ValueError(f'{name} must be an integer >= {minimum}; got {value}.')
  return int(value)


def check_key(key, name: str = 'key'):
  """A single JAX PRNG key: `jax.random.key(s)` or a raw `PRNGKey(s)`.

  Raises:
    ArgumentTypeError: anything else (e.g. an int seed, a batch of keys).
  """
  dtype = getattr(key, 'dtype', None)
  shape = getattr(key, 'shape', None)
  if dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key):
    if shape == ():
      return key
  elif dtype == np.uint32 and shape in ((2,), (4,)):
    return key
  raise ArgumentTypeError(
    f'{name} must be one JAX PRNG key, e.g. jax.random.key(0); got {_describe(key)}.'
  )


def _float_dtype(dtype, name: str, target):
  """The dtype an array of `dtype` is computed in (module docstring)."""
  dtype = np.dtype(dtype)
  if dtype.kind == 'c':
    raise ArgumentTypeError(
      f'{name} must be real; got complex dtype {dtype}'
      ' (pass the real part, or split real and '
      'imaginary parts into features).'
    )
  if dtype.kind not in 'biuf' and dtype != jnp.bfloat16:
    raise ArgumentTypeError(f'{name} must be a real numeric array; got dtype {dtype}.')
  if target is not None:
    return jax.dtypes.canonicalize_dtype(target)
  if dtype.kind in 'biu':
    return jax.dtypes.canonicalize_dtype(jnp.result_type(float))
  if dtype.itemsize < 4:  # float16, bfloat16
    warnings.warn(f'{name} has dtype {dtype}; computing in float32.', UserWarning, stacklevel=4)
    return np.dtype(np.float32)
  return jax.dtypes.canonicalize_dtype(dtype)


def check_float_array(
  x,
  name: str,
  *,
  rank: int | None = None,
  min_rank: int | None = None,
  shape: str = '(n, d)',
  dtype=None,
  allow_empty: bool = False,
):
  """A finite real array in float32 or float64 (see the module docstring).

  A `jax.Array` (or tracer) comes back as a jax.Array, anything else as a
  NumPy array (host data stays on the host).

  Args:
    x: the array (or nested lists).
    name: the caller's argument name.
    rank: the exact rank required, or None.
    min_rank: the least rank required, or None.
    shape: the expected shape as text for messages, e.g. '(m, R, d)'.
    dtype: cast to this floating dtype (no warning) instead of the rule.
    allow_empty: accept a zero-sized axis.

  Raises:
    ArgumentTypeError: complex, string or object data.
    ValueError: a wrong rank, empty, or NaN / inf entries (concrete only).
  """
  is_jax = isinstance(x, jax.Array)
  if not is_jax:
    try:
      x = np.asarray(x)
    except (ValueError, TypeError) as e:
      raise ValueError(
        f'{name} must be a rectangular array {shape}; got {type(x).__name__} ({e}).'
      ) from e
  target = _float_dtype(x.dtype, name, dtype)
  if rank is not None and x.ndim != rank:
    raise ValueError(f'{name} must have shape {shape} (rank {rank}); got shape {x.shape}.')
  if min_rank is not None and x.ndim < min_rank:
    raise ValueError(
      f'{name} must have shape {shape} with >= {min_rank} dims; got shape {x.shape}.'
    )
  if not allow_empty and 0 in x.shape:
    raise ValueError(f'{name} must be non-empty; got shape {x.shape}.')
  with np.errstate(over='ignore'):  # overflow to inf is reported below
    x = x.astype(target) if is_jax else x.astype(target, copy=False)
  if is_concrete(x):
    finite = jnp.isfinite(x) if is_jax else np.isfinite(x)
    bad = int(x.size - int(finite.sum()))
    if bad:
      raise ValueError(
        f'{name} has {bad} non-finite (NaN or inf) values; all entries must be finite.'
      )
  return x


def check_labels(
  labels,
  name: str,
  *,
  num_rows: int,
  num_classes=None,
  rows_name: str = 'representations',
  classes_name: str = 'num_classes',
):
  """Integer class labels of shape (num_rows,) in [0, num_classes).

  Args:
    labels: the labels (bool is read as 0/1).
    name: the caller's argument name.
    num_rows: the required length (rows of `rows_name`).
    num_classes: the number of classes; None infers max + 1 (concrete only).
    rows_name, classes_name: argument names for messages.

  Returns:
    (labels as int32, num_classes as int); a jax.Array stays one, anything
    else becomes NumPy.

  Raises:
    ValueError: wrong shape or dtype, or labels out of range.
  """
  is_jax = isinstance(labels, jax.Array)
  if not is_jax:
    labels = np.asarray(labels)
  if labels.dtype.kind not in 'biu':
    raise ValueError(
      f'{name} must hold integer class indices (integers in '
      f'[0, {classes_name})); got dtype {labels.dtype}.'
    )
  if labels.shape != (num_rows,):
    raise ValueError(
      f'{name} must have shape ({num_rows},), one label per '
      f'row of {rows_name}; got shape {labels.shape} (length '
      f'{labels.shape[0] if labels.ndim else "-"}).'
    )
  concrete = is_concrete(labels)
  if num_classes is None:
    if not concrete:
      raise ValueError(f'{classes_name} is required when {name} are traced.')
    num_classes = int(labels.max()) + 1 if labels.size else 1
  num_classes = check_count(num_classes, classes_name)
  if concrete and labels.size:
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= num_classes:
      raise ValueError(f'{name} must lie in [0, {num_classes}); got values in [{lo}, {hi}].')
  labels = labels.astype(jnp.int32) if is_jax else labels.astype(np.int32, copy=False)
  return labels, num_classes


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
  if not is_concrete(points, beta):
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


def pad_to_multiple(x, multiple: int, *, fill=None):
  """Pads the leading axis of `x` to a multiple of `multiple`.

  Args:
    x: array with leading size n (n >= 1 when fill is None).
    multiple: the block size.
    fill: None repeats the first row (every padded row stays a valid input
      of the kernels; callers drop the padded outputs); else a constant.

  Returns:
    `x` itself when n is already a multiple, else the padded jax.Array.
  """
  n = x.shape[0]
  padded = -(-n // multiple) * multiple
  if padded == n:
    return x
  tail_shape = (padded - n,) + x.shape[1:]
  if fill is None:
    tail = jnp.broadcast_to(x[:1], tail_shape)
  else:
    tail = jnp.full(tail_shape, fill, x.dtype)
  return jnp.concatenate([x, tail], axis=0)
