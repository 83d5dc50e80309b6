r"""Writes every applicable figure of a training run.

    python -m launch.plot --workdir=DIR [--out=DIR/figures] [--format=png]
        [--layer=T5] [--epochs=10,100,1000] [--units=bits] [--animate]

Reads only the run record in DIR (docs/run_record.md) and writes, to --out:

  training_curves          train/test loss and accuracy
  information_curves       I(X;T_l), I(T_l;Y) vs epoch    (needs `information`)
  information_plane        I(T;Y) against I(X;T), all layers on one pair of
                           axes, marker = layer, colour = epoch (needs `mi_label`)
  information_plane_panels the same, a panel a layer      (needs `mi_label`)
  binned_entropy           H(Bin(T_l)) vs epoch per bin   (needs `binning`)
  binned_mi_label          I(Bin(T_l);Y) vs epoch         (needs `binning`)
  clustering               clustering measures vs epoch   (needs `clustering`)
  cosine_similarity_LAYER  class-sorted cosine similarity (needs npz files)
  scatter_LAYER            scatter of a low-dimensional layer (npz files)

With --animate, also two GIFs (one frame per analysed epoch; --epochs does
not apply): scatter_LAYER.gif, the scatter's layer over the epochs, and
information_plane.gif, the information plane filling in
(infoflow.plots.animation).

Figures whose fields the run lacks (e.g. information for a deterministic
net) are skipped, with the reason printed. --layer and --epochs choose the
representation figures' layer (named as in the run record: T1, T2, ... for an
MLP, conv1, conv2, dense3 for the CNN; default: deepest for the similarity
matrices, narrowest for the scatter; a name the run lacks is an error listing
its layers) and epochs (default: first, middle and last saved; an epoch
without a file is replaced by the nearest saved one). Exits non-zero, naming
the path, when the directory is not a readable run record or the output
directory cannot be written. An unreadable (e.g. truncated) representation
file skips the figures that need it, with a warning naming the file; the
other figures are written (docs/errors.md). A run record that names a layer
outside `infoflow.record.LAYER_NAME` (e.g. `../x`: layer names become file
names) is refused whole, naming the file; every file is written inside --out.
The work is `infoflow.plots.files.write_figures`.
"""

from __future__ import annotations

from collections.abc import Sequence
import pathlib
import sys

from absl import app
from absl import flags
import matplotlib

matplotlib.use('Agg')  # files only; before anything imports pyplot

from infoflow import plots
from infoflow import record
from infoflow.plots import files as figure_files

from . import common_flags

_WORKDIR = common_flags.WORKDIR
_OUT = common_flags.OUT
_FORMAT = flags.DEFINE_enum('format', 'png', ['png', 'svg', 'pdf'], 'Image format.')
_LAYER = flags.DEFINE_string(
  'layer',
  None,
  'Layer of the representation figures, e.g. T5 or dense3 '
  '(default: deepest saved layer for similarity, narrowest for the '
  'scatter).',
)
_EPOCHS = flags.DEFINE_list(
  'epochs', None, 'Epochs of the representation figures (default: first, middle and last saved).'
)
_UNITS = flags.DEFINE_enum('units', 'bits', ['bits', 'nats'], 'Units of information and entropies.')
_DPI = flags.DEFINE_integer(
  'dpi',
  120,
  f'Resolution of PNG files, {figure_files.MIN_DPI} to {figure_files.MAX_DPI} dots per inch.',
)
_ANIMATE = flags.DEFINE_bool(
  'animate',
  False,
  'Also write scatter_LAYER.gif and information_plane.gif: one frame per analysed epoch.',
)


def main(argv: Sequence[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {" ".join(argv[1:])}')
  if not _WORKDIR.value:
    raise app.UsageError('--workdir is required.')
  try:
    epochs = [int(e) for e in _EPOCHS.value] if _EPOCHS.value else None
  except ValueError as e:
    raise app.UsageError(f'--epochs must be integers: {e}') from e
  try:
    figure_files.check_dpi(_DPI.value, '--dpi')
  except ValueError as e:
    sys.exit(f'launch.plot: error: {e}')
  if _LAYER.value is not None:
    try:
      record.layer_file_name(_LAYER.value)
    except ValueError as e:
      sys.exit(f'launch.plot: error: --layer: {e}')
  try:
    written, skipped = figure_files.write_figures(
      _WORKDIR.value,
      _OUT.value,
      fmt=_FORMAT.value,
      layer=_LAYER.value,
      epochs=epochs,
      units=_UNITS.value,
      dpi=_DPI.value,
      animate=_ANIMATE.value,
    )
  except (record.RunRecordError, plots.UnknownLayerError, figure_files.OutputError) as e:
    sys.exit(f'launch.plot: error: {e}')
  folder = _OUT.value or pathlib.Path(_WORKDIR.value) / 'figures'
  print(f'wrote {len(written)} figure(s) to {folder}:')
  for path in written:
    print(f'  {path}')
  for stem, reason in skipped.items():
    print(f'skipped {stem}: {reason}')


def run():
  """The command (`python -m launch.plot`, installed as `infoflow-plot`)."""
  app.run(main)


if __name__ == '__main__':
  run()
