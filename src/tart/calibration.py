"""A temperature for a classifier's probabilities, chosen on the context alone (no test labels):
`TartClassifier(temperature="context")` and the grid's tart-ts method.

`context_temperature(make, X, y)`: cross-validation on the context: for up to `folds` folds, hold
out one example of each class (classes with a single example stay in; which ones is decided by a
seeded hash of each example's features, so renaming the classes or reordering the context picks
the same ones), fit `make()` on the rest,
predict the held-out ones; the temperature T in [0.25, 8] (log grid) that minimises the log-loss of
those held-out predictions, p ** (1/T) renormalised, is returned, shrunk towards 1 by the number of
held-out predictions (T = 1 when there are none). `apply_temperature(proba, T)` applies it.
"""

from __future__ import annotations

import hashlib
from typing import Callable

import numpy as np

GRID = np.exp(np.linspace(np.log(0.25), np.log(8.0), 41))


def apply_temperature(proba: np.ndarray, t: float) -> np.ndarray:
    """p ** (1/t), renormalised per row."""
    logp = np.log(np.clip(proba, 1e-15, None)) / t
    logp -= logp.max(1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(1, keepdims=True)


def context_temperature(make: Callable, X: np.ndarray, y: np.ndarray, folds: int = 4, seed: int = 0) -> float:
    """The temperature minimising cross-validated log-loss on the context (see the module doc)."""
    y = np.asarray(y)
    rows = np.ascontiguousarray(np.asarray(X, dtype=np.float64))
    salt = str(seed).encode()
    rank = np.array([hashlib.blake2b(r.tobytes(), digest_size=8, key=salt).digest() for r in rows])
    classes, y_idx = np.unique(y, return_inverse=True)
    order = [idx[np.argsort(rank[idx], kind="stable")] for idx in (np.flatnonzero(y_idx == c) for c in
                                                                  range(len(classes))) if len(idx) > 1]
    probas, truths = [], []
    for f in range(folds):
        held = np.sort(np.array([idx[f] for idx in order if f < len(idx) - 1], dtype=np.int64))
        if len(held) == 0:
            break
        keep = np.setdiff1d(np.arange(len(y)), held)
        clf = make().fit(X[keep], y[keep])
        p = clf.predict_proba(X[held])
        col = {c: i for i, c in enumerate(clf.classes_)}
        probas.append(p)
        truths.append(np.array([col[v] for v in y[held]]))
    if not probas:
        return 1.0
    P, t = np.concatenate(probas), np.concatenate(truths)
    losses = [-np.log(np.clip(apply_temperature(P, T)[np.arange(len(t)), t], 1e-15, None)).mean() for T in GRID]
    best = float(GRID[int(np.argmin(losses))])
    w = len(t) / (len(t) + 10.0)  # few held-out predictions: stay near 1
    return float(np.exp(w * np.log(best)))
