"""Tests of infoflow.plots and launch.plot on synthetic run records.

`write_fake_run` writes a run directory exactly in the format of
docs/run_record.md (the contract with launch.train), so these tests pin the
reader to the documented format rather than to the writer's code.
"""

import json
import math
import pathlib
import re
import subprocess
import sys

from absl import flags
from absl.testing import flagsaver
import matplotlib

matplotlib.use('Agg')

import numpy as np  # pylint: disable=g-import-not-at-top
import pytest  # pylint: disable=g-import-not-at-top

from infoflow import plots  # pylint: disable=g-import-not-at-top
from launch import plot as plot_cli  # pylint: disable=g-import-not-at-top

PNG_SIGNATURE = b'\x89PNG\r\n\x1a\n'
ROOT = pathlib.Path(__file__).resolve().parents[1]
CURVES = [
  'training_curves',
  'information_curves',
  'information_plane',
  'binned_entropy',
  'binned_mi_label',
  'clustering',
]


def _epochs(num_epochs):
  """``num_epochs`` distinct, roughly log-spaced epochs starting at 0."""
  epochs = [0]
  while len(epochs) < num_epochs:
    epochs.append(max(epochs[-1] + 1, int(round(epochs[-1] * 1.5))))
  return epochs


def _representations(labels, width, epoch, layer_index, rng):
  """Tanh representations whose classes move apart and tighten with epoch."""
  num_classes = int(labels.max()) + 1
  centres = np.random.default_rng(layer_index).normal(size=(num_classes, width))
  gain = 0.3 + math.log1p(epoch)
  spread = 1.0 / (1.0 + epoch)
  pre = centres[labels] + spread * rng.normal(size=(len(labels), width))
  return np.tanh(gain * pre).astype(np.float32)


