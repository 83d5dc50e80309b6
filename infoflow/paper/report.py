"""The reproduction report: `WORKDIR/report.md` and its figures.

`write_report` reads the runs of each experiment (their run records,
docs/run_record.md), draws their figures (`infoflow.plots.files.write_figures`,
as `launch.plot` does) into `WORKDIR/figures/<config>/`, and writes one
Markdown page: how it was made (command, seeds, devices, wall time), then per
experiment its findings section (the registry's `section` builder:
`infoflow.paper.sections`, `infoflow.paper.examples`; numbers from the
records, mean and min-max range over seeds, the authors' values beside
them), the sentences saying where the results differ from the paper, and the
figures. docs/reproduce.md describes the page.
"""

from __future__ import annotations

import datetime
import pathlib
import platform
import time
from typing import Sequence

import jax

import infoflow
from infoflow import plots
from infoflow import record as record_lib
from infoflow.paper import authors as their_run
from infoflow.paper import registry
from infoflow.paper import sections as rs
from infoflow.plots import files as figure_files

REPORT = 'report.md'
FIGURES = 'figures'
# The authors' layer-5 scatter epochs (one blob, a line, two clusters).
AUTHORS_SCATTER_EPOCHS = (11, 35, 356, 7389)
# Configs of the authors' tanh SZT net: their saved curves
# (`infoflow.paper.authors`) are drawn dashed on these runs' training and
# information figures.
AUTHORS_CONFIGS = ('szt', 'szt_resample')
# Figures in report order: (file stem or its prefix, caption).
CAPTIONS = (
  (
    'information_plane',
    'The information plane: every layer on one pair of axes, colour = epoch, marker = layer',
  ),
  ('information_curves', 'I(X;T_l) and I(T_l;Y) against the epoch'),
  ('training_curves', 'Loss and accuracy, noise-free (solid) and noisy (dotted)'),
  ('binned_entropy', 'Binned entropy H(Bin(T_l)) at each bin size'),
  ('binned_mi_label', 'I(Bin(T_l);Y) at each bin size'),
  ('clustering', 'Clustering measures of every layer'),
  ('cosine_similarity', 'Class-sorted cosine similarity of the noise-free representations'),
  ('scatter', 'The narrowest layer by class'),
  ('information_plane_panels', 'Extra: the information plane with a panel a layer'),
)


def band_text(num_seeds: int) -> str:
  """What the bands and bars of the curve figures show."""
  if num_seeds == 1:
    return 'one seed: the line is its value, the band +-1 Monte Carlo standard error'
  return f'the line is the mean of {num_seeds} seeds, the band (or bars) their min-max range'


def write_run_figures(run, out: pathlib.Path, workdir: pathlib.Path) -> list[str]:
  """Draws the run's figures into `out`; returns Markdown image lines
  (paths relative to `workdir`) in `CAPTIONS` order, with captions."""
  analysed = run.meta.get('analysis_epochs') or [0]
  epochs = AUTHORS_SCATTER_EPOCHS if max(analysed) >= max(AUTHORS_SCATTER_EPOCHS) else None
  theirs = run.meta.get('config') in AUTHORS_CONFIGS
  reference = plots.Reference('authors', their_run.records()) if theirs else None
  written, _ = figure_files.write_figures(
    run.workdir, out, epochs=epochs, dpi=100, reference=reference
  )
  stems = {p.stem: p for p in written}
  band = band_text(len(run.seeds))
  lines = []
  for prefix, caption in CAPTIONS:
    for stem in sorted(s for s in stems if s == prefix or s.startswith(prefix + '_')):
      if prefix == 'information_plane' and stem != prefix:
        continue  # the panels have their own entry
      rel = stems.pop(stem).relative_to(workdir).as_posix()
      curve = stem.startswith(('information', 'training', 'binned', 'clustering'))
      note = band if curve else 'seed 0'
      if reference is not None and stem in ('training_curves', 'information_curves'):
        note += "; dashed: the authors' saved run"
      lines += [f'![{stem}]({rel})', '', f'*{run.meta.get("config", "")}: {caption} ({note})*', '']
  return lines


