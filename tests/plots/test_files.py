"""Tests of the figure files of a run (infoflow.plots.files): on synthetic run
records (`helpers.write_fake_run`, in the format of docs/run_record.md, so the
reader is pinned to the documented format rather than to the writer's code)
and on a real run's records."""

import re

import helpers
import matplotlib

matplotlib.use('Agg')

import pytest

from infoflow import plots
from infoflow import record
from infoflow.plots import files as figure_files

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
CURVES = [
  'training_curves',
  'information_curves',
  'information_plane',
  'information_plane_panels',
  'binned_entropy',
  'binned_mi_label',
  'clustering',
]


def _assert_png(path):
  data = path.read_bytes()
  assert data[:8] == PNG_SIGNATURE, path
  assert len(data) > 1000, path


def test_write_figures_png_full_run(fake_run_dir):
  written, skipped = figure_files.write_figures(fake_run_dir)
  names = sorted(p.name for p in written)
  expected = sorted([f'{n}.png' for n in CURVES] + ['cosine_similarity_T2.png', 'scatter_T2.png'])
  assert names == expected
  assert not skipped
  for path in written:
    assert path.parent == fake_run_dir / 'figures'
    _assert_png(path)


def _small_run(path, **kwargs):
  """A run with fewer figures, for the tests of options (speed)."""
  return helpers.write_fake_run(
    path, num_seeds=1, with_binning=False, with_clustering=False, **kwargs
  )[0]


@pytest.mark.parametrize('fmt, magic', [('svg', b'<?xml'), ('pdf', b'%PDF')])
def test_write_figures_svg_pdf(tmp_path, fmt, magic):
  run_dir = _small_run(tmp_path / 'run')
  written, _ = figure_files.write_figures(run_dir, tmp_path / 'out', fmt=fmt)
  assert len(written) == 6
  for path in written:
    assert path.suffix == f'.{fmt}' and path.parent == tmp_path / 'out'
    assert path.read_bytes().startswith(magic)


def test_deterministic_run_skips_information_figures(tmp_path):
  run_dir, _ = helpers.write_fake_run(tmp_path / 'det', num_seeds=1, with_information=False)
  written, skipped = figure_files.write_figures(run_dir, dpi=50)
  names = {p.stem for p in written}
  assert names == {
    'training_curves',
    'binned_entropy',
    'binned_mi_label',
    'clustering',
    'cosine_similarity_T2',
    'scatter_T2',
  }
  assert set(skipped) == {'information_curves', 'information_plane', 'information_plane_panels'}
  assert 'information' in skipped['information_curves']
  for path in written:
    _assert_png(path)


def test_run_without_representations_skips_them(tmp_path):
  run_dir = _small_run(tmp_path / 'run', with_representations=False)
  written, skipped = figure_files.write_figures(run_dir, dpi=50)
  assert {p.stem for p in written} == {
    'training_curves',
    'information_curves',
    'information_plane',
    'information_plane_panels',
  }
  assert {'cosine_similarity', 'scatter'} <= set(skipped)
  assert 'no representation files' in skipped['scatter']


def test_layer_and_epochs_choose_representation_figures(tmp_path, caplog):
  run_dir = _small_run(tmp_path / 'run', with_information=False)
  written, _ = figure_files.write_figures(
    run_dir, layer='T1', dpi=50, epochs=[1, 5, 9], units='nats'
  )
  assert {'cosine_similarity_T1', 'scatter_T1'} <= {p.stem for p in written}
  assert 'using epoch' in caplog.text  # 9 has no file: nearest is used
  with pytest.raises(
    plots.UnknownLayerError,
    match=r"unknown layer 'T9'; the layers of this run: "
    r'T1, T2\.',
  ):
    figure_files.write_figures(run_dir, layer='T9')


