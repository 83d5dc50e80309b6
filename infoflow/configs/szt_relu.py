"""SZT with ReLU hidden layers (otherwise as `szt`).

Where each setting comes from: ReLU hidden layers, the paper (its SZT network
is run with tanh or ReLU; docs/method.md, section 7). Everything else,
including the 'uniform_fan_in' initialisation (the authors' code), as `szt`
(see its docstring). The bin sizes stay those of `szt` (our choice: ReLU
layers are unbounded, so no bin count on [-1, 1] applies; 2/30 keeps the
tanh bin width for comparison).
"""

from infoflow.configs import szt


def get_config():
  c = szt.get_config()
  c.name = 'szt_relu'
  c.model.activation = 'relu'
  return c
