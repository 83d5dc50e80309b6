"""The estimators: entropies and mutual information of Gaussian mixtures.

Everything infoflow estimates is a functional of an equal-weight isotropic
Gaussian mixture g = (1/n) sum_j N(c_j, beta^2 I) whose centres are samples of
a layer's pre-noise activations S. The modules, from the bottom up:

  estimate   `Estimate`: a value in nats with its Monte Carlo standard error
  dense      log-mean-kernel sums over every centre (chunked, exact for tiny beta)
  groups     centres in groups: centroids, radii, neighbour lists
  pruned_kernels  jitted kernels of the pruned evaluation (candidates, certificates)
  pruned     certified pruned log-densities (top-K groups, the rest bounded)
  sharding   splitting draws or mixtures over the devices of a Mesh
  draws      Monte Carlo draws and the per-draw entropy integrand
  adaptive   drawing until a target standard error is reached
  density    Kolchinsky-Tracey entropy bounds and exact mixture log-densities
  entropy    mixture entropies: pooled, grouped and batched forms
  layer      `LayerInformation`: the estimates of one layer
  posterior_sums    per-draw posterior entropies from per-input kernel sums
  posterior_passes  those sums over all draws, dense or pruned, on a mesh
  posterior_setup   argument checks and sample layout of the posterior form
  posterior  one-pass I(X;T), I(T;Y) and h(T) (the default form)
  difference I(X;T), I(T;Y) as differences of entropies (kept to compare)

The derivations are in docs/method.md.

This front door lists the public names; the modules are importable for their
lower-level pieces (e.g. `infoflow.estimators.pruned.log_mean_kernel_pruned`).
"""

from infoflow.estimators.density import log_mixture_density
from infoflow.estimators.density import mixture_entropy_bounds
from infoflow.estimators.difference import difference_information
from infoflow.estimators.entropy import gaussian_entropy
from infoflow.estimators.entropy import mixture_entropies
from infoflow.estimators.entropy import mixture_entropy
from infoflow.estimators.entropy import pooled_mixture_entropy
from infoflow.estimators.estimate import Estimate
from infoflow.estimators.layer import LayerInformation
from infoflow.estimators.posterior import PosteriorReport
from infoflow.estimators.posterior import posterior_information
from infoflow.estimators.pruned import pruned_log_mixture_density

__all__ = (
  'Estimate',
  'LayerInformation',
  'PosteriorReport',
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
