r"""Benchmark of the information estimates: posterior form against difference.

    python -m launch.bench_information [--kinds=separated,clustered]
        [--num_inputs=4096] [--replicas=100] [--equal_draws=4096]
        [--calibration_keys=200] [--calibration_layer=WORKDIR:EPOCH:LAYER]

One SZT-scale layer (m = 4096 inputs x R = 100 replicas = 409,600 pooled
centres, beta = 0.005, two classes; `infoflow.data.synthetic.layer_samples`):

  separated  d = 5, input means at tanh-saturated points tanh(3 N(0, I)),
             far apart compared with beta (like the middle SZT layers);
  clustered  d = 3, each class's inputs packed into one blob a few beta wide
             at a corner of the cube (like a trained T_5).

Rows, for each case:
  posterior @ N   the posterior form with N fixed draws;
  difference @ N  the difference form with N draws for h(T) and for each
                  h(T | Y = y), and max(2, N / m) draws for each of the m
                  conditional mixtures h(T | X = x) (at least N in all);
  posterior adaptive  the posterior form at its default precision (stderr
                  of I(X;T) <= 0.02 nats, of I(T;Y) <= 0.005 nats);
  difference extrapolated  the draws and time the difference form would
                  need for the same precision: its time at N scaled by
                  max((se_IX / 0.02)^2, (se_IY / 0.005)^2) (stderr ~ 1/sqrt
                  of the draws), not run.
A last line per case measures what the stratified draws of the posterior
form gain (`stratification_gain`): the stderr ratio stratified / i.i.d. of
I(X;T) at equal draws (16,384), and the share of the variance removed.
A last section checks the reported standard error where the truth is known
exactly (`ceiling_calibration`): a layer that separates m distinct rows
(uniform in [-1, 1]^10, identical replicas, like a trained T1), fed m rows
drawn with replacement as on the authors' estimand (`analysis.inputs =
'resample'`), has I(X;T) equal to the entropy of the draw's multiplicities
(`information.information_ceiling`). Over `--calibration_keys` keys (a
fresh draw of rows and of Monte Carlo draws each) it prints the spread of
z = (estimate - ceiling) / stderr: mean near 0, sd near 1 and no |z| much
beyond 3 say the stderr is honest; and the largest |estimate - ceiling|.
`--calibration_layer=WORKDIR:EPOCH:LAYER` runs the same check on a layer a run
saved (seed 0's noise-free representation at that epoch, e.g. an SZT T1).
Times are warm (each call is made once with the same arguments before it is
timed: compilation excluded; group building and method choice included). Columns: I(X;T) and I(T;Y)
with standard errors (nats), the draws, seconds, and the stderr ratios
difference / posterior at equal draws.
"""

from __future__ import annotations

import math
import time

from absl import app
from absl import flags

BETA = 0.005
DIMS = {'separated': 5, 'clustered': 3}


def timed(fn, *args, **kwargs):
  """(result, seconds) of a warm call: the same call is made once first."""
  import jax

  fn(jax.random.key(0), *args, **kwargs)
  start = time.perf_counter()
  result = fn(jax.random.key(0), *args, **kwargs)
  jax.block_until_ready(result)
  return result, time.perf_counter() - start


