"""MNIST from the four standard IDX files, parsed with numpy (no downloads here).

Files: ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``,
``t10k-images-idx3-ubyte``, ``t10k-labels-idx1-ubyte``, each raw or gzipped
(``.gz``); when both exist the raw one is read (no decompression).

Lookup: with ``data_dir=D`` (default :func:`default_data_dir`), the first of
``D`` and ``D/mnist`` that holds all four files is used. Get the files with
``python -m launch.download_mnist --data_dir=DIR`` or by copying them into
``$INFOFLOW_DATA_DIR/mnist``.

IDX format (big-endian): images: magic 0x00000803, count, rows, cols, then
count*rows*cols uint8 pixels; labels: magic 0x00000801, count, then count uint8
labels. The payload size must match the header exactly.
"""

from __future__ import annotations

import gzip
from pathlib import Path
import zlib

import numpy as np

from infoflow.data.base import DataFormatError
from infoflow.data.base import DataNotFoundError
from infoflow.data.base import Dataset
from infoflow.data.base import default_data_dir

FILES = {
  'train_images': 'train-images-idx3-ubyte',
  'train_labels': 'train-labels-idx1-ubyte',
  'test_images': 't10k-images-idx3-ubyte',
  'test_labels': 't10k-labels-idx1-ubyte',
}
IMAGE_MAGIC, LABEL_MAGIC = 0x00000803, 0x00000801
IMAGE_SIZE = 28
NUM_CLASSES = 10
HOW_TO_GET = (
  'Get them with `python -m launch.download_mnist --data_dir=DIR`, or copy the four '
  'files (raw or .gz) into $INFOFLOW_DATA_DIR/mnist.'
)


def _find_file(directory: Path, name: str) -> Path | None:
  """The raw file if present (no decompression needed), else the .gz, else None."""
  for candidate in (directory / name, directory / f'{name}.gz'):
    if candidate.is_file():
      return candidate
  return None


def find_mnist_dir(data_dir: str | Path | None = None) -> tuple[Path, dict[str, Path]]:
  """Locates the four MNIST files.

  Args:
    data_dir: directory holding the files or a ``mnist/`` subfolder with them;
      default :func:`default_data_dir`.

  Returns:
    The directory used and a dict from the keys of ``FILES`` to file paths.

  Raises:
    DataNotFoundError: no candidate directory holds all four; the message names
      each directory looked in, what it lacked, and how to get the files.
  """
  base = Path(data_dir) if data_dir is not None else default_data_dir()
  report = []
  for directory in (base, base / 'mnist'):
    found = {key: _find_file(directory, name) for key, name in FILES.items()}
    missing = [FILES[key] for key, p in found.items() if p is None]
    if not missing:
      return directory, found  # type: ignore[return-value]
    state = 'does not exist' if not directory.is_dir() else f'lacks {", ".join(missing)}'
    report.append(f'  {directory} ({state})')
  raise DataNotFoundError(
    'MNIST IDX files not found. Looked in:\n' + '\n'.join(report) + '\n' + HOW_TO_GET
  )


def read_idx(path: str | Path, kind: str) -> np.ndarray:
  """Reads one IDX file (raw or ``.gz``) and checks its header against its payload.

  Args:
    path: the file.
    kind: ``"images"`` (magic 0x803, must be 28x28) or ``"labels"`` (magic 0x801,
      values in 0..9).

  Returns:
    uint8 array: ``(n, 28, 28)`` images or ``(n,)`` labels (a read-only view of
    the file bytes).

  Raises:
    DataFormatError: bad gzip stream, wrong magic, wrong dims, truncated or
      trailing payload, or labels out of range; the message names the file.
  """
  path = Path(path)
  if kind not in ('images', 'labels'):
    raise ValueError(f"kind must be 'images' or 'labels', got {kind!r}.")
  raw = path.read_bytes()
  if path.suffix == '.gz':
    try:
      raw = gzip.decompress(raw)
    except (OSError, EOFError, zlib.error) as e:  # BadGzipFile is an OSError.
      raise DataFormatError(f'{path}: corrupt gzip stream ({e}).') from e
  magic, ndim = (IMAGE_MAGIC, 3) if kind == 'images' else (LABEL_MAGIC, 1)
  header_len = 4 + 4 * ndim
  if len(raw) < header_len:
    raise DataFormatError(
      f'{path}: {len(raw)} bytes, shorter than the {header_len}-byte IDX {kind} header.'
    )
  header = np.frombuffer(raw, '>u4', count=1 + ndim)
  if int(header[0]) != magic:
    raise DataFormatError(
      f'{path}: magic number 0x{int(header[0]):08x}, expected 0x{magic:08x} for IDX {kind}.'
    )
  dims = tuple(int(d) for d in header[1:])
  if kind == 'images' and dims[1:] != (IMAGE_SIZE, IMAGE_SIZE):
    raise DataFormatError(
      f'{path}: images are {dims[1]}x{dims[2]}, expected {IMAGE_SIZE}x{IMAGE_SIZE}.'
    )
  expected, actual = int(np.prod(dims)), len(raw) - header_len
  if actual != expected:
    what = 'truncated' if actual < expected else 'trailing bytes'
    raise DataFormatError(
      f'{path}: {what}: header says {dims[0]} {kind} ({expected} payload '
      f'bytes), file has {actual} payload bytes.'
    )
  data = np.frombuffer(raw, np.uint8, offset=header_len).reshape(dims)
  if kind == 'labels' and data.size and data.max() >= NUM_CLASSES:
    raise DataFormatError(f'{path}: label {int(data.max())} out of range 0..{NUM_CLASSES - 1}.')
  return data


