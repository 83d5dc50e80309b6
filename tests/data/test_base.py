"""Tests of infoflow.data.base (the common Dataset form, the default data
directory) and of `infoflow.data.load_dataset`."""

from __future__ import annotations

import numpy as np
import pytest

from infoflow import data as D
from infoflow.data import Dataset


def _small(**overrides) -> dict:
  kw = dict(
    name='t',
    x_train=np.zeros((3, 2), np.float32),
    y_train=np.array([0, 1, 1]),
    x_test=np.zeros((0, 2), np.float32),
    y_test=np.zeros(0, np.int32),
    num_classes=2,
    source='generated: test',
  )
  kw.update(overrides)
  return kw


def test_dataset_normalises_dtypes_and_concatenates():
  ds = Dataset(**_small(x_train=np.ones((3, 2), np.float64), y_train=np.array([0, 1, 1], np.int64)))
  assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
  assert ds.input_shape == (2,)
  assert ds.x_all.shape == (3, 2) and ds.y_all.tolist() == [0, 1, 1]
  assert ds.x_val is None and ds.targets_train is None


@pytest.mark.parametrize(
  'overrides, message',
  [
    (dict(y_train=np.array([0, 1])), r'y_train must have shape \(3,\)'),
    (dict(y_train=np.array([0, 2, 1])), r'\[0, 2\)'),
    (dict(y_train=np.array([0, -1, 1])), r'\[0, 2\)'),
    (dict(y_train=np.array([0.0, 1.0, 1.0])), 'integer class indices'),
    (dict(x_train=np.array([[0, 1], [np.nan, 0], [0, np.inf]])), '2 non-finite'),
    (dict(x_test=np.zeros((1, 3))), 'x_test rows have shape'),
    (dict(num_classes=0), 'num_classes must be >= 1'),
    (dict(source=''), 'source must be a non-empty'),
    (dict(targets_train=np.zeros((3, 1))), 'given together'),
    (dict(targets_train=np.zeros((2, 1)), targets_test=np.zeros((0, 1))), r'\(3, k\)'),
    (dict(x_val=np.zeros((1, 2))), 'x_val and y_val'),
    (dict(index_train=np.array([0, 1, 2]), index_test=np.zeros(0, int)), None),
    (dict(index_train=np.array([0, 1, 3]), index_test=np.zeros(0, int)), 'uncovered'),
    (dict(index_train=np.array([0, 1, 1]), index_test=np.zeros(0, int)), 'repeats'),
  ],
)
def test_dataset_validation(overrides, message):
  if message is None:
    Dataset(**_small(**overrides))
    return
  with pytest.raises(ValueError, match=message):
    Dataset(**_small(**overrides))


def test_dataset_shared_positions_must_hold_same_rows():
  with pytest.raises(ValueError, match='different rows'):
    Dataset(
      **_small(
        x_test=np.ones((1, 2)),
        y_test=np.array([0]),
        index_train=np.array([0, 1, 2]),
        index_test=np.array([1]),
      )
    )


def test_default_data_dir(monkeypatch, tmp_path):
  monkeypatch.setenv(D.DATA_DIR_ENV, str(tmp_path / 'mine'))
  assert D.default_data_dir() == tmp_path / 'mine'
  monkeypatch.delenv(D.DATA_DIR_ENV)
  assert D.default_data_dir() == tmp_path / 'xdg-cache' / 'infoflow'
  monkeypatch.setenv('XDG_CACHE_HOME', 'relative/ignored')  # XDG: relative values are ignored.
  monkeypatch.setenv('HOME', str(tmp_path / 'home'))
  assert D.default_data_dir() == tmp_path / 'home' / '.cache' / 'infoflow'


def test_load_dataset_by_name(tmp_path):
  assert D.load_dataset('minimal_tanh').name == 'minimal_tanh'
  assert D.load_dataset('szt', tmp_path, seed=3).name == 'szt'
  with pytest.raises(ValueError, match='Unknown data set'):
    D.load_dataset('cifar')
