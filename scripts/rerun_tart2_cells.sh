#!/bin/bash
# Rerun the tart2 cells (`tart eval --redo tart2 tart2-t1`) of the real-data runs behind
# docs/tart2_real.md and docs/calibration.md, then rewrite both reports. Run it after the default
# classifier changes (a new module: scripts/ship_tart2.sh calls it; a new default setting). The
# other methods' cells are kept; embeddings come from the cache (computed on the first run).
#
#   bash scripts/rerun_tart2_cells.sh
set -euo pipefail
PY=${PY:-.venv/bin/python}
TART="$PY -m tart.cli"
M="--methods tart2 tart2-t1 tart tart-t1 logreg-full lda ncm knn --seeds 0 1 2 --redo tart2 tart2-t1 --no-progress"
KS="--ks 16 32 64 128 256"
$TART eval --datasets amazon_food tweets --embedders minilm smollm2 $KS $M --out docs/tart2/text
$TART eval --datasets spoken_keywords:pin-bin --embedders whisper-tiny-en $KS $M --out docs/tart2/audio
$TART eval --datasets fashion_mnist:pullover-coat fashion_mnist:tshirt-shirt --embedders mobilenet-v2 \
    $KS $M --out docs/tart2/images
$TART eval --datasets sonar ionosphere pima breast_cancer satellite --embedders features --ks 16 32 64 $M --out docs/tart2/tables
$PY scripts/tart2_report.py docs/tart2/text docs/tart2/audio docs/tart2/images -- docs/tart2/tables
$PY scripts/calibration_report.py
