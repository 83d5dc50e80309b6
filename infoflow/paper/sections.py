"""The findings sections of the reproduction report (Markdown), one per kind
of experiment, with the authors' values beside ours where they exist.

Each `*_section` function takes loaded runs (`infoflow.record.Run`) and
returns a `Section`: Markdown lines of tables, and `differences`, sentences
computed from the numbers that say where the results differ from the paper
(and where they agree). Numbers are `findings.Stat`s: the mean over seeds and
the min to max range, written `mean (min to max)`.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Optional

from infoflow.paper import findings as f

# The authors' saved SZT run (tanh, beta = 0.005, R = 100, 10,000 epochs,
# Adam 4e-4, batch 256): I(X;T) in nats. 'peak' is the highest value of the
# run and 'peak_epoch' its epoch (None: flat, no clear peak).
AUTHORS_SZT = {
  'T1': {'first': 7.76, 'peak': 7.77, 'last': 7.76, 'peak_epoch': 'flat (7.72-7.77)'},
  'T2': {'first': 7.81, 'peak': 7.90, 'last': 7.90, 'peak_epoch': 'flat (7.78-7.90)'},
  'T3': {'first': 7.67, 'peak': 7.88, 'last': 7.85, 'peak_epoch': '6892'},
  'T4': {'first': 5.52, 'peak': 7.09, 'last': 5.57, 'peak_epoch': '~509-559'},
  'T5': {'first': 2.52, 'peak': 4.92, 'last': 2.30, 'peak_epoch': '509'},
}
# Their early peak, dip and late peak: (nats, epoch as written).
AUTHORS_SZT_SHAPE = {
  'T3': {'early_peak': (7.74, '24'), 'dip': (7.49, '79'), 'late_peak': (7.88, '6892')},
  'T4': {'early_peak': (6.78, '24'), 'dip': (5.18, '79'), 'late_peak': (7.09, '~509-559')},
  'T5': {'early_peak': (4.89, '26'), 'dip': (3.33, '66-79'), 'late_peak': (4.92, '509')},
}
# Their noise-free training: (value, as written).
AUTHORS_SZT_TRAINING = {
  'min_test_loss': (0.0956, '0.0956'),
  'min_test_loss_epoch': (1072, '1072'),
  'last_test_loss': (0.169, '0.169'),
  'fit_epoch': (None, 'fit between epochs 15 and 40 (~48% until epoch ~10)'),
  'train_accuracy': (0.9997, '0.9997'),
  'test_accuracy': (0.9805, '0.9805'),
}
# The minimal tanh neuron's steps of I(X;T) in bits (docs/method.md, section 7):
# H(1/4 x 4) = 2, H(1/4, 1/2, 1/4) = 1.5, H(3/4, 1/4).
TANH_STEPS_BITS = (2.0, 1.5, -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
# "Compresses": the last value at most this fraction of the peak (our threshold).
COMPRESSION_RATIO = 0.9


@dataclasses.dataclass
class Section:
  """A report section's Markdown lines and its sentences on the paper.

  Attributes:
    lines: the findings (tables and their captions).
    claims: the paper's qualitative claims checked on our numbers, each
      saying whether ours agree.
    differences: the paper's numbers outside the range of our seeds.
    compared: how many paper numbers were set beside ours.
  """

  lines: list[str] = dataclasses.field(default_factory=list)
  claims: list[str] = dataclasses.field(default_factory=list)
  differences: list[str] = dataclasses.field(default_factory=list)
  compared: int = 0


def verdict(agrees: bool) -> str:
  """'agrees with the paper', or '**differs from the paper**' in bold."""
  return 'agrees with the paper' if agrees else '**differs from the paper**'


def fmt(s: f.Stat, digits: int = 2, scale: float = 1.0) -> str:
  """`mean (min to max)`, or the value alone for one seed; '-' if none."""
  if not s.count:
    return '-'
  mean, low, high = s.mean * scale, s.low * scale, s.high * scale
  if s.count == 1 or math.isclose(low, high):
    return f'{mean:.{digits}f}'
  return f'{mean:.{digits}f} ({low:.{digits}f} to {high:.{digits}f})'


def table(header: list[str], rows: list[list[str]]) -> list[str]:
  """A Markdown table."""
  out = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
  return out + ['| ' + ' | '.join(str(c) for c in row) + ' |' for row in rows]


def versus(what: str, s: f.Stat, paper: Optional[float], digits: int, sec: Section) -> str:
  """The paper's value as a cell; counts it in `sec.compared`, and adds a
  sentence to `sec.differences` when it lies outside our range over seeds by
  more than the rounding of `digits`."""
  if paper is None or not s.count:
    return '-' if paper is None else f'{paper:.{digits}f}'
  sec.compared += 1
  tol = 0.5 * 10.0**-digits
  if not s.low - tol <= paper <= s.high + tol:
    side = 'above' if s.mean > paper else 'below'
    sec.differences.append(
      f'{what}: ours {fmt(s, digits)}, the paper {paper:.{digits}f}; ours lies {side} '
      f"the paper's value{' for every seed' if s.count > 1 else ''}."
    )
  return f'{paper:.{digits}f}'


def layers_with(run, field: str = 'information') -> list[str]:
  """The run's layers with `field` in its records, shallow to deep."""
  found = {n for r in run.records for n in (r.get(field) or {}) if n != 'bin_sizes'}
  return [n for n in run.layer_order if n in found]


