"""Imbalanced contexts: class_prior ("context" vs "uniform") x center ("balanced" vs "mean").

    python scripts/class_prior.py --model smollm2

Contexts of k reviews drawn at random (not balanced) from the first 1200 training reviews, 5 seeds;
scored on all 1000 test reviews. Prints mean (std) accuracy per k; logistic regression on the full
embeddings of the same contexts for reference. The default is center="balanced", class_prior="context".
"""

import argparse
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from tart import TartClassifier
from tart.datasets import load_dataset
from tart.embed import CachedEmbedder, get_embedder


CENTERS, PRIORS = ("mean", "balanced"), ("uniform", "context")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2")
    p.add_argument("--ks", type=int, nargs="+", default=[32, 64, 128, 256])
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    ds = load_dataset("amazon_food")
    emb = CachedEmbedder(get_embedder(args.model))
    X_pool, y_pool = emb.encode(ds.train_texts[:1200]), np.asarray(ds.train_labels[:1200])
    X_test, y_test = emb.encode(ds.test_texts), np.asarray(ds.test_labels)
    print(f"amazon_food, {args.model}: pool class-1 share {y_pool.mean():.3f}, test majority "
          f"{max(y_test.mean(), 1 - y_test.mean()):.3f}; mean (std) accuracy over {args.seeds} seeds")
    for k in args.ks:
        acc: dict[str, list[float]] = {f"{c}/{p}": [] for c in CENTERS for p in PRIORS}
        acc["logreg, full"] = []
        for seed in range(args.seeds):
            idx = np.random.default_rng(seed).choice(len(y_pool), k, replace=False)
            for center in CENTERS:
                for prior in PRIORS:
                    clf = TartClassifier(center=center, class_prior=prior).fit(X_pool[idx], y_pool[idx])
                    acc[f"{center}/{prior}"].append(np.mean(clf.predict(X_test) == y_test))
            lr = LogisticRegression(max_iter=3000).fit(X_pool[idx], y_pool[idx])
            acc["logreg, full"].append(np.mean(lr.predict(X_test) == y_test))
        print(f"k={k}: " + ", ".join(f"{m} {np.mean(v):.3f} ({np.std(v):.3f})" for m, v in acc.items()))


if __name__ == "__main__":
    main()
