"""The progress lines of a run: epoch, losses, accuracies, elapsed time, ETA.

Written through absl logging (`infoflow.experiment.runner` reports; `launch.train` shows
them on stderr).
"""

from __future__ import annotations

import time

from absl import logging


class Progress:
  """One line per stretch of training: epoch, loss, accuracy, time and ETA.

  The ETA adds the remaining epochs at the measured training rate and the
  remaining analysed epochs at the measured analysis time per epoch (the two
  differ by orders of magnitude, and the analysed epochs are log-spaced).
  The first measurement of each includes compilation, so it is used only
  until a second one exists.
  """

  def __init__(self, start_epoch, num_epochs, num_analyses):
    self.start = time.time()
    self.epoch = start_epoch
    self.num_epochs = num_epochs
    self.analyses_left = num_analyses
    self.training = []  # (epochs, seconds) of each training call
    self.analysis = []  # (1, seconds) of each analysed epoch

  @staticmethod
  def _rate(calls):
    """Seconds per unit, leaving out the first (compiling) call if others
    exist."""
    counted = calls[1:] or calls
    count = sum(c for c, _ in counted)
    return sum(s for _, s in counted) / count if count else 0.0

  def trained(self, epochs, seconds):
    """Counts a training call of `epochs` epochs that took `seconds`."""
    self.epoch += epochs
    self.training.append((epochs, seconds))

  def analysed(self, seconds):
    """Counts an analysed epoch that took `seconds`."""
    self.analyses_left -= 1
    self.analysis.append((1, seconds))

  def eta(self) -> float:
    """Seconds left: remaining epochs and analyses at the measured rates."""
    return (
      self._rate(self.training) * (self.num_epochs - self.epoch)
      + self._rate(self.analysis) * self.analyses_left
    )

  def report(self, metrics):
    """Logs the line; `metrics`: {split: {metric: mean over seeds}}."""
    logging.info(
      'epoch %d/%d  train loss %.4f acc %.4f  test loss %.4f acc %.4f  elapsed %.0fs  ETA %.0fs',
      self.epoch,
      self.num_epochs,
      metrics['train']['loss'],
      metrics['train']['accuracy'],
      metrics['test']['loss'],
      metrics['test']['accuracy'],
      time.time() - self.start,
      self.eta(),
    )
