"""Tests of infoflow.measures.clustering on constructed clusters and brute-force references."""

import math

import jax.numpy as jnp
import numpy as np
import pytest
from scipy.cluster.hierarchy import fcluster
from scipy.cluster.hierarchy import linkage
from sklearn.metrics.pairwise import cosine_similarity

from infoflow.measures import neighbours
from infoflow.measures.clustering import DEFAULT_THRESHOLD
from infoflow.measures.clustering import class_similarity
from infoflow.measures.clustering import cosine_similarity_matrix
from infoflow.measures.clustering import k_nearest_neighbors
from infoflow.measures.clustering import knn_label_agreement
from infoflow.measures.clustering import num_distinguishable_clusters
from infoflow.measures.clustering import packing_clusters
from infoflow.measures.clustering import pair_problem
from infoflow.measures.clustering import scatter_ratio
from infoflow.measures.clustering import single_linkage_tree
from infoflow.measures.distinguishable import greedy_packing


def _entropy(p):
  p = np.asarray(p, dtype=np.float64)
  p = p[p > 0] / p.sum()
  return float(-(p * np.log(p)).sum())


def _orthogonal_clusters(n_per=25, num_classes=4, d=8, noise=1e-2, seed=0):
  rng = np.random.default_rng(seed)
  y = np.repeat(np.arange(num_classes), n_per)
  x = 5.0 * np.eye(d)[y] + noise * rng.normal(size=(len(y), d))
  perm = rng.permutation(len(y))
  return x[perm].astype(np.float32), y[perm]


def _brute_class_similarity(x, y):
  s = cosine_similarity(x)
  s[np.linalg.norm(x, axis=1) == 0] = 0.0
  s[:, np.linalg.norm(x, axis=1) == 0] = 0.0
  same = y[:, None] == y[None, :]
  off = ~np.eye(len(y), dtype=bool)
  return s[same & off].mean(), s[~same].mean()


def _brute_knn(x, k):
  x = np.asarray(x, np.float64)
  d2 = ((x[:, None] - x[None]) ** 2).sum(-1)
  np.fill_diagonal(d2, np.inf)
  idx = np.argsort(d2, axis=1, kind='stable')[:, :k]
  return idx, np.take_along_axis(d2, idx, axis=1)


def test_separated_orthogonal_clusters():
  x, y = _orthogonal_clusters()
  cs = class_similarity(x, y, 4)
  np.testing.assert_allclose(cs.within, 1.0, atol=1e-3)
  np.testing.assert_allclose(cs.between, 0.0, atol=1e-2)
  np.testing.assert_allclose(cs.gap, 1.0, atol=1e-2)
  assert float(knn_label_agreement(x, y, k=5)) == 1.0
  sr = scatter_ratio(x, y, 4)
  assert float(sr.ratio) < 1e-4


def test_random_labels_give_no_structure():
  rng = np.random.default_rng(1)
  x = rng.normal(size=(900, 20)).astype(np.float32)
  y = rng.integers(0, 3, size=900)
  cs = class_similarity(x, y, 3)
  assert abs(float(cs.gap)) < 0.02
  np.testing.assert_allclose(knn_label_agreement(x, y, k=10), 1 / 3, atol=0.06)
  assert float(scatter_ratio(x, y, 3).ratio) > 50.0


def test_class_similarity_matches_brute_force_with_zero_rows():
  rng = np.random.default_rng(2)
  x = rng.normal(size=(150, 6)) + 0.5
  x[[3, 70, 71]] = 0.0
  y = rng.integers(0, 4, size=150)
  cs = class_similarity(x, y, 5)  # class 4 is empty: allowed
  within, between = _brute_class_similarity(x, y)
  np.testing.assert_allclose(cs.within, within, atol=1e-5)
  np.testing.assert_allclose(cs.between, between, atol=1e-5)
  assert np.all(np.isfinite(np.asarray(cs)))


