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
from typing import Callable
from typing import Optional

import numpy as np

from infoflow.paper import authors as their_run
from infoflow.paper import findings as f
from infoflow.record import CLUSTER_ENTROPY_FIELDS
from infoflow.record import REPLICA_GAP_STDERRS
from infoflow.record import dig

# The authors' saved SZT run (`infoflow.paper.authors`), summarised by the
# same functions as ours: I(X;T) per layer, the shape of the deep layers,
# noise-free training (each a `findings.Stat` of one value).
_AUTHORS_RECORDS = their_run.records()
AUTHORS_INFORMATION = f.information_summary(_AUTHORS_RECORDS, list(their_run.MI_INPUT))
AUTHORS_SHAPE = {n: f.shape_summary(_AUTHORS_RECORDS, n) for n in their_run.MI_INPUT}
AUTHORS_TRAINING = f.training_summary(_AUTHORS_RECORDS)
# A curve whose range over the epochs is below this (nats) is called flat:
# its peak epoch is noise, and the table says 'flat (min-max)' instead.
FLAT_NATS = 0.2
# A layer whose I(X;T) lies within this of the ceiling (nats) sits at it.
AT_CEILING_NATS = 0.03
# The minimal tanh neuron's steps of I(X;T) in bits (docs/method.md, section 7):
# H(1/4 x 4) = 2, H(1/4, 1/2, 1/4) = 1.5, H(3/4, 1/4).
TANH_STEPS_BITS = (2.0, 1.5, -(0.75 * math.log2(0.75) + 0.25 * math.log2(0.25)))
# "Compresses": the last value at most this fraction of the peak (our threshold).
COMPRESSION_RATIO = 0.9
# The run on the authors' estimand explains a difference (away from the
# ceiling) only when its mean moves from ours towards theirs by more than this
# many combined standard errors of the two means over seeds.
ESTIMAND_SHIFT_STDERRS = 3.0


@dataclasses.dataclass
class Section:
  """A report section's Markdown lines and its sentences on the paper.

  Attributes:
    lines: the findings (tables and their captions).
    claims: the paper's qualitative claims checked on our numbers, each
      saying whether ours agree.
    differences: the paper's numbers outside the range of our seeds, each
      explained with numbers or marked 'Open'.
    compared: how many paper numbers were set beside ours.
    tried: for the 'Open' differences, what our runs already share with the
      authors' set-up ('' when there is nothing to say).
  """

  lines: list[str] = dataclasses.field(default_factory=list)
  claims: list[str] = dataclasses.field(default_factory=list)
  differences: list[str] = dataclasses.field(default_factory=list)
  compared: int = 0
  tried: str = ''


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


def versus(
  what: str,
  s: f.Stat,
  paper: Optional[float],
  digits: int,
  sec: Section,
  explain: Optional[Callable[[float], str]] = None,
) -> str:
  """The paper's value as a cell; counts it in `sec.compared`, and adds a
  sentence to `sec.differences` when it lies outside our range over seeds by
  more than the rounding of `digits`; `explain(paper)` then says why, or that
  the cause is open and what was tried."""
  if paper is None or not s.count:
    return '-' if paper is None else f'{paper:.{digits}f}'
  sec.compared += 1
  if not within(s, paper, digits):
    side = 'above' if s.mean > paper else 'below'
    sentence = (
      f'{what}: ours {fmt(s, digits)}, the paper {paper:.{digits}f}; ours lies {side} '
      f"the paper's value{' for every seed' if s.count > 1 else ''}."
    )
    sec.differences.append(sentence + (f' {explain(paper)}' if explain else ''))
  return f'{paper:.{digits}f}'


def within(s: f.Stat, value: float, digits: int) -> bool:
  """Whether `value` lies in the range of `s` widened by the rounding of
  `digits` decimals."""
  tol = 0.5 * 10.0**-digits
  return bool(s.count) and s.low - tol <= value <= s.high + tol


def layers_with(run, field: str = 'information') -> list[str]:
  """The run's layers with `field` in its records, shallow to deep."""
  found = {n for r in run.records for n in (r.get(field) or {}) if n != 'bin_sizes'}
  return [n for n in run.layer_order if n in found]


