"""Seeds analysed side by side: a pool of threads, results in seed order.

The analysis of one seed at one epoch (`runner.analyse_epoch`) is a chain of
XLA programs, the host waiting on each: the sampling, each layer's Monte
Carlo blocks, the binning and clustering measures. On a CPU device most of
them run on one core, so a run analysing its seeds one after the other keeps
one core busy (docs/benchmarks.md, "Whole runs"). JAX releases the GIL while
a program runs and programs launched from several threads run at once, so
`workers` threads, each analysing a seed of its own, keep `workers` cores
busy. Each seed's programs and keys are those of a lone seed, so the results
are those of the seeds analysed one by one, whatever the number of workers
(tests/experiment/test_runner.py checks the records).
"""

from __future__ import annotations

import concurrent.futures
import os
from typing import Callable
from typing import Iterator
from typing import TypeVar

import jax

T = TypeVar('T')


def available_cores() -> int:
  """The CPU cores this process may run on (its affinity mask, where the
  platform has one, else `os.cpu_count()`)."""
  if hasattr(os, 'sched_getaffinity'):
    return len(os.sched_getaffinity(0))
  return os.cpu_count() or 1


def seed_workers(num_seeds: int) -> int:
  """How many of `num_seeds` seeds are analysed at once.

  - One process with one device: on a CPU, one seed per core this process
    may use (`available_cores`); on an accelerator, every seed (its host
    side, the draws and the checks between programs, overlaps another
    seed's programs).
  - Several devices, or several processes (`jax.distributed`): one. The
    estimators then split each seed's Monte Carlo draws over all the devices
    (`infoflow.estimators._src.sharding`), and programs spanning several
    devices, launched from several threads, could wait on each other; across
    processes every process must also make the same calls in the same order.
  """
  if jax.process_count() > 1 or jax.device_count() > 1:
    return 1
  if jax.default_backend() == 'cpu':
    return max(1, min(num_seeds, available_cores()))
  return max(1, num_seeds)


def in_order(work: Callable[[int], T], count: int, workers: int) -> Iterator[T]:
  """Yields `work(0)`, ..., `work(count - 1)`, computed `workers` at a time.

  Each result is yielded as soon as it and those before it are done (the
  later ones may still be running). With one worker no thread is started:
  `work(i)` runs when result i is asked for, as a plain loop would.

  An exception raised by `work(i)` is raised here when result i is reached.
  When the caller stops early (an exception of its own, `close()`), the
  items not yet started are dropped and those running are waited for; after
  a KeyboardInterrupt they are not waited for, so that the run stops at once
  (the interpreter still lets them finish before it exits).

  Raises:
    ValueError: `workers` < 1.
  """
  if workers < 1:
    raise ValueError(f'workers must be >= 1, got {workers}.')
  if workers == 1:
    for index in range(count):
      yield work(index)
    return
  pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix='infoflow-seed')
  interrupted = False
  try:
    futures = [pool.submit(work, index) for index in range(count)]
    for future in futures:
      yield future.result()
  except KeyboardInterrupt:
    interrupted = True
    raise
  finally:
    pool.shutdown(wait=not interrupted, cancel_futures=True)
