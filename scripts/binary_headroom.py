"""Where the binary grid's margin could come from: the default module against what a probe gets
from the same information, on the same contexts.

On each binary pair of the grid (docs/tart2_real.md: 7 pairs, 3 seeds, k = 16-256, the
evaluation's pool of 800 and balanced test set of 400), every method sees the same context:

- `tart2`: the default classifier (`TartClassifier()`), and with its map keeping 16 or 32
  components instead of the module's 64 (`n_components`);
- the four baselines of the grid (logistic regression with C by CV on the full standardised
  embeddings, shrinkage LDA, nearest class mean, cosine kNN; `tart.eval.probes`);
- `logreg on the map`: the same logistic regression on the 64 dims the module reads (tart-2's
  input map fitted on the context: its unwhitened and its whitened view), so what the map keeps;
- `tart2 + logreg`: the two's probabilities averaged (a test-time ensemble with the probe);
- `best per pair`: each pair's best method at that k (an oracle: the choice looks at the test set);
- `logreg-oracle-c` / `lda-oracle-shrinkage`: logistic regression with its C, shrinkage LDA with
  its shrinkage, picked per context on the test set (oracles: what a perfect choice of the
  regularisation would buy the two linear rules; no real learner can reach them);
- `--candidate DIR`: a candidate module (`TartClassifier(reasoner=DIR)`), a row of its own and its
  own per-pair table;
- `--pairs held-out`: the same on HELD_OUT, pairs no module, prior or setting was tuned on;
- `--stack none` (or a number): the tart2 rows (and a candidate's) with that `stack`, e.g. the
  module alone without its linear member (cached apart, in `--cache`'s folder + `_stack-none`).

Each column is reported minus the best baseline at that k (the baseline with the best mean over
pairs, as in docs/tart2_real.md), in points. Probabilities are kept in `--cache` (one .npz per
pair) so the report can be rebuilt without refitting.

    python scripts/binary_headroom.py --report docs/binary_headroom.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Callable

import numpy as np

from tart.jobs.cli import stack_value

PAIRS = (("amazon_food", "minilm"), ("amazon_food", "smollm2"), ("tweets", "minilm"), ("tweets", "smollm2"),
         ("spoken_keywords:pin-bin", "whisper-tiny-en"), ("fashion_mnist:pullover-coat", "mobilenet-v2"),
         ("fashion_mnist:tshirt-shirt", "mobilenet-v2"))
# pairs no module, prior or setting was ever tuned on (`--pairs held-out`): other Fashion-MNIST pairs
# (the grid's encoder; the offline machine has no other image encoder), a check against fitting the grid
HELD_OUT = (("fashion_mnist:coat-shirt", "mobilenet-v2"), ("fashion_mnist:pullover-shirt", "mobilenet-v2"),
            ("fashion_mnist:tshirt-pullover", "mobilenet-v2"), ("fashion_mnist:dress-coat", "mobilenet-v2"))
PAIR_SETS = {"grid": PAIRS, "held-out": HELD_OUT}
KS = (16, 32, 64, 128, 256)
SEEDS = (0, 1, 2)
BASELINES = ("logreg-full", "lda", "ncm", "knn")


def _logreg_on_map(whiten: bool) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def fn(Xc, yc, Xq):
        from tart.eval import probes
        from tart.projection import SetMap

        smap = SetMap(64, whiten=whiten).fit(Xc, yc)  # one of the shipped module's two maps
        return probes.logreg_full(smap.transform(Xc).astype(float), yc, smap.transform(Xq).astype(float))
    return fn


def _tart2(**settings) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def fn(Xc, yc, Xq):
        from tart import TartClassifier

        return TartClassifier(**settings).fit(Xc, yc).predict_proba(Xq)
    return fn


def _probe(name: str) -> Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]:
    def fn(Xc, yc, Xq):
        from tart.eval import probes

        out = getattr(probes, name)(Xc, yc, Xq)
        return out if out.ndim == 2 else np.eye(2)[out]  # ncm: labels
    return fn


def _picked_on_test(make: Callable, values) -> Callable:
    """An oracle: the classifier `make(value)` on the context's standardised features, fitted at
    each of `values`, keeping the probabilities of the fit most accurate on the queries' labels."""
    def fn(Xc, yc, Xq, yq):
        from sklearn.preprocessing import StandardScaler

        sc = StandardScaler().fit(Xc)
        zc, zq = sc.transform(Xc), sc.transform(Xq)
        fits = [make(v).fit(zc, yc).predict_proba(zq) for v in values]
        return max(fits, key=lambda p: (p.argmax(1) == yq).mean())
    return fn


def _logreg(C):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=C, max_iter=2000)


def _lda(shrinkage):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    return LinearDiscriminantAnalysis(solver="lsqr", shrinkage=shrinkage)


