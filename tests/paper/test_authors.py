"""Tests of the authors' saved SZT curves (infoflow.paper.authors) and of
the szt section built against them (infoflow.paper.sections), on synthetic
in-memory runs."""

import itertools
import math
import pathlib

import numpy as np
import pytest

from infoflow.paper import authors
from infoflow.paper import findings
from infoflow.paper import sections
from infoflow.record import Run

LAYERS = ('T1', 'T2', 'T3', 'T4', 'T5')


def test_the_saved_curves_have_their_84_epochs():
  epochs = np.unique(np.round(np.logspace(0, np.log10(9999), 100)).astype(int))
  assert authors.EPOCHS == tuple(epochs) and len(authors.EPOCHS) == 84
  assert (authors.EPOCHS[0], authors.EPOCHS[-1]) == (1, 9999)
  assert tuple(authors.MI_INPUT) == LAYERS
  curves = [*authors.MI_INPUT.values(), authors.TRAIN_LOSS, authors.TEST_LOSS]
  curves += [authors.TRAIN_ACCURACY, authors.TEST_ACCURACY]
  assert all(len(c) == 84 for c in curves)
  records = authors.records()
  assert [r['epoch'] for r in records] == list(authors.EPOCHS)
  assert records[0]['information']['T5']['mi_input'] == [2.5162, None]


def test_their_training_facts_come_out_of_the_curves():
  """The first epoch at train accuracy >= 0.9 is 115 (0.875 at epoch 31),
  not 'between 15 and 40'; the minimum test loss 0.0956 at epoch 1072."""
  t = findings.training_summary(authors.records())
  assert t['fit_epoch'].mean == 115
  assert authors.TRAIN_ACCURACY[authors.EPOCHS.index(31)] == pytest.approx(0.875, abs=1e-3)
  assert t['min_test_loss'].mean == pytest.approx(0.0956, abs=1e-4)
  assert t['min_test_loss_epoch'].mean == 1072
  assert (t['train_accuracy'].mean, t['test_accuracy'].mean) == pytest.approx(
    (0.9997, 0.9805), 1e-4
  )
  assert sections.AUTHORS_TRAINING['fit_epoch'].mean == 115
  assert sections.authors_peak_epoch('T1').startswith('flat (')
  assert sections.authors_peak_epoch('T5') == '509'


def test_expected_ceiling_of_draws_with_replacement():
  for m in (2, 3, 4):  # every equally likely draw of m rows from m
    h = []
    for draw in itertools.product(range(m), repeat=m):
      c = np.bincount(draw)
      c = c[c > 0] / m
      h.append(-(c * np.log(c)).sum())
    assert authors.expected_ceiling(m) == pytest.approx(np.mean(h), rel=1e-12)
  assert authors.expected_ceiling(1) == 0.0
  with pytest.raises(ValueError, match='m must be >= 1.*got m = 0'):
    authors.expected_ceiling(0)
  assert authors.expected_ceiling() == pytest.approx(7.7445, abs=1e-4)
  # Their T1 tells every input apart: it sits at that ceiling.
  assert np.mean(authors.MI_INPUT['T1']) == pytest.approx(authors.expected_ceiling(), abs=0.005)


def _run(name, mi, *, ceiling, split, half_gap=None, num_seeds=2):
  """An in-memory run of 6 analysed epochs: `mi(layer, i, seed)` gives
  I(X;T), `half_gap(layer)` the full-R minus R/2 gap (None: no diagnostic).
  While the deep layers' I(X;T) falls, the single-linkage cluster entropy
  rises and the packed one and the binned entropy fall."""
  records = []
  for seed in range(num_seeds):
    for i, epoch in enumerate((0, 10, 100, 115, 1000, 9999)):
      info, clustering, binning = {}, {}, {'bin_sizes': [0.01]}
      for n in LAYERS:
        value = mi(n, i, seed)
        info[n] = {'mi_input': [value, 0.01]}
        if half_gap is not None:
          info[n]['mi_input_half_replicas'] = [value - half_gap(n), 0.01]
        clustering[n] = {'cluster_entropy': 0.1 * i, 'packed_cluster_entropy': 5.0 - 0.5 * i}
        binning[n] = {'entropy': [8.0 - 0.3 * i]}
      accuracy = min(0.5 + 0.1 * i, 1.0)
      records.append(
        {
          'epoch': epoch,
          'seed': seed,
          'information': info,
          'information_ceiling': ceiling(i, seed),
          'clustering': clustering,
          'binning': binning,
          'train': {'loss': 0.7 - 0.1 * i, 'accuracy': accuracy},
          'test': {'loss': 0.7 - 0.1 * i, 'accuracy': accuracy - 0.02},
        }
      )
  meta = {
    'config': name,
    'layers': dict.fromkeys(LAYERS, 3),
    'num_eval_inputs': 4096,
    'data_source': f'file: szt_var_u.mat; {split}',
  }
  return Run(pathlib.Path(name), {'num_epochs': 9999}, meta, records)