def test_cosine_similarity_matrix():
  rng = np.random.default_rng(3)
  x = rng.normal(size=(40, 5)).astype(np.float32)
  x[[5, 17]] = 0.0
  y = rng.integers(0, 3, size=40)
  out = cosine_similarity_matrix(x, y, num_classes=4)
  s, order, bounds = map(np.asarray, out)
  assert np.all(np.diff(y[order]) >= 0)
  # Stable: within a class the original order is kept.
  for c in range(3):
    assert np.all(np.diff(order[y[order] == c]) > 0)
  np.testing.assert_array_equal(bounds, np.r_[0, np.cumsum(np.bincount(y, minlength=4))])
  assert np.all(np.isfinite(s))
  np.testing.assert_array_equal(s, s.T)
  nz = np.linalg.norm(x[order], axis=1) > 0
  np.testing.assert_array_equal(np.diag(s)[nz], 1.0)
  assert np.all(s[~nz] == 0.0) and np.all(s[:, ~nz] == 0.0)
  ref = cosine_similarity(x[order])
  np.testing.assert_allclose(s[np.ix_(nz, nz)], ref[np.ix_(nz, nz)], atol=1e-6)


def test_scatter_ratio_reference_and_degenerate_cases():
  rng = np.random.default_rng(4)
  x = rng.normal(size=(120, 3))
  y = rng.integers(0, 3, size=120)
  mu = x.mean(0)
  within = sum(((x[y == c] - x[y == c].mean(0)) ** 2).sum() for c in range(3))
  between = sum((y == c).sum() * ((x[y == c].mean(0) - mu) ** 2).sum() for c in range(3))
  sr = scatter_ratio(x, y, 4)  # one empty class
  np.testing.assert_allclose(sr.within, within, rtol=1e-5)
  np.testing.assert_allclose(sr.between, between, rtol=1e-4)
  np.testing.assert_allclose(sr.ratio, within / between, rtol=1e-4)
  # Equal class means -> between = 0 -> inf, not NaN (also for one class).
  x2 = np.array([[1.0, 0], [-1, 0], [0, 1], [0, -1]])
  assert np.isinf(scatter_ratio(x2, np.array([0, 0, 1, 1]), 2).ratio)
  assert np.isinf(scatter_ratio(x2, np.zeros(4, int), 1).ratio)
  assert np.isinf(scatter_ratio(np.zeros((4, 2)), np.array([0, 0, 1, 1]), 2).ratio)


@pytest.mark.parametrize('chunk_size', [7, 64, 500])
def test_knn_chunked_equals_brute_force(chunk_size):
  rng = np.random.default_rng(5)
  x = rng.normal(size=(203, 9)).astype(np.float32)
  idx, d2 = k_nearest_neighbors(x, 6, chunk_size=chunk_size)
  ref_idx, ref_d2 = _brute_knn(x, 6)
  np.testing.assert_array_equal(idx, ref_idx)
  np.testing.assert_allclose(d2, ref_d2, rtol=1e-5)
  y = rng.integers(0, 2, size=203)
  a = knn_label_agreement(x, y, k=6, chunk_size=chunk_size)
  np.testing.assert_allclose(a, (y[ref_idx] == y[:, None]).mean(), rtol=1e-6)


@pytest.mark.parametrize('scale,refine', [(1e-3, 32), (1e-3, 0), (1e-5, 32)])
def test_knn_tight_clusters_far_from_origin(scale, refine):
  # Two clusters 200 apart with internal spread `scale` x 100: the matmul
  # form |a|^2+|b|^2-2ab cancels; neighbours must still be exact.
  rng = np.random.default_rng(6)
  centres = np.array([[100.0, 0, 0, 0, 0], [-100.0, 0, 0, 0, 0]])
  x = np.concatenate([c + scale * 100 * rng.normal(size=(60, 5)) for c in centres]).astype(
    np.float32
  )
  idx, d2 = k_nearest_neighbors(x, 5, chunk_size=32, refine=refine)
  ref_idx, ref_d2 = _brute_knn(x, 5)
  np.testing.assert_array_equal(np.sort(idx, 1), np.sort(ref_idx, 1))
  np.testing.assert_allclose(d2, ref_d2, rtol=1e-4)
  # Labels that alternate along the first within-cluster axis: agreement
  # depends on the exact within-cluster neighbours.
  y = (x[:, 1] > np.median(x[:, 1])).astype(int)
  np.testing.assert_allclose(
    knn_label_agreement(x, y, k=5, chunk_size=32), (y[ref_idx] == y[:, None]).mean(), rtol=1e-6
  )


