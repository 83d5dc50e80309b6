"""Tests of launch.estimate: a samples file in, the library's numbers out."""

import functools
import json
import pathlib
import re
import subprocess
import sys

import jax
import numpy as np
import pytest

import infoflow
from infoflow.data import synthetic
from infoflow.estimators import results as results_lib
from launch import estimate

ROOT = pathlib.Path(__file__).resolve().parents[2]
BETA = 0.05
NUM_MC = 2048


@pytest.fixture(name='samples_file', scope='module')
def fixture_samples_file(tmp_path_factory):
  """An .npz: T1 (m, R, d), T2 (m, d) read as R = 1, and the labels."""
  s1, labels = synthetic.layer_samples('multiclass', 48, 6, 3, BETA, seed=1)
  s2, _ = synthetic.layer_samples('clustered', 48, 1, 2, BETA, seed=2)
  path = tmp_path_factory.mktemp('est') / 'samples.npz'
  np.savez(path, T1=s1, T2=s2[:, 0], labels=labels)
  return path


@pytest.fixture(name='results', scope='module')
def fixture_results(samples_file):
  return estimate.estimate_file(samples_file, BETA, num_mc=NUM_MC, seed=3)


def test_matches_the_library_call(samples_file, results):
  with np.load(samples_file) as npz:
    arrays = {k: npz[k] for k in npz.files}
  assert list(results['layers']) == ['T1', 'T2']  # file order, no labels
  root = jax.random.key(3)
  for index, name in enumerate(('T1', 'T2')):
    samples = arrays[name]
    if samples.ndim == 2:
      samples = samples[:, None, :]
    info = infoflow.layer_information(
      jax.random.fold_in(root, index), samples, BETA, labels=arrays['labels'], num_mc=NUM_MC
    )
    entry = results['layers'][name]
    for field in results_lib.FIELDS:
      expected = getattr(info, field)
      np.testing.assert_allclose(
        entry[field], [float(expected.nats), float(expected.stderr)], rtol=1e-6, atol=1e-7
      )
    assert entry['num_draws'] == NUM_MC
    assert entry['method'] == 'posterior/dense'
    assert entry['report']['mi_input_bound'] == 0.0
  assert results['layers']['T2']['shape'] == [48, 1, 2]
  assert results['layers']['T2']['deterministic_given_x']
  assert 'R = 1' in results['notes']['T2']


def test_table_has_nats_bits_and_notes(results):
  table = estimate.format_table(results)
  lines = table.splitlines()
  assert lines[0].split()[:5] == ['layer', 'm', 'R', 'd', 'I(X;T)']
  nats, err = results['layers']['T1']['mi_input']
  assert f'{nats:.4f} \u00b1 {err:.4f}' in lines[1]
  assert f'{nats / np.log(2):.4f}' in lines[1]
  assert lines[-1].startswith('note: T2: (m, d) read as R = 1')


def test_labels_from_another_file_and_none(tmp_path):
  samples, labels = synthetic.layer_samples('separated', 32, 4, 2, BETA)
  np.savez(tmp_path / 's.npz', layer=samples)
  np.save(tmp_path / 'y.npy', labels)
  found = estimate.read_samples(tmp_path / 's.npz', str(tmp_path / 'y.npy'))
  np.testing.assert_array_equal(found[1], labels)
  result = estimate.estimate_file(tmp_path / 's.npz', BETA, num_mc=256)
  assert result['layers']['layer']['mi_label'] is None
  assert result['labels'] is None
  assert ' - ' in estimate.format_table(result)


def _save(path, **arrays):
  np.savez(path, **arrays)
  return path


def _bad(tmp_path, case):
  """(path, labels, expected message parts) for one bad input."""
  good, labels = synthetic.layer_samples('separated', 16, 3, 2, BETA)
  path = tmp_path / 'bad.npz'
  if case == 'missing':
    return path, None, ['does not exist']
  if case == 'not_npz':
    path.write_text('hello')
    return path, None, ['not an .npz']
  if case == 'npy':
    np.save(tmp_path / 'x.npy', good)
    return tmp_path / 'x.npy', None, ['.npy file']
  if case == 'truncated':
    data = _save(path, T1=good, T2=good).read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path, None, ['truncated or corrupt']
  if case == 'rank':
    _save(path, T1=good, T2=good[..., None])
    return path, None, ["'T2'", '(16, 3, 2, 1)', '(m, R, d)']
  if case == 'nan':
    bad = good.copy()
    bad[0, 0, 0] = np.nan
    _save(path, T1=bad)
    return path, None, ["'T1'", 'non-finite']
  if case == 'labels_length':
    _save(path, T1=good, labels=labels[:-1])
    return path, None, ["labels 'labels'", '15 labels', "'T1'", 'm = 16']
  if case == 'labels_dtype':
    _save(path, T1=good, y=labels.astype(np.float32))
    return path, 'y', ["labels 'y'", 'integer', 'float32']
  _save(path, T1=good)
  return path, 'nothere', ['--labels=nothere', 'neither a key']


