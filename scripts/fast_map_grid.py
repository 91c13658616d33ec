"""Can the shipped tart-2 module tell the fast map basis from the exact one on real embeddings?

For grid pairs (data set, embedder) with the evaluation's pool and test set (`tart eval`'s 800 /
400, embeddings cached), every seed's class-balanced context of each k is mapped by
`fit_set_map` with the exact and with the fast basis (every view the module reads, averaged as the
classifier does), and the module's test accuracy is compared on the same contexts. The module
alone, without the classifier's temperature and class-order ensemble: only the map differs.

    python scripts/fast_map_grid.py --out docs/training_path/grid.md
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from tart.datasets import load_dataset
from tart.eval.contexts import balanced_context
from tart.eval.runner import build_setup
from tart.projection import apply_set_map, fit_set_map, set_views
from tart.weights import load_reasoner

PAIRS = (("fashion_mnist:pullover-coat", "mobilenet-v2"), ("fashion_mnist:tshirt-shirt", "mobilenet-v2"),
         ("amazon_food", "minilm"))


@torch.no_grad()
def accuracy(model, X, y, Xt, yt, basis: str) -> float:
    x = torch.from_numpy(np.concatenate([X, Xt]).astype(np.float64))[None]
    cy = torch.from_numpy(y.astype(np.int64))[None]
    probs = 0.0
    for whiten, standardize in set_views(model.config.whiten_map, "auto"):
        p = fit_set_map(x[:, : len(X)], cy, model.config.n_dims, standardize, whiten=whiten, basis=basis)
        z = apply_set_map(p, x).float()
        probs = probs + model.predict(z[:, : len(X)], cy, z[:, len(X):], n_classes=2).softmax(-1)
    return float((probs[0].argmax(-1).numpy() == yt).mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[16, 64, 128, 256])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    model = load_reasoner("tart2")
    lines = ["| data set | embedder | k | exact map acc | fast map acc | fast - exact (points) |", "|---|---|---|---|---|---|"]
    diffs = []
    for dataset, embedder in PAIRS:
        s = build_setup(dataset, embedder, load_dataset(dataset), n_test=400, pool=800)
        for k in args.ks:
            acc = {b: [] for b in ("exact", "fast")}
            for seed in range(args.seeds):
                idx = balanced_context(s.y_pool, k, seed)
                for b in acc:
                    acc[b].append(accuracy(model, s.X_pool[idx], s.y_pool[idx], s.X_test, s.y_test, b))
            d = 100 * (np.mean(acc["fast"]) - np.mean(acc["exact"]))
            diffs.append(d)
            lines.append(f"| {dataset} | {embedder} (D = {s.X_pool.shape[1]}) | {k} | {np.mean(acc['exact']):.4f} | "
                         f"{np.mean(acc['fast']):.4f} | {d:+.2f} |")
            print(lines[-1], flush=True)
    lines.append(f"| **mean** | | | | | **{np.mean(diffs):+.2f}** |")
    text = "\n".join(lines)
    print(text)
    if args.out:
        cmd = f"python scripts/fast_map_grid.py --ks {' '.join(map(str, args.ks))} --seeds {args.seeds} --out {args.out}"
        args.out.write_text(f"Written by `{cmd}`: {args.seeds} seeds per cell, {len(s.y_test)} test items, the shipped "
                            f"module through each basis.\n\n{text}\n")


if __name__ == "__main__":
    main()