def run_case(kind: str, num_inputs: int, replicas: int, equal_draws: int):
  """The table rows of one case: (label, info, draws, seconds)."""
  from infoflow import information
  from infoflow.data import synthetic

  samples, labels = synthetic.layer_samples(kind, num_inputs, replicas, DIMS[kind], BETA)
  rows = []
  info, seconds = timed(
    information.layer_information, samples, BETA, labels=labels, num_mc=equal_draws
  )
  rows.append(('posterior @ N', info, equal_draws, seconds))
  conditional = max(2, -(-equal_draws // num_inputs))
  info, seconds = timed(
    information.difference_information,
    samples,
    BETA,
    labels=labels,
    num_mc=equal_draws,
    num_mc_conditional=conditional,
  )
  draws = equal_draws * 3 + conditional * num_inputs
  rows.append(('difference @ N', info, draws, seconds))
  adaptive, seconds = timed(information.layer_information, samples, BETA, labels=labels)
  rows.append(('posterior adaptive', adaptive, int(adaptive.mi_input.num_draws), seconds))
  scale = max((float(info.mi_input.stderr) / 0.02) ** 2, (float(info.mi_label.stderr) / 0.005) ** 2)
  rows.append(('difference extrapolated', None, int(draws * scale), rows[1][3] * scale))
  return rows


def format_rows(kind, rows) -> str:
  """The rows of one case as text, with the equal-draws stderr ratios."""
  lines = []
  for label, info, draws, seconds in rows:
    if info is None:
      lines.append(f'{kind:10s} {label:24s} {"":>17s} {"":>17s} {draws:>10d} {seconds:9.1f}')
      continue
    lines.append(
      f'{kind:10s} {label:24s} {float(info.mi_input.nats):8.4f} '
      f'+-{float(info.mi_input.stderr):7.4f} '
      f'{float(info.mi_label.nats):8.4f} +-{float(info.mi_label.stderr):7.4f}'
      f' {draws:>10d} {seconds:9.2f}'
    )
  post, diff = rows[0][1], rows[1][1]
  lines.append(
    f'{kind:10s} stderr ratio difference/posterior at equal draws:'
    f' I(X;T) {ratio(diff.mi_input, post.mi_input)}, I(T;Y) '
    f'{ratio(diff.mi_label, post.mi_label)}'
  )
  return '\n'.join(lines)


def stratification_gain(samples, labels, num_blocks: int = 8):
  """(share of the variance removed, stratified/i.i.d. stderr) of I(X;T).

  From `num_blocks` blocks of the estimator's stratified draws
  (`infoflow.estimators._src.posterior_pass.posterior_sums`, blocks of
  `montecarlo.BLOCK`): the variance of the mean from the pairs
  (`draws.paired_variance`, what the estimator reports) against the
  variance i.i.d. draws would give at equal draws (the sample variance of
  the same values over their count; each draw is marginally a draw from g).
  """
  import jax
  import numpy as np

  from infoflow.estimators._src import draws
  from infoflow.estimators._src import montecarlo
  from infoflow.estimators._src import posterior_pass

  samples = jax.numpy.asarray(samples)
  problem = posterior_pass.make_problem(
    samples, BETA, np.asarray(labels), 2, None, 'auto', 1e-6, 1e-3, None
  )
  values, paired = [], 0.0
  for i in range(num_blocks):
    (_, h_x, _, _), _, _ = posterior_pass.posterior_sums(
      problem, jax.random.key(i), montecarlo.BLOCK
    )
    values.append(np.asarray(h_x, np.float64))
    paired += float(draws.paired_variance(h_x)[1]) / num_blocks**2
  values = np.concatenate(values)
  iid = values.var(ddof=1) / len(values)
  return 1 - paired / iid, float(np.sqrt(paired / iid))


def separated_rows(num_inputs: int, dim: int = 10, seed: int = 0):
  """(num_inputs, dim) float32 rows uniform in [-1, 1]^dim: far apart against
  beta, so a layer that is these rows separates every one."""
  import numpy as np

  rng = np.random.default_rng(seed)
  return rng.uniform(-1.0, 1.0, size=(num_inputs, dim)).astype(np.float32)


def saved_layer(workdir: str, epoch: int, layer: str):
  """(rows, beta): a run's saved noise-free `layer` at `epoch` (seed 0, all
  its evaluation inputs; `representations/epoch_EEEEEE.npz`) and its beta.

  Raises:
    ValueError: no such epoch or layer (the message lists what exists).
  """
  import numpy as np

  from infoflow import record

  run = record.load_run(workdir)
  if epoch not in run.snapshots:
    raise ValueError(
      f'{workdir}: no representations at epoch {epoch}; saved: {run.representation_epochs()}'
    )
  arrays = run.load_representations(epoch)
  if layer not in arrays:
    known = [k for k in arrays if k != 'labels']
    raise ValueError(f'{workdir}, epoch {epoch}: no layer {layer!r}; saved: {known}')
  return np.asarray(arrays[layer], np.float32), float(run.meta.get('beta', BETA))


def ceiling_calibration(num_keys: int, rows, beta: float = BETA, seed: int = 0):
  """z = (estimate - ceiling) / stderr of I(X;T) over `num_keys` resamples
  of the layer whose noise-free values given the m inputs are `rows`
  (module docstring): m rows drawn with replacement per key, identical
  replicas. A (num_keys, 2) array of z and estimate - ceiling (nats).

  The truth is the ceiling only where the layer separates the distinct
  rows drawn (against beta), as `separated_rows` and a trained SZT T1 do.
  """
  import jax
  import numpy as np

  from infoflow import information
  from infoflow.experiment import setup

  rows = np.asarray(rows)
  m, out = len(rows), []
  for k in range(num_keys):
    key = jax.random.fold_in(jax.random.key(seed), k)
    drawn = rows[setup.resample_rows(jax.random.fold_in(key, 0), m, m)]
    ceiling = setup.ceiling_of_inputs(drawn)
    samples = np.repeat(drawn[:, None, :], 2, axis=1)  # a function of X: replicas coincide
    est = information.layer_information(jax.random.fold_in(key, 1), samples, beta).mi_input
    diff, stderr = float(est.nats) - ceiling, float(est.stderr)
    # A zero stderr (every stratum inside one input: m >= the strata) is
    # honest only if the estimate is exact.
    z = diff / stderr if stderr > 0 else (0.0 if abs(diff) <= 1e-5 else math.inf)
    out.append((z, diff))
  return np.asarray(out)


def format_calibration(zs, what: str) -> str:
  """One line summarising `ceiling_calibration`'s rows of the layer `what`."""
  z, diff = zs[:, 0], zs[:, 1]
  return (
    f'calibration: {len(z)} resamples of {what}: z mean {z.mean():+.2f}, '
    f'sd {z.std(ddof=1):.2f}, largest |z| {abs(z).max():.2f}, share |z| > 3 '
    f'{(abs(z) > 3).mean():.3f}; largest |estimate - ceiling| {abs(diff).max():.4f} nats'
  )


def ratio(worse, better) -> str:
  """'12.3x', or '>1000x' when the better stderr is (nearly) zero."""
  num, den = float(worse.stderr), float(better.stderr)
  return '>1000x' if num > 1000 * den else f'{num / den:.1f}x'


HEADER = (
  f'{"case":10s} {"form":24s} {"I(X;T) nats":>17s} '
  f'{"I(T;Y) nats":>17s} {"draws":>10s} {"seconds":>9s}'
)


_KINDS = flags.DEFINE_list(
  'kinds',
  ['separated', 'clustered'],
  'Layers to run: kinds of `infoflow.data.synthetic.layer_samples`.',
)
_NUM_INPUTS = flags.DEFINE_integer('num_inputs', 4096, 'm, inputs.')
_REPLICAS = flags.DEFINE_integer('replicas', 100, 'R, replicas per input.')
_EQUAL_DRAWS = flags.DEFINE_integer('equal_draws', 4096, 'N, draws of the equal-draws rows.')
_CALIBRATION_KEYS = flags.DEFINE_integer(
  'calibration_keys', 200, 'Resamples of the stderr calibration (0: skip it).'
)
_CALIBRATION_LAYER = flags.DEFINE_string(
  'calibration_layer',
  None,
  'WORKDIR:EPOCH:LAYER, e.g. runs/paper/szt/:43:T1: calibrate on that saved layer of a run '
  '(seed 0) instead of synthetic separated rows.',
)


def main(argv):
  del argv
  from infoflow.data import synthetic

  num_inputs, replicas = _NUM_INPUTS.value, _REPLICAS.value
  print(
    f'm = {num_inputs}, R = {replicas}, beta = {BETA}, '
    f'N = {_EQUAL_DRAWS.value}; log m = {math.log(num_inputs):.4f} nats, '
    f'H(Y) <= log 2 = {math.log(2):.4f} nats'
  )
  print(HEADER)
  for kind in _KINDS.value:
    rows = run_case(kind, num_inputs, replicas, _EQUAL_DRAWS.value)
    print(format_rows(kind, rows), flush=True)
    samples, labels = synthetic.layer_samples(kind, num_inputs, replicas, DIMS[kind], BETA)
    share, gain = stratification_gain(samples, labels)
    print(
      f'{kind:10s} stratified draws: stderr of I(X;T) x{gain:.2f} of i.i.d. draws at '
      f'equal draws ({share:.0%} of the variance removed)',
      flush=True,
    )
  if _CALIBRATION_KEYS.value:
    if _CALIBRATION_LAYER.value:
      workdir, epoch, layer = _CALIBRATION_LAYER.value.rsplit(':', 2)
      rows, beta = saved_layer(workdir, int(epoch), layer)
      what = f'{layer} of {workdir} at epoch {epoch} (m = {len(rows)}, beta = {beta:g})'
    else:
      rows, beta = separated_rows(num_inputs), BETA
      what = f'm = {num_inputs} separated rows'
    zs = ceiling_calibration(_CALIBRATION_KEYS.value, rows, beta)
    print(format_calibration(zs, what), flush=True)


if __name__ == '__main__':
  app.run(main)
