"""Tests of the training benchmark (launch/bench_train.py): it trains what a
run trains (its numbers come from full runs)."""

from infoflow import configs
from launch import bench_train


def test_bench_train_formats_and_counts_devices():
  """The table (`tests/test_gpu_check.py` reads it; the command itself runs
  there, on `tiny` with 1 and 2 seeds)."""
  assert bench_train.devices_used(2) == 1  # one CPU device in tests
  accuracy = {'train': 0.75, 'test': 0.5}
  table = bench_train.format_table('tiny', 3, [(1, 1, 1.0, accuracy), (2, 1, 1.5, accuracy)])
  last = table.splitlines()[-1].split()
  assert last[:5] == ['tiny', '3', '2', '1', '1.500'] and last[6:] == ['1.50x', '0.7500', '0.5000']


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
