#!/bin/bash
# Rerun the multi-class grid's tart2 cells (`tart eval --methods tart2 tart2-t1`) after the default
# classifier changes, in results/multiclass_all (restored from docs/results/ where results/ is
# gone: the other methods' rows are kept, not rerun), then rewrite the reports that read them:
# docs/multiclass.md, docs/multiclass_summary.md, docs/calibration.md. Resumable: rerun to continue.
#
#   bash scripts/rerun_tart2_multiclass.sh
set -euo pipefail
PY=${PY:-.venv/bin/python}
OUT=results/multiclass_all
mkdir -p $OUT
[ -f $OUT/runs.jsonl ] || cp docs/results/multiclass_runs.jsonl $OUT/runs.jsonl
[ -f $OUT/run.json ] || cp docs/results/multiclass_run.json $OUT/run.json
if [ ! -f $OUT/.tart2_rerun ]; then   # the first pass drops the tart2 rows; a resumed one keeps what it redid
  $PY - <<'PY'
import json
from pathlib import Path
log = Path("results/multiclass_all/runs.jsonl")
log.write_text("".join(line for line in log.read_text().splitlines(keepends=True)
                       if json.loads(line)["method"] not in ("tart2", "tart2-t1")))
PY
  touch $OUT/.tart2_rerun
fi
A="--ks 4 8 16 32 --seeds 0 1 --n-test 200 --pool 1000 --no-progress --methods tart2 tart2-t1 --out $OUT"
for part in "vehicle vowel glass soybean letter --embedders features" "digits fashion_mnist --embedders mobilenet-v2" \
            "tweets3 --embedders minilm" "spoken_keywords10 spoken_keywords20 --embedders whisper-tiny-en" \
            "tweets3 --embedders smollm2"; do
  $PY -m tart.cli eval $A --datasets $part
done
rm $OUT/.tart2_rerun
$PY - <<'PY'
import json
from pathlib import Path
from tart.eval.report import read_runs
rows = read_runs("results/multiclass_all/runs.jsonl")  # the last row per cell: the reruns supersede
Path("docs/results/multiclass_runs.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
Path("docs/results/multiclass_run.json").write_text(Path("results/multiclass_all/run.json").read_text())
PY
$PY -m tart.cli eval --out $OUT --report-only --report docs/multiclass.md
$PY scripts/summary_multiclass.py report
$PY scripts/calibration_report.py
