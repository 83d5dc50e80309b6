"""Metric writers (infoflow.experiment.writers) through runs, and a run
without writers on the test inputs."""

import json
import math

import helpers
import ml_collections
import numpy as np
import pytest

from infoflow import configs
from infoflow import experiment
from infoflow.experiment import setup
from infoflow.experiment import writers
from infoflow.plots import images


def test_tensorboard_events_of_a_tiny_run(tiny_run):
  """Scalars per seed and analysed epoch, in bits; images at each epoch."""
  workdir, records, _, _ = tiny_run
  epochs = json.loads((workdir / 'run.json').read_text())['analysis_epochs']
  events = helpers.read_events(workdir / 'tensorboard')
  tags = helpers.tagged(events)
  for tag in (
    'seed0/mi_input_bits/T1',
    'seed0/mi_label_stderr_bits/T2',
    'seed0/train/loss',
    'seed0/test/accuracy_noisy',
    'seed0/binned_entropy_bits/T1/bin0.01',
    'seed0/clustering/T2/gap',
    'information_plane',
    'scatter/T2',
  ):
    assert [step for step, _ in tags[tag]] == epochs, tag
  nats = [r['information']['T1']['mi_input'][0] for r in records]
  bits = [value for _, value in tags['seed0/mi_input_bits/T1']]
  np.testing.assert_allclose(bits, np.array(nats) / math.log(2), rtol=1e-6)
  image = tags['information_plane'][-1][1]
  assert image.encoded_image_string.startswith(b'\x89PNG')
  assert image.width > 100 and image.height > 100 and image.colorspace == 3
  # A fresh run hides nothing older than its first step (purge_step = 0).
  assert any(e.session_log.status == e.session_log.START and e.step == 0 for e in events)


def test_user_writers_receive_every_record(tiny_run):
  """A writer passed to train_and_analyse gets each record as written, and
  the figures; one with clu's methods only gets the scalars; neither is
  closed by the run."""
  workdir, records, keeper, scalars_only = tiny_run
  on_disk = [json.loads(line) for line in (workdir / 'metrics.jsonl').read_text().splitlines()]
  assert keeper.records == records == on_disk
  assert sorted(keeper.images) == [r['epoch'] for r in records]
  image = keeper.images[records[-1]['epoch']]['information_plane']
  assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
  assert keeper.flushes >= len(records) and not keeper.closed
  assert [step for step, _ in scalars_only.scalars] == [r['epoch'] for r in records]
  assert scalars_only.scalars[-1][1] == writers.record_scalars(records[-1])
  assert scalars_only.image_steps == [r['epoch'] for r in records]


def test_test_inputs(tmp_path):
  """`analysis.inputs = 'test'`: the information is measured on the whole
  test split, as run.json says. (`writers = ()`: test_runner_golden.py.)"""
  config = configs.get_config('tiny')
  config.num_epochs, config.analysis.num_points = 2, 2
  config.analysis.inputs, config.analysis.num_eval_inputs = 'test', 0
  config.analysis.clustering = config.analysis.binning = False
  config.analysis.estimated_layers = ('T1',)
  records = experiment.train_and_analyse(config, tmp_path)
  assert [r['epoch'] for r in records] == [0, 2] and 'information' in records[0]
  info = json.loads((tmp_path / 'run.json').read_text())
  dataset = setup.read_dataset(config)
  assert info['analysis_inputs'] == 'test'
  assert info['num_eval_inputs'] == len(dataset.x_test) > 0
  assert info['eval_indices'] == sorted(dataset.index_test.tolist())
  with np.load(tmp_path / 'representations' / 'epoch_000002.npz') as saved:
    assert len(saved['labels']) == len(dataset.x_test)


