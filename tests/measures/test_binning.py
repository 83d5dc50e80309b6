"""Tests of infoflow.measures.binning against hand-computed values and numpy references."""

import math

import numpy as np
import pytest
from sklearn.metrics import mutual_info_score

from infoflow import units
from infoflow.measures.binning import BinnedInformation
from infoflow.measures.binning import bin_edges_uniform
from infoflow.measures.binning import binned_entropy
from infoflow.measures.binning import binned_information
from infoflow.measures.binning import binned_information_all
from infoflow.measures.binning import symbol_ids
from infoflow.measures.binning import szt_bin_edges


def _entropy(p):
  p = np.asarray(p, dtype=np.float64)
  p = p[p > 0] / p.sum()
  return float(-(p * np.log(p)).sum())


def _ref_entropy(keys):
  _, counts = np.unique(np.asarray(keys), axis=0, return_counts=True)
  return _entropy(counts)


def test_hand_example_three_bins():
  # floor(t / 1): bins 0, 1, 1, 2 -> p = (1/4, 1/2, 1/4) -> 1.5 bits.
  t = np.array([[0.1], [1.1], [1.9], [2.5]])
  h = binned_entropy(t, bin_size=1.0)
  np.testing.assert_allclose(h * units.BITS_PER_NAT, 1.5, rtol=1e-6)


def test_one_bin_and_all_distinct():
  t = np.random.default_rng(0).uniform(0.0, 0.99, size=(50, 3))
  assert float(binned_entropy(t, bin_size=1.0)) == 0.0
  distinct = np.arange(64, dtype=np.float32)[:, None] * np.ones((1, 2))
  np.testing.assert_allclose(binned_entropy(distinct, bin_size=0.5), math.log(64), rtol=1e-6)


def test_negative_values_and_signed_zero():
  # floor(-0.5) = -1 and floor(0.5) = 0 are different bins; -0.0 and 0.0 are one.
  np.testing.assert_allclose(
    binned_entropy(np.array([[-0.5], [0.5]]), bin_size=1.0), math.log(2), rtol=1e-6
  )
  assert float(binned_entropy(np.array([[-0.0], [0.0]]), bin_size=1.0)) == 0.0


def test_mutual_information_hand_example():
  # Bins (0, 0, 1, 1), labels (0, 1, 0, 0): H(B) = 1 bit,
  # H(B|Y) = 3/4 H(1/3, 2/3) + 1/4 * 0, I = 1 - 0.75 * 0.9183 = 0.3113 bits.
  t = np.array([[0.2], [0.7], [1.2], [1.7]])
  y = np.array([0, 1, 0, 0])
  info = binned_information(t, y, 2, bin_size=1.0)
  h13 = -(1 / 3) * math.log2(1 / 3) - (2 / 3) * math.log2(2 / 3)
  np.testing.assert_allclose(info.bits.entropy, 1.0, rtol=1e-6)
  np.testing.assert_allclose(info.bits.mi_input, 1.0, rtol=1e-6)
  np.testing.assert_allclose(info.bits.mi_label, 1.0 - 0.75 * h13, rtol=1e-5)
  # Labels a function of the bin -> I(B;Y) = H(Y); independent -> 0.
  y2 = np.array([0, 0, 1, 1])
  np.testing.assert_allclose(
    binned_information(t, y2, 2, bin_size=1.0).mi_label, math.log(2), rtol=1e-6
  )
  y3 = np.array([0, 1, 0, 1])
  np.testing.assert_allclose(binned_information(t, y3, 2, bin_size=1.0).mi_label, 0.0, atol=1e-6)


def test_matches_sklearn_on_random_data():
  rng = np.random.default_rng(1)
  t = np.tanh(rng.normal(size=(500, 3))).astype(np.float32)
  y = rng.integers(0, 3, size=500)
  keys = np.floor(t / np.float32(0.3))
  _, sym = np.unique(keys, axis=0, return_inverse=True)
  info = binned_information(t, y, 3, bin_size=0.3)
  np.testing.assert_allclose(info.entropy, _ref_entropy(keys), rtol=1e-5)
  np.testing.assert_allclose(info.mi_label, mutual_info_score(y, sym.ravel()), atol=1e-5)
  assert isinstance(info, BinnedInformation)


