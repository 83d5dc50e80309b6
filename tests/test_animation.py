"""Tests of infoflow.plots.animation and `launch.plot --animate`.

The run records are synthetic, written in the format of docs/run_record.md
by `helpers.write_fake_run`.
"""

import pathlib
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
import helpers
import matplotlib

matplotlib.use('Agg')

from PIL import Image
import pytest

from infoflow import plots
from launch import plot as plot_cli

ROOT = pathlib.Path(__file__).resolve().parents[1]
EPOCHS = helpers.fake_run_epochs(8)


def write_run(
  path,
  layers=None,
  *,
  num_inputs=120,
  with_information=True,
  with_representations=True,
  num_seeds=1,
):
  """A synthetic run record (`helpers.write_fake_run`) analysed at EPOCHS:
  metrics for every (epoch, seed), npz files; no binning or clustering."""
  path, epochs = helpers.write_fake_run(
    path,
    num_epochs=len(EPOCHS),
    num_seeds=num_seeds,
    layers=layers or {'T1': 4, 'T2': 3},
    with_information=with_information,
    with_binning=False,
    with_clustering=False,
    with_representations=with_representations,
    num_inputs=num_inputs,
  )
  assert epochs == EPOCHS
  return path


def _frames(path):
  with Image.open(path) as image:
    assert image.format == 'GIF'
    return image.n_frames


@pytest.mark.parametrize('width', [1, 2, 3, 6])
def test_scatter_gif_has_a_frame_per_epoch(tmp_path, width):
  run = plots.load_run(write_run(tmp_path / 'run', {'T1': 8, 'T2': width}))
  path = plots.write_scatter_animation(run, tmp_path / 'scatter.gif')
  assert _frames(path) == len(EPOCHS)
  assert path.stat().st_size < 400_000


def test_information_plane_gif_has_a_frame_per_epoch(tmp_path):
  run = plots.load_run(write_run(tmp_path / 'run', num_seeds=2))
  path = plots.write_information_plane_animation(run, tmp_path / 'plane.gif', units='nats')
  assert _frames(path) == len(EPOCHS)


def test_write_animations_names_and_skips(tmp_path):
  run = plots.load_run(write_run(tmp_path / 'run', with_information=False))
  written, skipped = plots.write_animations(run, tmp_path)
  assert [p.name for p in written] == ['scatter_T2.gif']
  assert 'information_plane.gif' in skipped
  with pytest.raises(plots.UnknownLayerError, match='T9'):
    plots.write_animations(run, tmp_path, layer='T9')


def test_scatter_skipped_without_representations(tmp_path):
  run = plots.load_run(write_run(tmp_path / 'run', with_representations=False))
  written, skipped = plots.write_animations(run, tmp_path)
  assert [p.name for p in written] == ['information_plane.gif']
  assert 'no representation files' in skipped['scatter.gif']


def _main(**flag_values):
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
  with flagsaver.flagsaver(**flag_values):
    plot_cli.main(['plot'])


def test_launch_plot_animate(tmp_path, capsys):
  workdir = write_run(tmp_path / 'run')
  _main(workdir=str(workdir), animate=True, dpi=40, layer='T1')
  out = capsys.readouterr().out
  figures = workdir / 'figures'
  for name in ('scatter_T1.gif', 'information_plane.gif'):
    assert str(figures / name) in out
    assert _frames(figures / name) == len(EPOCHS)
  assert (figures / 'scatter_T1.png').exists()


def test_launch_plot_without_animate_writes_no_gif(tmp_path):
  workdir = write_run(tmp_path / 'run')
  _main(workdir=str(workdir), dpi=40)
  assert not list((workdir / 'figures').glob('*.gif'))


@pytest.mark.slow
def test_tiny_training_run_animates(tmp_path):
  """A real run (launch.train --config=tiny, ~30 s) through the command."""
  workdir = tmp_path / 'tiny'
  for command in (['launch.train', '--config=tiny'], ['launch.plot', '--animate', '--dpi=40']):
    subprocess.run(
      [sys.executable, '-m', *command, f'--workdir={workdir}'],
      cwd=ROOT,
      check=True,
      capture_output=True,
      timeout=600,
    )
  run = plots.load_run(workdir)
  gifs = sorted((workdir / 'figures').glob('*.gif'))
  plane = workdir / 'figures' / 'information_plane.gif'
  epochs = sorted({r['epoch'] for r in run.records if 'information' in r})
  assert _frames(plane) == len(epochs)
  scatter = [p for p in gifs if p.name.startswith('scatter_')]
  assert len(scatter) == 1 and _frames(scatter[0]) == len(run.snapshots)
