"""Exact I(X;T) of a one-unit noisy layer, by numerical quadrature (NumPy).

A layer of one unit whose noise-free output is a function of the input,
T = s(X) + Z with Z ~ N(0, beta^2) and X on m points with probabilities p_i
(uniform: p_i = 1/m), is a Gaussian channel whose output density is the
mixture

    g(t) = sum_j p_j phi_beta(t - s_j),   phi_beta(u) = exp(-u^2 / (2 beta^2)) / (sqrt(2 pi) beta),

with s_j = s(x_j). Its mutual information is one-dimensional integrals:

    I(X;T) = sum_i p_i  int phi_beta(t - s_i) log[phi_beta(t - s_i) / g(t)] dt
           = -sum_i p_i  E_{z ~ N(0,1)} log sum_j p_j exp(-z d_ij - d_ij^2 / 2),

substituting t = s_i + beta z, with d_ij = (s_i - s_j) / beta: the ratio
phi_beta(t - s_j) / phi_beta(t - s_i) is exp(-z d_ij - d_ij^2 / 2). The
integrand is a log-sum-exp of lines in z, smooth and bounded by -log p_i, so a
trapezoid rule on z in [-reach, reach] with the normal weights converges
fast; nodes are spaced at most 1/(4 max|d_ij|) apart (and 0.01 at most), finer
than the width ~1/|d_ij - d_ik| of every bend of the integrand, so the error
is far below 1e-6 nats for the default reach of 12 (normal mass beyond it
< 1e-32).

Limits: points much farther apart than beta give H(X) (log m for uniform X,
2 bits for 4 points); identical points give 0; k groups of coinciding points,
far apart, give the entropy of the group probabilities (e.g. H(3/4, 1/4) =
0.811 bits). The minimal tanh example of the paper (docs/method.md, section
7) walks down these steps, 2 -> 1.5 -> 0.81 bits, as its weight grows.
This is the reference for the Monte Carlo estimates of such layers: runs
record it for every seed at every analysed epoch
(`infoflow.analysis.quadrature_hook`, the record's `quadrature` field) and
the reproduction report sets each estimate beside it
(`infoflow.paper.examples`).
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from infoflow import checks

# Nodes of the trapezoid rule per unit of z at most (spacing >= 1/this).
_MAX_NODES_PER_UNIT = 4000


def _points(points) -> np.ndarray:
  """`points` as a float64 vector (m,) of finite values; (m, 1) accepted."""
  arr = np.asarray(points, dtype=np.float64)
  if arr.ndim == 2 and arr.shape[1] == 1:
    arr = arr[:, 0]
  if arr.ndim != 1 or arr.size == 0:
    raise ValueError(
      f'points must be a non-empty vector (m,) or (m, 1) of one-unit outputs; '
      f'got shape {np.shape(points)}.'
    )
  if not np.isfinite(arr).all():
    raise ValueError(f'points has {int((~np.isfinite(arr)).sum())} non-finite (NaN or inf) values.')
  return arr


def _weights(weights, m: int) -> np.ndarray:
  """The probabilities of the m points: uniform, or checked `weights`."""
  if weights is None:
    return np.full(m, 1.0 / m)
  p = np.asarray(weights, dtype=np.float64)
  if p.shape != (m,) or not np.isfinite(p).all() or (p < 0).any():
    raise ValueError(
      f'weights must be {m} finite non-negative probabilities, one per point; got shape {p.shape}.'
    )
  if abs(p.sum() - 1.0) > 1e-9:
    raise ValueError(f'weights must sum to 1; they sum to {p.sum()!r}.')
  return p


def gaussian_channel_information(
  points, beta: float, *, weights=None, reach: float = 12.0, max_nodes: Optional[int] = None
) -> float:
  """I(X;T) in nats for T = s(X) + N(0, beta^2), X on the `points` s(x_i).

  Args:
    points: (m,) or (m, 1) noise-free outputs s(x_i) of a one-unit layer.
    beta: the noise standard deviation (> 0).
    weights: (m,) probabilities of the inputs (default: uniform, 1/m each).
    reach: the rule integrates z ~ N(0, 1) over [-reach, reach].
    max_nodes: cap on the trapezoid nodes (default: 4000 per unit of z, which
      suffices while max|s_i - s_j| / beta < 1000; beyond that the
      components are so far apart that the bends lie outside the reach).

  Returns:
    I(X;T) in nats (divide by ln 2 for bits), in [0, H(X)].

  Raises:
    ValueError: empty or non-finite points, bad weights, beta or reach not a
      finite number > 0.
  """
  s = _points(points)
  beta = checks.check_positive_scalar(beta, 'beta')
  reach = checks.check_positive_scalar(reach, 'reach')
  p = _weights(weights, len(s))
  keep = p > 0  # inputs of probability 0 add nothing
  s, p = s[keep], p[keep]
  d = (s[:, None] - s[None, :]) / beta  # d_ij, (m, m)
  spread = float(np.abs(d).max())
  spacing = min(0.01, 0.25 / spread) if spread > 0 else 0.01
  cap = max_nodes or int(2 * reach * _MAX_NODES_PER_UNIT) + 1
  count = min(int(math.ceil(2 * reach / spacing)) + 1, cap)
  z = np.linspace(-reach, reach, count)
  w = np.exp(-0.5 * z**2)
  w[[0, -1]] *= 0.5  # trapezoid end weights
  w /= w.sum()
  # One input i at a time (memory m x nodes): exponent[j, k] = log p_j -
  # z_k d_ij - d_ij^2 / 2, and E_z of its log-sum-exp over j.
  expectations = np.empty(len(s))
  for i in range(len(s)):
    exponent = np.log(p)[:, None] - d[i][:, None] * z - 0.5 * d[i][:, None] ** 2
    top = exponent.max(axis=0)
    expectations[i] = (top + np.log(np.exp(exponent - top).sum(axis=0))) @ w
  information = -float(np.sum(p * expectations))
  entropy = -float(np.sum(p * np.log(p)))
  return min(max(information, 0.0), entropy)
