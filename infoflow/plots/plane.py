"""The information plane: I(T_l;Y) against I(X;T_l) over training.

:func:`plot_information_plane` draws every layer on one pair of axes, the
figure of the literature (Shwartz-Ziv & Tishby; Goldfeld et al.): colour =
epoch, one marker per layer. :func:`plot_information_plane_panels` gives each
layer a panel of its own (axes fitted to the layer, for detail). Both take a
:class:`~infoflow.record.Run` or metric records, need
``information.<layer>.mi_input`` and ``mi_label``, and draw at each analysed
epoch the mean over seeds with bars on both axes: the min-max across seeds
(several seeds) or +-1 stderr (one seed).
"""

from __future__ import annotations

from typing import NamedTuple
from typing import Optional

from matplotlib import colors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
import numpy as np

from infoflow import units as units_lib
from infoflow.plots import common as c
from infoflow.plots import curves
from infoflow.plots.common import NothingToPlot
from infoflow.plots.common import resolve
from infoflow.record import dig

# One marker per layer, shallow to deep (repeats after the last).
MARKERS = ('o', 's', '^', 'D', 'v', 'P', 'X', '*', 'h', '<', '>')


class PlanePoints(NamedTuple):
  """One layer's path in the plane, at the epochs with both quantities.

  Attributes:
    epochs: ``(E,)``.
    x, y: ``(E,)`` means over seeds of I(X;T) and I(T;Y).
    x_low, x_high, y_low, y_high: ``(E,)`` the bars: min and max across
      seeds, or mean -+ 1 stderr for one seed (NaN where unknown).
  """

  epochs: np.ndarray
  x: np.ndarray
  y: np.ndarray
  x_low: np.ndarray
  x_high: np.ndarray
  y_low: np.ndarray
  y_high: np.ndarray


def _bars(series: c.Series, index: np.ndarray, scale: float):
  """``(low, high)`` of ``series`` at columns ``index``: min-max across
  seeds, or the value -+ 1 stderr for one seed."""
  values = series.values[:, index] * scale
  if values.shape[0] == 1:
    err = series.stderr[0, index] * scale
    return values[0] - err, values[0] + err
  masked = np.ma.masked_invalid(values)
  low = np.ma.filled(masked.min(axis=0).astype(float), np.nan)
  high = np.ma.filled(masked.max(axis=0).astype(float), np.nan)
  return low, high


def information_plane_series(data, layers=None, units: str = 'bits') -> dict[str, PlanePoints]:
  """``{layer: PlanePoints}`` in ``units``, in depth order.

  Raises:
    NothingToPlot: no layer has both ``mi_input`` and ``mi_label``.
  """
  records, layers, _, _ = resolve(data, layers)
  scale = units_lib.scale(units)
  found = {}
  for n in c.layer_names(records, 'information', layers):
    x = c.collect(records, lambda r, n=n: dig(r, 'information', n, 'mi_input'))
    y = c.collect(records, lambda r, n=n: dig(r, 'information', n, 'mi_label'))
    if x is None or y is None:
      continue
    epochs = np.intersect1d(x.epochs, y.epochs)
    if not epochs.size:
      continue
    ix, iy = np.searchsorted(x.epochs, epochs), np.searchsorted(y.epochs, epochs)
    found[n] = PlanePoints(
      epochs, x.mean()[ix] * scale, y.mean()[iy] * scale, *_bars(x, ix, scale), *_bars(y, iy, scale)
    )
  if not found:
    raise NothingToPlot(
      'no layer has both "mi_input" and "mi_label" in an '
      '"information" field (a deterministic run has none).'
    )
  return found


def information_plane_points(data, layers=None, units: str = 'bits'):
  """``{layer: (epochs, I(X;T), I(T;Y))}``, means over seeds, in ``units``.

  Raises:
    NothingToPlot: no layer has both ``mi_input`` and ``mi_label``.
  """
  return {n: (p.epochs, p.x, p.y) for n, p in information_plane_series(data, layers, units).items()}


def epoch_norm(points: dict[str, PlanePoints]) -> colors.Normalize:
  """Colour scale of the epochs: integers >= 0, so symlog keeps epoch 0
  and is logarithmic from 1 on."""
  top = max(max(float(p.epochs.max()) for p in points.values()), 1.0)
  return colors.SymLogNorm(linthresh=1.0, linscale=0.4, vmin=0, vmax=top)