def test_knn_duplicates_are_neighbours():
  x = np.array([[0.0, 0], [0, 0], [5, 5], [5, 5]])
  idx, d2 = k_nearest_neighbors(x, 1)
  np.testing.assert_array_equal(np.asarray(idx)[:, 0], [1, 0, 3, 2])
  np.testing.assert_array_equal(d2, 0.0)


def test_three_separated_groups():
  rng = np.random.default_rng(7)
  beta = 0.01
  x = np.concatenate(
    [c + 1e-3 * rng.normal(size=(10, 3)) for c in ([0, 0, 0], [1, 0, 0], [0, 1, 0])]
  )
  out = num_distinguishable_clusters(x, beta)
  assert int(out.num_clusters) == 3
  np.testing.assert_allclose(out.entropy, math.log(3), rtol=1e-6)
  assign = np.asarray(out.assignment)
  np.testing.assert_array_equal(assign, np.repeat([0, 10, 20], 10))


def test_group_sizes_entropy():
  # Sizes (2, 1, 1) -> H(1/2, 1/4, 1/4) = 1.5 bits.
  x = np.array([[0.0], [0.001], [1.0], [2.0]])
  out = num_distinguishable_clusters(x, 0.01)
  assert int(out.num_clusters) == 3
  np.testing.assert_allclose(out.entropy, 1.5 * math.log(2), rtol=1e-6)


def test_chain_is_one_cluster_single_linkage():
  beta = 0.1
  step = 0.9 * DEFAULT_THRESHOLD * beta  # each link within the threshold
  x = np.zeros((50, 2))
  x[:, 0] = step * np.arange(50)
  x = x[np.random.default_rng(8).permutation(50)]
  out = num_distinguishable_clusters(x, beta)
  assert int(out.num_clusters) == 1 and float(out.entropy) == 0.0
  # Slightly larger gaps: every point is its own cluster -> log m.
  out = num_distinguishable_clusters(x * 1.2, beta)
  assert int(out.num_clusters) == 50
  np.testing.assert_allclose(out.entropy, math.log(50), rtol=1e-6)


def test_clusters_match_scipy_single_linkage_and_sweep():
  rng = np.random.default_rng(9)
  x = rng.normal(size=(300, 4)).astype(np.float32)
  betas = np.array([0.02, 0.05, 0.1, 0.2, 0.4])
  sweep = num_distinguishable_clusters(x, betas, threshold=3.0)
  assert sweep.num_clusters.shape == (5,) and sweep.assignment is None
  z = linkage(x.astype(np.float64), method='single')
  for j, beta in enumerate(betas):
    ref = fcluster(z, t=3.0 * beta, criterion='distance')
    assert int(sweep.num_clusters[j]) == len(np.unique(ref))
    np.testing.assert_allclose(sweep.entropy[j], _entropy(np.bincount(ref)), rtol=1e-5, atol=1e-6)
    one = num_distinguishable_clusters(x, beta, threshold=3.0)
    # Same partition as scipy (labels differ only by naming).
    pairs = np.unique(np.stack([np.asarray(one.assignment), ref], 1), axis=0)
    assert len(pairs) == len(np.unique(ref))
  parent, sq_len = single_linkage_tree(x)
  np.testing.assert_allclose(np.sort(np.sqrt(np.asarray(sq_len)[1:])), np.sort(z[:, 2]), rtol=1e-5)


