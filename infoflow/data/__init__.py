"""Data sets of the paper (docs/method.md, section 7), as numpy arrays in one common form.

* :func:`szt`: the 12-bit task (original ``szt_var_u.mat`` or generated labels).
* :func:`minimal_tanh`, :func:`minimal_lrelu`: the minimal examples.
* :func:`load_mnist`: MNIST from the standard IDX files.

All return a :class:`Dataset`. Files are looked up under ``data_dir``, default
:func:`default_data_dir` (``$INFOFLOW_DATA_DIR``, else ``$XDG_CACHE_HOME/infoflow``,
else ``~/.cache/infoflow``). Nothing here downloads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from infoflow.data.base import DATA_DIR_ENV
from infoflow.data.base import DataFormatError
from infoflow.data.base import DataNotFoundError
from infoflow.data.base import Dataset
from infoflow.data.base import default_data_dir
from infoflow.data.mnist import find_mnist_dir
from infoflow.data.mnist import load_mnist
from infoflow.data.mnist import read_idx
from infoflow.data.szt import AUTHORS_SPLIT_FILENAME
from infoflow.data.szt import SPLITS as SZT_SPLITS
from infoflow.data.szt import SZT_FILENAME
from infoflow.data.szt import generate_szt_labels
from infoflow.data.szt import load_authors_split
from infoflow.data.szt import load_szt
from infoflow.data.szt import pattern_codes
from infoflow.data.szt import szt
from infoflow.data.szt import szt_patterns
from infoflow.data.toy import minimal_lrelu
from infoflow.data.toy import minimal_tanh

DATASETS = ('szt', 'minimal_tanh', 'minimal_lrelu', 'mnist')


def load_dataset(name: str, data_dir: str | Path | None = None, **kwargs: Any) -> Dataset:
  """Builds a data set by name (for configs).

  Args:
    name: one of ``DATASETS``.
    data_dir: passed to the file-backed loaders (``szt``, ``mnist``); ignored by the toys.
    **kwargs: loader keyword arguments (e.g. ``seed``, ``test_fraction``,
      ``validation_size``, ``scale``).

  Returns:
    The :class:`Dataset`.
  """
  if name == 'szt':
    return szt(data_dir, **kwargs)
  if name == 'mnist':
    return load_mnist(data_dir, **kwargs)
  if name == 'minimal_tanh':
    return minimal_tanh(**kwargs)
  if name == 'minimal_lrelu':
    return minimal_lrelu(**kwargs)
  raise ValueError(f'Unknown data set {name!r}; expected one of {DATASETS}.')


__all__ = [
  'AUTHORS_SPLIT_FILENAME',
  'DATASETS',
  'DATA_DIR_ENV',
  'DataFormatError',
  'DataNotFoundError',
  'Dataset',
  'SZT_FILENAME',
  'SZT_SPLITS',
  'default_data_dir',
  'find_mnist_dir',
  'generate_szt_labels',
  'load_authors_split',
  'load_dataset',
  'load_mnist',
  'load_szt',
  'minimal_lrelu',
  'minimal_tanh',
  'pattern_codes',
  'read_idx',
  'szt',
  'szt_patterns',
]
