"""Monte Carlo estimates that carry their standard error.

Every number infoflow reports is an `Estimate`: a value in nats together with
the Monte Carlo standard error of that value. Estimates built from independent
random draws combine with `+`, `-` and scalar `*`, the standard errors adding
in quadrature.
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp

from infoflow import units


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class Estimate:
  """A Monte Carlo estimate in nats with its standard error.

  Attributes:
    nats: the estimate, in nats. Any shape (scalar for one estimate, (m,) for a
      batch of m estimates).
    stderr: the Monte Carlo standard error of `nats`, same shape, in nats. It
      is the sample standard deviation of the per-draw values divided by the
      square root of the number of draws (draws are i.i.d.).
    num_draws: the number of Monte Carlo draws behind each estimate (0 for a
      closed form, which has zero standard error).
  """

  nats: jax.Array
  stderr: jax.Array
  num_draws: jax.Array

  @property
  def bits(self) -> jax.Array:
    """The estimate in bits (nats / ln 2)."""
    return units.to_bits(self.nats)

  @property
  def stderr_bits(self) -> jax.Array:
    """The standard error in bits."""
    return units.to_bits(self.stderr)

  @classmethod
  def exact(cls, nats) -> Estimate:
    """A closed-form value: zero standard error, no draws."""
    nats = jnp.asarray(nats)
    return cls(nats=nats, stderr=jnp.zeros_like(nats), num_draws=jnp.zeros(nats.shape, jnp.int32))

  def __add__(self, other: Estimate) -> Estimate:
    """Sum of two estimates from independent draws."""
    return Estimate(
      self.nats + other.nats, jnp.hypot(self.stderr, other.stderr), self.num_draws + other.num_draws
    )

  def __sub__(self, other: Estimate) -> Estimate:
    """Difference of two estimates from independent draws."""
    return Estimate(
      self.nats - other.nats, jnp.hypot(self.stderr, other.stderr), self.num_draws + other.num_draws
    )

  def __mul__(self, scale) -> Estimate:
    """Scaling by a constant (not by another estimate)."""
    return Estimate(self.nats * scale, self.stderr * jnp.abs(scale), self.num_draws)

  __rmul__ = __mul__

  def mean(self, weights=None) -> Estimate:
    """The (weighted) mean of a batch of independent estimates.

    Args:
      weights: optional non-negative weights of shape `nats.shape`, summing to
        one; uniform when omitted.

    Returns:
      A scalar `Estimate`: sum_i w_i nats_i with standard error
      sqrt(sum_i w_i^2 stderr_i^2).
    """
    if weights is None:
      weights = jnp.full(self.nats.shape, 1.0 / max(self.nats.size, 1), self.nats.dtype)
    return Estimate(
      jnp.sum(weights * self.nats),
      jnp.sqrt(jnp.sum((weights * self.stderr) ** 2)),
      jnp.sum(self.num_draws),
    )

  def __repr__(self) -> str:
    try:
      if jnp.ndim(self.nats) == 0:
        return (
          f'Estimate({float(self.nats):.6f} ± {float(self.stderr):.6f}'
          f' nats, {int(self.num_draws)} draws)'
        )
    except (TypeError, jax.errors.ConcretizationTypeError):
      pass
    return f'Estimate(nats={self.nats!r}, stderr={self.stderr!r}, num_draws={self.num_draws!r})'


def from_draws(values: jax.Array, axis: int = -1) -> Estimate:
  """The mean of i.i.d. per-draw values along `axis`, with its standard error.

  Args:
    values: per-draw values, in nats, with the draws along `axis` (at least 2).
    axis: the axis of the draws.

  Returns:
    An `Estimate` of mean(values) with stderr std(values, ddof=1)/sqrt(k).
  """
  k = values.shape[axis]
  mean = jnp.mean(values, axis=axis)
  # Two-pass variance: no cancellation between E[v^2] and E[v]^2.
  centred = values - jnp.expand_dims(mean, axis)
  var = jnp.sum(centred * centred, axis=axis) / max(k - 1, 1)
  stderr = jnp.sqrt(var / k)
  return Estimate(mean, stderr, jnp.full(mean.shape, k, jnp.int32))
