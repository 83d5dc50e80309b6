"""SZT tanh without noise (beta = 0): binning and clustering only.

I(X;T) of a deterministic net is vacuous (log 4096 for every injective layer),
so no information is estimated; binned entropies and clustering measures are.
Clusters are counted at the scale 0.005 of the noisy configs.
"""

from launch.configs import szt


def get_config():
  c = szt.get_config()
  c.name = 'szt_deterministic'
  c.model.beta = 0.0
  c.analysis.cluster_beta = 0.005
  return c