def write_fake_run(
  path,
  num_epochs=6,
  num_seeds=2,
  layers=None,
  with_information=True,
  with_binning=True,
  with_clustering=True,
  with_representations=True,
  num_inputs=200,
  num_classes=2,
):
  """Writes a synthetic run record (docs/run_record.md) into ``path``.

  Every (epoch, seed) gets a metrics record; information (noisy net,
  ``with_information``) carries ``[nats, stderr]`` pairs; representation
  files are written for seed 0 at every analysed epoch.
  Returns the path and the analysed epochs.
  """
  path = pathlib.Path(path)
  layers = dict(layers or {'T1': 3, 'T2': 2})
  epochs = _epochs(num_epochs)
  bin_sizes = [0.01, 0.0667, 0.2]
  path.mkdir(parents=True, exist_ok=True)
  (path / 'config.json').write_text(
    json.dumps({'name': 'fake', 'beta': 0.005 if with_information else 0.0})
  )
  (path / 'run.json').write_text(
    json.dumps(
      {
        'config': 'fake',
        'data_source': 'synthetic (tests/test_plots.py)',
        'num_classes': num_classes,
        'beta': 0.005 if with_information else 0.0,
        'layers': layers,
        'estimated_layers': list(layers) if with_information else [],
        'num_eval_inputs': num_inputs,
        'analysis_epochs': epochs,
        'num_seeds': num_seeds,
        'num_replicas': 10,
      }
    )
  )
  log_m = math.log(num_inputs)
  lines = []
  for epoch in epochs:  # epoch-major, as a training loop writes them
    for seed in range(num_seeds):
      rng = np.random.default_rng(1000 * seed + epoch)
      decay = math.exp(-epoch / 8)
      split = lambda base: {  # pylint: disable=cell-var-from-loop
        'loss': base * (0.2 + decay),
        'accuracy': 1 - 0.5 * decay,
        'loss_noisy': base * (0.25 + decay),
        'accuracy_noisy': 0.98 - 0.5 * decay,
      }
      record = {
        'epoch': epoch,
        'seed': seed,
        'step': 10 * epoch,
        'wall_time': 0.5 * epoch,
        'train': split(0.69),
        'test': split(0.72),
      }
      if not with_information:
        for s in ('train', 'test'):
          del record[s]['loss_noisy'], record[s]['accuracy_noisy']
      if with_information:
        record['information'] = {
          n: {
            'mi_input': [log_m * (0.5 + 0.5 * decay) - 0.3 * i + 0.05 * rng.normal(), 0.02],
            'mi_label': [math.log(2) * (1 - 0.9 * decay) - 0.02 * i, 0.01],
            'entropy': [-10.0, 0.01],
            'conditional_entropy': [-15.0, 0.0],
          }
          for i, n in enumerate(layers)
        }
      if with_binning:
        record['binning'] = {'bin_sizes': bin_sizes}
        for i, n in enumerate(layers):
          record['binning'][n] = {
            'entropy': [log_m * (1 - b) * (0.6 + 0.4 * decay) - 0.2 * i for b in bin_sizes],
            'mi_label': [math.log(2) * (1 - decay) * (1 - b) for b in bin_sizes],
          }
      if with_clustering:
        # Deeper layers (larger i) cluster more.
        record['clustering'] = {
          n: {
            'within': 0.5 + 0.4 * (1 - decay) + 0.02 * i,
            'between': 0.1 * decay - 0.01 * i,
            'gap': 0.5 + 0.4 * (1 - decay) - 0.1 * decay + 0.03 * i,
            'scatter_ratio': (0.01 + decay) / (1 + i),
            'knn_agreement': 1 - 0.4 * decay / (1 + i),
            'num_clusters': int(num_inputs * decay / (1 + i)) + 2,
            'cluster_entropy': log_m * decay / (1 + i) + 0.1,
          }
          for i, n in enumerate(layers)
        }
      lines.append(json.dumps(record))
  (path / 'metrics.jsonl').write_text('\n'.join(lines) + '\n')
  if with_representations:
    folder = path / 'representations'
    folder.mkdir(exist_ok=True)
    labels = (np.arange(num_inputs) % num_classes).astype(np.int32)
    for epoch in epochs:
      rng = np.random.default_rng(epoch)
      arrays = {
        n: _representations(labels, w, epoch, i, rng) for i, (n, w) in enumerate(layers.items())
      }
      np.savez(folder / f'epoch_{epoch:06d}.npz', labels=labels, **arrays)
  return path, epochs


@pytest.fixture(name='run_dir')
def fixture_run_dir(tmp_path):
  return write_fake_run(tmp_path / 'run')[0]


def _assert_png(path):
  data = path.read_bytes()
  assert data[:8] == PNG_SIGNATURE, path
  assert len(data) > 1000, path


# ---------------------------------------------------------------- loader


def test_load_run_parses_records_and_groups_by_seed(run_dir):
  run = plots.load_run(run_dir)
  epochs = _epochs(6)
  assert len(run.records) == 6 * 2
  assert run.seeds == [0, 1]
  groups = run.by_seed()
  assert sorted(groups) == [0, 1]
  for seed, records in groups.items():
    assert [r['epoch'] for r in records] == epochs
    assert all(r['seed'] == seed for r in records)
  assert run.layers == {'T1': 3, 'T2': 2}
  assert run.layer_order == ['T1', 'T2']
  assert run.num_inputs == 200
  assert run.config['name'] == 'fake'
  assert run.name == 'fake (run)'
  assert run.representation_epochs() == epochs
  arrays = run.load_representations(epochs[-1])
  assert sorted(arrays) == ['T1', 'T2', 'labels']
  assert arrays['T1'].shape == (200, 3)
  assert arrays['labels'].dtype == np.int32


