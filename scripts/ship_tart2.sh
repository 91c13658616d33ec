#!/bin/bash
# Ship a tart-2 training run as the packaged module and refresh everything measured on it: the
# replaced module kept for saved classifiers (tart/weights/retired/), the weights and card, the
# training record, the golden predictions, the synthetic reports (the default and the module
# alone), the real-data runs (tart2 cells only: scripts/rerun_tart2_cells.sh) and their reports.
#
#   bash scripts/ship_tart2.sh runs/tart2-cpu "2 CPU cores (AMD EPYC), no GPU"
#
# The multi-class grid's tart2 cells are refreshed the same way by scripts/multiclass_grid.sh.
set -euo pipefail
RUN=${1:?usage: ship_tart2.sh RUN_DIR HARDWARE}
HARDWARE=${2:?usage: ship_tart2.sh RUN_DIR HARDWARE}
PY=${PY:-.venv/bin/python}
TART="$PY -m tart.cli"

$PY scripts/retire_module.py tart2 HEAD  # the module shipped now stays loadable by the classifiers saved with it
$TART export-model --run "$RUN" --out src/tart/weights/tart2 --dtype float16 --hardware "$HARDWARE" \
    --n-tasks "${CARD_TASKS:-16}" --notes "${NOTES:-}"   # NOTES: the card's opening paragraph (how the run was made)
mkdir -p docs/training_tart2
cp "$RUN"/metrics.jsonl "$RUN"/train_config.json "$RUN"/train_config_history.jsonl docs/training_tart2/
$PY scripts/update_golden.py tart2
$PY scripts/update_golden.py classifier
$TART eval-synthetic --model tart2 --n-tasks 64 --report docs/tart2_synthetic.md > /dev/null
$TART eval-synthetic --model tart2 --stack none --n-tasks 64 --ks 8 16 32 64 128 256 \
    --report docs/tart2_synthetic_alone.md > /dev/null   # the module alone, on the same tasks

bash scripts/rerun_tart2_cells.sh   # the real-data runs' tart2 cells and their reports