def information_table(run, authors: bool, out: Section) -> list[str]:
  """Per layer I(X;T) at the first, peak and last analysed epoch (nats)."""
  summary = f.information_summary(run.records, layers_with(run))
  rows = []
  for n, s in summary.items():
    a = AUTHORS_SZT.get(n, {}) if authors else {}
    ratio = a['last'] / a['peak'] if a else None
    rows.append(
      [
        n,
        fmt(s['first']),
        versus(f'{n} I(X;T) at the first epoch', s['first'], a.get('first'), 2, out),
      ]
      + [fmt(s['peak']), versus(f'{n} peak I(X;T)', s['peak'], a.get('peak'), 2, out)]
      + [fmt(s['peak_epoch'], 0), a.get('peak_epoch', '-')]
      + [fmt(s['last']), versus(f'{n} I(X;T) at the last epoch', s['last'], a.get('last'), 2, out)]
      + [fmt(s['last_over_peak']), versus(f'{n} last/peak', s['last_over_peak'], ratio, 2, out)]
    )
  first = next(iter(summary.values()), None)
  epochs = (fmt(first['first_epoch'], 0), fmt(first['last_epoch'], 0)) if first else ('-', '-')
  header = [
    'layer',
    f'first (epoch {epochs[0]})',
    'paper (epoch 1)',
    'peak',
    'paper',
    'peak epoch',
    'paper',
    f'last (epoch {epochs[1]})',
    'paper (epoch 9999)',
    'last / peak',
    'paper',
  ]
  return table(header, rows)


def shape_table(run, authors: bool, out: Section) -> list[str]:
  """Early peak, dip and late peak of the three deepest layers (nats)."""
  rows = []
  for n in layers_with(run)[-3:]:
    s = f.shape_summary(run.records, n)
    a = AUTHORS_SZT_SHAPE.get(n, {}) if authors else {}
    row = [n]
    for key, label in (('early_peak', 'early peak'), ('dip', 'dip'), ('late_peak', 'late peak')):
      value, epoch = a.get(key, (None, '-'))
      row += [fmt(s[key]), fmt(s[key.split('_')[0] + '_epoch'], 0)]
      row += [versus(f'{n} {label}', s[key], value, 2, out) + f' (ep {epoch})' if a else '-']
    rows.append(row)
  header = ['layer', 'early peak', 'epoch', 'paper', 'dip', 'epoch', 'paper']
  header += ['late peak', 'epoch', 'paper']
  return table(header, rows)


def training_table(run, authors: bool, out: Section) -> list[str]:
  """Noise-free loss and accuracy facts, with the authors' beside them."""
  s = f.training_summary(run.records)
  labels = {
    'min_test_loss': ('minimum test loss [nats]', 4),
    'min_test_loss_epoch': ('epoch of the minimum test loss', 0),
    'last_test_loss': ('test loss at the last epoch [nats]', 4),
    'fit_epoch': (f'first analysed epoch with train accuracy >= {f.FIT_ACCURACY}', 0),
    'train_accuracy': ('final train accuracy', 4),
    'test_accuracy': ('final test accuracy', 4),
  }
  rows = []
  for key, (label, digits) in labels.items():
    value, written = AUTHORS_SZT_TRAINING[key] if authors else (None, '-')
    if value is not None:
      versus(label, s[key], value, digits, out)
    rows.append([label, fmt(s[key], digits), written])
  return table(['noise-free', 'ours', 'paper'], rows)


def spearman_table(records, layer: str, reference=None, skip: str = '') -> list[str]:
  """Spearman's rho across epochs of `layer` between the reference and each
  clustering measure and binned entropy."""
  rho = f.spearman_summary(records, layer, reference)
  rows = [[m, fmt(s)] for m, s in rho.items() if m != skip]
  return table(['measure of ' + layer, 'Spearman rho (mean, min to max over seeds)'], rows)


def szt_claims(run, out: list[str]) -> None:
  """The SZT run's two qualitative claims, checked on the numbers."""
  layers = layers_with(run)
  if not layers:
    return
  deep = layers[-1]
  ratio = f.information_summary(run.records, [deep])[deep]['last_over_peak']
  a = AUTHORS_SZT[deep]['last'] / AUTHORS_SZT[deep]['peak'] if deep in AUTHORS_SZT else None
  agrees = bool(ratio.count) and ratio.mean <= COMPRESSION_RATIO
  paper = f' (the paper: {a:.2f})' if a else ''
  out.append(
    f'Compression of the deepest layer {deep} (last/peak <= {COMPRESSION_RATIO}): ours '
    f'{fmt(ratio)}{paper}: {verdict(agrees)}.'
  )
  t = f.training_summary(run.records)
  if t['min_test_loss'].count:
    rise = t['last_test_loss'].mean / t['min_test_loss'].mean
    out.append(
      f'Overfitting (test loss at the end above its minimum; the paper: 0.169 / 0.0956 = '
      f'{0.169 / 0.0956:.2f}x): ours {rise:.2f}x on the mean: {verdict(rise > 1.1)}.'
    )


