"""Tests of the run loop (infoflow.experiment.runner): a tiny run end to end,
resumption, diverged seeds, compilations."""

import gc
import json
import signal
import sys
import threading
import time
import types

import helpers
import numpy as np
import pytest

from infoflow import experiment
from infoflow.experiment import progress as progress_lib
from infoflow.experiment import runner


def test_tiny_run_end_to_end(finished_run):
  workdir, records = finished_run
  lines = (workdir / 'metrics.jsonl').read_text().splitlines()
  assert [json.loads(line) for line in lines] == records
  run = json.loads((workdir / 'run.json').read_text())
  epochs = run['analysis_epochs']
  assert epochs[0] == 0 and epochs[-1] == 12
  # SZT's split: the structured field says what the free text says.
  assert run['data_split'] == ('authors' if "the authors'" in run['data_source'] else 'seeded')
  assert [(r['epoch'], r['seed']) for r in records] == [(e, s) for e in epochs for s in (0, 1)]
  first = [r for r in records if r['epoch'] == 0]
  last = [r for r in records if r['epoch'] == 12]
  for a, b in zip(first, last):
    assert b['train']['loss'] < a['train']['loss']  # the loss falls
  # Two seeds are two different networks.
  assert last[0]['train']['loss'] != last[1]['train']['loss']
  for r in records:
    for name in ('T1', 'T2'):
      mi, stderr = r['information'][name]['mi_input']
      # The posterior form (the default) is within the hard bounds exactly.
      assert 0 <= mi <= np.log(128) and 0 <= stderr < np.inf
      mi_y, stderr_y = r['information'][name]['mi_label']
      assert 0 <= mi_y <= np.log(2) and 0 <= stderr_y < np.inf
      assert len(r['binning'][name]['entropy']) == 3
      assert 0 <= r['clustering'][name]['knn_agreement'] <= 1
    for split in ('train', 'test'):
      assert set(r[split]) == {'loss', 'accuracy', 'loss_noisy', 'accuracy_noisy'}
  saved = np.load(workdir / 'representations' / 'epoch_000012.npz')
  assert saved['T2'].shape == (128, 2) and saved['labels'].shape == (128,)
  assert json.loads((workdir / 'config.json').read_text())['name'] == 'tiny'


def test_resume_reproduces_uninterrupted_run(finished_run, tmp_path):
  """Interrupted after an epoch's records but before its checkpoint, the
  rerun redoes that epoch: the records are those of the uninterrupted run,
  and TensorBoard shows each epoch once."""
  workdir, uninterrupted = finished_run

  class Interrupt(Exception):
    pass

  def stop_after_first_epoch(record):
    if record['epoch'] >= 1 and record['seed'] == 1:
      raise Interrupt

  config = helpers.tiny_config(num_seeds=2)
  with pytest.raises(Interrupt):
    experiment.train_and_analyse(config, tmp_path, on_record=stop_after_first_epoch)
  # The interruption came after the epoch-1 records but before their
  # checkpoint: the rerun resumes at epoch 0 and redoes epoch 1.
  resumed = experiment.train_and_analyse(config, tmp_path)
  assert helpers.without_time(resumed) == helpers.without_time(uninterrupted)
  lines = (tmp_path / 'metrics.jsonl').read_text().splitlines()
  assert helpers.without_time([json.loads(x) for x in lines]) == helpers.without_time(uninterrupted)
  epochs = json.loads((workdir / 'run.json').read_text())['analysis_epochs']
  assert epochs == [0, 1, 12]
  events = helpers.read_events(tmp_path / 'tensorboard')
  assert len(list((tmp_path / 'tensorboard').iterdir())) == 2  # one file a session
  loss = helpers.tagged(events)['seed0/train/loss']
  assert [step for step, _ in loss] == [0, 1, 1, 12]  # epoch 1 twice
  shown = helpers.visible(events)
  assert [step for step, _ in shown['seed0/train/loss']] == epochs
  assert [v for _, v in shown['seed0/train/loss']] == pytest.approx(
    [r['train']['loss'] for r in resumed if r['seed'] == 0]
  )
  assert [step for step, _ in shown['information_plane']] == epochs


@pytest.mark.filterwarnings('ignore:overflow encountered in cast')
def test_diverged_seed_is_recorded_not_analysed(tmp_path):
  """Non-finite parameters (an overflowing step) give a 'diverged' record."""
  config = helpers.tiny_config(
    **{
      'num_seeds': 2,
      'num_epochs': 2,
      'analysis.num_points': 2,
      'optimizer.name': 'sgd',
      'optimizer.learning_rate': 1e39,  # inf in float32: updates overflow
      'analysis.clustering': False,  # not run for a diverged seed
      'analysis.binning': False,
    }
  )
  records = experiment.train_and_analyse(config, str(tmp_path))
  assert [(r['epoch'], r['seed']) for r in records] == [(0, 0), (0, 1), (2, 0), (2, 1)]
  for r in records[:2]:
    assert 'information' in r and 'diverged' not in r
  for r in records[2:]:
    assert r['diverged'] is True and 'information' not in r
  for line in (tmp_path / 'metrics.jsonl').read_text().splitlines():
    json.loads(line, parse_constant=pytest.fail)  # no NaN/Infinity tokens


