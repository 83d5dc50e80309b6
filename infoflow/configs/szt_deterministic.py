"""SZT tanh without noise (beta = 0): binning and clustering only.

I(X;T) of a deterministic net is vacuous (log 4096 for every injective layer),
so no information is estimated; binned entropies and clustering measures are.

Where each setting comes from: beta = 0, the paper's deterministic
comparison (the binning estimator of past work needs a deterministic net);
clusters counted at the scale 0.005 of the noisy configs, our choice (the
same resolution as `szt`). Everything else, including the 'uniform_fan_in'
initialisation (the authors' code) and the bin sizes (2/30: Shwartz-Ziv &
Tishby's 30 bins on [-1, 1]), as `szt` (see its docstring).
"""

from infoflow.configs import szt


def get_config():
  c = szt.get_config()
  c.name = 'szt_deterministic'
  c.model.beta = 0.0
  c.analysis.cluster_beta = 0.005
  return c
