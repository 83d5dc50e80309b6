"""Helpers shared by the figures: seeds and epochs, units, axes, grids, and
the one check of where a figure file is written (`output_path`)."""

from __future__ import annotations

from collections.abc import Callable
from collections.abc import Mapping
from collections.abc import Sequence
import pathlib
from typing import Any
from typing import NamedTuple
from typing import Optional

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
import numpy as np

from infoflow import record as record_lib

# Inches per panel: readable at README width with 3 panels side by side.
PANEL_WIDTH = 4.0
PANEL_HEIGHT = 3.2
EPOCH_LABEL = 'epoch (log scale, linear below 1)'
PM = '\u00b1'  # plus-minus sign


class NothingToPlot(ValueError):
  """The data lack what a figure needs; the message says what is missing."""


class OutputError(OSError):
  """The figures cannot be written; the message names the path."""


def output_path(out, name: str) -> pathlib.Path:
  """`out / name`, refused unless it lies inside the directory `out`.

  Both are resolved (symbolic links followed, '..' removed), so neither a
  name from a run record nor a link planted in `out` can lead a write
  elsewhere.

  Raises:
    OutputError: the path resolves to `out` itself or outside it; names both.
  """
  out = pathlib.Path(out)
  path = out / name
  inside, resolved = out.resolve(), path.resolve()
  if resolved == inside or not resolved.is_relative_to(inside):
    raise OutputError(
      f'refusing to write {path}: it resolves to {resolved}, outside the output directory '
      f'{inside}; pass another --out.'
    )
  return path


class Series(NamedTuple):
  """One quantity over epochs for every seed.

  Attributes:
    epochs: ``(E,)`` sorted epochs at which some seed has a value.
    values: ``(S, E)``, NaN where a seed has no value at that epoch.
    stderr: ``(S, E)``, NaN where no standard error was recorded.
  """

  epochs: np.ndarray
  values: np.ndarray
  stderr: np.ndarray

  def mean(self) -> np.ndarray:
    """Mean over seeds of the finite values, ``(E,)``."""
    ok = np.isfinite(self.values)
    total = np.where(ok, self.values, 0.0).sum(axis=0)
    count = ok.sum(axis=0)
    return np.where(count > 0, total / np.maximum(count, 1), np.nan)


def collect(
  records: Sequence[Mapping[str, Any]], getter: Callable[[Mapping[str, Any]], Any]
) -> Optional[Series]:
  """Gathers ``getter(record)`` (scalar or ``[value, stderr]``) by seed.

  Records where ``getter`` returns None are ignored; returns None when no
  record has a value (the field is absent from the run).
  """
  found = []
  for r in records:
    entry = getter(r)
    if entry is not None:
      found.append((int(r.get('seed', 0)), int(r['epoch']), entry))
  if not found:
    return None
  seeds = sorted({s for s, _, _ in found})
  epochs = np.array(sorted({e for _, e, _ in found}))
  values = np.full((len(seeds), len(epochs)), np.nan)
  stderr = np.full_like(values, np.nan)
  for seed, epoch, entry in found:
    i, j = seeds.index(seed), int(np.searchsorted(epochs, epoch))
    values[i, j], stderr[i, j] = record_lib.value_stderr(entry)
  return Series(epochs, values, stderr)


def draw_series(
  ax,
  series: Series,
  *,
  scale: float = 1.0,
  color=None,
  label: Optional[str] = None,
  linestyle: str = '-',
  spread: str = 'minmax',
):
  """Line over epochs with an uncertainty band.

  One seed: the values with a +-1 stderr band (when stderrs were recorded).
  Several seeds: the mean over seeds, and a band of the min-max (``spread=
  'minmax'``) or +-1 standard deviation (``'std'``) across seeds; the seed
  spread is what matters then (it dwarfs the estimators' stderr).
  """
  if spread not in ('minmax', 'std'):
    raise ValueError(f"spread must be 'minmax' or 'std'; got {spread!r}.")
  x, values = series.epochs, series.values * scale
  if values.shape[0] == 1:
    centre, err = values[0], series.stderr[0] * scale
    low, high = centre - err, centre + err
  else:
    centre = series.mean() * scale
    masked = np.ma.masked_invalid(values)
    if spread == 'minmax':
      low, high = masked.min(axis=0), masked.max(axis=0)
    else:
      std = masked.std(axis=0)
      low, high = centre - std, centre + std
    low, high = np.ma.filled(low, np.nan), np.ma.filled(high, np.nan)
  (line,) = ax.plot(
    x,
    centre,
    color=color,
    label=label,
    linestyle=linestyle,
    marker='.' if len(x) < 30 else None,
    markersize=4,
  )
  if np.any(np.isfinite(low) & (high > low)):
    ax.fill_between(x, low, high, color=line.get_color(), alpha=0.25, linewidth=0)
  return line


