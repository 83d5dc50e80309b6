"""Tests of infoflow/samples_file.py (reading launch.estimate's samples
file); the command itself is tested in tests/launch/test_estimate_main.py."""

import numpy as np
import pytest

from infoflow import samples_file


def _write(path, labels):
  samples = np.random.default_rng(0).normal(size=(3, 2, 2)).astype(np.float32)
  np.savez(path, T1=samples, labels=labels)
  return path


@pytest.mark.parametrize('big', [2**31, 2**32, 2**40])
def test_labels_beyond_int32_raise_naming_the_labels(tmp_path, big):
  # Issue 22 row 7: int64 labels holding 2**32 were cast to int32 (2**32 became
  # class 0): launch.estimate then reported a wrong I(T;Y) with exit status 0.
  path = _write(tmp_path / 's.npz', np.array([0, 1, big], np.int64))
  with pytest.raises(samples_file.EstimateInputError, match=f"labels 'labels' of .*{big}"):
    samples_file.read_samples(path)


def test_labels_up_to_int32_are_read(tmp_path):
  labels = np.array([0, 2**31 - 1, 5], np.int64)
  layers, read, source, _ = samples_file.read_samples(_write(tmp_path / 's.npz', labels))
  assert read.dtype == np.int32 and read.tolist() == labels.tolist()
  assert list(layers) == ['T1'] and source.startswith("labels 'labels'")
