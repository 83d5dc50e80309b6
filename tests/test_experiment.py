"""Tests of the experiment set-up (infoflow.experiment.setup)."""

import numpy as np

from infoflow.experiment import setup as experiment


def test_analysis_epochs_are_log_spaced():
  epochs = experiment.analysis_epochs(10_000, 90)
  assert epochs[0] == 0 and epochs[-1] == 10_000
  assert 80 <= len(epochs) <= 91
  assert epochs == sorted(set(epochs))
  ratios = np.diff(np.log(np.array(epochs[20:], float)))
  assert ratios.max() < 3 * ratios.min()
