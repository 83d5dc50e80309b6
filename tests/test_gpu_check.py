"""Tests of scripts/gpu_check.sh: its quick mode runs every step on this CPU
and prints each target, and its summary reads the benches' own tables (made
here by their formatters) into measured / target / ratio lines."""

import math
import os
import pathlib
import re
import subprocess
import typing

from launch import bench_entropy
from launch import bench_run
from launch import bench_train

SCRIPT = pathlib.Path(__file__).resolve().parent.parent / 'scripts' / 'gpu_check.sh'
TARGETS = 5  # issue 23: szt 8 seeds, P1, seeds 8 vs 1, TF32, warm first call


def _env(out, **extra):
  """This environment without pytest's variables (the quick mode runs pytest)."""
  env = {k: v for k, v in os.environ.items() if not k.startswith('PYTEST_')}
  return dict(env, OUT=str(out), **extra)


def _run(out, *args, **extra):
  return subprocess.run(
    ['bash', str(SCRIPT), *args],
    env=_env(out, **extra),
    capture_output=True,
    text=True,
    timeout=600,
  )


def _target_lines(text):
  lines = text.splitlines()
  first = next(i for i, line in enumerate(lines) if line.startswith('targets ('))
  return lines[first + 1 : first + 1 + TARGETS]


def test_quick_mode_runs_every_step_and_prints_each_target(tmp_path):
  """GPU_CHECK_QUICK=1, as CI runs it: exit 0, every step ok, and every
  target line has a measured number, the target and the ratio."""
  out = tmp_path / 'logs'
  done = _run(out, GPU_CHECK_QUICK='1')
  summary = (out / 'summary.txt').read_text()
  assert done.returncode == 0, summary + done.stderr[-3000:]
  for name in ('install', 'devices', 'tests', 'bench_entropy', 'bench_train', 'szt_run'):
    assert re.search(rf'^{name} +ok ', summary, re.M), (name, summary)
  assert 'QUICK MODE' in summary
  lines = _target_lines(summary)
  assert len(lines) == TARGETS, summary
  # What does not depend on the sizes: the warm process compiled nothing new,
  # and a TF32 default leaves the estimator's values as they are.
  entropy_log = (out / 'bench_entropy.log').read_text()
  assert re.search(r'^warm +\S+ +\S+ +\S+ +\d+ +0$', entropy_log, re.M), entropy_log
  assert 'bit-identical: yes' in entropy_log, entropy_log
  for line in lines:
    found = re.search(r'measured (\S+?)(x| s| nats) .*target .* ratio (\S+) +(met|MISSED)$', line)
    assert found, line
    assert math.isfinite(float(found.group(1))) and math.isfinite(float(found.group(3))), line


def _entropy_row(method, seconds):
  nan = float('nan')
  return dict(
    case='szt_r100_d5',
    n=409600,
    d=5,
    beta=0.005,
    method=method,
    draws=16384,
    seconds=seconds,
    memory_mb=200.0,
    gevals=1.0,
    estimate=-9.43,
    diff=1e-7,
    stderr=nan,
    speedup=nan,
    vs_sklearn=nan,
    subset=False,
  )


def _run_row(**known):
  """A `bench_run.Row` with these fields, every other one zero (or empty)."""
  empty = {str: '', dict: {}, int: 0, float: 0.0}
  types = typing.get_type_hints(bench_run.Row)
  return bench_run.Row(**{name: known.get(name, empty[types[name]]) for name in types})


def _write_logs(out):
  """Logs as the benches print them, at known numbers."""
  out.mkdir()
  first = dict(nats=-9.45, draws=22528)
  times = {
    'cold': dict(first, seconds=10.7, process=12.5, new_entries=70),
    'warm': dict(first, seconds=2.6, process=4.6, new_entries=0),
  }
  precision = dict(
    platform='gpu',
    default='None',
    plain_relative=1e-3,
    tensorfloat32=2.5e-6,
    float32=2.5e-6,
    identical=True,
  )
  (out / 'bench_entropy.log').write_text(
    '\n'.join(
      [
        bench_entropy.format_first_call(times, 409600),
        bench_entropy.format_matmul_precision(precision),
        bench_entropy.format_table([_entropy_row('infoflow', 0.15), _entropy_row('sklearn', 0.78)]),
      ]
    )
  )
  accuracy = {'train': 0.99, 'test': 0.95}
  rows = [(1, 1, 20.0, accuracy), (8, 1, 30.0, accuracy)]
  (out / 'bench_train.log').write_text(bench_train.format_table('szt', 10000, rows))
  (out / 'bench_run.md').write_text(
    f'{bench_run.format_table([_run_row(config="szt", num_seeds=8, wall_seconds=1500.0)])}\n\n'
    '2 CPUs; load average ...\n\n| stage | first epoch s |\n|---|---|\n| sampling | 0.30 |\n'
  )
  steps = ['install', 'devices', 'tests', 'bench_entropy', 'bench_train', 'estimators', 'szt_run']
  (out / 'steps.tsv').write_text(''.join(f'{name}\t0\t5\t60\n' for name in steps))


def test_summary_reads_each_target_from_the_benches_tables(tmp_path):
  out = tmp_path / 'logs'
  _write_logs(out)
  done = _run(out, 'summary')
  assert done.returncode == 0, done.stderr
  lines = _target_lines(done.stdout)
  assert len(lines) == TARGETS, done.stdout
  expected = [
    ('szt, 8 seed(s), whole run', '1500.00 s', '<= 1200 s', '1.25', 'MISSED'),
    ('P1 entropy vs sklearn, n = 409600', '5.20x', '>= 5x', '1.04', 'met'),
    ('seeds 8 vs 1, training', '1.50x', '<= 8x', '0.188', 'met'),
    ('TF32 off: error, TF32 default', '2.5e-06 nats', '<= 0.001 nats', '0.0025', 'met'),
    ('first call, warm cache', '2.60 s', '<= 5 s', '0.52', 'met'),
  ]
  for line, (name, measured, target, ratio, verdict) in zip(lines, expected):
    assert line.startswith(name), line
    assert f'measured {measured} ' in line and f'target {target} ' in line, line
    assert re.search(rf'ratio {re.escape(ratio)} +{verdict}$', line), line


def test_summary_says_why_a_number_is_missing(tmp_path):
  """A timed-out szt run gives a lower bound; a failed or missing step says so."""
  out = tmp_path / 'logs'
  out.mkdir()
  (out / 'steps.tsv').write_text('bench_train\t1\t3\t120\nszt_run\t124\t1260\t1260\n')
  (out / 'bench_train.log').write_text('Traceback ...\n')
  lines = _target_lines(_run(out, 'summary').stdout)
  assert lines[0].startswith('szt, 8 seed(s), whole run'), lines[0]
  assert 'measured > 1260 s' in lines[0] and 'ratio > 1.05' in lines[0], lines[0]
  assert lines[0].endswith('MISSED (timed out)'), lines[0]
  assert 'measured n/a (bench_entropy did not run)' in lines[1], lines[1]
  assert 'measured n/a (bench_train exited 1)' in lines[2], lines[2]
  assert all('target' in line and 'ratio n/a' in line for line in lines[1:]), lines