def szt_section(run, *, authors: bool) -> Section:
  """Information, its shape, training and Spearman tables of an SZT run."""
  sec = Section()
  units = 'I(X;T_l) in nats'
  where = "; the paper's values are the authors' saved SZT run" if authors else ''
  sec.lines += [f'Per layer {units}, mean (min to max) over the seeds{where}.', '']
  sec.lines += information_table(run, authors, sec) + ['']
  sec.lines += [
    f'The shape of the deep layers: the early peak (max over epochs 1-'
    f'{f.EARLY_PEAK_MAX_EPOCH}), the dip after it (min up to epoch {f.DIP_MAX_EPOCH}) and the '
    'late peak (max after the dip), nats.',
    '',
  ]
  sec.lines += shape_table(run, authors, sec) + ['']
  sec.lines += training_table(run, authors, sec) + ['']
  layers = layers_with(run)
  if layers:
    sec.lines += [
      f'Spearman correlation across the analysed epochs between I(X;T) of {layers[-1]} and '
      'each clustering measure and binned entropy of the same layer:',
      '',
    ]
    sec.lines += spearman_table(run.records, layers[-1]) + ['']
  if authors:
    szt_claims(run, sec.claims)
  return sec


def orthonormal_section(ortho, plain) -> Section:
  """Orthonormal against plain SZT: last/peak of the deep layers and the
  final test accuracy side by side (the paper: the regularisation limits
  compression without hurting accuracy)."""
  sec = szt_section(ortho, authors=False)
  deep = [n for n in layers_with(ortho) if n in layers_with(plain)][-3:]
  so = f.information_summary(ortho.records, deep)
  sp = f.information_summary(plain.records, deep)
  rows = [
    [f'{n} last / peak of I(X;T)', fmt(sp[n]['last_over_peak']), fmt(so[n]['last_over_peak'])]
    for n in deep
  ]
  acc_o, acc_p = (f.training_summary(r.records)['test_accuracy'] for r in (ortho, plain))
  rows.append(['final test accuracy', fmt(acc_p, 4), fmt(acc_o, 4)])
  sec.lines += ['Orthonormal against plain:', '']
  sec.lines += table(['', plain.meta.get('config', 'plain'), ortho.meta.get('config', '')], rows)
  sec.lines.append('')
  if deep:
    n = deep[-1]
    less = so[n]['last_over_peak'].mean > sp[n]['last_over_peak'].mean
    sec.claims.append(
      f'Compression of {n} (the paper: orthonormality limits it): last/peak '
      f'{fmt(so[n]["last_over_peak"])} with against {fmt(sp[n]["last_over_peak"])} without: '
      f'{verdict(less)}.'
    )
  if acc_o.count and acc_p.count:
    close = abs(acc_o.mean - acc_p.mean) <= 0.01
    sec.claims.append(
      f'Test accuracy (the paper: not hurt; our tolerance 0.01): {acc_o.mean:.4f} with against '
      f'{acc_p.mean:.4f} without: {verdict(close)}.'
    )
  return sec


def binned_table(run, layers: list[str]) -> list[str]:
  """H(Bin(T)) per layer and bin size: first, peak, last, last/peak (nats)."""
  rows = []
  for n in layers:
    for b in f.bin_sizes(run.records):
      s = f.peak_summary(run.records, f.binned_entropy(n, b))
      if s['first'].count:
        rows.append(
          [n, f'{b:.4g}', fmt(s['first']), fmt(s['peak']), fmt(s['peak_epoch'], 0)]
          + [fmt(s['last']), fmt(s['last_over_peak'])]
        )
  header = ['layer', 'bin size', 'first', 'peak', 'peak epoch', 'last', 'last / peak']
  return table(header, rows)


def deterministic_section(run) -> Section:
  """Binning at several bin sizes, training, and Spearman correlations of a
  deterministic run (no information is estimated at beta = 0)."""
  sec = Section()
  layers = layers_with(run, 'binning')
  sec.lines += [
    'Binned entropy H(Bin(T_l)) in nats per layer and bin size, mean (min to max) over the seeds:',
    '',
  ]
  sec.lines += binned_table(run, layers) + ['']
  sec.lines += training_table(run, False, sec) + ['']
  sizes = f.bin_sizes(run.records)
  if layers and sizes:
    b = min(sizes, key=lambda v: abs(v - 2 / 30))  # Shwartz-Ziv & Tishby's bins
    sec.lines += [
      f'Spearman correlation across the analysed epochs between the binned entropy of '
      f'{layers[-1]} at bin size {b:.4g} and each clustering measure and the other bin sizes:',
      '',
    ]
    skip = f'binned entropy, bin {b:.4g}'
    sec.lines += spearman_table(run.records, layers[-1], f.binned_entropy(layers[-1], b), skip)
    sec.lines.append('')
  return sec
