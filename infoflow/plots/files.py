"""Every applicable figure of a run record, written to files.

`write_figures(workdir, out)` reads the run record in `workdir`
(docs/run_record.md) and writes each figure whose fields the run has (the
list is in `launch/plot.py`, the command that wraps this); a figure that does
not apply is skipped with its reason.
"""

from __future__ import annotations

from collections.abc import Sequence
import logging
import numbers
import pathlib
from typing import Optional

from infoflow import plots
from infoflow import record as record_lib
from infoflow.plots.common import OutputError
from infoflow.plots.common import Reference
from infoflow.plots.common import output_path

# The resolutions `write_figures` accepts (dots per inch): below, text is
# unreadable; above, one figure takes gigabytes.
MIN_DPI = 10
MAX_DPI = 1000


def _first_readable(snapshots: record_lib.Snapshots):
  """The arrays of the first readable representation file, or the error of
  the first file when none is readable."""
  first_error = None
  for epoch in snapshots:
    try:
      return snapshots[epoch]
    except record_lib.UnreadableFileError as e:
      first_error = first_error or e
  raise first_error


def figure_makers(
  run: record_lib.Run,
  *,
  layer: Optional[str] = None,
  epochs: Optional[Sequence[int]] = None,
  units: str = 'bits',
  reference: Optional[Reference] = None,
):
  """``[(file stem, thunk returning a Figure)]`` for every figure kind;
  ``reference`` (another run's curves, e.g. the authors') is drawn dashed on
  the training and information curves.

  Raises:
    plots.UnknownLayerError: ``layer`` is not a layer of the run, or has no
      saved representations.
    record_lib.RunRecordError: a representation file holds a layer name
      that ``record_lib.layer_file_name`` refuses.
  """
  if layer is not None and run.layer_order and layer not in run.layer_order:
    raise plots.UnknownLayerError(
      f'unknown layer {layer!r}; the layers of this run: {", ".join(run.layer_order)}.'
    )
  u = {'units': units}
  makers = [
    ('training_curves', lambda: plots.plot_training_curves(run, reference=reference)),
    ('information_curves', lambda: plots.plot_information_curves(run, reference=reference, **u)),
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
  except record_lib.UnreadableFileError as e:
    return makers + [('cosine_similarity', str(e)), ('scatter', str(e))]
  # Resolve layers now: they name the files. A bad --layer is a usage error.
  for stem, narrowest, plot in (
    ('cosine_similarity', False, plots.plot_cosine_similarity_matrices),
    ('scatter', True, plots.plot_scatter_layers),
  ):
    name = plots.pick_layer(first, layer, narrowest=narrowest, order=run.layer_order)
    file_name = record_lib.layer_file_name(name)
    makers.append((f'{stem}_{file_name}', lambda p=plot, n=name: p(run, layer=n, epochs=epochs)))
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
  reference: Optional[Reference] = None,
) -> tuple[list[pathlib.Path], dict[str, str]]:
  """Writes the figures of the run in ``workdir``; the core of the command.

  Every file is written inside ``out`` (default ``workdir/figures``, which
  must itself lie inside ``workdir``), as ``output_path`` checks.

  Returns:
    ``(written paths, {skipped figure: reason})``.

  Raises:
    ValueError: ``dpi`` is not an integer in [MIN_DPI, MAX_DPI].
    record_lib.RunRecordError: ``workdir`` is not a readable run record.
    plots.UnknownLayerError: ``layer`` is not among the saved
      representations.
    OutputError: ``out`` cannot be created or written, or a path would lie
      outside it.
  """
  check_dpi(dpi)
  run = record_lib.load_run(workdir)
  out = pathlib.Path(out) if out else output_path(run.workdir, 'figures')
  makers = figure_makers(run, layer=layer, epochs=epochs, units=units, reference=reference)
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
    path = output_path(out, f'{stem}.{fmt}')
    try:
      fig.savefig(path, format=fmt, dpi=dpi)
    except OSError as e:
      raise OutputError(f'cannot write {path}: {e.strerror or e}; pass another --out.') from None
    written.append(path)
  if animate:
    try:
      gifs, not_animated = plots.write_animations(run, out, layer=layer, units=units)
    except OutputError:
      raise
    except OSError as e:
      raise OutputError(
        f'cannot write an animation in {out}: {e.strerror or e}; pass another --out.'
      ) from None
    written.extend(gifs)
    skipped.update(not_animated)
  return written, skipped


def check_dpi(dpi, name: str = 'dpi') -> int:
  """``dpi``, checked to be an integer in [MIN_DPI, MAX_DPI].

  Raises:
    ValueError: otherwise, naming the argument as ``name``.
  """
  if (
    isinstance(dpi, bool) or not isinstance(dpi, numbers.Integral) or not MIN_DPI <= dpi <= MAX_DPI
  ):
    raise ValueError(f'{name} must be an integer from {MIN_DPI} to {MAX_DPI}; got {dpi!r}.')
  return dpi


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
  except record_lib.UnreadableFileError as e:
    skipped[stem] = str(e)
    logging.warning('skipping %s: %s', stem, e)
  return None
