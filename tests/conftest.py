"""Fixtures shared by several test files."""

import helpers
import pytest

from infoflow.experiment import runner


@pytest.fixture(scope='session')
def finished_run(tmp_path_factory):
  """(workdir, records) of a finished two-seed tiny run (helpers.tiny_config).

  Shared read-only: tests that change the run work on a copy.
  """
  workdir = tmp_path_factory.mktemp('full')
  records = runner.train_and_analyse(helpers.tiny_config(num_seeds=2), workdir)
  return workdir, records
