"""The README's few-line examples, measured: k = 64 with the first 64 training items.

    python scripts/readme_lines.py             # text: amazon_food with SmolLM2 and MiniLM
    python scripts/readme_lines.py --media     # also spoken "on"/"up" (Whisper), pullover/coat (MobileNetV2)

Text: TartClassifier on the first 64 training reviews (their natural class mix), scored on all 1000
test reviews and on a class-balanced subset, with the default settings, then each default turned
back to the original's one at a time, then all four (the original's projection and decision rule),
against logistic regression on the full embeddings of the same 64 reviews.
Embeddings are cached on disk (TART_HOME/embeddings), so only the first run embeds.
"""

import argparse
import time
import warnings

import numpy as np
from sklearn.linear_model import LogisticRegression

from tart import TartClassifier
from tart.eval.fewshot import balanced_test
from tart.classifier import ORIGINAL_SETTINGS
from tart.datasets import load_dataset
from tart.embed import CachedEmbedder, get_embedder

SETTINGS = {"default": {}, 'projection="pca"': {"projection": "pca"},
            "standardize=False": {"standardize": False},
            'center="mean"': {"center": "mean"}, 'class_prior="uniform"': {"class_prior": "uniform"},
            "the original's (all four)": ORIGINAL_SETTINGS}


def text() -> None:
    ds = load_dataset("amazon_food")
    y_test, y_ctx = np.asarray(ds.test_labels), np.asarray(ds.train_labels[:64])
    bal = balanced_test(y_test, len(y_test))
    print(f"amazon_food: first 64 training reviews, class counts {np.bincount(y_ctx).tolist()}; "
          f"1000 test reviews (majority class {max(y_test.mean(), 1 - y_test.mean()):.3f}), "
          f"balanced subset of {len(bal)}")
    for name in ("smollm2", "minilm"):
        emb = CachedEmbedder(get_embedder(name))
        X_ctx, X_test = emb.encode(ds.train_texts[:64]), emb.encode(ds.test_texts)
        for label, kwargs in SETTINGS.items():
            t = time.perf_counter()
            pred = TartClassifier(**kwargs).fit(X_ctx, y_ctx).predict(X_test)
            print(f"  {name:8s} tart, {label:26s} {np.mean(pred == y_test):.3f} / "
                  f"{np.mean(pred[bal] == y_test[bal]):.3f}  ({time.perf_counter() - t:.1f} s)")
        pred = LogisticRegression(max_iter=3000).fit(X_ctx, y_ctx).predict(X_test)
        print(f"  {name:8s} logistic regression, full embeddings {np.mean(pred == y_test):.3f} / "
              f"{np.mean(pred[bal] == y_test[bal]):.3f}")


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