def test_beta_zero_counts_distinct_points():
  x = np.array([[0.0, 1], [0, 1], [0, 1], [2, 3]])
  out = num_distinguishable_clusters(x, 0.0)
  assert int(out.num_clusters) == 2
  np.testing.assert_allclose(out.entropy, _entropy([3, 1]), rtol=1e-6)


def test_bad_inputs_raise():
  x = np.zeros((4, 2))
  y = np.array([0, 1, 0, 1])
  bad_x = np.array([[0.0, np.nan], [1, 1], [0, 0], [1, 2]])
  for fn in (
    lambda a: class_similarity(a, y, 2),
    lambda a: scatter_ratio(a, y, 2),
    lambda a: knn_label_agreement(a, y, 1),
    lambda a: cosine_similarity_matrix(a, y),
    lambda a: num_distinguishable_clusters(a, 0.1),
  ):
    with pytest.raises(ValueError, match='non-finite'):
      fn(bad_x)
    with pytest.raises(ValueError, match='shape'):
      fn(np.zeros(4))
  with pytest.raises(ValueError, match='length'):
    class_similarity(x, y[:3], 2)
  with pytest.raises(ValueError, match='lie in'):
    scatter_ratio(x, np.array([0, 1, 2, 0]), 2)
  with pytest.raises(ValueError, match='lie in'):
    cosine_similarity_matrix(x, np.array([0, -1, 0, 1]))
  with pytest.raises(ValueError, match='integers'):
    knn_label_agreement(x, y.astype(float), 1)
  with pytest.raises(ValueError, match='between-class'):
    class_similarity(x, np.zeros(4, int), 2)
  with pytest.raises(ValueError, match='within-class'):
    class_similarity(x, np.arange(4), 4)
  for k in (0, 4, 1.5):
    with pytest.raises(ValueError, match='k'):
      k_nearest_neighbors(x, k)
  with pytest.raises(ValueError, match='chunk_size'):
    k_nearest_neighbors(x, 1, chunk_size=0)
  for beta in (-0.1, np.nan, np.inf, [[0.1]], []):
    with pytest.raises(ValueError, match='beta'):
      num_distinguishable_clusters(x, beta)
  with pytest.raises(ValueError, match='threshold'):
    num_distinguishable_clusters(x, 0.1, threshold=0.0)


# ------------------------------------------- reported bad inputs (docs/errors.md)


@pytest.mark.parametrize('factor', [1e19, 1e25, 3e30, 1e-30])
def test_extreme_magnitudes_give_the_unit_scale_answers(factor):
  # Item 2: from ~1e19 the squares overflowed (cosine diagonal 0, NaN scatter
  # ratio, changed neighbours).
  x, y = _orthogonal_clusters(n_per=6, num_classes=3, d=4)
  big = (x.astype(np.float64) * factor).astype(np.float32)
  sim = cosine_similarity_matrix(big, y).matrix
  np.testing.assert_allclose(np.diag(sim), 1.0)
  np.testing.assert_allclose(sim, cosine_similarity_matrix(x, y).matrix, atol=1e-5)
  assert float(class_similarity(big, y, 3).gap) == pytest.approx(
    float(class_similarity(x, y, 3).gap), abs=1e-5
  )
  ratio = float(scatter_ratio(big, y, 3).ratio)
  assert ratio == pytest.approx(float(scatter_ratio(x, y, 3).ratio), rel=1e-4)
  np.testing.assert_array_equal(k_nearest_neighbors(big, 3)[0], k_nearest_neighbors(x, 3)[0])
  assert float(knn_label_agreement(big, y, 3)) == pytest.approx(float(knn_label_agreement(x, y, 3)))
  beta = 0.3 * factor
  assert int(num_distinguishable_clusters(big, beta).num_clusters) == 3


