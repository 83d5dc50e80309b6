"""MNIST CNN of `mnist` without noise (beta = 0): clustering and binning.

Where each setting comes from: beta = 0, the paper's deterministic MNIST
comparison (within-class blocks form with and without noise); clusters
counted at the scale 0.05 of `mnist`, our choice (the same resolution).
Everything else as `mnist` (see its docstring).
"""

from infoflow.configs import mnist


def get_config():
  c = mnist.get_config()
  c.name = 'mnist_deterministic'
  c.model.beta = 0.0
  c.analysis.cluster_beta = 0.05
  return c
