"""A few-minute SZT run on 2 CPU cores: the README's main job.

Where each setting comes from: as `szt` (network, beta, 'uniform_fan_in'
initialisation and batch from the authors' code; see its docstring),
shortened, all by our choice so that it runs in minutes: 1,000 epochs at a
10x learning rate (Adam 4e-3), 16 analysed epochs, R = 20 replicas
(information at the default precision of the posterior form). Uses the
original SZT file when the data directory has it, else the built-in
generator.
"""

from infoflow.configs import szt


def get_config():
  c = szt.get_config()
  c.name = 'szt_quick'
  c.num_epochs = 1000
  c.optimizer.learning_rate = 4e-3
  c.analysis.num_points = 16
  c.analysis.num_replicas = 20
  return c
