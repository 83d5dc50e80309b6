"""Tests of the plot command (launch.plot) on a real run's records; those on
synthetic records are in test_plots.py."""


def test_plot_command_on_a_real_run(finished_run, tmp_path):
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use('Agg')
  from launch import plot  # pylint: disable=g-import-not-at-top

  workdir, _ = finished_run
  written, skipped = plot.write_figures(workdir, tmp_path / 'figures')
  stems = {p.stem for p in written}
  for expected in (
    'training_curves',
    'information_curves',
    'information_plane',
    'binned_entropy',
    'clustering',
  ):
    assert expected in stems, (expected, skipped)
  assert any(s.startswith('cosine_similarity') for s in stems)
  assert any(s.startswith('scatter') for s in stems)
  for path in written:
    assert path.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert path.stat().st_size > 1000
