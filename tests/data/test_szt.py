"""Tests of infoflow.data.szt: the SZT patterns, the label rules, the .mat reader
and the train/test split.

The original SZT .mat file is read from the shared data folder next to the
repository (``<repo>/../shared/data``) and the tests using it are skipped
when it is absent. Nothing here downloads.
"""

from __future__ import annotations

import importlib
import itertools
from pathlib import Path
import shutil
import sys

import numpy as np
import pytest

from infoflow import data as D
from infoflow.data import DataFormatError
from infoflow.data import DataNotFoundError

SHARED_DATA = Path(__file__).resolve().parents[3] / 'shared' / 'data'
SZT_FILE = SHARED_DATA / 'szt_var_u.mat'

needs_szt_file = pytest.mark.skipif(
  not SZT_FILE.is_file(), reason=f'original SZT file absent: {SZT_FILE}'
)


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


SPLIT_FILE = SHARED_DATA / 'IB_data.npz'


def _write_split(directory: Path, train: np.ndarray, test: np.ndarray, labels=None) -> Path:
  """An IB_data.npz in `directory` holding the given pattern indices."""
  x, y = D.szt_patterns(), D.generate_szt_labels() if labels is None else labels
  path = directory / D.AUTHORS_SPLIT_FILENAME
  np.savez(path, X_train=x[train], y_train=y[train], X_test=x[test], y_test=y[test])
  return path


def test_the_authors_split_is_used_when_present(tmp_path):
  """Rows of the split file are found among the patterns whatever their order;
  `split='seeded'` ignores the file, `split='authors'` requires it."""
  rng = np.random.default_rng(5)
  perm = rng.permutation(4096)  # the file's rows in no particular order
  _write_split(tmp_path, perm[:3000], perm[3000:])
  ds = D.szt(tmp_path)
  assert "split: the authors'" in ds.source and '(3000 train, 1096 test)' in ds.source
  assert ds.split == 'authors'  # run.json's data_split
  assert np.array_equal(ds.index_train, np.sort(perm[:3000]))
  assert np.array_equal(ds.x_test, D.szt_patterns()[np.sort(perm[3000:])])
  assert np.array_equal(ds.y_test, D.generate_szt_labels()[np.sort(perm[3000:])])
  seeded = D.szt(tmp_path, split='seeded')
  assert 'split seed=0' in seeded.source and len(seeded.x_test) == 819
  assert seeded.split == 'seeded' and D.minimal_tanh().split is None
  with pytest.raises(DataNotFoundError, match="split='authors'"):
    D.szt(tmp_path / 'empty', split='authors')
  with pytest.raises(ValueError, match='split must be one of'):
    D.szt(tmp_path, split='theirs')


@pytest.mark.parametrize(
  'damage, message',
  [
    ('labels', 'y_train differs from the SZT labels on 1 of'),
    ('duplicate', 'expected the 4096 12-bit patterns once each'),
    ('missing_key', r"missing array\(s\) \['y_test'\]"),
    ('values', 'X_train has values other than 0/1'),
    ('shape', 'X_test has shape'),
    ('garbage', 'not a readable .npz file'),
  ],
)
def test_a_malformed_split_file_is_one_clear_error(tmp_path, damage, message):
  perm = np.arange(4096)
  path = tmp_path / D.AUTHORS_SPLIT_FILENAME
  x, y = D.szt_patterns(), D.generate_szt_labels()
  arrays = dict(X_train=x[:3277], y_train=y[:3277].copy(), X_test=x[3277:], y_test=y[3277:])
  if damage == 'labels':
    arrays['y_train'][0] = 1 - arrays['y_train'][0]
  elif damage == 'duplicate':
    arrays['X_test'], arrays['y_test'] = x[perm[3276:4095]], y[perm[3276:4095]]
  elif damage == 'missing_key':
    del arrays['y_test']
  elif damage == 'values':
    arrays['X_train'] = arrays['X_train'] * 2
  elif damage == 'shape':
    arrays['X_test'] = arrays['X_test'][:, :11]
  np.savez(path, **arrays)
  if damage == 'garbage':
    path.write_bytes(b'PK\x03\x04 not a zip')
  with pytest.raises(DataFormatError, match=message) as error:
    D.szt(tmp_path)
  assert str(path) in str(error.value) and '\n' not in str(error.value)


@pytest.mark.skipif(not SPLIT_FILE.is_file(), reason=f'authors split file absent: {SPLIT_FILE}')
def test_the_authors_split_file_fits_the_label_file():
  """The shared IB_data.npz: 3277 + 819 rows, every pattern once, labels equal
  to szt_var_u.mat's (load_authors_split checks all three)."""
  x, y = D.load_szt(SZT_FILE) if SZT_FILE.is_file() else (D.szt_patterns(), None)
  train, test = D.load_authors_split(SPLIT_FILE, x, y if y is not None else D.generate_szt_labels())
  assert (len(train), len(test)) == (3277, 819)
  ds = D.szt(SHARED_DATA)
  assert np.array_equal(ds.index_test, test) and "split: the authors'" in ds.source