@pytest.mark.parametrize(
  'name, num_conv, expected',
  [
    ('noise_0', None, 'T1'),
    ('noise_4', None, 'T5'),
    ('noise_10', None, 'T11'),
    ('noise_0', 2, 'conv1'),
    ('noise_1', 2, 'conv2'),
    ('noise_2', 2, 'dense3'),
    ('noise_3', 0, 'dense4'),
    # Current names, and names not of the old form, are kept.
    ('T1', None, 'T1'),
    ('dense3', 2, 'dense3'),
    ('labels', 2, 'labels'),
    ('block/noise_1', None, 'block/noise_1'),
    ('noise_', None, 'noise_'),
  ],
)
def test_current_layer_name(name, num_conv, expected):
  assert plots.current_layer_name(name, num_conv) == expected


def _make_old(run_dir, model=None):
  """Rewrites a fake run's config with ``model``, as an old run had it."""
  config = json.loads((run_dir / 'config.json').read_text())
  if model:
    config['model'] = model
  (run_dir / 'config.json').write_text(json.dumps(config))
  return run_dir


@pytest.mark.parametrize(
  'model, new',
  [
    (None, ['T1', 'T2', 'T3']),
    ({'kind': 'mlp', 'widths': [3, 2, 2]}, ['T1', 'T2', 'T3']),
    ({'kind': 'cnn', 'conv_features': [8, 16], 'dense_widths': [2]}, ['conv1', 'conv2', 'dense3']),
  ],
)
def test_old_layer_names_are_read_under_current_ones(tmp_path, caplog, model, new):
  old = ['noise_0', 'noise_1', 'noise_2']
  run_dir, epochs = write_fake_run(
    tmp_path / 'run', num_epochs=3, num_seeds=1, layers=dict(zip(old, (3, 2, 2)))
  )
  _make_old(run_dir, model)
  run = plots.load_run(run_dir)
  assert list(run.layers) == run.layer_order == new
  assert run.meta['estimated_layers'] == new
  for r in run.records:
    for field in ('information', 'clustering'):
      assert list(r[field]) == new
    assert list(r['binning']) == ['bin_sizes'] + new
  assert sorted(run.load_representations(epochs[-1])) == sorted(['labels'] + new)
  written, _ = plot_cli.write_figures(run_dir, layer=new[-1], dpi=30)
  assert {f'cosine_similarity_{new[-1]}', f'scatter_{new[-1]}'} <= {p.stem for p in written}
  mapping = ', '.join(f'{o} -> {n}' for o, n in zip(old, new))
  assert caplog.text.count('uses old layer names') == 1  # once per run
  assert mapping in caplog.text


def test_load_run_tolerates_torn_last_line_and_duplicates(run_dir):
  metrics = run_dir / 'metrics.jsonl'
  lines = metrics.read_text().splitlines()
  rewritten = dict(json.loads(lines[0]), step=-1)  # resumed run: same epoch
  metrics.write_text('\n'.join(lines + [json.dumps(rewritten)]) + '\n{"epoch": 99, "se')
  run = plots.load_run(run_dir)
  assert len(run.records) == 12
  assert run.by_seed()[0][0]['step'] == -1  # the last record wins


def test_load_run_rejects_bad_line_with_its_number(run_dir):
  metrics = run_dir / 'metrics.jsonl'
  lines = metrics.read_text().splitlines()
  metrics.write_text('\n'.join([lines[0], '{oops', lines[1]]) + '\n')
  with pytest.raises(plots.RunRecordError, match='line 2: invalid JSON'):
    plots.load_run(run_dir)


@pytest.mark.parametrize(
  'case, message',
  [
    ('missing_dir', 'does not exist'),
    ('missing_metrics', 'has no metrics.jsonl'),
    ('empty_metrics', 'is empty: it has no records'),
  ],
)
def test_load_run_errors_name_the_directory(tmp_path, case, message):
  workdir = tmp_path / 'somerun'
  if case != 'missing_dir':
    workdir.mkdir()
  if case == 'empty_metrics':
    (workdir / 'metrics.jsonl').write_text('\n')
  with pytest.raises(plots.RunRecordError, match=message) as info:
    plots.load_run(workdir)
  assert str(workdir) in str(info.value)


