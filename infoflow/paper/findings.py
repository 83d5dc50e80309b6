"""Findings of a run, computed from its metrics records: numbers over seeds.

Every finding is computed per seed from that seed's records (one per
analysed epoch; docs/run_record.md) and summarised over the seeds by a
`Stat`: the mean and the spread (min-max). Diverged seeds and missing or
non-finite values are left out. Units are those of the records: nats for
information and entropies, fractions for accuracies.

- `information_summary`: I(X;T_l) at the first, peak and last analysed
  epoch, last/peak, and the epoch of the peak.
- `shape_summary`: the early peak, the dip after it and the late peak (the
  shape of the authors' deep SZT layers).
- `training_summary`: the epoch and value of the minimum test loss, the last
  test loss, final accuracies, the first epoch of train accuracy >= 0.9.
- `spearman_summary`: Spearman's rank correlation across epochs between a
  layer's I(X;T) (or binned entropy) and each clustering measure and binned
  entropy of that layer.
- `ceiling`: the recorded ceiling of I(X;T) (`information_ceiling`).
- `ceiling_gaps`: a layer's I(X;T) minus its epoch's ceiling, at every seed
  and analysed epoch, against a tolerance and in standard errors.
- `replica_gaps`: the layer-epochs whose full-R and R/2 estimates of I(X;T)
  differ (`infoflow.record.replica_gap_flagged`), and the largest gap.
- `final_metrics`, `clustering_at`, `value_near`: plain values at the last /
  first / a given epoch.

Spearman's rho of paired samples (a_e, b_e) is Pearson's correlation of
their ranks (ties get their mean rank): rho = cov(rank a, rank b) /
(sd(rank a) sd(rank b)); it is 1 when b rises with a wherever a rises,
whatever the scale.
"""

from __future__ import annotations

import math
from typing import Callable
from typing import NamedTuple
from typing import Optional
from typing import Sequence

import numpy as np

from infoflow.record import dig
from infoflow.record import replica_gap
from infoflow.record import replica_gap_flagged
from infoflow.record import value_stderr

# The first epoch whose train accuracy reaches this counts as "fitted".
FIT_ACCURACY = 0.9
# Windows of `shape_summary` (epochs): the early peak, and the dip after it.
EARLY_PEAK_MAX_EPOCH = 50
DIP_MAX_EPOCH = 200


class Stat(NamedTuple):
  """A quantity over seeds: mean, min and max of the finite values, count."""

  mean: float
  low: float
  high: float
  count: int

  def contains(self, value: float) -> bool:
    """Whether `value` lies within [low, high]."""
    return self.count > 0 and self.low <= value <= self.high


def stat(values: Sequence[Optional[float]]) -> Stat:
  """The `Stat` of `values` (None and non-finite values left out)."""
  finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
  if not finite:
    return Stat(math.nan, math.nan, math.nan, 0)
  return Stat(float(np.mean(finite)), min(finite), max(finite), len(finite))


def by_seed(records: Sequence[dict]) -> dict[int, list[dict]]:
  """`{seed: records sorted by epoch}`, diverged records left out."""
  out: dict[int, list[dict]] = {}
  for r in records:
    if not r.get('diverged'):
      out.setdefault(int(r.get('seed', 0)), []).append(r)
  return {s: sorted(rs, key=lambda r: r['epoch']) for s, rs in sorted(out.items())}


def trajectory(records: Sequence[dict], getter: Callable[[dict], object]):
  """`(epochs, values)` of one seed's records where `getter` gives a finite
  number (a `[value, stderr]` pair gives its value)."""
  pairs = [(r['epoch'], value_stderr(getter(r))[0]) for r in records]
  pairs = [(e, v) for e, v in pairs if math.isfinite(v)]
  return np.array([e for e, _ in pairs], int), np.array([v for _, v in pairs], float)


def mi_input(layer: str) -> Callable[[dict], object]:
  """Getter of a layer's I(X;T) (nats)."""
  return lambda r: dig(r, 'information', layer, 'mi_input')


def binned_entropy(layer: str, bin_size: float) -> Callable[[dict], object]:
  """Getter of a layer's H(Bin(T)) at `bin_size` (nats), matched by value."""

  def get(r):
    sizes = dig(r, 'binning', 'bin_sizes') or []
    values = dig(r, 'binning', layer, 'entropy') or []
    for size, value in zip(sizes, values):
      if math.isclose(size, bin_size, rel_tol=1e-6):
        return value
    return None

  return get


