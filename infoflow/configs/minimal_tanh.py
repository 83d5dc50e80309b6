"""One noisy tanh neuron on X in {-3, -1, 1, 3} (docs/method.md, section 7).

T = tanh(w x + b) + Z, labels {-3, -1, 1} -> 0, {3} -> 1, read out by a linear
2-logit layer trained with cross-entropy.

Where each setting comes from: the inputs, labels and the single tanh neuron,
the paper. Everything else is our choice (the paper gives no settings):
beta = 0.05 (clusters closer than ~4 beta = 0.2 merge), Adam 0.01, full batch,
3,000 epochs, which is long enough for w to grow and the outputs to saturate,
so that I(X;T) falls from 2 bits towards 1.5 and 0.81 bits; 40 analysed
epochs; R = 2 (the layer is deterministic given x, so h(T|X) is exact).
Initialisation 'lecun_normal' (Flax's default), our choice: the authors' code
for this example is not the SZT code the 'uniform_fan_in' default comes
from, and with one input both schemes give w of the same order, so the steps
the example shows do not depend on it.
"""

from infoflow.configs import base as common


def get_config():
  c = common.base_config()
  c.name = 'minimal_tanh'
  c.data.name = 'minimal_tanh'
  c.model.widths = (1,)
  c.model.activation = 'tanh'
  c.model.beta = 0.05
  c.model.init = 'lecun_normal'
  c.optimizer.learning_rate = 1e-2
  c.batch_size = 4
  c.num_epochs = 3000
  c.analysis.num_points = 40
  c.analysis.num_replicas = 2  # layer 1 is deterministic given x
  c.analysis.bin_sizes = (0.05, 0.2)
  return c
