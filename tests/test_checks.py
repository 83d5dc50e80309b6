"""Tests of infoflow.checks (the argument checks shared by every module) and
infoflow.scales (the scale of data against beta)."""

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from infoflow import checks
from infoflow import scales


def test_argument_type_error_is_both_kinds():
  assert issubclass(checks.ArgumentTypeError, TypeError)
  assert issubclass(checks.ArgumentTypeError, ValueError)


def test_is_concrete():
  assert checks.is_concrete(1.0, np.zeros(2), jnp.zeros(2))
  seen = []
  jax.jit(lambda x: seen.append(checks.is_concrete(1.0, x)) or x)(1.0)
  assert seen == [False]


@pytest.mark.parametrize(
  'value,expected', [(0.5, 0.5), (np.float32(2), 2.0), (jnp.asarray(3.0), 3.0), (4, 4.0)]
)
def test_positive_scalar_accepts(value, expected):
  assert checks.check_positive_scalar(value, 'beta') == expected


@pytest.mark.parametrize(
  'value,error,match',
  [
    (0.0, ValueError, r'beta must be a finite number > 0; got 0\.0'),
    (-1.0, ValueError, '> 0'),
    (math.nan, ValueError, 'nan'),
    (math.inf, ValueError, 'inf'),
    (np.ones(2), ValueError, 'scalar'),
    ('0.1', TypeError, "real number; got str '0.1'"),
    (None, TypeError, 'NoneType'),
    (True, TypeError, 'bool'),
    (1 + 1j, TypeError, 'complex'),
  ],
)
def test_positive_scalar_rejects(value, error, match):
  with pytest.raises(error, match=match):
    checks.check_positive_scalar(value, 'beta')


def test_positive_scalar_zero_allowed_and_traced():
  assert checks.check_positive_scalar(0, 'beta', allow_zero=True) == 0.0
  with pytest.raises(ValueError, match='>= 0'):
    checks.check_positive_scalar(-1, 'beta', allow_zero=True)
  # Traced values pass through unchecked (shape is still checked).
  out = jax.jit(lambda b: checks.check_positive_scalar(b, 'beta') * 2)(-1.0)
  assert float(out) == -2.0


def test_count():
  assert checks.check_count(np.int64(3), 'num_mc') == 3
  assert checks.check_count(0, 'refine', minimum=0) == 0
  with pytest.raises(
    ValueError,
    match=r'num_mc_conditional must be an '
    r'integer >= 2; got 1\.',
  ):
    checks.check_count(1, 'num_mc_conditional', minimum=2)
  for bad in (2.0, '4', True, None):
    with pytest.raises(TypeError, match='query_chunk'):
      checks.check_count(bad, 'query_chunk')


def test_key():
  key, raw = jax.random.key(0), jax.random.PRNGKey(0)
  assert checks.check_key(key) is key  # returned unchanged
  assert checks.check_key(raw) is raw
  for bad in (0, np.zeros(3, np.uint32), jax.random.split(jax.random.key(0))):
    with pytest.raises(TypeError, match='rng must be one JAX PRNG key'):
      checks.check_key(bad, 'rng')
  jax.jit(lambda k: (checks.check_key(k), 0)[1])(jax.random.key(1))


def test_float_array_rank_empty_finite():
  with pytest.raises(
    ValueError,
    match=r'x must have shape \(n, d\) '
    r'\(rank 2\); got shape \(3,\)',
  ):
    checks.check_float_array(np.zeros(3), 'x', rank=2)
  with pytest.raises(ValueError, match=r'>= 2 dims'):
    checks.check_float_array(np.zeros(3), 'x', min_rank=2)
  with pytest.raises(ValueError, match='non-empty'):
    checks.check_float_array(np.zeros((0, 2)), 'x')
  assert checks.check_float_array(np.zeros((0, 2)), 'x', allow_empty=True).shape == (0, 2)
  bad = np.array([[np.nan, 1.0], [np.inf, -np.inf]])
  with pytest.raises(ValueError, match='x has 3 non-finite'):
    checks.check_float_array(bad, 'x')
  with pytest.raises(ValueError, match='non-finite'):
    checks.check_float_array(jnp.asarray(bad), 'x')
  with pytest.raises(ValueError, match='rectangular'):
    checks.check_float_array([[1.0, 2.0], [3.0]], 'x')


