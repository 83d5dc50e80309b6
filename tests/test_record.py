"""Tests of infoflow.record: writing run records, loading them
(docs/run_record.md; synthetic records from `helpers.write_fake_run`, so the
reader is pinned to the documented format) and mapping old layer names."""

import dataclasses
import json
import math
import re

import helpers
import matplotlib

matplotlib.use('Agg')

import numpy as np
import pytest

import infoflow
from infoflow import models
from infoflow import plots
from infoflow import record
from infoflow.plots import files as figure_files


def test_load_run_parses_records_and_groups_by_seed(fake_run_dir):
  run = record.load_run(fake_run_dir)
  epochs = helpers.fake_run_epochs(6)
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
  assert record.current_layer_name(name, num_conv) == expected


def _make_old(fake_run_dir, model=None):
  """Rewrites a fake run's config with ``model``, as an old run had it."""
  config = json.loads((fake_run_dir / 'config.json').read_text())
  if model:
    config['model'] = model
  (fake_run_dir / 'config.json').write_text(json.dumps(config))
  return fake_run_dir


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
  run_dir, epochs = helpers.write_fake_run(
    tmp_path / 'run', num_epochs=3, num_seeds=1, layers=dict(zip(old, (3, 2, 2)))
  )
  _make_old(run_dir, model)
  run = record.load_run(run_dir)
  assert list(run.layers) == run.layer_order == new
  assert run.meta['estimated_layers'] == new
  for r in run.records:
    for field in ('information', 'clustering'):
      assert list(r[field]) == new
    assert list(r['binning']) == ['bin_sizes'] + new
  assert sorted(run.load_representations(epochs[-1])) == sorted(['labels'] + new)
  written, _ = figure_files.write_figures(run_dir, layer=new[-1], dpi=30)
  assert {f'cosine_similarity_{new[-1]}', f'scatter_{new[-1]}'} <= {p.stem for p in written}
  mapping = ', '.join(f'{o} -> {n}' for o, n in zip(old, new))
  assert caplog.text.count('uses old layer names') == 1  # once per run
  assert mapping in caplog.text


def test_load_run_tolerates_torn_last_line_and_duplicates(fake_run_dir):
  metrics = fake_run_dir / 'metrics.jsonl'
  lines = metrics.read_text().splitlines()
  rewritten = dict(json.loads(lines[0]), step=-1)  # resumed run: same epoch
  metrics.write_text('\n'.join(lines + [json.dumps(rewritten)]) + '\n{"epoch": 99, "se')
  run = record.load_run(fake_run_dir)
  assert len(run.records) == 12
  assert run.by_seed()[0][0]['step'] == -1  # the last record wins


def test_load_run_rejects_bad_line_with_its_number(fake_run_dir):
  metrics = fake_run_dir / 'metrics.jsonl'
  lines = metrics.read_text().splitlines()
  metrics.write_text('\n'.join([lines[0], '{oops', lines[1]]) + '\n')
  with pytest.raises(record.RunRecordError, match='line 2: invalid JSON'):
    record.load_run(fake_run_dir)


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
  with pytest.raises(record.RunRecordError, match=message) as info:
    record.load_run(workdir)
  assert str(workdir) in str(info.value)


def test_run_in_progress_without_run_json(tmp_path):
  run_dir, epochs = helpers.write_fake_run(tmp_path / 'run', num_epochs=4)
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
  run = record.load_run(run_dir)
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


def _estimate(nats, stderr):
  return infoflow.Estimate(np.float32(nats), np.float32(stderr), np.int32(64))


def test_information_entry_is_the_one_serialisation_of_a_layer():
  """Pairs [nats, stderr] as Python floats, in the record's field order;
  mi_label only with labels; h(T|Y) is not recorded."""
  info = infoflow.LayerInformation(
    mi_input=_estimate(1.5, 0.25),
    entropy=_estimate(-2.0, 0.25),
    conditional_entropy=_estimate(-3.5, 0.0),
    mi_label=None,
    label_conditional_entropy=_estimate(-2.5, 0.5),
  )
  entry = record.information_entry(info)
  assert entry == {
    'mi_input': [1.5, 0.25],
    'entropy': [-2.0, 0.25],
    'conditional_entropy': [-3.5, 0.0],
  }
  assert list(entry) == list(record.INFORMATION_FIELDS[:3])
  assert all(type(v) is float for pair in entry.values() for v in pair)
  labelled = dataclasses.replace(
    info, mi_label=_estimate(0.5, 0.125), mi_input_half_replicas=_estimate(1.75, 0.0625)
  )
  written = record.information_record({'T1': labelled})
  assert list(written['T1']) == list(record.INFORMATION_FIELDS)
  assert written['T1']['mi_label'] == [0.5, 0.125]
  assert written['T1']['mi_input_half_replicas'] == [1.75, 0.0625]


