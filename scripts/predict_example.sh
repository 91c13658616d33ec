#!/bin/bash
# The example in docs/predict.md, as it was run: 64 labelled Amazon fine-food reviews (32 per
# class) and 400 test reviews written to CSVs, `tart fit` and `tart predict` on them, and the
# predictions' accuracy against the true labels. Run from the repository root after the set-up.
#
#   bash scripts/predict_example.sh [WORK_DIR]
set -euo pipefail
WORK=${1:-$(mktemp -d)}
PY=${PY:-.venv/bin/python}
TART=${TART:-.venv/bin/tart}
mkdir -p "$WORK"
$PY - "$WORK" <<'PYEOF'
import sys
import numpy as np
import pandas as pd
from tart.datasets import load_dataset
from tart.eval.contexts import balanced_context

work = sys.argv[1]
ds = load_dataset("amazon_food")
names = ds.label_names
train_y = np.asarray(ds.train_labels)
idx = balanced_context(train_y, 64, 0)
pd.DataFrame({"text": [ds.train_items[i] for i in idx], "label": [names[train_y[i]] for i in idx]}).to_csv(
    f"{work}/labelled.csv", index=False)
test_y = np.asarray(ds.test_labels)
pick = balanced_context(test_y, 400, 0)
pd.DataFrame({"id": np.arange(len(pick)), "text": [ds.test_items[i] for i in pick]}).to_csv(
    f"{work}/unlabelled.csv", index=False)
pd.DataFrame({"id": np.arange(len(pick)), "label": [names[test_y[i]] for i in pick]}).to_csv(
    f"{work}/truth.csv", index=False)
PYEOF
$TART fit --data "$WORK/labelled.csv" --text-column text --label-column label --embedder minilm \
    --out "$WORK/review-model" --overwrite
start=$(date +%s)
$TART predict --model "$WORK/review-model" --input "$WORK/unlabelled.csv" --id-column id \
    --output "$WORK/predictions.parquet" --overwrite --no-progress
echo "tart predict: $(( $(date +%s) - start )) s"
$PY - "$WORK" <<'PYEOF'
import sys
import pandas as pd

work = sys.argv[1]
pred = pd.read_parquet(f"{work}/predictions.parquet")
truth = pd.read_csv(f"{work}/truth.csv")
print("columns:", list(pred.columns))
print(f"accuracy of the {len(pred)} predictions: {(pred['label'].values == truth['label'].values).mean():.3f}")
PYEOF
