"""Calibration of TartClassifier's probabilities before and after the context temperature:
docs/calibration.md.

    python scripts/calibration_report.py

Reads the `tart eval` run folders of the binary pairs (docs/tart2/text, audio, images), the small
tables (docs/tart2/tables) and the multi-class grid (docs/results/multiclass_runs.jsonl, see
scripts/multiclass_grid.sh), and writes, per suite, the mean accuracy, ECE (15 bins, top label)
and log-loss over the (data set, embedder, k) cells every method has (seeds averaged first) of
each module at temperature 1 (`tart-t1`, `tart2-t1`) and at the default temperature="auto" (`tart`,
`tart2`: a temperature chosen on the context), beside the probes that give probabilities.
"""

import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tart.eval.report import read_runs  # noqa: E402

METHODS = ("tart-t1", "tart", "tart2-t1", "tart2", "logreg-full", "lda", "knn")
SUITES = {
    "Binary pairs (text, speech, images; k = 16-256 in all)":
        ["docs/tart2/text", "docs/tart2/audio", "docs/tart2/images"],
    "Small numeric tables (sonar, ionosphere, pima, breast_cancer, satellite; k = 16-64 in all)": ["docs/tart2/tables"],
    "Multi-class grid (11 data-set/embedder pairs; k = 4-32 per class)": ["docs/results/multiclass_runs.jsonl"],
}


def summary(folders: list[str]) -> tuple[dict, int]:
    """method -> (accuracy, ECE, log-loss) over the cells all methods have; and the cell count."""
    rows = [r for f in folders for r in read_runs(ROOT / f if f.endswith(".jsonl") else ROOT / f / "runs.jsonl")
            if r["status"] == "ok" and r.get("ece") is not None]
    per = defaultdict(lambda: defaultdict(list))
    for r in rows:
        per[r["method"]][(r["dataset"], r["embedder"], r["k"])].append((r["acc"], r["ece"], r["log_loss"]))
    cells = set.intersection(*(set(per[m]) for m in METHODS))
    return {m: np.mean([np.mean(per[m][c], 0) for c in cells], 0) for m in METHODS}, len(cells)


def main() -> None:
    text = ["# Calibration: the context temperature", "",
            "Written by `python scripts/calibration_report.py` from the `tart eval` runs named in each "
            "section. `-t1`: the module's probabilities as they come (temperature 1); `tart` and `tart2`: "
            'the default `temperature="auto"`, a temperature chosen by cross-validated log-loss on the '
            "context alone (`tart.calibration`). A temperature keeps the argmax, so accuracy is the "
            "same, except that `tart2` and `tart2-t1` both mix in tart-2's linear member (the default "
            '`stack="auto"`), whose weight is fitted on the module\'s probabilities at that temperature. '
            "ECE: 15 equal-width bins, top label; lower is better for ECE and log-loss.", ""]
    for title, folders in SUITES.items():
        means, n = summary(folders)
        text += [f"## {title}", "", f"Runs: {', '.join(f'`{f}`' for f in folders)}; {n} cells.", "",
                 "| method | accuracy | ECE | log-loss |", "|---|---|---|---|"]
        text += [f"| {m} | {a:.3f} | {e:.3f} | {ll:.3f} |" for m, (a, e, ll) in means.items()]
        text.append("")
    out = ROOT / "docs" / "calibration.md"
    out.write_text("\n".join(text))
    print(out.read_text())


if __name__ == "__main__":
    main()
