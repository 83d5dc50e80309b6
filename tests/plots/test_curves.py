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


def _dotted(fig):
  return [line for line in fig.axes[0].get_lines() if line.get_linestyle() == ':']


def test_the_ceiling_line_is_the_records_information_ceiling(fake_run_dir):
  """Issue 24: records without `information_ceiling` (older runs) keep the
  line at log m of run.json; one ceiling everywhere draws it there; a
  ceiling that moves (inputs drawn with replacement) is drawn at its mean
  over the seeds at each epoch."""
  run = record.load_run(fake_run_dir)
  (line,) = _dotted(plots.plot_information_curves(run, units='nats'))
  assert line.get_label() == 'log m = H(X)'
  np.testing.assert_allclose(line.get_ydata(), math.log(run.num_inputs))
  fixed = [dict(r, information_ceiling=math.log(4096)) for r in run.records]
  (line,) = _dotted(plots.plot_information_curves(fixed, units='nats'))
  assert line.get_label() == 'log m = H(X)'
  np.testing.assert_allclose(line.get_ydata(), math.log(4096))
  drawn = [
    dict(r, information_ceiling=7.74 + 0.001 * r['epoch'] % 0.02 + 0.004 * r['seed'])
    for r in run.records
  ]
  (line,) = _dotted(plots.plot_information_curves(drawn, units='bits'))
  assert line.get_label() == 'H(X) of the drawn inputs'
  epochs = sorted({r['epoch'] for r in drawn})
  mean = [np.mean([r['information_ceiling'] for r in drawn if r['epoch'] == e]) for e in epochs]
  np.testing.assert_allclose(line.get_xdata(), epochs)
  np.testing.assert_allclose(line.get_ydata(), np.array(mean) / math.log(2))


def _reference():
  """Another run's curves (as the authors' saved run is drawn): one seed."""
  return plots.Reference(
    'authors',
    [
      {
        'epoch': e,
        'information': {'T1': {'mi_input': [4.0, None]}, 'T9': {'mi_input': [1.0, None]}},
        'train': {'loss': 0.5, 'accuracy': 0.9},
        'test': {'loss': 0.6, 'accuracy': 0.8},
      }
      for e in (1, 10, 100)
    ],
  )


def test_reference_curves_are_dashed_and_replica_gaps_hollow(fake_run_dir):
  records = record.load_run(fake_run_dir).records
  for r in records:  # T2 of seed 1 at epoch 0: full R and R/2 far apart
    for n, entry in r['information'].items():
      gap = 0.5 if (n, r['seed'], r['epoch']) == ('T2', 1, 0) else 0.0
      entry['mi_input_half_replicas'] = [entry['mi_input'][0] - gap, 0.02]
  fig = plots.plot_information_curves(records, units='nats', reference=_reference())
  ax = fig.axes[0]
  dashed = [line for line in ax.get_lines() if line.get_linestyle() == '--']
  assert len(dashed) == 1  # T1 only: the figure has no T9
  np.testing.assert_allclose(dashed[0].get_ydata(), [4.0, 4.0, 4.0])
  (hollow,) = [p for p in ax.collections if len(p.get_offsets()) and not len(p.get_facecolor())]
  (t2_epoch0,) = [r for r in records if (r['seed'], r['epoch']) == (1, 0)]
  np.testing.assert_allclose(
    hollow.get_offsets(), [[0, t2_epoch0['information']['T2']['mi_input'][0]]]
  )
  labels = [t.get_text() for t in fig.legends[0].get_texts()]
  assert labels[-2:] == ['authors', plots.curves.REPLICA_GAP_LABEL]
  fig = plots.plot_information_curves(records, units='nats')
  assert not [line for line in fig.axes[0].get_lines() if line.get_linestyle() == '--']


def test_training_reference_dashed_noisy_dotted(fake_run_dir):
  fig = plots.plot_training_curves(record.load_run(fake_run_dir), reference=_reference())
  styles = {line.get_label(): line.get_linestyle() for line in fig.axes[1].get_lines()}
  assert styles['train, authors (noise-free)'] == '--' and styles['train, noisy'] == ':'
  assert styles['test, noise-free'] == '-'
  assert 'dashed: authors' in fig.get_suptitle()


def test_clustering_figure_shows_the_packed_clusters(fake_run_dir):
  records = record.load_run(fake_run_dir).records
  for r in records:
    for entry in r['clustering'].values():
      entry.update(packed_clusters=7, packed_cluster_entropy=math.log(7))
  fig = plots.plot_clustering_curves(records, units='bits')
  titles = {ax.get_title(): ax for ax in fig.axes}
  panel = titles['entropy of cluster sizes, packing (packed_cluster_entropy)']
  np.testing.assert_allclose(panel.get_lines()[0].get_ydata(), math.log2(7))  # in bits
  assert 'distinguishable clusters, packing (packed_clusters)' in titles
