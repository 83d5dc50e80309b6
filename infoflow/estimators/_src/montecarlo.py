"""The Monte Carlo loop behind every estimator: blocks, moments, stopping rule.

Every estimate of infoflow is the mean of per-draw values v_i (nats) whose
expectation is the estimand. The draws come in blocks b of n_b draws, each
block drawn with its own key (block 0: `key` itself, block i > 0:
`fold_in(key, i)`) and evaluated by one compiled program (blocks have the
estimator's block size, only the last of a run may be shorter). Each block
gives its mean mean_b and an unbiased estimate v_b of the variance of that
mean: for i.i.d. draws the sample variance over n_b (`iid_variance`), for
stratified pairs the within-pair form (`infoflow.estimators._src.draws.
paired_variance`). Blocks are independent, so the running mean and its
variance are

    mean = sum_b n_b mean_b / N,   var(mean) = sum_b n_b^2 v_b / N^2,

N = sum_b n_b (`Moments`; host-side float64, any number of quantities at
once). Every count is even (draws come in pairs: a block of two has a
variance), so a fixed num_mc is rounded up and the cap max_mc down to even.
Memory is that of one block whatever num_mc or max_mc: blocks are drawn,
reduced to their moments and dropped one at a time. Counts are at most
MAX_DRAWS = 2^30 (`check_draws`): an `Estimate` stores its count as int32,
and rounding up to even must not pass 2^31 - 1.

Stopping rule. A fixed run draws num_mc. An adaptive run draws a pilot of
one block, then, while some monitored standard error s_j exceeds its target
t_j and fewer than max_mc draws were made, the total that would reach every
target (stderr ~ 1/sqrt(N)): N' = ceil(N max_j (s_j / t_j)^2 1.05), rounded
up to whole blocks. At the cap a `RuntimeWarning` names the standard errors
reached. Caveat: the stopping time depends on the draws (through the
measured variance), so an adaptive mean is not exactly unbiased and its
reported stderr is slightly optimistic when the pilot under-estimates the
variance; with pilots of thousands of draws both effects are far below the
stderr itself. Pass num_mc for a fixed-size, exactly unbiased estimate.

Under jit (fixed runs only) the moments stay traced arrays in the values'
dtype, and the full blocks after the first run in one `lax.fori_loop`
(`Moments.add_blocks`): the program holds one block whatever num_mc.
"""

from __future__ import annotations

import math
import warnings

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow.estimators import results
from infoflow.estimators._src import draws as draws_lib

# Draws per block of the pooled and posterior estimators (one compiled shape
# for every layer of a width, every epoch and every seed); the pilot of an
# adaptive run is one block.
BLOCK = 2048
# The default cap on the draws of an adaptive run (per estimate).
DEFAULT_MAX_MC = 1 << 18
# The default target standard error of an adaptive entropy, nats.
DEFAULT_TARGET_STDERR = 0.01
# The most draws of one estimate (num_mc, max_mc; module docstring).
MAX_DRAWS = 1 << 30


def check_draws(value, name: str) -> int:
  """A draw count (num_mc, max_mc, ...): an integer in [2, MAX_DRAWS].

  Two draws are the fewest with a standard error; MAX_DRAWS bounds the
  int32 count of an `Estimate`.

  Raises:
    infoflow.checks.ArgumentTypeError: not an integer.
    ValueError: out of range, naming `name`.
  """
  value = checks.check_count(value, name, minimum=2)
  if value > MAX_DRAWS:
    raise ValueError(
      f'{name} must be at most MAX_DRAWS = 2**30 = {MAX_DRAWS} draws (an estimate counts '
      f'its draws in int32); got {value}.'
    )
  return value


@jax.jit
def iid_variance(values):
  """(mean, variance of the mean) of i.i.d. values along the last axis.

  The variance is the two-pass sample variance (ddof 1, no cancellation
  between E v^2 and (E v)^2) over the count.
  """
  count = values.shape[-1]
  mean = jnp.mean(values, axis=-1)
  centred = values - mean[..., None]
  return mean, jnp.sum(centred * centred, axis=-1) / (count * (count - 1))


