"""infoflow: information flow in noisy deep networks (Goldfeld et al., 2019).

The pipeline, one package or module a stage: data (`data`) -> noisy model
(`models`) -> samples (`sampling`) -> estimators (`estimators`) ->
information (`information`) -> analysis with the clustering view (`analysis`,
`measures`) -> run record (`record`) -> figures (`plots`) -> the paper's
report (`paper`); `experiment` runs the loop of a config (`configs`). The
estimators and the per-layer information are importable from here
(`layer_information` is the posterior form, `difference_information` the
difference form); docs/method.md derives them, docs/api.md lists them.
"""

from infoflow import data
from infoflow import estimators
from infoflow import models
from infoflow import sampling
from infoflow.estimators import Estimate
from infoflow.estimators import LayerInformation
from infoflow.estimators import PosteriorReport
from infoflow.estimators import difference_information
from infoflow.estimators import gaussian_entropy
from infoflow.estimators import log_mixture_density
from infoflow.estimators import mixture_entropies
from infoflow.estimators import mixture_entropy
from infoflow.estimators import mixture_entropy_bounds
from infoflow.estimators import pooled_mixture_entropy
from infoflow.estimators import posterior_information
from infoflow.estimators import pruned_log_mixture_density
from infoflow.information import InformationSettings
from infoflow.information import layer_information
from infoflow.information import network_information

__version__ = '0.2.0'

__all__ = (
  'Estimate',
  'InformationSettings',
  'LayerInformation',
  'PosteriorReport',
  'data',
  'difference_information',
  'estimators',
  'gaussian_entropy',
  'layer_information',
  'log_mixture_density',
  'mixture_entropies',
  'mixture_entropy',
  'mixture_entropy_bounds',
  'models',
  'network_information',
  'pooled_mixture_entropy',
  'posterior_information',
  'pruned_log_mixture_density',
  'sampling',
)
