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

from infoflow import configs
from infoflow import units
from infoflow.measures import distinguishable
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


# The config of a net whose dense layer cannot sit at its ceiling (tanh units,
# a dense layer of 2; its docstring derives why): the MNIST section points to it.
BOUNDED_CONFIG = 'mnist_narrow_tanh'
# The rows of the accuracy comparison: (label, decimals).
ACCURACY_ROWS = (
  ('test accuracy, last epoch', 4),
  ('validation accuracy, last epoch', 4),
  ('best validation accuracy', 4),
  ('epoch of the best validation accuracy', 0),
)


def chance_apart(n_a: int, n_b: int) -> float:
  """The probability that the ranges over seeds of two nets do not overlap
  when the nets do not differ: all orderings of the n_a + n_b values are then
  equally likely, and in 2 of the C(n_a + n_b, n_a) ways to share the ranks
  one net holds all the top ones: 2 / C(n_a + n_b, n_a) (0.1 for 3 seeds
  each, 0.029 for 4, 0.008 for 5)."""
  return 2 / math.comb(n_a + n_b, n_a)


def ranges_apart(a: f.Stat, b: f.Stat) -> bool:
  """The rule for 'the difference is larger than the seed spread': each net
  has at least 2 seeds and their ranges over seeds do not overlap (every
  seed of one above every seed of the other; a tie overlaps)."""
  return a.count >= 2 and b.count >= 2 and (a.low > b.high or b.low > a.high)


def accuracy_stats(run) -> dict[str, f.Stat]:
  """The noise-free pass's accuracies over seeds, keyed by the labels of
  ACCURACY_ROWS: the last analysed epoch's test and validation accuracy, the
  best validation accuracy over the analysed epochs and its epoch."""
  last = f.final_metrics(run.records, [('test', 'accuracy'), ('validation', 'accuracy')])
  best = f.peak_summary(run.records, lambda r: dig(r, 'validation', 'accuracy'))
  values = [
    last.get(('test', 'accuracy')),
    last.get(('validation', 'accuracy')),
    best['peak'],
    best['peak_epoch'],
  ]
  return {label: v or f.stat([]) for (label, _), v in zip(ACCURACY_ROWS, values)}


def _comparison_rows(noisy, plain) -> list[list[str]]:
  """Per ACCURACY_ROWS: both nets, the difference of the means and whether
  it is larger than the seed spread (`ranges_apart`)."""
  a, b = accuracy_stats(noisy), accuracy_stats(plain)
  rows = []
  for label, digits in ACCURACY_ROWS:
    x, y = a[label], b[label]
    if digits and x.count and y.count:
      cells = [f'{x.mean - y.mean:+.{digits}f}', 'yes' if ranges_apart(x, y) else 'no']
    else:
      cells = ['-', '-']
    rows.append([label, rs.fmt(x, digits), rs.fmt(y, digits)] + cells)
  return rows


def accuracy_verdict(noisy: f.Stat, plain: f.Stat, what: str) -> str:
  """A sentence on `what` (an accuracy) of the noisy net against the
  deterministic one under the rule of `ranges_apart`; '' without values."""
  if not (noisy.count and plain.count):
    return ''
  diff = noisy.mean - plain.mean
  both = f'noisy {rs.fmt(noisy, 4)} against deterministic {rs.fmt(plain, 4)}'
  if noisy.count < 2 or plain.count < 2:
    return (
      f'{what}: {both} (difference {diff:+.4f}); with one seed of a net there is no seed '
      'spread to compare the difference with: run 3 or more seeds.'
    )
  seeds = f'{noisy.count} and {plain.count} seeds'
  if ranges_apart(noisy, plain):
    side = 'below' if diff < 0 else 'above'
    return (
      f'{what}: the noisy net lies {side} the deterministic one in every seed ({both}, '
      f'difference of the means {diff:+.4f}, {seeds}): larger than the seed spread (the ranges '
      'over seeds do not overlap; were the nets alike, that would happen by chance with '
      f'probability {chance_apart(noisy.count, plain.count):.3f}).'
    )
  return (
    f'{what}: {both}; the ranges over seeds overlap, so the difference of the means '
    f'({diff:+.4f}) is within the seed spread: these {seeds} do not tell the nets apart.'
  )


