"""Tests of infoflow.data.toy: the minimal tanh and leaky-ReLU data sets."""

import numpy as np

from infoflow import data as D
from infoflow.data import toy


def test_minimal_tanh():
  ds = D.minimal_tanh()
  assert ds.x_train.shape == (4, 1) and ds.x_train.ravel().tolist() == [-3, -1, 1, 3]
  assert ds.y_train.tolist() == [0, 0, 0, 1]
  assert ds.targets_train.ravel().tolist() == [-1, -1, -1, 1]
  assert np.array_equal(ds.x_test, ds.x_train) and ds.x_all.shape == (4, 1)
  assert ds.num_classes == 2 and ds.targets_train.dtype == np.float32


def test_minimal_lrelu():
  ds = D.minimal_lrelu()
  assert ds.x_train.shape == (8, 1) and ds.x_train.ravel().tolist() == list(range(1, 9))
  assert ds.y_train.tolist() == [0] * 4 + [1] * 4
  assert ds.targets_train.ravel().tolist() == [0.0] * 4 + [0.25] * 4
  assert ds.x_all.shape == (8, 1) and ds.y_all.tolist() == ds.y_train.tolist()


def test_target_widths_are_those_of_the_data_sets():
  """`toy.TARGET_WIDTHS` (what a net without a readout must end in, and the
  data sets `loss = 'mse'` accepts) names every toy data set with its
  regression target width."""
  assert set(toy.TARGET_WIDTHS) == {'minimal_tanh', 'minimal_lrelu'}
  for name, width in toy.TARGET_WIDTHS.items():
    ds = D.load_dataset(name)
    assert ds.targets_train.shape == (len(ds.x_train), width), name
