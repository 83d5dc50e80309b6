"""The records of the 'tiny' config, field by field, against those of the
code before the layout change (tests/golden/*/metrics.jsonl, written by
`python -m launch.train --config=tiny --config.writers="()"`, with
`--config.analysis.num_mc=0` for `adaptive`): the posterior form's numbers
must not change. Only `wall_time` may differ. Regenerated once with the
fields added since (`information_ceiling`, `mi_input_half_replicas`,
`packed_clusters`, `packed_cluster_entropy`), after checking that every
value the old files held was unchanged.
"""

import json
import pathlib

import helpers

from infoflow import configs
from infoflow import experiment

GOLDEN = pathlib.Path(__file__).resolve().parents[1] / 'golden'


def _golden(name: str) -> list[dict]:
  lines = (GOLDEN / name / 'metrics.jsonl').read_text().splitlines()
  return helpers.without_time([json.loads(line) for line in lines])


def test_fixed_draws_give_the_golden_records(tiny_run):
  """The 'tiny' config as it is (512 fixed draws); its writers do not change
  the records."""
  _, records, _, _ = tiny_run
  assert helpers.without_time(records) == _golden('fixed')


def test_adaptive_draws_give_the_golden_records(tmp_path):
  """Also: `writers = ()` writes metrics.jsonl only."""
  config = configs.get_config('tiny')
  config.analysis.num_mc, config.writers = 0, ()
  records = experiment.train_and_analyse(config, tmp_path)
  assert helpers.without_time(records) == _golden('adaptive')
  assert not (tmp_path / 'tensorboard').exists()
  assert len((tmp_path / 'metrics.jsonl').read_text().splitlines()) == len(records)
