"""Sequential Monte Carlo: draw until the standard error reaches a target.

A fixed number of draws is either wasteful (a narrow mixture needs few) or
too few (a broad one needs many). Here a pilot batch estimates the variance
of the per-draw values, then batches of further i.i.d. draws are added until
the standard error sd / sqrt(k) of the running mean is at most the target
(default 0.01 nats), or a maximum number of draws is reached (a warning then
says the target was missed).

Every batch uses fresh keys (`key` for the pilot, so the pilot equals the
fixed-count estimate with the same key and count; `fold_in(key, i)` after),
so all draws are i.i.d. and the estimate is the plain mean of all of them.
Caveat: the stopping time depends on the draws (on the running variance), so
the mean is not exactly unbiased and the reported stderr is slightly
optimistic when the pilot under-estimates the variance. With pilots of
hundreds of draws or more and a light-tailed value (the control variate of
`infoflow.estimators.entropy` removes the chi-square tail), both effects are far below
the stderr itself; pass `num_mc` for a fixed-size, exactly unbiased estimate.

Batch sizes are the pilot size times powers of two (the largest not above
the remaining need), which bounds the number of distinct shapes, hence of
jit recompilations, to a handful.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow.estimators import estimate as estimate_lib
from infoflow.estimators import pruned

DEFAULT_TARGET_STDERR = 0.01


@jax.jit
def _summarise(values):
  return estimate_lib.from_draws(values, axis=-1)


@jax.jit
def _batch_stats(values):
  """(mean, sum of squared deviations) over the last axis (two-pass)."""
  mean = jnp.mean(values, axis=-1)
  centred = values - mean[..., None]
  return mean, jnp.sum(centred * centred, axis=-1)


@jax.jit
def _merge(count_a, mean_a, m2_a, count_b, mean_b, m2_b):
  """Chan et al.'s pairwise update of (mean, m2): no cancellation."""
  count = count_a + count_b
  delta = mean_b - mean_a
  mean = mean_a + delta * (count_b / count)
  return mean, m2_a + m2_b + delta * delta * (count_a * count_b / count)


def _estimate(count, mean, m2):
  var = m2 / max(count - 1, 1)
  return estimate_lib.Estimate(mean, jnp.sqrt(var / count), jnp.full(mean.shape, count, jnp.int32))


def sequential(draw_batch, key, *, target_stderr: float, pilot: int, max_draws: int, summary=None):
  """Runs batches of draws until the stderr is at most `target_stderr`.

  Args:
    draw_batch: `draw_batch(key, size)` -> per-draw values with the `size`
      draws on the last axis (shape (size,) or (m, size)).
    key: PRNG key.
    target_stderr: the standard error to reach, in nats (> 0).
    pilot: draws in the first batch.
    max_draws: the most draws (per estimate) to spend.
    summary: maps the running `Estimate` to the one whose stderr is compared
      (e.g. `Estimate.mean` for a batch of estimates); identity by default.

  Returns:
    The `Estimate` of all draws (before `summary`). Running means and
    squared deviations are merged batch by batch, so no shape grows and
    memory stays that of one batch.
  """
  if min(pilot, max_draws) < 2:
    raise ValueError(
      f'an adaptive run needs >= 2 draws per batch for a '
      f'standard error; got pilot={pilot}, '
      f'max_draws={max_draws}.'
    )
  summary = summary or (lambda est: est)
  total, index = 0, 0
  size = min(pilot, max_draws)
  while True:
    batch_key = key if index == 0 else jax.random.fold_in(key, index)
    mean_b, m2_b = _batch_stats(draw_batch(batch_key, size))
    if index == 0:
      mean, m2 = mean_b, m2_b
    else:
      mean, m2 = _merge(float(total), mean, m2, float(size), mean_b, m2_b)
    total += size
    index += 1
    estimate = _estimate(total, mean, m2)
    stderr = float(summary(estimate).stderr)
    if stderr <= target_stderr or total >= max_draws:
      break
    # stderr ~ 1/sqrt(k): the total that would reach the target, +5%.
    needed = math.ceil(total * (stderr / target_stderr) ** 2 * 1.05)
    remaining = max(needed - total, 1)
    multiple = 1 << max(
      0, int(math.floor(math.log2(remaining / pilot))) if remaining > pilot else 0
    )
    size = min(pilot * multiple, max_draws - total)
  if stderr > target_stderr:
    warnings.warn(
      f'Monte Carlo stopped at max draws {total}: stderr '
      f'{stderr:.3g} nats > target {target_stderr:.3g}.',
      RuntimeWarning,
      stacklevel=3,
    )
  return estimate


