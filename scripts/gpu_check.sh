#!/usr/bin/env bash
# Checks infoflow on a GPU host, offline, inside a time budget (default 30 min),
# and measures issue 23's targets.
#
# Run from anywhere (it works in the repository root):
#     bash scripts/gpu_check.sh            # run every step, then summarise
#     bash scripts/gpu_check.sh summary    # only summarise the logs in $OUT again
#
# The host needs python3 with jax (and its CUDA plugin), flax, optax, chex,
# orbax-checkpoint, matplotlib, scipy, scikit-learn, absl-py and pytest; no
# package registry is used. What else the project needs travels as wheels in
# $INFOFLOW_WHEELS (default: wheels/ in the repository root; git-ignored, never
# committed). Fetch them on a machine with a registry:
#     pip download ml_collections tensorboardX wheel --no-deps -d wheels/
# (ml_collections is required; tensorboardX only for TensorBoard files, without
# it the szt run is made with --config.writers='()'; wheel lets
# `pip install -e .` build offline, without it the script uses PYTHONPATH).
#
# Steps, each under `timeout`, each with a cap, all within the budget (a step
# that would start with under 15 s left is skipped):
#   install        the wheels of missing modules; `pip install -e .` if infoflow
#                  is not installed (offline: --no-index --no-build-isolation)
#   devices        jax.devices() and the backend; nvidia-smi
#   tests          the fast tests of the estimators on the GPU (-m 'not slow' -x)
#   bench_entropy  launch.bench_entropy: P1 (szt_r100_d5, against scikit-learn),
#                  the first call with a cold and a warm compilation cache,
#                  and what a TF32 matmul default does to the estimator
#   bench_train    launch.bench_train --seeds=1,8 (training alone)
#   estimators     launch.bench_information
#   szt_run        launch.bench_run --configs=szt --seeds=8 (a full run, 8
#                  seeds, in $OUT/bench_run: records and logs kept, checkpoints
#                  deleted), capped at 21 min. The default budget is 570 s,
#                  so that the whole check fits one 10-minute command on a
#                  lent device: the run then gets what the steps before it
#                  leave (~4-5 min) and, cut short, reads "measured > N s"
#                  (its progress lines, with ETAs, stay in
#                  bench_run/*/bench_stderr.log); GPU_CHECK_BUDGET=1800 lets
#                  it finish where a host allows a longer command
# Every log goes to $OUT (default gpu_logs/; a check first empties its
# summary, steps.tsv and bench_run/ of a previous one): STEP.log for each step,
# steps.tsv (name, exit status, seconds, cap of each step) and summary.txt:
# each step's status and seconds, then one line per target of issue 23,
#     NAME  measured VALUE  target BOUND  ratio MEASURED/TARGET  met|MISSED
# (8-seed szt run <= 20 min; P1 >= 5x scikit-learn; 8 seeds vs 1 seed in
# training <= 8x, i.e. better than one after another; the estimator's error
# under a TF32 default <= 1e-3 nats; a warm first call <= 5 s), then the
# tables.
#
# Environment: OUT, INFOFLOW_WHEELS, PYTHON (default python3),
# GPU_CHECK_BUDGET (seconds, default 570), GPU_CHECK_TESTS (test files),
# GPU_CHECK_QUICK=1 (checks the script itself, on a CPU too, in ~20 s: tiny
# sizes, one test, no bench_information, XLA's optimisation passes off, two
# steps at a time; CI runs it, tests/test_gpu_check.py; its numbers mean
# nothing, its lines show the format). Exit status: 0 when every step ran
# and exited 0, else 1.

