"""Tests of infoflow.plots.curves on synthetic run records
(`helpers.write_fake_run`)."""

import math

import matplotlib

matplotlib.use('Agg')

import numpy as np
import pytest

from infoflow import plots
from infoflow import record


def test_plot_functions_accept_plain_records(fake_run_dir):
  records = record.load_run(fake_run_dir).records
  fig = plots.plot_information_curves(records, units='nats')
  assert [ax.get_ylabel() for ax in fig.axes] == ['I(X;T_l) [nats]', 'I(T_l;Y) [nats]']
  assert 'min-max across seeds' in fig.get_suptitle()
  one_seed = [r for r in records if r['seed'] == 0]
  fig = plots.plot_information_curves(one_seed, title='x')
  assert fig.axes[0].get_ylabel() == 'I(X;T_l) [bits]'
  assert fig.get_suptitle().startswith('x: ') and 'stderr' in (fig.get_suptitle())
  fig = plots.plot_information_plane(records)
  assert fig.axes[-1].get_ylabel() == 'epoch'  # the colour bar
  with pytest.raises(plots.NothingToPlot, match='information'):
    plots.plot_information_curves([{'epoch': 0, 'seed': 0}])


def test_bits_are_nats_over_ln2(fake_run_dir):
  run = record.load_run(fake_run_dir)
  bits = plots.plot_information_curves(run, units='bits')
  nats = plots.plot_information_curves(run, units='nats')
  y_bits = bits.axes[0].get_lines()[0].get_ydata()
  y_nats = nats.axes[0].get_lines()[0].get_ydata()
  np.testing.assert_allclose(y_bits, y_nats / math.log(2))