def run(draw_batch, key, num_mc, target_stderr, *, pilot, max_draws, summary=None):
  """A fixed run of num_mc draws (target_stderr None), else `sequential`."""
  if target_stderr is None:
    return _summarise(draw_batch(key, num_mc))
  return sequential(
    draw_batch, key, target_stderr=target_stderr, pilot=pilot, max_draws=max_draws, summary=summary
  )


def plan(
  num_mc, target_stderr, max_mc, default_num, *, names=('num_mc', 'target_stderr', 'max_mc')
):
  """(fixed count, None) or (None, target): which kind of run was asked for.

  A fixed run when num_mc is given, or when neither is and `default_num` is
  set (its count); else adaptive to target_stderr (DEFAULT_TARGET_STDERR
  when None). A standard error needs two draws, so counts must be >= 2.

  Args:
    num_mc, target_stderr, max_mc: as given by the caller.
    default_num: the fixed count when neither is given, or None (adaptive).
    names: the caller's public names of the three, for messages (e.g.
      ('num_mc_conditional', 'target_stderr', 'max_mc')).

  Raises:
    ValueError: both given, num_mc or max_mc not an integer >= 2, or
      target_stderr not a positive finite number.
  """
  num_name, target_name, max_name = names
  if num_mc is not None and target_stderr is not None:
    raise ValueError(
      f'pass {num_name} (a fixed number of draws) or {target_name} (adaptive), not both.'
    )
  if target_stderr is None and (num_mc is not None or default_num):
    num_mc = default_num if num_mc is None else num_mc
    return checks.check_count(num_mc, num_name, minimum=2), None
  target = DEFAULT_TARGET_STDERR if target_stderr is None else target_stderr
  target = checks.check_positive_scalar(target, target_name)
  checks.check_count(max_mc, max_name, minimum=2)
  return None, target


@dataclasses.dataclass(frozen=True)
class EntropyReport:
  """How an estimate was computed (`return_report=True`).

  Attributes:
    method: 'dense' (every kernel term summed) or 'pruned'.
    num_draws: the Monte Carlo draws used.
    truncation_bound: nats; the pruned estimate exceeds the full-sum
      estimate on the same draws by at most this (mean certified error of
      -log g over the draws), and by at least 0. 0 for dense.
    prune: the `infoflow.estimators.pruned.PruneInfo` merged over batches, or None.
  """

  method: str
  num_draws: int
  truncation_bound: float
  prune: pruned.PruneInfo | None = None


def merge_infos(infos):
  """One PruneInfo from (batch size, info) pairs."""
  total = sum(size for size, _ in infos)
  return pruned.PruneInfo(
    max(i.max_error for _, i in infos),
    sum(size * i.mean_error for size, i in infos) / total,
    max(i.num_candidates for _, i in infos),
    infos[0][1].num_neighbors,
    sum(i.num_refined for _, i in infos),
    sum(i.num_dense for _, i in infos),
  )


class StratifiedMoments:
  """Running mean of independent batches, each with its own variance of the
  mean (stratified batches: `infoflow.estimators.draws.paired_variance`).

  With batches b of n_b draws, mean_b and variance v_b of mean_b, the
  running mean is sum_b n_b mean_b / N and its variance sum_b n_b^2 v_b / N^2
  (N = sum_b n_b). Host-side float64; any number of quantities at once.
  """

  def __init__(self):
    self.count, self._total, self._variance = 0, 0.0, 0.0

  def add(self, count, mean, variance_of_mean):
    """Merges a batch of `count` draws with its mean and variance of the mean."""
    mean = np.asarray(mean, np.float64)
    self._total = self._total + count * mean
    self._variance = self._variance + count * count * np.asarray(variance_of_mean, np.float64)
    self.count += count

  @property
  def mean(self):
    """The running means (a new array)."""
    return self._total / self.count

  def stderr(self):
    """Standard errors of the running means."""
    return np.sqrt(self._variance) / self.count
