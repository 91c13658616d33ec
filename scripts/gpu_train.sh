#!/usr/bin/env bash
# Train a reasoning module in one device window, export it as bf16 shards, evaluate it against the
# shipped module and bundle everything into $OUT (files of at most 15 MB). From the repo root on
# the device machine:
#   RECIPE=tart2-gpu SMOKE_RECIPE=tart2-tiny TIME_LIMIT=420 bash scripts/gpu_train.sh   # tart-2
#   TIME_LIMIT=470 bash scripts/gpu_train.sh                                           # tart
# tart2-gpu schedules its learning rate over TIME_LIMIT seconds of wall-clock time (warm-up its
# first 5%), whatever the steps/s; the run stops with a checkpoint at the limit.
# CPU rehearsal (tests/test_gpu_script.py): RECIPE=tart2-tiny SMOKE=0 BENCH=0 TIME_LIMIT=4
#   TRAIN_ARGS="--clock time --device cpu" EVAL_TASKS=2 WORK=/tmp/w OUT=/tmp/o bash scripts/gpu_train.sh
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
PY=${PY:-python3}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
WORK=${WORK:-runs}
TIME_LIMIT=${TIME_LIMIT:-470}
SMOKE_DEVICE=${SMOKE_DEVICE:-cuda}
TRAIN_ARGS=${TRAIN_ARGS:-}
EXPORT_ARGS=${EXPORT_ARGS:-}
EVAL_TASKS=${EVAL_TASKS:-16}  # tasks per row of the synthetic evaluation (the shipped card's: 16)
RECIPE=${RECIPE:-tart}
SMOKE_RECIPE=${SMOKE_RECIPE:-quick}
RUN=${RUN:-$WORK/$RECIPE}
SHIP=$WORK/ship
FAMILY=$($PY -c "from tart.train import recipe; print(recipe('$RECIPE').family)") || exit 1
HW=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
HW=${HW:-CPU}
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
echo "hardware: $HW; recipe $RECIPE ($FAMILY), time limit $TIME_LIMIT s"
# 1. smoke: a few steps of the tiny preset on the device, so a broken path fails in seconds
if [ "${SMOKE:-1}" = 1 ]; then
$PY -m tart.cli train --recipe "$SMOKE_RECIPE" --steps 30 --log-every 10 --out /tmp/smoke --overwrite \
  --device "$SMOKE_DEVICE" --no-progress > "$OUT/smoke.log" 2>&1 || { cat "$OUT/smoke.log"; exit 1; }
echo "smoke ok: $(tail -1 /tmp/smoke/metrics.jsonl)"
fi
# 2. where a step's time goes (tart-2): data path vs module, now and at the training-path issue's start
if [ "${BENCH:-1}" = 1 ] && [ "$FAMILY" = tart2 ]; then
$PY -m tart.cli bench-train --family tart2 --recipe "$RECIPE" --json > "$OUT/bench_train_path.json" \
  && $PY -c "import json,sys; from tart.bench.train_path import format_train_path as f; print(f(json.load(open(sys.argv[1]))))" \
     "$OUT/bench_train_path.json"
fi
# 3. the run
rm -rf "$RUN"
$PY -m tart.cli train --recipe "$RECIPE" --out "$RUN" --time-limit-s "$TIME_LIMIT" --no-progress \
  $TRAIN_ARGS 2>&1 | tee "$OUT/train.log"
[ -f "$RUN/metrics.jsonl" ] || { echo "training wrote no metrics"; exit 1; }
$PY - "$RUN/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    if r["step"] % 1000 == 0 or r is rows[-1] or r["step"] % 1000 in (50, 100, 200):
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()})
PY
# 4. export (bf16 shards <= 15 MB, synthetic evaluation, model card); EXPORT=0 leaves it to later
if [ "${EXPORT:-1}" = 1 ]; then
rm -rf "$SHIP"
$PY -m tart.cli export-model --run "$RUN" --out "$SHIP" --dtype bfloat16 --max-shard-mb 15 \
  --n-tasks "$EVAL_TASKS" --hardware "one $HW, bf16 autocast, torch $($PY -c 'import torch; print(torch.__version__)')" \
  $EXPORT_ARGS 2>&1 | tail -3
sed -n '/## Synthetic evaluation/,$p' "$SHIP/MODEL_CARD.md" | head -30
# 5. against the shipped module, on the same evaluation
$PY scripts/compare_eval.py "$SHIP/eval_synthetic.json" "$FAMILY" | tee "$OUT/compare.md"
fi
# 6. bundle: the exported folder, the run's record and the fp32 weights, split into 15 MB pieces
tar cf - "$SHIP" "$RUN"/metrics.jsonl "$RUN"/train_config.json "$RUN"/train_config_history.jsonl \
  "$RUN"/config.json "$RUN"/model*.safetensors "$RUN"/model*.json 2>/dev/null \
  | split -b 15M - "$OUT/bundle.tar."
ls -la "$OUT"