def test_szt_edges_convention():
  e = np.asarray(szt_bin_edges())
  assert e.shape == (31,)
  np.testing.assert_allclose(e[[0, -1]], [-1.0, 1.0])
  np.testing.assert_allclose(np.diff(e), 2.0 / 30, rtol=1e-5)
  np.testing.assert_allclose(bin_edges_uniform(0.0, 1.0, 4), [0, 0.25, 0.5, 0.75, 1])
  # Same bin (incl. the clamped/right-closed ends) -> 0; neighbours -> log 2.
  for pair, h in [
    ((-1.0, -0.95), 0.0),
    ((1.0, 0.95), 0.0),
    ((-1.5, -0.99), 0.0),
    ((1.0, 3.0), 0.0),
    ((0.0, -0.01), math.log(2)),
  ]:
    t = np.array(pair, dtype=np.float32)[:, None]
    np.testing.assert_allclose(binned_entropy(t, edges=e), h, atol=1e-7)


def test_edges_match_digitize_reference():
  rng = np.random.default_rng(2)
  t = np.tanh(2 * rng.normal(size=(1000, 4))).astype(np.float32)
  e = np.asarray(szt_bin_edges(6))
  keys = np.clip(np.digitize(t, e) - 1, 0, 5)
  np.testing.assert_allclose(binned_entropy(t, edges=e), _ref_entropy(keys), rtol=1e-5)


def test_exact_symbols_never_merged():
  # Rows differing in a single coordinate of 1000 are different symbols.
  t = np.zeros((2, 1000), np.float32)
  t[1, 637] = 1.0
  np.testing.assert_allclose(binned_entropy(t, bin_size=0.5), math.log(2))
  # Permutations of one multiset (colliding for additive hashes) stay distinct.
  rows = np.array([[0, 1, 2], [2, 1, 0], [1, 0, 2], [0, 2, 1]], np.float32)
  np.testing.assert_allclose(binned_entropy(rows, bin_size=1.0), math.log(4), rtol=1e-6)
  # Many near-duplicate rows vs numpy's exact unique, d not a multiple of 8.
  rng = np.random.default_rng(3)
  keys = rng.integers(0, 2, size=(2000, 203)) * (rng.random((2000, 203)) < 0.01)
  keys[1000:] = keys[:1000]
  ids = np.asarray(symbol_ids(keys.astype(np.int32)))
  _, ref = np.unique(keys, axis=0, return_inverse=True)
  ref = ref.ravel()
  # Same partition: ids equal iff reference ids equal.
  assert len(np.unique(ids)) == len(np.unique(ref))
  pairs = np.unique(np.stack([ids, ref], axis=1), axis=0)
  assert len(pairs) == len(np.unique(ref))


def test_invariant_to_input_order():
  rng = np.random.default_rng(4)
  t = np.tanh(rng.normal(size=(300, 5)))
  y = rng.integers(0, 2, size=300)
  perm = rng.permutation(300)
  a = binned_information(t, y, 2, bin_size=0.25)
  b = binned_information(t[perm], y[perm], 2, bin_size=0.25)
  for u, v in zip(a, b):
    np.testing.assert_allclose(u, v, rtol=1e-6)


def test_all_layers_and_bin_sizes():
  rng = np.random.default_rng(5)
  y = rng.integers(0, 2, size=256)
  layers = [np.tanh(rng.normal(size=(256, d))) for d in (6, 3, 1)]
  sizes = [0.01, 0.1, 0.5, 2.5]
  out = binned_information_all(layers, y, 2, sizes)
  for field in out:
    assert field.shape == (3, 4)
  for l, t in enumerate(layers):
    for j, b in enumerate(sizes):
      one = binned_information(t, y, 2, bin_size=b)
      for f_all, f_one in zip(out, one):
        np.testing.assert_allclose(f_all[l, j], f_one, rtol=1e-6, atol=1e-7)
  # Larger bins merge cells: entropy non-increasing along each row here.
  assert np.all(np.diff(np.asarray(out.entropy), axis=1) <= 1e-6)
  np.testing.assert_allclose(out.bits.entropy, out.entropy * units.BITS_PER_NAT, rtol=1e-6)


