"""The run record: the files a run writes in its directory, written and read.

The format is docs/run_record.md:

    config.json                         the config (`CONFIG`)
    run.json                            facts about the run (`RUN_INFO`)
    metrics.jsonl                       one record per analysed epoch and seed (`METRICS`)
    representations/epoch_EEEEEE.npz    seed 0's noise-free layers (`representation_path`)
    checkpoints/                        the train states (`infoflow.experiment.workdir`)

Writing: whole files go through a temporary name and a rename (`write_text`,
`save_npz`), so none is ever torn; metrics records are appended a line at a
time with non-finite numbers as null (`append_metrics`); a layer's
`LayerInformation` becomes its `information` entry in one way only
(`information_entry`).

Reading: `load_run` gives a `Run` (records, config, run.json, `Snapshots` of
the representation files); only metrics.jsonl is required, so a run in
progress can be read. `read_metrics` drops a torn last line with a warning.
`dig` and `value_stderr` read fields of a record.

Layer names go into file names (figures, animations), npz keys and
TensorBoard tags, and a run record is data that may come from anyone: every
name is checked by `layer_file_name` (the pattern `LAYER_NAME`) where it is
written and where it is read, so that no name can lead a write outside its
directory (docs/errors.md, "Path safety").

Layers are named as in `infoflow.models` (T1.. for an MLP; conv1, conv2,
dense3 for the CNN). Records written before that scheme named hidden layer l
by its noise module, counted from 0; `load_run` reads them under the current
names (`current_layer_name`), with one logged warning per run directory.
"""

from __future__ import annotations

from collections.abc import Iterator
from collections.abc import Mapping
import dataclasses
import json
import logging
import math
import os
import pathlib
import re
from typing import TYPE_CHECKING
from typing import Any
from typing import Optional
import zipfile
import zlib

import numpy as np

if TYPE_CHECKING:
  from infoflow.estimators import LayerInformation

CONFIG = 'config.json'
RUN_INFO = 'run.json'
METRICS = 'metrics.jsonl'
REPRESENTATIONS = 'representations'
# Record fields keyed by layer name (besides 'bin_sizes').
LAYER_FIELDS = ('information', 'clustering', 'binning')
# The `LayerInformation` estimates of a layer's `information` entry, in order
# (`mi_label` only when labels were given; `mi_input_half_replicas`, the
# finite-R diagnostic, when it was estimated).
INFORMATION_FIELDS = (
  'mi_input',
  'entropy',
  'conditional_entropy',
  'mi_label',
  'mi_input_half_replicas',
)
# The entropies of a layer's `clustering` entry (nats), by the partition that
# gives them (`infoflow.measures.clustering.layer_measures`): single linkage
# at `threshold * beta`, and the greedy packing at the same threshold.
CLUSTER_ENTROPY_FIELDS = {'cluster_entropy': 'single linkage', 'packed_cluster_entropy': 'packing'}
# A layer-epoch's full-R and R/2 estimates of I(X;T) differing by more than
# this many combined standard errors is flagged (`replica_gap_flagged`).
REPLICA_GAP_STDERRS = 3.0
_NPZ = re.compile(r'epoch_(\d+)\.npz')
# A layer name of the records written before the current scheme.
_OLD_LAYER = re.compile(r'noise_(\d+)')
_warned_old_names = set()  # run directories already warned about
# What a layer name may be: it becomes part of file names (`scatter_T5.png`),
# npz keys and TensorBoard tags. Every name of `infoflow.models` (T1, conv1,
# dense3) and the old noise_N match; '/', '..' as a name, a leading '.' or
# '-', control characters and long names do not.
LAYER_NAME = r'[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}'
_SAFE_LAYER = re.compile(LAYER_NAME)


class RunRecordError(ValueError):
  """The directory is not a readable run record; the message says why."""


