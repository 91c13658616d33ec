"""Stacking the default module with the probes it is compared against, weighed on the context.

For each context of a grid (the binary pairs, the small tables, the multi-class grid, the synthetic
logistic and softmax tasks), three members are fitted on the context and on each of its four
cross-validation folds (`tart.strategy.context_folds`, the folds that weigh the module's views):
the default module (`TartClassifier()`), logistic regression with C by cross-validation and shrinkage
LDA, each the same learner as the baseline it is compared with on that grid. The stack mixes the
members' probabilities with weights that maximise the likelihood of the folds' held-out labels (EM
on the mixture weights), with `alpha` pseudo-examples on the module (a Dirichlet prior: few
examples leave the weight on the module). Each grid's member probabilities are cached under
results/stacking/; the report says what each row is.

    python scripts/stacking.py --parts binary synthetic tables multiclass --report docs/stacking.md
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

MEMBERS = ("tart2", "logreg", "lda")
ALPHAS = (0.0, 4.0, 16.0)
N_FOLDS = 4


def _members_real(Xc, yc, Xq, L):
    from tart import TartClassifier
    from tart.eval import probes

    return np.stack([TartClassifier().fit(Xc, yc).predict_proba(Xq), probes.logreg_full(Xc, yc, Xq),
                     probes.lda(Xc, yc, Xq)])


def _members_synthetic(Xc, yc, Xq, L):
    from tart import TartClassifier
    from tart.eval.synthetic_set import baseline_proba

    cls = np.unique(yc)
    if len(cls) == 1:
        return np.stack([baseline_proba("one-class", Xc, yc, Xq, L)] * len(MEMBERS))
    module = np.zeros((len(Xq), L))
    module[:, cls] = TartClassifier().fit(Xc, np.searchsorted(cls, yc)).predict_proba(Xq)
    return np.stack([module, baseline_proba("logreg", Xc, yc, Xq, L), baseline_proba("lda", Xc, yc, Xq, L)])


def record(members, Xc, yc, Xq, L):
    """Held-out member probabilities on the context's folds [M, K, L] and on the queries [M, Q, L]."""
    from tart.strategy import context_folds

    held = np.zeros((len(MEMBERS), len(yc), L))
    fold_of = context_folds(Xc, yc, N_FOLDS) if len(np.unique(yc)) > 1 else np.zeros(len(yc), int)
    for f in range(N_FOLDS):
        h = fold_of == f
        if not h.any() or h.all():
            held[:, h] = 1.0 / L
            continue
        cls = np.unique(yc[~h])
        p = members(Xc[~h], np.searchsorted(cls, yc[~h]), Xc[h], len(cls))
        held[np.ix_(range(len(MEMBERS)), np.flatnonzero(h), cls)] = p
    return held, members(Xc, yc, Xq, L)


def stack_weights(held_MKL: np.ndarray, y_K: np.ndarray, alpha: float, iters: int = 300) -> np.ndarray:
    """Mixture weights [M] maximising the held-out likelihood, `alpha` pseudo-examples on member 0."""
    p_MK = np.clip(held_MKL[:, np.arange(len(y_K)), y_K], 1e-6, None)
    prior = np.zeros(len(p_MK)); prior[0] = alpha
    w = np.full(len(p_MK), 1.0 / len(p_MK))
    for _ in range(iters):
        r = w[:, None] * p_MK
        r /= r.sum(0, keepdims=True)
        w = (r.sum(1) + prior) / (len(y_K) + alpha)
    return w


