"""Figures of the saved representations (``representations/*.npz``).

Both functions take ``snapshots``: a :class:`~infoflow.record.Run` or a
mapping ``{epoch: {'labels': (m,) ints, layer: (m, d_l) floats, ...}}`` (the
npz files' contents), and return a :class:`matplotlib.figure.Figure`. Epochs
not available are replaced by the nearest available one (on a log scale);
inputs are subsampled per class with a fixed seed, the same inputs at every
epoch, so panels are comparable.
"""

from __future__ import annotations

from collections.abc import Mapping
from collections.abc import Sequence
import logging
import math
from typing import Optional
from typing import Union

from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator
import numpy as np

from infoflow.measures.clustering import cosine_similarity_matrix
from infoflow.plots import common as c
from infoflow.plots.common import NothingToPlot
from infoflow.record import Run

Snapshots = Union[Run, Mapping[int, Mapping[str, np.ndarray]]]
LABELS = 'labels'


class UnknownLayerError(ValueError):
  """A requested layer is not among the saved representations."""


def stratified_subsample(labels, max_points: int, seed: int = 0) -> np.ndarray:
  """Sorted indices of at most ``max_points`` inputs, classes in proportion.

  Each class keeps ``max_points * n_c / m`` inputs (largest remainders
  rounded up, at least one per class when room allows), drawn without
  replacement by a ``default_rng(seed)``: deterministic for given labels.
  All indices when ``m <= max_points``.
  """
  labels = np.asarray(labels)
  m = labels.shape[0]
  if m <= max_points:
    return np.arange(m)
  classes, counts = np.unique(labels, return_counts=True)
  quota = max_points * counts / m
  take = np.floor(quota).astype(int)
  if len(classes) <= max_points:
    take = np.maximum(take, 1)  # keep every class visible
  spare = max_points - take.sum()
  for i in np.argsort(take - quota)[: max(spare, 0)]:  # largest remainders
    take[i] += 1
  rng = np.random.default_rng(seed)
  picked = [
    rng.choice(np.flatnonzero(labels == k), size=min(t, n), replace=False)
    for k, t, n in zip(classes, take, counts)
  ]
  return np.sort(np.concatenate(picked))


