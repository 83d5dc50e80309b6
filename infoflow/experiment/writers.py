"""Metric writers: where a run's records go, behind one small interface.

A writer has the four methods of `clu.metric_writers` (so a clu writer can be
passed as is):

    write_scalars(step, {tag: float})      step: the epoch
    write_images(step, {tag: (H, W, 3) uint8 array})
    flush(); close()

and may add `write_record(record)`, which gets each metrics record whole
(docs/run_record.md); without it, a writer gets the record's scalars
(`record_scalars`: tags `seed0/train/loss`, `seed0/mi_input_bits/T1`, ...).
Images (the information plane so far, the narrowest saved layer's scatter)
are drawn once per analysed epoch, and only if a writer wants them (its
`wants_images`, True for writers that do not say).

metrics.jsonl is always written (`JsonlWriter`: resumption and `launch.plot`
read it); `config.writers` names the others (`names()`: 'tensorboard', into
`WORKDIR/tensorboard`, and any `register`ed by name). From Python, writer
objects are also passed directly:

    runner.train_and_analyse(config, workdir, writers=[MyWriter()])
"""

from __future__ import annotations

import math
import pathlib
from typing import Any
from typing import Callable
from typing import Mapping
from typing import Optional
from typing import Protocol
from typing import Sequence

import numpy as np

from infoflow import configs
from infoflow import record as record_lib
from infoflow import units

SPLITS = ('train', 'test', 'validation')


class MetricWriter(Protocol):
  """What the run writes metrics to (`clu.metric_writers`' interface)."""

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    """Writes scalar values of one step (the epoch), by tag."""

  def write_images(self, step: int, images: Mapping[str, np.ndarray]) -> None:
    """Writes (H, W, 3) uint8 images of one step, by tag."""

  def flush(self) -> None:
    """Makes what was written durable."""

  def close(self) -> None:
    """Flushes and releases the writer's files."""


class Writer:
  """A base for writers: records as scalars, no images; no-op otherwise.

  Subclasses override what they write; set `wants_images = True` to be sent
  the figures of each analysed epoch.
  """

  wants_images = False

  def write_record(self, record: dict) -> None:
    """One metrics record (non-finite values as None): its scalars."""
    self.write_scalars(record['epoch'], record_scalars(record))

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    pass

  def write_images(self, step: int, images: Mapping[str, np.ndarray]) -> None:
    pass

  def flush(self) -> None:
    pass

  def close(self) -> None:
    pass


class JsonlWriter(Writer):
  """Appends each record to metrics.jsonl (`record.append_metrics`)."""

  def __init__(self, path: pathlib.Path):
    self.path = pathlib.Path(path)

  def write_record(self, record: dict) -> None:
    record_lib.append_metrics(self.path, record)


class TensorBoardWriter(Writer):
  """TensorBoard event files (tensorboardX) in `logdir`.

  The event file is opened at the first step written; earlier events at that
  step and later (a resumed run redoes those epochs) are then hidden by
  TensorBoard (`purge_step`).
  """

  wants_images = True

  def __init__(self, logdir: pathlib.Path):
    self.logdir = pathlib.Path(logdir)
    self._writer = None

  def _open(self, step: int):
    if self._writer is None:
      import tensorboardX

      self._writer = tensorboardX.SummaryWriter(str(self.logdir), purge_step=step)
    return self._writer

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    writer = self._open(step)
    for tag, value in scalars.items():
      writer.add_scalar(tag, value, step)

  def write_images(self, step: int, images: Mapping[str, np.ndarray]) -> None:
    writer = self._open(step)
    for tag, image in images.items():
      writer.add_image(tag, image, step, dataformats='HWC')

  def flush(self) -> None:
    if self._writer is not None:
      self._writer.flush()

  def close(self) -> None:
    if self._writer is not None:
      self._writer.close()
      self._writer = None


Factory = Callable[[pathlib.Path, Any], MetricWriter]
_FACTORIES: dict[str, Factory] = {
  'tensorboard': lambda workdir, config: TensorBoardWriter(workdir / 'tensorboard')
}


def register(name: str, factory: Factory) -> None:
  """Makes `name` usable in `config.writers`: `factory(workdir, config)`
  returns a new writer for a run."""
  if name == 'jsonl':
    raise ValueError("'jsonl' is the metrics.jsonl writer, always on.")
  _FACTORIES[name] = factory


def unregister(name: str) -> None:
  """Forgets a writer `register`ed as `name`."""
  del _FACTORIES[name]


def names() -> tuple[str, ...]:
  """The writer names `config.writers` may hold."""
  return tuple(sorted(_FACTORIES))


