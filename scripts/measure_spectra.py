"""The eigenvalue decay of real features: what tart-2's prior should draw its spectra from.

For each (data set, embedder) pair, the evaluation's pool (`tart eval`'s 800 items, embeddings
cached; smaller tables: all their training rows) is centred and its covariance's eigenvalues
lambda_1 >= lambda_2 >= ... are normalised to lambda_1 = 1. A power law lambda_j ~ j^-beta is
fitted by least squares on log lambda against log j, over the head (j = 1..8), the body
(j = 8..64) and all of j = 1..64 (within the pool's rank), on the raw features and after
standardising each feature (tables: the map's "auto" scaling standardises them). The prior's
`spectrum="embedding"` draws its two slopes from the ranges these measure.

    python scripts/measure_spectra.py --out docs/tart2_spectra.md
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from tart.datasets import load_dataset
from tart.eval.runner import build_setup

PAIRS = (("amazon_food", "minilm"), ("tweets", "minilm"), ("amazon_food", "smollm2"),
         ("fashion_mnist:pullover-coat", "mobilenet-v2"), ("fashion_mnist:tshirt-shirt", "mobilenet-v2"),
         ("sonar", "features"), ("ionosphere", "features"), ("pima", "features"))
RANGES = {"head": (1, 8), "body": (8, 64), "all": (1, 64)}


def slope(lam: np.ndarray, lo: int, hi: int) -> float | None:
    """beta of lambda_j ~ j^-beta fitted on j = lo..hi (1-based, within the positive eigenvalues)."""
    hi = min(hi, int((lam > 1e-12 * lam[0]).sum()))
    if hi - lo < 2:
        return None
    j = np.arange(lo, hi + 1)
    return float(-np.polyfit(np.log(j), np.log(lam[lo - 1 : hi]), 1)[0])


def spectrum(X: np.ndarray, standardize: bool) -> np.ndarray:
    X = X - X.mean(0)
    if standardize:
        sd = X.std(0)
        X = X[:, sd > 0] / sd[sd > 0]
    s = np.linalg.svd(X, compute_uv=False) ** 2
    return s / s[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    rows = []
    for dataset, embedder in PAIRS:
        s = build_setup(dataset, embedder, load_dataset(dataset), n_test=20 if embedder == "features" else 400,
                        pool=800)
        X = np.asarray(s.X_pool, dtype=np.float64)
        for std in (False, True):
            lam = spectrum(X, std)
            row = {"dataset": dataset, "embedder": embedder, "n": len(X), "D": X.shape[1], "standardized": std,
                   **{name: slope(lam, *r) for name, r in RANGES.items()},
                   "lambda_8": float(lam[min(7, len(lam) - 1)]), "lambda_64": float(lam[min(63, len(lam) - 1)]),
                   "share_top8": float(lam[:8].sum() / lam.sum())}
            rows.append(row)
            print(json.dumps(row), flush=True)
    fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
    lines = ["| data set | embedder | n | D | standardised | beta head (1-8) | beta body (8-64) | beta 1-64 | "
             "lambda_8 | lambda_64 | variance in top 8 |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    lines += [f"| {r['dataset']} | {r['embedder']} | {r['n']} | {r['D']} | {'yes' if r['standardized'] else 'no'} | "
              f"{fmt(r['head'])} | {fmt(r['body'])} | {fmt(r['all'])} | {r['lambda_8']:.3f} | {r['lambda_64']:.4f} | "
              f"{r['share_top8']:.2f} |" for r in rows]
    text = "\n".join(lines)
    print(text)
    if args.out:
        args.out.write_text(
            "# The eigenvalue decay of real features\n\nWritten by `python scripts/measure_spectra.py "
            f"--out {args.out}` (its docstring says how). Eigenvalues of the pool's covariance, normalised to "
            "lambda_1 = 1; beta: the slope of a power law lambda_j ~ j^-beta fitted on the ranges named.\n\n"
            f"{text}\n")
        args.out.with_suffix(".json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
