"""Tests of infoflow.data.mnist (IDX parsing, on tiny files written here) and of
launch.download_mnist's checksum helpers.

Full MNIST is read from the shared data folder next to the repository
(``<repo>/../shared/data/mnist``) and the tests using it are skipped when it
is absent. Nothing here downloads.
"""

from __future__ import annotations

import gzip
import hashlib
from pathlib import Path
import shutil
import struct
import time

import numpy as np
import pytest

from infoflow import data as D
from infoflow.data import DataFormatError
from infoflow.data import DataNotFoundError

SHARED_DATA = Path(__file__).resolve().parents[3] / 'shared' / 'data'
MNIST_DIR = SHARED_DATA / 'mnist'

needs_mnist = pytest.mark.skipif(
  not all((MNIST_DIR / f'{name}.gz').is_file() for name in D.mnist.FILES.values()),
  reason=f'MNIST IDX .gz files absent from {MNIST_DIR}',
)


N_TRAIN, N_TEST = 7, 3


def _images_bytes(n: int, rows: int = 28, cols: int = 28, magic: int = 0x803) -> bytes:
  pixels = np.repeat((np.arange(n, dtype=np.uint8) * 30)[:, None], rows * cols, axis=1)
  pixels[:, 0] = 255  # One full-intensity pixel per image: unit scale must reach exactly 1.
  return struct.pack('>IIII', magic, n, rows, cols) + pixels.tobytes()


def _labels_bytes(n: int, magic: int = 0x801, labels=None) -> bytes:
  labels = np.arange(n) % 10 if labels is None else np.asarray(labels)
  return struct.pack('>II', magic, n) + labels.astype(np.uint8).tobytes()


def _write_mnist(directory: Path, gz: bool = False, **replace: bytes) -> dict[str, Path]:
  """Writes a tiny valid MNIST (7 train, 3 test); ``replace`` swaps a file's bytes."""
  directory.mkdir(parents=True, exist_ok=True)
  content = dict(
    train_images=_images_bytes(N_TRAIN),
    train_labels=_labels_bytes(N_TRAIN),
    test_images=_images_bytes(N_TEST),
    test_labels=_labels_bytes(N_TEST),
  )
  content.update(replace)
  paths = {}
  for key, blob in content.items():
    name = D.mnist.FILES[key]
    paths[key] = directory / (f'{name}.gz' if gz else name)
    paths[key].write_bytes(gzip.compress(blob) if gz else blob)
  return paths


@pytest.mark.parametrize('gz', [False, True])
def test_mnist_tiny_raw_and_gz(tmp_path, gz):
  _write_mnist(tmp_path, gz=gz)
  ds = D.load_mnist(tmp_path)
  assert ds.x_train.shape == (N_TRAIN, 28, 28, 1) and ds.x_test.shape == (N_TEST, 28, 28, 1)
  assert ds.x_train.dtype == np.float32 and ds.y_train.dtype == np.int32
  assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0
  assert np.allclose(ds.x_train[:, 5, 5, 0], np.arange(N_TRAIN) * 30 / 255)
  assert ds.y_train.tolist() == list(range(N_TRAIN)) and ds.y_test.tolist() == [0, 1, 2]
  assert ds.x_all.shape == (N_TRAIN + N_TEST, 28, 28, 1)
  assert str(tmp_path) in ds.source and ds.x_val is None


def test_mnist_lookup_subfolder_env_and_raw_preference(tmp_path, monkeypatch):
  _write_mnist(tmp_path / 'root' / 'mnist')
  assert D.load_mnist(tmp_path / 'root').y_train.tolist() == list(range(N_TRAIN))
  monkeypatch.setenv(D.DATA_DIR_ENV, str(tmp_path / 'root'))  # Default: $INFOFLOW_DATA_DIR/mnist.
  assert str(tmp_path / 'root' / 'mnist') in D.load_mnist().source
  # Raw and .gz both present: the raw file is read.
  _write_mnist(
    tmp_path / 'root' / 'mnist', gz=True, train_labels=_labels_bytes(N_TRAIN, labels=[9] * N_TRAIN)
  )
  assert D.load_mnist().y_train.tolist() == list(range(N_TRAIN))


def test_mnist_standard_scale_and_validation(tmp_path):
  _write_mnist(tmp_path)
  ds = D.load_mnist(tmp_path, scale='standard', validation_size=2, seed=0)
  assert abs(float(ds.x_train.mean())) < 1e-5 and abs(float(ds.x_train.std()) - 1) < 1e-5
  assert ds.x_val.shape == (2, 28, 28, 1) and ds.y_val.shape == (2,)
  assert 'validation_size=2' in ds.source and 'standardized' in ds.source
  # Each tiny image has a distinct label: validation and train rows are disjoint, union all.
  assert not set(ds.y_val) & set(ds.y_train)
  assert sorted([*ds.y_val, *ds.y_train]) == list(range(N_TRAIN))
  same = D.load_mnist(tmp_path, validation_size=2, seed=0)
  assert np.array_equal(same.y_val, ds.y_val)
  with pytest.raises(ValueError, match='validation_size'):
    D.load_mnist(tmp_path, validation_size=N_TRAIN)
  with pytest.raises(ValueError, match='scale'):
    D.load_mnist(tmp_path, scale='minmax')


