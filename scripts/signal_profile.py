"""Where the class signal lives: real binary pairs against tart-2's prior, measured the same way.

For each task (a real pair's pool and test set together, 1,200 embeddings; or a synthetic binary
task of the same size and width drawn from one component of the shipped module's training prior),
the within-class covariance is eigen-decomposed (directions ranked by variance, the top
`--directions`) and each direction j gets its share of the class separation:
d_j = ((mu_1 - mu_0) . q_j)^2 / lambda_j - (1 / n_0 + 1 / n_1) (the squared Mahalanobis distance
between the class means along q_j, minus its sampling bias). Per task:

- `sep`: sum of d_j (the means' Mahalanobis distance squared, within those directions);
- `top 8` / `top 63`: the share of `sep` in the 8 / 63 directions of largest variance (the map
  keeps the class-mean direction and 63 principal directions);
- `n50`: how many directions, by variance, hold half of `sep`;
- `spread`: the participation ratio (sum d)^2 / sum d^2 of the positive d_j (1: one direction
  carries the signal; many: it is spread);
- `lda acc`: shrinkage LDA (fitted on the 800 pool points, scored on the other 400).

Both are measured with the same estimator at the same n and D, so its biases (a finite sample's
eigenvalues, the noise in d_j) are shared: the comparison is between the numbers, not their truth.

    python scripts/signal_profile.py --out docs/signal_profile
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path

import numpy as np
import torch

from binary_headroom import PAIRS  # the grid's binary pairs (this script's folder is on the path)

STATS = ("sep", "top 8", "top 63", "n50", "spread", "lda acc")


def profile(X: np.ndarray, y: np.ndarray, n_dirs: int, n_fit: int) -> dict[str, float]:
    """The statistics above for one binary task (X [n, D] float, y [n] in {0, 1})."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    X = np.asarray(X, dtype=np.float64)
    X = X - X.mean(0)
    n0, n1 = int((y == 0).sum()), int((y == 1).sum())
    mu0, mu1 = X[y == 0].mean(0), X[y == 1].mean(0)
    W = np.concatenate([X[y == 0] - mu0, X[y == 1] - mu1])
    _, s, vt = np.linalg.svd(W, full_matrices=False)
    lam = s**2 / (len(X) - 2)
    keep = min(n_dirs, int((lam > 1e-9 * lam[0]).sum()))
    d = (vt[:keep] @ (mu1 - mu0)) ** 2 / lam[:keep] - (1 / n0 + 1 / n1)
    sep = float(d.sum())
    cum = np.cumsum(d) / max(sep, 1e-12)
    pos = np.clip(d, 0, None)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X[:n_fit], y[:n_fit])
    return {"sep": sep, "top 8": float(cum[min(7, keep - 1)]), "top 63": float(cum[min(62, keep - 1)]),
            "n50": float(np.searchsorted(cum, 0.5) + 1), "spread": float(pos.sum() ** 2 / max((pos**2).sum(), 1e-12)),
            "lda acc": float(lda.score(X[n_fit:], y[n_fit:]))}


def real_profiles(n_dirs: int) -> list[dict]:
    from tart.datasets import load_dataset
    from tart.eval.runner import build_setup

    rows = []
    for dataset, embedder in PAIRS:
        s = build_setup(dataset, embedder, load_dataset(dataset), 400, 800)
        X = np.concatenate([s.X_pool, s.X_test])
        y = np.concatenate([s.y_pool, s.y_test]).astype(int)
        rows.append({"task": f"{dataset} / {embedder}", "D": X.shape[1], **profile(X, y, n_dirs, len(s.X_pool))})
        print(rows[-1], flush=True)
    return rows


