"""Tests of infoflow.data: the common Dataset form, SZT, the toys, MNIST IDX parsing.

Real data (the SZT .mat file, full MNIST) are read from the shared data folder
next to the repository (``<repo>/../shared/data``) and the tests using them are
skipped when it is absent. Nothing here downloads.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib
import itertools
from pathlib import Path
import shutil
import struct
import sys
import time

import numpy as np
import pytest

from infoflow import data as D
from infoflow.data import DataFormatError
from infoflow.data import DataNotFoundError
from infoflow.data import Dataset

SHARED_DATA = Path(__file__).resolve().parent.parent.parent / 'shared' / 'data'
SZT_FILE = SHARED_DATA / 'szt_var_u.mat'
MNIST_DIR = SHARED_DATA / 'mnist'

needs_szt_file = pytest.mark.skipif(
  not SZT_FILE.is_file(), reason=f'original SZT file absent: {SZT_FILE}'
)
needs_mnist = pytest.mark.skipif(
  not all((MNIST_DIR / f'{name}.gz').is_file() for name in D.mnist.FILES.values()),
  reason=f'MNIST IDX .gz files absent from {MNIST_DIR}',
)


@pytest.fixture(autouse=True)
def _isolated_data_dir(monkeypatch, tmp_path):
  """No test may read the user's real cache: point every default somewhere empty."""
  monkeypatch.delenv(D.DATA_DIR_ENV, raising=False)
  monkeypatch.setenv('XDG_CACHE_HOME', str(tmp_path / 'xdg-cache'))


# --------------------------------------------------------------------------- Dataset


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


# ------------------------------------------------------------------------------- SZT


def test_szt_patterns_are_integers_in_order():
  p = D.szt_patterns()
  assert p.shape == (4096, 12) and p.dtype == np.uint8
  assert len(np.unique(p, axis=0)) == 4096
  assert np.array_equal(D.pattern_codes(p), np.arange(4096))
  assert p[1].tolist() == [0] * 11 + [1] and p[2048].tolist() == [1] + [0] * 11  # Bit 0 = MSB.


def _counts_by_k(labels: np.ndarray) -> dict[int, int]:
  k = D.szt_patterns().sum(axis=1)
  return {kk: int(labels[k == kk].sum()) for kk in range(13)}


def test_generator_popcount_rule_counts_and_permutation_symmetry():
  p = D.szt_patterns()
  y = D.generate_szt_labels(rule='popcount')
  assert y.dtype == np.int32 and y.shape == (4096,)
  assert int(y.sum()) == 2510 and int((y == 0).sum()) == 1586
  assert np.array_equal(y, (p.sum(1) >= 6).astype(np.int32))
  rng = np.random.default_rng(0)
  for _ in range(5):  # Any permutation of bit columns leaves every label unchanged.
    assert np.array_equal(D.generate_szt_labels(p[:, rng.permutation(12)], rule='popcount'), y)


def test_generator_icosahedral_rule_matches_stated_fractions():
  p = D.szt_patterns()
  y = D.generate_szt_labels(rule='icosahedral')
  assert int(y.sum()) == 2118 and int((y == 0).sum()) == 1978
  counts = _counts_by_k(
    y
  )  # docs/method.md, section 7: k<=4 -> 0, k>=8 -> 1, k=5,6,7: 7.6%, 57.6%, 92.4% ones.
  assert all(counts[k] == 0 for k in range(5))
  assert [counts[k] for k in (5, 6, 7)] == [60, 532, 732]  # Of 792, 924, 792.
  assert all(counts[k] == len(list(itertools.combinations(range(12), k))) for k in range(8, 13))
  # Central inversion is a symmetry of the icosahedron ...
  antipode = list(importlib.import_module('infoflow.data.szt')._ANTIPODE)
  assert np.array_equal(D.generate_szt_labels(p[:, antipode], rule='icosahedral'), y)
  swap = [1, 0] + list(range(2, 12))  # ... but swapping two neighbours is not.
  assert not np.array_equal(D.generate_szt_labels(p[:, swap], rule='icosahedral'), y)


def test_generator_rejects_bad_input():
  with pytest.raises(ValueError, match='Unknown SZT rule'):
    D.generate_szt_labels(rule='hash')
  with pytest.raises(ValueError, match='0/1 of shape'):
    D.generate_szt_labels(np.full((2, 12), 2))


@needs_szt_file
def test_load_szt_original_file():
  x, y = D.load_szt(SZT_FILE)
  assert x.shape == (4096, 12) and x.dtype == np.float32 and set(np.unique(x)) == {0.0, 1.0}
  assert len(np.unique(x, axis=0)) == 4096
  assert int(y.sum()) == 2118 and int((y == 0).sum()) == 1978
  assert np.array_equal(D.pattern_codes(x), np.arange(4096))  # File order = integer order.