def _read_pair(files: dict[str, Path], split: str) -> tuple[np.ndarray, np.ndarray]:
  images = read_idx(files[f'{split}_images'], 'images')
  labels = read_idx(files[f'{split}_labels'], 'labels')
  if len(images) != len(labels):
    raise DataFormatError(
      f'{files[f"{split}_images"]} has {len(images)} images but '
      f'{files[f"{split}_labels"]} has {len(labels)} labels.'
    )
  return images, labels


def load_mnist(
  data_dir: str | Path | None = None,
  *,
  validation_size: int = 0,
  seed: int = 0,
  scale: str = 'unit',
) -> Dataset:
  """Loads MNIST (60k train, 10k test) from IDX files.

  Args:
    data_dir: see the module docstring for the lookup; default :func:`default_data_dir`.
    validation_size: rows held out of the training set into ``x_val``/``y_val``
      (chosen by ``np.random.default_rng(seed).permutation``; both splits keep
      file order). 0: no validation split (``x_val`` is ``None``).
    seed: seed of the validation split.
    scale: ``"unit"``: pixels / 255 in [0, 1]; ``"standard"``: (pixels / 255 -
      mean) / std with the scalar mean and std of the training rows actually
      trained on (validation excluded, so nothing leaks).

  Returns:
    A :class:`Dataset` named ``"mnist"``: float32 images ``(n, 28, 28, 1)``, int32
    labels in 0..9; ``source`` names the directory and any scaling constants.

  Raises:
    DataNotFoundError: files absent (message says where it looked, how to get them).
    DataFormatError: a file is malformed.
  """
  if scale not in ('unit', 'standard'):
    raise ValueError(f"scale must be 'unit' or 'standard', got {scale!r}.")
  directory, files = find_mnist_dir(data_dir)
  x_train, y_train = _read_pair(files, 'train')
  x_test, y_test = _read_pair(files, 'test')
  if not 0 <= validation_size < len(x_train):
    raise ValueError(f'validation_size must be in [0, {len(x_train)}), got {validation_size}.')
  x_train, y_train, x_val, y_val = _split_validation(x_train, y_train, validation_size, seed)
  if scale == 'standard':
    mean, std = _pixel_moments(x_train)
  x_train, x_test = _to_float(x_train), _to_float(x_test)
  x_val = None if x_val is None else _to_float(x_val)
  source = f'idx files: {directory} ({", ".join(p.name for p in files.values())})'
  if scale == 'standard':
    for arr in (x_train, x_test) + (() if x_val is None else (x_val,)):
      arr -= mean  # In place: these arrays are our own fresh float32 copies.
      arr /= std
    source += f'; standardized with train mean={float(mean):.6f}, std={float(std):.6f}'
  if validation_size:
    source += f'; validation_size={validation_size}, seed={seed}'
  return Dataset(
    name='mnist',
    x_train=x_train,
    y_train=y_train,
    x_test=x_test,
    y_test=y_test,
    num_classes=NUM_CLASSES,
    source=source,
    x_val=x_val,
    y_val=y_val,
  )


def _split_validation(x_train, y_train, validation_size: int, seed: int):
  """``(x_train, y_train, x_val, y_val)``: ``validation_size`` rows held out
  (``x_val`` None when 0); both splits keep file order."""
  if not validation_size:
    return x_train, y_train, None, None
  perm = np.random.default_rng(seed).permutation(len(x_train))
  val_idx, train_idx = (np.sort(perm[:validation_size]), np.sort(perm[validation_size:]))
  return x_train[train_idx], y_train[train_idx], x_train[val_idx], y_train[val_idx]


def _to_float(images: np.ndarray) -> np.ndarray:
  """uint8 images (n, 28, 28) -> float32 (n, 28, 28, 1) pixels / 255."""
  # One pass uint8 -> float32; division (not * 1/255) keeps 255 -> exactly 1.0.
  return np.divide(images[..., None], np.float32(255), dtype=np.float32)


def _pixel_moments(images: np.ndarray) -> tuple[np.float32, np.float32]:
  """Scalar mean and std of the uint8 ``images`` / 255, as float32."""
  # Exact float64 moments of pixels / 255 from the uint8 histogram: one cheap
  # pass, no float64 copy of the 47M training pixels.
  counts = np.bincount(images.reshape(-1), minlength=256).astype(np.float64)
  values = np.arange(256) / 255.0
  mean64 = counts @ values / counts.sum()
  std = np.sqrt(counts @ (values - mean64) ** 2 / counts.sum())
  return np.float32(mean64), np.float32(std)