@pytest.mark.parametrize(
  'case',
  [
    'missing',
    'not_npz',
    'npy',
    'truncated',
    'rank',
    'nan',
    'labels_length',
    'labels_dtype',
    'labels_unknown',
  ],
)
def test_bad_files_get_one_clear_error(tmp_path, case):
  path, labels, parts = _bad(tmp_path, case)
  with pytest.raises(estimate.EstimateInputError) as info:
    estimate.read_samples(path, labels)
  message = str(info.value)
  assert '\n' not in message
  for part in parts + [str(path)]:
    assert part in message, (part, message)


@pytest.mark.parametrize('beta', [0.0, -1.0, float('nan')])
def test_bad_beta(samples_file, beta):
  with pytest.raises(estimate.EstimateInputError, match='--beta'):
    estimate.estimate_file(samples_file, beta)


@pytest.mark.parametrize('num_mc', [1, 2**30 + 1])
def test_num_mc_out_of_range_is_refused_before_reading(tmp_path, num_mc):
  # issue 22 row 13 at the command: 2**30 + 1 draws used to fail at the first layer.
  with pytest.raises(estimate.EstimateInputError, match='--num_mc must be >= 2 .* at most'):
    estimate.estimate_file(tmp_path / 'absent.npz', BETA, num_mc=num_mc)


@pytest.mark.parametrize('seed', [2**32 + 3, -1])
def test_seed_outside_32_bits_is_refused(samples_file, call_main, seed):
  """Issue 22 row 9: seed 2**32 + 3 gave seed 3's numbers (JAX keys keep 32
  bits) while the JSON recorded 2**32 + 3."""
  with pytest.raises(
    estimate.EstimateInputError, match=re.escape('--seed must be an integer in [0, 2**32)')
  ):
    estimate.estimate_file(samples_file, BETA, num_mc=256, seed=seed)
  error = call_main(
    estimate, f'--samples={samples_file}', f'--beta={BETA}', '--num_mc=256', f'--seed={seed}'
  )
  assert error == (
    f'launch.estimate: error: --seed must be an integer in [0, 2**32): JAX keys keep 32 bits, '
    f'so seed 2**32 + s would silently repeat the run of seed s; got {seed}.'
  )


def test_out_is_checked_before_any_estimate(samples_file, tmp_path, call_main, monkeypatch):
  """Issue 22, also seen (b): --out a directory (or in a missing one) is
  refused before any layer is estimated (it was refused after all of them)."""

  def no_estimate(*args, **kwargs):
    raise AssertionError('a layer was estimated before --out was checked')

  monkeypatch.setattr(estimate, 'estimate_layer', no_estimate)
  run = functools.partial(call_main, estimate, f'--samples={samples_file}', f'--beta={BETA}')
  assert run(f'--out={tmp_path}') == (
    f'launch.estimate: error: cannot write {tmp_path}: it is a directory (--out takes a file '
    'path); pass another --out.'
  )
  missing = tmp_path / 'no' / 'r.json'
  assert run(f'--out={missing}') == (
    f'launch.estimate: error: cannot write {missing}: {missing.parent} is not a directory; '
    'pass another --out.'
  )
  assert estimate.check_out(tmp_path / 'r.json') == tmp_path / 'r.json'


def test_command_writes_json_and_exits_1_on_bad_input(samples_file, tmp_path):
  out = tmp_path / 'result.json'
  ok = subprocess.run(
    [
      sys.executable,
      '-m',
      'launch.estimate',
      f'--samples={samples_file}',
      f'--beta={BETA}',
      f'--out={out}',
      f'--num_mc={NUM_MC}',
      '--seed=3',
    ],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert ok.returncode == 0, ok.stderr
  assert 'I(X;T) nats' in ok.stdout and f'wrote {out}' in ok.stdout
  written = json.loads(out.read_text())
  assert written['beta'] == BETA and written['seed'] == 3
  assert written['form'] == 'posterior'
  assert list(written['layers']) == ['T1', 'T2']
  bad = tmp_path / 'bad.npz'
  bad.write_text('not a zip')
  failed = subprocess.run(
    [sys.executable, '-m', 'launch.estimate', f'--samples={bad}', '--beta=0.1'],
    cwd=ROOT,
    capture_output=True,
    text=True,
    timeout=300,
    check=False,
  )
  assert failed.returncode == 1
  lines = failed.stderr.strip().splitlines()
  assert lines == [
    f'launch.estimate: error: {bad} is not an .npz file (no '
    'zip header); expected one (m, R, d) array per layer, '
    'written by np.savez.'
  ]