def test_run_in_progress_without_run_json(tmp_path):
  run_dir, epochs = write_fake_run(tmp_path / 'run', num_epochs=4)
  (run_dir / 'run.json').unlink()
  (run_dir / 'config.json').unlink()
  # Seed 0 is one epoch ahead of seed 1, with non-finite and null values.
  late = {
    'epoch': epochs[-1] + 5,
    'seed': 0,
    'information': {'T1': {'mi_input': [None, None]}, 'T2': {'mi_input': [1.0, float('nan')]}},
    'clustering': {'T2': {'scatter_ratio': float('inf')}},
  }
  with (run_dir / 'metrics.jsonl').open('a') as f:
    f.write(json.dumps(late) + '\n')  # writes NaN / Infinity / null
  run = plots.load_run(run_dir)
  assert run.meta == {} and run.layers == {} and run.num_inputs is None
  assert run.layer_order == ['T1', 'T2']
  assert run.name == 'run'
  assert len(run.by_seed()[0]) == 5 and len(run.by_seed()[1]) == 4
  for plot in (
    plots.plot_information_curves,
    plots.plot_clustering_curves,
    plots.plot_training_curves,
    plots.plot_information_plane,
  ):
    plot(run).savefig(tmp_path / 'f.png', dpi=30)


# ---------------------------------------------------------------- command


def test_write_figures_png_full_run(run_dir):
  written, skipped = plot_cli.write_figures(run_dir)
  names = sorted(p.name for p in written)
  expected = sorted([f'{n}.png' for n in CURVES] + ['cosine_similarity_T2.png', 'scatter_T2.png'])
  assert names == expected
  assert not skipped
  for path in written:
    assert path.parent == run_dir / 'figures'
    _assert_png(path)


def _small_run(path, **kwargs):
  """A run with fewer figures, for the tests of options (speed)."""
  return write_fake_run(path, num_seeds=1, with_binning=False, with_clustering=False, **kwargs)[0]


@pytest.mark.parametrize('fmt, magic', [('svg', b'<?xml'), ('pdf', b'%PDF')])
def test_write_figures_svg_pdf(tmp_path, fmt, magic):
  run_dir = _small_run(tmp_path / 'run')
  written, _ = plot_cli.write_figures(run_dir, tmp_path / 'out', fmt=fmt)
  assert len(written) == 5
  for path in written:
    assert path.suffix == f'.{fmt}' and path.parent == tmp_path / 'out'
    assert path.read_bytes().startswith(magic)


def test_deterministic_run_skips_information_figures(tmp_path):
  run_dir, _ = write_fake_run(tmp_path / 'det', num_seeds=1, with_information=False)
  written, skipped = plot_cli.write_figures(run_dir, dpi=50)
  names = {p.stem for p in written}
  assert names == {
    'training_curves',
    'binned_entropy',
    'binned_mi_label',
    'clustering',
    'cosine_similarity_T2',
    'scatter_T2',
  }
  assert set(skipped) == {'information_curves', 'information_plane'}
  assert 'information' in skipped['information_curves']
  for path in written:
    _assert_png(path)


def test_run_without_representations_skips_them(tmp_path):
  run_dir = _small_run(tmp_path / 'run', with_representations=False)
  written, skipped = plot_cli.write_figures(run_dir, dpi=50)
  assert {p.stem for p in written} == {'training_curves', 'information_curves', 'information_plane'}
  assert {'cosine_similarity', 'scatter'} <= set(skipped)
  assert 'no representation files' in skipped['scatter']


def test_layer_and_epochs_choose_representation_figures(tmp_path, caplog):
  run_dir = _small_run(tmp_path / 'run', with_information=False)
  written, _ = plot_cli.write_figures(run_dir, layer='T1', dpi=50, epochs=[1, 5, 9], units='nats')
  assert {'cosine_similarity_T1', 'scatter_T1'} <= {p.stem for p in written}
  assert 'using epoch' in caplog.text  # 9 has no file: nearest is used
  with pytest.raises(
    plots.UnknownLayerError,
    match=r"unknown layer 'T9'; the layers of this run: "
    r'T1, T2\.',
  ):
    plot_cli.write_figures(run_dir, layer='T9')


