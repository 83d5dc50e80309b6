"""Per-layer mutual information by sample propagation (Goldfeld et al. 2019).

For a hidden layer T = S + Z, Z ~ N(0, beta^2 I), with X uniform over the m
inputs and R samples of S given each input (`infoflow.sampling`), the layer's
law is a Gaussian mixture and

    I(X;T) = log m - E_{t~g} H(X | T=t),   I(T;Y) = H(Y) - E_{t~g} H(Y | T=t)

(the posterior form, `infoflow.estimators.posterior`, the default: one pass
of Monte Carlo draws, every estimate within the hard bounds, adaptive
to standard errors of 0.02 nats on I(X;T) and 0.005 nats on I(T;Y)). The
difference form h(T) - (1/m) sum_x h(T|X=x) (`difference_information`,
`infoflow.estimators.difference`) estimates the same quantity with larger
Monte Carlo error; it is kept to compare (`InformationSettings.form`
chooses for `network_information`). docs/method.md derives both.

All values in nats with Monte Carlo standard errors (`Estimate`).

Finite replicas. Each input's law given x is represented by R replicas, so
the estimand itself depends on R: where an input's replica cloud is wide
relative to beta, the R bumps make g_x spikier than the law they stand for
and inputs look more distinguishable. `network_information` therefore also
estimates I(X;T) from the first R // 2 replicas of every input
(`LayerInformation.mi_input_half_replicas`, `InformationSettings.replica_diagnostic`);
a difference beyond 3 combined standard errors flags an R too small
(`infoflow.record.replica_gap_flagged`). It does not bound the bias left at
R (docs/method.md, "Finite replicas: the R/2 diagnostic").

Bias. Like every plug-in estimate of a mixture from n samples, these are
biased for wide layers: the gap decays like e^{O(d)} / sqrt(n), so estimates of
layers wider than ~10 units at n ~ 1e5 samples are biased whatever the Monte
Carlo error says. `infoflow` estimates the layers it is asked for; choosing
layers narrow enough is the caller's (the launcher's configs document theirs).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from typing import Any
from typing import Optional
from typing import Sequence

import flax.linen as nn
import jax

from infoflow import checks
from infoflow import estimators
from infoflow import sampling
from infoflow.estimators import difference
from infoflow.estimators import posterior
from infoflow.estimators.results import LayerInformation

# The estimators of a layer's information, by `InformationSettings.form`.
ESTIMATORS = {
  'posterior': posterior.posterior_information,
  'difference': difference.difference_information,
}
FORMS = tuple(ESTIMATORS)
# One layer's information: the posterior form (`posterior_information`,
# same arguments), and the difference form to compare.
layer_information = posterior.posterior_information
difference_information = difference.difference_information

__all__ = (
  'FORMS',
  'InformationSettings',
  'LayerInformation',
  'difference_information',
  'information_ceiling',
  'layer_information',
  'mi_input_half_replicas',
  'network_information',
)


def information_ceiling(counts: Sequence[int]) -> float:
  """The largest I(X;T) a set of analysed inputs allows, in nats: the
  entropy of the multiplicities of its distinct rows.

  X is uniform over the m analysed inputs (positions i = 1..m, weight 1/m
  each, as every estimate here takes them), and the distinct row v appears
  c_v times among them (sum_v c_v = m). A layer's law given X = i depends on
  the row v(i) alone (the network and its noise do not know which copy they
  are fed), so X -> v(X) -> T is a Markov chain and

      I(X;T) <= I(X; v(X)) = H(v(X)) = -sum_v (c_v/m) log(c_v/m)
                                     = log m - (1/m) sum_v c_v log c_v.

  A layer that separates every distinct row (their laws of T far apart)
  attains it: T tells v(X), and given v(X) = v, X is uniform over the c_v
  copies whatever T is, so H(X|T) = (1/m) sum_v c_v log c_v. For m distinct
  inputs (every c_v = 1) the ceiling is log m; for m rows drawn with
  replacement from m (`analysis.inputs = 'resample'`, docs/method.md) it is
  about log m - E[K log K] with K ~ Poisson(1): 7.744 nats for m = 4096.

  The plug-in estimates can pass it in noisy layers after the first: the
  copies of a row get replica sets of their own, and with finite R they
  look distinguishable (the R/2 diagnostic, docs/method.md).

  Args:
    counts: the multiplicity c_v >= 1 of each distinct row (integers).

  Raises:
    ValueError: no counts, or a count that is not an integer >= 1.
  """
  counts = list(counts)
  if not counts or not all(
    isinstance(c, numbers.Integral) and not isinstance(c, bool) and c >= 1 for c in counts
  ):
    raise ValueError(
      f'counts must be the multiplicities (integers >= 1) of the distinct inputs; got {counts[:8]}.'
    )
  counts = [int(c) for c in counts]
  m = sum(counts)
  return math.log(m) - math.fsum(c * math.log(c) for c in counts) / m


@dataclasses.dataclass(frozen=True)
class InformationSettings:
  """How the information of a network's layers is estimated.

  One object instead of a keyword per setting, filled from a run's config
  (`infoflow.configs.information_settings`) or built directly.

  Attributes:
    num_replicas: R, noisy passes per input (sample propagation).
    input_chunk: inputs per forward pass when sampling.
    form: 'posterior' (default: `layer_information`) or 'difference'
      (`difference_information`); module docstring.
    num_mc: posterior form: a fixed number of draws instead of the adaptive
      run (None: adaptive); difference form: draws for h(T) and each
      h(T | Y = y) (None: its default, 8192).
    num_mc_conditional: difference form only: draws per h(T | X = x).
    target_stderr_mi_input, target_stderr_mi_label: posterior form, adaptive
      runs: the standard errors to reach, nats.
    max_mc: posterior form, adaptive runs: the most draws per layer.
    replica_diagnostic: also estimate each layer's I(X;T) from the first
      num_replicas // 2 replicas of every input (same form, draw settings
      and I(X;T) target; no labels), returned as
      `LayerInformation.mi_input_half_replicas`. Needs num_replicas >= 2.

  Settings of the other form keep their defaults or are ignored (a config
  may preset num_mc_conditional for switching forms), except the targets:
  a target other than its default that no estimate would use (with num_mc
  set, or with the difference form) raises, as the estimators do for
  num_mc together with a target.

  Raises:
    ValueError: a form not in FORMS; a target other than its default with
      num_mc set or with the difference form; num_replicas < 2 with
      replica_diagnostic.
  """

  num_replicas: int = 100
  input_chunk: int = 256
  form: str = 'posterior'
  num_mc: Optional[int] = None
  num_mc_conditional: int = estimators.DEFAULT_NUM_MC_CONDITIONAL
  target_stderr_mi_input: float = posterior.DEFAULT_TARGET_MI_INPUT
  target_stderr_mi_label: float = posterior.DEFAULT_TARGET_MI_LABEL
  max_mc: int = estimators.DEFAULT_MAX_MC
  replica_diagnostic: bool = True

  def __post_init__(self):
    if self.form not in ESTIMATORS:
      raise ValueError(f'form must be one of {FORMS}, got {self.form!r}.')
    if self.replica_diagnostic and self.num_replicas < 2:
      raise ValueError(
        f'num_replicas = {self.num_replicas}: the finite-R diagnostic mi_input_half_replicas '
        'estimates I(X;T) from the first num_replicas // 2 replicas, so it needs '
        'num_replicas >= 2; raise num_replicas (or set replica_diagnostic=False).'
      )
    targets = dict(
      target_stderr_mi_input=(self.target_stderr_mi_input, posterior.DEFAULT_TARGET_MI_INPUT),
      target_stderr_mi_label=(self.target_stderr_mi_label, posterior.DEFAULT_TARGET_MI_LABEL),
    )
    unused = [f'{name} = {value}' for name, (value, default) in targets.items() if value != default]
    if unused and self.form == 'difference':
      raise ValueError(
        f'{" and ".join(unused)}: only the posterior form draws to a target; the difference '
        'form draws num_mc and num_mc_conditional (fixed counts).'
      )
    if unused and self.num_mc is not None:
      raise ValueError(
        f'pass num_mc (a fixed number of draws, {self.num_mc}) or {" and ".join(unused)} '
        '(adaptive), not both.'
      )

  def estimator(self):
    """The estimator of one layer this form uses (`layer_information` or
    `difference_information`)."""
    return ESTIMATORS[self.form]

  def estimator_kwargs(self) -> dict:
    """The keyword arguments of `estimator()` these settings fix (only those
    that form takes)."""
    if self.form == 'difference':
      kwargs = dict(num_mc_conditional=self.num_mc_conditional)
      return kwargs if self.num_mc is None else dict(kwargs, num_mc=self.num_mc)
    if self.num_mc is not None:
      return dict(num_mc=self.num_mc)
    return dict(
      target_stderr_mi_input=self.target_stderr_mi_input,
      target_stderr_mi_label=self.target_stderr_mi_label,
      max_mc=self.max_mc,
    )


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
  """The information of every hidden layer of a noisy network.

  Each layer is estimated by the form `settings.form` chooses:
  `layer_information` (posterior) or `difference_information`.

  Args:
    key: PRNG key (noise for the samples and Monte Carlo draws).
    model: a Flax module whose hidden layers use `models.GaussianNoise`.
    variables: the model's variables, e.g. {'params': params}.
    inputs: (m, ...) inputs, taken as uniformly distributed.
    beta: the noise standard deviation of the network (> 0). A model with
      a `beta` field (`models.MLP`, `models.CNN`) must have this beta, or
      beta 0: a deterministic network, each analysed layer then taken with
      noise beta (`_check_model_beta`).
    labels, num_classes: optional labels (m,) for I(T; Y).
    layers: layer names to analyse, e.g. ['T5'] (default all; see
      `infoflow.models` for the naming).
    settings: replicas, sampling chunk and Monte Carlo settings
      (`InformationSettings`).

  Returns:
    Ordered dict: layer name -> `LayerInformation`, with
    `mi_input_half_replicas` when `settings.replica_diagnostic`
    (`mi_input_half_replicas`).

  Raises:
    ValueError: beta other than the model's noise std (`_check_model_beta`),
      and the errors of `sampling.sample_layers` and of the estimator.
  """
  _check_model_beta(model, beta)
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
  estimator, kwargs = settings.estimator(), settings.estimator_kwargs()
  infos = {
    name: estimator(k, s, beta, labels=labels, num_classes=num_classes, **kwargs)
    for k, (name, s) in zip(keys, samples.items())
  }
  if not settings.replica_diagnostic:
    return infos
  # After every full estimate, each with its own key folded from the layer's
  # (the full estimates' draws stay those of a run without the diagnostic).
  return {
    name: dataclasses.replace(
      info,
      mi_input_half_replicas=mi_input_half_replicas(
        jax.random.fold_in(k, 1), samples[name], beta, settings=settings, full=info
      ),
    )
    for k, (name, info) in zip(keys, infos.items())
  }


def mi_input_half_replicas(
  key: jax.Array,
  samples,
  beta,
  *,
  settings: InformationSettings = InformationSettings(),
  full: Optional[LayerInformation] = None,
) -> estimators.Estimate:
  """I(X;T) of one layer from the first R // 2 replicas of every input.

  The finite-R diagnostic (docs/method.md, "Finite replicas: the R/2
  diagnostic"): the plug-in estimand with g_x = (2/R) sum_{r < R/2}
  N(s_{x,r}, beta^2 I), estimated by the form and draw settings of
  `settings` (its num_replicas is not used: the samples give R) on
  samples[:, :R // 2], without labels (only I(X;T) is compared, so an
  adaptive run draws to the I(X;T) target alone). Compare with the full-R
  estimate by `infoflow.record.replica_gap_flagged`.

  Args:
    key: PRNG key for the Monte Carlo draws (use one independent of the
      full estimate's: the comparison assumes independent errors).
    samples: (m, R, d) samples of the layer's S given each input, R >= 2.
    beta: the noise standard deviation (> 0).
    settings: the form and draw settings (`InformationSettings`).
    full: the full-R `LayerInformation` of the same samples, if made with
      deterministic_given_x detected (as `network_information` does): when
      every input's replicas coincide the R/2 mixture is the R one, and its
      mi_input is returned at no cost.

  Returns:
    An `Estimate` of I(X;T), nats.

  Raises:
    ValueError: samples not of rank 3 or with R < 2, and the estimator's errors.
  """
  if full is not None and full.deterministic_given_x:
    return full.mi_input
  shape = getattr(samples, 'shape', ())
  if len(shape) != 3 or shape[1] < 2:
    raise ValueError(
      f'samples of shape {tuple(shape)}: the R/2 estimate needs (m, R, d) samples with R >= 2 '
      'replicas per input.'
    )
  half = samples[:, : shape[1] // 2]
  return settings.estimator()(key, half, beta, **settings.estimator_kwargs()).mi_input


def _check_model_beta(model, beta) -> None:
  """beta is the noise std the model samples with, when it has one.

  Samples of layer l carry the noise of layers 1..l-1 at the model's
  `beta`; the estimate adds noise beta to layer l. Two different values
  would estimate a network that does not exist, so they must agree (to
  float32 rounding). A model without a `beta` field, or with beta 0 (a
  deterministic network: every earlier layer is noise-free, and
  I(X; S_l + Z) at the given beta is well defined), is accepted.

  Raises:
    ValueError: naming both values.
  """
  beta = checks.check_positive_scalar(beta, 'beta')
  model_beta = getattr(model, 'beta', None)
  if model_beta is None or not checks.is_concrete(model_beta, beta):
    return
  model_beta = float(model_beta)
  if model_beta != 0 and not math.isclose(beta, model_beta, rel_tol=1e-6):
    raise ValueError(
      f"beta = {beta!r} differs from the model's noise std beta = {model_beta!r}: the samples "
      "carry the model's noise, so the estimate would mix two networks. Pass the model's "
      'beta (or a model with that beta).'
    )