def test_float_array_dtypes():
  host = checks.check_float_array(np.arange(4).reshape(2, 2), 'x')
  assert isinstance(host, np.ndarray) and host.dtype == np.float32
  dev = checks.check_float_array(jnp.ones((2, 2), jnp.int32), 'x')
  assert isinstance(dev, jax.Array) and dev.dtype == jnp.float32
  assert checks.check_float_array([[True]], 'x').dtype == np.float32
  forced = checks.check_float_array(np.ones((2, 2)), 'x', dtype=np.float32)
  assert forced.dtype == np.float32
  for low in (np.float16, jnp.bfloat16):
    with pytest.warns(UserWarning, match='x has dtype .*float32'):
      out = checks.check_float_array(jnp.ones((2, 2), low), 'x')
    assert out.dtype == jnp.float32
  with pytest.raises(TypeError, match='x must be real; got complex'):
    checks.check_float_array(np.ones((2, 2)) + 1j, 'x')
  with pytest.raises(TypeError, match='real numeric'):
    checks.check_float_array([['a', 'b']], 'x')
  # float64 that overflows float32 is non-finite once cast.
  with pytest.raises(ValueError, match='non-finite'):
    checks.check_float_array(np.full((1, 1), 1e300), 'x')


def test_labels():
  y, k = checks.check_labels([0, 2, 1], 'labels', num_rows=3)
  assert k == 3 and y.dtype == np.int32
  y, k = checks.check_labels(jnp.asarray([True, False]), 'y', num_rows=2, num_classes=2)
  assert isinstance(y, jax.Array) and y.dtype == jnp.int32
  with pytest.raises(
    ValueError,
    match=r'y_train must have shape \(4,\), one '
    r'label per row of x_train; got shape \(3,\) \(length 3',
  ):
    checks.check_labels([0, 1, 0], 'y_train', num_rows=4, rows_name='x_train')
  with pytest.raises(
    ValueError,
    match=r'must lie in \[0, 2\); got values in '
    r'\[-1, 1\]',
  ):
    checks.check_labels([0, -1, 1], 'labels', num_rows=3, num_classes=2)
  with pytest.raises(ValueError, match='integer class indices'):
    checks.check_labels([0.0, 1.0], 'labels', num_rows=2)
  with pytest.raises(ValueError, match='num_classes must be an integer >= 1'):
    checks.check_labels([0, 1], 'labels', num_rows=2, num_classes=0)
  assert checks.check_labels(np.zeros(0, int), 'y', num_rows=0, num_classes=2)[1] == 2


def test_beta_range():
  c = np.ones((4, 3), np.float32)
  assert scales.check_beta_range(c, 1.0) == pytest.approx(math.sqrt(3))
  with pytest.raises(
    ValueError,
    match=r'beta = 1e-40 is outside the range '
    r'of centers dtype float32',
  ):
    scales.check_beta_range(np.zeros((2, 2), np.float32), 1e-40)
  with pytest.raises(ValueError, match='too large for beta'):
    scales.check_beta_range(np.full((2, 2), 1e30, np.float32), 1e-9)
  # Norms are computed without overflow: 3e38 rows are in range for big beta.
  big = np.full((2, 4), 3e38, np.float32)
  assert scales.check_beta_range(big, 1e30) == pytest.approx(6e8, rel=1e-5)
  assert jax.jit(lambda b: (scales.check_beta_range(c, b), 0)[0])(-1.0) is None


def test_beta_resolves_threshold_is_the_derived_one():
  c = np.zeros((2, 3), np.float32)
  c[0] = [3.0, 4.0, 0.0]  # max norm 5
  beta_min = 2.0**-24 * 5.0 / math.sqrt(2e-3)
  assert scales.smallest_resolved_beta(5.0, np.float32) == pytest.approx(beta_min)
  assert scales.check_beta_resolves(c, 1.01 * beta_min) == pytest.approx(
    5.0 / (1.01 * beta_min), rel=1e-6
  )
  with pytest.raises(
    ValueError,
    match=r'smallest beta this dtype resolves '
    r'is 6\.66e-06',
  ):
    scales.check_beta_resolves(c, 0.99 * beta_min)
  with pytest.raises(ValueError, match='jax_enable_x64'):
    scales.check_beta_resolves(c, 1e-9, rounding_tolerance=0.1)
  # A larger bias budget lowers the limit (capped at 0.5 nats).
  scales.check_beta_resolves(c, 0.5 * beta_min, rounding_tolerance=4e-3)
  assert scales.smallest_resolved_beta(1.0, np.float32, 10.0) == (
    scales.smallest_resolved_beta(1.0, np.float32, 0.5)
  )
  # Zero centres resolve any representable beta.
  scales.check_beta_resolves(np.zeros((2, 2), np.float32), 1e-30)