@needs_szt_file
@pytest.mark.parametrize('rule, agreement', [('popcount', 3584), ('icosahedral', 4096)])
def test_generator_agreement_with_original(rule, agreement):
  x, y = D.load_szt(SZT_FILE)
  generated = D.generate_szt_labels(rule=rule)
  # Match patterns by bit content (their integer code), not by row order.
  assert int((generated[D.pattern_codes(x)] == y).sum()) == agreement


@needs_szt_file
def test_szt_uses_file_when_present():
  ds = D.szt(SZT_FILE.parent)
  assert ds.source.startswith(f'file: {SZT_FILE}')
  x, y = D.load_szt(SZT_FILE)
  assert np.array_equal(ds.x_all, x) and np.array_equal(ds.y_all, y)


def _write_mat(path: Path, **arrays) -> Path:
  scipy_io = pytest.importorskip('scipy.io')
  scipy_io.savemat(str(path), arrays)
  return path


@pytest.mark.parametrize(
  'arrays, message',
  [
    (dict(F=D.szt_patterns()), r"missing key\(s\) \['y'\]"),
    (dict(F=D.szt_patterns()[:100], y=np.zeros((1, 100), np.uint8)), r'F has shape \(100, 12\)'),
    (dict(F=D.szt_patterns(), y=np.zeros((2, 4096), np.uint8)), 'y has shape'),
    (dict(F=D.szt_patterns() * 2, y=np.zeros((1, 4096), np.uint8)), 'F has values other than 0/1'),
    (dict(F=D.szt_patterns(), y=np.full((1, 4096), 3, np.uint8)), 'y has values other than 0/1'),
    (
      dict(F=np.repeat(D.szt_patterns()[:2048], 2, axis=0), y=np.zeros((1, 4096), np.uint8)),
      '2048 distinct rows',
    ),
  ],
)
def test_load_szt_rejects_malformed(tmp_path, arrays, message):
  path = _write_mat(tmp_path / 'szt_var_u.mat', **arrays)
  with pytest.raises(DataFormatError, match=message) as e:
    D.load_szt(path)
  assert str(path) in str(e.value)


def test_load_szt_missing_and_garbage(tmp_path):
  pytest.importorskip('scipy.io')
  with pytest.raises(DataNotFoundError, match='szt_var_u.mat'):
    D.load_szt(tmp_path / 'szt_var_u.mat')
  (tmp_path / 'szt_var_u.mat').write_bytes(b'not a mat file at all' * 10)
  with pytest.raises(DataFormatError, match='not a readable MATLAB'):
    D.load_szt(tmp_path / 'szt_var_u.mat')
  with pytest.raises(DataFormatError):  # A corrupt file is an error, not a silent fallback.
    D.szt(tmp_path)


def test_load_szt_without_scipy_says_how_to_install(tmp_path, monkeypatch):
  monkeypatch.setitem(sys.modules, 'scipy.io', None)  # Makes `import scipy.io` fail.
  with pytest.raises(ImportError, match='pip install scipy'):
    D.load_szt(tmp_path / 'szt_var_u.mat')


def test_szt_generated_split(tmp_path):
  ds = D.szt(tmp_path)  # No file there: generated labels.
  assert ds.source.startswith('generated: icosahedral rule') and str(tmp_path) in ds.source
  assert ds.x_train.shape == (3277, 12) and ds.x_test.shape == (819, 12)
  assert (
    np.array_equal(ds.x_all, D.szt_patterns())
    and ds.y_all.tolist() == D.generate_szt_labels().tolist()
  )
  assert not set(ds.index_train) & set(ds.index_test)
  assert sorted(np.concatenate([ds.index_train, ds.index_test])) == list(range(4096))
  assert np.array_equal(ds.x_train, D.szt_patterns()[ds.index_train])
  again, other = D.szt(tmp_path), D.szt(tmp_path, seed=1)
  assert np.array_equal(again.index_test, ds.index_test)
  assert not np.array_equal(other.index_test, ds.index_test)
  pop = D.szt(tmp_path, rule='popcount', test_fraction=0.0)
  assert len(pop.x_test) == 0 and int(pop.y_all.sum()) == 2510
  with pytest.raises(DataNotFoundError):
    D.szt(tmp_path, require_file=True)
  with pytest.raises(ValueError, match='test_fraction'):
    D.szt(tmp_path, test_fraction=1.0)


def test_szt_honours_env_data_dir(monkeypatch, tmp_path):
  monkeypatch.setenv(D.DATA_DIR_ENV, str(tmp_path / 'env'))
  assert str(tmp_path / 'env' / 'szt_var_u.mat') in D.szt().source
  if SZT_FILE.is_file():
    (tmp_path / 'env').mkdir()
    shutil.copy(SZT_FILE, tmp_path / 'env')
    assert D.szt().source.startswith('file: ')


# ------------------------------------------------------------------------------ toys


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


def test_load_dataset_by_name(tmp_path):
  assert D.load_dataset('minimal_tanh').name == 'minimal_tanh'
  assert D.load_dataset('szt', tmp_path, seed=3).name == 'szt'
  with pytest.raises(ValueError, match='Unknown data set'):
    D.load_dataset('cifar')


# ----------------------------------------------------------------------------- MNIST

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
