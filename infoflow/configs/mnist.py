"""MNIST, a four-layer noisy CNN (docs/method.md, section 7; architecture unknown).

conv 8 (5x5, ReLU, noise, 2x2 max-pool) - conv 16 (same) - dense 10 (ReLU,
noise) - 10 logits; beta = 0.05 on [0, 1] pixels. Adam 1e-3, batch 128,
10 epochs, 5,000 training images held out for validation.

Where each setting comes from: MNIST, a small noisy CNN, and the
class-sorted cosine similarity of a hidden layer, the paper. Everything else
is our choice (the paper gives neither architecture nor training settings):
the layer sizes above (small enough to train in minutes on a CPU), beta =
0.05, Adam 1e-3, batch 128, 10 epochs, the 5,000 validation images, 8
analysed epochs, R = 20 replicas, 4096 fixed draws, bin sizes 0.1 and 0.5.
Initialisation 'lecun_normal' (Flax's default), our choice: the authors'
'uniform_fan_in' comes from their SZT code, and for ReLU convolutions it
draws weights with a third of the variance He initialisation would, which
slows a 10-epoch fit.

Information is estimated only on the 10-unit dense layer `dense3`: the
plug-in needs ~2^d samples for a small bias (docs/method.md, section 2), which rules
out the conv maps `conv1` and `conv2` (6272 and 3136 units). The evaluation
inputs are a fixed subset: the first 1,000 test images (recorded in
run.json; `analysis.inputs = 'test'`), R = 20 replicas.
"""

from infoflow.configs import base as common


def get_config():
  c = common.base_config()
  c.name = 'mnist'
  c.data.name = 'mnist'
  c.data.validation_size = 5000
  c.model.kind = 'cnn'
  c.model.activation = 'relu'
  c.model.conv_features = (8, 16)
  c.model.dense_widths = (10,)
  c.model.beta = 0.05
  c.model.init = 'lecun_normal'
  c.optimizer.learning_rate = 1e-3
  c.batch_size = 128
  c.num_epochs = 10
  c.analysis.num_points = 8
  c.analysis.num_replicas = 20
  c.analysis.estimated_layers = ('dense3',)
  c.analysis.inputs = 'test'
  c.analysis.num_eval_inputs = 1000
  c.analysis.num_mc = 4096
  c.analysis.num_mc_conditional = 32
  c.analysis.bin_sizes = (0.1, 0.5)
  c.analysis.representation_max_width = 16
  return c
