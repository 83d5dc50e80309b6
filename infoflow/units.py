"""Units of information: everything infoflow computes is in nats.

One nat is the information of an event of probability 1/e; one bit that of an
event of probability 1/2, so 1 nat = 1 / ln 2 bits (about 1.4427 bits). The
run record stores nats; figures and reports convert with `to_bits`.
"""

import math

BITS_PER_NAT = 1.0 / math.log(2.0)


def to_bits(nats):
  """`nats` in bits (works on floats and on NumPy / JAX arrays)."""
  return nats * BITS_PER_NAT


def scale(units: str) -> float:
  """Factor from nats to `units` ('nats' or 'bits')."""
  if units == 'nats':
    return 1.0
  if units == 'bits':
    return BITS_PER_NAT
  raise ValueError(f"units must be 'bits' or 'nats'; got {units!r}.")