def test_writer_config_field_is_validated(tmp_path):
  """Unknown or jsonl names are refused before anything is written, listing
  the known writers; a registered writer is made by name for each run."""
  # Untyped, so that a string can replace the tuple.
  config = ml_collections.ConfigDict(configs.get_config('tiny').to_dict(), type_safe=False)
  for bad, needle in (('jsonl',), 'always written'), ('tensorboard', 'sequence of writer names'):
    config.writers = bad
    with pytest.raises(configs.ConfigError, match=needle):
      configs.validate(config)
  config.writers = ('wandb',)
  configs.validate(config)  # the form is right; the name is checked by the run
  unknown = 'config field writers names unknown writers wandb; known: tensorboard'
  with pytest.raises(configs.ConfigError, match=unknown):
    writers.check_names(config)
  with pytest.raises(configs.ConfigError, match=unknown):
    experiment.open_workdir(config, tmp_path / 'run')
  assert not (tmp_path / 'run').exists()
  config.writers = ()
  config.analysis.inputs = 'validation'
  with pytest.raises(configs.ConfigError, match='all, train, test'):
    configs.validate(config)
  made = []
  experiment.register_writer(
    'keeper', lambda workdir, config: made.append(helpers.RecordKeeper()) or made[-1]
  )
  try:
    config = configs.get_config('tiny')
    config.writers = ('keeper',)
    configs.validate(config)
    opened = writers.open_writers(config, tmp_path)
    opened.write_record({'epoch': 3, 'seed': 1, 'train': {'loss': math.inf}})
    opened.close()
  finally:
    experiment.unregister_writer('keeper')
  assert made[0].records == [{'epoch': 3, 'seed': 1, 'train': {'loss': None}}]
  assert made[0].closed and 'keeper' not in writers.names()
  assert (tmp_path / 'metrics.jsonl').read_text().count('\n') == 1


def test_record_scalars_skip_missing_values():
  """Nulls are left out; a diverged seed is flagged; tags carry the seed."""
  scalars = writers.record_scalars(
    {
      'epoch': 7,
      'seed': 2,
      'diverged': True,
      'train': {'loss': None, 'accuracy': 0.5},
      'information': {'T1': {'mi_input': [math.log(2), 0.0]}},
    }
  )
  assert scalars == {
    'seed2/diverged': 1.0,
    'seed2/train/accuracy': 0.5,
    'seed2/mi_input_bits/T1': 1.0,
    'seed2/mi_input_stderr_bits/T1': 0.0,
  }


def test_record_scalars_of_this_rounds_fields():
  """The ceiling, the R/2 diagnostic and both cluster entropies go to
  TensorBoard in bits."""
  log2 = math.log(2)
  scalars = writers.record_scalars(
    {
      'seed': 0,
      'information_ceiling': math.log(8),
      'information': {'T1': {'mi_input_half_replicas': [2 * log2, log2]}},
      'clustering': {'T1': {'cluster_entropy': log2, 'packed_cluster_entropy': 4 * log2}},
    }
  )
  assert scalars == {
    'seed0/information_ceiling_bits': pytest.approx(3.0),
    'seed0/mi_input_half_replicas_bits/T1': 2.0,
    'seed0/mi_input_half_replicas_stderr_bits/T1': 1.0,
    'seed0/clustering/T1/cluster_entropy_bits': 1.0,
    'seed0/clustering/T1/packed_cluster_entropy_bits': 4.0,
  }


@pytest.mark.parametrize('field', ['information', 'binning', 'clustering'])
def test_tensorboard_tags_refuse_unsafe_layer_names(field):
  """Issue 22 row 21: layer names go into tags only as `record.layer_file_name`
  passes them (a tag is a path in TensorBoard's hierarchy)."""
  entry = {'mi_input': [1.0, 0.0], 'entropy': [1.0], 'gap': 0.5}
  record = {'epoch': 0, 'seed': 0, field: {'../../T1': entry}}
  if field == 'binning':
    record[field]['bin_sizes'] = [0.1]
  with pytest.raises(ValueError, match=r"layer name '\.\./\.\./T1' is not allowed"):
    writers.record_scalars(record)


def test_image_tags_refuse_unsafe_layer_names():
  """Issue 22 row 21: the scatter image's tag names the layer: checked too."""
  with pytest.raises(ValueError, match=r"layer name 'x/\.\./y' is not allowed"):
    images.epoch_images([], {'x/../y': np.zeros((4, 2), np.float32)}, [0, 1, 0, 1], 0, None)