LOG_M = math.log(4096)
SHALLOW = LAYERS[:3]


def _ours():
  mi = lambda n, i, seed: LOG_M if n in SHALLOW else 5.0 - 0.3 * i
  return _run('szt', mi, ceiling=lambda i, seed: LOG_M, split='split seed=0, test_fraction=0.2')


def _resample():
  """T1-T3 at the multiplicity entropy (7.750, 7.758 by seed); T2 flagged
  by the R/2 diagnostic (a gap of 0.152 nats, 10.7 combined stderr)."""
  mi = lambda n, i, seed: 7.750 + 0.008 * seed if n in SHALLOW else 5.0 - 0.3 * i
  return _run(
    'szt_resample',
    mi,
    ceiling=lambda i, seed: 7.745 + 0.001 * i,
    split="split: the authors' IB_data.npz (3277 train, 819 test)",
    half_gap=lambda n: 0.152 if n == 'T2' else 0.0,
  )


def test_szt_section_sets_ours_their_estimand_and_theirs_side_by_side():
  sec = sections.szt_section(_ours(), authors=True, resample=_resample())
  text = '\n'.join(sec.lines)
  header = "| layer | I(X;T) [nats] | ours | ours on the authors' estimand | authors |"
  assert header in text
  assert '| T1 | first | 8.32 | 7.75 (7.75 to 7.76) | 7.76 |' in text
  assert '| all | ceiling | 8.318 | 7.747 (7.745 to 7.750) | 7.744 (expected) |' in text
  assert 'The two ceilings differ by 0.573 nats.' in text
  # T1 - ceiling: 0.005 - 0.001 i (seed 0), 0.013 - 0.001 i (seed 1), i = 0..5.
  assert (
    "Its T1 minus each analysed epoch's ceiling: within 0.03 nats at 12 of 12 layer-epochs "
    '(mean +0.0065, sd 0.0043 nats; z = gap / stderr has sd 0.43, 0 beyond 3); the largest '
    '+0.013 nats (1.3 stderr) at epoch 0 of seed 1.'
  ) in text
  assert 'Train/test split: a seeded split (seed=0, test_fraction=0.2).' in text
  # Ours differs from their T1; their estimand explains it with numbers.
  t1 = next(d for d in sec.differences if d.startswith('T1 I(X;T), first'))
  assert 'Explained by the estimand' in t1 and 'ours reads 7.75 (7.75 to 7.76), which' in t1
  # ... its mean moved 8.318 - 7.754 = 0.564 towards theirs, 140.9 combined stderr (ours: 0
  # over seeds; on their estimand: sd 0.00566 / sqrt(2) = 0.004).
  assert 'it moved +0.564 from ours towards theirs, 140.9 combined stderr' in t1
  t2 = next(d for d in sec.differences if d.startswith('T2 I(X;T), first'))
  assert 'Open: ' in t2 and 'The R/2 diagnostic flags 12 of 12' in t2
  test_acc = next(d for d in sec.differences if d.startswith('final test accuracy'))
  assert test_acc.endswith(
    'Open, possibly the split (this run used a seeded split (seed=0, test_fraction=0.2); SZT '
    "uses the authors' split file when it is in the data dir)."
  )
  assert '(beta = 0.005, R = 100 replicas per input, 4096 inputs drawn with replacement, ' in text
  assert not any('15 and 40' in d for d in sec.differences)
  fit = '| first analysed epoch with train accuracy >= 0.9 | 1000 | 115 |'
  assert fit in text and '| train accuracy near epoch 115 (ours at 115) | 0.8000 | 0.9008 |' in text
  assert 'R/2 replica diagnostic, ours: no diagnostic in these records.' in text
  assert '| T2 | 12 of 12 | +0.1520 | 10.7 | 0 (seed 0) |' in text
  assert '| T1 | 0 of 12 |' in text
  assert 'their estimand (2 seeds)' in sec.tried


def test_szt_section_spearman_of_information_with_each_entropy_per_layer():
  sec = sections.szt_section(_ours(), authors=False)
  text = '\n'.join(sec.lines)
  header = '| layer | cluster entropy, single linkage | cluster entropy, packing |'
  assert header + ' binned entropy, bin 0.01 |' in text
  # T5's I(X;T) falls: with single linkage rising rho = -1, packing and binning +1.
  assert '| T5 | -1.00 | 1.00 | 1.00 |' in text
  assert '| T1 | - | - | - |' in text  # T1 is constant per seed: undefined
  assert not sec.differences and not sec.tried  # no authors' values without `authors`
  # The training table has no authors' column: every row has the header's two cells.
  training = [line for line in sec.lines if line.startswith('| final train accuracy')]
  assert '| noise-free | ours |' in text and [line.count('|') for line in training] == [3]


