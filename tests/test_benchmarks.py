"""Smoke tests of the benchmark scripts (their numbers come from full runs)."""

import math

import numpy as np
import pytest

from infoflow import configs
from launch import bench_entropy
from launch import bench_information
from launch import bench_train


def test_bench_train_times_and_formats():
  config = configs.get_config('tiny')
  seconds, accuracy = bench_train.time_training(config, 2, 3)
  assert seconds > 0 and 0 <= accuracy['train'] <= 1
  assert bench_train.devices_used(2) == 1  # one CPU device in tests
  table = bench_train.format_table('tiny', 3, [(1, 1, 1.0, accuracy), (2, 1, 1.5, accuracy)])
  assert '1.50x' in table and 'tiny' in table and 'devices' in table


def test_bench_train_builds_what_a_run_builds_for_regression():
  """minimal_lrelu (mse loss, one regression output): the benchmark trains
  the run's network on the run's targets. (A copy of the set-up once built
  num_classes outputs and trained them on the labels: a shape error.)"""
  config = configs.get_config('minimal_lrelu')
  seconds, accuracy = bench_train.time_training(config, 2, 3)
  assert seconds > 0
  for split in ('train', 'test'):
    # 8 inputs, 2 seeds: the mean accuracy is a multiple of 1/16.
    assert 0 <= accuracy[split] <= 1
    assert accuracy[split] * 16 == round(accuracy[split] * 16)
  # The benchmark's seed count does not leak into the config.
  assert config.num_seeds == configs.get_config('minimal_lrelu').num_seeds


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


def test_bench_run_measures_a_tiny_run(tmp_path):
  from launch import bench_run

  row = bench_run.run_one(
    'tiny', 1, tmp_path, num_points=2, overrides=['writers=()', 'analysis.num_replicas=2']
  )
  assert row.config == 'tiny' and row.num_seeds == 1 and row.analysed_epochs == 2
  numbers = row[3:-1]
  assert all(math.isfinite(v) and v >= 0 for v in numbers), row
  assert row.wall_seconds > row.train_seconds + row.analysis_seconds > 0
  assert row.compiles > 0 and 0 < row.compile_seconds < row.wall_seconds
  assert 0.05 < row.peak_rss_gb < 64
  assert 0 < row.max_stderr_mi_input < 1 and 0 <= row.max_stderr_mi_label < 1
  table = bench_run.format_table([row])
  assert table.splitlines()[2].startswith('| tiny | 1 | 2 |')
  assert 'CPUs; load average' in bench_run.machine_line((0.1,) * 3, (0.2,) * 3, [row])


def test_bench_run_reports_a_failed_run_and_bad_overrides(tmp_path):
  from launch import bench_run

  with pytest.raises(bench_run.RunFailed, match='no_such_field'):
    bench_run.run_one('tiny', 1, tmp_path, overrides=['no_such_field=1'])
  with pytest.raises(ValueError, match='--override'):
    bench_run.child_command('tiny', 1, tmp_path, overrides=['num_epochs'])
