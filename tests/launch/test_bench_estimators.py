"""Smoke tests of launch/bench_entropy.py and launch/bench_information.py (their
numbers come from full runs: docs/benchmarks.md)."""

import math
import os

import helpers
import numpy as np
import pytest

from launch import bench_entropy
from launch import bench_information


def test_bench_entropy_methods_agree_on_identical_draws():
  rng = np.random.default_rng(0)
  centers = rng.normal(size=(300, 3)).astype(np.float32)
  owner, z = bench_entropy._draws(centers, 256)  # pylint: disable=protected-access
  ours, seconds = bench_entropy._run_infoflow(centers, 0.5, owner, z, 1)  # pylint: disable=protected-access
  ref, _ = bench_entropy._run_numpy(centers, 0.5, owner, z, 1)  # pylint: disable=protected-access
  sk, _ = bench_entropy._run_sklearn(centers, 0.5, owner, z, 1)  # pylint: disable=protected-access
  assert seconds > 0
  np.testing.assert_allclose(ours, ref, atol=1e-4)
  np.testing.assert_allclose(sk, ref, atol=1e-2)


def test_bench_information_rows_and_table():
  rows = bench_information.run_case('clustered', 64, 4, 256)
  assert [label for label, *_ in rows] == [
    'posterior @ N',
    'difference @ N',
    'posterior adaptive',
    'difference extrapolated',
  ]
  assert rows[0][2] == 256 and rows[1][2] == 256 * 3 + 4 * 64
  assert all(seconds > 0 for *_, seconds in rows)
  post, diff, adaptive = rows[0][1], rows[1][1], rows[2][1]
  for info in (post, adaptive):
    assert 0 <= float(info.mi_input.nats) <= math.log(64)
    assert 0 <= float(info.mi_label.nats) <= math.log(2)
  assert float(adaptive.mi_input.stderr) <= 0.02 and float(adaptive.mi_label.stderr) <= 0.005
  gap = abs(float(post.mi_input.nats) - float(diff.mi_input.nats))
  assert gap <= 4 * math.hypot(float(post.mi_input.stderr), float(diff.mi_input.stderr))
  table = bench_information.format_rows('clustered', rows)
  assert 'stderr ratio difference/posterior' in table


def test_bench_information_stratification_gain_is_a_variance_share():
  from infoflow.data import synthetic

  samples, labels = synthetic.layer_samples('clustered', 64, 4, 3, 0.005)
  share, gain = bench_information.stratification_gain(samples, labels, num_blocks=2)
  assert 0 < share < 1  # the strata remove some variance, not all
  assert gain == pytest.approx((1 - share) ** 0.5)


def test_bench_entropy_fresh_process_says_when_it_died():
  """A child that dies without a result raises instead of leaving the
  benchmark waiting forever (its results: tests/test_gpu_check.py)."""
  with pytest.raises(RuntimeError, match='exited 7 without a result'):
    bench_entropy.in_fresh_process(os._exit, 7)  # pylint: disable=protected-access


def test_bench_entropy_szt_groups_scale_the_szt_cases():
  centers, beta, num_mc, subset = bench_entropy.make_case('szt_r100_d5', groups=3)
  assert centers.shape == (3, 100, 5) and beta == 0.005 and (num_mc, subset) == (16_384, 1024)


def test_bench_information_ceiling_calibration_on_a_separated_layer():
  rows = bench_information.separated_rows(4096)
  zs = bench_information.ceiling_calibration(4, rows)
  assert zs.shape == (4, 2) and np.all(np.isfinite(zs))
  # The estimate sits at the multiplicity entropy within a few of its stderrs.
  assert np.all(np.abs(zs[:, 0]) < 5) and np.all(np.abs(zs[:, 1]) < 0.2)
  line = bench_information.format_calibration(zs, 'm = 4096 separated rows')
  assert line.startswith('calibration: 4 resamples of m = 4096 separated rows: z mean')


def test_bench_information_ceiling_calibration_sees_a_layer_that_merges_rows():
  """Rows closer than beta are not separated: the estimate falls below the
  multiplicity entropy by far more than its stderr, and z says so."""
  rows = bench_information.separated_rows(4096) * 1e-4  # all within ~beta / 25
  zs = bench_information.ceiling_calibration(2, rows)
  assert np.all(zs[:, 1] < -1.0) and np.all(zs[:, 0] < -10)


def test_bench_information_saved_layer_of_a_finished_run(finished_run):
  workdir, records = finished_run
  epoch = records[-1]['epoch']
  rows, beta = bench_information.saved_layer(str(workdir), epoch, 'T1')
  assert rows.ndim == 2 and len(rows) == 128  # the run's 128 evaluation inputs
  assert beta == pytest.approx(helpers.tiny_config().model.beta)
  with pytest.raises(ValueError, match=r"no layer 'T9'; saved: \['T1'"):
    bench_information.saved_layer(str(workdir), epoch, 'T9')
  with pytest.raises(ValueError, match='no representations at epoch 7; saved: '):
    bench_information.saved_layer(str(workdir), 7, 'T1')
