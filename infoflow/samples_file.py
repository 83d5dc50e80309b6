"""Reading a file of samples for launch/estimate.py, checked.

`read_samples` opens an `.npz` with one (m, R, d) array a layer (an (m, d)
array is read as R = 1) and optional (m,) integer labels, from a key of the
file or a `.npy` / `.npz` file of their own. Bad input (a missing, foreign,
truncated or corrupt file; an array of the wrong rank, dtype or with NaN /
inf; labels of the wrong length or dtype, negative or above int32) raises
`EstimateInputError` naming the file and key (docs/errors.md).
"""

from __future__ import annotations

import pathlib
from typing import Optional
import zipfile
import zlib

import numpy as np

from infoflow import checks

LABELS_KEY = 'labels'
_ZIP_MAGIC = b'PK\x03\x04'
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError)


class EstimateInputError(ValueError):
  """Bad input to `estimate_file`; the message names the file, key or flag."""


def _open_arrays(path: pathlib.Path) -> dict[str, np.ndarray]:
  """Every array of the .npz file at ``path``, in file order."""
  if not path.exists():
    raise EstimateInputError(f'samples file {path} does not exist.')
  if path.is_dir():
    raise EstimateInputError(f'{path} is a directory, not an .npz file.')
  with open(path, 'rb') as f:
    head = f.read(6)
  if head == b'\x93NUMPY':
    raise EstimateInputError(
      f'{path} is a .npy file (one array); expected an .npz with one '
      '(m, R, d) array per layer: np.savez(path, T1=..., T2=..., '
      'labels=...).'
    )
  if head[:4] != _ZIP_MAGIC:
    raise EstimateInputError(
      f'{path} is not an .npz file (no zip header); expected one (m, R, d) '
      'array per layer, written by np.savez.'
    )
  try:
    with np.load(path, allow_pickle=False) as npz:
      arrays = {}
      for key in npz.files:
        arrays[key] = _read_member(npz, key, path)
  except EstimateInputError:
    raise
  except _READ_ERRORS as e:
    raise EstimateInputError(
      f'{path} is not a readable .npz file (truncated or corrupt: {e}).'
    ) from None
  if not arrays:
    raise EstimateInputError(f'{path} holds no arrays.')
  return arrays


def _read_member(npz, key: str, path: pathlib.Path) -> np.ndarray:
  try:
    return npz[key]
  except _READ_ERRORS as e:
    raise EstimateInputError(
      f'{path}: array {key!r} is not readable (truncated, corrupt or an object array: {e}).'
    ) from None


def _check_layer(key: str, x: np.ndarray, path) -> tuple[np.ndarray, str]:
  """``(samples (m, R, d), note)``; an (m, d) array becomes R = 1."""
  where = f'{path}: array {key!r}'
  if x.dtype.kind not in 'biuf':
    raise EstimateInputError(f'{where} has dtype {x.dtype}; expected real numbers.')
  if x.ndim not in (2, 3):
    raise EstimateInputError(
      f'{where} has shape {x.shape}; expected (m, R, d): R samples of the '
      "layer's d units given each of m inputs (or (m, d), read as R = 1)."
    )
  if 0 in x.shape:
    raise EstimateInputError(f'{where} is empty: shape {x.shape}.')
  bad = int(x.size - np.isfinite(x).sum())
  if bad:
    raise EstimateInputError(
      f'{where} has {bad} non-finite (NaN or inf) values; all entries must be finite.'
    )
  if x.ndim == 3:
    return x, ''
  return x[:, None, :], (
    '(m, d) read as R = 1: S is taken to be a function of X, h(T|X) in closed form'
  )


def _check_labels(labels: np.ndarray, where: str, num_inputs: dict[str, int]) -> np.ndarray:
  """(m,) integer labels in [0, checks.MAX_LABEL] matching every layer's m,
  as int32 (checked before the cast, which would wrap 2^32 to 0)."""
  if labels.dtype.kind not in 'biu':
    raise EstimateInputError(
      f'{where} must hold integer class indices; got dtype {labels.dtype} '
      '(save them with .astype(int)).'
    )
  if labels.ndim != 1:
    raise EstimateInputError(f'{where} must have shape (m,); got shape {labels.shape}.')
  for key, m in num_inputs.items():
    if labels.shape[0] != m:
      raise EstimateInputError(
        f'{where} has {labels.shape[0]} labels but layer {key!r} has '
        f'm = {m} inputs; expected one label per input.'
      )
  if labels.size and int(labels.min()) < 0:
    raise EstimateInputError(f'{where} must be >= 0; got {int(labels.min())}.')
  try:
    checks.check_label_fits(int(labels.max()) if labels.size else 0, where)
  except ValueError as e:
    raise EstimateInputError(str(e)) from None
  return labels.astype(np.int32)


def _labels_from_file(path: pathlib.Path) -> tuple[np.ndarray, str]:
  if path.suffix == '.npz':
    arrays = _open_arrays(path)
    if len(arrays) != 1 and LABELS_KEY not in arrays:
      raise EstimateInputError(
        f'labels file {path} holds {len(arrays)} arrays '
        f'({", ".join(arrays)}); expected one, or one named {LABELS_KEY!r}.'
      )
    key = LABELS_KEY if LABELS_KEY in arrays else next(iter(arrays))
    return arrays[key], f'labels {key!r} of {path}'
  try:
    return np.load(path, allow_pickle=False), f'labels file {path}'
  except _READ_ERRORS as e:
    raise EstimateInputError(f'labels file {path} is not a readable .npy file: {e}.') from None


def _take_labels(arrays: dict, path, labels: Optional[str]):
  """``(labels or None, where)``, removing a labels key from ``arrays``."""
  if labels is None:
    if LABELS_KEY not in arrays:
      return None, None
    labels = LABELS_KEY
  if labels in arrays:
    return arrays.pop(labels), f'labels {labels!r} of {path}'
  file = pathlib.Path(labels).expanduser()
  if file.is_file():
    return _labels_from_file(file)
  raise EstimateInputError(
    f'--labels={labels} is neither a key of {path} (keys: '
    f'{", ".join(arrays)}) nor an existing .npy/.npz file.'
  )


def read_samples(path, labels: Optional[str] = None):
  """The layers and labels of a samples file, checked.

  Args:
    path: the .npz file.
    labels: a key of the file or a .npy / .npz path (module docstring);
      None: the key 'labels' if present.

  Returns:
    ``(layers, labels, labels_source, notes)``: ``{key: (m, R, d) array}``
    in file order, (m,) int32 labels or None, where they came from, and
    ``{key: note}`` for the (m, d) arrays read as R = 1.

  Raises:
    EstimateInputError: naming the file and key (module docstring).
  """
  path = pathlib.Path(path).expanduser()
  arrays = _open_arrays(path)
  label_values, source = _take_labels(arrays, path, labels)
  if not arrays:
    raise EstimateInputError(f'{path} holds no layer arrays besides the labels.')
  layers, notes = {}, {}
  for key, x in arrays.items():
    layers[key], note = _check_layer(key, x, path)
    if note:
      notes[key] = note
  if label_values is not None:
    label_values = _check_labels(label_values, source, {k: x.shape[0] for k, x in layers.items()})
  return layers, label_values, source, notes
