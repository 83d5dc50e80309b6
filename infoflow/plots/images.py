"""Figures as image arrays, for metric writers (TensorBoard) during a run.

`epoch_images` draws what a writer shows at an analysed epoch: the
information plane of the records so far and the scatter of the narrowest
saved layer, each as an (H, W, 3) uint8 array (`figure_image`).
"""

from __future__ import annotations

from typing import Mapping
from typing import Optional
from typing import Sequence

from matplotlib.backends import backend_agg
import numpy as np

from infoflow import record as record_lib
from infoflow.plots.common import NothingToPlot
from infoflow.plots.plane import plot_information_plane
from infoflow.plots.representations import pick_layer
from infoflow.plots.representations import plot_scatter_layers

FIGURE_DPI = 50  # the images are thumbnails: cheap to draw, small to store


def figure_image(fig, dpi: int = FIGURE_DPI) -> np.ndarray:
  """A matplotlib Figure drawn (Agg) into an (H, W, 3) uint8 array."""
  fig.set_dpi(dpi)
  canvas = backend_agg.FigureCanvasAgg(fig)
  canvas.draw()
  return np.array(canvas.buffer_rgba())[..., :3]


def epoch_images(
  records: Sequence[Mapping],
  representations: Mapping,
  labels,
  epoch: int,
  layers: Optional[Mapping[str, int]],
) -> dict[str, np.ndarray]:
  """The figures of an analysed epoch, as images.

  `information_plane`: the plane of the records so far (mean over seeds),
  when information is estimated; `scatter/<layer>`: the narrowest of
  `representations` (seed 0's saved layers) at `epoch`, when any.

  Raises:
    ValueError: that layer's name is one `record.layer_file_name` refuses.
  """
  images = {}
  try:
    images['information_plane'] = figure_image(plot_information_plane(records, layers=layers))
  except NothingToPlot:
    pass
  if representations:
    arrays = {'labels': np.asarray(labels), **representations}
    layer = pick_layer(arrays, narrowest=True, order=list(layers or representations))
    tag = f'scatter/{record_lib.layer_file_name(layer)}'
    images[tag] = figure_image(plot_scatter_layers({epoch: arrays}, layer=layer, max_points=500))
  return images
