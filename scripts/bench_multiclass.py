"""Multi-class decompositions of the faithful (binary) module, measured; and the 100-class timing.

    OMP_NUM_THREADS=1 python scripts/bench_multiclass.py decompositions --out docs/multiclass_decomposition.md
    OMP_NUM_THREADS=2 python scripts/bench_multiclass.py timing

`decompositions`: mlbench tables (raw features) with class-balanced contexts of k per class and a
fixed balanced test set (as `tart eval`), each variant of `tart.strategy.faithful_plan` (run by `tart.plan`) on the
same contexts: accuracy, ECE, log-loss and seconds per cell, averaged over data sets, k and seeds.
`timing`: a context of 100 classes x 2 examples (numeric features), fit + predict_proba of 100
queries, best and median of 5 runs, with the default TartClassifier (tart-2 for more than two
classes) and with the faithful module (one-vs-rest beyond 20 classes).
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

VARIANTS = {
    "ovr softmax, negatives max(n_c, L-1)": dict(method="ovr", coupling="softmax", min_neg=-1),
    "ovr sigmoid, negatives max(n_c, L-1)": dict(method="ovr", coupling="sigmoid", min_neg=-1),
    "ovr sigmoid, negatives max(n_c, min(L-1, 8)) (ovr default)": dict(method="ovr"),
    "ovr softmax, negatives 3 n_c": dict(method="ovr", coupling="softmax", neg_ratio=3.0, min_neg=1),
    "ovr softmax, negatives n_c": dict(method="ovr", coupling="softmax", neg_ratio=1.0, min_neg=1),
    "ovo (pairwise coupling)": dict(method="ovo"),
}


def decompositions(args) -> None:
    from tart.classifier import TartClassifier
    from tart.datasets import load_dataset
    from tart.eval.contexts import balanced_context, balanced_pool, balanced_test
    from tart.eval.metrics import scores
    from tart.inputs import condition
    from tart.plan import Job, combine, execute
    from tart.strategy import faithful_plan

    rows = []
    for name in args.datasets:
        ds = load_dataset(name)
        pool = balanced_pool(ds.train_labels, args.pool)
        Xp = np.stack(ds.train_items)[pool].astype(np.float64)
        yp = ds.train_labels[pool]
        te = balanced_test(ds.test_labels, args.n_test)
        Xt, yt = np.stack(ds.test_items)[te].astype(np.float64), ds.test_labels[te]
        for k in args.ks:
            for seed in args.seeds:
                try:
                    idx = balanced_context(yp, k, seed, per_class=True)
                except ValueError:
                    continue
                clf = TartClassifier(reasoner="tart").fit(Xp[idx], yp[idx])
                for label, kw in VARIANTS.items():
                    t0 = time.perf_counter()
                    plan = faithful_plan(clf.y_, len(clf.classes_), n_estimators=8, max_context=255,
                                         random_state=0, **kw)
                    probs, _ = execute(clf.reasoner_, clf._strategy().template(),
                                       [Job(plan, *condition(clf.context_, Xt))])
                    p = combine(plan, probs[0])
                    s = scores(p, yt, ds.n_classes)
                    rows.append({"dataset": name, "k": k, "seed": seed, "variant": label,
                                 "seconds": time.perf_counter() - t0, **s})
                    print(name, k, seed, label, {m: round(v, 3) for m, v in s.items()},
                          f"{rows[-1]['seconds']:.1f}s", file=sys.stderr, flush=True)
    cells = sorted({(r["dataset"], r["k"]) for r in rows})
    lines = ["# Multi-class decompositions of the faithful module", "",
             f"Written by `python scripts/bench_multiclass.py decompositions {' '.join(sys.argv[2:])}`.", "",
             f"Data sets {', '.join(args.datasets)} (mlbench, raw features), k per class {args.ks} "
             f"(cells a data set cannot fill are left out), seeds {args.seeds}, balanced test sets of up to "
             f"{args.n_test}; n_estimators=8. Mean over (data set, k) cells: {len(cells)}.", "",
             "| decomposition | accuracy | macro-F1 | ECE | log-loss | s / cell |", "|---|---|---|---|---|---|"]
    for label in VARIANTS:
        these = [r for r in rows if r["variant"] == label]
        m = {c: np.mean([[r["acc"], r["macro_f1"], r["ece"], r["log_loss"], r["seconds"]] for r in these
                         if (r["dataset"], r["k"]) == c], 0) for c in cells}
        mean = np.mean(list(m.values()), 0)
        lines.append(f"| {label} | " + " | ".join(f"{v:.3f}" for v in mean[:4]) + f" | {mean[4]:.1f} |")
    lines += ["", "Per data set and k (accuracy / ECE):", "",
              "| cell | " + " | ".join(VARIANTS) + " |", "|---" * (len(VARIANTS) + 1) + "|"]
    for c in cells:
        vals = []
        for label in VARIANTS:
            these = [r for r in rows if r["variant"] == label and (r["dataset"], r["k"]) == c]
            vals.append(f"{np.mean([r['acc'] for r in these]):.3f} / {np.mean([r['ece'] for r in these]):.3f}")
        lines.append(f"| {c[0]} k={c[1]} | " + " | ".join(vals) + " |")
    text = "\n".join(lines) + "\n"
    print(text)
    if args.out:
        open(args.out, "w").write(text)


def timing(args) -> None:
    import torch

    from tart import TartClassifier

    rng = np.random.default_rng(0)
    L, D = 100, 32
    means = rng.normal(size=(L, D)) * 3
    y = np.repeat(np.arange(L), 2)
    X = means[y] + rng.normal(size=(len(y), D))
    Q = means + rng.normal(size=(L, D))
    print(f"torch threads {torch.get_num_threads()}")
    for name, kw in (("default: tart2 (coupled class groups)", {}), ("tart (one-vs-rest)", {"reasoner": "tart"})):
        TartClassifier(**kw).fit(X[:4], y[:4] % 2)  # load the module once (not timed)
        times, acc = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            clf = TartClassifier(**kw).fit(X, y)
            p = clf.predict_proba(Q)
            times.append(time.perf_counter() - t0)
            acc = float((p.argmax(1) == np.arange(L)).mean())
        print(f"{name}: 100 classes x 2 examples, 100 queries: best {min(times):.2f} s, median "
              f"{np.median(times):.2f} s over {args.repeats} runs; accuracy {acc:.2f}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("decompositions")
    d.add_argument("--datasets", nargs="+", default=["vehicle", "glass", "vowel", "soybean"])
    d.add_argument("--ks", type=int, nargs="+", default=[2, 4, 16])
    d.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    d.add_argument("--n-test", type=int, default=220)
    d.add_argument("--pool", type=int, default=800)
    d.add_argument("--out", default=None)
    t = sub.add_parser("timing")
    t.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    decompositions(args) if args.cmd == "decompositions" else timing(args)


if __name__ == "__main__":
    main()