def _per_seed(records, fn) -> list:
  return [fn(rs) for rs in by_seed(records).values()]


def peak_summary(records: Sequence[dict], getter) -> dict[str, Stat]:
  """`{'first', 'peak', 'last', 'last_over_peak', 'peak_epoch', 'first_epoch',
  'last_epoch'}` of the quantity `getter` reads, each a `Stat` over seeds."""
  rows = []
  for rs in by_seed(records).values():
    epochs, values = trajectory(rs, getter)
    if not len(values):
      continue
    top = int(np.argmax(values))
    ratio = values[-1] / values[top] if values[top] > 0 else math.nan
    rows.append(
      {
        'first': values[0],
        'peak': values[top],
        'last': values[-1],
        'last_over_peak': ratio,
        'peak_epoch': epochs[top],
        'first_epoch': epochs[0],
        'last_epoch': epochs[-1],
      }
    )
  keys = ('first', 'peak', 'last', 'last_over_peak', 'peak_epoch', 'first_epoch', 'last_epoch')
  return {k: stat([row[k] for row in rows]) for k in keys}


def information_summary(records: Sequence[dict], layers: Sequence[str]) -> dict[str, dict]:
  """`{layer: peak_summary of its I(X;T)}` for the layers with any."""
  out = {n: peak_summary(records, mi_input(n)) for n in layers}
  return {n: s for n, s in out.items() if s['first'].count}


def _shape(epochs: np.ndarray, values: np.ndarray) -> dict[str, float]:
  """Early peak (max over epochs 1..EARLY_PEAK_MAX_EPOCH), the dip (min
  after it up to DIP_MAX_EPOCH) and the late peak (max after the dip)."""
  out = dict.fromkeys(
    ('early_peak', 'early_epoch', 'dip', 'dip_epoch', 'late_peak', 'late_epoch'), math.nan
  )
  early = np.flatnonzero((epochs >= 1) & (epochs <= EARLY_PEAK_MAX_EPOCH))
  if not len(early):
    return out
  i = early[np.argmax(values[early])]
  out.update(early_peak=values[i], early_epoch=epochs[i])
  dip = np.flatnonzero((epochs > epochs[i]) & (epochs <= DIP_MAX_EPOCH))
  if not len(dip):
    return out
  j = dip[np.argmin(values[dip])]
  out.update(dip=values[j], dip_epoch=epochs[j])
  late = np.flatnonzero(epochs > epochs[j])
  if len(late):
    k = late[np.argmax(values[late])]
    out.update(late_peak=values[k], late_epoch=epochs[k])
  return out


def shape_summary(records: Sequence[dict], layer: str) -> dict[str, Stat]:
  """`_shape` of the layer's I(X;T), each entry a `Stat` over seeds."""
  rows = [_shape(*trajectory(rs, mi_input(layer))) for rs in by_seed(records).values()]
  keys = ('early_peak', 'early_epoch', 'dip', 'dip_epoch', 'late_peak', 'late_epoch')
  return {k: stat([row[k] for row in rows]) for k in keys}


def _training_row(rs: list[dict]) -> dict[str, float]:
  epochs, loss = trajectory(rs, lambda r: dig(r, 'test', 'loss'))
  acc_epochs, train_acc = trajectory(rs, lambda r: dig(r, 'train', 'accuracy'))
  fitted = acc_epochs[train_acc >= FIT_ACCURACY]
  best = int(np.argmin(loss)) if len(loss) else None
  return {
    'min_test_loss': loss[best] if best is not None else math.nan,
    'min_test_loss_epoch': epochs[best] if best is not None else math.nan,
    'last_test_loss': loss[-1] if len(loss) else math.nan,
    'fit_epoch': fitted[0] if len(fitted) else math.nan,
    'train_accuracy': train_acc[-1] if len(train_acc) else math.nan,
    'test_accuracy': value_stderr(dig(rs[-1], 'test', 'accuracy'))[0],
  }


def training_summary(records: Sequence[dict]) -> dict[str, Stat]:
  """Noise-free training facts, each a `Stat` over seeds: `min_test_loss`
  and `min_test_loss_epoch`, `last_test_loss`, `fit_epoch` (first analysed
  epoch with train accuracy >= FIT_ACCURACY), final `train_accuracy` and
  `test_accuracy`."""
  rows = _per_seed(records, _training_row)
  keys = rows[0].keys() if rows else ()
  return {k: stat([row[k] for row in rows]) for k in keys}


