"""Tests of the reproduction command (launch/reproduce.py): a smoke-sized
reproduction end to end, in this process, and the one-line error of a real
process."""

import logging
import pathlib
import re

from absl import logging as absl_logging
import helpers
import matplotlib
import pytest

matplotlib.use('Agg')

from launch import reproduce

# A seconds-long setting: every run shrunk (not the paper's settings).
TINY = ('num_epochs=30', 'analysis.num_points=3', 'writers=()')


def _images(text: str, workdir: pathlib.Path) -> list[pathlib.Path]:
  return [workdir / p for p in re.findall(r'!\[[^\]]*\]\(([^)]+)\)', text)]


def test_reproduce_end_to_end_then_reuses_the_finished_run(
  tmp_path, call_main, capsys, caplog, monkeypatch
):
  """The command trains the runs, writes report.md with the findings table
  and figures; run again, it reuses the finished run. Its log keeps orbax's
  INFO lines out (issue 22: they were 1,180 of its 1,800 lines)."""
  tiny = [f'--override={o}' for o in TINY]
  args = [f'--workdir={tmp_path}', '--experiment=minimal_tanh', '--num_seeds=2', *tiny]
  # Undo a filter another main (launch.train) left in this process.
  monkeypatch.setattr(absl_logging.get_absl_logger(), 'filters', [])
  caplog.set_level(logging.INFO)
  assert call_main(reproduce, *args) is None
  assert capsys.readouterr().out == f'wrote {tmp_path / "report.md"}\n'
  assert any('runner.py' in r.pathname for r in caplog.records)  # INFO is logged
  orbax = [r for r in caplog.records if '/orbax/' in r.pathname and r.levelno < logging.WARNING]
  assert not orbax, [r.getMessage() for r in orbax[:3]]
  text = (tmp_path / 'report.md').read_text()
  assert '## minimal_tanh' in text and 'Made by `python -m launch.reproduce' in text
  assert '| seed | at 2.00 bits: epochs (count) | at 1.50 bits: epochs (count) |' in text
  assert '| 1 | ' in text and '**Config overrides**' in text
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


@pytest.mark.parametrize(
  'override, message',
  [
    # Issue 22 row 20: the run and its figures went to /abs/dir, then a traceback.
    ('name=/abs/dir', "override name='/abs/dir' is not allowed"),
    ('name=other', "override name='other' is not allowed"),
    # Issue 22 rows 6 and 9: it trained, then the estimator's traceback / seed 5's run.
    ('analysis.num_mc=1', 'config field analysis.num_mc must be 0 (adaptive) or an integer >= 2'),
    ('seed=4294967301', 'config field seed must be an integer in [0, 2**32)'),
  ],
)
def test_override_refused_before_anything_runs(tmp_path, call_main, override, message):
  outside = tmp_path / 'outside'
  override = override.replace('/abs/dir', str(outside))
  message = message.replace('/abs/dir', str(outside))
  workdir = tmp_path / 'w'
  args = [f'--workdir={workdir}', '--experiment=minimal_tanh', f'--override={override}']
  error = call_main(reproduce, *args, *[f'--override={o}' for o in TINY])
  assert error.startswith(f'launch.reproduce: error: {message}'), error
  assert not workdir.exists() and not outside.exists()
