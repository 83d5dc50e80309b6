"""A seconds-long run for tests and smoke checks: SZT, 2 hidden layers.

Every setting is our choice, for speed: the SZT data and tanh of `szt`, two
hidden layers (4, 2), beta = 0.05, 30 epochs at Adam 1e-2 with batch 512, 4
analysed epochs of 256 inputs, R = 4, fixed Monte Carlo draws (512; 8 per
conditional mixture). Initialisation 'lecun_normal' (Flax's default, not the
'uniform_fan_in' of `szt`): the tests built on this config were written
with it, and they check mechanics, not the authors' set-up.
"""

from infoflow.configs import szt


def get_config():
  c = szt.get_config()
  c.name = 'tiny'
  c.model.widths = (4, 2)
  c.model.beta = 0.05
  c.model.init = 'lecun_normal'
  c.num_epochs = 30
  c.optimizer.learning_rate = 1e-2
  c.batch_size = 512
  c.analysis.num_points = 4
  c.analysis.num_replicas = 4
  c.analysis.num_mc = 512
  c.analysis.num_mc_conditional = 8
  c.analysis.num_eval_inputs = 256
  return c
