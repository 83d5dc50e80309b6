"""Calling a main in this process: its flags parsed from a command line
(`--config=NAME` resolved as the command does), restored afterwards."""

import sys

from absl import flags
from absl.testing import flagsaver
import pytest

from infoflow import configs


@pytest.fixture
def call_main(monkeypatch):
  """`call_main(module, *args)` runs `module.main` with the flags of
  `python -m launch.MODULE *args`; returns the SystemExit code (the one-line
  error) or None."""

  def call(module, *args):
    argv = configs.resolve_argv([module.__name__, *args])
    monkeypatch.setattr(sys, 'argv', argv)  # config_flags reads overrides there
    with flagsaver.flagsaver():
      try:
        module.main(flags.FLAGS(argv))
      except SystemExit as error:
        return error.code
    return None

  return call
