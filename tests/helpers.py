"""Shared builders of the tests, and float64 references.

Builders: synthetic centres and draws (for SZT-like layer samples with
labels see `infoflow.data.synthetic.layer_samples`), model variables, tiny
runs and the command lines of the mains, metric writers that keep what they
are given and a reader of TensorBoard event files, synthetic run records
(`write_fake_run`, in the format of docs/run_record.md). References: brute-force
densities, quadrature and bounds, independent of infoflow's code paths
(NumPy float64 and SciPy only).
"""

import contextlib
import dataclasses
import json
import math
import pathlib
import struct
import subprocess
import sys

import jax
import numpy as np
from scipy import special
from tensorboardX.proto import event_pb2

import infoflow
from infoflow import configs
from infoflow import information
from infoflow.experiment import writers

# ------------------------------------------------------------------ builders


def normal_centres(n=64, dim=3, seed=0):
  """(n, dim) float32 standard normal centres."""
  return np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)


def grouped_centres(rng, m, r, dim, beta, offset=0.0, spread=1.0):
  """m tight groups of r replicas (std beta) at uniform means + offset."""
  means = rng.uniform(-spread, spread, size=(m, 1, dim)) + offset
  return (means + beta * rng.normal(size=(m, r, dim))).astype(np.float32)


# The noise std of the planted-duplicate test of the R/2 diagnostic
# (tests/test_information.py; docs/method.md, "Finite replicas").
PLANTED_BETA = 0.005


def planted(spread, seed, duplicates=True, m=512, r=16, d=5):
  """(m, R, d) float32 samples of m rows drawn with replacement from m
  means uniform in [0, 1]^d (seeds 0-2: the closest two 0.056-0.081 apart,
  11-16 beta at beta = PLANTED_BETA), each row with its own R replicas of
  std `spread` around its mean, and the truth: the multiplicity entropy of
  the draw in nats (`information.information_ceiling`; duplicated rows have
  the same law; without duplicates, log m)."""
  rng = np.random.default_rng(seed)
  means = rng.uniform(0.0, 1.0, (m, d))
  rows = rng.integers(0, m, m) if duplicates else np.arange(m)
  counts = np.bincount(rows)
  samples = means[rows][:, None, :] + spread * rng.normal(size=(m, r, d))
  return samples.astype(np.float32), information.information_ceiling(counts[counts > 0].tolist())


def full_and_half(samples, seed):
  """The full-R `LayerInformation` of `samples` at beta = PLANTED_BETA with
  its R/2 diagnostic (both at the default, adaptive precision; keys `seed`
  and `seed + 1`)."""
  full = infoflow.posterior_information(jax.random.key(seed), samples, PLANTED_BETA)
  half = information.mi_input_half_replicas(jax.random.key(seed + 1), samples, PLANTED_BETA)
  return dataclasses.replace(full, mi_input_half_replicas=half)


def mixture_draws(centers, beta, rng, k):
  """k float32 draws c[owner] + beta z of the mixture of `centers` (any
  leading shape)."""
  flat = centers.reshape(-1, centers.shape[-1])
  owner = rng.integers(0, len(flat), k)
  return (flat[owner] + beta * rng.normal(size=(k, flat.shape[1]))).astype(np.float32)


def init_variables(model, x, seed=0):
  """Variables of a flax `model` initialised on the first row of `x`."""
  return model.init({'params': jax.random.key(seed)}, x[:1], deterministic=True)


@contextlib.contextmanager
def count_compilations():
  """Counts the programs built inside the block: yields a list that gets one
  entry per XLA backend compilation (the seconds spent) or persistent
  compilation cache hit (0.0; tests/conftest.py turns that cache on)."""
  seen = []

  def on_duration(event, duration, **kwargs):
    del kwargs
    if event == '/jax/core/compile/backend_compile_duration':
      seen.append(duration)

  def on_event(event, **kwargs):
    del kwargs
    if event == '/jax/compilation_cache/cache_hits':
      seen.append(0.0)

  jax.monitoring.register_event_duration_secs_listener(on_duration)
  jax.monitoring.register_event_listener(on_event)
  try:
    yield seen
  finally:
    jax.monitoring.unregister_event_duration_listener(on_duration)
    jax.monitoring.unregister_event_listener(on_event)


# -------------------------------------------------------- runs and mains