set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
OUT=${OUT:-gpu_logs}
WHEELS=${INFOFLOW_WHEELS:-wheels}
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET:-570}
QUICK=${GPU_CHECK_QUICK:-0}
TESTS=${GPU_CHECK_TESTS:-tests/estimators/test_matmul_precision.py tests/estimators/test_entropy.py tests/estimators/test_posterior.py tests/estimators/test_pruned.py tests/measures/test_clustering.py}
# What the szt_run step runs (named in the summary when it leaves no table).
if [[ $QUICK == 1 ]]; then RUN_LABEL='tiny, 1 seed(s), whole run'; else RUN_LABEL='szt, 8 seed(s), whole run'; fi
SUMMARY=$OUT/summary.txt
STEPS=$OUT/steps.tsv
START=$SECONDS
# The repository's own code wins over any installed copy.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME CAP_SECONDS COMMAND...: runs COMMAND under timeout into $OUT/NAME.log.
step() {
  local name=$1 cap=$2 left limit t0 rc status
  shift 2
  left=$((BUDGET - (SECONDS - START)))
  if ((left < 15)); then
    note "$(printf '%-13s skipped (budget spent: %ds left)' "$name" "$left")"
    printf '%s\tskipped\t0\t0\n' "$name" >>"$STEPS"
    return
  fi
  limit=$((cap < left ? cap : left))
  t0=$SECONDS
  echo "== $name (cap ${limit}s): $*" >&2
  timeout -k 10 "$limit" "$@" >"$OUT/$name.log" 2>&1
  rc=$?
  case $rc in
    0) status=ok ;;
    124 | 137) status="TIMED OUT after ${limit}s" ;;
    *) status="FAILED (exit $rc)" ;;
  esac
  printf '%s\t%s\t%s\t%s\n' "$name" "$rc" $((SECONDS - t0)) "$limit" >>"$STEPS"
  note "$(printf '%-13s %-26s %4ds  %s' "$name" "$status" $((SECONDS - t0)) "$OUT/$name.log")"
}

# importable MODULE: whether an installed top-level MODULE is found (outside
# the tree; located, not imported: an import of jax costs seconds).
importable() {
  (cd / && "$PY" -c 'import importlib.util, sys; sys.exit(importlib.util.find_spec(sys.argv[1]) is None)' "$1" 2>/dev/null)
}

# install_wheel MODULE PREFIX: installs $WHEELS/PREFIX*.whl unless MODULE is found.
# shellcheck disable=SC2329
install_wheel() {
  shopt -s nocaseglob # tensorboardX's wheel is tensorboardx-*.whl
  if importable "$1"; then
    echo "$1: already importable"
  elif compgen -G "$WHEELS/$2*.whl" >/dev/null; then
    "$PY" -m pip install --no-deps --no-index "$WHEELS/$2"*.whl
  else
    echo "$1: not importable and no wheel in $WHEELS/"
  fi
}

# shellcheck disable=SC2329  # install and devices run through bash -c (exported)
install() {
  install_wheel ml_collections ml_collections- || return 1
  install_wheel tensorboardX tensorboardx- || return 1
  importable ml_collections || { echo 'ml_collections is required'; return 1; }
  if importable infoflow; then
    echo "infoflow: already installed; PYTHONPATH=$PWD puts this tree first"
    return
  fi
  install_wheel wheel wheel- # setuptools < 70.1 builds editable installs with it
  if ! "$PY" -m pip install --no-deps --no-build-isolation --no-index -e .; then
    echo "pip install -e . failed offline; using PYTHONPATH=$PWD instead"
  fi
}

# shellcheck disable=SC2329
devices() {
  "$PY" -c 'import jax; print("jax", jax.__version__, "backend", jax.default_backend()); print(jax.devices())' || return 1
  if command -v nvidia-smi >/dev/null; then nvidia-smi; else echo 'nvidia-smi: not found'; fi
}