def test_bad_argument_types_name_the_argument():
  x = np.zeros((4, 2))
  y = np.array([0, 1, 0, 1])
  with pytest.raises(TypeError, match='threshold must be a real number'):
    num_distinguishable_clusters(x, 0.1, threshold='4')
  with pytest.raises(TypeError, match='beta must be a real number'):
    num_distinguishable_clusters(x, '0.1')
  with pytest.raises(TypeError, match='k must be an integer'):
    k_nearest_neighbors(x, '2')
  with pytest.raises(TypeError, match='representations must be real'):
    scatter_ratio(x + 1j, y, 2)
  with pytest.raises(ValueError, match='num_classes'):
    class_similarity(x, y, 0)


# ------------------------------------- the fused per-layer measures (the hook's path)


def _separate_measures(x, y, num_classes, beta, k=10):
  """The measures from the separate public functions (spanning-tree clusters,
  the packing without neighbour lists)."""
  sim = class_similarity(x, y, num_classes)
  clusters = num_distinguishable_clusters(x, beta)
  packed = packing_clusters(x, beta)
  return {
    'within': float(sim.within),
    'between': float(sim.between),
    'gap': float(sim.gap),
    'scatter_ratio': float(scatter_ratio(x, y, num_classes).ratio),
    'knn_agreement': float(knn_label_agreement(x, y, k=k)),
    'num_clusters': int(clusters.num_clusters),
    'cluster_entropy': float(clusters.entropy),
    'packed_clusters': int(packed.num_clusters),
    'packed_cluster_entropy': float(packed.entropy),
  }


def _regimes():
  """Spread points (a network at initialisation), two tight class clusters
  (a trained T5), a chain of tight clumps that only dense-dense edges join
  (several checking passes), duplicates, and a size that is no multiple of
  the chunk or block. All but the last share one shape (one compilation)."""
  rng = np.random.default_rng(10)
  y = rng.integers(0, 2, size=1000)
  spread = np.tanh(2 * rng.normal(size=(1000, 3)))
  collapsed = np.where(y[:, None] == 1, 0.9, -0.9) + 0.003 * rng.normal(size=(1000, 3))
  clumps = np.repeat(np.arange(50)[:, None] * [0.019, 0.0, 0.0], 20, axis=0)
  clumps = clumps + 1e-4 * rng.normal(size=clumps.shape)
  clumps = clumps[rng.permutation(1000)]
  duplicates = np.round(rng.uniform(-1, 1, size=(1000, 3)), 1)
  odd = rng.normal(size=(333, 7)) * 0.01
  return {
    'spread': (spread, y),
    'collapsed': (collapsed, y),
    'clumps': (clumps, y),
    'duplicates': (duplicates, y),
    'odd': (odd, y[:333]),
  }


@pytest.mark.parametrize('regime', ['spread', 'collapsed', 'clumps', 'duplicates', 'odd'])
def test_layer_measures_equal_the_separate_functions(regime):
  from infoflow.measures import clustering

  x, y = _regimes()[regime]
  x = x.astype(np.float32)
  fused = clustering.layer_measures(x, y, 2, beta=0.005)
  got = {name: getattr(fused, name) for name in _separate_measures(x, y, 2, 0.005)}
  got = {name: int(v) if 'clusters' in name else float(v) for name, v in got.items()}
  assert got == _separate_measures(x, y, 2, 0.005)
  if regime == 'clumps':
    assert got['num_clusters'] == 1  # the chain of 50 clumps is one cluster
    # Clumps 0.019 apart, packing radius 2 beta = 0.01: every clump its own.
    assert got['packed_clusters'] == 50
    assert got['packed_cluster_entropy'] == pytest.approx(math.log(50), rel=1e-6)
  if regime == 'collapsed':
    assert got['num_clusters'] == 2