def test_power_of_two_scale():
  for value in (1e-30, 0.3, 1.0, 7.9, 1e30):
    scale = scales.power_of_two_scale(value)
    assert math.log2(scale).is_integer() and 1 <= value / scale < 2
  assert scales.power_of_two_scale(3e38, np.float32) == 2.0**126
  assert scales.power_of_two_scale(1e-300, np.float32) == 2.0**-126


def test_pad_to_multiple():
  x = jnp.arange(6.0).reshape(3, 2)
  assert checks.pad_to_multiple(x, 3) is x
  repeated = checks.pad_to_multiple(x, 4)
  np.testing.assert_array_equal(repeated[3], x[0])
  filled = checks.pad_to_multiple(x, 5, fill=-1.0)
  assert filled.shape == (5, 2) and float(filled[4, 1]) == -1.0
  mask = checks.pad_to_multiple(jnp.ones(3, bool), 4, fill=False)
  assert mask.tolist() == [True, True, True, False]


def test_no_warning_for_float32():
  with warnings.catch_warnings():
    warnings.simplefilter('error')
    checks.check_float_array(np.ones((2, 2), np.float32), 'x')


# ------------------------------------------------------------ issue 22


def test_labels_beyond_int32_raise_before_the_cast():
  # Issue 22 row 7: int64 labels holding 2**32 were cast to int32, so 2**32
  # became class 0 (a wrong I(T;Y), no error).
  for big in (2**31, 2**32, 2**40):
    with pytest.raises(ValueError, match=f'labels must be class indices <= 2147483647.*{big}'):
      checks.check_labels(np.array([0, big], np.int64), 'labels', num_rows=2)
  with pytest.raises(ValueError, match='labels must be class indices <= 2147483647'):
    checks.check_labels(np.array([1, 2**63], np.uint64), 'labels', num_rows=2)
  with pytest.raises(ValueError, match='labels must be class indices'):
    checks.check_labels(np.array([0, 2**32]), 'labels', num_rows=2, num_classes=2**33)
  y, k = checks.check_labels(np.array([0, 2**31 - 1], np.int64), 'labels', num_rows=2)
  assert k == 2**31 and y.dtype == np.int32 and int(y[1]) == 2**31 - 1
  # Negative labels name the labels, also without num_classes.
  with pytest.raises(
    ValueError, match=r'labels must lie in \[0, num_classes\); got values in \[-3, -1\]'
  ):
    checks.check_labels(np.array([-1, -3]), 'labels', num_rows=2)


def test_compact_labels_keeps_full_labels_and_renumbers_sparse_ones():
  # Issue 22 row 14: the classes present, at most one per row, whatever num_classes.
  full = np.array([1, 0, 1], np.int32)
  assert checks.compact_labels(full, 2) == (full, 2)
  assert checks.compact_labels(full, 2)[0] is full  # the same array: the same computation
  y, k = checks.compact_labels(np.array([7, 10**7, 7], np.int32), 10**9)
  assert k == 2 and y.dtype == np.int32 and y.tolist() == [0, 1, 0]
  y, k = checks.partition_labels(
    jnp.asarray([5, 2, 5]), 'labels', num_rows=3, num_classes=None, rows_name='x'
  )
  assert isinstance(y, jax.Array) and k == 2 and y.tolist() == [1, 0, 1]


def test_check_concrete_names_the_function():
  checks.check_concrete('f', np.ones(2), 0.3)
  with pytest.raises(ValueError, match='f needs concrete inputs: call it outside jax.jit'):
    jax.jit(lambda x: checks.check_concrete('f', x))(1.0)
