"""Tests of the authors' estimand (`analysis.inputs = 'resample'`): inputs
drawn with replacement at every analysed epoch and seed, and the ceiling of
I(X;T) each record stores (`information_ceiling`)."""

import itertools
import json
import math
import types

import helpers
import jax
import numpy as np
import pytest

from infoflow import configs
from infoflow import experiment
from infoflow import information
from infoflow.experiment import runner
from infoflow.experiment import setup
from infoflow.experiment import trainer


def _resample_config(**overrides):
  return helpers.tiny_config(**{'analysis.inputs': 'resample', **overrides})


def test_draws_are_reproducible_and_fresh_per_epoch_and_seed():
  """m = 0 draws as many rows as there are inputs (4096 for SZT), with
  copies; the same run key (a resumed run's: `build_trainer` derives it from
  the config's seed) draws the same rows; another epoch or seed draws
  others; the analysis gets a key of its own."""
  config = _resample_config(**{'analysis.num_eval_inputs': 0})
  dataset = setup.read_dataset(config)
  x, y, indices = setup.evaluation_set(config, dataset)
  assert indices == list(range(4096)) and setup.num_analysed_inputs(config, len(x)) == 4096
  run = types.SimpleNamespace(analysis_key=jax.random.key(3))  # a Trainer's key

  def drawn(epoch, seed):
    key = runner.seed_key(run, epoch, seed)
    inputs, labels, analysis_key = setup.analysed_inputs(config, x, y, key)
    assert not np.array_equal(jax.random.key_data(analysis_key), jax.random.key_data(key))
    return inputs, labels

  inputs, labels = drawn(3, 1)
  assert inputs.shape == (4096, 12) and labels.shape == (4096,)
  label_of = {row.tobytes(): label for row, label in zip(x, y)}
  assert [label_of[row.tobytes()] for row in inputs] == labels.tolist()  # each row's own
  # About m (1 - 1/e) = 2589 distinct rows of 4096 draws.
  assert 2450 < len(setup.distinct_counts(inputs)) < 2730
  np.testing.assert_array_equal(drawn(3, 1)[0], inputs)
  for other in (drawn(4, 1)[0], drawn(3, 0)[0]):
    assert not np.array_equal(other, inputs)
  key = runner.seed_key(run, 3, 1)
  same = setup.analysed_inputs(helpers.tiny_config(), x, y, key)  # 'all': the set itself
  assert same[0] is x and same[2] is key


def test_information_ceiling_is_log_m_or_the_multiplicity_entropy():
  dataset = setup.read_dataset(configs.get_config('tiny'))
  counts = setup.distinct_counts(dataset.x_all)
  assert len(counts) == 4096
  assert information.information_ceiling(counts) == pytest.approx(math.log(4096), abs=1e-12)
  rows = np.array([[0.0, 1.0], [2.0, 3.0], [0.0, 1.0], [0.0, 1.0]])
  assert sorted(setup.distinct_counts(rows)) == [1, 3]
  # -0.0 and 0.0 are one value (other bytes): the same row.
  for dtype in (np.float32, np.float64):
    signed = np.array([[-0.0, 1.0], [0.0, 1.0], [0.0, -0.0]], dtype)
    assert sorted(setup.distinct_counts(signed)) == [1, 2]
  assert sorted(setup.distinct_counts(np.array([[0, 1], [0, 1]]))) == [2]  # integers as they are
  # Fixed inputs: the ceiling is computed once per run, on the evaluation set.
  data = trainer.load_data(configs.get_config('tiny'))
  assert data.eval_ceiling == pytest.approx(math.log(len(data.eval_x)), abs=1e-12)
  h = -(0.75 * math.log(0.75) + 0.25 * math.log(0.25))  # H(3/4, 1/4) = 0.81 bits
  assert information.information_ceiling([3, 1]) == pytest.approx(h, abs=1e-12)
  assert information.information_ceiling(np.array([2, 1, 1])) == pytest.approx(1.5 * math.log(2))
  for bad in ([], [0, 2], [1.5, 1], [True]):
    with pytest.raises(ValueError, match='counts must be the multiplicities'):
      information.information_ceiling(bad)