def _source_split(run) -> str:
  """The split part of run.json's free-text `data_source` ('' without one)."""
  source = str(run.meta.get('data_source') or '')
  return next((p.strip() for p in source.split(';') if p.strip().startswith('split')), '')


def data_split(run) -> Optional[str]:
  """Which train/test split an SZT run used: 'authors' (their split file) or
  'seeded'; None for a run of another data set or one that does not say.
  From run.json's `data_split`; a run.json written before that field is
  read from the split part of its `data_source`."""
  if 'data_split' in run.meta:
    return run.meta['data_split']
  part = _source_split(run)
  if not part:
    return None
  return 'authors' if "the authors'" in part else 'seeded'


def split_text(run) -> str:
  """Which train/test split the run used, in words (`data_split`; the seed
  and test fraction of a seeded split from the run's config, else from its
  data source)."""
  which = data_split(run)
  if which == 'authors':
    return "the authors' split file"
  if which != 'seeded':
    return 'a train/test split not recorded in run.json'
  data = (run.config or {}).get('data') or {}
  if 'split_seed' in data and 'test_fraction' in data:
    return f'a seeded split (seed={data["split_seed"]}, test_fraction={data["test_fraction"]})'
  return f'a seeded split ({_source_split(run).removeprefix("split").strip() or "not recorded"})'


def tried_text(run, resample) -> str:
  """What our runs share with the authors' set-up (`Section.tried`)."""
  config = run.config or {}
  replicas = (config.get('analysis') or {}).get('num_replicas', run.meta.get('num_replicas'))
  parts = [
    'their network, initialisation, optimiser, batch size and beta (infoflow/configs/szt.py)'
  ]
  if config.get('num_epochs'):
    parts.append(f'{config["num_epochs"]} epochs')
  if replicas:
    parts.append(f'R = {replicas} replicas')
  parts += [split_text(run), f'{len(run.seeds)} seeds']
  if resample is not None:
    parts.append(f'their estimand ({len(resample.seeds)} seeds)')
  return ', '.join(parts)


def estimand_note(
  alt: Optional[f.Stat],
  digits: int,
  replicas: str = '',
  ceiling: Optional[f.Stat] = None,
  ours: Optional[f.Stat] = None,
  stderr: float = math.nan,
) -> Callable:
  """`explain` for a value of I(X;T) (or a ratio of two): whether the run on
  the authors' estimand (its value `alt`; None without such a run) accounts
  for the difference between ours (`ours`) and theirs.

  Explained by the estimand when (a) with `ceiling` (values in nats: that
  run's recorded ceiling) the layer sits at its ceiling, within
  AT_CEILING_NATS, and theirs lies within that ceiling's range over draws
  (their draw is one more draw); or (b) `alt` contains theirs and its mean
  moved from ours towards theirs by more than ESTIMAND_SHIFT_STDERRS
  `stderr`, the combined standard error of the two means over seeds
  (`combined_stderr`). Away from the ceiling the two runs train alike and
  differ by the estimand, seed spread and Monte Carlo noise, so containment
  alone may be noise: then the difference is Open, consistent with theirs on
  their estimand. Otherwise Open. `replicas` adds what the R/2 diagnostic
  says of that layer."""

  def note(paper: float) -> str:
    if alt is None or not alt.count:
      return "Open: no run on the authors' estimand in this report."
    if ceiling is not None and at_ceiling(alt, ceiling) and within(ceiling, paper, digits):
      return (
        "Explained by the estimand: on the authors' estimand this layer sits at the ceiling "
        f'(ours {fmt(alt, digits)}, the ceiling {fmt(ceiling, 3)} over the draws), and theirs '
        "lies within the ceiling's spread from draw to draw."
      )
    reads = (
      f"on the authors' estimand (inputs drawn with replacement) ours reads {fmt(alt, digits)}"
    )
    if within(alt, paper, digits):
      move = _towards(ours, alt, paper)
      shift = _shift_text(move, stderr, digits)
      if math.isfinite(move) and move > ESTIMAND_SHIFT_STDERRS * stderr:
        return f'Explained by the estimand: {reads}, which contains theirs; {shift}.'
      return (
        f"Open, but consistent with the authors' on their estimand: {reads}, which contains "
        f'theirs, yet {shift}: seed spread and Monte Carlo noise can account for that.{replicas}'
      )
    side = 'above' if alt.mean > paper else 'below'
    crossed = ours is not None and ours.count and (ours.mean > paper) != (alt.mean > paper)
    return f'Open: {reads}, {"now" if crossed else "still"} {side}.{replicas}'

  return note