def _main(**flag_values):
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()
  with flagsaver.flagsaver(**flag_values):
    plot_cli.main(['plot'])


def test_main_prints_files_written(tmp_path, capsys):
  run_dir = _small_run(tmp_path / 'run', with_information=False)
  _main(workdir=str(run_dir), format='png', dpi=50)
  out = capsys.readouterr().out
  assert f'wrote 3 figure(s) to {run_dir / "figures"}' in out
  assert 'scatter_T2.png' in out
  assert 'skipped information_curves: no "information" field' in out


@pytest.mark.parametrize(
  'case, message', [('missing_dir', 'does not exist'), ('empty_metrics', 'is empty')]
)
def test_main_exits_with_clear_error(tmp_path, case, message):
  workdir = tmp_path / 'nope'
  if case == 'empty_metrics':
    workdir.mkdir()
    (workdir / 'metrics.jsonl').write_text('')
  with pytest.raises(SystemExit) as info:
    _main(workdir=str(workdir))
  assert message in str(info.value.code) and str(workdir) in str(info.value.code)


def test_command_line_exit_status(tmp_path):
  result = subprocess.run(
    [sys.executable, '-m', 'launch.plot', f'--workdir={tmp_path}'],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=120,
    check=False,
  )
  assert result.returncode != 0
  assert f'{tmp_path} has no metrics.jsonl' in result.stderr


# ---------------------------------------------------------------- figures


def test_plot_functions_accept_plain_records(run_dir):
  records = plots.load_run(run_dir).records
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


def test_bits_are_nats_over_ln2(run_dir):
  run = plots.load_run(run_dir)
  bits = plots.plot_information_curves(run, units='bits')
  nats = plots.plot_information_curves(run, units='nats')
  y_bits = bits.axes[0].get_lines()[0].get_ydata()
  y_nats = nats.axes[0].get_lines()[0].get_ydata()
  np.testing.assert_allclose(y_bits, y_nats / math.log(2))


@pytest.mark.parametrize(
  'width, projection', [(1, 'class (jittered)'), (3, '3d'), (6, 'principal components')]
)
def test_scatter_handles_every_width(tmp_path, width, projection):
  run_dir, _ = write_fake_run(tmp_path / 'run', num_epochs=3, num_seeds=1, layers={'T1': width})
  fig = plots.plot_scatter_layers(plots.load_run(run_dir))
  assert len(fig.axes) == 3
  if projection == '3d':
    assert fig.axes[0].name == '3d'
  elif width == 1:
    assert fig.axes[0].get_ylabel() == projection
  else:
    assert projection in fig.get_suptitle()


def test_cosine_matrix_is_class_sorted_and_subsampled(tmp_path):
  run_dir, epochs = write_fake_run(tmp_path / 'run', num_epochs=4, num_inputs=300, num_classes=3)
  fig = plots.plot_cosine_similarity_matrices(
    plots.load_run(run_dir), max_points=90, epochs=[epochs[-1]]
  )
  image = fig.axes[0].get_images()[0].get_array()
  assert image.shape == (90, 90)
  assert '90 of 300 inputs' in fig.get_suptitle()
  # Late in training classes are tight: within-class blocks near 1.
  assert np.mean(image[:30, :30]) > 0.9


def test_stratified_subsample():
  labels = np.repeat([0, 1, 2], [700, 200, 100])
  keep = plots.stratified_subsample(labels, 100, seed=3)
  assert len(keep) == 100 and np.all(np.diff(keep) > 0)
  assert np.bincount(labels[keep]).tolist() == [70, 20, 10]
  np.testing.assert_array_equal(keep, plots.stratified_subsample(labels, 100, 3))
  np.testing.assert_array_equal(plots.stratified_subsample(labels, 5000), np.arange(1000))