def final_metrics(records: Sequence[dict], fields: Sequence[tuple[str, str]]) -> dict:
  """`{(split, metric): Stat}` at each seed's last analysed epoch, for the
  `(split, metric)` pairs present (e.g. ('validation', 'accuracy'))."""
  out = {}
  for split, metric in fields:
    s = stat([value_stderr(dig(rs[-1], split, metric))[0] for rs in by_seed(records).values()])
    if s.count:
      out[split, metric] = s
  return out


def clustering_at(records: Sequence[dict], layer: str, measure: str, which: str) -> Stat:
  """A clustering measure of `layer` at each seed's 'first' or 'last'
  analysed epoch that has it, as a `Stat`."""
  values = []
  for rs in by_seed(records).values():
    _, v = trajectory(rs, lambda r: dig(r, 'clustering', layer, measure))
    if len(v):
      values.append(v[0] if which == 'first' else v[-1])
  return stat(values)


def rank(values: np.ndarray) -> np.ndarray:
  """Ranks 1..n of `values`, ties given their mean rank."""
  values = np.asarray(values, float)
  order = np.argsort(values, kind='mergesort')
  ranks = np.empty(len(values))
  ranks[order] = np.arange(1, len(values) + 1)
  _, inverse, counts = np.unique(values, return_inverse=True, return_counts=True)
  sums = np.bincount(inverse, weights=ranks)
  return (sums / counts)[inverse]


def spearman(a, b) -> float:
  """Spearman's rank correlation of paired samples `a`, `b` (module
  docstring); NaN with fewer than 3 pairs or a constant sample."""
  a, b = np.asarray(a, float), np.asarray(b, float)
  if a.shape != b.shape or a.ndim != 1:
    raise ValueError(f'spearman needs two vectors of one length; got {a.shape} and {b.shape}.')
  if len(a) < 3:
    return math.nan
  ra, rb = rank(a) - (len(a) + 1) / 2, rank(b) - (len(b) + 1) / 2
  norm = math.sqrt(float(ra @ ra) * float(rb @ rb))
  return float(ra @ rb) / norm if norm > 0 else math.nan


def paired_spearman(records: Sequence[dict], getter_a, getter_b) -> Stat:
  """Spearman's rho across epochs between two quantities, per seed (on the
  epochs where both are finite), as a `Stat` over seeds."""
  values = []
  for rs in by_seed(records).values():
    ea, va = trajectory(rs, getter_a)
    eb, vb = trajectory(rs, getter_b)
    common, ia, ib = np.intersect1d(ea, eb, return_indices=True)
    if len(common) >= 3:
      values.append(spearman(va[ia], vb[ib]))
  return stat(values)


def clustering_measures(records: Sequence[dict], layer: str) -> list[str]:
  """The clustering measures recorded for `layer`, in record order."""
  found = {}
  for r in records:
    found.update(dict.fromkeys(dig(r, 'clustering', layer) or {}))
  return list(found)


def bin_sizes(records: Sequence[dict]) -> list[float]:
  """The bin sizes of the records' binning, in record order."""
  found = {}
  for r in records:
    found.update(dict.fromkeys(dig(r, 'binning', 'bin_sizes') or []))
  return list(found)


def spearman_summary(records: Sequence[dict], layer: str, reference=None) -> dict[str, Stat]:
  """`{measure: Stat of rho}` between `reference` (a getter; default the
  layer's I(X;T)) and each clustering measure and binned entropy of
  `layer` (keys `binned entropy, bin B`), over the analysed epochs."""
  reference = reference or mi_input(layer)
  out = {}
  for m in clustering_measures(records, layer):
    out[m] = paired_spearman(records, reference, lambda r, m=m: dig(r, 'clustering', layer, m))
  for b in bin_sizes(records):
    out[f'binned entropy, bin {b:.4g}'] = paired_spearman(
      records, reference, binned_entropy(layer, b)
    )
  return {k: v for k, v in out.items() if v.count}


def ceiling(records: Sequence[dict]) -> Stat:
  """The recorded ceiling of I(X;T) (`information_ceiling`, nats) over every
  seed and analysed epoch: log m for m distinct inputs; the entropy of the
  multiplicities for inputs drawn with replacement, which moves from draw to
  draw. Count 0 for records written without the field."""
  return stat([r.get('information_ceiling') for rs in by_seed(records).values() for r in rs])