def _towards(ours: Optional[f.Stat], alt: f.Stat, paper: float) -> float:
  """How far the mean of `alt` lies from ours towards `paper` (negative:
  away); NaN without ours."""
  if ours is None or not ours.count:
    return math.nan
  return (alt.mean - ours.mean) * math.copysign(1.0, paper - ours.mean)


def _shift_text(move: float, stderr: float, digits: int) -> str:
  """The shift of the mean towards theirs, in combined stderr, in words."""
  if not math.isfinite(move):
    return 'no run of ours to compare it with'
  text = f'it moved {move:+.{digits + 1}f} from ours towards theirs'
  if not (math.isfinite(stderr) and stderr > 0):
    return text + ' (no combined stderr: either run has fewer than 2 seeds or no spread)'
  return (
    f'{text}, {move / stderr:.1f} combined stderr of the two means over seeds '
    f'({ESTIMAND_SHIFT_STDERRS:g} needed)'
  )


def seed_stderr(records, value: Callable[[list[dict]], f.Stat]) -> float:
  """The standard error of the mean over seeds of a per-seed quantity:
  sd / sqrt(n) (sd with n - 1) of `value(one seed's records).mean` over the
  n seeds that have it; NaN below 2. Seed spread and Monte Carlo noise are
  both in it."""
  values = [value(rs) for rs in f.by_seed(records).values()]
  means = [v.mean for v in values if v.count]
  if len(means) < 2:
    return math.nan
  return float(np.std(means, ddof=1) / math.sqrt(len(means)))


def combined_stderr(run, resample, value: Callable[[list[dict]], f.Stat]) -> float:
  """sqrt(se_ours^2 + se_resample^2): the standard error of the difference
  of the two runs' means over seeds of `value` (`seed_stderr`), treating
  them as independent."""
  return math.hypot(seed_stderr(run.records, value), seed_stderr(resample.records, value))


def at_ceiling(value: f.Stat, ceiling: f.Stat) -> bool:
  """Whether the mean of `value` lies within AT_CEILING_NATS of the mean
  ceiling."""
  return bool(value.count and ceiling.count) and abs(value.mean - ceiling.mean) <= AT_CEILING_NATS


def open_note(paper: float) -> str:
  """`explain` of a difference whose cause we do not know."""
  del paper
  return 'Open.'


def replica_note(run, layer: str) -> str:
  """What the R/2 diagnostic of `run` says of `layer` ('' without it, or
  with nothing flagged)."""
  g = f.replica_gaps(run.records, layer) if run is not None else None
  if g is None or not g.flagged:
    return ''
  return (
    f" The R/2 diagnostic flags {g.flagged} of {g.checked} of this layer's layer-epochs on "
    f'that estimand (largest full-R minus R/2 gap {g.worst:+.3f} nats): its values still move '
    'with R.'
  )


def split_note(run) -> Callable[[float], str]:
  """`explain` of a difference in a test-set number: Open, and possibly the
  split when ours is not their split file (nothing measures how much the
  test set moves the number)."""
  if data_split(run) == 'authors':
    return lambda paper: 'Open (the test set is theirs).'
  return lambda paper: (
    f"Open, possibly the split (this run used {split_text(run)}; SZT uses the authors' split "
    'file when it is in the data dir).'
  )


def authors_peak_epoch(layer: str) -> str:
  """The authors' peak epoch, or 'flat (min-max)' for a flat curve."""
  values = their_run.MI_INPUT[layer]
  if max(values) - min(values) < FLAT_NATS:
    return f'flat ({min(values):.2f}-{max(values):.2f})'
  return f'{AUTHORS_INFORMATION[layer]["peak_epoch"].mean:.0f}'


