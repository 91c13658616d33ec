#!/usr/bin/env bash
# Train a reasoning module on one GPU, export it as bf16 shards and bundle the results into $OUT
# (files of at most 15 MB). Run from the repo root on the device machine:
#   TIME_LIMIT=470 bash scripts/gpu_train.sh                                           # tart
#   RECIPE=tart2-gpu SMOKE_RECIPE=tart2-tiny TIME_LIMIT=540 bash scripts/gpu_train.sh  # tart-2
# CPU rehearsal with tiny sizes: TRAIN_ARGS="--preset tiny --steps 40 ..." SMOKE_DEVICE=cpu ...
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
PY=${PY:-python3}
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
TIME_LIMIT=${TIME_LIMIT:-470}
SMOKE_DEVICE=${SMOKE_DEVICE:-cuda}
TRAIN_ARGS=${TRAIN_ARGS:-}
EXPORT_ARGS=${EXPORT_ARGS:-}
RECIPE=${RECIPE:-tart}
SMOKE_RECIPE=${SMOKE_RECIPE:-quick}
RUN=${RUN:-runs/$RECIPE}
HW=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)
HW=${HW:-CPU}
$PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
echo "hardware: $HW"
# 1. smoke: a few steps of the tiny preset on the device, so a broken path fails in seconds
if [ "${SMOKE:-1}" = 1 ]; then
$PY -m tart.cli train --recipe "$SMOKE_RECIPE" --steps 30 --log-every 10 --out /tmp/smoke --overwrite \
  --device "$SMOKE_DEVICE" --no-progress > "$OUT/smoke.log" 2>&1 || { cat "$OUT/smoke.log"; exit 1; }
echo "smoke ok: $(tail -1 /tmp/smoke/metrics.jsonl)"
fi
# 2. the run
rm -rf "$RUN"
$PY -m tart.cli train --recipe "$RECIPE" --out "$RUN" --time-limit-s "$TIME_LIMIT" --no-progress \
  $TRAIN_ARGS 2>&1 | tee "$OUT/train.log"
$PY - "$RUN/metrics.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
for r in rows:
    if r["step"] % 1000 == 0 or r is rows[-1] or r["step"] % 1000 in (50, 100, 200):
        print({k: round(v, 4) if isinstance(v, float) else v for k, v in r.items()})
PY
# 3. export (bf16 shards <= 15 MB, synthetic evaluation, model card); EXPORT=0 leaves it to later
mkdir -p runs/ship
if [ "${EXPORT:-1}" = 1 ]; then
$PY -m tart.cli export-model --run "$RUN" --out runs/ship --dtype bfloat16 --max-shard-mb 15 \
  --hardware "one $HW, bf16 autocast, torch $($PY -c 'import torch; print(torch.__version__)')" \
  $EXPORT_ARGS 2>&1 | tail -3
sed -n '/## Synthetic evaluation/,$p' runs/ship/MODEL_CARD.md
fi
# 4. bundle: the shipped folder, the run's record and the fp32 weights, split into 15 MB pieces
tar cf - runs/ship "$RUN"/metrics.jsonl "$RUN"/train_config.json "$RUN"/train_config_history.jsonl \
  "$RUN"/config.json "$RUN"/model*.safetensors "$RUN"/model*.json 2>/dev/null \
  | split -b 15M - "$OUT/bundle.tar."
ls -la "$OUT"
