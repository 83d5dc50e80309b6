"""Synthetic layer samples shaped like those of trained SZT networks.

For tests and benchmarks of the estimators: (m, R, d) samples of a layer's
pre-noise activations S given each of m inputs, with integer labels, without
training a network.
"""

from __future__ import annotations

import numpy as np

KINDS = ('separated', 'clustered', 'multiclass')


def layer_samples(
  kind: str,
  num_inputs: int,
  replicas: int,
  dim: int,
  beta: float,
  *,
  seed: int = 0,
  num_classes: int = 2,
):
  """(samples (m, R, d) float32, labels (m,) int32) of a synthetic layer.

  Args:
    kind: 'separated': input means at tanh-saturated points tanh(3 N(0, I)),
      far apart compared with beta (like the middle SZT layers), labelled by
      the sign of the first unit; 'clustered': each class's inputs packed
      into one blob 3.7 beta wide (per coordinate) at a corner of the cube
      (like a trained T_5; two classes); 'multiclass': num_classes blobs 6
      beta wide at uniform points of [-1, 1]^d.
    num_inputs, replicas, dim: m, R, d.
    beta: the noise std; replicas are spread by beta around each input's
      mean, like S_l given x in a noisy network.
    seed: NumPy seed.
    num_classes: classes of the 'multiclass' kind.

  Raises:
    ValueError: for an unknown kind.
  """
  rng = np.random.default_rng(seed)
  labels = rng.integers(0, num_classes, num_inputs).astype(np.int32)
  if kind == 'separated':
    means = np.tanh(3.0 * rng.normal(size=(num_inputs, dim)))
    labels = (means[:, 0] > 0).astype(np.int32)
  elif kind == 'clustered':
    labels %= 2
    corner = np.where(labels[:, None] == 1, 0.98, -0.98)
    means = corner + 3.7 * beta * rng.normal(size=(num_inputs, dim))
  elif kind == 'multiclass':
    centres = rng.uniform(-1, 1, size=(num_classes, dim))
    means = centres[labels] + 6 * beta * rng.normal(size=(num_inputs, dim))
  else:
    raise ValueError(f'kind must be one of {KINDS}, got {kind!r}.')
  spread = beta * rng.normal(size=(num_inputs, replicas, dim))
  return (means[:, None, :] + spread).astype(np.float32), labels