# The rows of the information table: (summary key, label, decimals).
INFORMATION_ROWS = (
  ('first', 'first', 2),
  ('peak', 'peak', 2),
  ('peak_epoch', 'peak epoch', 0),
  ('last', 'last', 2),
  ('last_over_peak', 'last / peak', 2),
)
RESAMPLE_COLUMN = "ours on the authors' estimand"


def _columns(resample, authors: bool) -> list[str]:
  return (
    ['ours']
    + ([RESAMPLE_COLUMN] if resample is not None else [])
    + (['authors'] if authors else [])
  )


def information_table(run, authors: bool, out: Section, resample=None) -> list[str]:
  """Per layer I(X;T) at the first, peak and last analysed epoch (nats),
  last/peak and the peak epoch: ours, ours on the authors' estimand (with
  `resample`, a run of it) and the authors'; then the ceiling of each."""
  ours = f.information_summary(run.records, layers_with(run))
  alt = f.information_summary(resample.records, list(ours)) if resample is not None else {}
  top = ceiling_of(resample) if resample is not None else None
  rows = []
  for n, s in ours.items():
    replicas = replica_note(resample, n)
    for key, label, digits in INFORMATION_ROWS:
      other = alt[n][key] if n in alt else None
      row = [n, label, fmt(s[key], digits)]
      if resample is not None:
        row.append(fmt(other, digits) if other is not None else '-')
      if authors and key == 'peak_epoch':
        row.append(authors_peak_epoch(n) if n in AUTHORS_INFORMATION else '-')
      elif authors:
        a = AUTHORS_INFORMATION[n][key].mean if n in AUTHORS_INFORMATION else None
        what = f'{n} I(X;T), {label}'
        nats = top if key != 'last_over_peak' else None
        value = lambda rs, n=n, key=key: f.peak_summary(rs, f.mi_input(n))[key]
        se = combined_stderr(run, resample, value) if other is not None else math.nan
        note = estimand_note(other, digits, replicas, nats, s[key], se)
        row.append(versus(what, s[key], a, digits, out, note))
      rows.append(row)
  ceilings = [fmt(ceiling_of(run), 3)]
  if resample is not None:
    ceilings.append(fmt(ceiling_of(resample), 3))
  if authors:
    ceilings.append(f'{their_run.expected_ceiling():.3f} (expected)')
  rows.append(['all', 'ceiling'] + ceilings)
  return table(['layer', 'I(X;T) [nats]'] + _columns(resample, authors), rows)


def ceiling_of(run) -> f.Stat:
  """The run's recorded ceiling of I(X;T) (nats) over seeds and epochs; log m
  for records written before the field (m distinct inputs)."""
  s = f.ceiling(run.records)
  if not s.count and run.num_inputs:
    return f.stat([math.log(run.num_inputs)])
  return s


def first_layer_at_ceiling(resample) -> str:
  """A sentence: how close the first layer of the run on the authors'
  estimand stays to each analysed epoch's ceiling (`findings.ceiling_gaps`),
  or '' without the records for it."""
  layers = layers_with(resample)
  g = f.ceiling_gaps(resample.records, layers[0], AT_CEILING_NATS) if layers else None
  if g is None:
    return ''
  return (
    f" Its {layers[0]} minus each analysed epoch's ceiling: within {AT_CEILING_NATS} nats at "
    f'{g.within} of {g.count} layer-epochs (mean {g.mean:+.4f}, sd {g.sd:.4f} nats; z = gap / '
    f'stderr has sd {g.z_sd:.2f}, {g.beyond_3} beyond 3); the largest {g.worst:+.3f} nats '
    f'({g.worst_sigmas:.1f} stderr) at epoch {g.worst_epoch} of seed {g.worst_seed}.'
  )