def test_separated_inputs_read_log_m_or_the_multiplicity_entropy(finished_run):
  """'Done when' in small. The tiny run's records (128 distinct inputs)
  carry the ceiling log 128. 128 rows drawn with replacement from 128
  inputs 1 apart (a 4-d grid), T = the row + noise of std beta = 0.05 (inputs
  20 beta apart), R = 4 coinciding replicas (a first layer's): the estimate
  is the multiplicity entropy of the draw (about log 128 - 0.57), not
  log 128, within 0.03 nats. Shapes, draws and labels are those of the tiny
  run's T1, so the estimator program compiled for it serves here."""
  _, records = finished_run
  for r in records:
    assert r['information_ceiling'] == pytest.approx(math.log(128), abs=1e-12)
  grid = np.array(list(itertools.product(range(4), range(4), range(4), range(2))), np.float32)
  config = _resample_config(**{'analysis.num_eval_inputs': 0})
  inputs, labels, key = setup.analysed_inputs(
    config, grid, (grid.sum(axis=1) > 4).astype(np.int32), jax.random.key(7)
  )
  ceiling = information.information_ceiling(setup.distinct_counts(inputs))
  assert inputs.shape == (128, 4) and math.log(128) - 0.8 < ceiling < math.log(128) - 0.3
  samples = np.repeat(inputs[:, None, :], 4, axis=1)
  found = information.layer_information(
    key, samples, 0.05, labels=labels, num_classes=2, num_mc=512
  ).mi_input
  assert abs(float(found.nats) - ceiling) < 0.03 and float(found.stderr) < 0.01


def test_resumed_resample_run_draws_the_rows_of_an_uninterrupted_one(finished_run, tmp_path):
  """A resample run (two seeds, 128 rows drawn from 4096 at each epoch)
  interrupted after its last epoch's records, before their checkpoint, and
  resumed redoes that epoch with the same draws: the same records. It trains
  as the fixed-input run of the same config does (the same metrics), but
  analyses other inputs. Seeds and epochs draw their own rows (ceilings that
  differ; some copies put them below log 128); the saved representations
  are those of the 4096 distinct inputs. Shapes as the tiny runs': nothing
  new to compile; no figures."""
  config = _resample_config(**{'num_seeds': 2, 'analysis.num_points': 2, 'writers': ()})

  class Interrupt(Exception):
    pass

  def stop(record):
    if record['epoch'] == 12 and record['seed'] == 1:
      raise Interrupt

  with pytest.raises(Interrupt):
    experiment.train_and_analyse(config, tmp_path, on_record=stop)
  lines = (tmp_path / 'metrics.jsonl').read_text().splitlines()
  interrupted = helpers.without_time([json.loads(line) for line in lines])
  resumed = experiment.train_and_analyse(config, tmp_path)
  assert [(r['epoch'], r['seed']) for r in resumed] == [(e, s) for e in (0, 12) for s in (0, 1)]
  assert helpers.without_time(resumed) == interrupted
  fixed = {(r['epoch'], r['seed']): r for r in finished_run[1]}
  for r in resumed:
    twin = fixed[r['epoch'], r['seed']]
    assert (r['train'], r['test']) == (twin['train'], twin['test'])
    assert r['information'] != twin['information']
  ceilings = [r['information_ceiling'] for r in resumed]
  assert max(ceilings) <= math.log(128) + 1e-12 and min(ceilings) < math.log(128) - 1e-3
  assert len(set(ceilings)) >= 2
  run = json.loads((tmp_path / 'run.json').read_text())
  assert (run['analysis_inputs'], run['num_eval_inputs']) == ('resample', 128)
  assert run['eval_indices'] == list(range(4096))
  saved = np.load(tmp_path / 'representations' / 'epoch_000012.npz')
  assert saved['T2'].shape == (4096, 2) and saved['labels'].shape == (4096,)
