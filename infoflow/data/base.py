"""The common form of every data set, its errors, and where data files live.

A :class:`Dataset` holds plain numpy arrays (the trainer moves them to the
device): inputs are float32 of shape ``(n, ...)``, labels are int32 class
indices of shape ``(n,)``. Construction validates shapes, dtypes, label range
and finiteness, so a malformed data set fails where it is built, not deep
inside a jitted training step.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np

from infoflow import checks

DATA_DIR_ENV = 'INFOFLOW_DATA_DIR'


class DataNotFoundError(FileNotFoundError):
  """A data file is absent; the message names where it looked and how to get it."""


class DataFormatError(ValueError):
  """A data file exists but its content is malformed; the message names the file."""


def default_data_dir() -> Path:
  """Returns the directory data files are read from when none is given.

  In order: ``$INFOFLOW_DATA_DIR`` if set and non-empty; else
  ``$XDG_CACHE_HOME/infoflow`` if ``XDG_CACHE_HOME`` is set to an absolute path
  (the XDG spec says to ignore relative values); else ``~/.cache/infoflow``.
  The directory is not created: loaders only read, the download script creates.

  Returns:
    The data directory (may not exist).
  """
  env = os.environ.get(DATA_DIR_ENV, '')
  if env:
    return Path(env).expanduser()
  xdg = os.environ.get('XDG_CACHE_HOME', '')
  if xdg and Path(xdg).is_absolute():
    return Path(xdg) / 'infoflow'
  return Path.home() / '.cache' / 'infoflow'


def _as_inputs(name: str, value: np.ndarray, ndim_min: int = 2) -> np.ndarray:
  """Checks an input array (real, >= ndim_min dims, finite); returns it as float32."""
  return np.asarray(
    checks.check_float_array(
      value, name, min_rank=ndim_min, shape='(n, ...)', dtype=np.float32, allow_empty=True
    )
  )


def _as_labels(name: str, value: np.ndarray, n: int, num_classes: int, rows: str) -> np.ndarray:
  """Checks a label array ((n,), integer, in [0, num_classes)); returns it as int32."""
  labels, _ = checks.check_labels(value, name, num_rows=n, num_classes=num_classes, rows_name=rows)
  return np.asarray(labels)


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
  """A labelled data set split into train / test (and optionally validation).

  Attributes:
    name: short identifier, e.g. ``"szt"``, ``"mnist"``.
    x_train: float32 inputs, shape ``(n_train, ...)``.
    y_train: int32 class labels in ``[0, num_classes)``, shape ``(n_train,)``.
    x_test: float32 inputs, shape ``(n_test, ...)`` (same trailing shape; may have 0 rows).
    y_test: int32 class labels, shape ``(n_test,)``.
    num_classes: number of classes.
    source: where the data came from (file read, or ``"generated: <rule>"``), for run records.
    targets_train: optional float32 regression targets, shape ``(n_train, k)`` (the
      leaky-ReLU toy is trained on a real value, not a class).
    targets_test: same for the test rows; given iff ``targets_train`` is.
    x_val: optional float32 validation inputs held out of the training set
      (``None`` when there is no validation split).
    y_val: int32 validation labels; given iff ``x_val`` is.
    index_train: optional int64 positions of the train rows in the data set's
      original order (finite input sets such as SZT); used by ``x_all``.
    index_test: same for the test rows; given iff ``index_train`` is. Train and
      test may share positions (the toys train and test on all points) if the
      rows there are identical; together they must cover ``0..m-1``.
    split: for a data set with a choice of train/test split, which one the
      rows follow (SZT: ``'authors'``, their split file, or ``'seeded'``;
      run.json's ``data_split``); None for the others.
  """

  name: str
  x_train: np.ndarray
  y_train: np.ndarray
  x_test: np.ndarray
  y_test: np.ndarray
  num_classes: int
  source: str
  targets_train: np.ndarray | None = None
  targets_test: np.ndarray | None = None
  x_val: np.ndarray | None = None
  y_val: np.ndarray | None = None
  index_train: np.ndarray | None = None
  index_test: np.ndarray | None = None
  split: str | None = None

  def __post_init__(self) -> None:
    # Frozen: normalised arrays are stored with object.__setattr__.
    put = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
    if not isinstance(self.name, str) or not self.name:
      raise ValueError(f'name must be a non-empty string, got {self.name!r}.')
    if not isinstance(self.source, str) or not self.source:
      raise ValueError(f'source must be a non-empty string, got {self.source!r}.')
    if self.split is not None and (not isinstance(self.split, str) or not self.split):
      raise ValueError(f'split must be None or a non-empty string, got {self.split!r}.')
    if isinstance(self.num_classes, bool) or not isinstance(self.num_classes, (int, np.integer)):
      raise ValueError(f'num_classes must be an int, got {self.num_classes!r}.')
    if self.num_classes < 1:
      raise ValueError(f'num_classes must be >= 1, got {self.num_classes}.')
    put('num_classes', int(self.num_classes))
    put('x_train', _as_inputs('x_train', self.x_train))
    put('x_test', _as_inputs('x_test', self.x_test))
    feat = self.x_train.shape[1:]
    if self.x_test.shape[1:] != feat:
      raise ValueError(f'x_test rows have shape {self.x_test.shape[1:]}, x_train rows {feat}.')
    for split in ('train', 'test'):
      x = getattr(self, f'x_{split}')
      put(
        f'y_{split}',
        _as_labels(
          f'y_{split}', getattr(self, f'y_{split}'), len(x), self.num_classes, f'x_{split}'
        ),
      )
    if (self.x_val is None) != (self.y_val is None):
      raise ValueError('x_val and y_val must be given together.')
    if self.x_val is not None:
      put('x_val', _as_inputs('x_val', self.x_val))
      if self.x_val.shape[1:] != feat:
        raise ValueError(f'x_val rows have shape {self.x_val.shape[1:]}, x_train rows {feat}.')
      put('y_val', _as_labels('y_val', self.y_val, len(self.x_val), self.num_classes, 'x_val'))
    if (self.targets_train is None) != (self.targets_test is None):
      raise ValueError('targets_train and targets_test must be given together.')
    if self.targets_train is not None:
      for split in ('train', 'test'):
        t = _as_inputs(f'targets_{split}', getattr(self, f'targets_{split}'))
        n = len(getattr(self, f'x_{split}'))
        if t.ndim != 2 or len(t) != n:
          raise ValueError(f'targets_{split} must have shape ({n}, k), got {t.shape}.')
        put(f'targets_{split}', t)
      if self.targets_train.shape[1] != self.targets_test.shape[1]:
        raise ValueError('targets_train and targets_test have different widths.')
    self._check_indices()

  def _check_indices(self) -> None:
    if (self.index_train is None) != (self.index_test is None):
      raise ValueError('index_train and index_test must be given together.')
    if self.index_train is None:
      return
    idx = []
    for split in ('train', 'test'):
      i = np.asarray(getattr(self, f'index_{split}'))
      n = len(getattr(self, f'x_{split}'))
      if not np.issubdtype(i.dtype, np.integer) or i.shape != (n,):
        raise ValueError(
          f'index_{split} must be integers of shape ({n},), got {i.dtype} {i.shape}.'
        )
      if n and i.min() < 0:
        raise ValueError(f'index_{split} has negative positions.')
      if len(np.unique(i)) != n:
        raise ValueError(f'index_{split} repeats positions.')
      i = i.astype(np.int64, copy=False)
      object.__setattr__(self, f'index_{split}', i)
      idx.append(i)
    m = int(max((int(i.max()) + 1 for i in idx if len(i)), default=0))
    covered = np.zeros(m, bool)
    for i in idx:
      covered[i] = True
    if not covered.all():
      raise ValueError(
        f'index_train and index_test leave {int((~covered).sum())} of {m} positions uncovered.'
      )
    # Positions in both splits must hold the same example, else x_all is ill-defined.
    shared, a, b = np.intersect1d(idx[0], idx[1], return_indices=True)
    if len(shared) and not (
      np.array_equal(self.x_train[a], self.x_test[b])
      and np.array_equal(self.y_train[a], self.y_test[b])
    ):
      raise ValueError('index_train and index_test share positions holding different rows.')

  @property
  def input_shape(self) -> tuple[int, ...]:
    """Shape of one input, e.g. ``(12,)`` for SZT or ``(28, 28, 1)`` for MNIST."""
    return tuple(self.x_train.shape[1:])

  def _all(self, train: np.ndarray, test: np.ndarray) -> np.ndarray:
    if self.index_train is None:
      return np.concatenate([train, test])
    m = int(
      max((int(i.max()) + 1 for i in (self.index_train, self.index_test) if len(i)), default=0)
    )
    out = np.empty((m,) + train.shape[1:], train.dtype)
    out[self.index_test] = test
    out[self.index_train] = train
    return out

  @property
  def x_all(self) -> np.ndarray:
    """All inputs, float32 ``(m, ...)``.

    With ``index_train``/``index_test`` (finite input sets: SZT, the toys): each
    distinct input once, in the original order (SZT: the 4096 patterns in file
    order), as needed by the information estimates, which take X uniform over
    the m inputs. Otherwise train rows then test rows (validation rows excluded).
    """
    return self._all(self.x_train, self.x_test)

  @property
  def y_all(self) -> np.ndarray:
    """Labels of ``x_all``, int32 ``(m,)``, in the same order."""
    return self._all(self.y_train, self.y_test)