def ceiling_lines(run, resample) -> list[str]:
  """Why the shallow layers sit where they do, with numbers: the ceilings of
  the two estimands, and the gap of ours (and of the run on the authors'
  estimand) to the authors' at the last epoch."""
  ours, expected = ceiling_of(run), their_run.expected_ceiling()
  t1 = their_run.MI_INPUT['T1']
  text = (
    f'The ceilings. Ours: X is uniform over the {run.num_inputs or "?"} distinct inputs, so '
    f'I(X;T) <= log m = {fmt(ours, 3)} nats, which a layer that tells every input apart reaches. '
    f'The authors draw their {their_run.NUM_INPUTS} analysed inputs with replacement, each draw '
    f'an input of weight 1/{their_run.NUM_INPUTS} with its own replicas. The draws of one row '
    'share its noise-free representation, so such a layer tells apart only the distinct rows '
    'drawn, weighted by their multiplicities: their ceiling is the entropy of the '
    f'multiplicities, {expected:.3f} nats on average (log m - E[K log K], K ~ Binomial(m, 1/m)). '
    f'Their T1 reads {sum(t1) / len(t1):.3f} ({min(t1):.3f} to {max(t1):.3f}) over their '
    f'{len(t1)} epochs: at that ceiling. The two ceilings differ by '
    f'{ours.mean - expected:.3f} nats.'
  )
  if resample is not None:
    text += (
      f" Our run on the authors' estimand records the ceiling of each analysed epoch's draw: "
      f'{fmt(ceiling_of(resample), 3)} nats over seeds and epochs.'
    )
    text += first_layer_at_ceiling(resample)
  shallow = [n for n in layers_with(run)[:3] if n in AUTHORS_INFORMATION]
  ours_info = f.information_summary(run.records, shallow)
  alt = f.information_summary(resample.records, shallow) if resample is not None else {}
  gaps = []
  for n in (n for n in shallow if n in ours_info):
    theirs = AUTHORS_INFORMATION[n]['last'].mean
    gap = f'{n} {ours_info[n]["last"].mean - theirs:+.3f}'
    if n in alt:
      gap += f' (on their estimand {alt[n]["last"].mean - theirs:+.3f})'
    gaps.append(gap)
  if gaps:
    text += (
      f" At the last analysed epoch, ours minus the authors' I(X;T): {'; '.join(gaps)} nats, "
      f'against {ours.mean - expected:.3f} between the ceilings.'
    )
  return [text, '']


# Shape features: (summary key of the value, of its epoch, label).
SHAPE_ROWS = (
  ('early_peak', 'early_epoch', 'early peak'),
  ('dip', 'dip_epoch', 'dip'),
  ('late_peak', 'late_epoch', 'late peak'),
)


def shape_table(run, authors: bool, out: Section, resample=None) -> list[str]:
  """Early peak, dip and late peak of the three deepest layers (nats), each
  with its epoch: ours, on the authors' estimand, the authors'."""
  rows = []
  for n in layers_with(run)[-3:]:
    s = f.shape_summary(run.records, n)
    alt = f.shape_summary(resample.records, n) if resample is not None else None
    a = AUTHORS_SHAPE.get(n) if authors else None
    for key, epoch, label in SHAPE_ROWS:
      row = [n, label, f'{fmt(s[key])} at {fmt(s[epoch], 0)}']
      if alt is not None:
        row.append(f'{fmt(alt[key])} at {fmt(alt[epoch], 0)}')
      if authors:
        paper = a[key].mean if a else None
        value = lambda rs, n=n, key=key: f.shape_summary(rs, n)[key]
        se = combined_stderr(run, resample, value) if alt is not None else math.nan
        note = estimand_note(
          alt[key] if alt else None, 2, replica_note(resample, n), None, s[key], se
        )
        cell = versus(f'{n} {label}', s[key], paper, 2, out, note)
        row.append(f'{cell} at {a[epoch].mean:.0f}' if a else '-')
      rows.append(row)
  return table(['layer', 'feature [nats] at epoch'] + _columns(resample, authors), rows)


