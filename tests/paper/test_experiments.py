"""Tests of running the paper's experiments (infoflow.paper.experiments,
infoflow.paper.registry): configs and overrides, seeds, finished runs."""

import re

import pytest

from infoflow import configs
from infoflow import paper
from infoflow.paper import experiments


def test_overrides_and_configs_are_checked():
  assert experiments.parse_overrides(['a.b=3', 'c=(4, 2)', 'd=uniform_fan_in']) == [
    ('a.b', 3),
    ('c', (4, 2)),
    ('d', 'uniform_fan_in'),
  ]
  with pytest.raises(configs.ConfigError, match="override 'num_epochs' must read FIELD=VALUE"):
    experiments.parse_overrides(['num_epochs'])
  with pytest.raises(configs.ConfigError, match="analysis.nope=1 does not fit config 'szt'"):
    experiments.build_config('szt', 2, [('analysis.nope', 1)])
  with pytest.raises(configs.ConfigError, match='config field batch_size must be >= 1'):
    experiments.build_config('szt', 2, [('batch_size', 0)])
  config = experiments.build_config('szt', 3, [('model.widths', (4, 2))])
  assert config.num_seeds == 3 and tuple(config.model.widths) == (4, 2)
  with pytest.raises(paper.ExperimentError, match='unknown experiment'):
    experiments.run_experiment('nope', '/nonexistent')
  assert set(paper.EXPERIMENTS) >= {
    'szt',
    'szt_relu',
    'szt_orthonormal',
    'szt_deterministic',
    'minimal_tanh',
    'minimal_lrelu',
    'mnist',
  }
  assert all(callable(e.section) and e.configs for e in paper.EXPERIMENTS.values())


@pytest.mark.parametrize('name', ['/abs/dir', '../up', 'szt_relu'])
def test_name_override_is_refused(name):
  """Issue 22 row 20: a run goes to WORKDIR/<config> and its figures to
  WORKDIR/figures/<config>; `name=/abs/dir` sent both outside WORKDIR."""
  with pytest.raises(
    configs.ConfigError, match=f"override name='{re.escape(name)}' is not allowed"
  ):
    experiments.build_config('szt', 2, [('name', name)])


def test_seeds_default_to_those_of_a_run_already_there(tmp_path):
  """A run of the config already in the workdir keeps its seeds (so it is
  reused), whichever experiment made it; else the experiment's default."""
  (tmp_path / 'szt').mkdir()
  (tmp_path / 'szt' / 'config.json').write_text(experiments.build_config('szt', 5).to_json())
  ortho, plain = experiments.plan_runs('szt_orthonormal', tmp_path)
  assert plain.num_seeds == 5
  assert ortho.num_seeds == paper.EXPERIMENTS['szt_orthonormal'].default_seeds
  assert [c.num_seeds for c in experiments.plan_runs('szt_orthonormal', tmp_path, num_seeds=2)] == [
    2,
    2,
  ]
  assert not experiments.is_finished(plain, tmp_path / 'szt')  # no records yet
