"""`szt` on the authors' estimand: inputs drawn with replacement at every analysed epoch.

Reproduces how the authors' SZT code builds the inputs of its information
estimates: at each analysed epoch, 4096 row indices drawn uniformly WITH
replacement from the 4096 patterns, each drawn row (copies included) one
input of weight 1/4096 with its own replicas (`analysis.inputs =
'resample'`, docs/method.md). A layer that separates every pattern then
reads the entropy of the draw's multiplicities, about 7.744 nats, not
log 4096 = 8.318; each record stores that ceiling (`information_ceiling`).
The default `szt` keeps X uniform over the 4096 distinct patterns.

Where each setting comes from: everything as `szt` (see its docstring),
except the analysed inputs, from the authors' code: 4096 draws with
replacement (`analysis.num_eval_inputs = 0`: as many as there are
patterns), afresh per analysed epoch and seed. R = 100 replicas, as `szt`:
the authors' training-time dump used 100, their separate estimation jobs
1000.
"""

from infoflow.configs import base as common
from infoflow.configs import szt


def get_config():
  c = szt.get_config()
  c.name = 'szt_resample'
  c.analysis.inputs = common.RESAMPLE
  c.analysis.num_eval_inputs = 0
  return c