# targets: one line per target of issue 23, from the logs and steps.tsv in $OUT.
targets() {
  "$PY" - "$OUT" "$QUICK" "$RUN_LABEL" <<'PYTHON'
"""Reads the benches' printed tables (text, not a format of their own)."""
import pathlib
import re
import sys

out, quick, run_label = pathlib.Path(sys.argv[1]), sys.argv[2] == '1', sys.argv[3]


def text(name):
  path = out / f'{name}.log'
  return path.read_text(errors='replace') if path.exists() else ''


steps = {}
if (out / 'steps.tsv').exists():
  for line in (out / 'steps.tsv').read_text().splitlines():
    name, rc, seconds, cap = line.split('\t')
    steps[name] = (rc, int(seconds), int(cap))


def why_missing(step):
  """Why a number is missing: the step's status, or that it did not run."""
  if step not in steps:
    return f'{step} did not run'
  rc, seconds, cap = steps[step]
  if rc == 'skipped':
    return f'{step} skipped'
  if rc in ('124', '137'):
    return f'{step} timed out after {seconds} s'
  return f'{step} exited {rc}' if rc != '0' else f'no number in {step}.log'


def szt_run():
  """(label, wall s or None, timed-out lower bound or None, missing reason)."""
  table = out / 'bench_run.md'
  if table.exists():
    text_lines = table.read_text().splitlines() + ['']
    start = next(i for i, l in enumerate(text_lines) if l.startswith('|'))
    end = next(i for i in range(start, len(text_lines)) if not text_lines[i].startswith('|'))
    lines = text_lines[start:end]  # the first table (per-stage tables follow it)
    header = [c.strip() for c in lines[0].strip('|').split('|')]
    rows = [dict(zip(header, (c.strip() for c in l.strip('|').split('|')))) for l in lines[2:]]
    if rows:
      row = max(rows, key=lambda r: int(r['seeds']))
      return f'{row["config"]}, {row["seeds"]} seed(s), whole run', float(row['wall s']), None, ''
  label = run_label
  rc, seconds, _ = steps.get('szt_run', ('', 0, 0))
  if rc in ('124', '137'):
    return label, None, seconds, ''
  return label, None, None, why_missing('szt_run')


def p1():
  seconds, n = {}, None
  for line in text('bench_entropy').splitlines():
    cells = line.split()
    if len(cells) > 6 and cells[0] == 'szt_r100_d5' and cells[4] in ('infoflow', 'sklearn'):
      seconds[cells[4]], n = float(cells[6]), int(cells[1])
  if len(seconds) < 2 or seconds['infoflow'] <= 0:
    return 'P1 entropy vs sklearn', None
  return f'P1 entropy vs sklearn, n = {n}', seconds['sklearn'] / seconds['infoflow']


def seeds():
  times, rows = {}, False
  for line in text('bench_train').splitlines():
    cells = line.split()
    if cells[:1] == ['config'] and 'seeds' in cells:
      rows = True
    elif rows and len(cells) > 4 and cells[2].isdigit():
      times[int(cells[2])] = float(cells[4])
  if 1 not in times or len(times) < 2 or times[1] <= 0:
    return 'seeds N vs 1, training', None
  most = max(times)
  return f'seeds {most} vs 1, training', times[most] / times[1]


def match(name, pattern):
  found = re.search(pattern, text(name), re.M)
  return float(found.group(1)) if found else None


def read(name, reader):
  """reader()'s (label, value), or (name, None) when a log does not parse."""
  try:
    return reader()
  except (ValueError, KeyError, IndexError, StopIteration, ZeroDivisionError) as error:
    print(f'{name}: could not read the log ({type(error).__name__}: {error})', file=sys.stderr)
    return name, None


try:
  label, wall, lower, reason = szt_run()
except (ValueError, KeyError, IndexError, StopIteration) as error:
  label, wall, lower, reason = run_label, None, None, f'bench_run.md unreadable: {error}'
tf32 = match('bench_entropy', r'^tf32: max \|error\| under a TF32 default (\S+) nats')
warm = match('bench_entropy', r'^first call: cold \S+ s, warm (\S+) s')
# (name, measured or None, unit, sense, target, why a number is missing, timed-out bound)
rows = [
  (label, wall, ' s', '<=', 1200.0, reason, lower),
  (*read('P1 entropy vs sklearn', p1), 'x', '>=', 5.0, why_missing('bench_entropy'), None),
  (*read('seeds N vs 1, training', seeds), 'x', '<=', 8.0, why_missing('bench_train'), None),
  ('TF32 off: error, TF32 default', tf32, ' nats', '<=', 1e-3, why_missing('bench_entropy'), None),
  ('first call, warm cache', warm, ' s', '<=', 5.0, why_missing('bench_entropy'), None),
]
print()
print(
  'targets (ratio = measured / target)'
  + ('; QUICK MODE: tiny sizes on this machine, the numbers mean nothing' if quick else '')
)
for name, value, unit, sense, bound, reason, lower in rows:
  target = f'target {sense} {bound:g}{unit}'
  if value is not None:
    ratio = value / bound
    verdict = 'met' if (ratio <= 1 if sense == '<=' else ratio >= 1) else 'MISSED'
    shown = f'{value:.3g}{unit}' if unit == ' nats' else f'{value:.2f}{unit}'
    print(f'{name:<34} measured {shown:<14} {target:<21} ratio {ratio:<8.3g} {verdict}')
  elif lower is not None:  # timed out: it took at least its cap
    shown = f'> {lower}{unit}'
    print(
      f'{name:<34} measured {shown:<14} {target:<21} ratio > {lower / bound:<6.3g} MISSED'
      ' (timed out)'
    )
  else:
    print(f'{name:<34} measured n/a ({reason}) {target} ratio n/a')
PYTHON
}

