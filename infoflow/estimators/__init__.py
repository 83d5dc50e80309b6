"""The estimators: entropies and mutual information of Gaussian mixtures.

Everything infoflow estimates is a functional of an equal-weight isotropic
Gaussian mixture g = (1/n) sum_j N(c_j, beta^2 I) whose centres are samples of
a layer's pre-noise activations S. The public modules:

  posterior   `posterior_information`: one-pass I(X;T), I(T;Y) and h(T) from
              posterior entropies (the default form)
  difference  `difference_information`: I(X;T), I(T;Y) as differences of
              entropies (the baseline form, kept to compare)
  entropy     mixture entropies (`mixture_entropy`, `pooled_mixture_entropy`,
              `mixture_entropies`, `gaussian_entropy`), the Kolchinsky-Tracey
              bounds and mixture log-densities (exact and pruned)
  results     `Estimate` (nats with a standard error), `LayerInformation`,
              and the reports (`PosteriorReport`, `EntropyReport`, `PruneInfo`)

The internals, in `infoflow.estimators._src`, from the bottom up:

  sharding       splitting draws or mixtures over the devices of a Mesh
  dense          dense kernel sums: log-mean-kernels (chunked, exact for tiny
                 beta), the posterior sums with far chunks skipped, and the
                 certificates of a bounded remainder
  groups         centres in groups: centroids, radii, neighbour lists; the
                 dense-or-pruned rule
  pruned         pruned kernels (top-K candidates, the rest bounded) and
                 their host drivers, for log-densities and posterior sums
  draws          Monte Carlo draws (i.i.d. and stratified) and the per-draw
                 entropy integrand
  montecarlo     the one Monte Carlo loop: blocks, moments, stopping rule, cap
  posterior_pass the posterior pass over a block of draws (posterior form and
                 pooled entropy)

The derivations are in docs/method.md. This front door lists the public
names, with the defaults other settings refer to: DEFAULT_MAX_MC (the cap on
an adaptive run's draws), DEFAULT_NUM_MC_CONDITIONAL (the difference form's
draws per h(T | X = x)) and MAX_DRAWS (2^30, the most draws any num_mc or
max_mc may ask for).
"""

from infoflow.estimators._src.montecarlo import DEFAULT_MAX_MC
from infoflow.estimators._src.montecarlo import MAX_DRAWS
from infoflow.estimators.difference import DEFAULT_NUM_MC_CONDITIONAL
from infoflow.estimators.difference import difference_information
from infoflow.estimators.entropy import gaussian_entropy
from infoflow.estimators.entropy import log_mixture_density
from infoflow.estimators.entropy import mixture_entropies
from infoflow.estimators.entropy import mixture_entropy
from infoflow.estimators.entropy import mixture_entropy_bounds
from infoflow.estimators.entropy import pooled_mixture_entropy
from infoflow.estimators.entropy import pruned_log_mixture_density
from infoflow.estimators.posterior import posterior_information
from infoflow.estimators.results import EntropyReport
from infoflow.estimators.results import Estimate
from infoflow.estimators.results import LayerInformation
from infoflow.estimators.results import PosteriorReport
from infoflow.estimators.results import PruneInfo

__all__ = (
  'DEFAULT_MAX_MC',
  'DEFAULT_NUM_MC_CONDITIONAL',
  'EntropyReport',
  'Estimate',
  'LayerInformation',
  'MAX_DRAWS',
  'PosteriorReport',
  'PruneInfo',
  'difference_information',
  'gaussian_entropy',
  'log_mixture_density',
  'mixture_entropies',
  'mixture_entropy',
  'mixture_entropy_bounds',
  'pooled_mixture_entropy',
  'posterior_information',
  'pruned_log_mixture_density',
)
