"""Fixtures shared by the test folders: finished tiny runs (session-wide,
read-only: a test that changes a run works on a copy) and a synthetic run
record. The session compiles through a persistent compilation cache of its
own, which the mains it starts share: a program compiled once (a tiny run's
training step, its estimators) is read back, not recompiled, by the next run
or process that builds it."""

import os
import shutil
import tempfile

import helpers
import pytest

from infoflow import compile_cache
from infoflow import configs
from infoflow import experiment

_OWNER = 'INFOFLOW_TESTS_CACHE_OWNER'


def pytest_configure(config):
  """One compilation cache per test session (`infoflow.compile_cache`),
  shared by its xdist workers (they inherit the controller's environment)
  and by the mains it starts, in process or as processes: they all find it
  through INFOFLOW_COMPILE_CACHE."""
  cache = os.environ.get(compile_cache.ENV) if hasattr(config, 'workerinput') else None
  if cache is None:
    cache = tempfile.mkdtemp(prefix='infoflow_tests_jax_cache_')
    os.environ[_OWNER] = str(os.getpid())
    os.environ[compile_cache.ENV] = cache
  compile_cache.enable(cache)


def pytest_unconfigure(config):
  del config
  if os.environ.get(_OWNER) == str(os.getpid()):
    shutil.rmtree(os.environ.pop(compile_cache.ENV), ignore_errors=True)


_RUN_FIXTURES = ('finished_run', 'tiny_run')


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config, items):
  """Groups for xdist (`-n`, with `--dist loadgroup` from setup.cfg): the
  tests of the session-wide runs share one worker, so each run is trained
  once; every other test runs on the worker of its file's other tests, so a
  module-scoped fixture (the docs' process, the sharding subprocess) is
  built once."""
  del config
  for item in items:
    if any(name in getattr(item, 'fixturenames', ()) for name in _RUN_FIXTURES):
      group = 'session_runs'
    else:
      group = item.nodeid.split('::')[0]
    item.add_marker(pytest.mark.xdist_group(group))


@pytest.fixture(scope='session')
def finished_run(tmp_path_factory):
  """(workdir, records) of a finished two-seed tiny run (helpers.tiny_config:
  12 epochs, analysed at 0, 1 and 12, on 128 inputs)."""
  workdir = tmp_path_factory.mktemp('full')
  records = experiment.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  return workdir, records


@pytest.fixture(scope='session')
def tiny_run(tmp_path_factory):
  """(workdir, records, keeper, scalars_only) of a run of the 'tiny' config
  as it is (what `launch.train --config=tiny` runs), with TensorBoard and two
  user writers: a `helpers.RecordKeeper` and a `helpers.ScalarsOnly`."""
  workdir = tmp_path_factory.mktemp('tiny')
  keeper, scalars_only = helpers.RecordKeeper(), helpers.ScalarsOnly()
  records = experiment.train_and_analyse(
    configs.get_config('tiny'), workdir, writers=[keeper, scalars_only]
  )
  return workdir, records, keeper, scalars_only


@pytest.fixture
def fake_run_dir(tmp_path):
  """A synthetic run record (`helpers.write_fake_run`, docs/run_record.md):
  2 seeds, 6 epochs, layers T1 and T2, every field and representation files."""
  return helpers.write_fake_run(tmp_path / 'run')[0]
