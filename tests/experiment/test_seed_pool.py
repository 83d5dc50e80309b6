"""Tests of the pool that analyses seeds side by side
(infoflow.experiment.seed_pool); the records it gives in a run are checked
in test_runner.py."""

import threading
import time

import pytest

from infoflow.experiment import seed_pool


def test_results_come_in_order_from_several_threads():
  """Item 0 finishes last (it waits until item 1 has run) and the results
  still come in order, each item in a worker thread."""
  threads, item_1_done = set(), threading.Event()

  def work(index):
    threads.add(threading.get_ident())
    if index == 0:
      assert item_1_done.wait(timeout=10), 'item 1 did not run beside item 0'
    if index == 1:
      item_1_done.set()
    return index * index

  assert list(seed_pool.in_order(work, 5, workers=2)) == [0, 1, 4, 9, 16]
  assert len(threads) == 2 and threading.get_ident() not in threads


def test_one_worker_is_a_plain_loop():
  calls = []
  results = seed_pool.in_order(lambda i: calls.append(threading.get_ident()) or i, 3, workers=1)
  assert next(results) == 0 and len(calls) == 1  # nothing runs ahead
  assert list(results) == [1, 2] and set(calls) == {threading.get_ident()}


def _slow_after_two(started):
  """Work whose items 0 and 1 return at once (item 1 raising) and whose
  later items take 0.3 s: when the caller stops at item 1, two workers can
  have started items 2 and 3 at most."""

  def work(index):
    started.append(index)
    if index == 1:
      raise ValueError('seed 1 failed')
    if index >= 2:
      time.sleep(0.3)
    return index

  return work


def test_an_error_is_raised_at_its_item_and_the_rest_dropped():
  started = []
  results = seed_pool.in_order(_slow_after_two(started), 8, workers=2)
  assert next(results) == 0
  with pytest.raises(ValueError, match='seed 1 failed'):
    next(results)
  assert {0, 1} <= set(started) <= {0, 1, 2, 3}  # 4 to 7 never started


def test_closing_waits_for_the_running_items_and_drops_the_rest():
  started = []
  results = seed_pool.in_order(_slow_after_two(started), 8, workers=2)
  assert next(results) == 0
  results.close()  # returns once the running items are done
  finished = list(started)
  time.sleep(0.05)
  assert started == finished and {0, 1} <= set(started) <= {0, 1, 2, 3}


def test_a_ctrl_c_does_not_wait_for_the_running_items():
  """A KeyboardInterrupt (here raised by item 0's work; in a run, Ctrl-C in
  the main thread) reaches the caller without waiting for item 1, which
  runs until released."""
  release = threading.Event()

  def work(index):
    if index == 0:
      raise KeyboardInterrupt
    release.wait(timeout=10)
    return index

  start = time.perf_counter()
  with pytest.raises(KeyboardInterrupt):
    list(seed_pool.in_order(work, 4, workers=2))
  waited = time.perf_counter() - start
  release.set()
  assert waited < 5, f'waited {waited:.1f} s for the running items'


def test_workers_must_be_positive():
  with pytest.raises(ValueError, match='workers must be >= 1, got 0'):
    list(seed_pool.in_order(lambda i: i, 2, workers=0))


def test_seed_workers_by_devices_and_processes(monkeypatch):
  """One CPU device: a seed per core; an accelerator: every seed; several
  devices or processes: one seed at a time."""
  monkeypatch.setattr(seed_pool.jax, 'process_count', lambda: 1)
  monkeypatch.setattr(seed_pool.jax, 'device_count', lambda: 1)
  monkeypatch.setattr(seed_pool.jax, 'default_backend', lambda: 'cpu')
  monkeypatch.setattr(seed_pool, 'available_cores', lambda: 2)
  assert [seed_pool.seed_workers(n) for n in (1, 2, 8)] == [1, 2, 2]
  monkeypatch.setattr(seed_pool.jax, 'default_backend', lambda: 'gpu')
  assert seed_pool.seed_workers(8) == 8
  monkeypatch.setattr(seed_pool.jax, 'device_count', lambda: 2)
  assert seed_pool.seed_workers(8) == 1
  monkeypatch.setattr(seed_pool.jax, 'device_count', lambda: 1)
  monkeypatch.setattr(seed_pool.jax, 'process_count', lambda: 2)
  assert seed_pool.seed_workers(8) == 1
