"""I(X;T) and I(T;Y) as differences of entropies (the difference form).

For a hidden layer T = S + Z, Z ~ N(0, beta^2 I), and X uniform over m inputs:

    I(X; T) = h(T) - (1/m) sum_x h(T | X = x)
    I(T; Y) = h(T) - sum_y p(y) h(T | Y = y),   p(y) = (#inputs with label y)/m

Every entropy is that of a Gaussian mixture whose centres are samples of S:
h(T) pools all m R samples, h(T | X = x) uses the R replicas of x, and
h(T | Y = y) pools the replicas of every input labelled y; each is estimated
with its own Monte Carlo draws (`infoflow.estimators.entropy`), and the
differences add their standard errors in quadrature. When the replicas of
every input coincide (the first hidden layer), h(T | X = x) =
(d/2) log(2 pi e beta^2) exactly. h(T) and h(T | Y = y) are
`entropy.pooled_mixture_entropy` (stratified draws over the inputs), the
h(T | X = x) `entropy.mixture_entropies`.

This is the form of the original sample-propagation estimator. It estimates
the same quantity as the posterior form (`infoflow.estimators.posterior`,
the default of `infoflow.information.layer_information`) with far larger
Monte Carlo error, and its estimates can pass the hard bounds log m and H(Y);
it is kept for comparison.
"""

from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from infoflow import checks
from infoflow.estimators import entropy
from infoflow.estimators._src import draws
from infoflow.estimators._src import montecarlo
from infoflow.estimators.results import Estimate
from infoflow.estimators.results import LayerInformation

# Draws of each h(T | X = x) (m of them).
DEFAULT_NUM_MC_CONDITIONAL = 64


def _input_conditional_entropy(
  key, samples, beta, deterministic_given_x, num_mc_conditional
) -> Estimate:
  """h(T | X): the closed form when deterministic given X, else the mean of
  the m conditional mixtures' Monte Carlo entropies."""
  _, replicas, dim = samples.shape
  if deterministic_given_x:
    return Estimate.exact(jnp.asarray(entropy.gaussian_entropy(dim, beta), samples.dtype))
  if replicas < 2:
    raise ValueError('h(T | X) needs R >= 2 replicas when the layer is not deterministic given X.')
  return entropy.mixture_entropies(key, samples, beta, num_mc=num_mc_conditional).mean()


def _label_conditional_entropy(
  key, samples, beta, labels: np.ndarray, num_classes: int, num_mc: int
) -> Estimate:
  """h(T | Y) = sum_y p(y) h(T | Y = y) over the classes present."""
  m = samples.shape[0]
  class_keys = jax.random.split(key, num_classes)
  parts = []
  for y in range(num_classes):
    members = np.flatnonzero(labels == y)
    if members.size == 0:
      continue
    h_y = entropy.pooled_mixture_entropy(class_keys[y], samples[members], beta, num_mc=num_mc)
    parts.append(h_y * (members.size / m))
  h_t_y = parts[0]
  for part in parts[1:]:
    h_t_y = h_t_y + part
  return h_t_y


def difference_information(
  key: jax.Array,
  samples,
  beta,
  *,
  labels=None,
  num_classes: Optional[int] = None,
  deterministic_given_x: Optional[bool] = None,
  num_mc: int = entropy.DEFAULT_NUM_MC,
  num_mc_conditional: int = DEFAULT_NUM_MC_CONDITIONAL,
) -> LayerInformation:
  """I(X; T), and I(T; Y) when labels are given, from one layer's samples.

  Args:
    key: PRNG key for the Monte Carlo draws.
    samples: (m, R, d) draws of S given each of m inputs (R replicas each).
    beta: noise standard deviation (> 0).
    labels: optional (m,) integer labels in [0, num_classes).
    num_classes: number of classes (default: max label + 1).
    deterministic_given_x: use the closed form for h(T | X = x). Default:
      detected, True exactly when every input's replicas are identical.
    num_mc: Monte Carlo draws for h(T) and each h(T | Y = y) (2 to
      MAX_DRAWS = 2^30).
    num_mc_conditional: draws for each h(T | X = x) (m of them; their mean's
      standard error shrinks like 1/sqrt(m num_mc_conditional); 2 to
      MAX_DRAWS).

  Labels only partition the inputs: h(T | Y) sums over the classes present
  (`checks.partition_labels`), whatever num_classes is.

  Returns:
    A `LayerInformation`.

  Raises:
    ValueError: on a wrong rank, non-finite samples, beta <= 0, labels of the
      wrong shape or out of range, too few replicas to estimate h(T | X), a
      draw count out of range, or traced inputs (call it outside jit / vmap).
  """
  checks.check_concrete('difference_information', key, samples, beta, labels)
  samples = _checked_samples(key, samples, beta, num_mc, num_mc_conditional)
  labels, num_classes = _checked_labels(samples, labels, num_classes)
  if deterministic_given_x is None:
    deterministic_given_x = draws.replicas_identical(samples)

  keys = jax.random.split(key, 3)
  # The replicas of each input are the groups of the pruned evaluation,
  # which `auto` uses for large, small-beta mixtures (SZT scale).
  h_t = entropy.pooled_mixture_entropy(keys[0], samples, beta, num_mc=num_mc)
  h_t_x = _input_conditional_entropy(
    keys[1], samples, beta, deterministic_given_x, num_mc_conditional
  )
  h_t_y = None
  if labels is not None:
    h_t_y = _label_conditional_entropy(keys[2], samples, beta, labels, num_classes, num_mc)
  return LayerInformation(
    mi_input=h_t - h_t_x,
    entropy=h_t,
    conditional_entropy=h_t_x,
    mi_label=None if h_t_y is None else h_t - h_t_y,
    label_conditional_entropy=h_t_y,
    deterministic_given_x=bool(deterministic_given_x),
  )


def _checked_samples(key, samples, beta, num_mc, num_mc_conditional):
  """Checks the key, samples, beta and draw counts; returns the samples."""
  checks.check_key(key)
  samples = jnp.asarray(checks.check_float_array(samples, 'samples', rank=3, shape='(m, R, d)'))
  checks.check_positive_scalar(beta, 'beta')
  montecarlo.check_draws(num_mc, 'num_mc')
  montecarlo.check_draws(num_mc_conditional, 'num_mc_conditional')
  return samples


def _checked_labels(samples, labels, num_classes):
  """(labels as NumPy int32 renumbered to the classes present, their
  count), or (None, None) without labels."""
  if labels is None:
    return None, None
  labels, num_classes = checks.partition_labels(
    labels, 'labels', num_rows=samples.shape[0], num_classes=num_classes, rows_name='samples'
  )
  return np.asarray(labels), num_classes
