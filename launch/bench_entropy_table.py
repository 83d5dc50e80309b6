"""The table of launch/bench_entropy.py: one line a method and case, then notes."""

from __future__ import annotations

import numpy as np


def _opt(value, fmt, suffix=''):
  return '' if np.isnan(value) else f'{value:{fmt}}{suffix}'


def format_table(rows):
  """The rows of `bench_entropy.run_case` as one text table, with its notes."""
  header = (
    f'{"case":<15} {"n":>7} {"d":>3} {"beta":>6} {"method":<14} '
    f'{"draws":>6} {"time s":>8} {"peak MB":>8} {"Geval/s":>8} '
    f'{"entropy":>9} {"|diff|":>9} {"stderr":>8} {"vs np64":>8} '
    f'{"vs sk":>7}'
  )
  lines = [header, '-' * len(header)]
  for r in rows:
    note = ' *' if r['subset'] else ''
    lines.append(
      f'{r["case"]:<15} {r["n"]:>7} {r["d"]:>3} {r["beta"]:>6.3g} '
      f'{r["method"]:<14} {r["draws"]:>6} {r["seconds"]:>8.3f} '
      f'{r["memory_mb"]:>8.0f} {r["gevals"]:>8.3f} {r["estimate"]:>9.4f} '
      f'{_opt(r["diff"], "9.2e"):>9} {_opt(r["stderr"], ".2e"):>8} '
      f'{_opt(r["speedup"], "7.1f", "x"):>8} '
      f'{_opt(r["vs_sklearn"], "6.1f", "x"):>7}{note}'
    )
  lines.append(
    '* on a random subset of the draws (brute force over all would take '
    'minutes); |diff| compares every method on that same subset.'
  )
  lines.append(
    '|diff|: |estimate - float64 brute force| on identical draws '
    '(nats). vs np64 / vs sk: kernel evaluations/s relative to '
    'numpy64 / sklearn.'
  )
  lines.append(
    'szt_r100_*: infoflow is the pruned path, group building '
    'included; sklearn runs on the same 16,384 draws.'
  )
  lines.append(
    'szt_layer_r1000: "entropy" is I(X;T) in nats, "draws" those '
    'of h(T); the time is h(T) + all 4096 h(T|X=x) (data '
    'generation excluded), peak MB the whole process above its '
    'baseline after imports.'
  )
  return '\n'.join(lines)
