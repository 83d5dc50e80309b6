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

The scale of data against the noise std beta (what a floating dtype can
resolve) is its own concept: `infoflow.scales`.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

__all__ = (
  'ArgumentTypeError',
  'check_concrete',
  'check_count',
  'check_float_array',
  'check_key',
  'check_label_fits',
  'check_labels',
  'check_positive_scalar',
  'compact_labels',
  'is_concrete',
  'pad_to_multiple',
  'partition_labels',
)


# The largest class label: labels are computed on as int32.
MAX_LABEL = int(np.iinfo(np.int32).max)


class ArgumentTypeError(TypeError, ValueError):
  """An argument of the wrong type (also a ValueError, for old callers)."""


def is_concrete(*values) -> bool:
  """True when no value is a jit tracer (so its contents can be read)."""
  return not any(isinstance(v, jax.core.Tracer) for v in values)


def check_concrete(name: str, *values) -> None:
  """ValueError unless no value is traced: for functions whose host-side
  loops read values (adaptive draws, labels, replica checks), which cannot
  run inside `jax.jit` or `jax.vmap`. `name` is the function's public name.
  """
  if not is_concrete(*values):
    raise ValueError(
      f'{name} needs concrete inputs: call it outside jax.jit / jax.vmap (it jits its own work).'
    )


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

  Labels are computed on as int32: a concrete label above MAX_LABEL
  (2^31 - 1) raises before any cast (a cast would wrap it, e.g. 2^32 to 0).

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
    ValueError: wrong shape or dtype, or labels out of range (negative, at
      least num_classes, or above MAX_LABEL).
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
  lo = hi = 0
  if concrete and labels.size:
    lo, hi = int(labels.min()), int(labels.max())
    check_label_fits(hi, name)
    if lo < 0:
      bound = classes_name if num_classes is None else num_classes
      raise ValueError(f'{name} must lie in [0, {bound}); got values in [{lo}, {hi}].')
  if num_classes is None:
    if not concrete:
      raise ValueError(f'{classes_name} is required when {name} are traced.')
    num_classes = hi + 1
  num_classes = check_count(num_classes, classes_name)
  if hi >= num_classes:  # (lo = hi = 0 for traced or empty labels)
    raise ValueError(f'{name} must lie in [0, {num_classes}); got values in [{lo}, {hi}].')
  labels = labels.astype(jnp.int32) if is_jax else labels.astype(np.int32, copy=False)
  return labels, num_classes


def check_label_fits(largest: int, name: str) -> None:
  """ValueError unless the largest label `largest` of `name` is at most
  MAX_LABEL: labels are computed on as int32, and a cast would wrap a
  larger one (2^32 to 0) into a wrong class."""
  if largest > MAX_LABEL:
    raise ValueError(
      f'{name} must be class indices <= {MAX_LABEL} (they are computed on as int32); '
      f'got a label of {largest}. Number the classes 0, 1, ..., e.g. with '
      'np.unique(labels, return_inverse=True)[1].'
    )


def label_array(labels, num_rows: int, num_classes=None):
  """`check_labels` of an argument named 'labels', as a device array:
  ((num_rows,) int32 jax.Array, num_classes)."""
  labels, num_classes = check_labels(labels, 'labels', num_rows=num_rows, num_classes=num_classes)
  return jnp.asarray(labels), num_classes


def compact_labels(labels, num_classes: int):
  """Checked labels renumbered to the classes present: (labels, count).

  For what depends only on the partition of the rows into classes (I(T;Y),
  class similarities, scatter ratios): absent classes contribute nothing,
  so per-class arrays need only the classes present, at most one per row,
  whatever num_classes is. Labels that use every class of [0, num_classes)
  come back unchanged (the same array, so the same computation); traced
  labels too.

  Args:
    labels: (m,) int32 labels from `check_labels` (NumPy or jax.Array).
    num_classes: their checked number of classes.

  Returns:
    (labels of the same kind, the number of classes they use).
  """
  if not is_concrete(labels) or labels.size == 0:
    return labels, num_classes
  present, inverse = np.unique(np.asarray(labels), return_inverse=True)
  if present.size == num_classes:
    return labels, num_classes
  inverse = inverse.reshape(labels.shape).astype(np.int32)
  return (jnp.asarray(inverse) if isinstance(labels, jax.Array) else inverse), int(present.size)


def partition_labels(labels, name: str, *, num_rows: int, num_classes=None, rows_name: str):
  """`check_labels`, then `compact_labels`: for what depends only on the
  partition of the rows into classes. Returns (labels, classes present)."""
  return compact_labels(
    *check_labels(labels, name, num_rows=num_rows, num_classes=num_classes, rows_name=rows_name)
  )


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
