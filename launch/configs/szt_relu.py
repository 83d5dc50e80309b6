"""SZT with ReLU hidden layers (otherwise as `szt`)."""

from launch.configs import szt


def get_config():
  c = szt.get_config()
  c.name = 'szt_relu'
  c.model.activation = 'relu'
  # ReLU layers are unbounded: bins of 2/30 over their range, as for tanh.
  return c
