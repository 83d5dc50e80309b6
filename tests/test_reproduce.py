"""Tests of the reproduction command and its report (launch.reproduce,
infoflow.paper.experiments, infoflow.paper.report)."""

import pathlib
import re
import subprocess
import sys

import helpers
import matplotlib

matplotlib.use('Agg')

import pytest

from infoflow import configs
from infoflow.paper import experiments as paper
from infoflow.paper import report
from infoflow.paper import sections as report_sections

# A seconds-long setting: every run shrunk (not the paper's settings).
TINY = ('num_epochs=30', 'analysis.num_points=3', 'writers=()')


def _reproduce(workdir, *args):
  return subprocess.run(
    [sys.executable, '-m', 'launch.reproduce', f'--workdir={workdir}', *args],
    capture_output=True,
    text=True,
    timeout=300,
  )


def _images(text: str, workdir: pathlib.Path) -> list[pathlib.Path]:
  return [workdir / p for p in re.findall(r'!\[[^\]]*\]\(([^)]+)\)', text)]


def test_reproduce_end_to_end_then_reuses_the_finished_run(tmp_path):
  """The command trains the runs, writes report.md with the findings table
  and figures; run again, it reuses the finished run."""
  tiny = [f'--override={o}' for o in TINY]
  args = ['--experiment=minimal_tanh', '--num_seeds=2', *tiny]
  result = _reproduce(tmp_path, *args)
  assert result.returncode == 0, result.stderr[-3000:]
  text = (tmp_path / 'report.md').read_text()
  assert '## minimal_tanh' in text and 'Made by `python -m launch.reproduce' in text
  assert '| paper [bits] | epoch | estimate [bits] | exact, seed 0 |' in text
  assert '| 1.50 |' in text and '**Config overrides**' in text
  assert '### Where the results differ from the paper' in text
  images = _images(text, tmp_path)
  assert any(p.name == 'information_plane.png' for p in images)
  assert all(p.is_file() for p in images), images
  assert (tmp_path / 'minimal_tanh' / 'metrics.jsonl').is_file()
  assert '| run or resumed |' in text
  again = _reproduce(tmp_path, *args)
  assert again.returncode == 0, again.stderr[-3000:]
  assert '| reused (finished before) |' in (tmp_path / 'report.md').read_text()


def test_bad_experiment_is_one_line_error(tmp_path):
  result = _reproduce(tmp_path, '--experiment=szt,nope')
  assert result.returncode != 0 and 'Traceback' not in result.stderr
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith('launch.reproduce: error: unknown experiment(s) nope; known: szt'), last


def _fake(path, **kwargs):
  return helpers.write_fake_run(path, num_epochs=8, num_seeds=2, **kwargs)[0]


def test_report_of_every_experiment_from_records(tmp_path):
  """Every experiment's section renders from run records (synthetic here):
  findings tables with the authors' values, the checked claims, figures."""
  layers = {'T1': 5, 'T2': 4, 'T3': 3}
  bare = {'with_representations': False}  # fewer figures: a faster test
  runs = {
    'szt': _fake(tmp_path / 'szt', layers=layers),
    'szt_orthonormal': _fake(tmp_path / 'szt_orthonormal', layers=layers, **bare),
    'szt_deterministic': _fake(tmp_path / 'szt_deterministic', with_information=False, **bare),
    'mnist': _fake(tmp_path / 'mnist', num_classes=3),
    'mnist_deterministic': _fake(
      tmp_path / 'mnist_deterministic', with_information=False, num_classes=3, **bare
    ),
  }
  outcome = lambda name: paper.RunOutcome(name, runs[name], 0.0, True)
  outcomes = {
    'szt': [outcome('szt')],
    'szt_orthonormal': [outcome('szt_orthonormal'), outcome('szt')],
    'szt_deterministic': [outcome('szt_deterministic')],
    'mnist': [outcome('mnist'), outcome('mnist_deterministic')],
  }
  path = report.write_report(tmp_path, outcomes, command='test', overrides=['num_epochs=8'])
  text = path.read_text()
  for experiment in outcomes:
    assert f'## {experiment}' in text
  assert '| layer | first (epoch 0) | paper (epoch 1) | peak |' in text
  assert '| T1 | ' in text and ' 7.76 |' in text  # the authors' T1 beside ours
  assert 'paper values in the tables lie outside the range of our seeds' in text
  assert 'Compression of the deepest layer T3' in text
  assert 'Orthonormal against plain:' in text and '| T3 last / peak of I(X;T) |' in text
  assert '| layer | bin size | first | peak | peak epoch | last | last / peak |' in text
  assert (
    '| last epoch | noisy net, noise-free pass | noisy net, noisy pass | deterministic |' in text
  )
  assert 'Within-class blocks in the deterministic net' in text
  assert 'Spearman rho' in text
  images = _images(text, tmp_path)
  assert all(p.is_file() for p in images)
  assert {p.parent.name for p in images} == set(runs)


