"""The 12-bit task of Shwartz-Ziv & Tishby (2017) ("SZT"; docs/method.md, section 7).

Inputs are all 4096 patterns of 12 bits, fed as 0/1 float32: the paper's nets use
tanh and the original code feeds the bits as 0/1 floats, so no centring is done.
Labels are binary (2118 ones / 1978 zeros in the original file).

Original file. ``szt_var_u.mat`` (MATLAB v5; ``F``: uint8 4096x12, ``y``: uint8
1x4096). Its rows are the integers 0..4095 in increasing order, bit column 0
the most significant. :func:`load_szt` reads it (needs scipy).

Generated labels (used when the file is absent). The label rule is not stored.
By the number of set bits k, the file gives k <= 4 -> 0, k >= 8 -> 1, and for
k = 5, 6, 7: 60/792 (7.6%), 532/924 (57.6%), 732/792 (92.4%) ones. Two rules:

* ``"popcount"``: ``y = 1 iff k >= 6``. A rule invariant under *every*
  permutation of the 12 bit columns can depend on k only (the permutations act
  transitively on the patterns with k set bits), so it gives all patterns of one
  k the same label; per-k majority voting is then optimal, which is exactly
  ``k >= 6``. It gives 2510 ones / 1586 zeros and agrees with the original
  labels on **3584 of 4096** patterns (87.5%: all errors are the 60 + 392 + 60
  patterns with k = 5, 6, 7 in the minority class); no fully permutation-
  symmetric rule can agree on more. (``k >= 7`` is as far from 50/50, mirrored,
  1586/2510, and agrees on only 3444.)
* ``"icosahedral"`` (default, so that a run without the file trains on the
  same task): SZT describe the 12 bits as 12 uniformly spread points on a
  sphere with a rotation-invariant rule, and the file bears this out: its labels
  are invariant under exactly the 120 symmetries of an icosahedron whose
  vertices are the bit columns (not under all 12! permutations). Which columns
  are neighbours was read off the file (in the 60 positive 5-bit patterns two
  neighbouring bits co-occur 14 times, second neighbours 6, antipodes 0) and is
  hard-coded below. With unit vectors ``v_i`` at the vertices, the rule is
  ``R2 = ||sum_{i: x_i = 1} v_i||^2`` (computed exactly from the vertex Gram
  matrix: 1 on the diagonal, 1/sqrt(5) neighbours, -1 antipodes, -1/sqrt(5)
  otherwise) and ``y = 1 iff k >= 8, or k = 5 and R2 > 7, k = 6 and R2 > 2.5,
  k = 7 and R2 > 0.5``: a pattern of 5-7 bits is positive iff its set bits
  cluster on the sphere. The thresholds sit inside wide gaps of the file's
  values ((5.68, 8.58), (2.21, 2.89), (0.32, 1.00)). It reproduces the original
  labels on **4096 of 4096** patterns (2118 ones).

Split. SZT's published code trains on a fixed split kept in a file,
``IB_data.npz`` (``X_train`` 3277x12, ``y_train``, ``X_test`` 819x12,
``y_test``; 0/1 uint8). With ``split='auto'`` (the default) :func:`szt` uses it
when it lies in the data directory, so that test accuracies compare with
theirs: :func:`load_authors_split` finds each of its rows among the 4096
patterns and checks that together they are all 4096, once each, and that its
labels are the label file's (or the generated ones: the icosahedral rule
reproduces them all). Otherwise (or with ``split='seeded'``) :func:`szt` holds
out ``round(test_fraction * 4096)`` patterns (819 at 0.2) chosen by
``np.random.default_rng(seed).permutation(4096)[:n_test]``; the first
``n_test`` entries are test, the rest train. Either way each split is sorted
into file order; ``Dataset.split`` says which split was used (``'authors'`` or
``'seeded'``) and ``Dataset.source`` says it in words.
``Dataset.x_all`` / ``y_all`` return all 4096 in file order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from infoflow.data.base import DataFormatError
from infoflow.data.base import DataNotFoundError
from infoflow.data.base import Dataset
from infoflow.data.base import default_data_dir

SZT_FILENAME = 'szt_var_u.mat'
AUTHORS_SPLIT_FILENAME = 'IB_data.npz'  # SZT's fixed train/test split
SPLITS = ('auto', 'authors', 'seeded')
_SPLIT_KEYS = ('X_train', 'y_train', 'X_test', 'y_test')
NUM_BITS = 12
NUM_PATTERNS = 2**NUM_BITS
RULES = ('popcount', 'icosahedral')

# Icosahedron on the bit columns of szt_var_u.mat: _NEIGHBOURS[i] are the 5
# columns adjacent to column i, _ANTIPODE[i] the opposite one.
_NEIGHBOURS = (
  (1, 3, 5, 10, 11),
  (0, 2, 3, 4, 11),
  (1, 3, 4, 8, 9),
  (0, 1, 2, 8, 10),
  (1, 2, 6, 9, 11),
  (0, 6, 7, 10, 11),
  (4, 5, 7, 9, 11),
  (5, 6, 8, 9, 10),
  (2, 3, 7, 9, 10),
  (2, 4, 6, 7, 8),
  (0, 3, 5, 7, 8),
  (0, 1, 4, 5, 6),
)
_ANTIPODE = (9, 7, 5, 6, 10, 2, 3, 1, 11, 0, 4, 8)
# Threshold on R2 = ||sum of set vertices||^2 for k = 5, 6, 7 set bits.
_R2_THRESHOLD = {5: 7.0, 6: 2.5, 7: 0.5}


def szt_patterns() -> np.ndarray:
  """All 4096 12-bit patterns, uint8 ``(4096, 12)`` of 0/1.

  Row ``i`` is the binary expansion of the integer ``i``, column 0 the most
  significant bit: the row order of ``szt_var_u.mat``.
  """
  shifts = np.arange(NUM_BITS - 1, -1, -1)
  return ((np.arange(NUM_PATTERNS)[:, None] >> shifts) & 1).astype(np.uint8)


def pattern_codes(patterns: np.ndarray) -> np.ndarray:
  """Integer code of each 12-bit pattern (column 0 most significant), int64 ``(n,)``."""
  p = np.asarray(patterns).astype(np.int64)
  return p @ (1 << np.arange(NUM_BITS - 1, -1, -1, dtype=np.int64))


def _icosahedron_gram() -> np.ndarray:
  s = 1.0 / np.sqrt(5.0)
  gram = np.full((NUM_BITS, NUM_BITS), -s)
  for i, nbrs in enumerate(_NEIGHBOURS):
    gram[i, list(nbrs)] = s
    gram[i, _ANTIPODE[i]] = -1.0
    gram[i, i] = 1.0
  return gram


def generate_szt_labels(
  patterns: np.ndarray | None = None, *, rule: str = 'icosahedral'
) -> np.ndarray:
  """Labels of 12-bit patterns by a deterministic rule (see the module docstring).

  Args:
    patterns: 0/1 array ``(n, 12)``; default :func:`szt_patterns` (all 4096).
    rule: ``"popcount"`` (``k >= 6``; 2510 ones over all patterns, 3584/4096
      agreement with the original) or ``"icosahedral"`` (4096/4096 agreement).

  Returns:
    int32 labels in {0, 1}, shape ``(n,)``.
  """
  p = szt_patterns() if patterns is None else np.asarray(patterns)
  if p.ndim != 2 or p.shape[1] != NUM_BITS or not np.isin(p, (0, 1)).all():
    raise ValueError(f'patterns must be 0/1 of shape (n, {NUM_BITS}), got {p.shape}.')
  bits = p.astype(np.float64)
  k = p.astype(np.int64).sum(axis=1)
  if rule == 'popcount':
    return (k >= 6).astype(np.int32)
  if rule == 'icosahedral':
    r2 = np.einsum('ni,ij,nj->n', bits, _icosahedron_gram(), bits)
    y = k >= 8
    for kk, threshold in _R2_THRESHOLD.items():
      y |= (k == kk) & (r2 > threshold)
    return y.astype(np.int32)
  raise ValueError(f'Unknown SZT rule {rule!r}; expected one of {RULES}.')


def load_szt(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
  """Reads the original ``szt_var_u.mat`` and validates it.

  Args:
    path: the MATLAB v5 file (keys ``F``: uint8 4096x12, ``y``: uint8 1x4096).

  Returns:
    ``(x, y)``: float32 0/1 inputs ``(4096, 12)`` and int32 labels ``(4096,)``,
    in file order.

  Raises:
    ImportError: scipy is not installed.
    DataNotFoundError: the file is absent.
    DataFormatError: unreadable, wrong keys/shape, non-binary values, or rows
      that are not the 4096 distinct 12-bit patterns.
  """
  path = Path(path)
  try:
    import scipy.io  # Lazy: scipy is only needed for this one file format.
  except ImportError as e:
    raise ImportError(f'Reading {path} needs scipy: `pip install scipy`.') from e
  if not path.is_file():
    raise DataNotFoundError(
      f'SZT file not found: {path}. Copy {SZT_FILENAME} there, or use '
      'the generated labels (infoflow.data.szt without the file).'
    )
  try:
    mat = scipy.io.loadmat(str(path))
  except Exception as e:  # scipy raises ValueError/TypeError/... on garbage.
    raise DataFormatError(f'{path}: not a readable MATLAB v5 file ({e}).') from e
  missing = [key for key in ('F', 'y') if key not in mat]
  if missing:
    raise DataFormatError(
      f"{path}: missing key(s) {missing}; expected 'F' (4096x12) and 'y' (1x4096)."
    )
  f, y = np.asarray(mat['F']), np.asarray(mat['y'])
  if f.shape != (NUM_PATTERNS, NUM_BITS):
    raise DataFormatError(f'{path}: F has shape {f.shape}, expected ({NUM_PATTERNS}, {NUM_BITS}).')
  if y.size != NUM_PATTERNS or y.squeeze().ndim != 1:
    raise DataFormatError(f'{path}: y has shape {y.shape}, expected (1, {NUM_PATTERNS}).')
  y = y.reshape(-1)
  for key, arr in (('F', f), ('y', y)):
    if not np.isin(arr, (0, 1)).all():
      raise DataFormatError(
        f'{path}: {key} has values other than 0/1: {np.unique(arr)[:10].tolist()}.'
      )
  n_distinct = len(np.unique(pattern_codes(f)))
  if n_distinct != NUM_PATTERNS:
    raise DataFormatError(
      f'{path}: F has {n_distinct} distinct rows; expected all {NUM_PATTERNS} 12-bit patterns.'
    )
  return f.astype(np.float32), y.astype(np.int32)


def load_authors_split(
  path: str | Path, x: np.ndarray, y: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
  """Reads SZT's fixed split (``IB_data.npz``) as indices into the patterns ``x``.

  Args:
    path: the ``.npz`` file (``X_train``, ``y_train``, ``X_test``, ``y_test``).
    x: the 4096 patterns ``(4096, 12)`` of 0/1, one row each (file order).
    y: their labels ``(4096,)``.

  Returns:
    ``(train_index, test_index)``: sorted positions in ``x`` of the file's
    train and test rows.

  Raises:
    DataFormatError: unreadable, keys or shapes not as above, values other
      than 0/1, rows that are not the 4096 patterns once each, or labels that
      differ from ``y``; the message names the file.
  """
  path = Path(path)
  arrays = _read_split_arrays(path)
  position = np.empty(NUM_PATTERNS, np.int64)
  position[pattern_codes(x)] = np.arange(NUM_PATTERNS)
  indices = {}
  for split in ('train', 'test'):
    rows, labels = arrays[f'X_{split}'], arrays[f'y_{split}']
    indices[split] = position[pattern_codes(rows)]
    wrong = int((y[indices[split]] != labels).sum())
    if wrong:
      raise DataFormatError(
        f'{path}: y_{split} differs from the SZT labels on {wrong} of {len(labels)} rows; '
        'it is not the split of this data set. Remove it to use the seeded split.'
      )
  every = np.concatenate([indices['train'], indices['test']])
  if len(every) != NUM_PATTERNS or len(np.unique(every)) != NUM_PATTERNS:
    raise DataFormatError(
      f'{path}: its train and test rows are {len(np.unique(every))} distinct patterns in '
      f'{len(every)} rows; expected the {NUM_PATTERNS} 12-bit patterns once each.'
    )
  return np.sort(indices['train']), np.sort(indices['test'])


def _read_split_arrays(path: Path) -> dict[str, np.ndarray]:
  """The four arrays of the split file, shapes and 0/1 values checked."""
  try:
    with np.load(path, allow_pickle=False) as f:
      missing = [k for k in _SPLIT_KEYS if k not in f.files]
      if missing:
        raise DataFormatError(
          f'{path}: missing array(s) {missing}; expected {", ".join(_SPLIT_KEYS)}.'
        )
      arrays = {k: np.asarray(f[k]) for k in _SPLIT_KEYS}
  except DataFormatError:
    raise
  except Exception as e:  # zipfile, zlib, OSError, ValueError on a damaged file
    raise DataFormatError(f'{path}: not a readable .npz file ({e}).') from None
  for split in ('train', 'test'):
    rows, labels = arrays[f'X_{split}'], arrays[f'y_{split}']
    if rows.ndim != 2 or rows.shape[1] != NUM_BITS or labels.shape != (len(rows),):
      raise DataFormatError(
        f'{path}: X_{split} has shape {rows.shape} and y_{split} {labels.shape}; expected '
        f'(n, {NUM_BITS}) and (n,).'
      )
    for key, arr in ((f'X_{split}', rows), (f'y_{split}', labels)):
      if not np.isin(arr, (0, 1)).all():
        raise DataFormatError(f'{path}: {key} has values other than 0/1.')
  return arrays


def seeded_split(seed: int, test_fraction: float) -> tuple[np.ndarray, np.ndarray]:
  """``(train_index, test_index)``: ``round(test_fraction * 4096)`` patterns held
  out by ``np.random.default_rng(seed).permutation``, each sorted."""
  n_test = int(round(test_fraction * NUM_PATTERNS))
  perm = np.random.default_rng(seed).permutation(NUM_PATTERNS)
  return np.sort(perm[n_test:]), np.sort(perm[:n_test])


def szt(
  data_dir: str | Path | None = None,
  *,
  seed: int = 0,
  test_fraction: float = 0.2,
  rule: str = 'icosahedral',
  require_file: bool = False,
  split: str = 'auto',
) -> Dataset:
  """The SZT data set: the original file if present, else generated labels.

  Args:
    data_dir: directory holding ``szt_var_u.mat`` (and ``IB_data.npz``);
      default :func:`default_data_dir`.
    seed: seed of the seeded train/test split (``np.random.default_rng(seed)``).
    test_fraction: fraction of the 4096 patterns the seeded split holds out,
      in ``[0, 1)``.
    rule: generator rule used when the file is absent (see module docstring).
    require_file: raise :class:`DataNotFoundError` instead of generating.
    split: ``'auto'``: the authors' ``IB_data.npz`` when it is in the data
      directory, else seeded; ``'authors'``: that file (an error when absent);
      ``'seeded'``: the seeded split.

  Returns:
    A :class:`Dataset` named ``"szt"``: float32 0/1 inputs ``(n, 12)``, labels in
    {0, 1}; ``x_all``/``y_all`` are the 4096 patterns in file order; ``source``
    is ``"file: <path>"`` or ``"generated: <rule> ..."``, then the split;
    ``split`` is ``'authors'`` or ``'seeded'``, the split used.

  Raises:
    ValueError: a bad ``test_fraction`` or ``split``.
    DataNotFoundError: ``require_file`` or ``split='authors'`` without the file.
    DataFormatError: a malformed ``szt_var_u.mat`` or ``IB_data.npz``.
  """
  if not 0.0 <= test_fraction < 1.0:
    raise ValueError(f'test_fraction must be in [0, 1), got {test_fraction}.')
  if split not in SPLITS:
    raise ValueError(f'split must be one of {", ".join(SPLITS)}; got {split!r}.')
  directory = Path(data_dir if data_dir is not None else default_data_dir())
  path = directory / SZT_FILENAME
  if path.is_file():
    x, y = load_szt(path)
    source = f'file: {path}'
  elif require_file:
    raise DataNotFoundError(f'SZT file not found: {path} (require_file=True).')
  else:
    x = szt_patterns().astype(np.float32)
    y = generate_szt_labels(rule=rule)
    desc = 'k >= 6 set bits' if rule == 'popcount' else 'icosahedral clustering rule'
    source = f'generated: {rule} rule ({desc}; {path} absent)'
  split_file = directory / AUTHORS_SPLIT_FILENAME
  if split == 'authors' and not split_file.is_file():
    raise DataNotFoundError(
      f"SZT split file not found: {split_file} (split='authors'); put IB_data.npz there, "
      "or use split='seeded'."
    )
  if split != 'seeded' and split_file.is_file():
    used = 'authors'
    train_idx, test_idx = load_authors_split(split_file, x, y)
    source += f"; split: the authors' {split_file} ({len(train_idx)} train, {len(test_idx)} test)"
  else:
    used = 'seeded'
    train_idx, test_idx = seeded_split(seed, test_fraction)
    source += f'; split seed={seed}, test_fraction={test_fraction}'
  return Dataset(
    name='szt',
    x_train=x[train_idx],
    y_train=y[train_idx],
    x_test=x[test_idx],
    y_test=y[test_idx],
    num_classes=2,
    source=source,
    index_train=train_idx,
    index_test=test_idx,
    split=used,
  )