ORACLES = {"logreg-oracle-c": _picked_on_test(_logreg, np.logspace(-4, 4, 17)),  # they read the test labels
           "lda-oracle-shrinkage": _picked_on_test(_lda, np.linspace(0.0, 1.0, 21)[1:])}
TART2 = {"tart2": {}, "tart2-16": {"n_components": 16}, "tart2-32": {"n_components": 32}}
METHODS = {**{m: _tart2(**settings) for m, settings in TART2.items()},
           "logreg-full": _probe("logreg_full"), "lda": _probe("lda"), "ncm": _probe("ncm"), "knn": _probe("knn"),
           "logreg-map": _logreg_on_map(False), "logreg-map-whitened": _logreg_on_map(True), **ORACLES}


def pair_probabilities(dataset: str, embedder: str, cache: Path, methods: list[str],
                       seeds: list[int]) -> dict[str, np.ndarray]:
    """P(class 1) [n_test] per method, k and seed ("method/k/seed"), and the test labels ("y"):
    those in the pair's cache file, and the missing ones computed (and added to it)."""
    path = cache / f"{dataset.replace(':', '_')}_{embedder}.npz"
    out = dict(np.load(path)) if path.exists() else {}
    todo = {seed: [m for m in methods if f"{m}/{KS[-1]}/{seed}" not in out] for seed in seeds}
    if not any(todo.values()):
        return out
    from tart.datasets import load_dataset
    from tart.eval.contexts import balanced_context
    from tart.eval.runner import build_setup

    s = build_setup(dataset, embedder, load_dataset(dataset), 400, 800)
    out["y"] = s.y_test
    for seed, missing in todo.items():
        for k in KS if missing else ():
            idx = balanced_context(s.y_pool, k, seed)
            for m in missing:
                extra = (s.y_test,) if m in ORACLES else ()
                out[f"{m}/{k}/{seed}"] = METHODS[m](s.X_pool[idx], s.y_pool[idx], s.X_test, *extra)[:, 1]
            print(dataset, embedder, k, seed, flush=True)
    cache.mkdir(parents=True, exist_ok=True)
    merged = {**(dict(np.load(path)) if path.exists() else {}), **out}  # what another run added meanwhile stays
    tmp = path.with_suffix(".tmp.npz")
    np.savez(tmp, **merged)
    tmp.replace(path)  # whole or not at all: a killed run leaves the old file
    return merged


def accuracies(probs: dict[str, np.ndarray], methods: list[str], seeds: list[int]) -> dict[str, dict[int, list]]:
    """Accuracy per method (and tart2 + logreg, averaged, where both are there), k and seed."""
    y = probs["y"]
    mixed = ["tart2+logreg"] if {"tart2", "logreg-full"} <= set(methods) else []

    def p(m: str, k: int, seed: int) -> np.ndarray:
        if m == "tart2+logreg":
            return (probs[f"tart2/{k}/{seed}"] + probs[f"logreg-full/{k}/{seed}"]) / 2
        return probs[f"{m}/{k}/{seed}"]

    return {m: {k: [float(((p(m, k, s) > 0.5) == y).mean()) for s in seeds] for k in KS} for m in methods + mixed}


def _shown(m: str) -> str:
    """A method's name as the report shows it (a candidate by its folder's name)."""
    return f"candidate `{m[len('candidate:'):]}`" if m.startswith("candidate:") else m


def per_pair_table(per_pair: dict[str, dict], m: str) -> list[str]:
    """Markdown lines: method `m` minus each pair's best baseline at each k (that pair's best by its
    mean over the seeds), the mean and standard error of the per-seed differences."""
    lines = ["", f"Per pair: {_shown(m)} minus that pair's best baseline at each k (by its mean over the seeds), "
             "points, mean and standard error of the per-seed differences:", "",
             "| pair | " + " | ".join(f"k={k}" for k in KS) + " |", "|---|" + "---|" * len(KS)]
    for pair, a in per_pair.items():
        cells = []
        for k in KS:
            b = max(BASELINES, key=lambda base: np.mean(a[base][k]))
            d = 100 * (np.array(a[m][k]) - np.array(a[b][k]))
            cells.append(f"{d.mean():+.1f} ({d.std(ddof=1) / np.sqrt(len(d)):.1f})")
        lines.append(f"| {pair} | " + " | ".join(cells) + " |")
    return lines