def record_scalars(record: Mapping[str, Any]) -> dict[str, float]:
  """The finite numbers of a metrics record, tagged `seed<S>/...`.

  Losses and accuracies as recorded (`seed0/test/accuracy_noisy`);
  information and entropies in bits (`seed0/mi_input_bits/T1`,
  `seed0/mi_input_stderr_bits/T1`, `seed0/mi_label_bits/T1`,
  `seed0/binned_entropy_bits/T1/bin0.01`, the R/2 replica diagnostic
  `seed0/mi_input_half_replicas_bits/T1`, the input set's
  `seed0/information_ceiling_bits`); clustering measures as recorded
  (`seed0/clustering/T1/gap`), their entropies in bits
  (`cluster_entropy_bits`, `packed_cluster_entropy_bits`).

  Raises:
    ValueError: a layer name that `record.layer_file_name` refuses (a tag
      is a path in TensorBoard's hierarchy; names go in only as checked).
  """
  prefix = f'seed{record.get("seed", 0)}/'
  scalars = {}

  def put(tag, value, scale=1.0):
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
      scalars[prefix + tag] = float(value) * scale

  def layers(field):
    """`[(layer, entry)]` of a record's layer field, each name checked."""
    entries = dict(record.get(field) or {})
    entries.pop('bin_sizes', None)
    return [(record_lib.layer_file_name(name), entry) for name, entry in entries.items()]

  if record.get('diverged'):
    put('diverged', 1.0)
  for split in SPLITS:
    for name, value in (record.get(split) or {}).items():
      put(f'{split}/{name}', value)
  put('information_ceiling_bits', record.get('information_ceiling'), units.BITS_PER_NAT)
  for layer, entry in layers('information'):
    for q in ('mi_input', 'mi_label', 'mi_input_half_replicas'):
      value, stderr = entry.get(q) or (None, None)
      put(f'{q}_bits/{layer}', value, units.BITS_PER_NAT)
      put(f'{q}_stderr_bits/{layer}', stderr, units.BITS_PER_NAT)
  sizes = (record.get('binning') or {}).get('bin_sizes', [])
  for layer, entry in layers('binning'):
    for q in ('entropy', 'mi_label'):
      for size, value in zip(sizes, entry.get(q) or ()):
        put(f'binned_{q}_bits/{layer}/bin{size:g}', value, units.BITS_PER_NAT)
  for layer, entry in layers('clustering'):
    for name, value in entry.items():
      if name.endswith('cluster_entropy'):
        put(f'clustering/{layer}/{name}_bits', value, units.BITS_PER_NAT)
      else:
        put(f'clustering/{layer}/{name}', value)
  return scalars


class Writers:
  """The writers of a run, written to together.

  Attributes:
    writers: metrics.jsonl's writer first, then the others.
    owned: those the run created, closed by `close` (the others, passed by
      the caller, are only flushed).
  """

  def __init__(self, writers: Sequence[MetricWriter], owned: Sequence[MetricWriter] = ()):
    self.writers = list(writers)
    self.owned = list(owned)

  def write_record(self, record: dict) -> dict:
    """Writes `record` (non-finite numbers as None) to every writer;
    returns it as written."""
    record = record_lib.finite_or_null(record)
    for writer in self.writers:
      if hasattr(writer, 'write_record'):
        writer.write_record(record)
      else:
        writer.write_scalars(record['epoch'], record_scalars(record))
    return record

  def write_figures(
    self,
    epoch: int,
    records: Sequence[Mapping],
    representations: Mapping,
    labels,
    layers: Optional[Mapping[str, int]] = None,
  ) -> None:
    """`infoflow.plots.images.epoch_images` to the writers that want images
    (drawn, and the plotting code imported, only then)."""
    wanting = [w for w in self.writers if getattr(w, 'wants_images', True)]
    if wanting:
      from infoflow.plots import images as images_lib

      images = images_lib.epoch_images(records, representations, labels, epoch, layers)
      for writer in wanting:
        writer.write_images(epoch, images)

  def flush(self) -> None:
    for writer in self.writers:
      writer.flush()

  def close(self) -> None:
    self.flush()
    for writer in self.owned:
      writer.close()


def check_names(config) -> None:
  """Checks that `config.writers` names registered writers (`configs.validate`
  checks the rest of the field).

  Raises:
    configs.ConfigError: an unknown name, naming it and the known ones.
  """
  unknown = [n for n in config.writers if n not in _FACTORIES]
  if unknown:
    raise configs.ConfigError(
      f'config field writers names unknown writers {", ".join(unknown)}; known: '
      f'{", ".join(names())} (or () for metrics.jsonl alone). Fix it with --config.writers=VALUE.'
    )


def open_writers(config, workdir: pathlib.Path, extra: Sequence[MetricWriter] = ()) -> Writers:
  """metrics.jsonl's writer, those `config.writers` names, then `extra`.

  Raises:
    configs.ConfigError: a name in `config.writers` that is not registered.
  """
  check_names(config)
  owned = [JsonlWriter(workdir / record_lib.METRICS)] + [
    _FACTORIES[n](workdir, config) for n in config.writers
  ]
  return Writers(owned + list(extra), owned)
