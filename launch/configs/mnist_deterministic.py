"""MNIST CNN of `mnist` without noise (beta = 0): clustering and binning."""

from launch.configs import mnist


def get_config():
  c = mnist.get_config()
  c.name = 'mnist_deterministic'
  c.model.beta = 0.0
  c.analysis.cluster_beta = 0.05
  return c
