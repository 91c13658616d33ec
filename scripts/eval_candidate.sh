#!/bin/bash
# A candidate tart-2 module (a training run's folder) on the grid's cells whose embeddings this
# machine has cached, against the shipped module and the baselines on the same contexts
# (scripts/compare_candidate.py): the binary text and image pairs with MiniLM and MobileNetV2, the
# five small tables, and the multi-class tables and media pairs of docs/results/multiclass_runs.jsonl.
#
#   bash scripts/eval_candidate.sh runs/tart2-broad broad "tart-2 fine-tuned on the broader prior"
set -euo pipefail
RUN=${1:?usage: eval_candidate.sh RUN_DIR NAME TITLE}
NAME=${2:?usage: eval_candidate.sh RUN_DIR NAME TITLE}
TITLE=${3:?usage: eval_candidate.sh RUN_DIR NAME TITLE}
PY=${PY:-.venv/bin/python}
OUT=docs/candidates/$NAME
E="$PY -m tart.cli eval --methods tart2 --reasoner2 $RUN --no-progress"
$E --datasets amazon_food tweets --embedders minilm --ks 16 32 64 128 256 --seeds 0 1 2 --out $OUT/text
$E --datasets fashion_mnist:pullover-coat fashion_mnist:tshirt-shirt --embedders mobilenet-v2 \
    --ks 16 32 64 128 256 --seeds 0 1 2 --out $OUT/images
$E --datasets sonar ionosphere pima breast_cancer satellite --embedders features --ks 16 32 64 --seeds 0 1 2 \
    --out $OUT/tables
M="--ks 4 8 16 32 --seeds 0 1 --n-test 200 --pool 1000"
$E $M --datasets vehicle vowel glass soybean letter --embedders features --out $OUT/multiclass
$E $M --datasets fashion_mnist --embedders mobilenet-v2 --out $OUT/multiclass_media
$E $M --datasets tweets3 --embedders minilm --out $OUT/multiclass_media
C="$PY scripts/compare_candidate.py"
$C --candidate $OUT/text $OUT/images --reference docs/tart2/text docs/tart2/images \
    --title "$TITLE: binary embedding pairs" --out $OUT/binary.md
$C --candidate $OUT/tables --reference docs/tart2/tables --title "$TITLE: small tables" --out $OUT/tables.md
$C --candidate $OUT/multiclass $OUT/multiclass_media --reference docs/results/multiclass_runs.jsonl \
    --title "$TITLE: multi-class grid" --out $OUT/multiclass.md
