"""Imbalanced contexts: the original's projection and decision rule, then each of our changes in turn.

    python scripts/imbalanced.py --model smollm2

Contexts of k reviews drawn at random (not balanced) from the first 1200 training reviews, 5 seeds;
scored on all 1000 test reviews. Prints mean (std) accuracy per k for each cumulative setting of
TartClassifier (the last is its default), and logistic regression on the full embeddings of the
same contexts for reference; the loop is the `tart eval` runner's (tart.eval.runner.run_cells).
"""

import argparse
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from tart import TartClassifier
from tart.classifier import ORIGINAL_SETTINGS
from tart.datasets import load_dataset
from tart.embed import CachedEmbedder, get_embedder
from tart.eval.contexts import random_context
from tart.eval.methods import Method, Setup, on_features, tart_on_features
from tart.eval.report import table
from tart.eval.runner import run_cells

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


def logreg(Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray) -> np.ndarray:
    """Logistic regression on the full embeddings, default C."""
    return LogisticRegression(max_iter=3000).fit(Xc, yc).predict(Xq)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2")
    p.add_argument("--ks", type=int, nargs="+", default=[32, 64, 128, 256])
    p.add_argument("--seeds", type=int, default=5)
    args = p.parse_args()
    warnings.filterwarnings("ignore")
    ds = load_dataset("amazon_food")
    emb = CachedEmbedder(get_embedder(args.model))
    pool, test = ds.train_items[:1200], ds.test_items
    y_pool, y_test = np.asarray(ds.train_labels[:1200]), np.asarray(ds.test_labels)
    setup = Setup("amazon_food", args.model, ds.modality, ds.label_names, pool, y_pool, test, y_test,
                  emb, emb.encode(pool), emb.encode(test))
    registry = {name: Method(name, tart_on_features(**kwargs)) for name, kwargs in settings().items()}
    registry["logreg, full embeddings"] = Method("logreg, full embeddings", on_features(logreg))
    print(f"amazon_food, {args.model}: pool class-1 share {y_pool.mean():.3f}, test majority "
          f"{max(y_test.mean(), 1 - y_test.mean()):.3f}; mean (std) accuracy over {args.seeds} seeds")
    rows = list(run_cells(setup, list(registry), args.ks, range(args.seeds), registry,
                          contexts=random_context))
    print(table(rows))


if __name__ == "__main__":
    main()
