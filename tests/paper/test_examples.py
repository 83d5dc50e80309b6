"""Tests of the minimal examples' report section (infoflow.paper.examples) on
synthetic run records: the paper's steps per seed and the estimate against
the exact quadrature of every seed, or of seed 0 alone for records from
before the `quadrature` field."""

import json

import helpers
import numpy as np

from infoflow import record
from infoflow import units
from infoflow.measures import quadrature
from infoflow.paper import examples
from infoflow.paper import sections

# Estimates of T1 in bits at the fake run's epochs 0, 1, 2, 3, 4, 6, 9, 14:
# on 2 bits, then 1.5, then 0.81 (seed 0); seed 1 stops short of 0.81.
STEPS_BITS = {
  0: [2.0, 1.98, 1.52, 1.5, 1.49, 0.84, 0.82, 0.81],
  1: [2.0, 1.98, 1.52, 1.5, 1.49, 0.84, 1.2, 1.25],
}
STDERR = 0.01  # nats


def _minimal_run(path, *, with_quadrature=True):
  """A fake one-unit run (helpers.write_fake_run) whose T1 estimates walk
  down `STEPS_BITS`; its exact values equal the estimates except at seed 1,
  epoch 4 (off by 6 stderrs), or are absent (`with_quadrature` False)."""
  path, epochs = helpers.write_fake_run(
    path, num_epochs=8, num_seeds=2, layers={'T1': 1}, num_inputs=4, with_binning=False
  )
  records = []
  for line in (path / 'metrics.jsonl').read_text().splitlines():
    r = json.loads(line)
    nats = STEPS_BITS[r['seed']][epochs.index(r['epoch'])] / units.BITS_PER_NAT
    r['information']['T1']['mi_input'] = [nats, STDERR]
    if with_quadrature:
      off = 6 * STDERR if (r['seed'], r['epoch']) == (1, 4) else 0.0
      r['quadrature'] = {'T1': nats + off}
    records.append(json.dumps(r))
  (path / 'metrics.jsonl').write_text('\n'.join(records) + '\n')
  return record.load_run(path)


def test_minimal_section_shows_every_seed_on_the_steps_and_against_quadrature(tmp_path):
  sec = examples.minimal_section(_minimal_run(tmp_path), steps=sections.TANH_STEPS_BITS)
  text = '\n'.join(sec.lines)
  header = '| seed | at 2.00 bits: epochs (count) | at 1.50 bits: epochs (count) |'
  assert header in text
  # Seed 0: epochs 0-1 on 2 bits, 2-4 on 1.5, 6-14 on 0.81; seed 1 leaves 0.81 after epoch 6.
  assert '| 0 | 0 to 1 (2) | 2 to 4 (3) | 6 to 14 (3) | 0.810 +- 0.014 | 0.810 |' in text
  assert '| 1 | 0 to 1 (2) | 2 to 4 (3) | 6 (1) | 1.250 +- 0.014 | 1.250 |' in text
  assert sec.claims[:2] == [
    f'Step {s:.2f} bits: the estimate stays within 0.1 bits of it for 2+ analysed epochs in 2 of '
    '2 seeds: agrees with the paper.'
    for s in sections.TANH_STEPS_BITS[:2]
  ]
  assert 'ends on it (the last analysed epoch) in 1 of 2 seeds: **differs' in sec.claims[2]
  # The estimate against the exact value of every seed; seed 1 is off at epoch 4.
  assert '| 0 | 8 | 0.0000 (epoch 0) | 0.0 (epoch 0) | 8 of 8 |' in text
  gap_bits = 6 * STDERR * units.BITS_PER_NAT
  assert f'| 1 | 8 | {gap_bits:.4f} (epoch 4) | 6.0 (epoch 4) | 7 of 8 |' in text
  off = (1.49 + gap_bits + 1.49) / 2, 1.49 + gap_bits
  assert f'| 4 | 1.490 | {off[0]:.3f} (1.490 to {off[1]:.3f}) | 6.0 |' in text  # per epoch
  assert 'at 15 of 16 analysed epochs of 2 seeds' in text
  assert 'largest deviation is 6.0 standard errors (seed 1, epoch 4)' in text


def test_records_without_quadrature_fall_back_to_seed_0s_representations(tmp_path):
  """Old records: seed 0's exact values come from its saved noise-free
  outputs (beta of run.json); the other seeds have none."""
  run = _minimal_run(tmp_path, with_quadrature=False)
  traces = examples.seed_traces(run, 'T1')
  points = run.snapshots[4]['T1'][:, 0]
  exact = quadrature.gaussian_channel_information(points, run.meta['beta'])
  assert traces[0].exact[list(traces[0].epochs).index(4)] == exact
  assert np.isnan(traces[1].exact).all()
  text = '\n'.join(examples.minimal_section(run).lines)
  assert '| 0 | 8 | ' in text and '| 1 | 0 | - | - | - |' in text