def test_a_second_epoch_and_seed_compile_nothing(tmp_path):
  # Adaptive draws (num_mc = 0): blocks of one shape, whatever their count.
  config = helpers.tiny_config(**{'num_seeds': 2, 'analysis.num_mc': 0})
  data = experiment.load_data(config)
  trainer = experiment.build_trainer(config, data)
  plan = experiment.plan_run(tmp_path, config, data, trainer)
  states = trainer.states

  def analyse(epoch):
    metrics = experiment.evaluate(trainer, data, states, epoch)
    return list(
      experiment.analyse_epoch(config, data, trainer, plan, states, epoch, metrics, started=0.0)
    )

  with helpers.count_compilations() as first:
    records = analyse(0)
  assert first and len(records) == 2 and 'information' in records[1][0]
  progress = progress_lib.Progress(0, config.num_epochs, 1)
  states, _ = experiment.train_until(config, data, trainer, states, 0, 6, progress)
  with helpers.count_compilations() as second:
    records = analyse(6)
  assert [r['seed'] for r, _ in records] == [0, 1]
  assert second == [], f'{len(second)} new compilations at the second epoch'


def test_seeds_analysed_together_give_the_records_of_seeds_one_by_one(tmp_path):
  """Issue 23: seeds analysed side by side (two threads) give, in seed
  order, the records and representations of the seeds analysed one by one;
  only the wall time differs. (The pool itself: test_seed_pool.py.)"""
  config = helpers.tiny_config(**{'num_seeds': 2, 'analysis.num_mc': 0})
  data = experiment.load_data(config)
  trainer = experiment.build_trainer(config, data)
  plan = experiment.plan_run(tmp_path, config, data, trainer)
  metrics = experiment.evaluate(trainer, data, trainer.states, 3)

  def analyse(workers):
    analysed = experiment.analyse_epoch(
      config, data, trainer, plan, trainer.states, 3, metrics, started=0.0, workers=workers
    )
    records, representations = zip(*analysed)
    return helpers.without_time(records), representations

  one_by_one, one_by_one_reps = analyse(1)
  together, together_reps = analyse(2)
  assert [r['seed'] for r in together] == [0, 1] and 'information' in together[1]
  assert together == one_by_one and together[0] != together[1]
  assert set(together_reps[0]) == set(plan.kept) and together_reps[1] == {}
  for name, rep in one_by_one_reps[0].items():
    np.testing.assert_array_equal(together_reps[0][name], rep)


def test_figures_are_drawn_at_about_ten_epochs_and_the_last():
  epochs = list(range(0, 900, 10))  # 90 analysed epochs
  drawn = runner.figure_epochs(epochs)
  assert 0 in drawn and 890 in drawn and 8 <= len(drawn) <= 11
  assert runner.figure_epochs([0, 5, 9]) == {0, 5, 9}


@pytest.fixture
def python_sigint_handler():
  """SIGINT handled by Python (raising KeyboardInterrupt), as in a command;
  the previous handler restored after."""
  previous = signal.signal(signal.SIGINT, signal.default_int_handler)
  yield
  signal.signal(signal.SIGINT, previous)


def _until_interrupted(seconds=1.0):
  """Runs Python code for up to `seconds`: a KeyboardInterrupt delivered
  meanwhile is raised within it."""
  deadline = time.time() + seconds
  while time.time() < deadline:
    pass


def test_ctrl_c_in_a_garbage_collection_callback_stops_the_run(python_sigint_handler):
  """Issue 22, also seen: a Ctrl-C landing in JAX's garbage-collection
  callback was printed as "Exception ignored" and the run went on. In the
  run it reaches the main thread as a Ctrl-C anywhere else does."""
  del python_sigint_handler

  def interrupted(phase, info):
    del info
    if phase == 'start':
      gc.callbacks.remove(interrupted)
      raise KeyboardInterrupt

  previous = sys.unraisablehook
  with pytest.raises(KeyboardInterrupt):
    with runner.interrupts_delivered():
      gc.callbacks.append(interrupted)
      gc.collect()
      _until_interrupted()
  assert sys.unraisablehook is previous
  assert interrupted not in gc.callbacks


def test_unraisable_interrupts_reach_the_main_thread(python_sigint_handler):
  """`deliver_interrupt` raises an unraisable KeyboardInterrupt again in the
  main thread, from any thread; another exception goes to the previous hook."""
  del python_sigint_handler
  passed_on = []
  fake = types.SimpleNamespace(
    exc_type=KeyboardInterrupt, exc_value=KeyboardInterrupt(), exc_traceback=None, object=None
  )
  with pytest.raises(KeyboardInterrupt):
    thread = threading.Thread(target=runner.deliver_interrupt, args=(passed_on.append, fake))
    thread.start()
    thread.join()
    _until_interrupted()
  other = types.SimpleNamespace(exc_type=ValueError, exc_value=ValueError('x'))
  runner.deliver_interrupt(passed_on.append, other)
  _until_interrupted(10 * runner.INTERRUPT_DELAY)  # nothing delivered
  assert passed_on == [other]
