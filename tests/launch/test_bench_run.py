"""Tests of the run benchmark (launch/bench_run.py): a real child process
measured (its numbers come from full runs)."""

import math

import pytest

from launch import bench_run


def test_bench_run_measures_a_tiny_run(tmp_path):
  # The child compiles for itself (bench_run turns the cache off): the test
  # session's compilation cache (tests/conftest.py) would hide the
  # compilations it measures.
  overrides = ['writers=()', 'analysis.num_replicas=2', 'analysis.clustering=False']
  row = bench_run.run_one('tiny', 1, tmp_path, num_points=2, overrides=overrides)
  assert row.config == 'tiny' and row.num_seeds == 1 and row.analysed_epochs == 2
  numbers = row[3 : row._fields.index('devices')] + (row.first_analysis_seconds,)
  assert all(math.isfinite(v) and v >= 0 for v in numbers), row
  assert row.wall_seconds > row.train_seconds + row.analysis_seconds > 0
  assert row.analysis_seconds > row.first_analysis_seconds > 0
  assert row.compiles > 0 and 0 < row.compile_seconds < row.wall_seconds
  assert 0.05 < row.peak_rss_gb < 64
  assert 0 < row.analysis_cpu_percent and row.seeds_at_once == 1
  assert 0 < row.max_stderr_mi_input < 1 and 0 <= row.max_stderr_mi_label < 1
  table = bench_run.format_table([row])
  assert table.splitlines()[2].startswith('| tiny | 1 | 2 |')
  assert 'CPUs; load average' in bench_run.machine_line((0.1,) * 3, (0.2,) * 3, [row])
  # The analysis by stage: each stage once per analysed epoch (one seed).
  stages = ['sampling', 'estimate T1', 'estimate T2', 'estimate R/2 (all layers)']
  stages += ['representations', 'binning']
  assert list(row.stages) == stages
  assert all(s['calls'] == 2 and s['first_calls'] == 1 for s in row.stages.values())
  lines = bench_run.stage_table(row).splitlines()
  assert [line.split(' | ')[0] for line in lines[4:]] == [f'| {s}' for s in stages] + [
    '| all stages',
    '| analysed epochs, wall',
  ]


def test_bench_run_reports_a_failed_run_and_bad_overrides(tmp_path):
  with pytest.raises(bench_run.RunFailed, match='no_such_field'):
    bench_run.run_one('tiny', 1, tmp_path, overrides=['no_such_field=1'])
  with pytest.raises(ValueError, match='--override'):
    bench_run.child_command('tiny', 1, tmp_path, overrides=['num_epochs'])
