"""Per-embedder and per-data-set summary of the multi-class grid (for the README and the notes).

    python scripts/summary_multiclass.py report   # docs/multiclass_summary.md (+ .png), all tables
    python scripts/summary_multiclass.py [embedder|text|plot]   # one table (or the plot) only

The README's many-class table is copied from the report's first table by scripts/sync_readme.py."""
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from tart.eval.report import read_runs

rows = [r for r in read_runs("results/multiclass_all/runs.jsonl") if r["status"] == "ok" and 4 <= r["k"] <= 32]
M = ("tart", "tart2", "logreg-full", "lda")


def cellmean(rs, metric):
    by = defaultdict(list)
    for r in rs:
        by[(r["dataset"], r["embedder"], r["k"])].append(r[metric])
    return {c: float(np.mean(v)) for c, v in by.items()}


def table(group_key):
    groups = defaultdict(list)
    for r in rows:
        groups[group_key(r)].append(r)
    out = ["| | " + " | ".join(f"{m} acc / ECE" for m in M) + " |", "|---" * (len(M) + 1) + "|"]
    for g, rs in groups.items():
        per = {m: (cellmean([r for r in rs if r["method"] == m], "acc"), cellmean([r for r in rs if r["method"] == m], "ece")) for m in M}
        cells = set.intersection(*(set(per[m][0]) for m in M))
        vals = [f"{np.mean([per[m][0][c] for c in cells]):.3f} / {np.mean([per[m][1][c] for c in cells]):.3f}" for m in M]
        out.append(f"| {g} | " + " | ".join(vals) + " |")
    return out


def text_table():
    """tweets3 per embedder, every method that ran there (the text-only baselines included)."""
    methods = ("tart", "tart2", "logreg-full", "lda", "ncm", "knn", "linear-head", "setfit", "icl", "icl-calibrated")
    out = ["| method | " + " | ".join(f"tweets3 ({e}) acc / ECE" for e in ("minilm", "smollm2")) + " |", "|---|---|---|"]
    for m in methods:
        vals = []
        for e in ("minilm", "smollm2"):
            rs = [r for r in rows if r["dataset"] == "tweets3" and r["embedder"] == e and r["method"] == m]
            ece = [r["ece"] for r in rs if r.get("ece") is not None]
            vals.append(f"{np.mean([r['acc'] for r in rs]):.3f} / " + (f"{np.mean(ece):.3f}" if ece else "-")
                        + f" ({len(rs)} cells)" if rs else "-")
        if any(v != "-" for v in vals):
            out.append(f"| {m} | " + " | ".join(vals) + " |")
    return out


def plot(path: str = "docs/multiclass_summary.png") -> None:
    """Mean accuracy over the (data set, embedder) pairs against k per class, one line per method
    (at each k, the pairs where every plotted method finished)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    methods = ("tart2", "tart", "logreg-full", "lda", "knn", "ncm")
    acc = {m: cellmean([r for r in rows if r["method"] == m], "acc") for m in methods}
    ks = sorted({c[2] for c in acc["tart2"]})
    fig, ax = plt.subplots(figsize=(6, 4))
    for m in methods:
        ys = []
        for k in ks:
            cells = set.intersection(*({c for c in acc[mm] if c[2] == k} for mm in methods))
            ys.append(np.mean([acc[m][c] for c in cells]))
        ax.plot(ks, ys, marker="o", label=m, linewidth=2.5 if m == "tart2" else 1.2)
    ax.set_xscale("log", base=2)
    ax.set_xticks(ks, [str(k) for k in ks])
    ax.set_xlabel("examples per class (k)")
    ax.set_ylabel("mean accuracy over data sets x embedders")
    ax.set_title("Multi-class grid (scripts/summary_multiclass.py plot)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"wrote {path}")


def report(path: str = "docs/multiclass_summary.md") -> None:
    """Every summary in one Markdown file, naming the command and the rows it read."""
    n = len({(r["dataset"], r["embedder"]) for r in rows})
    text = [
        "# Multi-class grid: summary", "",
        "Written by `python scripts/summary_multiclass.py report` from `results/multiclass_all/runs.jsonl`",
        "(`bash scripts/multiclass_grid.sh`, the tart2 cells rerun by `bash scripts/rerun_tart2_multiclass.sh`",
        f"when the default changes; the rows are also in `docs/results/multiclass_runs.jsonl`): {n} (data set,",
        "embedder) pairs, k = 4..32 per class, 2 seeds; mean accuracy / ECE over the cells every listed",
        "method finished; `tart` is the faithful module, `tart2` the default (its linear member included),",
        "both at the default temperature. Per embedder:", "",
        *table(lambda r: r["embedder"]), *table(lambda r: "all (data set, embedder) pairs")[2:], "",
        "Per data set:", "", *table(lambda r: f"{r['dataset']} ({r['embedder']})"), "",
        "tweets3 (3 classes), every method that ran there, the text-only baselines included:", "",
        *text_table(), "", "![multi-class accuracy vs k per class](multiclass_summary.png)", ""]
    Path(path).write_text("\n".join(text))
    plot(path.removesuffix(".md") + ".png")
    print(f"wrote {path}")


if sys.argv[1:] == ["report"]:
    report()
elif sys.argv[1:] == ["plot"]:
    plot()
elif sys.argv[1:] == ["text"]:
    print("\n".join(text_table()))
elif sys.argv[1:] == ["embedder"]:
    print("\n".join(table(lambda r: r["embedder"]) + table(lambda r: "all (data set, embedder) pairs")[2:]))
else:
    print("\n".join(table(lambda r: f"{r['dataset']} ({r['embedder']})")))