def test_pick_layer():
  arrays = {
    'labels': np.zeros(4),
    'a': np.zeros((4, 5)),
    'b': np.zeros((4, 2)),
    'c': np.zeros((4, 1)),
  }
  assert plots.pick_layer(arrays) == 'b'  # deepest of width > 1
  assert plots.pick_layer(arrays, narrowest=True) == 'c'
  assert plots.pick_layer(arrays, order=['c', 'b', 'a']) == 'a'
  assert plots.pick_layer(arrays, 'c') == 'c'
  with pytest.raises(plots.UnknownLayerError, match="unknown layer 'z'; the layers: a, b, c"):
    plots.pick_layer(arrays, 'z')
  # A layer of the net that has no saved representations (too wide).
  with pytest.raises(
    plots.UnknownLayerError, match="'w' has no saved representations.*saved: a, b"
  ):
    plots.pick_layer(arrays, 'w', order=['w', 'a', 'b', 'c'])


def test_representation_figures_accept_mappings_and_feature_maps():
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(3), 20).astype(np.int32)
  snapshots = {
    e: {'labels': labels, 'conv': rng.normal(size=(60, 2, 2, 3)).astype(np.float32)}
    for e in (0, 10)
  }
  fig = plots.plot_cosine_similarity_matrices(snapshots, title='maps')
  assert fig.axes[0].get_images()[0].get_array().shape == (60, 60)
  assert fig.get_suptitle().startswith('maps: conv')
  fig = plots.plot_scatter_layers(snapshots)
  assert 'conv (d=12), first two principal components' in fig.get_suptitle()
  assert snapshots[0]['conv'].ndim == 4  # the input is not modified


def test_pick_epochs():
  assert plots.pick_epochs([0, 1, 3, 10, 30]) == [0, 3, 30]
  assert plots.pick_epochs([0, 1, 3, 10, 30], [10, 29, 1000]) == [10, 30]
  with pytest.raises(plots.NothingToPlot, match='no representation files'):
    plots.pick_epochs([])


# ---------------------------------------------------- bad input and faults


def test_truncated_representation_file_is_named_and_skipped(tmp_path, caplog):
  """Item 11: the figures that need a truncated npz are skipped with a
  warning naming it; the others are written; the command exits 0."""
  run_dir, _ = write_fake_run(tmp_path / 'run', num_seeds=1)
  last = sorted((run_dir / 'representations').iterdir())[-1]
  last.write_bytes(last.read_bytes()[:100])
  written, skipped = plot_cli.write_figures(run_dir, dpi=50)
  assert sorted(p.stem for p in written) == sorted(CURVES)
  assert set(skipped) == {'cosine_similarity_T2', 'scatter_T2'}
  for stem in ('cosine_similarity_T2', 'scatter_T2'):
    assert f'{last} is not a readable .npz file' in skipped[stem]
  assert f'skipping scatter_T2: {last}' in caplog.text
  with pytest.raises(plots.RunRecordError, match=re.escape(str(last))):
    plots.load_run(run_dir).load_representations(int(last.stem[6:]))
  # Every file unreadable: both figures are skipped up front, with the name.
  for path in (run_dir / 'representations').iterdir():
    path.write_bytes(b'PK\x03\x04 torn')
  first = sorted((run_dir / 'representations').iterdir())[0]
  reasons = {
    stem: make
    for stem, make in plot_cli.figure_makers(plots.load_run(run_dir))
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
  with pytest.raises(plots.RunRecordError, match=f'{a_file} is a file, not a run directory'):
    plots.load_run(a_file)
  with pytest.raises(plot_cli.OutputError, match=f'cannot create the output directory {a_file}'):
    plot_cli.write_figures(run_dir, a_file / 'figures')
  with pytest.raises(SystemExit) as info:
    _main(workdir=str(run_dir), out=str(a_file / 'figures'))
  assert str(info.value.code).startswith('launch.plot: error: cannot create')