def test_layer_measures_clusters_match_scipy_at_several_radii():
  from infoflow.measures import clustering

  rng = np.random.default_rng(11)
  x = rng.normal(size=(400, 3)).astype(np.float32)
  y = rng.integers(0, 3, size=400)
  z = linkage(x.astype(np.float64), method='single')
  for beta in (0.0, 0.01, 0.05, 0.1, 0.3):
    out = clustering.layer_measures(x, y, 3, beta=beta, k=4, chunk_size=64)
    ref = fcluster(z, t=DEFAULT_THRESHOLD * beta, criterion='distance') if beta else np.arange(400)
    assert int(out.num_clusters) == len(np.unique(ref))
    np.testing.assert_allclose(out.cluster_entropy, _entropy(np.bincount(ref)), rtol=1e-5)
  assert clustering.layer_measures(x, y, 3).num_clusters is None  # no beta: no clusters


def test_knn_many_duplicates_keep_the_lowest_indices():
  # 30 copies of one point, k = 5: the neighbours are the 5 lowest other
  # indices (self dropped wherever it falls among the k + 1 nearest).
  x = np.zeros((40, 2), np.float32)
  x[30:] = np.arange(1, 11)[:, None]
  idx, d2 = k_nearest_neighbors(x, 5, chunk_size=16)
  ref_idx, ref_d2 = _brute_knn(x, 5)
  np.testing.assert_array_equal(idx, ref_idx)
  np.testing.assert_array_equal(d2, ref_d2)


_COMPILES = []


def _count_compile(event, duration, **kwargs):
  del duration, kwargs
  if event == '/jax/core/compile/backend_compile_duration':
    _COMPILES.append(event)


def test_clustering_hook_compiles_nothing_for_a_new_epoch():
  """A second call with new representations of the same shapes (the next
  analysed epoch) reuses every compiled program."""
  import jax

  from infoflow import analysis

  jax.monitoring.register_event_duration_secs_listener(_count_compile)
  rng = np.random.default_rng(12)
  y = rng.integers(0, 2, size=301)  # a size no other test uses: the first call compiles
  hook = analysis.clustering_hook(0.005)

  def epoch(spread):
    return {
      f'T{i}': (np.tanh(rng.normal(size=(301, d))) * spread).astype(np.float32)
      for i, d in enumerate((6, 3), 1)
    }

  first = hook(epoch(1.0), y, 2)
  before = len(_COMPILES)
  assert before > 0  # the listener sees compilations
  second = hook(epoch(0.001), y, 2)  # new data, collapsed: more checking passes
  assert len(_COMPILES) == before, f'{len(_COMPILES) - before} new compilation(s)'
  assert set(first['clustering']) == set(second['clustering']) == {'T1', 'T2'}
  assert set(second['clustering']['T2']) == {
    'within',
    'between',
    'gap',
    'scatter_ratio',
    'knn_agreement',
    'num_clusters',
    'cluster_entropy',
    'packed_clusters',
    'packed_cluster_entropy',
  }


@pytest.mark.parametrize('spread', [1.0, 1e-2])
def test_wide_rows_use_the_screened_search_and_stay_exact(spread):
  # d = 40 > neighbours.MAX_DIRECT_DIM: matmul screening, certified or redone
  # exhaustively (tight clusters far from the origin); the fused measures
  # fall back to the separate functions.
  from infoflow.measures import clustering

  rng = np.random.default_rng(13)
  y = rng.integers(0, 2, size=150)
  x = (10.0 * y[:, None] + spread * rng.normal(size=(150, 40))).astype(np.float32)
  ref_idx, ref_d2 = _brute_knn(x, 4)
  for refine in (0, 2):  # no spare candidates: chunks redone exhaustively
    idx, d2 = k_nearest_neighbors(x, 4, chunk_size=32, refine=refine)
    np.testing.assert_array_equal(np.sort(idx, 1), np.sort(ref_idx, 1))
    np.testing.assert_allclose(d2, ref_d2, rtol=1e-4)
  fused = clustering.layer_measures(x, y, 2, beta=0.01, k=4)
  assert float(fused.knn_agreement) == float(knn_label_agreement(x, y, 4))
  assert int(fused.num_clusters) == int(num_distinguishable_clusters(x, 0.01).num_clusters)
  assert int(fused.packed_clusters) == int(packing_clusters(x, 0.01).num_clusters)


