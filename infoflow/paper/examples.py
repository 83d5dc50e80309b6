"""Report sections of the minimal examples and of MNIST (see
`infoflow.paper.sections` for the format and the SZT sections).

Minimal examples: the first hidden layer has one unit and is a function of
the input before its noise, T = s(X) + N(0, beta^2), so its I(X;T) is known
exactly by quadrature (`infoflow.measures.quadrature`) from the noise-free outputs
s(x). Those are saved for seed 0 at every analysed epoch
(`representations/`), so the exact value is seed 0's, set beside the
estimates of every seed.
"""

from __future__ import annotations

import math

import numpy as np

from infoflow import units
from infoflow.measures import quadrature
from infoflow.paper import findings as f
from infoflow.paper import sections as rs

# An exact value within this of a paper step (bits) counts as reaching it.
STEP_TOLERANCE_BITS = 0.1


def exact_bits(run, layer: str) -> dict[int, float]:
  """`{epoch: exact I(X;T) in bits}` of a one-unit `layer` of seed 0, from
  its saved noise-free outputs; empty without them or without noise."""
  beta = float(run.meta.get('beta') or 0.0)
  out = {}
  if beta <= 0:
    return out
  for epoch in run.snapshots:
    points = run.snapshots[epoch].get(layer)
    if points is not None and points.ndim == 2 and points.shape[1] == 1:
      out[epoch] = quadrature.gaussian_channel_information(points[:, 0], beta) * units.BITS_PER_NAT
  return out


def estimates_bits(records, layer: str) -> dict[int, dict[int, float]]:
  """`{epoch: {seed: estimated I(X;T) in bits}}`."""
  out: dict[int, dict[int, float]] = {}
  for seed, records_of_seed in f.by_seed(records).items():
    for epoch, value in zip(*f.trajectory(records_of_seed, f.mi_input(layer))):
      out.setdefault(int(epoch), {})[seed] = value * units.BITS_PER_NAT
  return out


def _steps_rows(estimates, exact, steps, out: list[str]) -> list[list[str]]:
  """One row per paper step: the analysed epoch whose mean estimate is
  nearest it, the estimate there, seed 0's exact value and error."""
  rows = []
  epochs = sorted(estimates)
  means = np.array([np.mean(list(estimates[e].values())) for e in epochs])
  for step in steps:
    e = epochs[int(np.argmin(np.abs(means - step)))]
    est, ex = f.stat(list(estimates[e].values())), exact.get(e, math.nan)
    err = estimates[e].get(0, math.nan) - ex
    rows.append([f'{step:.2f}', str(e), rs.fmt(est, 3), f'{ex:.3f}', f'{err:+.3f}'])
    if exact:
      best = min(exact, key=lambda k: abs(exact[k] - step))
      reached = abs(exact[best] - step) <= STEP_TOLERANCE_BITS
      out.append(
        f'Step {step:.2f} bits: the exact I(X;T) of seed 0 comes closest at epoch {best} '
        f'({exact[best]:.3f} bits; tolerance {STEP_TOLERANCE_BITS} bits): '
        f'{rs.verdict(reached)}.'
      )
  return rows


def _error_line(estimates, exact, layer: str) -> list[str]:
  """Seed 0's largest |estimate - exact| over the analysed epochs."""
  errors = {e: estimates[e][0] - exact[e] for e in exact if 0 in estimates.get(e, {})}
  if not errors:
    return []
  worst = max(errors, key=lambda e: abs(errors[e]))
  return [
    f'Estimator check, {layer}, seed 0: the largest |estimate - exact| over the '
    f'{len(errors)} analysed epochs is {abs(errors[worst]):.3f} bits (epoch {worst}).',
    '',
  ]