class Moments:
  """Running mean of independent blocks, each with its variance of the mean.

  With blocks b of n_b draws, mean_b and variance v_b of mean_b, the running
  mean is sum_b n_b mean_b / N and its variance sum_b n_b^2 v_b / N^2
  (N = sum_b n_b). Host-side float64 for concrete blocks (traced arrays
  under jit); any number of quantities at once.
  """

  def __init__(self):
    self.count, self._total, self._variance = 0, 0.0, 0.0

  def add(self, count, mean, variance_of_mean):
    """Merges a block of `count` draws with its mean and variance of the mean."""
    if checks.is_concrete(mean, variance_of_mean):
      mean = np.asarray(mean, np.float64)
      variance_of_mean = np.asarray(variance_of_mean, np.float64)
    self._total = self._total + count * mean
    self._variance = self._variance + count * count * variance_of_mean
    self.count += count

  @property
  def traced(self) -> bool:
    """Whether the moments are traced arrays (a run under jit)."""
    return not checks.is_concrete(self._total)

  def add_blocks(self, count, block_stats, first: int, num: int):
    """Merges blocks first, ..., first + num - 1 of `count` draws each, block
    i's (mean, variance of the mean) being `block_stats(i)`, in one
    `lax.fori_loop`: traced runs hold one block and compile one loop body,
    whatever the number of blocks (unrolled, each block would stay in the
    program: ~50 bytes a draw for `mixture_entropy`)."""

    def body(i, carry):
      total, variance = carry
      mean, variance_of_mean = block_stats(i)
      return total + count * mean, variance + count * count * variance_of_mean

    self._total, self._variance = jax.lax.fori_loop(
      first, first + num, body, (self._total, self._variance)
    )
    self.count += count * num

  @property
  def mean(self):
    """The running means (a new array)."""
    return self._total / self.count

  def stderr(self):
    """Standard errors of the running means."""
    sqrt = np.sqrt if checks.is_concrete(self._variance) else jnp.sqrt
    return sqrt(self._variance) / self.count

  def estimate(self, dtype) -> results.Estimate:
    """The running means as an `Estimate` in `dtype`."""
    mean = jnp.asarray(self.mean, dtype)
    return results.Estimate(
      mean, jnp.asarray(self.stderr(), dtype), jnp.full(mean.shape, self.count, jnp.int32)
    )


def plan(
  num_mc, target_stderr, max_mc, default_num, *, names=('num_mc', 'target_stderr', 'max_mc')
):
  """(fixed count, None) or (None, target): which kind of run was asked for.

  A fixed run when num_mc is given, or when neither is and `default_num` is
  set (its count); else adaptive to target_stderr (DEFAULT_TARGET_STDERR
  when None). Counts are checked by `check_draws`.

  Args:
    num_mc, target_stderr, max_mc: as given by the caller.
    default_num: the fixed count when neither is given, or None (adaptive).
    names: the caller's public names of the three, for messages.

  Raises:
    ValueError: both given, num_mc or max_mc not an integer in
      [2, MAX_DRAWS], or target_stderr not a positive finite number.
  """
  num_name, target_name, max_name = names
  if num_mc is not None and target_stderr is not None:
    raise ValueError(
      f'pass {num_name} (a fixed number of draws) or {target_name} (adaptive), not both.'
    )
  if target_stderr is None and (num_mc is not None or default_num):
    num_mc = default_num if num_mc is None else num_mc
    return check_draws(num_mc, num_name), None
  target = DEFAULT_TARGET_STDERR if target_stderr is None else target_stderr
  target = checks.check_positive_scalar(target, target_name)
  check_draws(max_mc, max_name)
  return None, target


def run(draw_block, key, *, num_mc, targets, max_mc, block, paired, monitor, name, labels):
  """Blocks of draws until the targets are met (or num_mc, or max_mc).

  Args:
    draw_block: `draw_block(key, size)` -> per-draw values with the `size`
      draws on the last axis (any leading shape); it may record side
      information (bounds, counts) of its block.
    key: PRNG key of block 0; block i > 0 uses fold_in(key, i).
    num_mc: a fixed number of draws (rounded up to even), or None.
    targets: adaptive runs: the standard errors to reach, nats, one per
      monitored quantity (ignored for fixed runs).
    max_mc: the cap of an adaptive run (rounded down to even).
    block: draws per block (even), also the pilot.
    paired: the draws of a block are stratified pairs
      (`draws.paired_variance`); else i.i.d. (`iid_variance`).
    monitor: maps the `Moments` to the standard errors compared with
      `targets` (a sequence of the same length).
    name: the estimator's public name, for the warning.
    labels: names of the monitored quantities, for the warning.

  Returns:
    (moments, targets_met): the `Moments` of all draws, and whether the
    targets were met (True for fixed runs).
  """
  total = 2 * ((num_mc + 1) // 2) if num_mc else 2 * (max_mc // 2)
  goal = total if num_mc else min(block, total)
  block_moments = draws_lib.paired_variance if paired else iid_variance
  moments, index = Moments(), 0
  while True:
    while moments.count < goal:
      size = min(block, goal - moments.count)
      if moments.traced and size == block:  # under jit: the full blocks in one loop
        num = (goal - moments.count) // block
        moments.add_blocks(
          block, lambda i: block_moments(draw_block(jax.random.fold_in(key, i), block)), index, num
        )
        index += num
        continue
      block_key = key if index == 0 else jax.random.fold_in(key, index)
      moments.add(size, *block_moments(draw_block(block_key, size)))
      index += 1
    if num_mc:
      return moments, True
    stderr = [float(s) for s in monitor(moments)]
    ratio = max(s / t for s, t in zip(stderr, targets))
    if ratio <= 1 or moments.count >= total:
      break
    needed = math.ceil(moments.count * ratio**2 * 1.05)
    goal = min(total, max(goal + 2, -(-needed // block) * block))
  if ratio > 1:
    reached = ', '.join(
      f'stderr of {label} {s:.3g} nats (target {t:.3g})'
      for label, s, t in zip(labels, stderr, targets)
    )
    warnings.warn(
      f'{name} stopped at max_mc = {moments.count} draws: {reached}.', RuntimeWarning, stacklevel=3
    )
  return moments, ratio <= 1
