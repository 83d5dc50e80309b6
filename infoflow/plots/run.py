"""Reading a training run's output directory (the run record).

The format is ``docs/run_record.md``: ``config.json``, ``run.json``,
``metrics.jsonl`` (one record per analysed epoch and seed) and
``representations/epoch_EEEEEE.npz``. Only ``metrics.jsonl`` is required;
the rest is optional so that a run still in progress can be plotted.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import pathlib
import re
import zipfile
import zlib
from collections.abc import Iterator, Mapping
from typing import Optional

import numpy as np

METRICS = 'metrics.jsonl'
REPRESENTATIONS = 'representations'
_NPZ = re.compile(r'epoch_(\d+)\.npz')


class RunRecordError(ValueError):
  """The directory is not a readable run record; the message says why."""


class Snapshots(Mapping):
  """Lazy ``{epoch: {'labels': (m,), layer: (m, d_l)}}`` from the npz files.

  Keys (epochs) come from the file names; a file is read when indexed (and
  not kept), so listing epochs is free and memory stays small. An unreadable
  file (truncated, corrupt) raises :class:`RunRecordError` naming it.
  """

  def __init__(self, paths: Mapping[int, pathlib.Path]):
    self._paths = dict(sorted(paths.items()))

  def __getitem__(self, epoch: int) -> dict[str, np.ndarray]:
    path = self._paths[epoch]
    try:
      with np.load(path, allow_pickle=False) as npz:
        return {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError,
            ValueError) as e:
      raise RunRecordError(
          f'{path} is not a readable .npz file (truncated or corrupt: {e}); '
          'delete it to plot the other epochs.') from None

  def __iter__(self) -> Iterator[int]:
    return iter(self._paths)

  def __len__(self) -> int:
    return len(self._paths)

  def path(self, epoch: int) -> pathlib.Path:
    return self._paths[epoch]


@dataclasses.dataclass(frozen=True)
class Run:
  """A loaded run record.

  Attributes:
    workdir: the run directory.
    config: ``config.json`` (``{}`` when absent).
    meta: ``run.json`` (``{}`` when absent): layers, seeds, data source...
    records: the ``metrics.jsonl`` records sorted by ``(seed, epoch)``.
  """
  workdir: pathlib.Path
  config: dict
  meta: dict
  records: list

  @property
  def name(self) -> str:
    """Label for titles: the config name and the directory name."""
    config = self.meta.get('config')
    base = self.workdir.name or str(self.workdir)
    return f'{config} ({base})' if config and config != base else base

  @property
  def seeds(self) -> list[int]:
    return sorted({int(r.get('seed', 0)) for r in self.records})

  def by_seed(self) -> dict[int, list[dict]]:
    """``{seed: records sorted by epoch}``."""
    out = {seed: [] for seed in self.seeds}
    for r in self.records:
      out[int(r.get('seed', 0))].append(r)
    return out

  @property
  def layers(self) -> dict[str, int]:
    """``{layer name: width}`` in depth order (from ``run.json``).

    Without ``run.json``, the names found in the records, width unknown
    (omitted).
    """
    layers = self.meta.get('layers')
    if isinstance(layers, Mapping):
      return {str(k): int(v) for k, v in layers.items()}
    return {}

  @property
  def layer_order(self) -> list[str]:
    """Layer names, shallow to deep (``run.json``, else as recorded)."""
    if self.layers:
      return list(self.layers)
    found = []
    for r in self.records:
      for field in ('information', 'clustering', 'binning'):
        found.extend(k for k in (r.get(field) or {}) if k != 'bin_sizes')
    return list(dict.fromkeys(found))

  @property
  def num_inputs(self) -> Optional[int]:
    """Number of evaluation inputs m (``log m`` bounds ``I(X;T)``)."""
    m = self.meta.get('num_eval_inputs')
    return int(m) if m else None

  @property
  def snapshots(self) -> Snapshots:
    """Representation files by epoch (may be empty)."""
    folder = self.workdir / REPRESENTATIONS
    paths = {}
    if folder.is_dir():
      for p in folder.iterdir():
        match = _NPZ.fullmatch(p.name)
        if match:
          paths[int(match.group(1))] = p
    return Snapshots(paths)

  def representation_epochs(self) -> list[int]:
    return list(self.snapshots)

  def load_representations(self, epoch: int) -> dict[str, np.ndarray]:
    """The arrays of ``representations/epoch_EEEEEE.npz`` (KeyError if none)."""
    return self.snapshots[epoch]


def _read_json(path: pathlib.Path) -> dict:
  if not path.exists():
    logging.warning('%s not found; plotting without it.', path)
    return {}
  try:
    return json.loads(path.read_text())
  except json.JSONDecodeError as e:
    raise RunRecordError(f'{path} is not valid JSON: {e}') from e


def _read_metrics(path: pathlib.Path) -> list[dict]:
  text = path.read_text()
  lines = text.splitlines()
  records = []
  for number, line in enumerate(lines, start=1):
    if not line.strip():
      continue
    try:
      record = json.loads(line)
    except json.JSONDecodeError as e:
      # A run in progress may be caught mid-write: tolerate a torn last line.
      if number == len(lines) and not text.endswith('\n'):
        logging.warning('%s: ignoring incomplete last line %d.', path, number)
        continue
      raise RunRecordError(f'{path}, line {number}: invalid JSON: {e}') from e
    if not isinstance(record, dict) or 'epoch' not in record:
      raise RunRecordError(
          f'{path}, line {number}: a record must be a JSON object with an '
          f'"epoch" field.')
    records.append(record)
  return records


def load_run(workdir) -> Run:
  """Loads the run record in ``workdir``.

  Raises:
    RunRecordError: the directory does not exist (or is a file), has no
      ``metrics.jsonl``, or it holds no records (e.g. the run has not reached
      its first analysed epoch); or a file is malformed. The message names
      the path.
  """
  workdir = pathlib.Path(workdir).expanduser()
  if workdir.exists() and not workdir.is_dir():
    raise RunRecordError(f'{workdir} is a file, not a run directory.')
  if not workdir.is_dir():
    raise RunRecordError(f'run directory {workdir} does not exist.')
  metrics = workdir / METRICS
  if not metrics.is_file():
    raise RunRecordError(
        f'{workdir} has no {METRICS}: not a run directory, or the run has '
        f'not written its first analysed epoch yet.')
  records = _read_metrics(metrics)
  if not records:
    raise RunRecordError(f'{metrics} is empty: it has no records yet.')
  # A resumed run may rewrite an epoch: the last record for (epoch, seed) wins.
  unique = {}
  for r in records:
    unique[(int(r.get('seed', 0)), int(r['epoch']))] = r
  if len(unique) < len(records):
    logging.warning('%s: %d duplicate (epoch, seed) records; keeping the last.',
                    metrics, len(records) - len(unique))
  return Run(workdir=workdir, config=_read_json(workdir / 'config.json'),
             meta=_read_json(workdir / 'run.json'),
             records=[unique[k] for k in sorted(unique)])


def resolve(data, layers=None, title=None, num_inputs=None):
  """``(records, layers, title, num_inputs)`` from a :class:`Run` or records.

  Explicit arguments win; a :class:`Run` supplies the defaults (its layer
  widths, its name, its number of evaluation inputs).
  """
  if isinstance(data, Run):
    return (data.records, layers if layers is not None else data.layers,
            title if title is not None else data.name,
            num_inputs if num_inputs is not None else data.num_inputs)
  return list(data), layers, title, num_inputs