def report(per_pair: dict[str, dict], path: Path, seeds: list[int], command: str, stack="auto") -> None:
    def avg(m: str, k: int) -> float:
        return float(np.mean([np.mean(a[m][k]) for a in per_pair.values()]))

    methods = next(iter(per_pair.values())).keys()
    mean = {m: {k: avg(m, k) for k in KS} for m in methods}
    best = {k: max(BASELINES, key=lambda b: mean[b][k]) for k in KS}
    oracle = {k: float(np.mean([max(np.mean(a[m][k]) for m in ("tart2",) + BASELINES) for a in per_pair.values()]))
              for k in KS}

    def cell(acc: dict, k: int) -> str:
        return f"{100 * (acc[k] - mean[best[k]][k]):+.1f}"

    name = "tart2 (the default)" if stack == "auto" else f"tart2 (stack={stack!r}{': the module alone' * (stack is None)})"
    rows = [(name, "tart2"), ("tart2 + logreg, probabilities averaged", "tart2+logreg"),
            ("tart2, the map keeping 16 / 32 components (`n_components`)", ("tart2-16", "tart2-32")),
            ("logreg on the map (64 dims, unwhitened view)", "logreg-map"),
            ("logreg on the map (64 dims, whitened view)", "logreg-map-whitened"),
            ("logistic regression, C picked on the test set (an oracle)", "logreg-oracle-c"),
            ("shrinkage LDA, shrinkage picked on the test set (an oracle)", "lda-oracle-shrinkage")]
    lines = ["# Binary grid: where a margin could come from", "",
             f"Written by `{command}` (its docstring says",
             f"what each row is). {len(per_pair)} binary pairs, seeds {seeds}, mean accuracy over pairs",
             "minus the best baseline at that k, in points; the best baseline's own accuracy in the first row.", "",
             "| | " + " | ".join(f"k={k}" for k in KS) + " |", "|---|" + "---|" * len(KS),
             "| best baseline | " + " | ".join(f"{mean[best[k]][k]:.3f} ({best[k]})" for k in KS) + " |"]
    rows += [(_shown(m), m) for m in methods if m.startswith("candidate:")]
    for name, m in rows:
        names = m if isinstance(m, tuple) else (m,)
        if all(n in mean for n in names):
            lines.append(f"| {name} | " + " | ".join(" / ".join(cell(mean[n], k) for n in names) for k in KS) + " |")
    for m in methods:
        if m.startswith("candidate:"):
            lines.append(f"| {_shown(m)} minus tart2 (the same contexts) | " + " | ".join(
                f"{100 * (mean[m][k] - mean['tart2'][k]):+.1f}" for k in KS) + " |")
    lines.append("| best per pair of tart2 and the four baselines (oracle) | "
                 + " | ".join(cell(oracle, k) for k in KS) + " |")
    for m in ["tart2"] + [m for m in methods if m.startswith("candidate:")]:
        lines += per_pair_table(per_pair, m)
    path.write_text("\n".join(lines) + "\n")
    path.with_suffix(".json").write_text(json.dumps({"seeds": seeds, "pairs": per_pair, "best_baseline": best}, indent=1))
    print("\n".join(lines))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--report", type=Path, default=Path("docs/binary_headroom.md"))
    ap.add_argument("--cache", type=Path, default=Path("results/binary_headroom"))
    ap.add_argument("--seeds", type=int, nargs="+", default=list(SEEDS))
    ap.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS),
                    help="tart2 and the four baselines at least")
    ap.add_argument("--candidate", type=Path, default=None, help="a candidate module's folder, run as tart2 is")
    ap.add_argument("--pairs", choices=list(PAIR_SETS), default="grid",
                    help="the grid's binary pairs (default) or HELD_OUT, pairs nothing was tuned on")
    ap.add_argument("--stack", default="auto", type=stack_value, help="the tart2 rows' stack (auto, none or N)")
    args = ap.parse_args()
    cache = args.cache if args.stack == "auto" else args.cache.with_name(
        f"{args.cache.name}_stack-{str(args.stack).lower()}")  # other probabilities: another cache
    METHODS.update({m: _tart2(**settings, stack=args.stack) for m, settings in TART2.items()})
    if args.candidate is not None:  # cached under its folder's name
        METHODS[f"candidate:{args.candidate.name}"] = _tart2(reasoner=str(args.candidate), stack=args.stack)
        args.methods.append(f"candidate:{args.candidate.name}")
    if not {"tart2", *BASELINES} <= set(args.methods):
        ap.error(f"--methods needs tart2 and {', '.join(BASELINES)}")
    command = "python scripts/binary_headroom.py --report " + str(args.report) + (
        "" if args.seeds == list(SEEDS) else " --seeds " + " ".join(map(str, args.seeds))) + (
        "" if args.methods == list(METHODS) else " --methods " + " ".join(
            m for m in args.methods if not m.startswith("candidate:"))) + (
        f" --candidate {args.candidate}" if args.candidate else "") + (
        "" if args.pairs == "grid" else f" --pairs {args.pairs}") + (
        "" if args.cache == Path("results/binary_headroom") else f" --cache {args.cache}") + (
        "" if args.stack == "auto" else f" --stack {str(args.stack).lower()}")
    per_pair = {f"{d} / {e}": accuracies(pair_probabilities(d, e, cache, args.methods, args.seeds),
                                         args.methods, args.seeds) for d, e in PAIR_SETS[args.pairs]}
    report(per_pair, args.report, args.seeds, command, args.stack)


if __name__ == "__main__":
    main()
