"""Tests of the findings computed from run records (infoflow.paper.findings)."""

import math

import numpy as np
import pytest
from scipy import stats

from infoflow.paper import findings


def _records(curves, layer='T5', extra=None):
  """Records of seeds whose I(X;T) of `layer` follows `curves[seed]`, a
  list of (epoch, nats) pairs; `extra(seed, epoch, i)` adds fields."""
  out = []
  for seed, curve in enumerate(curves):
    for i, (epoch, value) in enumerate(curve):
      r = {'epoch': epoch, 'seed': seed, 'information': {layer: {'mi_input': [value, 0.01]}}}
      r.update(extra(seed, epoch, i) if extra else {})
      out.append(r)
  return out


@pytest.mark.parametrize('seed', range(5))
def test_spearman_matches_scipy_with_ties(seed):
  rng = np.random.default_rng(seed)
  a = rng.integers(0, 6, 30).astype(float)  # many ties
  b = a + rng.normal(size=30)
  assert findings.spearman(a, b) == pytest.approx(stats.spearmanr(a, b).statistic, abs=1e-12)
  c = rng.normal(size=12)
  assert findings.spearman(c, -(c**3)) == pytest.approx(-1.0)
  np.testing.assert_array_equal(findings.rank([3.0, 1.0, 3.0, 2.0]), [3.5, 1.0, 3.5, 2.0])


def test_spearman_undefined_cases():
  assert math.isnan(findings.spearman([1.0, 2.0], [2.0, 1.0]))  # too few pairs
  assert math.isnan(findings.spearman([1.0, 1.0, 1.0], [1.0, 2.0, 3.0]))  # constant
  with pytest.raises(ValueError, match='two vectors of one length'):
    findings.spearman([1.0, 2.0, 3.0], [1.0, 2.0])


def test_peak_and_last_over_peak_per_seed():
  curves = [
    [(0, 2.0), (10, 5.0), (100, 4.0), (1000, 2.5)],  # peak 5 at 10, last/peak 0.5
    [(0, 3.0), (10, 4.0), (100, 6.0), (1000, 4.5)],  # peak 6 at 100, last/peak 0.75
  ]
  s = findings.information_summary(_records(curves), ['T5', 'T9'])
  assert list(s) == ['T5']  # T9 has no values
  t5 = s['T5']
  assert t5['first'] == findings.Stat(2.5, 2.0, 3.0, 2)
  assert t5['peak'] == findings.Stat(5.5, 5.0, 6.0, 2)
  assert t5['last'] == findings.Stat(3.5, 2.5, 4.5, 2)
  assert t5['last_over_peak'].mean == pytest.approx(0.625)
  assert (t5['last_over_peak'].low, t5['last_over_peak'].high) == (0.5, 0.75)
  assert t5['peak_epoch'] == findings.Stat(55.0, 10, 100, 2)
  assert t5['last_epoch'].mean == 1000 and t5['first_epoch'].mean == 0


def test_diverged_and_missing_values_are_left_out():
  records = _records([[(0, 1.0), (5, 2.0)], [(0, 3.0), (5, 1.0)]])
  records.append({'epoch': 9, 'seed': 1, 'diverged': True})
  records.append({'epoch': 9, 'seed': 0, 'information': {'T5': {'mi_input': [None, None]}}})
  s = findings.information_summary(records, ['T5'])['T5']
  assert s['last'] == findings.Stat(1.5, 1.0, 2.0, 2)  # epoch 9 has no finite value
  assert findings.stat([None, math.nan, 2.0]) == findings.Stat(2.0, 2.0, 2.0, 1)
  assert findings.stat([]).count == 0 and not findings.stat([]).contains(0.0)


def test_shape_early_peak_dip_late_peak():
  curve = [(0, 5.0), (1, 5.5), (24, 6.8), (79, 5.2), (150, 5.6), (509, 7.1), (9999, 5.6)]
  s = findings.shape_summary(_records([curve]), 'T5')
  assert (s['early_peak'].mean, s['early_epoch'].mean) == (6.8, 24)
  assert (s['dip'].mean, s['dip_epoch'].mean) == (5.2, 79)
  assert (s['late_peak'].mean, s['late_epoch'].mean) == (7.1, 509)
  short = findings.shape_summary(_records([[(0, 1.0), (3, 2.0)]]), 'T5')
  assert short['early_peak'].mean == 2.0 and short['dip'].count == 0