@pytest.mark.parametrize(
  'half,flagged',
  [
    ([1.5, 0.0], False),  # equal: the R/2 mixture is the R one (T1)
    ([1.95, 0.1], False),  # 0.45 apart, 3 * hypot(0.12, 0.1) = 0.469
    ([1.95, 0.05], True),  # 0.45 apart, 3 * hypot(0.12, 0.05) = 0.39
    ([1.05, 0.05], True),  # a gap either way
    ([None, 0.05], False),  # nothing to compare
    (None, False),  # a record written before the diagnostic
  ],
)
def test_replica_gap_flagged_at_three_combined_stderrs(half, flagged):
  entry = {'mi_input': [1.5, 0.12], 'entropy': [-2.0, 0.25]}
  if half is not None:
    entry['mi_input_half_replicas'] = half
  assert record.replica_gap_flagged(entry) is flagged


def test_written_files_read_back(tmp_path):
  """Records appended with non-finite values as null (strict JSON), rewritten
  whole, representations saved: `load_run` reads them all."""
  metrics = tmp_path / record.METRICS
  first = {'epoch': 0, 'seed': 0, 'train': {'loss': math.inf, 'accuracy': 0.5}}
  assert record.append_metrics(metrics, first) == {
    'epoch': 0,
    'seed': 0,
    'train': {'loss': None, 'accuracy': 0.5},
  }
  second = record.append_metrics(metrics, {'epoch': 3, 'seed': 0, 'gap': [math.nan, 1.0]})
  for line in metrics.read_text().splitlines():
    json.loads(line, parse_constant=pytest.fail)  # no NaN/Infinity tokens
  assert record.read_metrics(metrics) == [
    dict(first, train={'loss': None, 'accuracy': 0.5}),
    second,
  ]
  record.write_metrics(metrics, [second])
  labels = np.array([0, 1, 1])
  record.save_representations(tmp_path, 3, labels, {'T1': np.ones((3, 2), np.float32)})
  assert record.representation_path(tmp_path, 3).name == 'epoch_000003.npz'
  record.write_json(tmp_path / record.RUN_INFO, {'layers': {'T1': 2}})
  run = record.load_run(tmp_path)
  assert run.records == [second] and run.layers == {'T1': 2} and run.config == {}
  arrays = run.load_representations(3)
  assert arrays['labels'].dtype == np.int32 and arrays['labels'].tolist() == [0, 1, 1]
  assert not list(tmp_path.glob('.*.tmp'))  # written through temporary names


def test_dig_and_value_stderr_read_fields():
  r = {'information': {'T1': {'mi_input': [0.5, None]}}, 'test': {'loss': None}}
  assert record.dig(r, 'information', 'T1', 'mi_input') == [0.5, None]
  assert record.dig(r, 'information', 'T2', 'mi_input') is None
  assert record.dig(r, 'test', 'loss', 'x') is None
  value, stderr = record.value_stderr(record.dig(r, 'information', 'T1', 'mi_input'))
  assert value == 0.5 and math.isnan(stderr)
  assert all(math.isnan(v) for v in record.value_stderr(None))
  assert record.value_stderr(2)[0] == 2.0 and math.isnan(record.value_stderr(math.inf)[0])


# ------------------------------------------------- issue 22 row 21: layer names


def test_layer_file_name_passes_every_model_and_old_name():
  names = models.mlp_layer_names(12) + models.cnn_layer_names(2, 1)
  names += ['noise_0', 'noise_10', 'labels', 'dense_3.b-2', 'a' * 64]
  assert [record.layer_file_name(name) for name in names] == names


@pytest.mark.parametrize(
  'name',
  ['../x', 'x/../../PWNED', 'a/b', '', '.hidden', '..', '/etc/x', 'a\\b', 'a\x00b', 'a b', '-x']
  + ['T1\n', 'é', 'a' * 65, None, 5],
)
def test_layer_file_name_refuses_unsafe_names(name):
  with pytest.raises(ValueError, match=r'layer name .* is not allowed') as info:
    record.layer_file_name(name)
  message = str(info.value)
  assert record.LAYER_NAME in message and '\n' not in message and len(message) < 300


def _plant(run_dir, where, bad):
  """Puts the layer name `bad` into the file `where` of a fake run; returns
  the path of that file."""
  if where == 'npz':
    path = sorted((run_dir / record.REPRESENTATIONS).iterdir())[0]
    with np.load(path) as npz:
      arrays = dict(npz)
    arrays[bad] = arrays.pop('T2')
    np.savez(path, **arrays)
    return path
  if where == 'metrics':
    path = run_dir / record.METRICS
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records[-1]['clustering'][bad] = records[-1]['clustering'].pop('T2')
    record.write_metrics(path, records)
    return path
  path = run_dir / record.RUN_INFO
  meta = json.loads(path.read_text())
  if where == 'run.json layers':
    meta['layers'][bad] = meta['layers'].pop('T2')
  else:
    meta['estimated_layers'].append(bad)
  path.write_text(json.dumps(meta))
  return path


