"""Tests of infoflow.plots.representations: cosine-similarity and scatter
figures, layer, epoch and input selection."""

import helpers
import matplotlib

matplotlib.use('Agg')

import numpy as np
import pytest

from infoflow import plots
from infoflow import record


@pytest.mark.parametrize(
  'width, projection', [(1, 'class (jittered)'), (3, '3d'), (6, 'principal components')]
)
def test_scatter_handles_every_width(tmp_path, width, projection):
  run_dir, _ = helpers.write_fake_run(
    tmp_path / 'run', num_epochs=3, num_seeds=1, layers={'T1': width}
  )
  fig = plots.plot_scatter_layers(record.load_run(run_dir))
  assert len(fig.axes) == 3
  if projection == '3d':
    assert fig.axes[0].name == '3d'
  elif width == 1:
    assert fig.axes[0].get_ylabel() == projection
  else:
    assert projection in fig.get_suptitle()


def test_cosine_matrix_is_class_sorted_and_subsampled(tmp_path):
  run_dir, epochs = helpers.write_fake_run(
    tmp_path / 'run', num_epochs=4, num_inputs=300, num_classes=3
  )
  fig = plots.plot_cosine_similarity_matrices(
    record.load_run(run_dir), max_points=90, epochs=[epochs[-1]]
  )
  image = fig.axes[0].get_images()[0].get_array()
  assert image.shape == (90, 90)
  assert '90 of 300 inputs' in fig.get_suptitle()
  # Late in training classes are tight: within-class blocks near 1.
  assert np.mean(image[:30, :30]) > 0.9


def test_stratified_subsample():
  labels = np.repeat([0, 1, 2], [700, 200, 100])
  keep = plots.stratified_subsample(labels, 100, seed=3)
  assert len(keep) == 100 and np.all(np.diff(keep) > 0)
  assert np.bincount(labels[keep]).tolist() == [70, 20, 10]
  np.testing.assert_array_equal(keep, plots.stratified_subsample(labels, 100, 3))
  np.testing.assert_array_equal(plots.stratified_subsample(labels, 5000), np.arange(1000))


def test_pick_layer():
  arrays = {
    'labels': np.zeros(4),
    'a': np.zeros((4, 5)),
    'b': np.zeros((4, 2)),
    'c': np.zeros((4, 1)),
  }
  assert plots.pick_layer(arrays) == 'b'  # deepest of width > 1
  assert plots.pick_layer(arrays, narrowest=True) == 'c'
  assert plots.pick_layer(arrays, order=['c', 'b', 'a']) == 'a'
  assert plots.pick_layer(arrays, 'c') == 'c'
  with pytest.raises(plots.UnknownLayerError, match="unknown layer 'z'; the layers: a, b, c"):
    plots.pick_layer(arrays, 'z')
  # A layer of the net that has no saved representations (too wide).
  with pytest.raises(
    plots.UnknownLayerError, match="'w' has no saved representations.*saved: a, b"
  ):
    plots.pick_layer(arrays, 'w', order=['w', 'a', 'b', 'c'])


def test_representation_figures_accept_mappings_and_feature_maps():
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(3), 20).astype(np.int32)
  snapshots = {
    e: {'labels': labels, 'conv': rng.normal(size=(60, 2, 2, 3)).astype(np.float32)}
    for e in (0, 10)
  }
  fig = plots.plot_cosine_similarity_matrices(snapshots, title='maps')
  assert fig.axes[0].get_images()[0].get_array().shape == (60, 60)
  assert fig.get_suptitle().startswith('maps: conv')
  fig = plots.plot_scatter_layers(snapshots)
  assert 'conv (d=12), first two principal components' in fig.get_suptitle()
  assert snapshots[0]['conv'].ndim == 4  # the input is not modified


def test_pick_epochs():
  assert plots.pick_epochs([0, 1, 3, 10, 30]) == [0, 3, 30]
  assert plots.pick_epochs([0, 1, 3, 10, 30], [10, 29, 1000]) == [10, 30]
  with pytest.raises(plots.NothingToPlot, match='no representation files'):
    plots.pick_epochs([])
