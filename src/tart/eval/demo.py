"""`tart demo`: the evaluation grid with the demo's data and methods, on the shipped defaults.

The shipped reasoning modules + SmolLM2-135M (`stream` embeddings) + Amazon fine-food reviews, all
offline: `tart.eval.runner.run_grid` on one (data set, embedder) pair with the methods tart2 (the
default, `TartClassifier()`), tart (the faithful module), the probes a user would fit otherwise
(logistic regression on the full embeddings, shrinkage LDA) and on the faithful module's 16
projected dims, and in-context learning with the same LM (icl, icl-calibrated; a k whose prompt does
not fit the LM's window is skipped). Writes runs.jsonl, results.json, results.md and
accuracy_vs_k.png to the output folder (and `report` where asked) and prints the table.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Sequence

from tart.eval.report import table, write_report
from tart.eval.runner import run_grid

METHODS = ("tart2", "tart", "logreg-full", "lda", "logreg-projected", "icl", "icl-calibrated")
LABELS = {"tart2": "tart-2 (default)", "tart": "tart (faithful)", "logreg-projected": "logreg (projected)",
          "logreg-full": "logreg (full)", "lda": "shrinkage LDA", "icl-calibrated": "icl (calibrated)"}


def run_demo(out_dir: str | Path = "results/demo", ks: Sequence[int] = (16, 32, 64, 128),
             seeds: Sequence[int] = (0, 1), n_test: int = 200, pool: int = 800,
             dataset: str = "amazon_food", model: str = "smollm2", progress: bool = True,
             report: str | Path | None = None, command: str | None = None) -> list[dict]:
    """Run the comparison afresh; returns rows {method, k, seed, acc} (also written to `out_dir`)."""
    say = print if progress else (lambda *a, **k: None)
    out = Path(out_dir)
    t0 = time.perf_counter()
    say(f"[demo] {dataset}: pool of {pool} training items, up to {n_test} balanced test items; "
        f"embedding with {model} (cached after the first run)")
    done: dict[tuple[int, int], list[dict]] = {}

    def on_row(row: dict) -> None:
        group = done.setdefault((row["seed"], row["k"]), [])
        group.append(row)
        if len(group) == len(METHODS):
            say(f"[demo] seed {row['seed']}, k={row['k']}: " + ", ".join(
                f"{LABELS.get(r['method'], r['method'])} "
                + (f"{r['acc']:.3f}" if r["status"] == "ok" else r["status"]) for r in group))

    runs = run_grid(out, [dataset], [model], ks, seeds, METHODS, n_test=n_test, pool=pool,
                    fresh=True, on_row=on_row, progress=False, reports=False)
    elapsed = time.perf_counter() - t0
    skipped = [r["k"] for r in runs if r["method"] == "icl" and r["status"] != "ok"]
    meta = {"dataset": dataset, "model": model, "pool": pool, "n_test": runs[0]["n_test"],
            "ks": list(ks), "seeds": list(seeds), "icl_stopped_at_k": min(skipped, default=None),
            "seconds": elapsed}
    rows = [{"method": LABELS.get(r["method"], r["method"]), "k": r["k"], "seed": r["seed"],
             "acc": r["acc"]} for r in runs]
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    for path, png in ((out / "results.md", lambda d, e: "accuracy_vs_k.png"), (report, None)):
        if path is not None:
            write_report(runs, path, meta=meta, command=command, title="tart demo", labels=LABELS, png=png)
    say(f"\n{dataset}, {model}, {meta['n_test']} balanced test reviews (chance 0.5), "
        f"mean (std) accuracy over {len(seeds)} seeds, {elapsed:.0f} s:\n")
    say(table(runs, LABELS))
    say(f"\n[demo] wrote {out}/results.json, results.md, accuracy_vs_k.png"
        + (f" and {report}" if report else ""))
    return rows
