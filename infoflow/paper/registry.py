"""The paper's experiments, each in one entry: its runs, seeds and report section.

Adding an experiment is one `Experiment` here plus its config(s) in
`infoflow/configs`: `reproduce` runs the configs, and the report calls the
`section` builder on the loaded runs (in config order) for its findings.
"""

from __future__ import annotations

import dataclasses
from typing import Callable
from typing import Sequence

from infoflow.paper import examples
from infoflow.paper import sections
from infoflow.record import Run


class ExperimentError(ValueError):
  """An unknown experiment name; the message lists the known ones."""


@dataclasses.dataclass(frozen=True)
class Experiment:
  """One of the paper's experiments.

  Attributes:
    name: the name `--experiment` takes.
    configs: the runs it needs (config names); the first is the main one.
    default_seeds: seeds when none are asked for (see `SEEDS_NOTE`).
    about: one line for the help text and the report.
    section: its findings section of the report, from its runs in `configs`
      order (`infoflow.paper.sections`, `infoflow.paper.examples`).
  """

  name: str
  configs: tuple[str, ...]
  default_seeds: int
  about: str
  section: Callable[[list[Run]], sections.Section]


EXPERIMENTS = {
  e.name: e
  for e in (
    Experiment(
      'szt',
      ('szt', 'szt_resample'),
      8,
      'the tanh SZT net, beta = 0.005, as the authors ran it, analysed on all 4096 inputs and '
      "on the authors' estimand (inputs drawn with replacement)",
      lambda runs: sections.szt_section(
        runs[0], authors=True, resample=runs[1] if len(runs) > 1 else None
      ),
    ),
    Experiment(
      'szt_relu',
      ('szt_relu',),
      8,
      'the SZT net with ReLU layers',
      lambda runs: sections.szt_section(runs[0], authors=False),
    ),
    Experiment(
      'szt_orthonormal',
      ('szt_orthonormal', 'szt'),
      4,
      'orthonormality regularisation against the plain szt run',
      lambda runs: sections.orthonormal_section(runs[0], runs[1]),
    ),
    Experiment(
      'szt_deterministic',
      ('szt_deterministic',),
      8,
      'beta = 0: binning at several bin sizes',
      lambda runs: sections.deterministic_section(runs[0]),
    ),
    Experiment(
      'minimal_tanh',
      ('minimal_tanh',),
      8,
      'one noisy tanh neuron',
      lambda runs: examples.minimal_section(runs[0], steps=sections.TANH_STEPS_BITS),
    ),
    Experiment(
      'minimal_lrelu',
      ('minimal_lrelu',),
      8,
      'two noisy leaky-ReLU neurons',
      lambda runs: examples.minimal_section(runs[0]),
    ),
    Experiment(
      'mnist',
      ('mnist', 'mnist_deterministic'),
      3,
      'a small CNN, noisy and deterministic',
      # A third config (examples.BOUNDED_CONFIG) would be shown as the run where
      # I(X;T) moves; it is left out: one more MNIST net per seed.
      lambda runs: examples.mnist_section(*runs[:3]),
    ),
  )
}
# What the default seed counts rest on (the --num_seeds help text).
SEEDS_NOTE = (
  'minimal_tanh, minimal_lrelu: 8 seeds, 12 and 21 seconds on 2 cores (measured); '
  'szt_deterministic: 8, about 10 minutes (extrapolated from a shortened run); szt, szt_relu: 8 '
  '(szt: two runs, szt and szt_resample, each trained; with 8 seeds they took 1537 and 1482 s on '
  '2 cores, measured; szt_relu not measured); '
  'szt_orthonormal: 4 (two runs, szt_orthonormal and szt); mnist: 3 (two runs, mnist and '
  'mnist_deterministic; with 3 seeds each, ranges over seeds that do not overlap arise by chance '
  '1 time in 10, with 2 each 1 in 3; 3 seeds took 139 and 39 minutes on 2 cores shared with '
  'other runs, measured)'
)


def get(names: Sequence[str]) -> list[Experiment]:
  """The experiments named, in order.

  Raises:
    ExperimentError: no name, or an unknown one (the message lists them).
  """
  unknown = [n for n in names if n not in EXPERIMENTS]
  if unknown or not names:
    raise ExperimentError(
      f'unknown experiment(s) {", ".join(unknown) or "(none given)"}; known: '
      f'{", ".join(EXPERIMENTS)}.'
    )
  return [EXPERIMENTS[n] for n in names]
