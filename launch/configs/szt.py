"""SZT 12-bit task, tanh 12-10-7-5-4-3-2, beta = 0.005 (docs/method.md, section 7).

Adam 4e-4, batch 256, 10,000 epochs, 80/20 split; information of all five
hidden layers on all 4096 inputs at 90 log-spaced epochs, R = 100. Every
layer is narrow (d <= 10), so every layer is estimated.
"""

from launch.configs import common


def get_config():
  c = common.base_config()
  c.name = 'szt'
  return c
