r"""Estimates I(X;T) and I(T;Y) of every layer saved in a file of samples.

    python -m launch.estimate --samples=FILE.npz --beta=B [--labels=labels]
        [--out=FILE.json] [--form=posterior|difference] [--num_mc=N] [--seed=0]

For samples of your own network (README, "Your own network's samples"). FILE
is an `.npz` with one array a layer, in layer order: (m, R, d), R samples of
the layer's pre-noise activations S given each of m inputs, with the noise of
every layer on (`infoflow.sampling.sample_layers` gives them for Flax
models). An (m, d) array is read as R = 1, one sample an input: right for
the first hidden layer or a network noisy at that layer only, where S is a
function of X (h(T|X) then has its closed form); a note says so. Every layer
is estimated by `infoflow.layer_information` (the posterior form, adaptive
to standard errors of 0.02 nats on I(X;T) and 0.005 on I(T;Y); or `--num_mc`
fixed draws), or with --form=difference by `infoflow.difference_information`,
with key `fold_in(key(seed), i)` for the i-th layer.

--labels: a key of FILE holding (m,) integer labels (that key is then not a
layer) or a `.npy` / `.npz` file with one (m,) array. Default: the key
`labels` when FILE has one, else no labels (I(X;T) only).

Prints a table (nats and bits, each with its Monte Carlo standard error) and
writes the numbers as JSON to --out (default: FILE with `.information.json`
in place of `.npz`). Bad input (a missing, foreign, truncated or corrupt
file; an array of the wrong rank, dtype or with NaN / inf; labels of the
wrong length or dtype; beta missing or <= 0; a seed outside [0, 2**32);
--out a directory or not writable: all checked before any estimate) ends
the command with one line on stderr, `launch.estimate: error: ...` naming
the file, key or flag, and exit status 1 (docs/errors.md). The file is read
and checked by infoflow/samples_file.py.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import pathlib
import sys
from typing import Optional

from absl import app
from absl import flags
import numpy as np

from infoflow import configs
from infoflow import estimators
from infoflow import units
from infoflow.samples_file import LABELS_KEY
from infoflow.samples_file import EstimateInputError
from infoflow.samples_file import read_samples

from . import common_flags

__all__ = (
  'FORMS',
  'LABELS_KEY',
  'EstimateInputError',
  'check_out',
  'default_out',
  'estimate_file',
  'estimate_layer',
  'format_table',
  'read_samples',
  'write_json',
)

FORMS = ('posterior', 'difference')


_SAMPLES = flags.DEFINE_string(
  'samples',
  None,
  '.npz file: one (m, R, d) array of S samples per layer (and optionally the labels).',
)
_BETA = flags.DEFINE_float('beta', None, 'Noise standard deviation of the network (> 0).')
_LABELS = flags.DEFINE_string(
  'labels',
  None,
  'A key of the samples file, or a .npy/.npz file, holding (m,) integer labels (default: '
  'the key "labels" if present).',
)
_OUT = common_flags.OUT
_FORM = flags.DEFINE_enum('form', 'posterior', list(FORMS), 'Estimator form.')
_NUM_MC = flags.DEFINE_integer(
  'num_mc', None, 'Fixed number of Monte Carlo draws (default: adaptive, posterior form).'
)
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the Monte Carlo draws, in [0, 2**32).')


def estimate_layer(
  key, samples, beta: float, *, labels=None, form: str = 'posterior', num_mc: Optional[int] = None
) -> dict:
  """One layer's estimates as a JSON-ready dict (see `estimate_file`)."""
  import infoflow

  report = None
  if form == 'posterior':
    info, report = infoflow.posterior_information(
      key, samples, beta, labels=labels, num_mc=num_mc, return_report=True
    )
    method = f'posterior/{report.method}'
  else:
    kwargs = {} if num_mc is None else {'num_mc': num_mc}
    info = infoflow.difference_information(key, samples, beta, labels=labels, **kwargs)
    method = 'difference'
  entry = {'shape': list(samples.shape)}
  entry.update(info.pairs())
  entry.update(
    deterministic_given_x=bool(info.deterministic_given_x),
    num_draws=int(np.max(info.mi_input.num_draws)),
    method=method,
    report=None if report is None else _plain(dataclasses.asdict(report)),
  )
  return entry


def _plain(fields: dict) -> dict:
  """NumPy scalars as Python numbers (for JSON)."""
  return {k: v.item() if isinstance(v, np.generic) else v for k, v in fields.items()}


def _check_settings(beta, form, num_mc, seed):
  if (
    isinstance(beta, bool)
    or not isinstance(beta, (int, float, np.number))
    or not math.isfinite(beta)
    or beta <= 0
  ):
    raise EstimateInputError(
      f"--beta must be a finite number > 0 (the network's noise std); got {beta!r}."
    )
  if form not in FORMS:
    raise EstimateInputError(f'--form must be one of {", ".join(FORMS)}; got {form!r}.')
  if num_mc is not None and not 2 <= num_mc <= estimators.MAX_DRAWS:
    raise EstimateInputError(
      f'--num_mc must be >= 2 (a standard error needs two draws) and at most '
      f'{estimators.MAX_DRAWS} (2**30); got {num_mc}.'
    )
  problem = configs.seed_problem(seed)
  if problem:
    raise EstimateInputError(f'--seed {problem}; got {seed!r}.')