def grid_contexts(part: str, seeds: list[int]):
    """(cell name, k, seed, Xc, yc, Xq, yq, L, members) for every context of a grid."""
    if part == "synthetic":
        import torch
        from tart.priors_tart2 import COMPONENTS, MixturePrior

        prior = MixturePrior(max_classes=10)
        for comp in ("logistic", "softmax"):  # the draw of `tart eval-synthetic` (seed 1234, 64 tasks)
            for k in (16, 64, 128, 256):
                g = torch.Generator().manual_seed(1234 + 1000 * COMPONENTS.index(comp) + k)
                t = prior.sample(64, k + 64, 64, g, components=(comp,))
                x, y = t.x_BND.double().numpy(), t.y_BN.numpy()
                for b in range(64):
                    yield comp, k, b, x[b, :k], y[b, :k], x[b, k:], y[b, k:], 10, _members_synthetic
        return
    from binary_headroom import KS, PAIR_SETS
    from tart.datasets import load_dataset
    from tart.eval.contexts import balanced_context
    from tart.eval.runner import build_setup

    if part == "binary":
        sets, ks, n_test, pool, per_class = PAIR_SETS["grid"], KS, 400, 800, False
    elif part == "tables":
        sets = [(d, "features") for d in ("sonar", "ionosphere", "pima", "breast_cancer", "satellite")]
        ks, n_test, pool, per_class = (16, 32, 64), 400, 800, False
    else:
        sets = [(d, "features") for d in ("vehicle", "vowel", "glass", "soybean", "letter")] + [
            ("fashion_mnist", "mobilenet-v2"), ("tweets3", "minilm")]
        ks, n_test, pool, per_class = (4, 8, 16, 32), 200, 1000, True
    for d, e in sets:
        s = build_setup(d, e, load_dataset(d), n_test, pool)
        L = int(max(s.y_pool.max(), s.y_test.max())) + 1
        for k in ks:
            for seed in seeds:
                try:
                    idx = balanced_context(s.y_pool, k, seed, per_class=per_class)
                except ValueError:
                    continue
                cls = np.unique(s.y_pool[idx])
                keep = np.isin(s.y_test, cls)  # queries of the context's classes
                yield (f"{d} / {e}", k, seed, s.X_pool[idx], np.searchsorted(cls, s.y_pool[idx]),
                       s.X_test[keep], np.searchsorted(cls, s.y_test[keep]), len(cls), _members_real)


def collect(part: str, seeds: list[int], cache: Path) -> dict:
    """Every context's member probabilities ("cell|k|seed|held", "|test", "|yc", "|yq"): those in
    the cache file and the missing ones computed (and added to it, a cell at a time)."""
    path = cache / f"{part}.npz"
    out = dict(np.load(path)) if path.exists() else {}
    added, done = set(), None

    def save() -> None:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, **out)
        tmp.replace(path)  # whole or not at all: a killed run leaves the old file
        print(part, *done, flush=True)

    for cell, k, seed, Xc, yc, Xq, yq, L, members in grid_contexts(part, seeds):
        if done is not None and done != (cell, k) and done in added:
            save()
        done, key = (cell, k), f"{cell}|{k}|{seed}"
        if f"{key}|held" in out:
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            held, test = record(members, Xc, yc, Xq, L)
        out.update({f"{key}|held": held.astype(np.float32), f"{key}|test": test.astype(np.float32),
                    f"{key}|yc": yc, f"{key}|yq": yq})
        added.add(done)
    if done in added:
        save()
    return out


def scores(out: dict, seeds: list[int] | None = None) -> dict:
    """Per (cell, k): lists over contexts (of `seeds`, None: all) of (probabilities, labels) for
    each member and stack, and of the stack's weights."""
    rows: dict = {}
    for key in sorted({k.rsplit("|", 1)[0] for k in out}):
        cell, k, seed = key.split("|")
        if seeds is not None and int(seed) not in seeds:
            continue
        held, test, yc, yq = (out[f"{key}|{n}"] for n in ("held", "test", "yc", "yq"))
        probs = {m: test[i] for i, m in enumerate(MEMBERS)}
        for a in ALPHAS:
            w = stack_weights(held.astype(np.float64), yc, a)
            probs[f"stack a={a:g}"] = np.tensordot(w, test, 1)
            rows.setdefault((cell, int(k), f"w a={a:g}"), []).append(w)
        for m, p in probs.items():
            rows.setdefault((cell, int(k), m), []).append((p, yq))
    return rows


TITLES = {"binary": "Binary grid (7 pairs)", "tables": "Small tables (5 tables)",
          "multiclass": "Multi-class grid (7 sets, k per class)",
          "synthetic": "Synthetic tasks (64 per cell, `tart eval-synthetic`'s draw)"}