def _draw_path(ax, p: PlanePoints, norm, marker: str = 'o'):
  """One layer's path: bars, a grey line in time order, points by epoch."""
  with np.errstate(invalid='ignore'):
    xerr = np.nan_to_num(np.stack([p.x - p.x_low, p.x_high - p.x]).clip(min=0))
    yerr = np.nan_to_num(np.stack([p.y - p.y_low, p.y_high - p.y]).clip(min=0))
  ax.errorbar(p.x, p.y, xerr=xerr, yerr=yerr, fmt='none', ecolor='0.75', elinewidth=0.7, zorder=1)
  ax.plot(p.x, p.y, color='0.6', linewidth=0.8, zorder=2)
  return ax.scatter(
    p.x,
    p.y,
    c=p.epochs,
    cmap='viridis',
    norm=norm,
    s=22,
    marker=marker,
    zorder=3,
    edgecolors='0.2',
    linewidths=0.3,
  )


def _label_axes(ax, units: str) -> None:
  """Axis labels, a grid, and plain tick labels (no offset such as
  '1e-6+9.9915e-1', which hides the values)."""
  ax.set_xlabel(f'I(X;T) [{units}]')
  ax.set_ylabel(f'I(T;Y) [{units}]')
  ax.ticklabel_format(useOffset=False)
  ax.grid(alpha=0.3)


def _bars_note(records) -> str:
  return c.band_note(records, 'minmax').replace('band:', 'bars:')


def plot_information_plane(
  data,
  *,
  units: str = 'bits',
  layers=None,
  title: Optional[str] = None,
  num_inputs: Optional[int] = None,
) -> Figure:
  """The information plane of every layer on one pair of axes.

  I(T_l;Y) against I(X;T_l): a path per layer, one marker per layer (the
  legend), points coloured by epoch (log colour scale, the colour bar),
  joined in time order; the mean over seeds with min-max bars across seeds
  (one seed: +-1 stderr). A dotted line marks the most I(X;T) can be
  (`curves.ceiling_series`): ``log m = H(X)`` for m distinct inputs;
  for inputs drawn with replacement, whose ceiling moves with the epoch,
  its mean over the records, and a grey band its range.
  """
  records, layers, title, num_inputs = resolve(data, layers, title, num_inputs)
  points = information_plane_series(data, layers, units)
  norm = epoch_norm(points)
  fig = Figure(figsize=(c.PANEL_WIDTH * 1.6, c.PANEL_HEIGHT * 1.5), layout='constrained')
  ax = fig.add_subplot()
  handles = []
  for i, (n, p) in enumerate(points.items()):
    marker = MARKERS[i % len(MARKERS)]
    mappable = _draw_path(ax, p, norm, marker)
    handles.append(
      Line2D([], [], marker=marker, linestyle='none', color='0.4', label=c.layer_label(n, layers))
    )
  _ceiling_line(ax, records, num_inputs, units_lib.scale(units), handles)
  _label_axes(ax, units)
  ax.legend(handles=handles, fontsize='small', title='layer', loc='best')
  fig.colorbar(mappable, ax=ax, label='epoch')
  fig.suptitle(c.titled(title, f'information plane ({_bars_note(records)})'), fontsize='medium')
  return fig


def _ceiling_line(ax, records, num_inputs, scale, handles) -> None:
  """The ceiling of I(X;T) as a dotted vertical line (its mean over the
  records when it moves, with a grey band over its range); its legend entry
  goes to `handles`."""
  series = curves.ceiling_series(records, num_inputs)
  label = curves.ceiling_label(series)
  if label is None:
    return
  values = series.values[np.isfinite(series.values)] * scale
  ax.axvline(float(values.mean()), color='0.5', linestyle=':', linewidth=1)
  if label == curves.DRAWN_LABEL:
    ax.axvspan(float(values.min()), float(values.max()), color='0.5', alpha=0.15, linewidth=0)
  handles.append(Line2D([], [], color='0.5', linestyle=':', label=label))


def plot_information_plane_panels(
  data, *, units: str = 'bits', layers=None, title: Optional[str] = None
) -> Figure:
  """The information plane with a panel a layer (axes fitted to each layer).

  As :func:`plot_information_plane`, but each layer on its own axes, which
  shows the small moves of layers far from the others.
  """
  records, layers, title, _ = resolve(data, layers, title)
  points = information_plane_series(data, layers, units)
  norm = epoch_norm(points)
  fig, axes = c.grid(len(points), extra_width=1.0)
  for ax, (n, p) in zip(axes, points.items()):
    mappable = _draw_path(ax, p, norm)
    ax.set_title(c.layer_label(n, layers), fontsize='medium')
    _label_axes(ax, units)
  fig.colorbar(mappable, ax=axes, label='epoch', shrink=0.9)
  fig.suptitle(
    c.titled(title, f'information plane per layer ({_bars_note(records)})'), fontsize='medium'
  )
  return fig
