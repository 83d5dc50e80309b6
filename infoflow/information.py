"""Per-layer mutual information by sample propagation (Goldfeld et al. 2019).

For a hidden layer T = S + Z, Z ~ N(0, beta^2 I), and X uniform over m inputs:

    I(X; T) = h(T) - (1/m) sum_x h(T | X = x)
    I(T; Y) = h(T) - sum_y p(y) h(T | Y = y),   p(y) = (#inputs with label y)/m

Every entropy is that of a Gaussian mixture whose centres are samples of S:
h(T) pools all m R samples, h(T | X = x) uses the R replicas of x, and
h(T | Y = y) pools the replicas of every input labelled y. When the replicas of
every input coincide (the first hidden layer, whose S_1 = f_1(x) is a function
of x), h(T | X = x) = (d/2) log(2 pi e beta^2) exactly.

All values in nats with Monte Carlo standard errors (`Estimate`). Differences
of estimates add standard errors in quadrature (independent draws).

Bias. The plug-in mixture entropy under-estimates h(T) by an amount that
decays like e^{O(d)} / sqrt(n) (PAPER.md section 2): estimates of wide layers
(d above ~10 for n ~ 1e5 samples) are biased low, whatever the Monte Carlo
error says. `infoflow` estimates the layers it is asked for; choosing layers
narrow enough is the caller's (the launcher's configs document theirs).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from infoflow.estimators import entropy
from infoflow import sampling
from infoflow.estimators import Estimate


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class LayerInformation:
  """Information estimates of one layer, in nats, with standard errors.

  Attributes:
    mi_input: I(X; T).
    entropy: h(T).
    conditional_entropy: (1/m) sum_x h(T | X = x).
    mi_label: I(T; Y), or None without labels.
    label_conditional_entropy: sum_y p(y) h(T | Y = y), or None.
    deterministic_given_x: whether the closed form was used for h(T | X).
  """

  mi_input: Estimate
  entropy: Estimate
  conditional_entropy: Estimate
  mi_label: Optional[Estimate] = None
  label_conditional_entropy: Optional[Estimate] = None
  deterministic_given_x: bool = dataclasses.field(
      default=False, metadata=dict(static=True))


def _replicas_identical(samples) -> bool:
  return bool(jnp.all(samples == samples[:, :1]))


def layer_information(key: jax.Array, samples, beta, *, labels=None,
                      num_classes: Optional[int] = None,
                      deterministic_given_x: Optional[bool] = None,
                      num_mc: int = entropy.DEFAULT_NUM_MC,
                      num_mc_conditional: int = 64
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
    num_mc: Monte Carlo draws for h(T) and each h(T | Y = y).
    num_mc_conditional: draws for each h(T | X = x) (m of them; their mean's
      standard error shrinks like 1/sqrt(m num_mc_conditional)).

  Returns:
    A `LayerInformation`.

  Raises:
    ValueError: on a wrong rank, non-finite samples, beta <= 0, labels of the
      wrong shape or out of range, or too few replicas to estimate h(T | X).
  """
  samples = jnp.asarray(samples)
  if samples.ndim != 3 or min(samples.shape) == 0:
    raise ValueError(f'samples must have shape (m, R, d) with m, R, d >= 1, '
                     f'got {samples.shape}.')
  m, replicas, dim = samples.shape
  entropy._check_beta(beta)  # pylint: disable=protected-access
  if deterministic_given_x is None:
    deterministic_given_x = _replicas_identical(samples)

  keys = jax.random.split(key, 3)
  # The replicas of each input are the groups of the pruned evaluation,
  # which `auto` uses for large, small-beta mixtures (SZT scale).
  h_t = entropy.pooled_mixture_entropy(keys[0], samples, beta, num_mc=num_mc)
  if deterministic_given_x:
    h_t_x = Estimate.exact(entropy.gaussian_entropy(dim, beta).astype(
        samples.dtype))
  else:
    if replicas < 2:
      raise ValueError('h(T | X) needs R >= 2 replicas when the layer is not '
                       'deterministic given X.')
    h_t_x = entropy.mixture_entropies(keys[1], samples, beta,
                                      num_mc=num_mc_conditional).mean()
  mi_input = h_t - h_t_x

  mi_label = h_t_y = None
  if labels is not None:
    labels = np.asarray(labels)
    if labels.shape != (m,):
      raise ValueError(f'labels must have shape ({m},), got {labels.shape}.')
    if not np.issubdtype(labels.dtype, np.integer):
      raise ValueError(f'labels must be integers, got {labels.dtype}.')
    if num_classes is None:
      num_classes = int(labels.max()) + 1
    if labels.min() < 0 or labels.max() >= num_classes:
      raise ValueError(f'labels must lie in [0, {num_classes}), got range '
                       f'[{labels.min()}, {labels.max()}].')
    class_keys = jax.random.split(keys[2], num_classes)
    parts = []
    for y in range(num_classes):
      members = np.flatnonzero(labels == y)
      if members.size == 0:
        continue
      h_y = entropy.pooled_mixture_entropy(class_keys[y], samples[members],
                                           beta, num_mc=num_mc)
      parts.append(h_y * (members.size / m))
    h_t_y = parts[0]
    for part in parts[1:]:
      h_t_y = h_t_y + part
    mi_label = h_t - h_t_y
  return LayerInformation(mi_input=mi_input, entropy=h_t,
                          conditional_entropy=h_t_x, mi_label=mi_label,
                          label_conditional_entropy=h_t_y,
                          deterministic_given_x=bool(deterministic_given_x))


def network_information(key: jax.Array, model: nn.Module, variables: Any,
                        inputs, beta, *, labels=None,
                        num_classes: Optional[int] = None,
                        num_replicas: int = 100,
                        layers: Optional[Sequence[str]] = None,
                        num_mc: int = entropy.DEFAULT_NUM_MC,
                        num_mc_conditional: int = 64,
                        input_chunk: int = 256
                        ) -> dict[str, LayerInformation]:
  """`layer_information` for every hidden layer of a noisy network.

  Args:
    key: PRNG key (noise for the samples and Monte Carlo draws).
    model: a Flax module whose hidden layers use `models.GaussianNoise` (with
      the same `beta` as passed here).
    variables: the model's variables, e.g. {'params': params}.
    inputs: (m, ...) inputs, taken as uniformly distributed.
    beta: the noise standard deviation of the network (> 0).
    labels, num_classes: optional labels (m,) for I(T; Y).
    num_replicas: R, noisy passes per input.
    layers: noise-layer names to analyse (default all).
    num_mc, num_mc_conditional: as in `layer_information`.
    input_chunk: inputs per forward pass when sampling.

  Returns:
    Ordered dict: layer name -> `LayerInformation`.
  """
  sample_key, mc_key = jax.random.split(key)
  samples = sampling.sample_layers(sample_key, model, variables, inputs,
                                   num_replicas, layers=layers,
                                   input_chunk=input_chunk)
  keys = jax.random.split(mc_key, len(samples))
  return {name: layer_information(k, s, beta, labels=labels,
                                  num_classes=num_classes, num_mc=num_mc,
                                  num_mc_conditional=num_mc_conditional)
          for k, (name, s) in zip(keys, samples.items())}