def part_table(part: str, out: dict, seeds: list[int] | None = None) -> list[str]:
    """Per k (per component for synthetic): each row's mean accuracy minus the better of logistic
    regression and LDA per cell (mean over its contexts), in points; ECE for the multi-class grid."""
    from tart.eval.metrics import ece

    rows = scores(out, None if part == "synthetic" else seeds)
    names = [*MEMBERS, *(f"stack a={a:g}" for a in ALPHAS)]
    groups = sorted({(cell.split(" / ")[0] if part == "synthetic" else "", k) for cell, k, _ in rows})
    lines = ["| row | " + " | ".join(f"{g} k={k}".strip() for g, k in groups) + " |", "|---|" + "---|" * len(groups)]
    acc = {key: float(np.mean([(p.argmax(1) == y).mean() for p, y in v])) for key, v in rows.items() if "w a=" not in key[2]}
    for n in names:
        cells = []
        for g, k in groups:
            mine = [c for c, kk, m in rows if kk == k and m == n and (not g or c == g)]
            diff = [acc[(c, k, n)] - max(acc[(c, k, "logreg")], acc[(c, k, "lda")]) for c in mine]
            cell = f"{100 * np.mean(diff):+.1f}"
            if part == "multiclass":
                e = np.mean([ece(p, y) for c in mine for p, y in rows[(c, k, n)]])
                cell += f" / {e:.3f}"
            cells.append(cell)
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    for a in ALPHAS:  # paired over contexts: the stack minus the module alone, mean (standard error)
        cells = []
        for g, k in groups:
            d = [(p.argmax(1) == y).mean() - (q.argmax(1) == y).mean()
                 for c, kk, m in rows if kk == k and m == "tart2" and (not g or c == g)
                 for (p, y), (q, _) in zip(rows[(c, kk, f"stack a={a:g}")], rows[(c, kk, m)])]
            cells.append(f"{100 * np.mean(d):+.1f} ({100 * np.std(d, ddof=1) / np.sqrt(len(d)):.1f})")
        lines.append(f"| stack a={a:g} minus tart2 (SE) | " + " | ".join(cells) + " |")
    for a in ALPHAS:
        w = [np.mean([w for c, kk, m in rows if kk == k and m == f"w a={a:g}" and (not g or c == g)
                      for w in rows[(c, kk, m)]], axis=0) for g, k in groups]
        lines.append(f"| weights (module / logreg / lda), a={a:g} | " + " | ".join("/".join(f"{x:.2f}" for x in v) for v in w) + " |")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--parts", nargs="+", default=["binary", "synthetic", "tables", "multiclass"])
    ap.add_argument("--seeds", type=int, nargs="+", default=None)
    ap.add_argument("--cache", type=Path, default=Path("results/stacking"))
    ap.add_argument("--report", type=Path, default=None)
    args = ap.parse_args()
    default = {"binary": list(range(5)), "tables": [0, 1, 2], "multiclass": [0, 1], "synthetic": [0]}  # synthetic: its seed is the draw's
    command = "python scripts/stacking.py --parts " + " ".join(args.parts) + (
        f" --seeds {' '.join(map(str, args.seeds))}" if args.seeds else "") + (
        f" --cache {args.cache}" if args.cache != Path("results/stacking") else "") + (
        f" --report {args.report}" if args.report else "")
    text = [f"# Stacking the default module with the probes\n\nWritten by `{command}`. " + __doc__.split("\n\n")[1]
            .replace("\n", " ") + " Each cell: mean accuracy minus the better of logistic regression and LDA in that"
            " cell (data set and embedder, or component, at that k), in points" + "; multi-class cells add the ECE."]
    for part in args.parts:
        seeds = args.seeds or default[part]
        out = collect(part, seeds, args.cache)
        seen = {k.rsplit("|", 1)[0] for k in out}
        n = len(seen) if part == "synthetic" else len({k for k in seen if int(k.split("|")[2]) in seeds})
        label = "" if part == "synthetic" else f", seeds {' '.join(map(str, seeds))}"
        text += [f"\n## {TITLES[part]}: {n} contexts{label}\n", *part_table(part, out, seeds)]
    print("\n".join(text))
    if args.report:
        args.report.write_text("\n".join(text) + "\n")


if __name__ == "__main__":
    main()
