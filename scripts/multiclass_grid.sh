#!/bin/bash
# The multi-class grid behind docs/multiclass.md, as it was run (each line resumable: rerun to
# continue; the parts ran side by side on a shared 2-core CPU, one thread each), then the merge
# and the report. After retraining tart-2 or changing a default, rerun the lines with
# `--redo tart2 tart2-t1` (or the methods changed) appended.
export OMP_NUM_THREADS=1
M="tart tart-t1 tart2 tart2-t1 logreg-full lda ncm knn linear-head"
T="tart eval --ks 4 8 16 32 --seeds 0 1 --n-test 200 --pool 1000 --no-progress --methods $M"
$T --out results/multiclass --datasets vehicle vowel glass soybean letter --embedders features
$T --out results/multiclass_media --datasets digits fashion_mnist --embedders mobilenet-v2
$T setfit --out results/multiclass_media --datasets tweets3 --embedders minilm
$T --out results/multiclass_media --datasets spoken_keywords10 spoken_keywords20 --embedders whisper-tiny-en
$T icl icl-calibrated --out results/multiclass_text --datasets tweets3 --embedders smollm2
python scripts/merge_multiclass.py   # -> results/multiclass_all, docs/results/multiclass_runs.jsonl
tart eval --out results/multiclass_all --report-only --report docs/multiclass.md
