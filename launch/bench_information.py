r"""Benchmark of the information estimates: posterior form against difference.

    python -m launch.bench_information [--cases=separated,clustered]
        [--num_inputs=4096] [--replicas=100] [--equal_draws=4096]

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


if __name__ == '__main__':
  app.run(main)