@pytest.mark.parametrize('gz', [False, True])
@pytest.mark.parametrize(
  'key, blob, message',
  [
    (
      'train_images',
      _images_bytes(N_TRAIN, magic=0x801),
      'magic number 0x00000801, expected 0x00000803',
    ),
    (
      'test_labels',
      _labels_bytes(N_TEST, magic=0x803),
      'magic number 0x00000803, expected 0x00000801',
    ),
    ('train_images', _images_bytes(N_TRAIN)[:-5], 'truncated'),
    ('test_labels', _labels_bytes(N_TEST)[:-1], 'truncated'),
    ('train_images', _images_bytes(N_TRAIN) + b'\0', 'trailing bytes'),
    ('train_labels', _labels_bytes(N_TRAIN) + b'\0\0', 'trailing bytes'),
    (
      'train_labels',
      _labels_bytes(N_TRAIN - 1),
      f'has {N_TRAIN} images but .* has {N_TRAIN - 1} labels',
    ),
    ('test_images', _images_bytes(N_TEST, rows=27), '27x28, expected 28x28'),
    (
      'train_labels',
      _labels_bytes(N_TRAIN, labels=[0, 1, 2, 10, 4, 5, 6]),
      'label 10 out of range',
    ),
    ('test_images', b'\0\0\x08', 'shorter than the 16-byte'),
  ],
)
def test_mnist_corrupt_files(tmp_path, gz, key, blob, message):
  paths = _write_mnist(tmp_path, gz=gz, **{key: blob})
  with pytest.raises(DataFormatError, match=message) as e:
    D.load_mnist(tmp_path)
  assert paths[key].name in str(e.value)


def test_mnist_corrupt_gzip_stream(tmp_path):
  paths = _write_mnist(tmp_path, gz=True)
  blob = paths['train_images'].read_bytes()
  paths['train_images'].write_bytes(blob[: len(blob) // 2])  # Cut mid-stream.
  with pytest.raises(DataFormatError, match='corrupt gzip') as e:
    D.load_mnist(tmp_path)
  assert str(paths['train_images']) in str(e.value)
  paths['test_labels'].write_bytes(b'plain bytes, not gzip')
  with pytest.raises(DataFormatError, match='corrupt gzip'):
    D.read_idx(paths['test_labels'], 'labels')


def test_mnist_missing_files(tmp_path):
  with pytest.raises(DataNotFoundError) as e:
    D.load_mnist(tmp_path / 'nowhere')
  msg = str(e.value)
  assert isinstance(e.value, FileNotFoundError)
  assert str(tmp_path / 'nowhere') in msg and str(tmp_path / 'nowhere' / 'mnist') in msg
  assert 'does not exist' in msg
  assert 'python -m launch.download_mnist --data_dir=' in msg
  assert '$INFOFLOW_DATA_DIR/mnist' in msg
  paths = _write_mnist(tmp_path / 'partial')
  paths['test_labels'].unlink()
  with pytest.raises(DataNotFoundError, match='lacks t10k-labels-idx1-ubyte'):
    D.load_mnist(tmp_path / 'partial')
  with pytest.raises(DataNotFoundError, match=str(tmp_path / 'xdg-cache' / 'infoflow' / 'mnist')):
    D.load_mnist()  # Default directory, empty in tests.


@needs_mnist
def test_full_mnist():
  start = time.perf_counter()
  ds = D.load_mnist(MNIST_DIR)
  seconds = time.perf_counter() - start
  assert ds.x_train.shape == (60000, 28, 28, 1) and ds.x_test.shape == (10000, 28, 28, 1)
  assert ds.x_train.dtype == np.float32 and ds.y_test.dtype == np.int32
  assert ds.x_train.min() == 0.0 and ds.x_train.max() == 1.0 and ds.x_test.max() == 1.0
  train_counts = np.bincount(ds.y_train, minlength=10)
  test_counts = np.bincount(ds.y_test, minlength=10)
  assert train_counts.sum() == 60000 and test_counts.sum() == 10000
  assert train_counts.tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
  assert test_counts.tolist() == [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]
  assert seconds < 10.0, f'full MNIST took {seconds:.1f} s to load (expected ~1 s)'


# -------------------------------------------------------------------- download helper


def test_download_checksum_helper(tmp_path):
  dl = pytest.importorskip('launch.download_mnist')
  blob = _labels_bytes(5)
  (tmp_path / 'a').write_bytes(blob)
  (tmp_path / 'a.gz').write_bytes(gzip.compress(blob, compresslevel=1))
  sha = hashlib.sha256(blob).hexdigest()
  assert dl.content_sha256(tmp_path / 'a') == sha == dl.content_sha256(tmp_path / 'a.gz')
  assert dl.verify_file(tmp_path / 'a.gz', sha.upper())
  assert not dl.verify_file(tmp_path / 'a', '0' * 64)
  (tmp_path / 'b.gz').write_bytes(b'not gzip')
  assert not dl.verify_file(tmp_path / 'b.gz', sha)
  assert not dl.verify_file(tmp_path / 'missing', sha)


@needs_mnist
def test_download_skips_verified_files_without_network(tmp_path, monkeypatch):
  dl = pytest.importorskip('launch.download_mnist')
  for name in dl.CONTENT_SHA256:  # The shared (recompressed) copies verify by content.
    shutil.copy(MNIST_DIR / f'{name}.gz', tmp_path)
  fetched = []
  monkeypatch.setattr(dl, '_fetch', lambda name, target: fetched.append(name))
  raw_bad = tmp_path / 't10k-labels-idx1-ubyte'
  raw_bad.write_bytes(b'bad')  # A bad raw file would shadow the good .gz: moved aside.
  report = dl.download(tmp_path)
  assert fetched == [] and sum(line.startswith('kept') for line in report) == 4
  assert not raw_bad.exists() and (tmp_path / 't10k-labels-idx1-ubyte.corrupt').exists()
  (tmp_path / 'train-labels-idx1-ubyte.gz').write_bytes(gzip.compress(b'wrong'))
  dl.download(tmp_path)
  assert fetched == ['train-labels-idx1-ubyte']