def test_truncated_representation_file_is_named_and_skipped(tmp_path, caplog):
  """Item 11: the figures that need a truncated npz are skipped with a
  warning naming it; the others are written; the command exits 0."""
  run_dir, _ = helpers.write_fake_run(tmp_path / 'run', num_seeds=1)
  last = sorted((run_dir / 'representations').iterdir())[-1]
  last.write_bytes(last.read_bytes()[:100])
  written, skipped = figure_files.write_figures(run_dir, dpi=50)
  assert sorted(p.stem for p in written) == sorted(CURVES)
  assert set(skipped) == {'cosine_similarity_T2', 'scatter_T2'}
  for stem in ('cosine_similarity_T2', 'scatter_T2'):
    assert f'{last} is not a readable .npz file' in skipped[stem]
  assert f'skipping scatter_T2: {last}' in caplog.text
  with pytest.raises(record.RunRecordError, match=re.escape(str(last))):
    record.load_run(run_dir).load_representations(int(last.stem[6:]))
  # Every file unreadable: both figures are skipped up front, with the name.
  for path in (run_dir / 'representations').iterdir():
    path.write_bytes(b'PK\x03\x04 torn')
  first = sorted((run_dir / 'representations').iterdir())[0]
  reasons = {
    stem: make
    for stem, make in figure_files.figure_makers(record.load_run(run_dir))
    if isinstance(make, str)
  }
  assert set(reasons) == {'cosine_similarity', 'scatter'}
  assert f'{first} is not a readable .npz file' in reasons['scatter']


def test_workdir_or_out_that_is_a_file(tmp_path):
  """Item 12: a workdir or --out that is a file: a one-line error naming
  it, no traceback."""
  run_dir = _small_run(tmp_path / 'run', with_information=False)
  a_file = tmp_path / 'file'
  a_file.write_text('x')
  with pytest.raises(record.RunRecordError, match=f'{a_file} is a file, not a run directory'):
    record.load_run(a_file)
  with pytest.raises(
    figure_files.OutputError, match=f'cannot create the output directory {a_file}'
  ):
    figure_files.write_figures(run_dir, a_file / 'figures')


def test_figures_of_a_real_run(finished_run, tmp_path):
  workdir, _ = finished_run
  written, skipped = figure_files.write_figures(workdir, tmp_path / 'figures')
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


def test_output_path_keeps_every_file_inside_out(tmp_path):
  """Issue 22 row 21: a file name with '..', or a link planted in the output
  directory, cannot lead a write outside it."""
  out = tmp_path / 'out'
  out.mkdir()
  assert figure_files.output_path(out, 'scatter_T2.png') == out / 'scatter_T2.png'
  (out / 'scatter_x').mkdir()
  (out / 'link.png').symlink_to(tmp_path / 'victim.png')
  for name in ('scatter_x/../../PWNED.png', '../PWNED.png', 'link.png', '.'):
    with pytest.raises(figure_files.OutputError, match='outside the output directory'):
      figure_files.output_path(out, name)


@pytest.mark.parametrize('animate', [False, True])
def test_unsafe_layer_name_in_an_npz_is_refused(tmp_path, animate):
  """Issue 22 row 21: a representation file whose layer key climbs out of
  the figures folder (`x/../../../PWNED`): the record is refused, naming the
  file and the name, and no figure is written (it used to write
  tmp_path/PWNED.png)."""
  run_dir = _small_run(tmp_path / 'run', num_epochs=2)
  bad = 'x/../../../PWNED'
  helpers.plant_layer_name(run_dir, bad, in_run_json=False)
  first = sorted((run_dir / 'representations').iterdir())[0]
  with pytest.raises(record.RunRecordError, match=re.escape(f"{first}: layer name '{bad}'")):
    figure_files.write_figures(run_dir, dpi=30, animate=animate)
  assert not [p for p in tmp_path.rglob('*') if p.is_file() and p.suffix in ('.png', '.gif')]


def test_figures_folder_linked_out_of_the_run_is_refused(tmp_path):
  """Issue 22 row 21: a run record whose figures/ is a link to elsewhere:
  the default output directory must lie inside the run directory."""
  run_dir = _small_run(tmp_path / 'run', num_epochs=2, with_representations=False)
  elsewhere = tmp_path / 'elsewhere'
  elsewhere.mkdir()
  (run_dir / 'figures').symlink_to(elsewhere)
  with pytest.raises(figure_files.OutputError, match=f'outside the output directory {run_dir}'):
    figure_files.write_figures(run_dir, dpi=30)
  assert not list(elsewhere.iterdir())


@pytest.mark.parametrize('dpi', [0, 9, 1001, 100_000, True, 12.5, '120'])
def test_dpi_out_of_range_is_refused_before_drawing(tmp_path, dpi):
  """Issue 22 row 18: dpi 0 (ValueError deep in matplotlib) or 100000 (a
  MemoryError) is refused up front, naming the range."""
  with pytest.raises(ValueError, match=f'dpi must be an integer from 10 to 1000; got {dpi!r}'):
    figure_files.write_figures(tmp_path / 'no_run', dpi=dpi)
  assert figure_files.check_dpi(10) == 10 and figure_files.check_dpi(1000) == 1000
