"""Report sections of the minimal examples and of MNIST (see
`infoflow.paper.sections` for the format and the SZT sections).

Minimal examples: the first hidden layer has one unit and is a function of
the input before its noise, T = s(X) + N(0, beta^2), so its I(X;T) is known
exactly by quadrature (`infoflow.measures.quadrature`). Every record of such
a run carries it (`quadrature`, written by `infoflow.analysis.quadrature_hook`
for every seed at every analysed epoch), and each seed's Monte Carlo estimate
is set against its own exact value. Records from before that field fall back
to the noise-free outputs saved for seed 0 (`representations/`): then only
seed 0 has an exact value.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from infoflow import units
from infoflow.measures import quadrature
from infoflow.paper import findings as f
from infoflow.paper import sections as rs
from infoflow.record import dig
from infoflow.record import value_stderr

# An estimate within this of a paper step (bits) counts as on the step.
STEP_TOLERANCE_BITS = 0.1
# A step is held when at least this many analysed epochs are on it.
PLATEAU_EPOCHS = 2
# The estimate agrees with the exact value when they differ by at most this
# many of its standard errors, or by at most AGREEMENT_FLOOR_BITS: where the
# Monte Carlo draws are all alike (inputs far apart) the stderr is ~1e-5 nats
# and the rare draws that land between two inputs can be missed, which moves
# the estimate by ~1e-4 nats; such a gap says nothing about the steps.
AGREEMENT_STDERRS = 4.0
AGREEMENT_FLOOR_BITS = 1e-3


@dataclasses.dataclass(frozen=True)
class SeedTrace:
  """One seed's I(X;T) of a layer at its analysed epochs (nats).

  Attributes:
    epochs: (n,) analysed epochs with a finite estimate, increasing.
    estimate: (n,) the Monte Carlo estimate.
    stderr: (n,) its standard error (NaN when not recorded).
    exact: (n,) the exact value by quadrature (NaN where unknown).
  """

  epochs: np.ndarray
  estimate: np.ndarray
  stderr: np.ndarray
  exact: np.ndarray

  def gap(self) -> np.ndarray:
    """|estimate - exact| in nats (NaN without an exact value)."""
    return np.abs(self.estimate - self.exact)

  def deviation(self) -> np.ndarray:
    """|estimate - exact| in units of the stderr; 0 where the gap is at most
    AGREEMENT_FLOOR_BITS (a stderr of 0 counts as 1e-12 nats; NaN without an
    exact value or a stderr)."""
    gap = self.gap()
    with np.errstate(invalid='ignore'):
      deviation = gap / np.maximum(self.stderr, 1e-12)
    return np.where(gap <= AGREEMENT_FLOOR_BITS / units.BITS_PER_NAT, 0.0, deviation)

  def agrees(self) -> np.ndarray:
    """Per epoch: the estimate agrees with the exact value (within
    AGREEMENT_STDERRS standard errors, or AGREEMENT_FLOOR_BITS); False
    without an exact value."""
    with np.errstate(invalid='ignore'):
      return self.deviation() <= AGREEMENT_STDERRS


def exact_from_representations(run, layer: str) -> dict[int, float]:
  """`{epoch: exact I(X;T) in nats}` of a one-unit `layer` of seed 0, from its
  saved noise-free outputs (records without `quadrature`); empty without
  them or without noise."""
  beta = float(run.meta.get('beta') or 0.0)
  out = {}
  if beta <= 0:
    return out
  for epoch in run.snapshots:
    points = run.snapshots[epoch].get(layer)
    if points is not None and points.ndim == 2 and points.shape[1] == 1:
      out[epoch] = quadrature.gaussian_channel_information(points[:, 0], beta)
  return out


def seed_traces(run, layer: str) -> dict[int, SeedTrace]:
  """`{seed: SeedTrace}` of `layer`: the records' estimates and exact values
  (`quadrature`), else, when no record of the run has one, seed 0's exact
  values from its saved representations."""
  by_seed = f.by_seed(run.records)
  recorded = any(dig(r, 'quadrature', layer) is not None for r in run.records)
  saved = {} if recorded else exact_from_representations(run, layer)
  traces = {}
  for seed, records in by_seed.items():
    rows = []
    for r in records:
      value, stderr = value_stderr(dig(r, 'information', layer, 'mi_input'))
      if not math.isfinite(value):
        continue
      if recorded:
        exact = dig(r, 'quadrature', layer)
      else:
        exact = saved.get(r['epoch']) if seed == 0 else None
      rows.append((r['epoch'], value, stderr, math.nan if exact is None else float(exact)))
    if rows:
      traces[seed] = SeedTrace(*(np.array(column, float) for column in zip(*rows)))
  return traces


def _on_step(trace: SeedTrace, step_bits: float) -> np.ndarray:
  """Per epoch: the estimate lies within STEP_TOLERANCE_BITS of the step."""
  return np.abs(trace.estimate * units.BITS_PER_NAT - step_bits) <= STEP_TOLERANCE_BITS


def _step_cell(trace: SeedTrace, step_bits: float) -> str:
  """'first to last (count)' of the analysed epochs on the step; '-' if none."""
  epochs = trace.epochs[_on_step(trace, step_bits)].astype(int)
  if not len(epochs):
    return '-'
  span = str(epochs[0]) if len(epochs) == 1 else f'{epochs[0]} to {epochs[-1]}'
  return f'{span} ({len(epochs)})'


def _bits(value: float, digits: int = 3) -> str:
  return '-' if not math.isfinite(value) else f'{value * units.BITS_PER_NAT:.{digits}f}'


def _steps_table(traces: dict[int, SeedTrace], steps) -> list[str]:
  """One row per seed: the analysed epochs on each step, the last estimate
  and exact value."""
  rows = []
  for seed, t in traces.items():
    last = f'{_bits(t.estimate[-1])} +- {_bits(t.stderr[-1])}'
    rows.append([str(seed)] + [_step_cell(t, s) for s in steps] + [last, _bits(t.exact[-1])])
  header = ['seed'] + [f'at {s:.2f} bits: epochs (count)' for s in steps]
  return rs.table(header + ['last epoch: estimate [bits]', 'exact [bits]'], rows)


def _step_claims(traces: dict[int, SeedTrace], steps) -> list[str]:
  """Per step: the seeds whose estimate holds it for PLATEAU_EPOCHS analysed
  epochs (and, for the last step, ends on it)."""
  claims, n = [], len(traces)
  for i, step in enumerate(steps):
    held = [s for s, t in traces.items() if _on_step(t, step).sum() >= PLATEAU_EPOCHS]
    what = f'stays within {STEP_TOLERANCE_BITS} bits of it for {PLATEAU_EPOCHS}+ analysed epochs'
    if i == len(steps) - 1:
      held = [s for s in held if _on_step(traces[s], step)[-1]]
      what += ' and ends on it (the last analysed epoch)'
    claims.append(
      f'Step {step:.2f} bits: the estimate {what} in {len(held)} of {n} seeds: '
      f'{rs.verdict(len(held) == n)}.'
    )
  return claims


def _agreement_table(traces: dict[int, SeedTrace]) -> list[str]:
  """Per seed: the epochs compared, the largest |estimate - exact| in bits
  and in stderrs (with their epochs), and how many agree."""
  rows = []
  for seed, t in traces.items():
    known = np.isfinite(t.exact)
    if not known.any():
      rows.append([str(seed), '0', '-', '-', '-'])
      continue
    gap, dev, epochs = t.gap()[known], t.deviation()[known], t.epochs[known]
    i, j = int(np.argmax(gap)), int(np.nanargmax(dev)) if np.isfinite(dev).any() else None
    rows.append(
      [
        str(seed),
        str(int(known.sum())),
        f'{_bits(gap[i], 4)} (epoch {int(epochs[i])})',
        '-' if j is None else f'{dev[j]:.1f} (epoch {int(epochs[j])})',
        f'{int(t.agrees()[known].sum())} of {int(known.sum())}',
      ]
    )
  header = ['seed', 'epochs with exact', 'max abs(estimate - exact) [bits]', 'max in stderrs (*)']
  return rs.table(header + ['agree'], rows)


def _epoch_table(traces: dict[int, SeedTrace]) -> list[str]:
  """Per analysed epoch: the estimate and the exact value over the seeds
  (bits) and the largest deviation in stderrs."""
  values: dict[int, list] = {}
  for t in traces.values():
    for e, est, ex, dev in zip(t.epochs.astype(int), t.estimate, t.exact, t.deviation()):
      values.setdefault(int(e), []).append((est, ex, dev))
  rows = []
  for e in sorted(values):
    est, ex, dev = (np.array(c, float) for c in zip(*values[e]))
    worst = f'{np.nanmax(dev):.1f}' if np.isfinite(dev).any() else '-'
    bits = units.BITS_PER_NAT
    rows.append([str(e), rs.fmt(f.stat(est), 3, bits), rs.fmt(f.stat(ex), 3, bits), worst])
  header = ['epoch', 'estimate [bits]', 'exact [bits]', 'max abs(estimate - exact) / stderr (*)']
  return rs.table(header, rows)


def _agreement_line(traces: dict[int, SeedTrace], layer: str) -> list[str]:
  """How many layer-epochs of all seeds agree with the exact value, and the
  largest deviation."""
  known = [(s, t, np.isfinite(t.exact)) for s, t in traces.items()]
  total = sum(int(k.sum()) for _, _, k in known)
  if not total:
    return []
  agree = sum(int(t.agrees()[k].sum()) for _, t, k in known)
  worst = max(
    ((float(d), s, int(e)) for s, t, k in known for d, e in zip(t.deviation()[k], t.epochs[k])),
    key=lambda item: item[0] if math.isfinite(item[0]) else -1.0,
  )
  return [
    f'Estimator check, {layer}: at {agree} of {total} analysed epochs of {len(traces)} seeds '
    f'the estimate is within {AGREEMENT_STDERRS:g} standard errors (or '
    f'{AGREEMENT_FLOOR_BITS} bits) of the exact value; the largest deviation is '
    f'{worst[0]:.1f} standard errors (seed {worst[1]}, epoch {worst[2]}).',
    '',
  ]


def minimal_section(run, *, steps=()) -> rs.Section:
  """I(X;T) of the minimal examples in bits: per seed, the analysed epochs on
  each of the paper's steps (when given), and the estimate of the first
  layer against its exact quadrature at every analysed epoch."""
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
  traces = seed_traces(run, first)
  if steps and traces:
    sec.lines += [
      f"{first} on the paper's steps (docs/method.md, section 7), per seed: the analysed "
      f'epochs whose estimate lies within {STEP_TOLERANCE_BITS} bits of each step (first to '
      'last, and how many), and the last analysed epoch (estimate +- stderr; exact value by '
      'quadrature, infoflow.measures.quadrature):',
      '',
    ]
    sec.lines += _steps_table(traces, steps) + ['']
    sec.claims += _step_claims(traces, steps)
  if any(np.isfinite(t.exact).any() for t in traces.values()):
    sec.lines += [
      f'{first}: the estimate against the exact value, per seed, over the analysed epochs '
      f'(agree: within {AGREEMENT_STDERRS:g} standard errors or {AGREEMENT_FLOOR_BITS} bits; '
      f'(*) gaps of at most {AGREEMENT_FLOOR_BITS} bits count as 0 standard errors: where '
      'the inputs lie far apart the stderr is ~1e-5 nats and rare Monte Carlo draws between '
      'two inputs can be missed):',
      '',
    ]
    sec.lines += _agreement_table(traces) + ['']
    sec.lines += [f'{first} at every analysed epoch, mean (min to max) over the seeds:', '']
    sec.lines += _epoch_table(traces) + ['']
    sec.lines += _agreement_line(traces, first)
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
