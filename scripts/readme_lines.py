"""The README's few-line examples, measured: k = 64 with the first 64 training items.

    python scripts/readme_lines.py             # text: amazon_food with SmolLM2 and MiniLM
    python scripts/readme_lines.py --media     # also spoken "on"/"up" (Whisper), pullover/coat (MobileNetV2)

Text: TartClassifier on the first 64 training reviews (their natural class mix), scored on all 1000
test reviews and on a class-balanced subset, with the default settings, then each default turned
back to the original's one at a time, then all four (the original's projection and decision rule),
against logistic regression on the full embeddings of the same 64 reviews (through the `tart eval`
runner, tart.eval.runner.run_cells, with the first 64 items as the context).
Embeddings are cached on disk (TART_HOME/embeddings), so only the first run embeds.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from tart import TartClassifier
from tart.classifier import ORIGINAL_SETTINGS
from tart.datasets import load_dataset
from tart.embed import CachedEmbedder, get_embedder
from tart.eval.contexts import balanced_test
from tart.eval.methods import Method, Setup, on_features, tart_on_features
from tart.eval.runner import run_cells

SETTINGS = {"default": {}, 'projection="pca"': {"projection": "pca"},
            "standardize=False": {"standardize": False},
            'center="mean"': {"center": "mean"}, 'class_prior="uniform"': {"class_prior": "uniform"},
            "the original's (all four)": ORIGINAL_SETTINGS}
LOGREG = "logistic regression, full embeddings"


def logreg(Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray) -> np.ndarray:
    """Logistic regression on the full embeddings, default C."""
    return LogisticRegression(max_iter=3000).fit(Xc, yc).predict(Xq)


def first_k(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """The context is the first k pool items (their natural class mix), whatever the seed."""
    return np.arange(k)


def text() -> None:
    ds = load_dataset("amazon_food")
    y_test, y_ctx = np.asarray(ds.test_labels), np.asarray(ds.train_labels[:64])
    bal = balanced_test(y_test, len(y_test))
    print(f"amazon_food: first 64 training reviews, class counts {np.bincount(y_ctx).tolist()}; "
          f"1000 test reviews (majority class {max(y_test.mean(), 1 - y_test.mean()):.3f}), "
          f"balanced subset of {len(bal)}")
    registry = {name: Method(name, tart_on_features(**kw)) for name, kw in SETTINGS.items()}
    registry[LOGREG] = Method(LOGREG, on_features(logreg))
    for name in ("smollm2", "minilm"):
        emb = CachedEmbedder(get_embedder(name))
        X_ctx, X_test = emb.encode(ds.train_items[:64]), emb.encode(ds.test_items)
        acc = {}
        for part, idx in (("all", np.arange(len(y_test))), ("balanced", bal)):
            setup = Setup("amazon_food", name, "text", ds.label_names, ds.train_items[:64], y_ctx,
                          [ds.test_items[i] for i in idx], y_test[idx], emb, X_ctx, X_test[idx])
            for row in run_cells(setup, list(registry), (64,), (0,), registry, contexts=first_k):
                acc[row["method"], part] = row
        for method in registry:
            label = "tart, " + f"{method:26s}" if method in SETTINGS else method
            print(f"  {name:8s} {label} {acc[method, 'all']['acc']:.3f} / "
                  f"{acc[method, 'balanced']['acc']:.3f}  ({acc[method, 'all']['seconds']:.1f} s)")


def media() -> None:
    for dataset, embedder, n_test in (("spoken_keywords:on-up", "whisper-tiny-en", None),
                                      ("fashion_mnist:pullover-coat", "mobilenet-v2", 300)):
        ds = load_dataset(dataset)
        test = ds.test_items if n_test is None else ds.test_items[:n_test]
        y_test = np.asarray(ds.test_labels[: len(test)])
        t = time.perf_counter()
        clf = TartClassifier(embedder=embedder).fit(ds.train_items[:64], ds.train_labels[:64])
        acc = np.mean(np.asarray(clf.predict(test)) == y_test)
        seconds = time.perf_counter() - t
        lr = LogisticRegression(max_iter=5000).fit(clf.context_, ds.train_labels[:64])  # embedded by fit
        X_test = clf.embedder_.encode(test)
        print(f"{dataset}, {embedder}: tart {acc:.3f} on {len(test)} test items ({seconds:.0f} s incl. "
              f"embedding); logistic regression, full embeddings {np.mean(lr.predict(X_test) == y_test):.3f}")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--media", action="store_true", help="also the speech and image lines")
    args = p.parse_args()
    warnings.filterwarnings("ignore", category=FutureWarning)
    text()
    if args.media:
        media()
