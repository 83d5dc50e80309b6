"""The minimal examples of docs/method.md, section 7.

Both are finite input sets used whole: train = test = all points (there is
nothing to generalise to; the experiments watch I(X;T) as the weights grow), so
``x_all`` is each point once, in increasing order.
"""

from __future__ import annotations

import numpy as np

from infoflow.data.base import Dataset

# The data sets here with regression targets, and the number of targets per
# input (the width of `targets_train`): what a net without a readout layer
# must end in (`configs.base`, `model.readout`).
TARGET_WIDTHS = {'minimal_tanh': 1, 'minimal_lrelu': 1}


def _toy(name: str, x: np.ndarray, y: np.ndarray, targets: np.ndarray, source: str) -> Dataset:
  x = np.asarray(x, np.float32)[:, None]
  targets = np.asarray(targets, np.float32)[:, None]
  y = np.asarray(y, np.int32)
  idx = np.arange(len(x))
  return Dataset(
    name=name,
    x_train=x,
    y_train=y,
    x_test=x.copy(),
    y_test=y.copy(),
    num_classes=2,
    source=source,
    targets_train=targets,
    targets_test=targets.copy(),
    index_train=idx,
    index_test=idx.copy(),
  )


def minimal_tanh() -> Dataset:
  """One noisy tanh neuron's task: X uniform on {-3, -1, 1, 3}.

  Returns:
    A :class:`Dataset` with float32 inputs ``(4, 1)`` = -3, -1, 1, 3; classes
    {-3, -1, 1} -> 0 and {3} -> 1 (the paper's labels -1 / +1); float32
    ``targets`` ``(4, 1)`` = -1, -1, -1, +1 for regression use.
  """
  return _toy(
    'minimal_tanh',
    [-3, -1, 1, 3],
    [0, 0, 0, 1],
    [-1, -1, -1, 1],
    'generated: X in {-3,-1,1,3}; {-3,-1,1} -> class 0 (target -1), {3} -> class 1 (target +1)',
  )


def minimal_lrelu() -> Dataset:
  """Two noisy leaky-ReLU neurons' task: X uniform on {1, ..., 8}.

  Returns:
    A :class:`Dataset` with float32 inputs ``(8, 1)`` = 1..8; classes {1..4} -> 0,
    {5..8} -> 1; float32 ``targets`` ``(8, 1)``: 0.0 for {1..4}, 0.25 for {5..8}
    (the training target is this real value).
  """
  x = np.arange(1, 9)
  y = (x >= 5).astype(np.int32)
  return _toy(
    'minimal_lrelu',
    x,
    y,
    0.25 * y,
    'generated: X in {1..8}; {1..4} -> class 0 (target 0.0), {5..8} -> class 1 (target 0.25)',
  )