def accuracy_lines(noisy, plain) -> list[str]:
  """The accuracy comparison of the noisy net's noise-free pass with the
  deterministic net: a table and a sentence on the final test accuracy."""
  lines = [
    'Noisy (noise-free pass) against deterministic, mean (min to max) over the seeds; the '
    'difference counts as larger than the seed spread when the ranges over seeds do not '
    "overlap (every seed of one net above every seed of the other: with n and n' seeds, "
    "by chance with probability 2 / C(n + n', n) were the nets alike, 0.1 for 3 seeds "
    'each). Best: over the analysed epochs.',
    '',
  ]
  header = ['noise-free pass', 'noisy net', 'deterministic', 'noisy minus deterministic']
  lines += rs.table(header + ['larger than the seed spread'], _comparison_rows(noisy, plain))
  label = ACCURACY_ROWS[0][0]
  verdict = accuracy_verdict(
    accuracy_stats(noisy)[label], accuracy_stats(plain)[label], 'Test accuracy at the last epoch'
  )
  return lines + [''] + ([verdict, ''] if verdict else [])


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


@dataclasses.dataclass(frozen=True)
class CeilingCheck:
  """A layer's I(X;T) against its ceiling at the analysed epochs from 1 on
  (every seed; epoch 0 is the untrained net).

  Attributes:
    layer: the layer.
    checked: layer-epochs with an estimate.
    seeds: seeds among them.
    gaps: (checked,) ceiling minus estimate, nats.
    ceiling: the ceilings (`record_ceiling`) over those layer-epochs.
    clusters, packed: the single-linkage (`num_clusters`) and packed
      (`packed_clusters`) counts of beta-distinguishable clusters there
      (count 0 where the records have none).
  """

  layer: str
  checked: int
  seeds: int
  gaps: np.ndarray
  ceiling: f.Stat
  clusters: f.Stat
  packed: f.Stat

  @property
  def pinned(self) -> bool:
    """Within rs.AT_CEILING_NATS of the ceiling at every layer-epoch."""
    return self.checked > 0 and bool(np.all(np.abs(self.gaps) <= rs.AT_CEILING_NATS))


def record_ceiling(record: dict, run) -> float:
  """The record's `information_ceiling` (nats), else log m of the run's m
  analysed inputs (records written before the field), else NaN."""
  value = record.get('information_ceiling')
  if value is not None:
    return float(value)
  return math.log(run.num_inputs) if run.num_inputs else math.nan


def ceiling_check(run, layer: str) -> CeilingCheck:
  """The `CeilingCheck` of `layer` over every seed's analysed epochs >= 1."""
  rows = []
  for seed, records in f.by_seed(run.records).items():
    for r in records:
      value, _ = value_stderr(dig(r, 'information', layer, 'mi_input'))
      if r['epoch'] >= 1 and math.isfinite(value):
        rows.append((seed, r, record_ceiling(r, run) - value))
  count = lambda field: f.stat([dig(r, 'clustering', layer, field) for _, r, _ in rows])
  return CeilingCheck(
    layer,
    len(rows),
    len({seed for seed, _, _ in rows}),
    np.array([gap for _, _, gap in rows], float),
    f.stat([record_ceiling(r, run) for _, r, _ in rows]),
    count('num_clusters'),
    count('packed_clusters'),
  )


def _cluster_evidence(check: CeilingCheck, run) -> str:
  """What the clustering records say of the inputs' distances at the scale
  of beta ('' when they have no cluster counts)."""
  if not check.clusters.count:
    return ''
  scale = run.meta.get('clustering') or {}
  beta = scale.get('beta', run.meta.get('beta'))
  threshold = scale.get('threshold', distinguishable.DEFAULT_THRESHOLD)
  m = run.num_inputs or '?'
  radius = f' = {threshold * beta:g}' if beta else ''
  text = (
    f' The clustering records say why: the single-linkage count of beta-distinguishable '
    f'clusters (points closer than {threshold:g} beta{radius} joined) is '
    f'{rs.fmt(check.clusters, 0)} of m = {m} at those layer-epochs'
  )
  if check.packed.count:
    text += f' (the packed count {rs.fmt(check.packed, 0)})'
  if check.clusters.low == run.num_inputs:
    confused = 0.5 * math.erfc(threshold / 2 / math.sqrt(2))
    return text + (
      f': no two analysed inputs lie within {threshold:g} beta of each other, a distance at '
      f'which the best test confuses two inputs with probability {confused:.3f} at most '
      '(docs/method.md, section 6).'
    )
  return text + f': some inputs lie within {threshold:g} beta of another.'