class UnreadableFileError(RunRecordError):
  """A representation file cannot be read (truncated, corrupt): only what
  needs it is skipped. Any other `RunRecordError` refuses the whole record."""


def _short_repr(value, limit: int = 80) -> str:
  """`repr(value)`, cut to `limit` characters: one line in a message."""
  text = repr(value)
  return text if len(text) <= limit else f'{text[: limit - 3]}...'


def layer_file_name(name) -> str:
  """`name`, checked to be safe as part of a file name, npz key or tag.

  The one check of a layer name, wherever it comes from (a model, run.json,
  metrics.jsonl, an npz key, `launch.plot --layer`) and wherever it goes
  (figure and animation file names, `save_representations`, TensorBoard tags).

  Raises:
    ValueError: `name` is not a string matching `LAYER_NAME`: 1 to 64 of
      A-Z a-z 0-9 _ . -, not starting with '.' or '-'; names the name.
  """
  if isinstance(name, str) and _SAFE_LAYER.fullmatch(name):
    return name
  raise ValueError(
    f'layer name {_short_repr(name)} is not allowed: a layer name is 1 to 64 of the '
    f"characters A-Z a-z 0-9 _ . - and does not start with '.' or '-' ({LAYER_NAME})."
  )


# ------------------------------------------------------------------ writing


def representation_path(workdir: pathlib.Path, epoch: int) -> pathlib.Path:
  """`workdir/representations/epoch_EEEEEE.npz`."""
  return pathlib.Path(workdir) / REPRESENTATIONS / f'epoch_{epoch:06d}.npz'


def information_entry(info: LayerInformation) -> dict[str, list[float]]:
  """A layer's `information` entry: `{field: [nats, stderr]}` of
  `INFORMATION_FIELDS` (those that are not None; `LayerInformation.pairs`)."""
  return {k: v for k, v in info.pairs(INFORMATION_FIELDS).items() if v is not None}


def replica_gap(entry: Optional[Mapping[str, Any]]) -> tuple[float, float]:
  """`(I_R - I_{R/2}, sqrt(se_R^2 + se_{R/2}^2))` in nats of a layer's
  `information` entry: the full-R estimate of I(X;T) (`mi_input`) minus the
  one from the first R // 2 replicas (`mi_input_half_replicas`), and its
  combined standard error (independent draws); NaN where either is absent."""
  full, full_err = value_stderr((entry or {}).get('mi_input'))
  half, half_err = value_stderr((entry or {}).get('mi_input_half_replicas'))
  return full - half, math.hypot(full_err, half_err)


def replica_gap_flagged(entry: Mapping[str, Any]) -> bool:
  """Whether a layer's `information` entry shows its R too small.

  True when the full-R and R/2 estimates of I(X;T) (`replica_gap`) differ
  by more than REPLICA_GAP_STDERRS = 3 combined standard errors: the
  estimand still moves with R, so the full-R value carries a finite-replica
  bias of the sign of I_{R/2} - I_R (usually upward). False when they agree,
  and when either pair is absent or not finite (records written before the
  diagnostic; nothing to compare). Agreement does not bound the bias left at
  R (docs/method.md, "Finite replicas: the R/2 diagnostic").
  """
  gap, combined = replica_gap(entry)
  return (
    math.isfinite(gap) and math.isfinite(combined) and abs(gap) > REPLICA_GAP_STDERRS * combined
  )


def information_record(infos: Mapping[str, LayerInformation]) -> dict[str, dict]:
  """A record's `information` field: `{layer: information_entry}`."""
  return {name: information_entry(info) for name, info in infos.items()}


def finite_or_null(value):
  """`value` with non-finite floats as None, so that it is strict JSON."""
  if isinstance(value, float):
    return value if math.isfinite(value) else None
  if isinstance(value, dict):
    return {k: finite_or_null(v) for k, v in value.items()}
  if isinstance(value, list):
    return [finite_or_null(v) for v in value]
  return value


