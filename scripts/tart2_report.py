r"""tart-2 on real data against the baselines a practitioner tries first: docs/tart2_real.md.

Reads the `tart eval` run folders named on the command line (runs.jsonl) and writes, per k, the
mean accuracy over (data set, embedder) pairs of tart-2, the faithful tart and each baseline, the
gap of tart-2 to the best baseline, and the same per pair. The runs it reads (each resumable;
defaults: 400 class-balanced test items, contexts from a pool of 800):

    M="--methods tart2 tart2-t1 tart tart-t1 logreg-full lda ncm knn --seeds 0 1 2"
    tart eval --datasets amazon_food tweets --embedders minilm smollm2 --ks 16 32 64 128 256 $M \
        --out docs/tart2/text
    tart eval --datasets spoken_keywords:pin-bin --embedders whisper-tiny-en --ks 16 32 64 128 256 $M \
        --out docs/tart2/audio
    tart eval --datasets fashion_mnist:pullover-coat fashion_mnist:tshirt-shirt --embedders mobilenet-v2 \
        --ks 16 32 64 128 256 $M --out docs/tart2/images
    tart eval --datasets sonar ionosphere pima breast_cancer satellite --embedders features --ks 16 32 64 $M \
        --out docs/tart2/tables

    python scripts/tart2_report.py docs/tart2/text docs/tart2/audio docs/tart2/images -- docs/tart2/tables
(folders after `--` form the separate "small tables" table). scripts/ship_tart2.sh reruns the
tart2 cells of these folders (`--redo`) after a new module is shipped; scripts/calibration_report.py
reads the same folders for the calibration tables (the `-t1` methods: temperature 1).
"""

import shlex
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from tart.eval.report import curve, pairs, read_runs  # noqa: E402

BASELINES = ("logreg-full", "lda", "ncm", "knn")
SHOWN = ("tart2", "tart", *BASELINES)


def accuracies(folders: list[str]) -> dict:
    """(dataset/embedder, method, k) -> mean accuracy over seeds (ok cells only)."""
    rows = [r for folder in folders for r in read_runs(Path(folder) / "runs.jsonl")]
    return {(f"{dataset} / {embedder}", m, k): acc for (dataset, embedder), these in pairs(rows).items()
            for m in SHOWN for k, acc in curve(these, m).items()}


def section(title: str, folders: list[str]) -> str:
    acc = accuracies(folders)
    pairs = sorted({p for p, _, _ in acc})
    ks = sorted({k for _, _, k in acc})
    lines = [f"## {title}", "", f"Runs: {', '.join(f'`{f}`' for f in folders)}. Mean accuracy over seeds.", ""]
    # summary: mean over the pairs that have every method at that k
    lines += ["| k | pairs | " + " | ".join(SHOWN) + " | best baseline | tart2 - best (points) | tart - best |",
              "|" + "---|" * (len(SHOWN) + 5)]
    for k in ks:
        full = [p for p in pairs if all((p, m, k) in acc for m in SHOWN)]
        if not full:
            continue
        mean = {m: np.mean([acc[p, m, k] for p in full]) for m in SHOWN}
        best = max(BASELINES, key=mean.get)
        lines.append(f"| {k} | {len(full)} | " + " | ".join(f"{mean[m]:.3f}" for m in SHOWN)
                     + f" | {best} | {100 * (mean['tart2'] - mean[best]):+.1f} | {100 * (mean['tart'] - mean[best]):+.1f} |")
    lines += ["", "Per pair (tart2 - best baseline of that pair, points):", "",
              "| pair | " + " | ".join(f"k={k}" for k in ks) + " |", "|" + "---|" * (len(ks) + 1)]
    for p in pairs:
        cells = []
        for k in ks:
            base = [acc[p, m, k] for m in BASELINES if (p, m, k) in acc]
            cells.append(f"{acc[p, 'tart2', k]:.3f} ({100 * (acc[p, 'tart2', k] - max(base)):+.1f})"
                         if (p, "tart2", k) in acc and base else "-")
        lines.append(f"| {p} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    command = shlex.join(argv)
    out, title = ROOT / "docs" / "tart2_real.md", "tart-2 on real data"
    if argv[:1] == ["--out"]:  # another report (e.g. an ablation): --out PATH [--title TEXT] FOLDERS...
        out, argv = Path(argv[1]), argv[2:]
    if argv[:1] == ["--title"]:
        title, argv = argv[1], argv[2:]
    split = argv.index("--") if "--" in argv else len(argv)
    grid, tables = argv[:split], argv[split + 1:]
    text = [f"# {title}", "",
            "Written by `python scripts/tart2_report.py " + command + "` from the `tart eval` runs",
            "its docstring lists. Baselines: logistic regression on the full standardised features with C",
            "by cross-validation (`logreg-full`), shrinkage LDA on standardised features (`lda`), nearest",
            "class mean by cosine (`ncm`), cosine k-NN with k by cross-validation (`knn`); `tart` is the",
            "faithful module with its defaults. Contexts are class-balanced, k counts examples in all.", ""]
    if grid:
        text += [section("Embeddings (the grid's binary pairs)", grid), ""]
    if tables:
        text += [section("Small numeric tables", tables), ""]
    out.write_text("\n".join(text))
    print(out.read_text())


if __name__ == "__main__":
    main(sys.argv[1:])