@pytest.mark.parametrize('where', ['run.json layers', 'run.json estimated', 'metrics', 'npz'])
def test_run_record_with_an_unsafe_layer_name_is_refused(tmp_path, where):
  """Issue 22 row 21: a layer name that would lead a file name out of its
  folder is refused wherever the record holds it, naming file and name."""
  run_dir, epochs = helpers.write_fake_run(tmp_path / 'run', num_epochs=2, num_seeds=1)
  bad = 'x/../../../PWNED'
  path = _plant(run_dir, where, bad)
  with pytest.raises(record.RunRecordError) as info:
    run = record.load_run(run_dir)
    run.load_representations(epochs[0])
  assert str(path) in str(info.value) and repr(bad) in str(info.value)
  assert not isinstance(info.value, record.UnreadableFileError)  # not skipped: refused


def test_save_representations_refuses_an_unsafe_layer_name(tmp_path):
  """Issue 22 row 21: npz keys are checked as they are written."""
  with pytest.raises(ValueError, match=r"layer name '\.\./T1' is not allowed"):
    record.save_representations(tmp_path, 0, [0, 1], {'../T1': np.ones((2, 1), np.float32)})
  assert not list(tmp_path.rglob('*.npz'))


# ------------------------------------- issue 22 rows 17, 18: malformed files


def test_non_utf8_bytes_are_an_error_naming_file_and_line(fake_run_dir, caplog):
  """Issue 22 row 17: bytes that are not UTF-8 in metrics.jsonl (not the
  torn last line), config.json or run.json: a RunRecordError naming the file
  (and the line), not a UnicodeDecodeError."""
  metrics = fake_run_dir / record.METRICS
  lines = metrics.read_bytes().splitlines()
  metrics.write_bytes(b'\n'.join([lines[0], b'{"epoch": 1, "x": "\xff\xfe"}', lines[1]]) + b'\n')
  with pytest.raises(record.RunRecordError, match=r'metrics\.jsonl, line 2: invalid UTF-8'):
    record.load_run(fake_run_dir)
  # A torn last line is dropped as before, whatever its bytes.
  metrics.write_bytes(b'\n'.join(lines) + b'\n{"epoch": 99, "\xe2\x82')
  assert len(record.read_metrics(metrics)) == len(lines)
  assert 'dropping the incomplete last line' in caplog.text
  for name in (record.CONFIG, record.RUN_INFO):
    (fake_run_dir / name).write_bytes(b'{"name": "\xff"}')
    with pytest.raises(record.RunRecordError, match=f'{fake_run_dir / name} is not UTF-8 text'):
      record.load_run(fake_run_dir)
    (fake_run_dir / name).write_text('{}')


@pytest.mark.parametrize(
  'name, value, message',
  [
    (record.RUN_INFO, [1, 2], 'must hold a JSON object {...}; it holds an array'),
    (record.CONFIG, 'fake', 'must hold a JSON object {...}; it holds a string'),
    (record.RUN_INFO, {'layers': ['T1', 'T2']}, '"layers" must be an object'),
    (record.RUN_INFO, {'layers': {'T1': 'wide'}}, '"layers" must be an object'),
    (record.RUN_INFO, {'estimated_layers': 'T1'}, '"estimated_layers" must be an array'),
    (record.RUN_INFO, {'num_eval_inputs': 'many'}, '"num_eval_inputs" must be an integer'),
    (
      record.CONFIG,
      {'model': {'kind': 'cnn', 'conv_features': 8}},
      '"model.conv_features" must be an array',
    ),
  ],
)
def test_json_files_of_another_shape_are_an_error_naming_them(fake_run_dir, name, value, message):
  """Issue 22 row 18: config.json / run.json that are JSON but not of the
  documented shape: a RunRecordError naming the file, not a traceback from
  `Run`'s properties."""
  (fake_run_dir / name).write_text(json.dumps(value))
  with pytest.raises(record.RunRecordError, match=re.escape(message)) as info:
    run = record.load_run(fake_run_dir)
    (run.name, run.layers, run.layer_order, run.num_inputs, run.snapshots)
  assert str(fake_run_dir / name) in str(info.value)


@pytest.mark.parametrize(
  'change, message',
  [
    ({'seed': 'a'}, 'line 1: not a record'),
    ({'information': [1, 2]}, 'the record of epoch 0, seed 0: "information" must be an object'),
  ],
)
def test_records_of_another_shape_are_an_error_naming_them(fake_run_dir, change, message):
  """Issue 22 row 18: a record whose seed is not an integer, or whose layer
  field is not an object: an error naming metrics.jsonl."""
  metrics = fake_run_dir / record.METRICS
  lines = metrics.read_text().splitlines()
  metrics.write_text('\n'.join([json.dumps(dict(json.loads(lines[0]), **change))] + lines[1:]))
  with pytest.raises(record.RunRecordError, match=re.escape(message)) as info:
    record.load_run(fake_run_dir).layer_order
  assert str(metrics) in str(info.value)
