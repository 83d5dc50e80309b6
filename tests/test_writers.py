"""Metric writers (infoflow/experiment/writers.py) and the analysed inputs setting."""

import json
import math
import pathlib
import struct

import ml_collections
import numpy as np
import pytest
from tensorboardX.proto import event_pb2

from infoflow import configs
from infoflow import data as data_lib
from infoflow.experiment import runner
from infoflow.experiment import setup as experiment
from infoflow.experiment import writers


def read_events(logdir: pathlib.Path) -> list:
  """Every `Event` of the event files in `logdir` (TFRecord framing: length,
  its crc, the bytes, their crc), oldest file first."""
  events = []
  for path in sorted(logdir.glob('events.out.tfevents.*')):
    data, at = path.read_bytes(), 0
    while at < len(data):
      (length,) = struct.unpack('<Q', data[at : at + 8])
      event = event_pb2.Event()
      event.ParseFromString(data[at + 12 : at + 12 + length])
      events.append(event)
      at += 12 + length + 4
  return events


def tagged(events) -> dict:
  """{tag: [(step, value or image)]} of the summary values of `events`."""
  out = {}
  for event in events:
    for value in event.summary.value:
      kind = value.WhichOneof('value')
      out.setdefault(value.tag, []).append(
        (event.step, value.simple_value if kind == 'simple_value' else getattr(value, kind))
      )
  return out


def visible(events) -> dict:
  """`tagged(events)` as TensorBoard shows it: a session start at step S
  (`purge_step`) hides the earlier events at steps >= S."""
  shown = {}
  for event in events:
    if event.session_log.status == event.session_log.START:
      shown = {
        tag: [(step, v) for step, v in values if step < event.step] for tag, values in shown.items()
      }
    for tag, values in tagged([event]).items():
      shown.setdefault(tag, []).extend(values)
  return shown


class RecordKeeper(writers.Writer):
  """A user's writer: keeps what it is given."""

  wants_images = True

  def __init__(self):
    self.records, self.images, self.flushes, self.closed = [], {}, 0, False

  def write_record(self, record):
    self.records.append(record)

  def write_images(self, step, images):
    self.images[step] = images

  def flush(self):
    self.flushes += 1

  def close(self):
    self.closed = True


class ScalarsOnly:
  """A writer with clu's four methods only (no write_record)."""

  def __init__(self):
    self.scalars, self.image_steps = [], []

  def write_scalars(self, step, scalars):
    self.scalars.append((step, dict(scalars)))

  def write_images(self, step, images):
    self.image_steps.append(step)

  def flush(self):
    pass

  def close(self):
    pass


@pytest.fixture(scope='module')
def tiny_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('tiny')
  keeper, scalars_only = RecordKeeper(), ScalarsOnly()
  records = runner.train_and_analyse(
    configs.get_config('tiny'), workdir, writers=[keeper, scalars_only]
  )
  return workdir, records, keeper, scalars_only


def test_tensorboard_events_of_a_tiny_run(tiny_run):
  """Scalars per seed and analysed epoch, in bits; images at each epoch."""
  workdir, records, _, _ = tiny_run
  epochs = json.loads((workdir / 'run.json').read_text())['analysis_epochs']
  events = read_events(workdir / 'tensorboard')
  tags = tagged(events)
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


def test_resumed_run_shows_each_epoch_once(tmp_path):
  """Interrupted after an epoch's record but before its checkpoint, the
  rerun redoes that epoch; TensorBoard then shows it once."""
  config = configs.get_config('tiny')
  config.num_epochs, config.analysis.num_points = 4, 3
  config.analysis.clustering = False

  class Interrupt(Exception):
    pass

  def stop_at_epoch_1(record):
    if record['epoch'] >= 1:
      raise Interrupt

  with pytest.raises(Interrupt):
    runner.train_and_analyse(config, tmp_path, on_record=stop_at_epoch_1)
  records = runner.train_and_analyse(config, tmp_path)
  epochs = [r['epoch'] for r in records]
  assert epochs == json.loads((tmp_path / 'run.json').read_text())['analysis_epochs']
  events = read_events(tmp_path / 'tensorboard')
  assert len(list((tmp_path / 'tensorboard').iterdir())) == 2
  loss = tagged(events)['seed0/train/loss']
  assert [step for step, _ in loss] == [0, 1] + epochs[1:]  # 1 twice
  shown = visible(events)
  assert [step for step, _ in shown['seed0/train/loss']] == epochs
  assert [v for _, v in shown['seed0/train/loss']] == pytest.approx(
    [r['train']['loss'] for r in records]
  )
  assert [step for step, _ in shown['information_plane']] == epochs


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