def tiny_config(**overrides):
  """The 'tiny' config for 12 epochs, 3 analyses of 128 inputs, with
  `overrides` {dotted.field: value}."""
  config = configs.get_config('tiny')
  config.num_epochs = 12
  config.analysis.num_points = 3
  config.analysis.num_eval_inputs = 128
  for key, value in overrides.items():
    target = config
    *parents, leaf = key.split('.')
    for p in parents:
      target = target[p]
    target[leaf] = value
  return config


def without_time(records):
  """Run records without their 'wall_time' fields (for comparisons)."""
  return [{k: v for k, v in r.items() if k != 'wall_time'} for r in records]


def run_main(module, *args, timeout=300):
  """Runs `python -m launch.MODULE *args`; returns the CompletedProcess."""
  return subprocess.run(
    [sys.executable, '-m', f'launch.{module}', *args],
    capture_output=True,
    text=True,
    timeout=timeout,
  )


def assert_one_line_error(result, program, *needles):
  """Non-zero exit, no traceback, and a last line `PROGRAM: error: ...`
  naming `needles`."""
  assert result.returncode != 0
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith(f'{program}: error: '), last
  for needle in needles:
    assert needle in last, (needle, last)


# -------------------------------------------------------- metric writers


class RecordKeeper(writers.Writer):
  """A user's writer: keeps what it is given."""

  wants_images = True

  def __init__(self):
    self.records, self.images, self.flushes, self.closed = [], {}, 0, False

  def write_record(self, record):
    self.records.append(record)

  def write_images(self, step, images):
    self.images[step] = images

  def flush(self):
    self.flushes += 1

  def close(self):
    self.closed = True


class ScalarsOnly:
  """A writer with clu's four methods only (no write_record)."""

  def __init__(self):
    self.scalars, self.image_steps = [], []

  def write_scalars(self, step, scalars):
    self.scalars.append((step, dict(scalars)))

  def write_images(self, step, images):
    self.image_steps.append(step)

  def flush(self):
    pass

  def close(self):
    pass


def read_events(logdir: pathlib.Path) -> list:
  """Every `Event` of the event files in `logdir` (TFRecord framing: length,
  its crc, the bytes, their crc), oldest file first."""
  events = []
  for path in sorted(logdir.glob('events.out.tfevents.*')):
    data, at = path.read_bytes(), 0
    while at < len(data):
      (length,) = struct.unpack('<Q', data[at : at + 8])
      event = event_pb2.Event()
      event.ParseFromString(data[at + 12 : at + 12 + length])
      events.append(event)
      at += 12 + length + 4
  return events


def tagged(events) -> dict:
  """{tag: [(step, value or image)]} of the summary values of `events`."""
  out = {}
  for event in events:
    for value in event.summary.value:
      kind = value.WhichOneof('value')
      out.setdefault(value.tag, []).append(
        (event.step, value.simple_value if kind == 'simple_value' else getattr(value, kind))
      )
  return out


def visible(events) -> dict:
  """`tagged(events)` as TensorBoard shows it: a session start at step S
  (`purge_step`) hides the earlier events at steps >= S."""
  shown = {}
  for event in events:
    if event.session_log.status == event.session_log.START:
      shown = {
        tag: [(step, v) for step, v in values if step < event.step] for tag, values in shown.items()
      }
    for tag, values in tagged([event]).items():
      shown.setdefault(tag, []).extend(values)
  return shown


# -------------------------------------------------------- run records


def fake_run_epochs(num_epochs):
  """``num_epochs`` distinct, roughly log-spaced epochs starting at 0."""
  epochs = [0]
  while len(epochs) < num_epochs:
    epochs.append(max(epochs[-1] + 1, int(round(epochs[-1] * 1.5))))
  return epochs