def test_large_input_is_fast_and_log_m():
  t = np.random.default_rng(6).normal(size=(4096, 1000)).astype(np.float32)
  np.testing.assert_allclose(binned_entropy(t, bin_size=0.07), math.log(4096), rtol=1e-6)


@pytest.mark.parametrize(
  'kwargs',
  [
    dict(bin_size=0.0),
    dict(bin_size=-1.0),
    dict(bin_size=float('nan')),
    dict(),
    dict(bin_size=1.0, edges=[0.0, 1.0]),
    dict(edges=[0.0]),
    dict(edges=[0.0, 1.0, 1.0]),
    dict(edges=[0.0, float('inf')]),
  ],
)
def test_bad_binning_arguments(kwargs):
  with pytest.raises(ValueError):
    binned_entropy(np.zeros((3, 2)), **kwargs)


def test_bad_inputs_raise():
  t = np.zeros((4, 2))
  y = np.array([0, 1, 0, 1])
  with pytest.raises(ValueError, match='shape'):
    binned_entropy(np.zeros(4), bin_size=1.0)
  with pytest.raises(ValueError, match='non-finite'):
    binned_entropy(np.array([[0.0], [np.nan]]), bin_size=1.0)
  with pytest.raises(ValueError, match='non-finite'):
    binned_entropy(np.array([[0.0], [np.inf]]), bin_size=1.0)
  with pytest.raises(ValueError, match='length'):
    binned_information(t, y[:3], 2, bin_size=1.0)
  with pytest.raises(ValueError, match='lie in'):
    binned_information(t, np.array([0, 1, 2, 0]), 2, bin_size=1.0)
  with pytest.raises(ValueError, match='lie in'):
    binned_information(t, np.array([0, -1, 0, 0]), 2, bin_size=1.0)
  with pytest.raises(ValueError, match='integers'):
    binned_information(t, y.astype(float), 2, bin_size=1.0)
  with pytest.raises(ValueError, match='num_classes'):
    binned_information(t, y, 0, bin_size=1.0)
  with pytest.raises(ValueError):
    binned_information_all([t, np.zeros((5, 2))], y, 2, [1.0])
  with pytest.raises(ValueError):
    binned_information_all([t], y, 2, [1.0, 0.0])
  with pytest.raises(ValueError):
    binned_information_all([], y, 2, [1.0])
  with pytest.raises(ValueError):
    bin_edges_uniform(1.0, 1.0, 3)
  with pytest.raises(ValueError):
    bin_edges_uniform(0.0, 1.0, 0)
  assert units.BITS_PER_NAT == pytest.approx(1 / math.log(2))


# ------------------------------------------- reported bad inputs (docs/errors.md)


def test_bad_argument_types_name_the_argument():
  t = np.zeros((4, 2), np.float32)
  y = np.array([0, 1, 0, 1])
  with pytest.raises(TypeError, match="bin_size must be a real number; got str 'abc'"):
    binned_entropy(t, bin_size='abc')
  with pytest.raises(TypeError, match='bin_sizes'):
    binned_information_all([t], y, 2, ['abc'])
  with pytest.raises(TypeError, match='num_bins'):
    bin_edges_uniform(0.0, 1.0, 2.5)
  with pytest.raises(TypeError, match='representations must be real'):
    binned_entropy(t + 1j, bin_size=1.0)
  with pytest.raises(TypeError, match='edges must be a real numeric'):
    binned_entropy(t, edges=['a', 'b'])


def test_half_precision_is_upcast_with_a_warning():
  t = np.array([[0.0, 1.0], [0.5, 1.0]], np.float16)
  with pytest.warns(UserWarning, match='float32'):
    h = binned_entropy(t, bin_size=1.0)
  assert float(h) == 0.0


def test_bin_size_overflowing_the_dtype_raises():
  t = np.array([[1e30], [2e30]], np.float32)
  with pytest.raises(ValueError, match='bin_size = 1e-20 is too small'):
    binned_entropy(t, bin_size=1e-20)
  assert float(binned_entropy(t, bin_size=1e29)) == pytest.approx(math.log(2))
