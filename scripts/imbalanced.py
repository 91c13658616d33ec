"""Imbalanced contexts: the original's projection and decision rule, then each of our changes in turn.

    python scripts/imbalanced.py --model smollm2

Contexts of k reviews drawn at random (not balanced) from the first 1200 training reviews, 5 seeds;
scored on all 1000 test reviews. Prints mean (std) accuracy per k for each cumulative setting of
TartClassifier (the last is its default), and logistic regression on the full embeddings of the
same contexts for reference.
"""

import argparse
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from tart import TartClassifier
from tart.classifier import ORIGINAL_SETTINGS
from tart.datasets import load_dataset
from tart.embed import CachedEmbedder, get_embedder

STEPS = (("the original", {}), ('+ center="balanced"', {"center": "balanced"}),
         ('+ class_prior="context"', {"class_prior": "context"}),
         ('+ standardize="auto"', {"standardize": "auto"}),
         ('+ projection="class-mean" (the default)', {"projection": "class-mean"}))


def settings() -> dict[str, dict]:
    """Cumulative keyword arguments per row; the last equals TartClassifier's defaults."""
    out, kwargs = {}, dict(ORIGINAL_SETTINGS)
    for name, change in STEPS:
        kwargs = {**kwargs, **change}
        out[name] = kwargs
    defaults = TartClassifier().get_params()
    if any(defaults[key] != value for key, value in kwargs.items()):
        raise RuntimeError(f"the last row {kwargs} is no longer TartClassifier's default")
    return out


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
    rows = settings()
    for k in args.ks:
        acc: dict[str, list[float]] = {name: [] for name in rows} | {"logreg, full embeddings": []}
        for seed in range(args.seeds):
            idx = np.random.default_rng(seed).choice(len(y_pool), k, replace=False)
            for name, kwargs in rows.items():
                clf = TartClassifier(**kwargs).fit(X_pool[idx], y_pool[idx])
                acc[name].append(np.mean(clf.predict(X_test) == y_test))
            lr = LogisticRegression(max_iter=3000).fit(X_pool[idx], y_pool[idx])
            acc["logreg, full embeddings"].append(np.mean(lr.predict(X_test) == y_test))
        print(f"k={k}:")
        for name, v in acc.items():
            print(f"  {name:42s} {np.mean(v):.3f} ({np.std(v):.3f})")


if __name__ == "__main__":
    main()