# ------------------------------------------------------------ issue 22


@pytest.mark.parametrize('scale', [1e-20, 1e-30, 1e20, 1e30])
def test_layer_measures_clusters_at_extreme_scales(scale):
  # Issue 22 row 8: layer_measures squared threshold * beta before rescaling,
  # so r^2 underflowed (4 clusters from s ~ 1e-20) or overflowed (1 cluster
  # from s ~ 1e20), where num_distinguishable_clusters was right.
  from infoflow.measures import clustering

  x = np.array([[0.0, 0.0], [0.1, 0.0], [5.0, 5.0], [5.1, 5.0]])
  y = np.array([0, 1, 0, 1])
  unit = clustering.layer_measures(x.astype(np.float32), y, 2, beta=0.05, k=1)
  assert int(unit.num_clusters) == 2  # the pairs, 0.1 apart, merge at r = 0.2
  scaled = clustering.layer_measures((x * scale).astype(np.float32), y, 2, beta=0.05 * scale, k=1)
  assert int(scaled.num_clusters) == 2
  assert float(scaled.cluster_entropy) == float(unit.cluster_entropy)


def test_per_class_work_is_over_the_classes_present(monkeypatch):
  # Issue 22 row 14: class_similarity(num_classes=10**9) built (m, 10**9)
  # one-hot arrays and a bincount of 10**9 (7.7 GB and more: out of memory).
  from infoflow.measures import clustering

  check_pairs = clustering._check_pairs  # pylint: disable=protected-access

  def bounded(labels, num_classes):
    # Stop before a per-class allocation larger than the rows.
    assert num_classes <= labels.size, f'per-class arrays of {num_classes} classes'
    check_pairs(labels, num_classes)

  monkeypatch.setattr(clustering, '_check_pairs', bounded)
  x, y = _orthogonal_clusters(n_per=4, num_classes=2, d=3)
  ref_sim, ref_scatter = class_similarity(x, y, 2), scatter_ratio(x, y, 2)
  sparse = np.where(y == 1, 10**7, y)
  for labels, num_classes in ((y, 10**9), (sparse, None), (sparse, 2**31 - 1)):
    assert class_similarity(x, labels, num_classes) == ref_sim
    assert scatter_ratio(x, labels, num_classes) == ref_scatter
    fused = clustering.layer_measures(x, labels, num_classes, beta=0.1, k=2)
    assert float(fused.gap) == float(ref_sim.gap)


def _brute_force_packing(x, radius):
  """The greedy packing in plain numpy: rows in order, each uncovered row a
  centre taking every uncovered row within `radius`."""
  centre = np.full(len(x), -1)
  for i in range(len(x)):
    if centre[i] < 0:
      near = np.linalg.norm(x - x[i], axis=1) <= radius
      centre[(centre < 0) & near] = i
  return centre


def test_packing_does_not_chain_where_single_linkage_does():
  """A line of 101 points 0.9 beta apart: single linkage at 4 beta joins them
  all (1 cluster, entropy 0); the packing at radius 2 beta covers 3 points a
  centre (0, 0.9, 1.8 beta; the next is 2.7 beta away): 34 clusters (33 of 3,
  the last of 2)."""
  beta = 0.01
  x = np.stack([np.arange(101) * 0.9 * beta, np.zeros(101)], axis=1).astype(np.float32)
  chained = num_distinguishable_clusters(x, beta)
  packed = packing_clusters(x, beta)
  assert int(chained.num_clusters) == 1 and float(chained.entropy) == 0.0
  assert int(packed.num_clusters) == 34
  sizes = np.array([3] * 33 + [2]) / 101
  assert float(packed.entropy) == pytest.approx(float(-(sizes * np.log(sizes)).sum()), rel=1e-5)
  assert np.array_equal(np.asarray(packed.assignment), _brute_force_packing(x, 2 * beta))


