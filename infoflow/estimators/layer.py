"""`LayerInformation`: the information estimates of one layer, as a record."""

from __future__ import annotations

import dataclasses
from typing import Optional

import jax

from infoflow.estimators.estimate import Estimate


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
  """

  mi_input: Estimate
  entropy: Estimate
  conditional_entropy: Estimate
  mi_label: Optional[Estimate] = None
  label_conditional_entropy: Optional[Estimate] = None
  deterministic_given_x: bool = dataclasses.field(default=False, metadata=dict(static=True))


# The `Estimate` fields of a `LayerInformation`, in a fixed order.
FIELDS = ('mi_input', 'entropy', 'conditional_entropy', 'mi_label', 'label_conditional_entropy')