summarise() {
  {
    echo
    echo "total: $((SECONDS - START))s of ${BUDGET}s"
    targets
    for name in devices tests bench_entropy bench_train estimators szt_run; do
      [[ -s $OUT/$name.log ]] || continue
      echo
      echo "---- $name (tail of $OUT/$name.log)"
      grep -v -i -E 'warning|^[IWE][0-9]{4} ' "$OUT/$name.log" | tail -n 14
    done
  } >>"$SUMMARY"
}

if [[ ${1:-} == summary ]]; then
  [[ -d $OUT ]] || { echo "no $OUT to summarise" >&2; exit 1; }
  targets
  exit
fi
mkdir -p "$OUT" || exit 1
: >"$SUMMARY"
: >"$STEPS"
rm -rf "$OUT/bench_run" "$OUT/bench_run.md" # a previous check's run (bench_run wants it empty)
note "infoflow GPU check, $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname); budget ${BUDGET}s; quick=$QUICK"
note "tree: $(git rev-parse --short HEAD 2>/dev/null || echo 'no git')$(git diff --quiet 2>/dev/null || echo ' (with local changes)'); load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
export -f install install_wheel devices importable
export PY WHEELS
step install 60 bash -c install
step devices 45 bash -c devices

writers=()
importable tensorboardX || writers=(--override='writers=()')
tests=()
for file in $TESTS; do # those of GPU_CHECK_TESTS that exist
  if [[ -e $file ]]; then tests+=("$file"); else echo "no test file $file: left out" >&2; fi
done
if [[ $QUICK == 1 ]]; then
  # Compile fast, and run two steps at a time: the numbers mean nothing here,
  # the commands and the summary do.
  export XLA_FLAGS="${XLA_FLAGS:+$XLA_FLAGS }--xla_backend_optimization_level=0 --xla_cpu_use_fusion_emitters=false"
  {
    step tests 60 "$PY" -m pytest -q -p no:cacheprovider --noconftest \
      tests/estimators/test_matmul_precision.py -k test_dense_kernel_sums_use_highest_precision
    step bench_entropy 90 "$PY" -m launch.bench_entropy \
      --cases=szt_r100_d5,first_call,matmul_precision --szt_groups=16 --repeats=1 \
      --nofresh_processes
  } &
  {
    step bench_train 60 "$PY" -m launch.bench_train --config=tiny --num_epochs=2 --seeds=1,2
    step szt_run 90 "$PY" -m launch.bench_run --configs=tiny --seeds=1 --num_points=2 \
      --override='writers=()' --override=num_epochs=2 --override=analysis.binning=False \
      --override=analysis.clustering=False "--override=analysis.estimated_layers=('T2',)" \
      --override=analysis.representation_max_width=0 \
      --workdir="$OUT/bench_run" --output="$OUT/bench_run.md"
  } &
  wait
  note "$(printf '%-13s %s' estimators 'not run in quick mode (tests/launch/test_bench_estimators.py)')"
else
  step tests 100 "$PY" -m pytest -q -m 'not slow' -x "${tests[@]}"
  step bench_entropy 150 "$PY" -m launch.bench_entropy \
    --cases=szt_r100_d5,first_call,matmul_precision --repeats=2
  step bench_train 120 "$PY" -m launch.bench_train --seeds=1,8
  step estimators 60 "$PY" -m launch.bench_information
  step szt_run 1260 "$PY" -m launch.bench_run --configs=szt --seeds=8 "${writers[@]}" \
    --workdir="$OUT/bench_run" --output="$OUT/bench_run.md"
fi
# Keep the run's records and logs (progress lines with ETAs, if it timed out:
# bench_run/*/bench_stderr.log), not its bulk.
rm -rf "$OUT"/bench_run/*/{checkpoints,representations,tensorboard}

summarise
echo "summary: $SUMMARY" >&2
# Failed: a step that did not exit 0 (failed, timed out or skipped).
awk -F'\t' '$2 != "0" { bad = 1 } END { exit bad }' "$STEPS"