@pytest.mark.parametrize('scale', [1.0, 1e-20, 1e20])
def test_packing_of_random_points_equals_brute_force_at_any_scale(scale):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(300, 3)).astype(np.float32)
  beta = 0.1
  packed = packing_clusters(x * scale, beta * scale)
  expected = _brute_force_packing(x.astype(np.float64), DEFAULT_THRESHOLD * beta / 2)
  assert np.array_equal(np.asarray(packed.assignment), expected)
  assert int(packed.num_clusters) == len(np.unique(expected))
  # Every cluster lies within the radius of its centre: its diameter is at most 4 beta.
  for centre in np.unique(expected):
    members = x[expected == centre]
    assert np.linalg.norm(members - x[centre], axis=1).max() <= 2 * beta * (1 + 1e-6)


def test_packing_of_separated_groups_and_bad_arguments():
  x = np.repeat(np.array([[0.0, 0.0], [1.0, 1.0]], np.float32), 5, axis=0)
  packed = packing_clusters(x, 0.05)
  assert int(packed.num_clusters) == 2 and float(packed.entropy) == pytest.approx(math.log(2))
  assert int(packing_clusters(x, 0.0).num_clusters) == 2  # beta 0: identical rows group
  with pytest.raises(ValueError, match='beta'):
    packing_clusters(x, -1.0)
  with pytest.raises(ValueError, match='threshold'):
    packing_clusters(x, 0.1, threshold=0.0)


@pytest.mark.parametrize('k', [1, 3])
def test_packing_with_neighbour_lists_equals_the_full_scan_on_exact_ties(k):
  """On an integer grid (with holes and duplicate rows) every squared
  distance is an exact integer, so rows lie exactly at the radius: the
  packing from the k-neighbour lists (`greedy_packing(..., neighbours)`)
  gives the labels of the full scan and of a float64 brute force, whether
  the k-th neighbour lies at, inside or beyond the radius."""
  rng = np.random.default_rng(0)
  grid = np.array(np.meshgrid(*[np.arange(4)] * 3, indexing='ij')).reshape(3, -1).T
  rows = grid[np.sort(rng.choice(len(grid), 40, replace=False))]
  rows = np.concatenate([rows, rows[:5], [[9, 9, 9], [9, 9, 11]]])  # copies; two lone rows
  x = jnp.asarray(rows, jnp.float32)
  found = neighbours.neighbour_pass(x, k=k, chunk=16)
  for sq_radius in (0.5, 1.0, 2.0, 3.0, 4.0):
    full = np.asarray(greedy_packing(x, sq_radius))
    listed = np.asarray(greedy_packing(x, sq_radius, tuple(found)))
    np.testing.assert_array_equal(listed, full, err_msg=f'k={k}, sq_radius={sq_radius}')
    expected = np.full(len(rows), -1)
    for i in range(len(rows)):
      if expected[i] < 0:
        near = ((rows - rows[i]) ** 2).sum(axis=1) <= sq_radius
        expected[(expected < 0) & near] = i
    np.testing.assert_array_equal(full, expected)


def test_pair_problem_names_the_missing_pairs_and_the_measures_refuse_them():
  """The class measures need within- and between-class pairs; the reason is
  one function's (also used to refuse a run's evaluation inputs up front)."""
  assert pair_problem([0, 1, 0], 2) is None
  assert pair_problem([0, 1], 2).startswith('no within-class pairs')
  assert pair_problem([1, 1, 1], 2).startswith('no between-class pairs')
  x = np.eye(3, dtype=np.float32)
  with pytest.raises(ValueError, match='no within-class pairs'):
    class_similarity(x, np.array([0, 1, 2]), 3)
