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
other figures are written (docs/errors.md).
"""

from __future__ import annotations

from collections.abc import Sequence
import logging
import pathlib
import sys
from typing import Optional

from absl import app
from absl import flags
import matplotlib

matplotlib.use('Agg')  # files only; before anything imports pyplot

from infoflow import plots  # pylint: disable=g-import-not-at-top
from launch import common_flags  # pylint: disable=g-import-not-at-top

_WORKDIR = common_flags.WORKDIR
_OUT = flags.DEFINE_string('out', None, 'Output directory (default: WORKDIR/figures).')
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
_DPI = flags.DEFINE_integer('dpi', 120, 'Resolution of PNG files.')
_ANIMATE = flags.DEFINE_bool(
  'animate',
  False,
  'Also write scatter_LAYER.gif and information_plane.gif: one frame per analysed epoch.',
)


class OutputError(OSError):
  """The figures cannot be written; the message names the path."""


def _first_readable(snapshots: plots.Snapshots):
  """The arrays of the first readable representation file, or the error of
  the first file when none is readable."""
  first_error = None
  for epoch in snapshots:
    try:
      return snapshots[epoch]
    except plots.RunRecordError as e:
      first_error = first_error or e
  raise first_error


def figure_makers(
  run: plots.Run,
  *,
  layer: Optional[str] = None,
  epochs: Optional[Sequence[int]] = None,
  units: str = 'bits',
):
  """``[(file stem, thunk returning a Figure)]`` for every figure kind.

  Raises:
    plots.UnknownLayerError: ``layer`` is not a layer of the run, or has no
      saved representations.
  """
  if layer is not None and run.layer_order and layer not in run.layer_order:
    raise plots.UnknownLayerError(
      f'unknown layer {layer!r}; the layers of this run: {", ".join(run.layer_order)}.'
    )
  u = {'units': units}
  makers = [
    ('training_curves', lambda: plots.plot_training_curves(run)),
    ('information_curves', lambda: plots.plot_information_curves(run, **u)),
    ('information_plane', lambda: plots.plot_information_plane(run, **u)),
    ('information_plane_panels', lambda: plots.plot_information_plane_panels(run, **u)),
    ('binned_entropy', lambda: plots.plot_binned_entropy_curves(run, **u)),
    ('binned_mi_label', lambda: plots.plot_binned_entropy_curves(run, quantity='mi_label', **u)),
    ('clustering', lambda: plots.plot_clustering_curves(run, **u)),
  ]
  snapshots = run.snapshots
  if not snapshots:
    reason = f'no representation files in {run.workdir / "representations"}.'
    return makers + [('cosine_similarity', reason), ('scatter', reason)]
  try:
    first = _first_readable(snapshots)
  except plots.RunRecordError as e:
    return makers + [('cosine_similarity', str(e)), ('scatter', str(e))]
  # Resolve layers now: they name the files. A bad --layer is a usage error.
  for stem, narrowest, plot in (
    ('cosine_similarity', False, plots.plot_cosine_similarity_matrices),
    ('scatter', True, plots.plot_scatter_layers),
  ):
    name = plots.pick_layer(first, layer, narrowest=narrowest, order=run.layer_order)
    makers.append((f'{stem}_{name}', lambda p=plot, n=name: p(run, layer=n, epochs=epochs)))
  return makers


def write_figures(
  workdir,
  out=None,
  *,
  fmt: str = 'png',
  layer: Optional[str] = None,
  epochs: Optional[Sequence[int]] = None,
  units: str = 'bits',
  dpi: int = 120,
  animate: bool = False,
) -> tuple[list[pathlib.Path], dict[str, str]]:
  """Writes the figures of the run in ``workdir``; the core of the command.

  Returns:
    ``(written paths, {skipped figure: reason})``.

  Raises:
    plots.RunRecordError: ``workdir`` is not a readable run record.
    plots.UnknownLayerError: ``layer`` is not among the saved
      representations.
    OutputError: ``out`` cannot be created or written.
  """
  run = plots.load_run(workdir)
  out = pathlib.Path(out) if out else run.workdir / 'figures'
  makers = figure_makers(run, layer=layer, epochs=epochs, units=units)
  try:
    out.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise OutputError(
      f'cannot create the output directory {out}: {e.strerror or e}; pass another --out.'
    ) from None
  written, skipped = [], {}
  for stem, make in makers:
    fig = _make_figure(stem, make, skipped)
    if fig is None:
      continue
    path = out / f'{stem}.{fmt}'
    try:
      fig.savefig(path, format=fmt, dpi=dpi)
    except OSError as e:
      raise OutputError(f'cannot write {path}: {e.strerror or e}; pass another --out.') from None
    written.append(path)
  if animate:
    try:
      gifs, not_animated = plots.write_animations(run, out, layer=layer, units=units)
    except OSError as e:
      raise OutputError(
        f'cannot write an animation in {out}: {e.strerror or e}; pass another --out.'
      ) from None
    written.extend(gifs)
    skipped.update(not_animated)
  return written, skipped


def _make_figure(stem: str, make, skipped: dict[str, str]):
  """The figure `make` draws, or None with the reason in `skipped[stem]`
  (`make` is that reason already when the figure is known not to apply)."""
  if isinstance(make, str):
    skipped[stem] = make
    return None
  try:
    return make()
  except plots.NothingToPlot as e:
    skipped[stem] = str(e)
    logging.info('skipping %s: %s', stem, e)
  except plots.RunRecordError as e:  # an unreadable representation file
    skipped[stem] = str(e)
    logging.warning('skipping %s: %s', stem, e)
  return None


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
    written, skipped = write_figures(
      _WORKDIR.value,
      _OUT.value,
      fmt=_FORMAT.value,
      layer=_LAYER.value,
      epochs=epochs,
      units=_UNITS.value,
      dpi=_DPI.value,
      animate=_ANIMATE.value,
    )
  except (plots.RunRecordError, plots.UnknownLayerError, OutputError) as e:
    sys.exit(f'launch.plot: error: {e}')
  folder = _OUT.value or pathlib.Path(_WORKDIR.value) / 'figures'
  print(f'wrote {len(written)} figure(s) to {folder}:')
  for path in written:
    print(f'  {path}')
  for stem, reason in skipped.items():
    print(f'skipped {stem}: {reason}')


if __name__ == '__main__':
  app.run(main)
