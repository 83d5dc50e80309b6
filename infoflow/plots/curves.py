"""Figures of the metrics over training (from ``metrics.jsonl`` records).

Every function takes ``data``: a :class:`~infoflow.record.Run` or a
sequence of metric records (dicts in the ``docs/run_record.md`` format), and
returns a :class:`matplotlib.figure.Figure` (no pyplot state). With a ``Run``,
``layers`` (name -> width, depth order), ``title`` and ``num_inputs`` default
to the run's. A figure whose fields are absent from every record raises
:class:`~infoflow.plots.common.NothingToPlot`, so callers can skip it.
Epoch axes are logarithmic but show epoch 0 (symlog, linear in [0, 1]).
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import math
from typing import Optional
from typing import Union

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
import numpy as np

from infoflow import units as units_lib
from infoflow.plots import common as c
from infoflow.plots.common import NothingToPlot
from infoflow.plots.common import resolve
from infoflow.record import CLUSTER_ENTROPY_FIELDS
from infoflow.record import REPLICA_GAP_STDERRS
from infoflow.record import Run
from infoflow.record import dig
from infoflow.record import replica_gap_flagged
from infoflow.record import value_stderr

Data = Union[Run, Sequence[Mapping]]
Layers = Optional[Union[Mapping[str, int], Sequence[str]]]


LOG_M_LABEL = 'log m = H(X)'  # the ceiling of m distinct inputs
DRAWN_LABEL = 'H(X) of the drawn inputs'  # a ceiling that changes with the epoch


def ceiling_series(records: Sequence[Mapping], num_inputs: Optional[int] = None):
  """The most I(X;T) can be at each analysed epoch, nats: a `common.Series`.

  From the records' `information_ceiling` (`infoflow.information.information_ceiling`):
  log m for m distinct inputs, the entropy of the multiplicities for inputs
  drawn with replacement (`analysis.inputs = 'resample'`), which changes
  from epoch to epoch and seed to seed. Records without the field (written
  before it): log `num_inputs` at every epoch; None when that is unknown too.
  """
  series = c.collect(records, lambda r: r.get('information_ceiling'))
  if series is not None or not num_inputs:
    return series
  epochs = np.array(sorted({int(r['epoch']) for r in records}))
  return c.Series(
    epochs, np.full((1, len(epochs)), math.log(num_inputs)), np.full((1, len(epochs)), np.nan)
  )


def ceiling_label(series) -> Optional[str]:
  """`LOG_M_LABEL` for one ceiling at every epoch and seed (distinct inputs),
  `DRAWN_LABEL` for a ceiling that moves (resampled inputs); None for none."""
  if series is None:
    return None
  values = series.values[np.isfinite(series.values)]
  return LOG_M_LABEL if values.size and np.ptp(values) <= 1e-9 else DRAWN_LABEL


def _ceiling_line(ax, records, num_inputs, scale):
  """A dotted line at the ceiling of I(X;T) (`information_ceiling`):
  horizontal when it is one number, else its mean over seeds by epoch."""
  series = ceiling_series(records, num_inputs)
  label = ceiling_label(series)
  style = dict(color='0.5', linestyle=':', linewidth=1, label=label)
  if label == LOG_M_LABEL:
    ax.axhline(float(np.nanmax(series.values)) * scale, **style)
  elif label == DRAWN_LABEL:
    ax.plot(series.epochs, series.mean() * scale, **style)


def plot_information_curves(
  data: Data,
  *,
  units: str = 'bits',
  layers: Layers = None,
  title: Optional[str] = None,
  num_inputs: Optional[int] = None,
  spread: str = 'minmax',
  reference: Optional[c.Reference] = None,
) -> Figure:
  """``I(X;T_l)`` (and ``I(T_l;Y)`` when recorded) vs epoch, one line a layer.

  Needs ``information.<layer>.mi_input`` (``[nats, stderr]``); a second panel
  shows ``mi_label`` when present. One seed: +-1 stderr bands; several: the
  mean over seeds with a min-max (or +-1 std, ``spread='std'``) band. A dotted
  line marks the maximum of ``I(X;T)`` (:func:`ceiling_series`): ``log m``
  for m distinct inputs, the multiplicity entropy of inputs drawn with
  replacement (by epoch). Hollow circles mark the seeds' layer-epochs whose
  full-R and R/2 estimates differ by more than 3 combined stderr
  (``infoflow.record.replica_gap_flagged``, the finite-R diagnostic).

  Args:
    data: a Run or metric records.
    units: 'bits' (default) or 'nats'.
    layers, title, num_inputs: override the Run's (see module docstring).
    spread: band across seeds, 'minmax' or 'std'.
    reference: another run's curves (the authors'), dashed in the layer's
      colour, for the layers this figure shows.
  """
  records, layers, title, num_inputs = resolve(data, layers, title, num_inputs)
  scale = units_lib.scale(units)
  names = c.layer_names(records, 'information', layers)
  curves = _information_curves(records, names)
  panels = [q for q in ('mi_input', 'mi_label') if any(k[0] == q for k in curves)]
  fig, axes = c.grid(len(panels), extra_width=1.6)
  palette = dict(zip(names, c.depth_colors(len(names))))
  ylabels = {'mi_input': f'I(X;T_l) [{units}]', 'mi_label': f'I(T_l;Y) [{units}]'}
  flagged = 0
  for ax, q in zip(axes, panels):
    for n in names:
      if (q, n) in curves:
        c.draw_series(
          ax,
          curves[q, n],
          scale=scale,
          color=palette[n],
          label=c.layer_label(n, layers),
          spread=spread,
        )
      getter = lambda r, n=n, q=q: dig(r, 'information', n, q)
      c.draw_reference(ax, reference, getter, scale=scale, color=palette[n])
    if q == 'mi_input':
      _ceiling_line(ax, records, num_inputs, scale)
      flagged = _mark_replica_gaps(ax, records, names, palette, scale)
    c.epoch_axis(ax)
    ax.set_ylabel(ylabels[q])
    ax.grid(alpha=0.3)
  handles, labels = axes[0].get_legend_handles_labels()
  extra = [c.reference_handle(reference)] if reference is not None else []
  if flagged:
    extra.append(_replica_gap_handle())
  fig.legend(handles + extra, labels + [h.get_label() for h in extra], **_LEGEND)
  fig.suptitle(
    c.titled(title, f'information per layer ({c.band_note(records, spread)})'), fontsize='medium'
  )
  return fig


_LEGEND = dict(loc='outside right upper', fontsize='small')
REPLICA_GAP_LABEL = f'full R vs R/2: > {REPLICA_GAP_STDERRS:g} stderr'


def _mark_replica_gaps(ax, records, names, palette, scale) -> int:
  """Hollow circles at each seed's I(X;T) where `replica_gap_flagged`;
  returns how many were drawn."""
  drawn = 0
  for n in names:
    points = [
      (r['epoch'], value_stderr(dig(r, 'information', n, 'mi_input'))[0])
      for r in records
      if replica_gap_flagged(dig(r, 'information', n) or {})
    ]
    if points:
      x, y = np.array(points, float).T
      ax.scatter(x, y * scale, s=36, facecolors='none', edgecolors=[palette[n]], zorder=3)
      drawn += len(points)
  return drawn


def _replica_gap_handle():
  style = dict(marker='o', markerfacecolor='none', color='0.3', linestyle='none')
  return Line2D([], [], label=REPLICA_GAP_LABEL, **style)


def _information_curves(records, names) -> dict:
  """{(quantity, layer): series} of mi_input and mi_label; NothingToPlot
  without any mi_input."""
  curves = {}
  for q in ('mi_input', 'mi_label'):
    for n in names:
      s = c.collect(records, lambda r, n=n, q=q: dig(r, 'information', n, q))
      if s is not None:
        curves[q, n] = s
  if not any(q == 'mi_input' for q, _ in curves):
    raise NothingToPlot(
      'no "information" field with "mi_input" in the records (a deterministic run has none).'
    )
  return curves


def plot_binned_entropy_curves(
  data: Data,
  *,
  units: str = 'bits',
  layers: Layers = None,
  title: Optional[str] = None,
  num_inputs: Optional[int] = None,
  quantity: str = 'entropy',
  spread: str = 'minmax',
) -> Figure:
  """Binning estimates vs epoch: a panel a layer, a line a bin size.

  Needs the ``binning`` field: ``bin_sizes`` and, per layer, lists aligned
  with them. ``quantity='entropy'`` plots ``H(Bin(T_l))`` (the binning
  "I(X;T)" of past work), ``'mi_label'`` plots ``I(Bin(T_l);Y)``. Bin sizes
  are matched by value, so records with different bin sizes mix safely.
  """
  records, layers, title, num_inputs = resolve(data, layers, title, num_inputs)
  if quantity not in ('entropy', 'mi_label'):
    raise ValueError(f"quantity must be 'entropy' or 'mi_label'; got {quantity!r}.")
  scale = units_lib.scale(units)
  sizes = sorted({float(b) for r in records for b in (dig(r, 'binning', 'bin_sizes') or [])})

  def getter(layer, size):
    def get(r):
      values = dig(r, 'binning', layer, quantity)
      bins = [float(b) for b in dig(r, 'binning', 'bin_sizes') or []]
      if values is None or size not in bins or len(values) != len(bins):
        return None
      return values[bins.index(size)]

    return get

  panels = {}
  for n in c.layer_names(records, 'binning', layers, skip=('bin_sizes',)):
    lines = {b: c.collect(records, getter(n, b)) for b in sizes}
    lines = {b: s for b, s in lines.items() if s is not None}
    if lines:
      panels[n] = lines
  if not panels:
    raise NothingToPlot(f'no "binning" field with "bin_sizes" and "{quantity}" in the records.')
  fig, axes = c.grid(len(panels), extra_width=1.4)
  palette = dict(zip(sizes, c.depth_colors(len(sizes), 'plasma')))
  symbol = 'H(Bin(T))' if quantity == 'entropy' else 'I(Bin(T);Y)'
  for ax, (n, lines) in zip(axes, panels.items()):
    for b, s in lines.items():
      c.draw_series(ax, s, scale=scale, color=palette[b], label=f'{b:g}', spread=spread)
    if quantity == 'entropy':
      _ceiling_line(ax, records, num_inputs, scale)
    c.epoch_axis(ax)
    ax.set_ylabel(f'{symbol} [{units}]')
    ax.set_title(c.layer_label(n, layers), fontsize='medium')
    ax.grid(alpha=0.3)
  handles, labels = axes[0].get_legend_handles_labels()
  fig.legend(handles, labels, loc='outside right upper', fontsize='small', title='bin size')
  fig.suptitle(
    c.titled(title, f'binning estimate {symbol} ({c.band_note(records, spread)})'),
    fontsize='medium',
  )
  return fig


# (panel title, axis label, log scale) per known clustering measure, in
# display order.
_MEASURES = {
  'within': ('within-class similarity', 'mean cosine similarity', False),
  'between': ('between-class similarity', 'mean cosine similarity', False),
  'gap': ('gap = within - between', 'cosine similarity', False),
  'scatter_ratio': ('within / between class scatter', 'ratio (log scale)', True),
  'knn_agreement': ('k-NN label agreement', 'fraction of neighbours', False),
  'num_clusters': ('distinguishable clusters, single linkage', 'count (log scale)', True),
  'cluster_entropy': ('entropy of cluster sizes, single linkage', 'H(clusters) [{units}]', False),
  'packed_clusters': ('distinguishable clusters, packing', 'count (log scale)', True),
  'packed_cluster_entropy': ('entropy of cluster sizes, packing', 'H(clusters) [{units}]', False),
}


def plot_clustering_curves(
  data: Data,
  *,
  units: str = 'bits',
  layers: Layers = None,
  title: Optional[str] = None,
  spread: str = 'minmax',
) -> Figure:
  """Clustering measures vs epoch: a panel a measure, a line a layer.

  Needs the ``clustering`` field (per layer, a dict of scalar measures; see
  :mod:`infoflow.measures.clustering`). Known measures get labelled axes (ratios and
  counts on log axes, the cluster entropies converted to ``units``): the
  beta-clusters by single linkage (``num_clusters``, ``cluster_entropy``) and
  by the packing that cannot chain (``packed_clusters``,
  ``packed_cluster_entropy``). Unknown measures are plotted under their own
  name.
  """
  records, layers, title, _ = resolve(data, layers, title)
  scale = units_lib.scale(units)
  names = c.layer_names(records, 'clustering', layers)
  found = list(
    dict.fromkeys(m for r in records for n in names for m in (dig(r, 'clustering', n) or {}))
  )
  measures = [m for m in _MEASURES if m in found] + sorted(m for m in found if m not in _MEASURES)
  if not measures:
    raise NothingToPlot('no "clustering" field in the records.')
  fig, axes = c.grid(len(measures), max_cols=4, extra_width=1.6)
  palette = dict(zip(names, c.depth_colors(len(names))))
  for ax, m in zip(axes, measures):
    name, label, log = _MEASURES.get(m, (m, m, False))
    factor = scale if m in CLUSTER_ENTROPY_FIELDS else 1.0  # nats: to the figure's units
    for n in names:
      s = c.collect(records, lambda r, n=n, m=m: dig(r, 'clustering', n, m))
      if s is not None:
        c.draw_series(
          ax, s, scale=factor, color=palette[n], label=c.layer_label(n, layers), spread=spread
        )
    if log and np.all(
      [v > 0 for line in ax.get_lines() for v in line.get_ydata() if np.isfinite(v)]
    ):
      ax.set_yscale('log')
    c.epoch_axis(ax)
    ax.set_ylabel(label.format(units=units))
    ax.set_title(f'{name} ({m})' if name != m else m, fontsize='medium')
    ax.grid(alpha=0.3)
  handles, labels = axes[0].get_legend_handles_labels()
  fig.legend(handles, labels, loc='outside right upper', fontsize='small')
  fig.suptitle(
    c.titled(title, f'clustering of the representations ({c.band_note(records, spread)})'),
    fontsize='medium',
  )
  return fig


def plot_training_curves(
  data: Data,
  *,
  title: Optional[str] = None,
  spread: str = 'minmax',
  reference: Optional[c.Reference] = None,
) -> Figure:
  """Train and test loss and accuracy vs epoch.

  Needs ``train``/``test`` dicts with ``loss`` (mean cross-entropy, nats) and
  ``accuracy`` (fraction); the noise-free ones are drawn solid,
  ``loss_noisy``/``accuracy_noisy`` (the noisy network) dotted when present,
  and the noise-free curves of ``reference`` (the authors') dashed.
  """
  records, _, title, _ = resolve(data, None, title)
  panels = {'loss': 'cross-entropy loss [nats]', 'accuracy': 'accuracy [fraction correct]'}
  fig, axes = c.grid(2, extra_width=1.6)
  drawn = False
  for ax, (metric, ylabel) in zip(axes, panels.items()):
    for split, color in (('train', 'C0'), ('test', 'C1')):
      for suffix, style, what in (('', '-', 'noise-free'), ('_noisy', ':', 'noisy')):
        s = c.collect(records, lambda r, k=metric + suffix, p=split: dig(r, p, k))
        if s is not None:
          drawn = True
          c.draw_series(
            ax, s, color=color, linestyle=style, label=f'{split}, {what}', spread=spread
          )
      if reference is not None:
        label = f'{split}, {reference.label} (noise-free)'
        getter = lambda r, k=metric, p=split: dig(r, p, k)
        c.draw_reference(ax, reference, getter, color=color, label=label)
    c.epoch_axis(ax)
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
  if not drawn:
    raise NothingToPlot('no "train"/"test" loss or accuracy in the records.')
  handles, labels = max((ax.get_legend_handles_labels() for ax in axes), key=lambda hl: len(hl[0]))
  fig.legend(handles, labels, loc='outside right upper', fontsize='small')
  fig.suptitle(
    c.titled(title, f'training ({_training_styles(reference)}; {c.band_note(records, spread)})'),
    fontsize='medium',
  )
  return fig


def _training_styles(reference: Optional[c.Reference]) -> str:
  """What the line styles of the training figure mean, for its title."""
  styles = 'solid: noise-free, dotted: noisy'
  return styles + (f', dashed: {reference.label}' if reference is not None else '')