def synthetic_profiles(n_tasks: int, D: int, n_dirs: int, seed: int, recipe: str) -> list[dict]:
    """`n_tasks` binary tasks of 1,200 points in D dims per component of `recipe`'s prior."""
    from tart.priors_tart2 import COMPONENTS, prior_from_dict
    from tart.train import RECIPES

    prior = dataclasses.replace(prior_from_dict(RECIPES[recipe]["prior"]), max_classes=2)
    g = torch.Generator().manual_seed(seed)
    rows = []
    for comp in COMPONENTS:
        t = prior.sample(n_tasks, 1200, D, g, components=(comp,))
        for b in range(n_tasks):
            y = t.y_BN[b].numpy()
            if min((y == 0).sum(), (y == 1).sum()) < 10:  # a near-one-class task: no separation to measure
                continue
            rows.append({"task": comp, "recipe": recipe, "D": D, **profile(t.x_BND[b].numpy(), y, n_dirs, 800)})
        print(comp, len([r for r in rows if r["task"] == comp]), flush=True)
    return rows


def report(real: list[dict], synth: list[dict], out: Path, command: str) -> None:
    fmt = {"sep": "{:.2f}", "n50": "{:.0f}", "spread": "{:.1f}"}

    def quartiles(rs: list[dict], s: str) -> str:
        f, v = fmt.get(s, "{:.2f}"), [r[s] for r in rs]
        return f"{f.format(np.median(v))} [{f.format(np.percentile(v, 25))}-{f.format(np.percentile(v, 75))}]"

    lines = ["# Where the class signal lives: real binary pairs against the prior", "",
             f"Written by `{command}` (the script's docstring defines each column).", "",
             "Real pairs (pool and test set, 1,200 embeddings each):", "",
             "| pair | D | " + " | ".join(STATS) + " |", "|---|---|" + "---|" * len(STATS)]
    for r in real:
        lines.append(f"| {r['task']} | {r['D']} | " + " | ".join(fmt.get(s, "{:.2f}").format(r[s]) for s in STATS) + " |")
    lines.append("| all pairs: median [25th-75th percentile] | | " + " | ".join(quartiles(real, s) for s in STATS) + " |")
    for recipe in dict.fromkeys(r["recipe"] for r in synth):
        of = [r for r in synth if r["recipe"] == recipe]
        lines += ["", f"Synthetic binary tasks of recipe `{recipe}`'s prior (two classes, {of[0]['D']} dims, "
                  "1,200 points), per component: median [25th-75th percentile] over its tasks:", "",
                  "| component | tasks | " + " | ".join(STATS) + " |", "|---|---|" + "---|" * len(STATS)]
        for comp in list(dict.fromkeys(r["task"] for r in of)) + ["all components"]:
            rs = of if comp == "all components" else [r for r in of if r["task"] == comp]
            lines.append(f"| {comp} | {len(rs)} | " + " | ".join(quartiles(rs, s) for s in STATS) + " |")
    out.mkdir(parents=True, exist_ok=True)
    (out / "signal_profile.md").write_text("\n".join(lines) + "\n")
    (out / "signal_profile.json").write_text(json.dumps({"real": real, "synthetic": synth}, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n-tasks", type=int, default=48)
    ap.add_argument("--dims", type=int, default=384, help="the synthetic tasks' width (MiniLM's and Whisper-tiny's)")
    ap.add_argument("--directions", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--recipes", nargs="+", default=["tart2-cpu-codes-log", "tart2-cpu-codes-aligned"],
                    help="whose priors (the shipped module's, and the prior fitted to these numbers)")
    args = ap.parse_args()
    real = real_profiles(args.directions)
    synth = [r for recipe in args.recipes for r in synthetic_profiles(args.n_tasks, args.dims, args.directions, args.seed, recipe)]
    command = f"python scripts/signal_profile.py --out {args.out}" + (
        "" if args.recipes == ap.get_default("recipes") else " --recipes " + " ".join(args.recipes))
    report(real, synth, args.out, command)
    print((args.out / "signal_profile.md").read_text())


if __name__ == "__main__":
    main()