class CeilingGaps(NamedTuple):
  """A layer's I(X;T) minus its analysed epoch's ceiling, over every seed and
  analysed epoch (`information_ceiling`, nats).

  For a layer that separates every distinct input the estimand equals the
  ceiling, so the gaps are the Monte Carlo error alone: their z = gap /
  stderr should have sd ~1, and a gap beyond a few stderr is either a rare
  excursion or a layer that does not separate.

  Attributes:
    count: layer-epochs with both an estimate and a ceiling.
    within: those with |gap| <= the tolerance asked for.
    mean, sd: of the gaps (nats).
    worst: the largest gap in absolute value (nats, signed), at worst_epoch
      of worst_seed, worst_sigmas stderr.
    z_sd: the sd of z over the layer-epochs with a stderr > 0 (NaN if none).
    beyond_3: layer-epochs with |z| > 3.
  """

  count: int
  within: int
  mean: float
  sd: float
  worst: float
  worst_sigmas: float
  worst_epoch: int
  worst_seed: int
  z_sd: float
  beyond_3: int


def ceiling_gaps(records: Sequence[dict], layer: str, tolerance: float) -> Optional[CeilingGaps]:
  """The `CeilingGaps` of `layer` (|gap| <= `tolerance` nats counts as
  within); None when no record has both the layer's I(X;T) and a ceiling."""
  rows = []  # (gap, stderr, epoch, seed)
  for seed, rs in by_seed(records).items():
    for r in rs:
      value, err = value_stderr(dig(r, 'information', layer, 'mi_input'))
      ceiling = r.get('information_ceiling')
      if ceiling is not None and math.isfinite(value):
        rows.append((value - ceiling, err, r['epoch'], seed))
  if not rows:
    return None
  gaps = np.asarray([g for g, *_ in rows])
  z = np.asarray([g / e for g, e, *_ in rows if e > 0])
  gap, err, epoch, seed = max(rows, key=lambda row: abs(row[0]))
  sigmas = gap / err if err > 0 else (0.0 if gap == 0 else math.copysign(math.inf, gap))
  return CeilingGaps(
    count=len(rows),
    within=int(np.sum(np.abs(gaps) <= tolerance)),
    mean=float(gaps.mean()),
    sd=float(gaps.std()),
    worst=gap,
    worst_sigmas=sigmas,
    worst_epoch=epoch,
    worst_seed=seed,
    z_sd=float(z.std()) if len(z) else math.nan,
    beyond_3=int(np.sum(np.abs(z) > 3)),
  )


class ReplicaGaps(NamedTuple):
  """The finite-R diagnostic of one layer over every seed and analysed epoch.

  Attributes:
    flagged: layer-epochs whose full-R and R/2 estimates of I(X;T) differ by
      more than 3 combined stderr (`infoflow.record.replica_gap_flagged`).
    checked: layer-epochs that carry the diagnostic.
    worst: the largest full-R minus R/2 gap in absolute value (nats, signed).
    worst_sigmas: that gap over its combined stderr.
    worst_epoch, worst_seed: where it is.
  """

  flagged: int
  checked: int
  worst: float
  worst_sigmas: float
  worst_epoch: int
  worst_seed: int


def replica_gaps(records: Sequence[dict], layer: str) -> Optional[ReplicaGaps]:
  """The `ReplicaGaps` of `layer`; None when no record carries the
  diagnostic (`mi_input_half_replicas`) for it."""
  flagged = checked = 0
  worst = (0.0, math.nan, -1, -1)
  for seed, rs in by_seed(records).items():
    for r in rs:
      entry = dig(r, 'information', layer) or {}
      gap, err = replica_gap(entry)
      if not math.isfinite(gap):
        continue
      checked += 1
      flagged += replica_gap_flagged(entry)
      if abs(gap) > abs(worst[0]) or worst[2] < 0:
        sigmas = gap / err if err > 0 else (0.0 if gap == 0 else math.copysign(math.inf, gap))
        worst = (gap, sigmas, r['epoch'], seed)
  return ReplicaGaps(flagged, checked, *worst) if checked else None


def value_near(records: Sequence[dict], getter, epoch: int) -> tuple[Stat, Stat]:
  """`(values, epochs)`: each seed's value at its analysed epoch nearest to
  `epoch` (the earlier on a tie), and those epochs, as `Stat`s."""
  values, epochs = [], []
  for rs in by_seed(records).values():
    e, v = trajectory(rs, getter)
    if len(e):
      i = int(np.argmin(np.abs(e - epoch)))
      values.append(v[i])
      epochs.append(e[i])
  return stat(values), stat(epochs)
