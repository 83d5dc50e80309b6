"""Tests of the plot command (launch/plot.py): what it prints, its one-line
errors and exit status, --animate."""

import shutil

import helpers
import matplotlib

matplotlib.use('Agg')

from PIL import Image
import pytest

from infoflow import record
from launch import plot

ANIMATED_EPOCHS = helpers.fake_run_epochs(8)


def _small_run(path, **kwargs):
  """A one-seed synthetic run without binning or clustering (fewer figures)."""
  return helpers.write_fake_run(
    path,
    num_epochs=len(ANIMATED_EPOCHS),
    num_seeds=1,
    with_binning=False,
    with_clustering=False,
    **kwargs,
  )[0]


def _frames(path):
  with Image.open(path) as image:
    assert image.format == 'GIF'
    return image.n_frames


def test_main_prints_files_written(tmp_path, capsys, call_main):
  run_dir = _small_run(tmp_path / 'run', with_information=False)
  assert call_main(plot, f'--workdir={run_dir}', '--format=png', '--dpi=50') is None
  out = capsys.readouterr().out
  assert f'wrote 3 figure(s) to {run_dir / "figures"}' in out
  assert 'scatter_T2.png' in out
  assert 'skipped information_curves: no "information" field' in out
  assert not list((run_dir / 'figures').glob('*.gif'))  # no --animate


@pytest.mark.parametrize(
  'case, message', [('missing_dir', 'does not exist'), ('empty_metrics', 'is empty')]
)
def test_main_exits_with_clear_error(tmp_path, case, message, call_main):
  workdir = tmp_path / 'nope'
  if case == 'empty_metrics':
    workdir.mkdir()
    (workdir / 'metrics.jsonl').write_text('')
  error = call_main(plot, f'--workdir={workdir}')
  assert error.startswith('launch.plot: error: ') and message in error and str(workdir) in error


def test_out_that_is_a_file_is_a_one_line_error(tmp_path, call_main):
  """Item 12: --out that is a file: one line naming it, no traceback."""
  run_dir = _small_run(tmp_path / 'run', with_information=False)
  a_file = tmp_path / 'file'
  a_file.write_text('x')
  error = call_main(plot, f'--workdir={run_dir}', f'--out={a_file / "figures"}')
  assert error.startswith(f'launch.plot: error: cannot create the output directory {a_file}')


def test_command_line_exit_status(tmp_path):
  result = helpers.run_main('plot', f'--workdir={tmp_path}', timeout=120)
  helpers.assert_one_line_error(result, 'launch.plot', f'{tmp_path} has no metrics.jsonl')


def test_animate_writes_a_frame_per_epoch(tmp_path, capsys, call_main):
  workdir = _small_run(tmp_path / 'run', layers={'T1': 4, 'T2': 3}, num_inputs=120)
  assert call_main(plot, f'--workdir={workdir}', '--animate', '--dpi=40', '--layer=T1') is None
  out = capsys.readouterr().out
  figures = workdir / 'figures'
  for name in ('scatter_T1.gif', 'information_plane.gif'):
    assert str(figures / name) in out
    assert _frames(figures / name) == len(ANIMATED_EPOCHS)
  assert (figures / 'scatter_T1.png').exists()


@pytest.mark.slow
def test_a_real_run_animates(tiny_run, tmp_path, call_main):
  """The 'tiny' config's run (what `launch.train --config=tiny` writes)
  through the command."""
  workdir = tmp_path / 'tiny'
  shutil.copytree(tiny_run[0], workdir)
  assert call_main(plot, f'--workdir={workdir}', '--animate', '--dpi=40') is None
  run = record.load_run(workdir)
  gifs = sorted((workdir / 'figures').glob('*.gif'))
  plane = workdir / 'figures' / 'information_plane.gif'
  epochs = sorted({r['epoch'] for r in run.records if 'information' in r})
  assert _frames(plane) == len(epochs)
  scatter = [p for p in gifs if p.name.startswith('scatter_')]
  assert len(scatter) == 1 and _frames(scatter[0]) == len(run.snapshots)


@pytest.mark.parametrize('args', [(), ('--animate',), ('--layer=T1',), ('--animate', '--layer=T1')])
def test_a_layer_name_that_climbs_out_is_refused(tmp_path, call_main, args):
  """Issue 22 row 21: a run record whose run.json and npz files name a layer
  `x/../../../PWNED`: one line naming the file and the name; nothing is
  written (it used to write tmp_path/PWNED.png and exit 0)."""
  run_dir = _small_run(tmp_path / 'run')
  bad = 'x/../../../PWNED'
  helpers.plant_layer_name(run_dir, bad)
  error = call_main(plot, f'--workdir={run_dir}', '--dpi=30', *args)
  assert error.startswith(f"launch.plot: error: {run_dir / 'run.json'}: layer name '{bad}'")
  assert 'is not allowed' in error and '\n' not in error
  assert not [p for p in tmp_path.rglob('*') if p.is_file() and p.suffix in ('.png', '.gif')]


def _non_object_run_json(run_dir):
  (run_dir / 'run.json').write_text('[1, 2]')


def _non_utf8_metrics_line(run_dir):
  metrics = run_dir / 'metrics.jsonl'
  lines = metrics.read_bytes().splitlines()
  metrics.write_bytes(b'\n'.join([lines[0], b'{"epoch": 1, "x": "\xff"}', *lines[1:]]) + b'\n')


@pytest.mark.parametrize(
  'args, spoil, message',
  [
    (['--layer=../T1'], None, "--layer: layer name '../T1' is not allowed"),
    (['--dpi=0'], None, '--dpi must be an integer from 10 to 1000; got 0.'),
    (['--dpi=100000'], None, '--dpi must be an integer from 10 to 1000; got 100000.'),
    ([], _non_object_run_json, 'run.json must hold a JSON object {...}; it holds an array'),
    ([], _non_utf8_metrics_line, 'metrics.jsonl, line 2: invalid UTF-8'),
  ],
)
def test_bad_flags_and_malformed_records_are_one_line_errors(
  tmp_path, call_main, args, spoil, message
):
  """Issue 22 rows 17, 18: --dpi out of range (it was a ValueError or a
  MemoryError traceback), a run.json that is not an object (AttributeError),
  bytes that are not UTF-8 in metrics.jsonl (UnicodeDecodeError), an unsafe
  --layer: one line `launch.plot: error: ...`; nothing drawn."""
  run_dir = _small_run(tmp_path / 'run', with_representations=False)
  if spoil:
    spoil(run_dir)
  error = call_main(plot, f'--workdir={run_dir}', *args)
  assert error.startswith('launch.plot: error: ') and message in error, error
  assert not (run_dir / 'figures').exists()