def _exact_table(estimates, exact) -> list[str]:
  """Seed 0's estimate and exact value at the first, middle and last
  analysed epochs, and the estimates of all seeds."""
  epochs = sorted(e for e in exact if e in estimates)
  picked = sorted({epochs[0], epochs[len(epochs) // 2], epochs[-1]}) if epochs else []
  rows = [
    [str(e), f'{estimates[e].get(0, math.nan):.3f}', f'{exact[e]:.3f}']
    + [rs.fmt(f.stat(list(estimates[e].values())), 3)]
    for e in picked
  ]
  header = ['epoch', 'estimate, seed 0 [bits]', 'exact, seed 0 [bits]', 'estimate, all seeds']
  return rs.table(header, rows)


def minimal_section(run, *, steps=()) -> rs.Section:
  """I(X;T) of the minimal examples in bits: at the paper's steps (when
  given), against the exact quadrature of the first layer."""
  sec = rs.Section()
  layers = rs.layers_with(run)
  rows = []
  for n, s in f.information_summary(run.records, layers).items():
    rows.append([n] + [rs.fmt(s[k], 3, units.BITS_PER_NAT) for k in ('first', 'peak', 'last')])
    rows[-1].append(rs.fmt(s['last_over_peak'], 3))
  sec.lines += ['I(X;T_l) in bits, mean (min to max) over the seeds:', '']
  sec.lines += rs.table(['layer', 'first', 'peak', 'last', 'last / peak'], rows) + ['']
  if not layers:
    return sec
  first = layers[0]
  estimates, exact = estimates_bits(run.records, first), exact_bits(run, first)
  if steps and estimates:
    sec.lines += [
      f"{first} at the paper's steps (docs/method.md, section 7): the analysed epoch whose "
      'mean estimate is nearest each step; the exact value is the quadrature of seed 0 '
      '(infoflow.measures.quadrature).',
      '',
    ]
    header = ['paper [bits]', 'epoch', 'estimate [bits]', 'exact, seed 0', 'seed 0 - exact']
    sec.lines += rs.table(header, _steps_rows(estimates, exact, steps, sec.claims))
    sec.lines.append('')
  elif exact:
    sec.lines += [f'{first}: estimate against the exact quadrature (seed 0):', '']
    sec.lines += _exact_table(estimates, exact) + ['']
  sec.lines += _error_line(estimates, exact, first)
  return sec


def _gap_rows(noisy, plain) -> list[list[str]]:
  rows = []
  layers = [n for n in noisy.layer_order if f.clustering_measures(noisy.records, n)]
  for n in layers:
    for m in ('within', 'between', 'gap'):
      cells = [
        rs.fmt(f.clustering_at(run.records, n, m, which), 3)
        for run in (noisy, plain)
        for which in ('first', 'last')
      ]
      rows.append([n, m] + cells)
  return rows


def mnist_section(noisy, plain) -> rs.Section:
  """Accuracies of the noisy and deterministic CNNs side by side, and the
  within-class block structure of the cosine similarity as numbers."""
  sec = rs.Section()
  fields = [(s, m) for s in ('validation', 'test') for m in ('accuracy', 'accuracy_noisy')]
  acc_n, acc_d = f.final_metrics(noisy.records, fields), f.final_metrics(plain.records, fields)
  rows = []
  for split in ('validation', 'test'):
    no = f.Stat(math.nan, math.nan, math.nan, 0)
    rows.append(
      [f'{split} accuracy']
      + [rs.fmt(acc_n.get((split, m), no), 4) for m in ('accuracy', 'accuracy_noisy')]
      + [rs.fmt(acc_d.get((split, 'accuracy'), no), 4)]
    )
  header = ['last epoch', 'noisy net, noise-free pass', 'noisy net, noisy pass', 'deterministic']
  sec.lines += rs.table(header, rows) + ['']
  sec.lines += [
    'Within-class block structure of the cosine similarity: the mean within-class and '
    'between-class cosine similarity of the noise-free representations and their gap '
    '(within - between), at the first and the last analysed epoch:',
    '',
  ]
  header = ['layer', 'measure', 'noisy, first', 'noisy, last', 'deterministic, first']
  sec.lines += rs.table(header + ['deterministic, last'], _gap_rows(noisy, plain)) + ['']
  for run, what in ((noisy, 'noisy'), (plain, 'deterministic')):
    layers = [n for n in run.layer_order if f.clustering_measures(run.records, n)]
    if layers:
      first = f.clustering_at(run.records, layers[-1], 'gap', 'first')
      last = f.clustering_at(run.records, layers[-1], 'gap', 'last')
      grew = first.count and last.count and last.mean > max(first.mean, 0.0)
      sec.claims.append(
        f'Within-class blocks in the {what} net ({layers[-1]}; the paper: they form over '
        f'training): gap {rs.fmt(first, 3)} at the first epoch, {rs.fmt(last, 3)} at the last: '
        f'{rs.verdict(bool(grew))}.'
      )
  return sec