def pick_epochs(available: Sequence[int], requested: Optional[Sequence[int]] = None) -> list[int]:
  """Epochs to show: by default the first, middle and last available.

  Requested epochs without a file are replaced by the nearest available one
  in ``log(1 + epoch)`` (analysis epochs are log-spaced), with a warning.
  """
  available = sorted(int(e) for e in available)
  if not available:
    raise NothingToPlot('no representation files (representations/epoch_EEEEEE.npz).')
  if not requested:
    picks = [available[0], available[len(available) // 2], available[-1]]
  else:
    logs = np.log1p(available)
    picks = []
    for e in requested:
      near = available[int(np.argmin(np.abs(logs - math.log1p(max(e, 0)))))]
      if near != e:
        logging.warning('no representations at epoch %d; using epoch %d.', e, near)
      picks.append(near)
  return list(dict.fromkeys(picks))


def pick_layer(
  arrays: Mapping[str, np.ndarray],
  layer: Optional[str] = None,
  *,
  narrowest: bool = False,
  order: Optional[Sequence[str]] = None,
) -> str:
  """The layer to show: ``layer`` if given, else the deepest or narrowest.

  Default: the deepest layer of width > 1 if any (the cosine similarity of
  1-D representations is only a sign), or with ``narrowest`` the narrowest
  (deepest among equals). ``order`` (names, shallow to deep) sets depth; by
  default, the order of the arrays. Raises :class:`UnknownLayerError`,
  naming the layers that exist and those saved, when ``layer`` is not among
  the saved ones.
  """
  names = c.order_layers([k for k in arrays if k != LABELS], order)
  if layer is not None and layer not in names:
    if order and layer in order:
      raise UnknownLayerError(
        f'layer {layer!r} has no saved representations (only narrow '
        f'layers are saved); saved: {", ".join(names) or "none"}.'
      )
    raise UnknownLayerError(
      f'unknown layer {layer!r}; the layers: '
      f'{", ".join(order or names) or "none"} (with saved '
      f'representations: {", ".join(names) or "none"}).'
    )
  if not names:
    raise NothingToPlot('the representation files hold no layer arrays.')
  if layer is not None:
    return layer
  width = lambda n: int(np.prod(np.shape(arrays[n])[1:]))
  if narrowest:
    # Narrowest first; among equals the deepest (most processed) layer.
    return min(reversed(names), key=width)
  # Cosines of 1-D representations are only signs: prefer a wider layer.
  wide = [n for n in names if width(n) > 1]
  return (wide or names)[-1]


def _resolve(snapshots, title, layer, epochs, narrowest):
  order = None
  if isinstance(snapshots, Run):
    order, title = (snapshots.layer_order, (title if title is not None else snapshots.name))
    snapshots = snapshots.snapshots
  epochs = pick_epochs(list(snapshots), epochs)
  data = {e: dict(snapshots[e]) for e in epochs}  # copies: reshaped below
  layer = pick_layer(data[epochs[0]], layer, narrowest=narrowest, order=order)
  for e, arrays in data.items():
    if layer not in arrays or LABELS not in arrays:
      raise NothingToPlot(f'representations at epoch {e} lack {layer!r} or {LABELS!r}.')
    # Feature maps (m, h, w, c) count as vectors of their h w c values.
    x = np.asarray(arrays[layer])
    arrays[layer] = x.reshape(x.shape[0], -1)
  return data, layer, title


def plot_cosine_similarity_matrices(
  snapshots: Snapshots,
  *,
  layer: Optional[str] = None,
  epochs: Optional[Sequence[int]] = None,
  max_points: int = 1000,
  seed: int = 0,
  title: Optional[str] = None,
) -> Figure:
  """Class-sorted cosine-similarity matrices of one layer at a few epochs.

  Entry ``(a, b)`` is ``cos(t_a, t_b)`` of the noise-free representations,
  rows and columns sorted by class (thin lines mark class boundaries), so
  within-class blocks on the diagonal show clustering (docs/method.md, section 6).
  Uses :func:`infoflow.measures.clustering.cosine_similarity_matrix` on at most
  ``max_points`` inputs (stratified). Default layer: the deepest saved one.
  """
  data, layer, title = _resolve(snapshots, title, layer, epochs, False)
  fig, axes = c.grid(len(data), max_cols=4, extra_width=0.8)
  image = None
  for ax, (epoch, arrays) in zip(axes, data.items()):
    labels = np.asarray(arrays[LABELS]).astype(np.int32)
    keep = stratified_subsample(labels, max_points, seed)
    sim = cosine_similarity_matrix(
      arrays[layer][keep], labels[keep], num_classes=int(labels.max()) + 1
    )
    bounds = np.asarray(sim.boundaries)
    image = ax.imshow(
      np.asarray(sim.matrix), cmap='RdBu_r', vmin=-1, vmax=1, interpolation='antialiased'
    )
    for b in bounds[1:-1]:
      ax.axhline(b - 0.5, color='k', linewidth=0.6)
      ax.axvline(b - 0.5, color='k', linewidth=0.6)
    if len(bounds) <= 21:  # class ids at block centres while they fit
      centres = 0.5 * (bounds[:-1] + bounds[1:]) - 0.5
      ax.set_xticks(centres, [str(k) for k in range(len(centres))])
      ax.set_yticks(centres, [str(k) for k in range(len(centres))])
    ax.set_xlabel('inputs sorted by class (ticks: class)')
    ax.set_ylabel('inputs sorted by class')
    ax.set_title(f'epoch {epoch}', fontsize='medium')
  fig.colorbar(image, ax=axes, label='cosine similarity [-1, 1]', shrink=0.9)
  m, shown = len(labels), len(keep)  # the same at every epoch
  fig.suptitle(
    c.titled(title, f'{layer}: class-sorted cosine similarity ({shown} of {m} inputs)'),
    fontsize='medium',
  )
  return fig


def project(x: np.ndarray) -> tuple[np.ndarray, list[str]]:
  """Coordinates to draw and axis names: raw for d <= 3, else 2 PCs."""
  d = x.shape[1]
  if d <= 3:
    return x, [f'unit {i + 1}' for i in range(d)]
  centred = x - x.mean(axis=0)
  _, _, vt = np.linalg.svd(centred, full_matrices=False)
  return centred @ vt[:2].T, ['PC 1', 'PC 2']


def _scatter_points(data, layer: str, max_points: int, seed: int) -> dict:
  """``{epoch: (coordinates, labels, axis names)}`` of the shown inputs.

  ``d = 1``: the value against the class, jittered so points separate.
  """
  rng = np.random.default_rng(seed)
  points = {}
  for epoch, arrays in data.items():
    labels = np.asarray(arrays[LABELS]).astype(int)
    keep = stratified_subsample(labels, max_points, seed)
    xy, names = project(np.asarray(arrays[layer], np.float64)[keep])
    if xy.shape[1] == 1:
      xy = np.stack([xy[:, 0], labels[keep] + rng.uniform(-0.3, 0.3, len(keep))], 1)
      names = ['unit 1', 'class (jittered)']
    points[epoch] = (xy, labels[keep], names)
  return points


def plot_scatter_layers(
  snapshots: Snapshots,
  *,
  layer: Optional[str] = None,
  epochs: Optional[Sequence[int]] = None,
  max_points: int = 2000,
  seed: int = 0,
  title: Optional[str] = None,
) -> Figure:
  """Scatter of a low-dimensional layer's representations, coloured by class.

  ``d = 2``: the plane; ``d = 3``: 3-D axes; ``d = 1``: value against class
  (jittered); ``d > 3``: the first two principal components (per epoch; the
  title says so). Axes are shared across epochs so spreading and clustering
  read directly. Default layer: the narrowest saved one.
  """
  data, layer, title = _resolve(snapshots, title, layer, epochs, True)
  d = np.shape(next(iter(data.values()))[layer])[1]
  three_d = {'projection': '3d'} if d == 3 else {}
  fig, axes = c.grid(
    len(data),
    max_cols=4,
    extra_width=1.0,
    panel_height=c.PANEL_WIDTH if d == 3 else c.PANEL_HEIGHT,
    **three_d,
  )
  points = _scatter_points(data, layer, max_points, seed)
  every = np.concatenate([xy for xy, _, _ in points.values()])
  low, high = every.min(axis=0), every.max(axis=0)
  pad = 0.05 * np.maximum(high - low, 1e-6)
  classes = np.unique(np.concatenate([y for _, y, _ in points.values()]))
  cmap = colormaps['tab10' if len(classes) <= 10 else 'tab20']
  colour = {k: cmap(i % cmap.N) for i, k in enumerate(classes)}
  for ax, (epoch, (xy, y, names)) in zip(axes, points.items()):
    ax.scatter(*xy.T, c=[colour[k] for k in y], s=5, alpha=0.6, edgecolors='none')
    setters = (ax.set_xlim, ax.set_ylim) + ((ax.set_zlim,) if d == 3 else ())
    labellers = (ax.set_xlabel, ax.set_ylabel) + ((ax.set_zlabel,) if d == 3 else ())
    for i, (lim, lab) in enumerate(zip(setters, labellers)):
      lim(low[i] - pad[i], high[i] + pad[i])
      # 3-D axes have no room for long labels.
      lab(names[i] if d == 3 or 'class' in names[i] else f'{names[i]} (activation)')
    ax.set_title(f'epoch {epoch}', fontsize='medium')
    if d == 1:
      ax.set_yticks(classes)
    if d != 3:
      ax.grid(alpha=0.3)
    else:  # fewer, smaller ticks and a smaller box: 3-D labels crowd
      for axis in (ax.xaxis, ax.yaxis, ax.zaxis):
        axis.set_major_locator(MaxNLocator(4))
      ax.tick_params(labelsize='small')
      ax.set_box_aspect(None, zoom=0.85)
  handles = [
    Line2D([], [], linestyle='', marker='o', color=colour[k], label=f'class {k}') for k in classes
  ]
  fig.legend(handles=handles, loc='outside right upper', fontsize='small')
  how = 'first two principal components' if d > 3 else f'{d}-D'
  fig.suptitle(c.titled(title, f'{layer} (d={d}), {how}, noise-free, by class'), fontsize='medium')
  return fig
