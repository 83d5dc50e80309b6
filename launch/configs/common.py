"""Defaults shared by the named configs (one file per experiment, as Python).

Every field is documented here; the experiment files change only what differs.
"""

import ml_collections


def base_config() -> ml_collections.ConfigDict:
  """The fields every run has, with defaults."""
  c = ml_collections.ConfigDict()
  c.name = ''
  c.seed = 0                 # root seed: parameters, data order, noise, analysis
  c.num_seeds = 1            # independent runs trained together with vmap

  c.data = ml_collections.ConfigDict()
  c.data.name = 'szt'        # szt | minimal_tanh | minimal_lrelu | mnist
  c.data.data_dir = ''       # '' = $INFOFLOW_DATA_DIR, else ~/.cache/infoflow
  c.data.split_seed = 0      # SZT train/test split seed
  c.data.test_fraction = 0.2
  c.data.validation_size = 0   # MNIST: examples held out of training

  c.model = ml_collections.ConfigDict()
  c.model.kind = 'mlp'       # mlp | cnn
  c.model.widths = (10, 7, 5, 4, 3)
  c.model.activation = 'tanh'
  c.model.beta = 0.005       # noise std after every hidden activation
  c.model.conv_features = (8, 16)   # cnn only
  c.model.dense_widths = (10,)      # cnn only

  c.loss = 'cross_entropy'   # cross_entropy | mse (regression targets)
  c.optimizer = ml_collections.ConfigDict()
  c.optimizer.name = 'adam'
  c.optimizer.learning_rate = 4e-4
  c.batch_size = 256
  c.num_epochs = 10_000
  c.orthonormal_alpha = 0.0  # > 0: K <- K - alpha (K K^T K - K) after updates

  c.analysis = ml_collections.ConfigDict()
  c.analysis.num_points = 90         # ~log-spaced analysed epochs, 0 and last
  c.analysis.num_replicas = 100      # R noisy passes per input
  c.analysis.estimated_layers = ()   # () = every hidden layer
  c.analysis.num_mc = 8192           # MC draws for h(T), h(T|Y=y)
  c.analysis.num_mc_conditional = 64   # MC draws per h(T|X=x)
  c.analysis.num_eval_inputs = 0     # 0 = all evaluation inputs
  c.analysis.input_chunk = 256
  c.analysis.bin_sizes = (0.01, 2 / 30, 0.2)  # 2/30: SZT's 30 bins on [-1, 1]
  c.analysis.cluster_beta = 0.0      # 0 = the model's beta (or 0.005 if none)
  c.analysis.representation_max_width = 64   # save S_l(x) of layers this narrow
  c.analysis.clustering = True
  c.analysis.binning = True

  c.checkpoint = ml_collections.ConfigDict()
  c.checkpoint.keep = 3
  c.log_every_epochs = 0     # progress line period; 0 = about 100 lines a run
  return c