# Training rows: (summary key, label, decimals, test-set number).
TRAINING_ROWS = (
  ('min_test_loss', 'minimum test loss [nats]', 4, True),
  ('min_test_loss_epoch', 'epoch of the minimum test loss', 0, True),
  ('last_test_loss', 'test loss at the last epoch [nats]', 4, True),
  ('fit_epoch', f'first analysed epoch with train accuracy >= {f.FIT_ACCURACY}', 0, False),
  ('train_accuracy', 'final train accuracy', 4, False),
  ('test_accuracy', 'final test accuracy', 4, True),
)


def training_table(run, authors: bool, out: Section) -> list[str]:
  """Noise-free loss and accuracy facts, with the authors' beside them (their
  saved evaluation at 84 epochs, summarised as ours), and the train accuracy
  of both at the authors' first epoch with train accuracy >= 0.9."""
  s = f.training_summary(run.records)
  rows = []
  for key, label, digits, test_set in TRAINING_ROWS:
    paper = AUTHORS_TRAINING[key].mean if authors else None
    note = split_note(run) if test_set else open_note
    theirs = [versus(label, s[key], paper, digits, out, note)] if authors else []
    rows.append([label, fmt(s[key], digits)] + theirs)
  fit = AUTHORS_TRAINING['fit_epoch'].mean
  if authors and math.isfinite(fit):
    accuracy = lambda r: dig(r, 'train', 'accuracy')
    ours, at = f.value_near(run.records, accuracy, int(fit))
    theirs, _ = f.value_near(_AUTHORS_RECORDS, accuracy, int(fit))
    label = f'train accuracy near epoch {fit:.0f} (ours at {fmt(at, 0)})'
    rows.append([label, fmt(ours, 4), versus(label, ours, theirs.mean, 4, out, open_note)])
  return table(['noise-free'] + _columns(None, authors), rows)


def spearman_table(records, layer: str, reference=None, skip: str = '') -> list[str]:
  """Spearman's rho across epochs of `layer` between the reference and each
  clustering measure and binned entropy."""
  rho = f.spearman_summary(records, layer, reference)
  rows = [[m, fmt(s)] for m, s in rho.items() if m != skip]
  return table(['measure of ' + layer, 'Spearman rho (mean, min to max over seeds)'], rows)


# The cluster entropies set against I(X;T): record field -> column.
CLUSTER_ENTROPIES = {k: f'cluster entropy, {how}' for k, how in CLUSTER_ENTROPY_FIELDS.items()}


def entropy_spearman_table(records, layers: list[str]) -> list[str]:
  """Per layer, Spearman's rho across epochs of I(X;T_l) with each cluster
  entropy (single linkage, packing) and the binned entropy at each bin size
  of the same layer: mean (min to max) over seeds, as they come out."""
  sizes = f.bin_sizes(records)
  binned = [f'binned entropy, bin {b:.4g}' for b in sizes]
  rows = []
  for n in layers:
    rho = f.spearman_summary(records, n)
    rows.append([n] + [fmt(rho[k]) if k in rho else '-' for k in [*CLUSTER_ENTROPIES, *binned]])
  return table(['layer', *CLUSTER_ENTROPIES.values(), *binned], rows)


def replica_lines(run, label: str) -> list[str]:
  """The R/2 replica diagnostic of `run` per layer: layer-epochs whose full-R
  and R/2 estimates of I(X;T) differ by more than 3 combined stderr, and the
  largest gap; 'no diagnostic in these records' without the field."""
  gaps = {n: f.replica_gaps(run.records, n) for n in layers_with(run)}
  gaps = {n: g for n, g in gaps.items() if g is not None}
  if not gaps:
    return [f'R/2 replica diagnostic, {label}: no diagnostic in these records.', '']
  rows = [
    [n, f'{g.flagged} of {g.checked}', f'{g.worst:+.4f}', f'{g.worst_sigmas:.1f}']
    + [f'{g.worst_epoch} (seed {g.worst_seed})']
    for n, g in gaps.items()
  ]
  header = ['layer', 'flagged layer-epochs', 'largest full-R minus R/2 [nats]']
  header += ['in combined stderr', 'at epoch']
  lines = [
    f'R/2 replica diagnostic, {label}: I(X;T) from all R replicas against the first R/2, '
    'per layer over every seed and analysed epoch; flagged where they differ by more than '
    f'{REPLICA_GAP_STDERRS:g} combined stderr (the estimate still moves with R: a finite-replica '
    'bias of that sign, usually upward).',
    '',
  ]
  return lines + table(header, rows) + ['']


