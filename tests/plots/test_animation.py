"""Tests of infoflow.plots.animation (`launch.plot --animate`: tests/launch/test_plot_main.py).

The run records are synthetic, written in the format of docs/run_record.md
by `helpers.write_fake_run`.
"""

import re

import helpers
import matplotlib

matplotlib.use('Agg')

import numpy as np
from PIL import Image
import pytest

from infoflow import plots
from infoflow import record

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
  run = record.load_run(write_run(tmp_path / 'run', {'T1': 8, 'T2': width}))
  path = plots.write_scatter_animation(run, tmp_path / 'scatter.gif')
  assert _frames(path) == len(EPOCHS)
  assert path.stat().st_size < 400_000


def test_information_plane_gif_has_a_frame_per_epoch(tmp_path):
  run = record.load_run(write_run(tmp_path / 'run', num_seeds=2))
  path = plots.write_information_plane_animation(run, tmp_path / 'plane.gif', units='nats')
  assert _frames(path) == len(EPOCHS)


def test_write_animations_names_and_skips(tmp_path):
  run = record.load_run(write_run(tmp_path / 'run', with_information=False))
  written, skipped = plots.write_animations(run, tmp_path)
  assert [p.name for p in written] == ['scatter_T2.gif']
  assert 'information_plane.gif' in skipped
  with pytest.raises(plots.UnknownLayerError, match='T9'):
    plots.write_animations(run, tmp_path, layer='T9')


def test_scatter_skipped_without_representations(tmp_path):
  run = record.load_run(write_run(tmp_path / 'run', with_representations=False))
  written, skipped = plots.write_animations(run, tmp_path)
  assert [p.name for p in written] == ['information_plane.gif']
  assert 'no representation files' in skipped['scatter.gif']


def test_write_animations_refuses_unsafe_names_and_paths(tmp_path):
  """Issue 22 row 21: a layer key that climbs out of `out` is refused, naming
  the file and the name; a GIF name linked out of `out` is refused; nothing
  is written outside."""
  run_dir = write_run(tmp_path / 'run', with_information=False)
  out = tmp_path / 'out'
  (out / 'scatter_x').mkdir(parents=True)
  (out / 'scatter_T2.gif').symlink_to(tmp_path / 'victim.gif')
  with pytest.raises(plots.OutputError, match='scatter_T2.gif: it resolves to'):
    plots.write_animations(record.load_run(run_dir), out)
  bad = 'x/../../PWNED'
  first = sorted((run_dir / 'representations').iterdir())[0]
  with np.load(first) as npz:
    arrays = dict(npz)
  arrays[bad] = arrays.pop('T2')
  np.savez(first, **arrays)
  with pytest.raises(record.RunRecordError, match=re.escape(f"{first}: layer name '{bad}'")):
    plots.write_animations(record.load_run(run_dir), out)
  assert not list(tmp_path.glob('*.gif'))