def _fake_representations(labels, width, epoch, layer_index, rng):
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
  epochs = fake_run_epochs(num_epochs)
  bin_sizes = [0.01, 0.0667, 0.2]
  path.mkdir(parents=True, exist_ok=True)
  (path / 'config.json').write_text(
    json.dumps({'name': 'fake', 'beta': 0.005 if with_information else 0.0})
  )
  (path / 'run.json').write_text(
    json.dumps(
      {
        'config': 'fake',
        'data_source': 'synthetic (tests/helpers.py)',
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
        n: _fake_representations(labels, w, epoch, i, rng)
        for i, (n, w) in enumerate(layers.items())
      }
      np.savez(folder / f'epoch_{epoch:06d}.npz', labels=labels, **arrays)
  return path, epochs


# -------------------------------------------------------- float64 references


def log_density_f64(queries, centers, beta, chunk=2048):
  """log g(y) of the equal-weight mixture of N(c_j, beta^2 I), float64."""
  queries = np.asarray(queries, np.float64)
  centers = np.asarray(centers, np.float64)
  n, dim = centers.shape
  out = []
  for start in range(0, len(queries), chunk):
    y = queries[start : start + chunk]
    sq = ((y[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    out.append(special.logsumexp(-sq / (2 * beta**2), axis=1))
  return np.concatenate(out) - np.log(n) - 0.5 * dim * np.log(2 * np.pi * beta**2)


def _clusters(centers, radius):
  """Single-linkage groups of centres closer than `radius` (small n only)."""
  n = len(centers)
  parent = list(range(n))

  def find(i):
    while parent[i] != i:
      parent[i] = parent[parent[i]]
      i = parent[i]
    return i

  dist = np.sqrt(((centers[:, None] - centers[None]) ** 2).sum(-1))
  for i in range(n):
    for j in range(i + 1, n):
      if dist[i, j] < radius:
        parent[find(i)] = find(j)
  groups = {}
  for i in range(n):
    groups.setdefault(find(i), []).append(i)
  return list(groups.values())


def _panels(low, high, width, nodes):
  """Composite Gauss-Legendre nodes and weights on [low, high]."""
  count = max(int(np.ceil((high - low) / width)), 1)
  edges = np.linspace(low, high, count + 1)
  x, w = np.polynomial.legendre.leggauss(nodes)
  half = 0.5 * np.diff(edges)
  mid = 0.5 * (edges[1:] + edges[:-1])
  return ((mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel())


def entropy_quadrature(centers, beta, nodes=16, reach=10.0):
  """h(g) = -int g log g by composite Gauss-Legendre quadrature (d = 1, 2).

  The domain is one box per group of centres (groups closer than 2 reach
  beta merged), each box reaching `reach` beta beyond its centres: the mass
  outside is below exp(-reach^2 / 2). Panels are beta/2 wide, so the smooth
  integrand is resolved far below 1e-6 nats.
  """
  centers = np.asarray(centers, np.float64)
  dim = centers.shape[1]
  assert dim in (1, 2)
  total = 0.0
  for group in _clusters(centers, 2 * reach * beta):
    low = centers[group].min(0) - reach * beta
    high = centers[group].max(0) + reach * beta
    axes = [_panels(low[k], high[k], beta / 2, nodes) for k in range(dim)]
    if dim == 1:
      points, weights = axes[0][0][:, None], axes[0][1]
    else:
      (x, wx), (y, wy) = axes
      points = np.stack(np.meshgrid(x, y, indexing='ij'), -1).reshape(-1, 2)
      weights = (wx[:, None] * wy[None, :]).ravel()
    log_g = log_density_f64(points, centers, beta)
    total -= np.sum(weights * np.exp(log_g) * log_g)
  return total


def bounds_f64(centers, beta):
  """Kolchinsky-Tracey (lower, upper) bounds by brute force in float64."""
  centers = np.asarray(centers, np.float64)
  n, dim = centers.shape
  sq = ((centers[:, None] - centers[None]) ** 2).sum(-1)
  h0 = 0.5 * dim * np.log(2 * np.pi * np.e * beta**2)
  upper = h0 - np.mean(special.logsumexp(-sq / (2 * beta**2), axis=1) - np.log(n))
  lower = h0 - np.mean(special.logsumexp(-sq / (8 * beta**2), axis=1) - np.log(n))
  return lower, upper


def plant_layer_name(run_dir, bad, *, in_run_json=True):
  """Issue 22 row 21's tampered run record: layer T2 renamed `bad` in every
  representation file (and in run.json's `layers` when `in_run_json`), plus
  the folders under figures/ that the name would climb out of."""
  run_dir = pathlib.Path(run_dir)
  if in_run_json:
    meta = json.loads((run_dir / 'run.json').read_text())
    meta['layers'][bad] = meta['layers'].pop('T2')
    (run_dir / 'run.json').write_text(json.dumps(meta))
  for path in (run_dir / 'representations').iterdir():
    with np.load(path) as npz:
      arrays = dict(npz)
    arrays[bad] = arrays.pop('T2')
    np.savez(path, **arrays)
  for stem in ('scatter', 'cosine_similarity'):
    (run_dir / 'figures' / f'{stem}_{bad.split("/")[0]}').mkdir(parents=True)
