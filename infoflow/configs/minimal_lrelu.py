"""Two noisy leaky-ReLU neurons (slope 0.1) on X in {1, ..., 8}.

X -> T1 = lrelu(w1 x + b1) + Z1 -> T2 = lrelu(w2 T1 + b2) + Z2 -> linear
output, trained by mean squared error to the targets {1..4} -> 0,
{5..8} -> 0.25 (docs/method.md, section 7): the representations of each group
cluster without any saturation.

Where each setting comes from: the inputs, targets, slope 0.1 and the two
neurons, the paper. Everything else is our choice (the paper gives no
settings): beta = 0.05, Adam 0.01, full batch, 3,000 epochs, 40 analysed
epochs, R = 200 replicas (T2 given X is not Gaussian, so its replicas
matter), bin sizes 0.05 and 0.2. Initialisation 'lecun_normal' (Flax's
default), our choice, for the reason given in `minimal_tanh`.
"""

from infoflow.configs import base as common


def get_config():
  c = common.base_config()
  c.name = 'minimal_lrelu'
  c.data.name = 'minimal_lrelu'
  c.model.widths = (1, 1)
  c.model.activation = 'leaky_relu'
  c.model.beta = 0.05
  c.model.init = 'lecun_normal'
  c.loss = 'mse'
  c.optimizer.learning_rate = 1e-2
  c.batch_size = 8
  c.num_epochs = 3000
  c.analysis.num_points = 40
  c.analysis.num_replicas = 200
  c.analysis.num_mc_conditional = 256
  c.analysis.bin_sizes = (0.05, 0.2)
  return c
