"""Tests of the reproduction report (infoflow.paper.report, sections.py,
examples.py) on synthetic run records (`helpers.write_fake_run`)."""

import json
import pathlib
import re

import helpers
import matplotlib

matplotlib.use('Agg')

from infoflow.paper import experiments
from infoflow.paper import findings
from infoflow.paper import report
from infoflow.paper import sections


def _images(text: str, workdir: pathlib.Path) -> list[pathlib.Path]:
  return [workdir / p for p in re.findall(r'!\[[^\]]*\]\(([^)]+)\)', text)]


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
  meta = json.loads((runs['szt'] / 'run.json').read_text())
  (runs['szt'] / 'run.json').write_text(json.dumps({**meta, 'config': 'szt'}))
  outcome = lambda name: experiments.RunOutcome(name, runs[name], 0.0, True)
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
  assert '| layer | I(X;T) [nats] | ours | authors |' in text
  assert re.search(r'\| T1 \| first \| [^|]+ \| 7\.76 \|', text)  # the authors' T1 beside ours
  assert '*fake: Loss and accuracy, noise-free (solid) and noisy (dotted) (the line is' in text
  assert "; dashed: the authors' saved run)*" in text  # on the szt run's curves only
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


def test_paper_values_outside_our_range_are_listed():
  sec = sections.Section()
  inside = findings.Stat(1.0, 0.9, 1.1, 3)
  assert sections.versus('x', inside, 1.104, 2, sec) == '1.10'  # within rounding
  assert not sec.differences and sec.compared == 1
  sections.versus('y', inside, 1.3, 2, sec)
  assert sec.differences == [
    "y: ours 1.00 (0.90 to 1.10), the paper 1.30; ours lies below the paper's value for every seed."
  ]
  assert sections.fmt(findings.Stat(2.0, 2.0, 2.0, 1)) == '2.00'
  assert sections.fmt(findings.stat([])) == '-'