def write_text(path: pathlib.Path, text: str) -> None:
  """Writes `path` whole or not at all (a temporary file, then a rename)."""
  tmp = path.with_name(f'.{path.name}.tmp')
  tmp.write_text(text)
  os.replace(tmp, path)


def write_json(path: pathlib.Path, value: Any, indent: int = 1) -> None:
  """`value` as JSON into `path`, whole or not at all."""
  write_text(path, json.dumps(value, indent=indent))


def save_npz(path: pathlib.Path, **arrays: np.ndarray) -> None:
  """`np.savez_compressed`, whole or not at all: a crash leaves no torn file
  for a reader to trip on."""
  tmp = path.with_name(f'.{path.name}.tmp')
  with tmp.open('wb') as f:
    np.savez_compressed(f, **arrays)
  os.replace(tmp, path)


def save_representations(workdir: pathlib.Path, epoch: int, labels, arrays: Mapping) -> None:
  """`{layer: (m, d_l) array}` and the `(m,)` labels as the npz of `epoch`.

  Raises:
    ValueError: a layer name `layer_file_name` refuses (nothing is written).
  """
  for name in arrays:
    layer_file_name(name)
  path = representation_path(workdir, epoch)
  path.parent.mkdir(exist_ok=True)
  save_npz(path, labels=np.asarray(labels, np.int32), **arrays)


def append_metrics(path: pathlib.Path, record: dict) -> dict:
  """Appends `record` to the metrics.jsonl at `path` as one line, non-finite
  numbers as null; returns the record as written."""
  record = finite_or_null(record)
  with path.open('a') as f:
    f.write(json.dumps(record) + '\n')
  return record


def write_metrics(path: pathlib.Path, records: list[dict]) -> None:
  """Replaces the metrics.jsonl at `path` by `records` (already written
  once, so JSON-clean), whole or not at all."""
  write_text(path, ''.join(json.dumps(r) + '\n' for r in records))


# ------------------------------------------------------------------ reading


def dig(record: Mapping[str, Any], *keys):
  """`record[k0][k1]...`, or None where any level is absent."""
  node = record
  for key in keys:
    if not isinstance(node, Mapping) or key not in node:
      return None
    node = node[key]
  return node


def _finite(x) -> float:
  try:
    x = float(x)
  except (TypeError, ValueError):  # JSON null, or not a number
    return math.nan
  return x if math.isfinite(x) else math.nan


def value_stderr(entry) -> tuple[float, float]:
  """`(value, stderr)` of a scalar or a `[value, stderr]` pair.

  Null, absent or non-finite parts are NaN; a scalar has no stderr (NaN).
  """
  if isinstance(entry, (list, tuple)):
    value = _finite(entry[0]) if entry else math.nan
    err = _finite(entry[1]) if len(entry) > 1 else math.nan
    return value, err
  return _finite(entry), math.nan


def read_metrics(path: pathlib.Path, *, error=RunRecordError, advice: str = '') -> list[dict]:
  """The records of a metrics.jsonl file, one JSON object a line.

  A torn last line (no final newline: a run caught or stopped mid-write) is
  dropped with a warning naming the file; a run in progress, or a crash,
  leaves one. Any other invalid line (not UTF-8, not JSON) raises `error`
  naming file and line, followed by `advice` (what to do).

  Raises:
    error: a line that is not a JSON object with an integer "epoch" (and an
      integer "seed" where it has one).
  """
  data = path.read_bytes()
  lines = data.splitlines()
  records = []
  for number, raw in enumerate(lines, start=1):
    if not raw.strip():
      continue
    try:
      record = json.loads(raw.decode('utf-8'))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
      if number == len(lines) and not data.endswith(b'\n'):
        logging.warning(
          '%s: dropping the incomplete last line %d (written mid-write).', path, number
        )
        continue
      what = 'UTF-8' if isinstance(e, UnicodeDecodeError) else 'JSON'
      raise error(f'{path}, line {number}: invalid {what} ({e}).{advice}') from None
    if (
      not isinstance(record, dict)
      or not isinstance(record.get('epoch'), int)
      or not isinstance(record.get('seed', 0), int)
    ):
      raise error(
        f'{path}, line {number}: not a record (a JSON object with an integer "epoch" '
        f'and an integer "seed" if any).{advice}'
      )
    records.append(record)
  return records


