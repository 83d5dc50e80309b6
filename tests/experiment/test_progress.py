"""Tests of the progress estimate (infoflow.experiment.progress)."""

import pytest

from infoflow.experiment import progress as progress_lib


def test_progress_eta_adds_training_and_analysis_rates():
  progress = progress_lib.Progress(0, 1000, num_analyses=5)
  assert progress.eta() == 0.0  # nothing measured yet
  progress.analysed(10.0)  # 4 analyses left at 10 s each
  progress.trained(100, 2.0)  # 900 epochs left at 0.02 s each
  assert progress.eta() == pytest.approx(4 * 10.0 + 900 * 0.02)
  # Later calls replace the first (compiling) ones in the rates.
  progress.analysed(2.0)  # 3 left at 2 s each
  progress.trained(100, 1.0)  # 800 left at 0.01 s each
  assert progress.eta() == pytest.approx(3 * 2.0 + 800 * 0.01)
  progress.trained(100, 3.0)  # later calls average: 0.02 s each
  assert progress.eta() == pytest.approx(3 * 2.0 + 700 * 0.02)
