"""`tart demo`: TART against in-context learning and logistic-regression probes, on the defaults.

The shipped reasoning module + SmolLM2-135M (`stream` embeddings) + Amazon fine-food reviews, all
offline. For each seed the contexts are class-balanced and nested in k (drawn from a fixed pool of
training reviews); every method sees the same contexts and the same class-balanced test reviews:

- tart: `TartClassifier()` on the stream embeddings (projection fitted on the context);
- icl / icl (calibrated): the same LM reading the k labelled reviews in its prompt, scored by the
  label words' next-token log-probabilities, raw and with contextual calibration; it stops at the
  largest k whose prompt fits the LM's window;
- logreg (projected): logistic regression on the projected features TART reads (the original's
  probe); logreg (full): on the full embeddings, C by cross-validation on the context.

Writes results.json, results.md and accuracy_vs_k.png to the output folder and prints the table.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import numpy as np

from tart.eval.fewshot import balanced_context, balanced_test, logreg_full, logreg_projected, summarize


def run_demo(out_dir: str | Path = "results/demo", ks=(16, 32, 64, 128), seeds=(0, 1),
             n_test: int = 200, pool: int = 800, dataset: str = "amazon_food", model: str = "smollm2",
             icl_max_chars: int = 100, progress: bool = True) -> list[dict]:
    """Run the comparison; returns rows {method, k, seed, acc} (also written to `out_dir`)."""
    from tart import TartClassifier
    from tart.eval.icl import ICLClassifier
    from tart.datasets import load_dataset
    from tart.embed import CachedEmbedder, get_embedder

    warnings.filterwarnings("ignore", category=FutureWarning)
    say = print if progress else (lambda *a, **k: None)
    t0 = time.perf_counter()
    ds = load_dataset(dataset)
    pool_idx = np.random.default_rng(0).permutation(len(ds.train_texts))[:pool]
    test_idx = balanced_test(ds.test_labels, n_test)
    train_texts = [ds.train_texts[i] for i in pool_idx]
    test_texts = [ds.test_texts[i] for i in test_idx]
    y_pool, y_test = ds.train_labels[pool_idx], ds.test_labels[test_idx]
    say(f"[demo] {dataset}: pool of {pool} training reviews, {len(test_idx)} balanced test reviews; "
        f"embedding with {model} (cached after the first run)")
    emb = CachedEmbedder(get_embedder(model))
    X_pool, X_test = emb.encode(train_texts), emb.encode(test_texts)
    say(f"[demo] embeddings ready ({time.perf_counter() - t0:.0f} s); in-context learning with the same LM")
    icl = ICLClassifier(model, label_words=ds.label_names, max_chars=icl_max_chars)
    rows, icl_stopped = [], None
    for seed in seeds:
        for k in ks:
            ctx = balanced_context(y_pool, k, seed)
            Xc, yc = X_pool[ctx], y_pool[ctx]
            preds = {
                "tart": TartClassifier().fit(Xc, yc).predict(X_test),
                "logreg (projected)": logreg_projected(Xc, yc, X_test),
                "logreg (full)": logreg_full(Xc, yc, X_test),
            }
            if icl_stopped is None or k < icl_stopped:
                try:
                    icl.fit([train_texts[i] for i in ctx], yc)
                    raw = icl.decision_function(test_texts)  # one pass serves both rows
                    preds["icl"] = (raw > 0).astype(int)
                    preds["icl (calibrated)"] = (raw - icl.content_free_logodds() > 0).astype(int)
                except ValueError as e:  # the prompt no longer fits the window
                    icl_stopped = k
                    say(f"[demo] in-context learning stops at k={k}: {e}")
            for name, pred in preds.items():
                rows.append({"method": name, "k": k, "seed": seed, "acc": float((pred == y_test).mean())})
            say(f"[demo] seed {seed}, k={k}: " + ", ".join(
                f"{n} {float((p == y_test).mean()):.3f}" for n, p in preds.items()))
    elapsed = time.perf_counter() - t0
    write_report(rows, out_dir, {
        "dataset": dataset, "model": model, "pool": pool, "n_test": int(len(test_idx)),
        "ks": list(ks), "seeds": list(seeds), "icl_stopped_at_k": icl_stopped, "seconds": elapsed,
    })
    say(f"\n{dataset}, {model}, {len(test_idx)} balanced test reviews (chance 0.5), "
        f"mean (std) accuracy over {len(seeds)} seeds, {elapsed:.0f} s:\n")
    say(summarize(rows))
    say(f"\n[demo] wrote {out_dir}/results.json, results.md, accuracy_vs_k.png")
    return rows


def write_report(rows: list[dict], out_dir: str | Path, meta: dict) -> None:
    """results.json (rows + settings), results.md (table) and accuracy_vs_k.png."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    (out / "results.md").write_text(summarize(rows) + "\n")
    fig, ax = plt.subplots(figsize=(6, 4))
    for method in dict.fromkeys(r["method"] for r in rows):
        ks = sorted({r["k"] for r in rows if r["method"] == method})
        acc = [np.mean([r["acc"] for r in rows if r["method"] == method and r["k"] == k]) for k in ks]
        sd = [np.std([r["acc"] for r in rows if r["method"] == method and r["k"] == k]) for k in ks]
        ax.errorbar(ks, acc, yerr=sd, marker="o", capsize=3, label=method)
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    ax.set_xlabel("k (labelled examples in the context)")
    ax.set_ylabel("accuracy (balanced test)")
    ax.set_title(f"{meta['dataset']}, {meta['model']}")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "accuracy_vs_k.png", dpi=120)
    plt.close(fig)