def test_writers_off_and_test_inputs(tmp_path):
  """`writers = ()`: metrics.jsonl only. `analysis.inputs = 'test'`: the
  information is measured on the whole test split, as run.json says."""
  config = configs.get_config('tiny')
  config.writers = ()
  config.num_epochs, config.analysis.num_points = 2, 2
  config.analysis.inputs, config.analysis.num_eval_inputs = 'test', 0
  config.analysis.clustering = False
  records = runner.train_and_analyse(config, tmp_path)
  assert not (tmp_path / 'tensorboard').exists()
  assert len((tmp_path / 'metrics.jsonl').read_text().splitlines()) == len(records) == 2
  info = json.loads((tmp_path / 'run.json').read_text())
  dataset = experiment.read_dataset(config)
  assert info['analysis_inputs'] == 'test'
  assert info['num_eval_inputs'] == len(dataset.x_test) > 0
  assert info['eval_indices'] == sorted(dataset.index_test.tolist())
  with np.load(tmp_path / 'representations' / 'epoch_000002.npz') as saved:
    assert len(saved['labels']) == len(dataset.x_test)


@pytest.mark.parametrize('which', ['all', 'train', 'test'])
def test_evaluation_set_of_each_split(which):
  """SZT: the split's inputs in x_all order, or a fixed subset of them."""
  config = configs.get_config('tiny')
  config.analysis.inputs, config.analysis.num_eval_inputs = which, 0
  dataset = experiment.read_dataset(config)
  x, y, indices = experiment.evaluation_set(config, dataset)
  expected = {
    'all': np.arange(len(dataset.x_all)),
    'train': np.sort(dataset.index_train),
    'test': np.sort(dataset.index_test),
  }[which]
  assert indices == expected.tolist()
  assert (
    len(x)
    == len(y)
    == {'all': 4096, 'train': len(dataset.x_train), 'test': len(dataset.x_test)}[which]
  )
  np.testing.assert_array_equal(x, dataset.x_all[indices])
  np.testing.assert_array_equal(y, dataset.y_all[indices])
  config.analysis.num_eval_inputs = 100
  x, _, some = experiment.evaluation_set(config, dataset)
  assert len(x) == 100 and set(some) <= set(indices) and some == sorted(some)
  assert experiment.evaluation_set(config, dataset)[2] == some


def _files_dataset(num_test=5):
  """A data set without input positions (as MNIST): 8 train, `num_test`."""
  rng = np.random.default_rng(0)
  return data_lib.Dataset(
    name='files',
    x_train=rng.normal(size=(8, 3)),
    y_train=np.arange(8) % 2,
    x_test=rng.normal(size=(num_test, 3)),
    y_test=np.arange(num_test) % 2,
    num_classes=2,
    source='test',
  )


def test_evaluation_set_of_a_data_set_of_files():
  """MNIST's rule: the first inputs of a split; 'all' a fixed random subset
  of train then test; an empty split is a config error."""
  config, dataset = configs.get_config('mnist'), _files_dataset()
  assert config.analysis.inputs == 'test'  # the paper's: first test images
  config.analysis.num_eval_inputs = 3
  x, _, indices = experiment.evaluation_set(config, dataset)
  assert indices == [0, 1, 2]
  np.testing.assert_array_equal(x, dataset.x_test[:3])
  config.analysis.inputs = 'train'
  x, _, indices = experiment.evaluation_set(config, dataset)
  np.testing.assert_array_equal(x, dataset.x_train[:3])
  config.analysis.inputs, config.analysis.num_eval_inputs = 'all', 6
  x, _, indices = experiment.evaluation_set(config, dataset)
  np.testing.assert_array_equal(x, dataset.x_all[indices])
  assert len(set(indices)) == 6 and max(indices) < 13
  config.analysis.inputs = 'test'
  with pytest.raises(configs.ConfigError, match='analysis.inputs'):
    experiment.evaluation_set(config, _files_dataset(num_test=0))


def test_writer_config_field_is_validated(tmp_path):
  """Unknown or jsonl names are refused, listing the known writers; a
  registered writer is made by name for each run."""
  # Untyped, so that a string can replace the tuple.
  config = ml_collections.ConfigDict(configs.get_config('tiny').to_dict(), type_safe=False)
  for bad, needle in (
    (('wandb',), 'unknown writers wandb; known: tensorboard'),
    (('jsonl',), 'always written'),
    ('tensorboard', 'sequence of writer names'),
  ):
    config.writers = bad
    with pytest.raises(configs.ConfigError, match=needle):
      configs.validate(config)
  config.analysis.inputs = 'validation'
  with pytest.raises(configs.ConfigError, match='all, train, test'):
    configs.validate(config)
  made = []
  writers.register('keeper', lambda workdir, config: made.append(RecordKeeper()) or made[-1])
  try:
    config = configs.get_config('tiny')
    config.writers = ('keeper',)
    configs.validate(config)
    opened = writers.open_writers(config, tmp_path)
    opened.write_record({'epoch': 3, 'seed': 1, 'train': {'loss': math.inf}})
    opened.close()
  finally:
    writers.unregister('keeper')
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
