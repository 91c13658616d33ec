#!/usr/bin/env bash
# Fit + predict latency of the default TartClassifier() at a base commit against the current tree,
# back-to-back on this machine, each against LogisticRegressionCV in its own run (tart bench-fit).
#
#   bash scripts/bench_fit_compare.sh [BASE_COMMIT] [bench-fit flags...]
#   bash scripts/bench_fit_compare.sh                      # base 817b8f8 (the start of issue 26)
#   bash scripts/bench_fit_compare.sh 817b8f8 --threads 1  # steadier when other processes share the cores
#
# The base is a temporary git worktree (removed at the end; the working tree is not touched) with the
# current src/tart/bench/fit.py copied in, so both sides run the same benchmark code through the
# public API only. Same Python environment for both (PYTHON, default .venv/bin/python).
# Writes docs/bench_fit.json (both runs) and the table into docs/benchmarks.md (between the
# "bench-fit compare" markers, replacing an earlier table); set NO_WRITE=1 to only print it.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BASE="${1:-817b8f8}"
[ $# -gt 0 ] && shift
PY="${PYTHON:-$ROOT/.venv/bin/python}"
WORK="$(mktemp -d /tmp/tart-bench-fit-XXXXXX)"
WT="$WORK/base"

cleanup() {
  git -C "$ROOT" worktree remove --force "$WT" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

git -C "$ROOT" worktree add --detach "$WT" "$BASE" >/dev/null
cp "$ROOT/src/tart/bench/fit.py" "$WT/src/tart/bench/fit.py"

echo "[bench-fit] base $BASE ($WT)" >&2
PYTHONPATH="$WT/src" "$PY" -m tart.bench.fit --json "$@" > "$WORK/base.json"
echo "[bench-fit] current tree ($ROOT)" >&2
PYTHONPATH="$ROOT/src" "$PY" -m tart.bench.fit --json "$@" > "$WORK/current.json"

COMMAND="bash scripts/bench_fit_compare.sh $BASE${*:+ $*}"
# the table is made by the same fit.py, imported from the worktree (the current tree is already measured)
if [ "${NO_WRITE:-0}" = 1 ]; then
  PYTHONPATH="$WT/src" "$PY" -m tart.bench.fit --compare "$WORK/base.json" "$WORK/current.json" \
    --command "$COMMAND"
else
  PYTHONPATH="$WT/src" "$PY" -m tart.bench.fit --compare "$WORK/base.json" "$WORK/current.json" \
    --command "$COMMAND" --out-json "$ROOT/docs/bench_fit.json" --md "$ROOT/docs/benchmarks.md"
  echo "[bench-fit] wrote docs/bench_fit.json and the table in docs/benchmarks.md" >&2
fi