class Snapshots(Mapping):
  """Lazy `{epoch: {'labels': (m,), layer: (m, d_l)}}` from the npz files.

  Keys (epochs) come from the file names; a file is read when indexed (and
  not kept), so listing epochs is free and memory stays small. An unreadable
  file (truncated, corrupt) raises `UnreadableFileError` naming it; a file
  holding a layer name `layer_file_name` refuses, `RunRecordError`.
  """

  def __init__(self, paths: Mapping[int, pathlib.Path], num_conv: Optional[int] = None):
    self._paths = dict(sorted(paths.items()))
    self._num_conv = num_conv  # for old layer names (current_layer_name)

  def __getitem__(self, epoch: int) -> dict[str, np.ndarray]:
    path = self._paths[epoch]
    try:
      with np.load(path, allow_pickle=False) as npz:
        arrays = {key: npz[key] for key in npz.files}
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError) as e:
      raise UnreadableFileError(
        f'{path} is not a readable .npz file (truncated or corrupt: {e}); '
        'delete it to plot the other epochs.'
      ) from None
    _check_layer_names(path, arrays)
    _note_old_names(path.parent.parent, arrays, self._num_conv)
    return {current_layer_name(key, self._num_conv): value for key, value in arrays.items()}

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
    config: config.json (`{}` when absent).
    meta: run.json (`{}` when absent): layers, seeds, data source...
    records: the metrics.jsonl records sorted by `(seed, epoch)`.
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
    """`{seed: records sorted by epoch}`."""
    out = {seed: [] for seed in self.seeds}
    for r in self.records:
      out[int(r.get('seed', 0))].append(r)
    return out

  @property
  def layers(self) -> dict[str, int]:
    """`{layer name: width}` in depth order (from run.json; `{}` without)."""
    layers = self.meta.get('layers')
    if isinstance(layers, Mapping):
      return {str(k): int(v) for k, v in layers.items()}
    return {}

  @property
  def layer_order(self) -> list[str]:
    """Layer names, shallow to deep (run.json, else as recorded)."""
    if self.layers:
      return list(self.layers)
    found = []
    for r in self.records:
      for field in LAYER_FIELDS:
        found.extend(k for k in (r.get(field) or {}) if k != 'bin_sizes')
    return list(dict.fromkeys(found))

  @property
  def num_inputs(self) -> Optional[int]:
    """Number of evaluation inputs m (`log m` bounds `I(X;T)`)."""
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
    return Snapshots(paths, _num_conv(self.config, self.meta))

  def representation_epochs(self) -> list[int]:
    return list(self.snapshots)

  def load_representations(self, epoch: int) -> dict[str, np.ndarray]:
    """The arrays of `representations/epoch_EEEEEE.npz` (KeyError if none)."""
    return self.snapshots[epoch]


def read_json_object(path: pathlib.Path, *, error=RunRecordError, advice: str = '') -> dict:
  """The JSON object in the file at `path` (config.json, run.json).

  Raises:
    error: the file is not UTF-8 text, not JSON, or holds something other
      than an object; the message names the file, then `advice`.
  """
  try:
    value = json.loads(path.read_bytes().decode('utf-8'))
  except UnicodeDecodeError as e:
    raise error(f'{path} is not UTF-8 text ({e}).{advice}') from None
  except json.JSONDecodeError as e:
    raise error(f'{path} is not valid JSON: {e}.{advice}') from None
  if not isinstance(value, dict):
    raise error(f'{path} must hold a JSON object {{...}}; it holds {_json_kind(value)}.{advice}')
  return value


