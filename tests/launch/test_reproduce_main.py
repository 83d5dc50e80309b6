"""Tests of the reproduction command (launch/reproduce.py): a smoke-sized
reproduction end to end, in this process, and the one-line error of a real
process."""

import pathlib
import re

import helpers
import matplotlib

matplotlib.use('Agg')

from launch import reproduce

# A seconds-long setting: every run shrunk (not the paper's settings).
TINY = ('num_epochs=30', 'analysis.num_points=3', 'writers=()')


def _images(text: str, workdir: pathlib.Path) -> list[pathlib.Path]:
  return [workdir / p for p in re.findall(r'!\[[^\]]*\]\(([^)]+)\)', text)]


def test_reproduce_end_to_end_then_reuses_the_finished_run(tmp_path, call_main, capsys):
  """The command trains the runs, writes report.md with the findings table
  and figures; run again, it reuses the finished run."""
  tiny = [f'--override={o}' for o in TINY]
  args = [f'--workdir={tmp_path}', '--experiment=minimal_tanh', '--num_seeds=2', *tiny]
  assert call_main(reproduce, *args) is None
  assert capsys.readouterr().out == f'wrote {tmp_path / "report.md"}\n'
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
  assert call_main(reproduce, *args) is None
  assert '| reused (finished before) |' in (tmp_path / 'report.md').read_text()


def test_bad_experiment_is_one_line_error(tmp_path):
  result = helpers.run_main('reproduce', f'--workdir={tmp_path}', '--experiment=szt,nope')
  helpers.assert_one_line_error(
    result, 'launch.reproduce', 'unknown experiment(s) nope; known: szt, szt_relu'
  )