def _header(command: str, outcomes, seconds: float, overrides: Sequence[str]) -> list[str]:
  """How the report was made: command, date, versions, devices, runs."""
  now = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')
  devices = ', '.join(str(d) for d in jax.devices())
  lines = [
    '# Reproducing Goldfeld et al. (ICML 2019) with infoflow',
    '',
    f'Made by `{command or "infoflow.paper.reproduce(...)"}` on {now}: infoflow '
    f'{infoflow.__version__}, JAX {jax.__version__} on {devices}, Python '
    f'{platform.python_version()}, {platform.machine()}. Wall time of the command: '
    f'{seconds:.0f} s (runs and this report).',
    '',
    'Numbers are `mean (min to max)` over the seeds of a run (a single value when there is '
    'one seed); information and entropies are in nats unless a column says bits.',
    '',
  ]
  if overrides:
    lines += [
      "**Config overrides** (applied to every run; these are not the paper's settings): "
      + ', '.join(f'`{o}`' for o in overrides),
      '',
    ]
  rows = []
  for experiment, runs in outcomes.items():
    for o, run in runs:
      status = 'reused (finished before)' if o.reused else 'run or resumed'
      last = max((r.get('wall_time') or 0.0) for r in run.records)
      rows.append(
        [experiment, o.config, str(len(run.seeds)), f'`{o.workdir}`', status]
        + [f'{o.seconds:.0f}', f'{last:.0f}']
      )
  header = ['experiment', 'config', 'seeds', 'run directory', 'this command', 'seconds']
  header.append('seconds of its last session (metrics.jsonl wall_time)')
  return lines + rs.table(header, rows) + ['']


def difference_lines(section: rs.Section) -> list[str]:
  """The paper's claims checked, then its numbers outside our seed range."""
  lines = [f'- {c}' for c in section.claims] + ([''] if section.claims else [])
  if section.differences:
    lines += [
      f'{len(section.differences)} of the {section.compared} paper values in the tables lie '
      'outside the range of our seeds (by more than their rounding):',
      '',
    ]
    lines += [f'- {d}' for d in section.differences] + ['']
    if section.tried and any('Open' in d for d in section.differences):
      lines += [
        f'Items marked Open have no cause we could show; our runs already share with the '
        f"authors' set-up: {section.tried}.",
        '',
      ]
  elif section.compared:
    lines += [
      f'All {section.compared} paper values in the tables lie within the range of our seeds.',
      '',
    ]
  elif not section.claims:
    lines += ['The paper gives no numbers or claims for this experiment to check.', '']
  return lines


def experiment_lines(name: str, runs, workdir: pathlib.Path) -> list[str]:
  """The report's section of experiment `name`: findings, differences, figures."""
  (entry,) = registry.get([name])
  section = entry.section([run for _, run in runs])
  lines = [f'## {name}: {entry.about}', '', '### Findings', ''] + section.lines
  lines += ['### Where the results differ from the paper', ''] + difference_lines(section)
  lines += ['### Figures', '']
  for o, run in runs:
    lines += write_run_figures(run, workdir / FIGURES / o.config, workdir)
  return lines


def write_report(
  workdir, outcomes: dict, *, command: str = '', seconds: float = 0.0, overrides: Sequence[str] = ()
) -> pathlib.Path:
  """Writes `workdir/report.md` and its figures; returns the report's path.

  Args:
    workdir: the reproduction's directory.
    outcomes: `{experiment name: [RunOutcome, ...]}`
      (`infoflow.paper.experiments`), the runs of each experiment in config
      order.
    command, seconds, overrides: how it was made, for the header.

  Raises:
    registry.ExperimentError: an experiment not in the registry.
    record.RunRecordError: a run directory without a readable record.
    figure_files.OutputError: the figures cannot be written.
  """
  start, workdir = time.time(), pathlib.Path(workdir)
  loaded = {e: [(o, record_lib.load_run(o.workdir)) for o in runs] for e, runs in outcomes.items()}
  body = []
  for name, runs in loaded.items():
    body += experiment_lines(name, runs, workdir)
  seconds += time.time() - start
  text = '\n'.join(_header(command, loaded, seconds, overrides) + body)
  path = workdir / REPORT
  record_lib.write_text(path, text.rstrip('\n') + '\n')
  return path
