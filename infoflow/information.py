"""Per-layer mutual information by sample propagation (Goldfeld et al. 2019).

For a hidden layer T = S + Z, Z ~ N(0, beta^2 I), with X uniform over the m
inputs and R samples of S given each input (`infoflow.sampling`), the layer's
law is a Gaussian mixture and

    I(X;T) = log m - E_{t~g} H(X | T=t),   I(T;Y) = H(Y) - E_{t~g} H(Y | T=t)

(the posterior form, `infoflow.estimators.posterior`, the default: one pass
of Monte Carlo draws, every estimate within the hard bounds, adaptive
to standard errors of 0.02 nats on I(X;T) and 0.005 nats on I(T;Y)). The
difference form h(T) - (1/m) sum_x h(T|X=x) (`infoflow.estimators.
difference`) estimates the same quantity with larger Monte Carlo error; pass
form='difference' to compare. docs/method.md derives both.

All values in nats with Monte Carlo standard errors (`Estimate`).

Bias. Like every plug-in estimate of a mixture from n samples, these are
biased for wide layers: the gap decays like e^{O(d)} / sqrt(n), so estimates of
layers wider than ~10 units at n ~ 1e5 samples are biased whatever the Monte
Carlo error says. `infoflow` estimates the layers it is asked for; choosing
layers narrow enough is the caller's (the launcher's configs document theirs).
"""

from __future__ import annotations

import dataclasses
from typing import Any
from typing import Optional
from typing import Sequence

import flax.linen as nn
import jax

from infoflow import sampling
from infoflow.estimators import difference
from infoflow.estimators import posterior
from infoflow.estimators.layer import LayerInformation

FORMS = ('posterior', 'difference')
DEFAULT_TARGET_MI_INPUT = posterior.DEFAULT_TARGET_MI_INPUT
DEFAULT_TARGET_MI_LABEL = posterior.DEFAULT_TARGET_MI_LABEL

__all__ = (
  'FORMS',
  'InformationSettings',
  'LayerInformation',
  'layer_information',
  'network_information',
)


@dataclasses.dataclass(frozen=True)
class InformationSettings:
  """How the information of a network's layers is estimated.

  One object instead of a keyword per setting, filled from a run's config
  (`infoflow.configs.information_settings`) or built directly.

  Attributes:
    num_replicas: R, noisy passes per input (sample propagation).
    input_chunk: inputs per forward pass when sampling.
    form: 'posterior' (default) or 'difference' (module docstring).
    num_mc: posterior form: a fixed number of draws instead of the adaptive
      run (None: adaptive); difference form: draws for h(T) and each
      h(T | Y = y) (None: 8192).
    num_mc_conditional: difference form only: draws per h(T | X = x).
    target_stderr_mi_input, target_stderr_mi_label: posterior form, adaptive
      runs: the standard errors to reach, nats.
    max_mc: posterior form, adaptive runs: the most draws per layer.
  """

  num_replicas: int = 100
  input_chunk: int = 256
  form: str = 'posterior'
  num_mc: Optional[int] = None
  num_mc_conditional: int = 64
  target_stderr_mi_input: float = DEFAULT_TARGET_MI_INPUT
  target_stderr_mi_label: float = DEFAULT_TARGET_MI_LABEL
  max_mc: int = posterior.DEFAULT_MAX_MC

  def estimator_kwargs(self) -> dict:
    """The keyword arguments of `layer_information` these settings fix."""
    return dict(
      form=self.form,
      num_mc=self.num_mc,
      num_mc_conditional=self.num_mc_conditional,
      target_stderr_mi_input=self.target_stderr_mi_input,
      target_stderr_mi_label=self.target_stderr_mi_label,
      max_mc=self.max_mc,
    )


def layer_information(
  key: jax.Array,
  samples,
  beta,
  *,
  labels=None,
  num_classes: Optional[int] = None,
  deterministic_given_x: Optional[bool] = None,
  form: str = 'posterior',
  num_mc: Optional[int] = None,
  num_mc_conditional: int = 64,
  target_stderr_mi_input: float = DEFAULT_TARGET_MI_INPUT,
  target_stderr_mi_label: float = DEFAULT_TARGET_MI_LABEL,
  max_mc: int = posterior.DEFAULT_MAX_MC,
) -> LayerInformation:
  """I(X; T), and I(T; Y) when labels are given, from one layer's samples.

  Args:
    key: PRNG key for the Monte Carlo draws.
    samples: (m, R, d) draws of S given each of m inputs (R replicas each).
    beta: noise standard deviation (> 0).
    labels: optional (m,) integer labels in [0, num_classes).
    num_classes: number of classes (default: max label + 1).
    deterministic_given_x: use the closed form (d/2) log(2 pi e beta^2) for
      h(T | X). Default: detected, True exactly when every input's replicas
      are identical (always for R = 1).
    form: 'posterior' (default) or 'difference' (module docstring).
    num_mc: posterior form: a fixed number of draws instead of the adaptive
      run; difference form: draws for h(T) and each h(T | Y = y) (default
      8192).
    num_mc_conditional: difference form only: draws for each h(T | X = x).
    target_stderr_mi_input, target_stderr_mi_label, max_mc: posterior form
      only: the adaptive run's targets (nats) and cap on draws.

  Returns:
    A `LayerInformation` (h(T) = I(X;T) + h(T|X) = I(T;Y) + h(T|Y)).

  Raises:
    ValueError: on a wrong rank, non-finite samples, beta <= 0, labels of the
      wrong shape or out of range, an unknown form, or (difference form) too
      few replicas to estimate h(T | X).
  """
  common = dict(labels=labels, num_classes=num_classes, deterministic_given_x=deterministic_given_x)
  if form == 'posterior':
    targets = dict(
      target_stderr_mi_input=target_stderr_mi_input, target_stderr_mi_label=target_stderr_mi_label
    )
    return posterior.posterior_information(
      key, samples, beta, num_mc=num_mc, max_mc=max_mc, **common, **targets
    )
  if form == 'difference':
    kwargs = {} if num_mc is None else {'num_mc': num_mc}
    return difference.difference_information(
      key, samples, beta, num_mc_conditional=num_mc_conditional, **common, **kwargs
    )
  raise ValueError(f'form must be one of {FORMS}, got {form!r}.')


def network_information(
  key: jax.Array,
  model: nn.Module,
  variables: Any,
  inputs,
  beta,
  *,
  labels=None,
  num_classes: Optional[int] = None,
  layers: Optional[Sequence[str]] = None,
  settings: InformationSettings = InformationSettings(),
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
    layers: layer names to analyse, e.g. ['T5'] (default all; see
      `infoflow.models` for the naming).
    settings: replicas, sampling chunk and Monte Carlo settings
      (`InformationSettings`).

  Returns:
    Ordered dict: layer name -> `LayerInformation`.
  """
  sample_key, mc_key = jax.random.split(key)
  samples = sampling.sample_layers(
    sample_key,
    model,
    variables,
    inputs,
    settings.num_replicas,
    layers=layers,
    input_chunk=settings.input_chunk,
  )
  keys = jax.random.split(mc_key, len(samples))
  kwargs = settings.estimator_kwargs()
  return {
    name: layer_information(k, s, beta, labels=labels, num_classes=num_classes, **kwargs)
    for k, (name, s) in zip(keys, samples.items())
  }
