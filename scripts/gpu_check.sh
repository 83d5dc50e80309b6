#!/usr/bin/env bash
# Checks infoflow on a GPU host, offline, inside a time budget (default 9 min).
#
# Run from anywhere (it works in the repository root):
#     bash scripts/gpu_check.sh
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
#   install      the wheels of missing modules; `pip install -e .` if infoflow
#                is not importable (offline: --no-index --no-build-isolation)
#   devices      jax.devices() and the backend; nvidia-smi
#   tests        the fast tests of the estimators on the GPU (-m 'not slow' -x)
#   estimators   launch.bench_information, launch.bench_entropy (P1 case)
#   bench_train  launch.bench_train --seeds=1,8
#   szt_run      launch.bench_run --configs=szt --seeds=1 (a full run, in
#                $OUT/bench_run: records and logs kept, checkpoints deleted)
# Every log goes to $OUT (default gpu_logs/): STEP.log for each step, and
# summary.txt (status and seconds of each step, then the tables).
#
# Environment: OUT, INFOFLOW_WHEELS, PYTHON (default python3),
# GPU_CHECK_BUDGET (seconds, default 540), GPU_CHECK_TESTS (test files),
# GPU_CHECK_QUICK=1 (every step shrunk to seconds: checks the script itself,
# on a CPU too). Exit status: 0 when every step ran and passed, else 1.

set -uo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.." || exit 1
OUT=${OUT:-gpu_logs}
WHEELS=${INFOFLOW_WHEELS:-wheels}
PY=${PYTHON:-python3}
BUDGET=${GPU_CHECK_BUDGET:-540}
QUICK=${GPU_CHECK_QUICK:-0}
TESTS=${GPU_CHECK_TESTS:-tests/estimators/test_matmul_precision.py tests/estimators/test_entropy.py tests/estimators/test_posterior.py tests/estimators/test_pruned.py tests/measures/test_clustering.py}
mkdir -p "$OUT" || exit 1
SUMMARY=$OUT/summary.txt
START=$SECONDS
FAILED=0
# The repository's own code wins over any installed copy.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

: >"$SUMMARY"
note() { echo "$*" | tee -a "$SUMMARY"; }

# step NAME CAP_SECONDS COMMAND...: runs COMMAND under timeout into $OUT/NAME.log.
step() {
  local name=$1 cap=$2 left limit t0 rc status
  shift 2
  left=$((BUDGET - (SECONDS - START)))
  if ((left < 15)); then
    note "$(printf '%-12s skipped (budget spent: %ds left)' "$name" "$left")"
    FAILED=1
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
  ((rc == 0)) || FAILED=1
  note "$(printf '%-12s %-26s %4ds  %s' "$name" "$status" $((SECONDS - t0)) "$OUT/$name.log")"
}

importable() { (cd / && "$PY" -c "import $1" >/dev/null 2>&1); }

# install_wheel MODULE PREFIX: installs $WHEELS/PREFIX*.whl unless MODULE imports.
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

note "infoflow GPU check, $(date -u '+%Y-%m-%d %H:%M UTC') on $(hostname); budget ${BUDGET}s; quick=$QUICK"
note "tree: $(git rev-parse --short HEAD 2>/dev/null || echo 'no git')$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
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
  step tests 120 "$PY" -m pytest -q -m 'not slow' -x tests/measures/test_clustering.py -k 'duplicates or compiles'
  step estimators 120 "$PY" -m launch.bench_information --kinds=clustered --num_inputs=64 --replicas=4 --equal_draws=256
  step bench_train 90 "$PY" -m launch.bench_train --config=tiny --num_epochs=20 --seeds=1,2
  step szt_run 150 "$PY" -m launch.bench_run --configs=tiny --seeds=1 --num_points=2 \
    --override='writers=()' --workdir="$OUT/bench_run" --output="$OUT/bench_run.md"
else
  step tests 100 "$PY" -m pytest -q -m 'not slow' -x "${tests[@]}"
  step estimators 50 "$PY" -m launch.bench_information
  step bench_entropy 35 "$PY" -m launch.bench_entropy --cases=szt_r100_d5 --repeats=2
  step bench_train 70 "$PY" -m launch.bench_train --seeds=1,8
  step szt_run 600 "$PY" -m launch.bench_run --configs=szt --seeds=1 "${writers[@]}" \
    --workdir="$OUT/bench_run" --output="$OUT/bench_run.md"
fi
# Keep the run's records and logs (progress lines with ETAs, if it timed out:
# bench_run/*/bench_stderr.log), not its bulk.
rm -rf "$OUT"/bench_run/*/{checkpoints,representations,tensorboard}

{
  echo
  echo "total: $((SECONDS - START))s of ${BUDGET}s"
  for name in devices tests estimators bench_entropy bench_train szt_run; do
    [[ -s $OUT/$name.log ]] || continue
    echo
    echo "---- $name (tail of $OUT/$name.log)"
    grep -v -i -E 'warning|^[IWE][0-9]{4} ' "$OUT/$name.log" | tail -n 14
  done
} >>"$SUMMARY"
echo "summary: $SUMMARY" >&2
exit "$FAILED"