def ceiling_sentence(check: CeilingCheck, run) -> str:
  """Whether the layer's I(X;T) is pinned at its ceiling from epoch 1 on,
  and why when it is (every analysed input beta-distinguishable); '' when
  nothing was estimated after epoch 0."""
  if not check.checked:
    return ''
  where = f'{check.checked} analysed epochs from epoch 1 on of {check.seeds} seeds'
  ceiling = f'its ceiling {rs.fmt(check.ceiling, 3)} nats'
  if not check.pinned:
    low, high = float(np.nanmin(check.gaps)), float(np.nanmax(check.gaps))
    return (
      f'{check.layer}: I(X;T) moves: {low:.3f} to {high:.3f} nats below {ceiling} over the {where}.'
    )
  return (
    f'{check.layer}: I(X;T) is pinned at {ceiling}: within {rs.AT_CEILING_NATS} nats of it at '
    f'all {where} (largest gap {float(np.max(np.abs(check.gaps))):.4f} nats). The ceiling is '
    'reached when the layer tells every analysed input apart, each input beta-distinguishable '
    "from all others, so these numbers show nothing of how training changes the layer's "
    'geometry.' + _cluster_evidence(check, run)
  )


def bounded_layer_bound(width: int, beta: float) -> float:
  """(d/2) log(1 + 1/beta^2) nats: the most I(X;T) of a layer T = S +
  N(0, beta^2 I_d) whose d units lie in [-1, 1] (tanh). I(X;T) <= I(S;T) =
  h(T) - h(N), and each unit of T has variance at most 1 + beta^2, for which
  the Gaussian has the most entropy. The plug-in estimand (R replicas per
  input, centres in the same box) obeys it too."""
  return 0.5 * width * math.log1p(1 / beta**2)


def bounded_pointer() -> str:
  """A sentence that points to BOUNDED_CONFIG, a net whose dense layer's
  I(X;T) cannot reach its ceiling log m, with the bound."""
  config = configs.get_config(BOUNDED_CONFIG)
  width, beta = config.model.dense_widths[-1], config.model.beta
  bound, log_m = bounded_layer_bound(width, beta), math.log(config.analysis.num_eval_inputs)
  return (
    f'A setting where the estimate cannot sit at its ceiling: config `{BOUNDED_CONFIG}` '
    f'({config.model.activation} units, a dense layer of {width}, beta = {beta:g}; '
    f'`python3 -m launch.train --config={BOUNDED_CONFIG} --config.num_seeds=3 '
    f'--workdir=runs/{BOUNDED_CONFIG}`, not part of this experiment: one more net per seed). '
    'A ReLU layer can outgrow any fixed beta by growing its scale; a bounded layer cannot: '
    f'its I(X;T) is at most (d/2) log(1 + 1/beta^2) = {bound:.2f} nats for d = {width}, '
    f'{log_m - bound:.2f} below its ceiling log m = {log_m:.3f} (m = '
    f"{config.analysis.num_eval_inputs} analysed inputs), at every epoch (the config's "
    'docstring derives it, and says why a larger beta or a narrower ReLU layer is not enough).'
  )


def information_lines(run, out: rs.Section) -> list[str]:
  """The run's I(X;T) per layer (`sections.information_table`), then per
  layer whether it is pinned at its ceiling from epoch 1 on."""
  layers = rs.layers_with(run)
  if not layers:
    return []
  lines = [f'{run.name}: I(X;T_l) in nats, mean (min to max) over the seeds, and its ceiling:', '']
  lines += rs.information_table(run, False, out) + ['']
  for n in layers:
    sentence = ceiling_sentence(ceiling_check(run, n), run)
    lines += [sentence, ''] if sentence else []
  return lines


def mnist_section(noisy, plain, bounded=None) -> rs.Section:
  """Accuracies of the noisy and deterministic CNNs side by side and whether
  they differ by more than the seed spread (`ranges_apart`), the
  within-class block structure of the cosine similarity as numbers, and
  the noisy net's I(X;T) against its ceiling, with a pointer to
  BOUNDED_CONFIG when a layer is pinned there (or, given `bounded`, a run
  of it, that run's numbers)."""
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
  sec.lines += accuracy_lines(noisy, plain)
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
  sec.lines += information_lines(noisy, sec)
  if bounded is not None:
    sec.lines += information_lines(bounded, sec)
  elif any(ceiling_check(noisy, n).pinned for n in rs.layers_with(noisy)):
    sec.lines += [bounded_pointer(), '']
  return sec
