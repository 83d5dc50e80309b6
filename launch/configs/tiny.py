"""A seconds-long run for tests and smoke checks: SZT, 2 hidden layers."""

from launch.configs import szt


def get_config():
  c = szt.get_config()
  c.name = 'tiny'
  c.model.widths = (4, 2)
  c.model.beta = 0.05
  c.num_epochs = 30
  c.optimizer.learning_rate = 1e-2
  c.batch_size = 512
  c.analysis.num_points = 4
  c.analysis.num_replicas = 4
  c.analysis.num_mc = 512
  c.analysis.num_mc_conditional = 8
  c.analysis.num_eval_inputs = 256
  return c