def _json_kind(value) -> str:
  """What a JSON value is, for messages: 'an array', 'a string', ..."""
  if isinstance(value, bool):
    return 'true or false'
  kinds = {dict: 'an object', list: 'an array', str: 'a string', int: 'a number', float: 'a number'}
  return kinds.get(type(value), 'null')


def _read_json(path: pathlib.Path) -> dict:
  """An optional JSON object of the record (`{}` with a warning when absent)."""
  if not path.exists():
    logging.warning('%s not found; reading the run without it.', path)
    return {}
  return read_json_object(path)


def _check_layer_names(path: pathlib.Path, names) -> None:
  """Refuses a file of the record that holds a layer name `layer_file_name`
  refuses: the record is corrupt or was made to write outside its folders."""
  for name in names:
    try:
      layer_file_name(name)
    except ValueError as e:
      raise RunRecordError(
        f'{path}: {e} Refusing this run record: it is corrupt or was tampered with.'
      ) from None


def _is_count(value) -> bool:
  return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _wrong(place, field: str, expected: str, value) -> RunRecordError:
  """The error of a `field` of another shape; `place` names the file."""
  return RunRecordError(
    f'{place}: "{field}" must be {expected}; got {_json_kind(value)} {_short_repr(value)}.'
  )


def _check_meta(path: pathlib.Path, meta: dict) -> None:
  """Refuses run.json fields that `Run` reads when they have another shape,
  or name a layer `layer_file_name` refuses."""
  layers = meta.get('layers')
  if layers is not None:
    if not isinstance(layers, dict) or not all(_is_count(v) for v in layers.values()):
      raise _wrong(path, 'layers', 'an object {layer name: integer width}', layers)
    _check_layer_names(path, layers)
  for key in ('estimated_layers', 'representation_layers'):
    names = meta.get(key)
    if names is not None:
      if not isinstance(names, list):
        raise _wrong(path, key, 'an array of layer names', names)
      _check_layer_names(path, names)
  inputs = meta.get('num_eval_inputs')
  if inputs is not None and not _is_count(inputs):
    raise _wrong(path, 'num_eval_inputs', 'an integer >= 0', inputs)


def _check_model(path: pathlib.Path, source: dict) -> None:
  """Refuses a CNN `model` (config.json, run.json) whose `conv_features` is
  not an array (`_num_conv` counts it)."""
  model = source.get('model')
  if isinstance(model, Mapping) and model.get('kind') == 'cnn':
    features = model.get('conv_features')
    if features is not None and not isinstance(features, list):
      raise _wrong(path, 'model.conv_features', 'an array of integers', features)


def _check_records(path: pathlib.Path, records: list) -> None:
  """Refuses records whose layer fields are not objects or name a layer
  `layer_file_name` refuses."""
  for r in records:
    for field in LAYER_FIELDS:
      entry = r.get(field)
      if entry is None:
        continue
      if not isinstance(entry, dict):
        place = f'{path}, the record of epoch {r["epoch"]}, seed {r.get("seed", 0)}'
        raise _wrong(place, field, 'an object {layer name: ...}', entry)
      _check_layer_names(path, (k for k in entry if k != 'bin_sizes'))