def estimate_file(
  path,
  beta: float,
  labels: Optional[str] = None,
  *,
  form: str = 'posterior',
  num_mc: Optional[int] = None,
  seed: int = 0,
) -> dict:
  """Estimates every layer of a samples file (module docstring).

  Layer i (in file order) uses key ``fold_in(jax.random.key(seed), i)``.

  Returns:
    ``{'file', 'beta', 'form', 'seed', 'num_mc', 'labels', 'notes',
    'layers': {key: {'shape': [m, R, d], 'mi_input': [nats, stderr],
    'mi_label', 'entropy', 'conditional_entropy',
    'label_conditional_entropy' (pairs or None), 'deterministic_given_x',
    'num_draws', 'method', 'report': PosteriorReport fields or None}}}``.

  Raises:
    EstimateInputError: bad settings, file, key or labels; or the
      estimator refused a layer (the message names the file and key).
  """
  _check_settings(beta, form, num_mc, seed)
  layers, label_values, source, notes = read_samples(path, labels)
  import jax

  root = jax.random.key(seed)
  results = {}
  for index, (key, samples) in enumerate(layers.items()):
    try:
      results[key] = estimate_layer(
        jax.random.fold_in(root, index),
        samples,
        float(beta),
        labels=label_values,
        form=form,
        num_mc=num_mc,
      )
    except ValueError as e:
      raise EstimateInputError(f'{path}: layer {key!r}: {e}') from None
  return {
    'file': str(path),
    'beta': float(beta),
    'form': form,
    'seed': seed,
    'num_mc': num_mc,
    'labels': source,
    'notes': notes,
    'units': 'nats; estimates are [value, standard error]',
    'layers': results,
  }


def _pm(pair, scale: float) -> str:
  if pair is None:
    return '-'
  return f'{pair[0] * scale:.4f} \u00b1 {pair[1] * scale:.4f}'


def format_table(results: dict) -> str:
  """The printed table: one row a layer, nats and bits with stderrs."""
  head = (
    f'{"layer":<10} {"m":>6} {"R":>5} {"d":>4}  '
    f'{"I(X;T) nats":>17}  {"bits":>17}  {"I(T;Y) nats":>17}  '
    f'{"bits":>17} {"draws":>7}  method'
  )
  lines = [head]
  for name, entry in results['layers'].items():
    m, r, d = entry['shape']
    x, y = entry['mi_input'], entry['mi_label']
    lines.append(
      f'{name:<10} {m:>6} {r:>5} {d:>4}  {_pm(x, 1):>17}  '
      f'{_pm(x, units.BITS_PER_NAT):>17}  {_pm(y, 1):>17}  '
      f'{_pm(y, units.BITS_PER_NAT):>17} {entry["num_draws"]:>7}  '
      f'{entry["method"]}'
    )
  for name, note in results.get('notes', {}).items():
    lines.append(f'note: {name}: {note}.')
  return '\n'.join(lines)


def default_out(path) -> pathlib.Path:
  """FILE.npz -> FILE.information.json (beside it)."""
  path = pathlib.Path(path).expanduser()
  return path.with_name(f'{path.stem}.information.json')


def check_out(out) -> pathlib.Path:
  """`out` if a JSON file can be written there, checked before any estimate.

  Raises:
    EstimateInputError: `out` is a directory or an unwritable file, or its
      parent is not an existing, writable directory.
  """
  out = pathlib.Path(out).expanduser()
  parent = out.parent
  if out.is_dir():
    problem = 'it is a directory (--out takes a file path)'
  elif not parent.is_dir():
    problem = f'{parent} is not a directory'
  elif out.exists() and not os.access(out, os.W_OK):
    problem = 'the file is not writable'
  elif not out.exists() and not os.access(parent, os.W_OK | os.X_OK):
    problem = f'{parent} is not writable'
  else:
    return out
  raise EstimateInputError(f'cannot write {out}: {problem}; pass another --out.')


def write_json(results: dict, out) -> pathlib.Path:
  """Writes ``results`` to ``out``; EstimateInputError naming it on failure."""
  out = pathlib.Path(out).expanduser()
  try:
    out.write_text(json.dumps(results, indent=1) + '\n')
  except OSError as e:
    raise EstimateInputError(
      f'cannot write {out}: {e.strerror or e}; pass another --out.'
    ) from None
  return out


def main(argv) -> None:
  if len(argv) > 1:
    sys.exit(f'launch.estimate: error: unexpected arguments: {" ".join(argv[1:])}')
  try:
    if not _SAMPLES.value:
      raise EstimateInputError('--samples=FILE.npz is required.')
    if _BETA.value is None:
      raise EstimateInputError("--beta is required: the network's noise standard deviation (> 0).")
    out = check_out(_OUT.value or default_out(_SAMPLES.value))
    common_flags.apply_compile_cache()
    results = estimate_file(
      _SAMPLES.value,
      _BETA.value,
      _LABELS.value,
      form=_FORM.value,
      num_mc=_NUM_MC.value,
      seed=_SEED.value,
    )
    print(
      f'{results["file"]}: beta = {results["beta"]:g}, form = '
      f'{results["form"]}, {results["labels"] or "no labels"}'
    )
    print(format_table(results))
    print(f'wrote {write_json(results, out)}')
  except EstimateInputError as e:
    sys.exit(f'launch.estimate: error: {e}')


def run():
  """The command (`python -m launch.estimate`, installed as `infoflow-estimate`)."""
  app.run(main)


if __name__ == '__main__':
  run()
