"""Animated GIFs of a run: representations and the information plane.

One frame per analysed epoch, written with matplotlib's Pillow writer (no
extra dependency):

    run = load_run('runs/szt')
    write_scatter_animation(run, 'scatter_T5.gif')        # narrowest layer
    write_information_plane_animation(run, 'information_plane.gif')

The scatter shows a layer's noise-free representations (``d <= 3`` as is,
wider layers by their first two principal components at each epoch),
coloured by class, on axes fixed over all epochs so that the motion reads.
The information plane fills in: frame k shows the analysed epochs up to the
k-th (mean over seeds), coloured by epoch, the newest ringed. The figures
are small (``dpi`` 70 by default): 16 epochs give GIFs of ~200-350 KB
(1000 points of a 3-D layer; five information-plane panels).
"""

from __future__ import annotations

from collections.abc import Sequence
import logging
import pathlib
from typing import Optional

from matplotlib import animation
from matplotlib import colormaps
from matplotlib import colors
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
import numpy as np

from infoflow.plots import common as c
from infoflow.plots.common import NothingToPlot
from infoflow.plots.common import output_path
from infoflow.plots.common import resolve
from infoflow.plots.plane import information_plane_points
from infoflow.plots.representations import LABELS
from infoflow.plots.representations import pick_layer
from infoflow.plots.representations import project
from infoflow.plots.representations import stratified_subsample
from infoflow.record import Run
from infoflow.record import UnreadableFileError
from infoflow.record import layer_file_name

DEFAULT_DPI = 70
DEFAULT_FPS = 2


def scatter_frames(
  snapshots,
  layer: Optional[str] = None,
  *,
  order: Optional[Sequence[str]] = None,
  max_points: int = 1000,
  seed: int = 0,
):
  """``(layer, {epoch: (coordinates, labels)}, axis names)`` of every epoch.

  ``snapshots``: ``{epoch: {'labels': (m,), layer: (m, ...)}}`` (e.g.
  ``Run.snapshots``). The same stratified inputs at every epoch; ``d = 1``
  is drawn against the class, jittered.

  Raises:
    NothingToPlot: no epochs, or an epoch lacks the layer or the labels.
    UnknownLayerError: ``layer`` is not saved.
    RunRecordError: a representation file is unreadable (`UnreadableFileError`)
      or holds a layer name `layer_file_name` refuses; names it.
  """
  epochs = sorted(snapshots)
  if not epochs:
    raise NothingToPlot('no representation files (representations/epoch_EEEEEE.npz).')
  rng = np.random.default_rng(seed)
  frames, names = {}, None
  for epoch in epochs:
    arrays = snapshots[epoch]
    if layer is None or not frames:
      layer = pick_layer(arrays, layer, narrowest=True, order=order)
    if layer not in arrays or LABELS not in arrays:
      raise NothingToPlot(f'representations at epoch {epoch} lack {layer!r} or {LABELS!r}.')
    labels = np.asarray(arrays[LABELS]).astype(int)
    keep = stratified_subsample(labels, max_points, seed)
    x = np.asarray(arrays[layer], np.float64)
    xy, names = project(x.reshape(x.shape[0], -1)[keep])
    if xy.shape[1] == 1:
      jitter = rng.uniform(-0.3, 0.3, len(keep))
      xy = np.stack([xy[:, 0], labels[keep] + jitter], 1)
      names = ['unit 1', 'class (jittered)']
    frames[epoch] = (xy, labels[keep])
  return layer, frames, names


def _save(fig: Figure, path, draw_frame, keys, dpi: int, fps: int):
  """Calls ``draw_frame(key)`` for each key and grabs a frame after it."""
  path = pathlib.Path(path)
  writer = animation.PillowWriter(fps=fps)
  with writer.saving(fig, str(path), dpi):
    for key in keys:
      draw_frame(key)
      writer.grab_frame()
  return path


def write_scatter_animation(
  snapshots,
  path,
  *,
  layer: Optional[str] = None,
  title: Optional[str] = None,
  max_points: int = 1000,
  seed: int = 0,
  dpi: int = DEFAULT_DPI,
  fps: int = DEFAULT_FPS,
) -> pathlib.Path:
  """GIF of a layer's representations over the epochs, coloured by class.

  Args:
    snapshots: a :class:`Run` or ``{epoch: arrays}`` (npz contents).
    path: the .gif to write.
    layer: the layer (default: the narrowest saved one, as the scatter
      figure).
    title, max_points, seed: title prefix (a Run's name by default), inputs
      shown (stratified by class) and the subsample's seed.
    dpi, fps: resolution and frames per second.

  Returns:
    ``path``: one frame per epoch with saved representations.
  """
  order = None
  if isinstance(snapshots, Run):
    order, title = snapshots.layer_order, title or snapshots.name
    snapshots = snapshots.snapshots
  frames = scatter_frames(snapshots, layer, order=order, max_points=max_points, seed=seed)
  return _write_scatter(frames, path, title, dpi, fps)


