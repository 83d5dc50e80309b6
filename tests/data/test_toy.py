"""Tests of infoflow.data.toy: the minimal tanh and leaky-ReLU data sets."""

import numpy as np

from infoflow import data as D


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
