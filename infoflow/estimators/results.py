"""What the estimators return: estimates, layer records and reports.

Every number infoflow reports is an `Estimate`: a value in nats together with
the Monte Carlo standard error of that value. Estimates built from independent
random draws combine with `+`, `-` and scalar `*`, the standard errors adding
in quadrature. `LayerInformation` holds the estimates of one layer;
`PosteriorReport`, `EntropyReport` and `PruneInfo` say how an estimate was
computed (method, draws, certified truncation bounds).
"""

from __future__ import annotations

import dataclasses
from typing import Optional
from typing import Sequence

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
    stderr: the Monte Carlo standard error of `nats`, same shape, in nats
      (from independent blocks of draws, each with its variance of the mean:
      `infoflow.estimators._src.montecarlo`).
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


# The `Estimate` fields of a `LayerInformation` that the one-layer estimators
# fill, in a fixed order (`mi_input_half_replicas` is `network_information`'s).
FIELDS = ('mi_input', 'entropy', 'conditional_entropy', 'mi_label', 'label_conditional_entropy')


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LayerInformation:
  """Information estimates of one layer T, in nats, with standard errors.

  The identities h(T) = I(X;T) + h(T|X) and h(T) = I(T;Y) + h(T|Y) hold for
  the fields of every form (each derived field is computed from the same
  draws as the others, so its standard error is that of the difference).

  Attributes:
    mi_input: I(X; T).
    entropy: h(T).
    conditional_entropy: h(T | X) = (1/m) sum_x h(T | X = x).
    mi_label: I(T; Y), or None without labels.
    label_conditional_entropy: h(T | Y) = sum_y p(y) h(T | Y = y), or None.
    deterministic_given_x: whether the closed form (d/2) log(2 pi e beta^2)
      was used for h(T | X) (identical replicas, e.g. the first layer).
    mi_input_half_replicas: I(X; T) of the same layer from the first R // 2
      replicas of every input, the finite-R diagnostic (docs/method.md,
      "Finite replicas: the R/2 diagnostic"), or None; filled by
      `infoflow.network_information` when `InformationSettings.replica_diagnostic`
      is set. With identical replicas (deterministic given x) it is
      `mi_input` itself: the R/2 mixture is then the R one.
  """

  mi_input: Estimate
  entropy: Estimate
  conditional_entropy: Estimate
  mi_label: Optional[Estimate] = None
  label_conditional_entropy: Optional[Estimate] = None
  mi_input_half_replicas: Optional[Estimate] = None
  deterministic_given_x: bool = dataclasses.field(default=False, metadata=dict(static=True))

  def pairs(self, fields: Sequence[str] = FIELDS) -> dict[str, Optional[list[float]]]:
    """`{field: [nats, stderr]}` of `fields`, None for an estimate not made.

    The one serialisation of a layer's estimates: the run record's
    `information` entries and `launch.estimate`'s JSON are made of it.
    """
    return {
      field: None if (e := getattr(self, field)) is None else [float(e.nats), float(e.stderr)]
      for field in fields
    }


@dataclasses.dataclass(frozen=True)
class PosteriorReport:
  """How a posterior-form estimate was computed (host-side numbers).

  Attributes:
    method: 'dense' (blocks of draws against every chunk of inputs that can
      matter; the far chunks bounded) or 'pruned' (per draw).
    num_draws: Monte Carlo draws used.
    entropy_bound: nats; h(T) exceeds its full-sum value on the same draws by
      at most this (mean certified error of -log g), and by at least 0.
    mi_input_bound, mi_label_bound: nats; I(X;T) and I(T;Y) are within these
      of their full-sum values on the same draws
      (`infoflow.estimators.posterior`).
    num_refined, num_dense: draws redone with more candidates, and by the
      dense sum (pruned path).
    targets_met: whether the requested standard errors were reached.
  """

  method: str
  num_draws: int
  entropy_bound: float
  mi_input_bound: float
  mi_label_bound: float
  num_refined: int = 0
  num_dense: int = 0
  targets_met: bool = True


@dataclasses.dataclass(frozen=True)
class EntropyReport:
  """How a mixture entropy was computed (`return_report=True`).

  Attributes:
    method: 'dense' (every kernel term that can matter summed) or 'pruned'.
    num_draws: the Monte Carlo draws used.
    truncation_bound: nats; the estimate exceeds the full-sum estimate on
      the same draws by at most this (mean certified error of -log g over
      the draws), and by at least 0.
    num_refined, num_dense: draws redone with more candidates, and by the
      dense sum (pruned path).
    targets_met: whether the requested standard error was reached.
  """

  method: str
  num_draws: int
  truncation_bound: float
  num_refined: int = 0
  num_dense: int = 0
  targets_met: bool = True


@dataclasses.dataclass(frozen=True)
class PruneInfo:
  """What the pruned evaluation of log-densities did (host-side numbers).

  Attributes:
    max_error: the largest certified truncation error of any log-density,
      in nats (<= the requested prune_tolerance).
    mean_error: its mean over the queries, in nats (bounds the shift of an
      entropy estimate that averages them).
    num_candidates: the largest K (candidate groups per query) used.
    num_neighbors: Kn, the neighbour-list length.
    num_refined: query evaluations redone with a larger K.
    num_dense: queries computed by the dense fallback.
  """

  max_error: float
  mean_error: float
  num_candidates: int
  num_neighbors: int
  num_refined: int
  num_dense: int
