"""Test-time ensembles over symmetries: accuracy and log-loss against the number of members.

tart-2's classifier (`TartClassifier(symmetries=S, n_estimators=E)`) on the grid's cached pairs:
binary embedding pairs, the small tables, and multi-class pairs (k per class), class-balanced
contexts from the evaluation's pool (800) scored on its balanced test set (400; tables: their
test split), the same contexts for every setting. S: "classes" (each class through each label
slot: cyclic orders), "+signs" (each member after the first flips the mapped features' signs at
random), "+rotations" (and rotates the map's residual directions). E = 1 is the map as fitted in
one label order. Writes a JSON of every cell and a markdown table.

    python scripts/symmetry_curve.py --out docs/symmetries
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from pathlib import Path

import numpy as np

from tart import TartClassifier
from tart.datasets import load_dataset
from tart.eval.contexts import balanced_context
from tart.eval.metrics import scores
from tart.eval.runner import build_setup

BINARY = (("amazon_food", "minilm"), ("tweets", "minilm"), ("amazon_food", "smollm2"),
          ("fashion_mnist:pullover-coat", "mobilenet-v2"), ("fashion_mnist:tshirt-shirt", "mobilenet-v2"),
          ("sonar", "features"), ("ionosphere", "features"), ("pima", "features"))
MULTI = (("vehicle", "features"), ("fashion_mnist", "mobilenet-v2"), ("tweets3", "minilm"))
SETTINGS = ([("labels", 2), ("classes", 1), ("classes", 2), ("classes", 4)]
            + [("classes+signs", e) for e in (2, 4, 8, 16)]
            + [("classes+signs+rotations", e) for e in (4, 8, 16)] + [("classes+rotations", 8)])
# more classes: the legacy members (identity + 7 random label orders) and whole blocks of L cyclic orders
MULTI_SETTINGS = ([("labels", 8)] + [("classes", e) for e in (1, 2, 4, 8, 10, 20)]
                  + [("classes+signs+rotations", e) for e in (8, 20)])


def run(pairs, ks, seeds, settings, multi: bool) -> list[dict]:
    rows = []
    for dataset, embedder in pairs:
        ds = load_dataset(dataset)
        s = build_setup(dataset, embedder, ds, n_test=400, pool=800)
        L = s.n_classes
        for k in ks:
            for seed in range(seeds):
                try:
                    idx = balanced_context(s.y_pool, k, seed, per_class=multi)
                except ValueError:
                    continue
                for sym, E in settings:
                    t0 = time.perf_counter()
                    clf = TartClassifier(reasoner="tart2", symmetries=sym, n_estimators=E, random_state=seed)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        P = clf.fit(s.X_pool[idx], s.y_pool[idx]).predict_proba(s.X_test)
                    sc = scores(P, s.y_test, L)
                    rows.append({"dataset": dataset, "embedder": embedder, "k": k, "seed": seed, "symmetries": sym,
                                 "members": E, "n_classes": L, "acc": sc["acc"], "log_loss": sc.get("log_loss"),
                                 "ece": sc.get("ece"), "seconds": round(time.perf_counter() - t0, 3)})
                print(dataset, embedder, k, flush=True)
    return rows


def table(rows: list[dict], title: str, settings=SETTINGS) -> list[str]:
    if not rows:
        return []
    ks = sorted({r["k"] for r in rows})
    out = [f"### {title}", "", "| symmetries | members | " + " | ".join(f"acc k={k}" for k in ks)
           + " | mean acc | mean log-loss | mean ECE | seconds per fit + predict |",
           "|---|---|" + "---|" * (len(ks) + 4)]
    for sym, E in settings:
        sel = [r for r in rows if r["symmetries"] == sym and r["members"] == E]
        if not sel:
            continue
        accs = [np.mean([r["acc"] for r in sel if r["k"] == k]) for k in ks]
        out.append(f"| {sym} | {E} | " + " | ".join(f"{a:.4f}" for a in accs)
                   + f" | {np.mean([r['acc'] for r in sel]):.4f} | {np.mean([r['log_loss'] for r in sel]):.4f} | "
                   f"{np.mean([r['ece'] for r in sel]):.4f} | {np.mean([r['seconds'] for r in sel]):.2f} |")
    return out + [""]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[16, 64, 256])
    ap.add_argument("--multi-ks", type=int, nargs="+", default=[4, 16])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=Path("docs/symmetries"))
    ap.add_argument("--only", choices=("binary", "multi"), default=None)
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    if args.only != "multi":
        rows += run(BINARY, args.ks, args.seeds, SETTINGS, multi=False)
    if args.only != "binary":
        rows += run(MULTI, args.multi_ks, args.seeds, MULTI_SETTINGS, multi=True)
    name = args.only or "all"
    (args.out / f"curve_{name}.json").write_text(json.dumps(rows, indent=0) + "\n")
    cmd = (f"python scripts/symmetry_curve.py --ks {' '.join(map(str, args.ks))} --multi-ks "
           f"{' '.join(map(str, args.multi_ks))} --seeds {args.seeds} --out {args.out}"
           + (f" --only {args.only}" if args.only else ""))
    lines = [f"Written by `{cmd}`; mean over pairs and seeds.", ""]
    lines += table([r for r in rows if r["n_classes"] == 2 and r["embedder"] != "features"], "Binary embedding pairs")
    lines += table([r for r in rows if r["n_classes"] == 2 and r["embedder"] == "features"], "Small tables")
    lines += table([r for r in rows if r["n_classes"] > 2], "Multi-class (k per class)", MULTI_SETTINGS)
    (args.out / f"curve_{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
