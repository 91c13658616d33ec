"""A candidate tart-2 module against the shipped one and the baselines, on the same cells.

`tart eval ... --methods tart2 --reasoner2 CANDIDATE --out FOLDER` with the grid's data sets,
embedders, ks, seeds, pool and test size writes the candidate's tart2 cells; this script pairs
them with the reference run's cells (the shipped tart2 and the baselines, same contexts) and
writes, per (data set, embedder), per k and overall, mean accuracy and ECE of the candidate, the shipped
module, logistic regression (`logreg-full`) and the best of the four baselines per cell.

    python scripts/compare_candidate.py --candidate FOLDER [FOLDER ...] --reference docs/tart2/text ... \
        --title "..." --out docs/candidates/NAME.md
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np

from tart.eval.report import read_runs

BASELINES = ("logreg-full", "lda", "ncm", "knn")


def cells(folders: list[str], methods: tuple[str, ...]) -> dict:
    """(dataset, embedder, k, seed) -> {method: row} for the ok rows of `methods`."""
    out: dict = defaultdict(dict)
    for folder in folders:
        path = Path(folder) / "runs.jsonl" if Path(folder).is_dir() else Path(folder)
        for r in read_runs(path):
            if r["status"] == "ok" and r["method"] in methods:
                out[(r["dataset"], r["embedder"], r["k"], r["seed"])][r["method"]] = r
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--candidate", nargs="+", required=True)
    ap.add_argument("--reference", nargs="+", required=True)
    ap.add_argument("--title", default="A candidate tart-2 module")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    cand = cells(args.candidate, ("tart2",))
    ref = cells(args.reference, ("tart2", *BASELINES))
    rows = defaultdict(lambda: defaultdict(list))
    for key, c in cand.items():
        r = ref.get(key, {})
        if "tart2" not in r or not all(b in r for b in BASELINES):
            continue
        best = max(BASELINES, key=lambda b: r[b]["acc"])
        for name, row in (("candidate", c["tart2"]), ("shipped", r["tart2"]), ("logreg-full", r["logreg-full"]),
                          ("best baseline", r[best])):
            for pair in (f"{key[0]} / {key[1]}", f"k = {key[2]}", "**all**"):
                rows[pair][name + " acc"].append(row["acc"])
                rows[pair][name + " ece"].append(row.get("ece") if row.get("ece") is not None else np.nan)
    if not rows:
        sys.exit("no cell of the candidate has the shipped module and every baseline in the reference")
    names = ("candidate", "shipped", "logreg-full", "best baseline")
    lines = ["| pair or k | cells | " + " | ".join(f"{n} acc / ECE" for n in names)
             + " | candidate - shipped (points) | candidate - best baseline (points) |",
             "|---|---|" + "---|" * (len(names) + 2)]
    def order(p: str):
        return (p == "**all**", p.startswith("k = "), int(p[4:]) if p.startswith("k = ") else 0, p)

    for pair in sorted(rows, key=order):
        m = {k: float(np.nanmean(v)) for k, v in rows[pair].items()}
        lines.append(f"| {pair} | {len(rows[pair]['candidate acc'])} | "
                     + " | ".join(f"{m[n + ' acc']:.4f} / {m[n + ' ece']:.3f}" for n in names)
                     + f" | {100 * (m['candidate acc'] - m['shipped acc']):+.2f}"
                     f" | {100 * (m['candidate acc'] - m['best baseline acc']):+.2f} |")
    cmd = "python scripts/compare_candidate.py " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    text = (f"# {args.title}\n\nWritten by `{cmd}`: every cell (data set, embedder, k, seed) the candidate ran, "
            "paired with the reference runs' shipped tart2 and baselines on the same context; the best "
            "baseline is chosen per cell (so its mean is an upper bound on any one baseline's).\n\n"
            + "\n".join(lines) + "\n")
    print(text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)


if __name__ == "__main__":
    main()