def szt_claims(run, out: list[str]) -> None:
  """The SZT run's two qualitative claims, checked on the numbers."""
  layers = layers_with(run)
  if not layers:
    return
  deep = layers[-1]
  ratio = f.information_summary(run.records, [deep])[deep]['last_over_peak']
  a = AUTHORS_INFORMATION[deep]['last_over_peak'].mean if deep in AUTHORS_INFORMATION else None
  agrees = bool(ratio.count) and ratio.mean <= COMPRESSION_RATIO
  paper = f' (the paper: {a:.2f})' if a else ''
  out.append(
    f'Compression of the deepest layer {deep} (last/peak <= {COMPRESSION_RATIO}): ours '
    f'{fmt(ratio)}{paper}: {verdict(agrees)}.'
  )
  t = f.training_summary(run.records)
  if t['min_test_loss'].count:
    rise = t['last_test_loss'].mean / t['min_test_loss'].mean
    last, low = AUTHORS_TRAINING['last_test_loss'].mean, AUTHORS_TRAINING['min_test_loss'].mean
    out.append(
      f'Overfitting (test loss at the end above its minimum; the paper: {last:.3f} / {low:.4f} = '
      f'{last / low:.2f}x): ours {rise:.2f}x on the mean: {verdict(rise > 1.1)}.'
    )


def szt_section(run, *, authors: bool, resample=None) -> Section:
  """The tables of an SZT run: information per layer and its ceiling, the
  shape of the deep layers, training, the R/2 replica diagnostic and the
  Spearman correlations of I(X;T) with the cluster and binned entropies.

  Args:
    run: the run (X uniform over the distinct inputs).
    authors: set the authors' saved run beside ours (the tanh SZT net).
    resample: the same net analysed on the authors' estimand (inputs drawn
      with replacement), a column beside ours; None without one.
  """
  sec = Section()
  where = (
    f"; the authors' values are their saved SZT run (beta = {their_run.BETA:g}, "
    f'R = {their_run.NUM_REPLICAS} replicas per input, {their_run.NUM_INPUTS} inputs drawn with '
    f'replacement, {their_run.NUM_EPOCHS:,} epochs)'
    if authors
    else ''
  )
  epochs = f' (theirs {their_run.EPOCHS[0]} and {their_run.EPOCHS[-1]})' if authors else ''
  sec.lines += [
    f'Per layer I(X;T_l) in nats, mean (min to max) over the seeds{where}: at the first and '
    f'last analysed epoch{epochs}, the peak and its epoch.',
    '',
  ]
  sec.lines += information_table(run, authors, sec, resample) + ['']
  if authors:
    sec.lines += ceiling_lines(run, resample)
  sec.lines += [f'Train/test split: {split_text(run)}.', '']
  sec.lines += [
    f'The shape of the deep layers: the early peak (max over epochs 1-'
    f'{f.EARLY_PEAK_MAX_EPOCH}), the dip after it (min up to epoch {f.DIP_MAX_EPOCH}) and the '
    'late peak (max after the dip), nats, each at its epoch.',
    '',
  ]
  sec.lines += shape_table(run, authors, sec, resample) + ['']
  sec.lines += training_table(run, authors, sec) + ['']
  runs = [('ours', run)] + ([(RESAMPLE_COLUMN, resample)] if resample is not None else [])
  for label, r in runs:
    sec.lines += replica_lines(r, label)
  for label, r in runs:
    layers = layers_with(r)
    if layers:
      sec.lines += [
        f'Spearman correlation across the analysed epochs between I(X;T_l) and the cluster '
        f'and binned entropies of the same layer, {label}:',
        '',
      ]
      sec.lines += entropy_spearman_table(r.records, layers) + ['']
  if authors:
    szt_claims(run, sec.claims)
    sec.tried = tried_text(run, resample)
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
