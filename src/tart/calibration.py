"""A temperature for a classifier's probabilities, chosen on the context alone (no test labels):
`TartClassifier(temperature="auto")` (the default) and `"context"`.

`context_temperature(make, X, y)`: stratified k-fold cross-validation on the context: each class's
examples, sorted by their features (lexicographically: exactly the same order after renaming the
classes, reordering the context or scaling every feature by a common power of two), are dealt
round-robin into `folds` folds, starting at fold `seed` (a class with a single example always
stays in), and folds are run, `make()` fitted on the rest and the held-out
examples predicted, until `enough` held-out predictions are gathered (or the folds run out; a
fold holding out more than are still needed predicts that many, spread over the features' order,
which bounds the cost with many classes). The
temperature T in [0.25, 8] (log grid) that minimises the log-loss of those predictions,
p ** (1/T) renormalised, is returned, shrunk towards 1 by the number n of held-out predictions
(log T scaled by n / (n + 10); T = 1 when there are none). `apply_temperature(proba, T)` applies it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from tart.plan import apply_temperature
from tart.projection import feature_order

GRID = np.exp(np.linspace(np.log(0.25), np.log(8.0), 41))


def context_folds(rows_KD: np.ndarray, y: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Each context example's fold [K] (-1: never held out): each class's examples, in their
    features' order, dealt round-robin from fold `seed`; a class with one example always stays in,
    so every fold leaves at least one example of each class in."""
    fold_of = np.full(len(y), -1)
    for c in np.unique(y):
        idx = np.flatnonzero(y == c)
        if len(idx) > 1:
            fold_of[idx[feature_order(rows_KD[idx])]] = (np.arange(len(idx)) + seed) % folds
    return fold_of


def temperature_folds(rows_KD: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0,
                      enough: int = 64) -> list[tuple[np.ndarray, np.ndarray]]:
    """(kept rows, held-out rows) of each fold `context_temperature` runs (see the module doc)."""
    fold_of = context_folds(rows_KD, y, folds, seed)
    out, gathered = [], 0
    for f in range(folds):
        held = np.flatnonzero(fold_of == f)
        if len(held) == 0:
            break
        keep = np.flatnonzero(fold_of != f)
        need = enough - gathered
        if len(held) > need:  # predict only what is needed, spread over the features' order
            held = held[feature_order(rows_KD[held])][np.linspace(0, len(held) - 1, need).astype(int)]
        out.append((keep, held))
        gathered += len(held)
        if gathered >= enough:
            break
    return out


def fit_temperature(P_NL: np.ndarray, truth_N: np.ndarray) -> float:
    """The grid temperature minimising the log-loss of held-out probabilities P [N, L] of the true
    columns `truth_N`, shrunk towards 1 by N (log T scaled by N / (N + 10)); 1 when N = 0."""
    if len(truth_N) == 0:
        return 1.0
    losses = [-np.log(np.clip(apply_temperature(P_NL, T)[np.arange(len(truth_N)), truth_N], 1e-15, None)).mean()
              for T in GRID]
    best = float(GRID[int(np.argmin(losses))])
    w = len(truth_N) / (len(truth_N) + 10.0)  # few held-out predictions: stay near 1
    return float(np.exp(w * np.log(best)))


def context_temperature(make: Callable, X: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0,
                        enough: int = 64) -> float:
    """The temperature minimising cross-validated log-loss on the context of any classifier
    `make()` (see the module doc)."""
    y = np.asarray(y)
    rows_KD = np.asarray(X, dtype=np.float64).reshape(len(y), -1)
    probas, truths = [], []
    for keep, held in temperature_folds(rows_KD, y, folds, seed, enough):
        clf = make().fit(X[keep], y[keep])
        col = {c: i for i, c in enumerate(clf.classes_)}
        probas.append(clf.predict_proba(X[held]))
        truths.append(np.array([col[v] for v in y[held]]))
    if not probas:
        return 1.0
    return fit_temperature(np.concatenate(probas), np.concatenate(truths))
