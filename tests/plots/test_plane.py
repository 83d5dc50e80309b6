"""Tests of the information-plane figures (infoflow.plots.plane) on
synthetic run records (`helpers.write_fake_run`)."""

import math

import helpers
import matplotlib

matplotlib.use('Agg')

import numpy as np
import pytest

from infoflow import plots
from infoflow import record

LAYERS = {'T1': 5, 'T2': 4, 'T3': 3}


@pytest.fixture(name='run')
def fixture_run(tmp_path):
  path = helpers.write_fake_run(tmp_path / 'run', num_seeds=3, layers=LAYERS)[0]
  return record.load_run(path)


def test_one_pair_of_axes_for_all_layers(run):
  """Every layer on one axes, one marker per layer in the legend, colour =
  epoch (the colour bar), min-max bars across the seeds."""
  fig = plots.plot_information_plane(run, units='nats')
  ax, colorbar = fig.axes
  assert colorbar.get_ylabel() == 'epoch'
  assert (ax.get_xlabel(), ax.get_ylabel()) == ('I(X;T) [nats]', 'I(T;Y) [nats]')
  legend = [t.get_text() for t in ax.get_legend().get_texts()]
  assert legend == ['T1 (d=5)', 'T2 (d=4)', 'T3 (d=3)', 'log m = H(X)']
  markers = {h.get_marker() for h in ax.get_legend().legend_handles[:3]}
  assert len(markers) == 3
  assert len(ax.collections) >= 3  # a scatter per layer (and the bars)
  assert 'min-max across seeds' in fig.get_suptitle()
  assert not ax.xaxis.get_major_formatter().get_useOffset()


def test_points_are_means_and_bars_the_seed_range(run):
  series = plots.information_plane_series(run, units='nats')
  assert list(series) == list(LAYERS)
  p = series['T2']
  by_seed = {
    s: [r['information']['T2']['mi_input'][0] for r in rs] for s, rs in run.by_seed().items()
  }
  values = np.array(list(by_seed.values()))
  np.testing.assert_allclose(p.x, values.mean(axis=0))
  np.testing.assert_allclose(p.x_low, values.min(axis=0))
  np.testing.assert_allclose(p.x_high, values.max(axis=0))
  bits = plots.information_plane_series(run)['T2']
  np.testing.assert_allclose(bits.y, p.y / math.log(2))


def test_one_seed_gets_stderr_bars_and_panels_stay(tmp_path):
  path = helpers.write_fake_run(tmp_path / 'one', num_seeds=1, layers=LAYERS)[0]
  run = record.load_run(path)
  p = plots.information_plane_series(run, units='nats')['T1']
  np.testing.assert_allclose(p.x_high - p.x, 0.02)  # the recorded stderr
  assert 'stderr' in plots.plot_information_plane(run).get_suptitle()
  panels = plots.plot_information_plane_panels(run)
  assert len(panels.axes) == len(LAYERS) + 1  # a panel a layer and the colour bar
  with pytest.raises(plots.NothingToPlot, match='mi_label'):
    plots.plot_information_plane([{'epoch': 0, 'seed': 0}])


def test_a_moving_ceiling_is_drawn_at_its_mean_with_its_range(run):
  """Issue 24: records whose `information_ceiling` moves (inputs drawn with
  replacement) get a dotted line at its mean and a grey band over its range;
  one ceiling everywhere gets the log m line there."""
  drawn = [dict(r, information_ceiling=7.7 + 0.01 * r['seed']) for r in run.records]
  (ax, _) = plots.plot_information_plane(drawn, units='nats').axes
  assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == 'H(X) of the drawn inputs'
  (line,) = [x for x in ax.get_lines() if x.get_linestyle() == ':']
  np.testing.assert_allclose(line.get_xdata(), np.mean([r['information_ceiling'] for r in drawn]))
  (band,) = ax.patches
  np.testing.assert_allclose([band.get_x(), band.get_x() + band.get_width()], [7.7, 7.72])
  fixed = [dict(r, information_ceiling=math.log(4096)) for r in run.records]
  (ax, _) = plots.plot_information_plane(fixed, units='nats').axes
  assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == 'log m = H(X)'
  (line,) = [x for x in ax.get_lines() if x.get_linestyle() == ':']
  np.testing.assert_allclose(line.get_xdata(), math.log(4096))
  assert not ax.patches