def test_overrides_and_configs_are_checked():
  assert paper.parse_overrides(['a.b=3', 'c=(4, 2)', 'd=uniform_fan_in']) == [
    ('a.b', 3),
    ('c', (4, 2)),
    ('d', 'uniform_fan_in'),
  ]
  with pytest.raises(configs.ConfigError, match="override 'num_epochs' must read FIELD=VALUE"):
    paper.parse_overrides(['num_epochs'])
  with pytest.raises(configs.ConfigError, match="analysis.nope=1 does not fit config 'szt'"):
    paper.build_config('szt', 2, [('analysis.nope', 1)])
  with pytest.raises(configs.ConfigError, match='config field batch_size must be >= 1'):
    paper.build_config('szt', 2, [('batch_size', 0)])
  config = paper.build_config('szt', 3, [('model.widths', (4, 2))])
  assert config.num_seeds == 3 and tuple(config.model.widths) == (4, 2)
  with pytest.raises(paper.ExperimentError, match='unknown experiment'):
    paper.run_experiment('nope', '/nonexistent')
  assert set(paper.EXPERIMENTS) >= {
    'szt',
    'szt_relu',
    'szt_orthonormal',
    'szt_deterministic',
    'minimal_tanh',
    'minimal_lrelu',
    'mnist',
  }
  assert set(report.SECTIONS) == set(paper.EXPERIMENTS)


def test_paper_values_outside_our_range_are_listed():
  from infoflow.paper import findings

  sec = report_sections.Section()
  inside = findings.Stat(1.0, 0.9, 1.1, 3)
  assert report_sections.versus('x', inside, 1.104, 2, sec) == '1.10'  # within rounding
  assert not sec.differences and sec.compared == 1
  report_sections.versus('y', inside, 1.3, 2, sec)
  assert sec.differences == [
    "y: ours 1.00 (0.90 to 1.10), the paper 1.30; ours lies below the paper's value for every seed."
  ]
  assert report_sections.fmt(findings.Stat(2.0, 2.0, 2.0, 1)) == '2.00'
  assert report_sections.fmt(findings.stat([])) == '-'


def test_seeds_default_to_those_of_a_run_already_there(tmp_path):
  """A run of the config already in the workdir keeps its seeds (so it is
  reused), whichever experiment made it; else the experiment's default."""
  (tmp_path / 'szt').mkdir()
  (tmp_path / 'szt' / 'config.json').write_text(paper.build_config('szt', 5).to_json())
  ortho, plain = paper.plan_runs('szt_orthonormal', tmp_path)
  assert plain.num_seeds == 5
  assert ortho.num_seeds == paper.EXPERIMENTS['szt_orthonormal'].default_seeds
  assert [c.num_seeds for c in paper.plan_runs('szt_orthonormal', tmp_path, num_seeds=2)] == [2, 2]
  assert not paper.is_finished(plain, tmp_path / 'szt')  # no records yet