def test_a_layer_at_the_ceiling_explains_their_draw_within_its_spread():
  ours = findings.Stat(7.740, 7.738, 7.742, 2)  # T1 on their estimand, at its ceiling
  ceiling = findings.Stat(7.744, 7.728, 7.762, 28)
  note = sections.estimand_note(ours, 2, '', ceiling)
  assert 'sits at the ceiling' in note(7.7574) and 'spread from draw to draw' in note(7.7574)
  assert note(7.81).startswith('Open')  # their T2: above any draw's ceiling
  below = findings.Stat(7.60, 7.59, 7.61, 2)  # a layer below its ceiling
  assert sections.estimand_note(below, 2, '', ceiling)(7.7574).startswith('Open')
  assert sections.estimand_note(ours, 2)(7.7574).startswith('Open')  # a ratio: no ceiling


def test_containment_alone_does_not_explain_a_layer_below_its_ceiling():
  """Away from the ceiling the two runs train alike and differ by the
  estimand, seed spread and Monte Carlo noise: their estimand explains a
  difference only when its mean moves towards theirs by more than 3
  combined stderr (and contains theirs)."""
  ours = findings.Stat(5.50, 5.45, 5.54, 4)  # theirs 5.57 lies above every seed
  noise = findings.Stat(5.53, 5.47, 5.58, 4)  # contains 5.57, moved 0.03: 1.5 stderr
  text = sections.estimand_note(noise, 2, ' R/2.', None, ours, 0.02)(5.57)
  assert text.startswith("Open, but consistent with the authors' on their estimand: ")
  assert 'it moved +0.030 from ours towards theirs, 1.5 combined stderr' in text
  assert text.endswith(' R/2.') and 'Explained' not in text
  moved = findings.Stat(5.60, 5.55, 5.65, 4)  # contains 5.57, moved 0.10: 5 stderr
  text = sections.estimand_note(moved, 2, '', None, ours, 0.02)(5.57)
  assert text.startswith('Explained by the estimand: ') and '5.0 combined stderr' in text
  # Without a stderr (one seed) or without ours, containment is not enough.
  for note in (sections.estimand_note(moved, 2, '', None, ours), sections.estimand_note(moved, 2)):
    assert note(5.57).startswith('Open, but consistent')
  # Moved away from theirs (theirs below ours), yet containing it: not explained.
  away = sections.estimand_note(findings.Stat(5.53, 5.40, 5.60, 4), 2, '', None, ours, 0.001)
  assert away(5.43).startswith('Open, but consistent') and 'moved -0.030' in away(5.43)
  assert sections.estimand_note(moved, 2, '', None, ours, 0.02)(5.30).endswith(', still above.')
  beyond = findings.Stat(5.70, 5.66, 5.75, 4)  # past theirs (5.60), not containing it
  assert sections.estimand_note(beyond, 2, '', None, ours, 0.02)(5.60).endswith(', now above.')


def test_seed_stderr_is_the_stderr_of_the_mean_over_seeds():
  records = [
    {'epoch': e, 'seed': seed, 'information': {'T1': {'mi_input': [v + e, 0.01]}}}
    for seed, v in enumerate((1.0, 2.0, 3.0))
    for e in (0, 1)
  ]
  first = lambda rs: findings.peak_summary(rs, findings.mi_input('T1'))['first']
  assert sections.seed_stderr(records, first) == pytest.approx(1 / math.sqrt(3))
  assert math.isnan(sections.seed_stderr(records[:2], first))  # one seed


def test_the_split_comes_from_run_json_data_split_else_from_the_data_source():
  run = _ours()
  assert sections.data_split(run) == 'seeded'  # a run.json before `data_split`: parsed
  run.meta['data_split'] = 'authors'  # the field wins over the free text
  assert sections.data_split(run) == 'authors'
  assert sections.split_text(run) == "the authors' split file"
  assert sections.split_note(run)(0.9) == 'Open (the test set is theirs).'
  run.meta['data_split'] = 'seeded'
  run.config['data'] = {'split_seed': 3, 'test_fraction': 0.25}
  assert sections.split_text(run) == 'a seeded split (seed=3, test_fraction=0.25)'
  run.meta['data_split'] = None  # not SZT
  assert sections.split_text(run) == 'a train/test split not recorded in run.json'
  assert sections.split_note(run)(0.9).startswith('Open, possibly the split')