def _write_scatter(found, path, title, dpi, fps) -> pathlib.Path:
  """The GIF of ``found = scatter_frames(...)``."""
  layer, frames, names = found
  every = np.concatenate([xy for xy, _ in frames.values()])
  low, high = every.min(axis=0), every.max(axis=0)
  pad = 0.05 * np.maximum(high - low, 1e-6)
  classes = np.unique(np.concatenate([y for _, y in frames.values()]))
  cmap = colormaps['tab10' if len(classes) <= 10 else 'tab20']
  colour = {k: cmap(i % cmap.N) for i, k in enumerate(classes)}
  d = every.shape[1]
  fig = Figure(
    figsize=(c.PANEL_WIDTH + 1.0, c.PANEL_WIDTH if d == 3 else c.PANEL_HEIGHT + 0.3),
    layout='constrained',
  )
  ax = fig.add_subplot(projection='3d' if d == 3 else None)
  handles = [
    Line2D([], [], linestyle='', marker='o', color=colour[k], label=f'class {k}') for k in classes
  ]
  fig.legend(handles=handles, loc='outside right upper', fontsize='small')

  def draw(epoch):
    xy, y = frames[epoch]
    ax.clear()
    ax.scatter(*xy.T, c=[colour[k] for k in y], s=4, alpha=0.6, edgecolors='none')
    limits = (ax.set_xlim, ax.set_ylim) + ((ax.set_zlim,) if d == 3 else ())
    for i, lim in enumerate(limits):
      lim(low[i] - pad[i], high[i] + pad[i])
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if d == 3:
      ax.set_zlabel(names[2])
      ax.tick_params(labelsize='small')
    ax.set_title(c.titled(title, f'{layer}, epoch {epoch}'), fontsize='medium')

  return _save(fig, path, draw, list(frames), dpi, fps)


def write_information_plane_animation(
  data,
  path,
  *,
  units: str = 'bits',
  layers=None,
  title: Optional[str] = None,
  dpi: int = DEFAULT_DPI,
  fps: int = DEFAULT_FPS,
) -> pathlib.Path:
  """GIF of the information plane filling in, one frame per analysed epoch.

  A panel a layer, as :func:`~infoflow.plots.plot_information_plane_panels`, on
  axes fixed over the frames; frame k holds the epochs up to the k-th.

  Returns:
    ``path``.
  """
  points = information_plane_points(data, layers, units)
  _, layers, title, _ = resolve(data, layers, title)
  epochs = np.unique(np.concatenate([e for e, _, _ in points.values()]))
  norm = colors.SymLogNorm(linthresh=1.0, linscale=0.4, vmin=0, vmax=max(int(epochs.max()), 1))
  fig, axes = c.grid(len(points), extra_width=1.0)
  fig.colorbar(_epoch_mappable(norm), ax=axes, label='epoch', shrink=0.9)

  def draw(epoch):
    for ax, (n, (e, x, y)) in zip(axes, points.items()):
      ax.clear()
      shown = e <= epoch
      ax.plot(x[shown], y[shown], color='0.6', linewidth=0.8, zorder=1)
      ax.scatter(
        x[shown], y[shown], c=e[shown], cmap='viridis', norm=norm, s=16, zorder=2, edgecolors='none'
      )
      if shown.any():
        ax.scatter(
          x[shown][-1:],
          y[shown][-1:],
          s=60,
          facecolors='none',
          edgecolors='k',
          linewidths=1.0,
          zorder=3,
        )
      _fixed_limits(ax, x, y)
      ax.set_title(c.layer_label(n, layers), fontsize='medium')
      ax.set_xlabel(f'I(X;T) [{units}]')
      ax.set_ylabel(f'I(T;Y) [{units}]')
      ax.grid(alpha=0.3)
    fig.suptitle(c.titled(title, f'information plane, epoch {epoch}'), fontsize='medium')

  return _save(fig, path, draw, [int(e) for e in epochs], dpi, fps)


def _epoch_mappable(norm):
  """A colour-bar source for the epoch colours (no artist needed)."""
  from matplotlib import cm

  return cm.ScalarMappable(norm=norm, cmap='viridis')


def _fixed_limits(ax, x, y):
  for values, setter in ((x, ax.set_xlim), (y, ax.set_ylim)):
    finite = values[np.isfinite(values)]
    if finite.size:
      low, high = float(finite.min()), float(finite.max())
      pad = 0.05 * max(high - low, 1e-3)
      setter(low - pad, high + pad)


def write_animations(
  run: Run,
  out,
  *,
  layer: Optional[str] = None,
  units: str = 'bits',
  dpi: int = DEFAULT_DPI,
  fps: int = DEFAULT_FPS,
) -> tuple[list[pathlib.Path], dict[str, str]]:
  """Writes ``scatter_LAYER.gif`` and ``information_plane.gif`` into ``out``.

  What a run lacks (representations, information) is skipped with its
  reason, as are animations needing an unreadable representation file.

  Returns:
    ``(written paths, {skipped animation: reason})``.

  Raises:
    UnknownLayerError: ``layer`` is not among the saved representations.
    RunRecordError: a representation file holds a layer name that
      `layer_file_name` refuses.
    OutputError: a path would lie outside ``out`` (`output_path`).
    OSError: a file cannot be written.
  """
  written, skipped = [], {}
  try:
    found = scatter_frames(run.snapshots, layer, order=run.layer_order)
    path = output_path(out, f'scatter_{layer_file_name(found[0])}.gif')
    written.append(_write_scatter(found, path, run.name, dpi, fps))
  except (NothingToPlot, UnreadableFileError) as e:
    skipped['scatter.gif'] = str(e)
    logging.info('skipping the scatter animation: %s', e)
  try:
    written.append(
      write_information_plane_animation(
        run, output_path(out, 'information_plane.gif'), units=units, dpi=dpi, fps=fps
      )
    )
  except NothingToPlot as e:
    skipped['information_plane.gif'] = str(e)
  return written, skipped
