"""infoflow: information flow in noisy deep networks (Goldfeld et al., 2019).

The pipeline: data -> noisy model -> samples -> entropy -> MI -> metrics ->
figures. The estimators are importable from here.
"""

from infoflow.estimators import gaussian_entropy
from infoflow.estimators import log_mixture_density
from infoflow.estimators import mixture_entropies
from infoflow.estimators import mixture_entropy
from infoflow.estimators import mixture_entropy_bounds
from infoflow.estimators import pooled_mixture_entropy
from infoflow.estimators import pruned_log_mixture_density
from infoflow.estimators import Estimate
from infoflow.information import LayerInformation
from infoflow.information import layer_information
from infoflow.information import network_information
from infoflow import data
from infoflow import models
from infoflow import sampling

__version__ = '0.1.0'