def load_run(workdir) -> Run:
  """Loads the run record in `workdir`.

  Raises:
    RunRecordError: the directory does not exist (or is a file), has no
      metrics.jsonl, or it holds no records (e.g. the run has not reached
      its first analysed epoch); or a file is malformed: not UTF-8 or JSON,
      a field of another shape, a layer name `layer_file_name` refuses. The
      message names the path.
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
      f'not written its first analysed epoch yet.'
    )
  records = read_metrics(metrics)
  if not records:
    raise RunRecordError(f'{metrics} is empty: it has no records yet.')
  # A resumed run may rewrite an epoch: the last record for (epoch, seed) wins.
  unique = {}
  for r in records:
    unique[(int(r.get('seed', 0)), int(r['epoch']))] = r
  if len(unique) < len(records):
    logging.warning(
      '%s: %d duplicate (epoch, seed) records; keeping the last.',
      metrics,
      len(records) - len(unique),
    )
  config = _read_json(workdir / CONFIG)
  meta = _read_json(workdir / RUN_INFO)
  records = [unique[k] for k in sorted(unique)]
  _check_records(metrics, records)
  _check_meta(workdir / RUN_INFO, meta)
  _check_model(workdir / CONFIG, config)
  _check_model(workdir / RUN_INFO, meta)
  _rename_old_layers(workdir, config, meta, records)
  return Run(workdir=workdir, config=config, meta=meta, records=records)


# ---------------------------------------------------------- old layer names


def is_old_layer_name(name: str) -> bool:
  """Whether `name` is of the form records used before the current names."""
  return bool(_OLD_LAYER.fullmatch(name))


def current_layer_name(name: str, num_conv: Optional[int] = None) -> str:
  """The current name of a layer named in an old run record.

  Old records (before the layer names of `infoflow.models`) called hidden
  layer `k + 1` `noise_k`: the noise module's name, counted from 0, with
  conv and dense layers sharing the count. So an MLP's `noise_k` is
  `T{k+1}`, and a CNN's with `num_conv` convolutions is `conv{k+1}` for
  `k < num_conv`, else `dense{k+1}` (the same numbers: the count ran across
  the whole net then as now).

  Args:
    name: a layer name as recorded.
    num_conv: the number of convolutions when the run's model is a CNN
      (`model.conv_features` of its config); None for an MLP.

  Returns:
    The current name; a name not of the old form is returned unchanged.
  """
  match = _OLD_LAYER.fullmatch(name)
  if not match:
    return name
  layer = int(match.group(1)) + 1
  if num_conv is None:
    return f'T{layer}'
  return f'{"conv" if layer <= num_conv else "dense"}{layer}'


def _num_conv(config: Mapping, meta: Mapping) -> Optional[int]:
  """Convolutions of a CNN run's model (from run.json or config.json)."""
  for source in (meta, config):
    model = source.get('model')
    if isinstance(model, Mapping) and model.get('kind') == 'cnn':
      return len(model.get('conv_features') or ())
  return None


def _note_old_names(workdir: pathlib.Path, names, num_conv) -> None:
  """Logs, once per run directory, that old layer names were renamed."""
  old = sorted({n for n in names if is_old_layer_name(n)}, key=lambda n: int(n.split('_')[1]))
  if not old or workdir in _warned_old_names:
    return
  _warned_old_names.add(workdir)
  mapping = ', '.join(f'{n} -> {current_layer_name(n, num_conv)}' for n in old)
  logging.warning(
    '%s: the run record uses old layer names; reading them under the current ones: %s.',
    workdir,
    mapping,
  )


def _rename_old_layers(workdir: pathlib.Path, config: dict, meta: dict, records: list) -> None:
  """Gives old layer names (see `current_layer_name`) their current names,
  in place, in run.json and every record's layer fields."""
  num_conv = _num_conv(config, meta)
  rename = lambda name: current_layer_name(name, num_conv)
  names = []
  if isinstance(meta.get('layers'), Mapping):
    names.extend(meta['layers'])
    meta['layers'] = {rename(k): v for k, v in meta['layers'].items()}
  for key in ('estimated_layers', 'representation_layers'):
    if isinstance(meta.get(key), list):
      names.extend(str(n) for n in meta[key])
      meta[key] = [rename(str(n)) for n in meta[key]]
  for r in records:
    for field in LAYER_FIELDS:
      if isinstance(r.get(field), Mapping):
        names.extend(r[field])
        r[field] = {rename(k): v for k, v in r[field].items()}
  _note_old_names(workdir, names, num_conv)