# The line style of another run's curves drawn over a figure (`Reference`).
REFERENCE_STYLE = '--'


class Reference(NamedTuple):
  """Another run's curves to draw over a figure's own, e.g. the authors'
  saved run (`infoflow.paper.authors`).

  Attributes:
    label: its legend entry ('authors').
    records: its metric records (docs/run_record.md); the figure reads the
      same fields from them as from its own.
  """

  label: str
  records: Sequence[Mapping[str, Any]]


def draw_reference(
  ax, reference: Optional[Reference], getter, *, scale=1.0, color=None, label=None
):
  """The mean over the reference's seeds of `getter`, dashed
  (`REFERENCE_STYLE`), without a band; no legend entry unless `label` (else
  add `reference_handle`). None when there is no reference or no value."""
  series = collect(reference.records, getter) if reference is not None else None
  if series is None:
    return None
  (line,) = ax.plot(
    series.epochs,
    series.mean() * scale,
    color=color,
    linestyle=REFERENCE_STYLE,
    linewidth=1.2,
    label=label or '_nolegend_',
  )
  return line


def reference_handle(reference: Reference, color='0.3'):
  """A legend entry for the reference's dashed curves."""
  return Line2D([], [], color=color, linestyle=REFERENCE_STYLE, label=reference.label)


def band_note(records: Sequence[Mapping[str, Any]], spread: str) -> str:
  """What the band around a line means, for titles."""
  num_seeds = len({int(r.get('seed', 0)) for r in records})
  if num_seeds == 1:
    return f'band: {PM}1 stderr'
  what = 'min-max' if spread == 'minmax' else f'{PM}1 std'
  return f'mean of {num_seeds} seeds, band: {what} across seeds'


def epoch_axis(ax):
  """Log epoch axis that still shows epoch 0 (symlog, linear in [0, 1])."""
  ax.set_xscale('symlog', linthresh=1.0, linscale=0.4)
  ax.set_xlim(left=0)
  ax.set_xlabel(EPOCH_LABEL)


def grid(
  num_panels: int,
  max_cols: int = 3,
  *,
  extra_width: float = 0.0,
  panel_height: float = PANEL_HEIGHT,
  **subplot_kw,
) -> tuple[Figure, list]:
  """Figure with ``num_panels`` axes in rows of at most ``max_cols``."""
  cols = min(num_panels, max_cols)
  rows = -(-num_panels // cols)
  fig = Figure(
    figsize=(PANEL_WIDTH * cols + extra_width, panel_height * rows + 0.5), layout='constrained'
  )
  axes = [fig.add_subplot(rows, cols, i + 1, **subplot_kw) for i in range(num_panels)]
  return fig, axes


def order_layers(found: Sequence[str], layers: Optional[Sequence[str]] = None) -> list[str]:
  """``found`` layer names, in the order of ``layers`` when given."""
  found = list(dict.fromkeys(found))
  if not layers:
    return found
  rank = {name: i for i, name in enumerate(layers)}
  return sorted(found, key=lambda n: (rank.get(n, len(rank)), found.index(n)))


def layer_names(
  records: Sequence[Mapping[str, Any]],
  field: str,
  layers: Optional[Sequence[str]] = None,
  skip: Sequence[str] = (),
) -> list[str]:
  """Layer keys of ``record[field]`` over all records, in depth order."""
  found = [k for r in records for k in (r.get(field) or {}) if k not in skip]
  return order_layers(found, layers)


def layer_label(name: str, layers: Optional[Mapping[str, int]]) -> str:
  """``'T1 (d=10)'`` when the width is known, else the name."""
  if isinstance(layers, Mapping) and name in layers:
    return f'{name} (d={layers[name]})'
  return name


def depth_colors(n: int, cmap: str = 'viridis') -> list:
  """``n`` colours, shallow to deep, from a perceptual colour map."""
  return list(colormaps[cmap](np.linspace(0.0, 0.85, max(n, 1))))


def resolve(data, layers=None, title=None, num_inputs=None):
  """``(records, layers, title, num_inputs)`` from a :class:`infoflow.record.Run`
  or records.

  Explicit arguments win; a run supplies the defaults (its layer widths, its
  name, its number of evaluation inputs).
  """
  if isinstance(data, record_lib.Run):
    return (
      data.records,
      layers if layers is not None else data.layers,
      title if title is not None else data.name,
      num_inputs if num_inputs is not None else data.num_inputs,
    )
  return list(data), layers, title, num_inputs


def titled(title: Optional[str], what: str) -> str:
  return f'{title}: {what}' if title else what
