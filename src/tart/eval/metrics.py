"""Scores of one cell: accuracy, macro-F1, and, from probabilities, top-label ECE and log-loss.

A method returns labels [m] or probabilities [m, L] (columns: classes 0..L-1, the context's
classes); `scores(out, y_true, n_classes)` gives {"acc", "macro_f1", "ece", "log_loss"} with
ece/log_loss None for label-only methods.
"""

from __future__ import annotations

import numpy as np

ECE_BINS = 15
PROBA_FLOOR = 1e-15


def ece(proba: np.ndarray, y: np.ndarray, n_bins: int = ECE_BINS) -> float:
    """Expected calibration error, top-label, equal-width confidence bins: sum over bins of
    (bin size / n) * |accuracy - mean confidence|."""
    conf = proba.max(1)
    correct = (proba.argmax(1) == y).astype(float)
    bins = np.minimum((conf * n_bins).astype(int), n_bins - 1)
    total = 0.0
    for b in np.unique(bins):
        m = bins == b
        total += m.mean() * abs(correct[m].mean() - conf[m].mean())
    return float(total)


def log_loss(proba: np.ndarray, y: np.ndarray) -> float:
    """Mean negative log-probability of the true class (probabilities floored at 1e-15)."""
    return float(-np.log(np.clip(proba[np.arange(len(y)), y], PROBA_FLOOR, None)).mean())


def macro_f1(pred: np.ndarray, y: np.ndarray, n_classes: int) -> float:
    """Unweighted mean over the classes of the test set of per-class F1 (0 for a class never hit)."""
    f1 = []
    for c in range(n_classes):
        tp = np.sum((pred == c) & (y == c))
        fp, fn = np.sum((pred == c) & (y != c)), np.sum((pred != c) & (y == c))
        if tp + fn == 0:
            continue
        f1.append(2 * tp / max(2 * tp + fp + fn, 1))
    return float(np.mean(f1)) if f1 else 0.0


def scores(out, y: np.ndarray, n_classes: int) -> dict:
    """{"acc", "macro_f1", "ece", "log_loss"} of a method's output (labels or probabilities)."""
    out = np.asarray(out)
    y = np.asarray(y)
    if out.ndim == 2:
        if out.shape != (len(y), n_classes):
            raise ValueError(f"probabilities of shape {out.shape}, expected {(len(y), n_classes)}")
        proba = out / out.sum(1, keepdims=True)
        pred = proba.argmax(1)
        cal = {"ece": round(ece(proba, y), 6), "log_loss": round(log_loss(proba, y), 6)}
    else:
        pred, cal = out, {"ece": None, "log_loss": None}
    return {"acc": float((pred == y).mean()), "macro_f1": round(macro_f1(pred, y, n_classes), 6), **cal}
