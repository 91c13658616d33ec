"""Accuracy floors for the real-model tests: a linear probe on real embeddings of fixed data.

A broken embedder (weights not loaded, padding pooled, wrong normalisation) can still give
vectors of the right shape, deterministically; only accuracy on real labelled data shows that
the vectors carry the signal. `probe_accuracy` is the mean accuracy of a standardised logistic
regression over 4 stratified folds (shuffled with seed 0), `heldout_accuracy` its accuracy on
held-out rows: deterministic for fixed vectors. Each floor is set below the measured accuracy
and, where it was measured, above that of the same model with random weights.
"""

from __future__ import annotations

import numpy as np


def balanced_slice(items, labels, per_class: int) -> tuple[list, np.ndarray]:
    """The first `per_class` items of each of the two classes, in order (a fixed slice)."""
    labels = np.asarray(labels)
    idx = np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in (0, 1)])
    assert len(idx) == 2 * per_class, "too few items of a class"
    return [items[i] for i in idx], labels[idx]


def _probe():
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=0.1, max_iter=5000))


def probe_accuracy(Z: np.ndarray, y: np.ndarray) -> float:
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    folds = StratifiedKFold(4, shuffle=True, random_state=0)
    return float(cross_val_score(_probe(), Z, y, cv=folds).mean())


def heldout_accuracy(Z: np.ndarray, y: np.ndarray, train: np.ndarray) -> float:
    """Fit the probe on the rows where `train` is True, score it on the others."""
    return float(_probe().fit(Z[train], y[train]).score(Z[~train], y[~train]))