def test_training_summary_and_final_metrics():
  losses = [0.7, 0.3, 0.1, 0.2]
  accuracy = [0.5, 0.8, 0.95, 0.99]

  def extra(seed, epoch, i):
    return {
      'train': {'loss': losses[i], 'accuracy': accuracy[i]},
      'test': {'loss': losses[i] + seed, 'accuracy': accuracy[i] - 0.1},
      'validation': {'accuracy': 0.9 + 0.01 * seed},
    }

  curve = [(0, 1.0), (10, 1.0), (100, 1.0), (1000, 1.0)]
  records = _records([curve, curve], extra=extra)
  t = findings.training_summary(records)
  assert t['min_test_loss_epoch'] == findings.Stat(100, 100, 100, 2)
  assert t['min_test_loss'].mean == pytest.approx(0.6)
  assert t['last_test_loss'].low == pytest.approx(0.2)
  assert t['fit_epoch'].mean == 100  # first with train accuracy >= 0.9
  assert t['test_accuracy'].mean == pytest.approx(0.89)
  final = findings.final_metrics(records, [('validation', 'accuracy'), ('validation', 'nope')])
  assert list(final) == [('validation', 'accuracy')]
  assert final['validation', 'accuracy'].high == pytest.approx(0.91)


def test_spearman_summary_against_clustering_and_binning():
  curve = [(e, 8.0 - 0.5 * i) for i, e in enumerate((0, 1, 3, 10, 30, 100))]

  def extra(seed, epoch, i):
    return {
      'clustering': {'T5': {'gap': 0.1 * i, 'num_clusters': 100 - 10 * i + seed}},
      'binning': {'bin_sizes': [0.01, 0.2], 'T5': {'entropy': [8.0 - 0.1 * i, 3.0]}},
    }

  records = _records([curve, curve], extra=extra)
  rho = findings.spearman_summary(records, 'T5')
  assert rho['gap'].mean == pytest.approx(-1.0)
  assert rho['num_clusters'].mean == pytest.approx(1.0)
  assert rho['binned entropy, bin 0.01'].mean == pytest.approx(1.0)
  assert 'binned entropy, bin 0.2' not in rho  # constant: undefined
  assert findings.clustering_at(records, 'T5', 'gap', 'last').mean == pytest.approx(0.5)
  assert findings.clustering_at(records, 'T5', 'gap', 'first').mean == 0.0
  by_bins = findings.spearman_summary(records, 'T5', findings.binned_entropy('T5', 0.01))
  assert by_bins['gap'].mean == pytest.approx(-1.0)


def test_ceiling_gaps_count_tolerance_and_stderrs():
  # Seed 0 sits at its ceilings; seed 1 once 0.05 nats above (5 stderr).
  curves = [[(0, 7.70), (10, 7.71), (100, 7.72)], [(0, 7.70), (10, 7.76), (100, 7.72)]]
  records = _records(
    curves, layer='T1', extra=lambda s, e, i: {'information_ceiling': 7.7 + 0.01 * i}
  )
  records.append({'epoch': 200, 'seed': 1, 'information': {'T1': {'mi_input': [7.0, 0.01]}}})
  g = findings.ceiling_gaps(records, 'T1', 0.03)  # the record without a ceiling is left out
  assert (g.count, g.within, g.worst_epoch, g.worst_seed, g.beyond_3) == (6, 5, 10, 1, 1)
  assert g.worst == pytest.approx(0.05) and g.worst_sigmas == pytest.approx(5.0)
  assert g.mean == pytest.approx(0.05 / 6)
  gaps = np.array([0, 0, 0, 0, 0.05, 0])
  assert g.sd == pytest.approx(gaps.std()) and g.z_sd == pytest.approx((gaps / 0.01).std())
  assert findings.ceiling_gaps(records, 'T2', 0.03) is None


def test_replica_gaps_ceiling_and_value_near():
  def extra(seed, epoch, i):
    half = {'T5': {'mi_input_half_replicas': [1.0 - (0.1 if i == 2 else 0.0), 0.01]}}
    return {'information_ceiling': 7.7 + 0.01 * i} if seed else {'half': half}

  records = _records([[(0, 1.0), (10, 1.0), (100, 1.0)]] * 2, extra=extra)
  for r in records:  # seed 0 carries the diagnostic, seed 1 does not
    for n, entry in r.pop('half', {}).items():
      r['information'][n].update(entry)
  gaps = findings.replica_gaps(records, 'T5')
  assert (gaps.flagged, gaps.checked, gaps.worst_epoch, gaps.worst_seed) == (1, 3, 100, 0)
  assert gaps.worst == pytest.approx(0.1)
  assert gaps.worst_sigmas == pytest.approx(0.1 / math.hypot(0.01, 0.01))
  assert findings.replica_gaps(records, 'T4') is None  # no such layer: no diagnostic
  assert findings.ceiling(records) == findings.Stat(pytest.approx(7.71), 7.7, 7.72, 3)
  values, epochs = findings.value_near(records, lambda r: r['epoch'] / 10, 55)
  assert (values.mean, epochs.mean) == (1.0, 10)  # a tie goes to the earlier epoch
