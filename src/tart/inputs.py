"""`TartClassifier`'s boundary: the checks its inputs pass once on the way in, and the numeric
conditioning that lets the maps (float64) and the modules (float32) read any finite scale."""

from __future__ import annotations

import math

import numpy as np


def check_kind(X, where: str) -> None:
    """A TypeError for what is not a collection of rows or items (a single string, a number)."""
    if isinstance(X, (str, bytes)) or not (hasattr(X, "__iter__") or hasattr(X, "__array__")):
        raise TypeError(f"{where}: X must be an array of features or a list of items, got a single "
                        f"{type(X).__name__}")


def check_label_kinds(y) -> None:
    """A ValueError for labels that mix strings with numbers: numpy would turn [1, "a"] into the
    strings "1" and "a" without a word."""
    if isinstance(y, np.ndarray) and y.dtype != object:
        return
    try:
        values = np.asarray(y, dtype=object).ravel()
    except Exception:  # ragged input: check_classification_targets names it
        return
    kinds = {"string" if isinstance(v, (str, bytes, np.str_, np.bytes_)) else
             "number" if isinstance(v, (int, float, np.number, np.bool_)) else type(v).__name__
             for v in values}
    if len(kinds) > 1:
        raise ValueError(f"y has a mix of label types ({', '.join(sorted(kinds))}): give labels of one kind, "
                         "e.g. all strings or all integers")


# Inputs the maps (float64) and the module (float32) read safely, whatever the scale: see condition.
SAFE_EXPONENT = 100
QUERY_REACH = 2.0**40


def condition(ctx_KD: np.ndarray, q_MD: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """(context, queries) made safe for the maps' float64 arithmetic; ordinary inputs pass unchanged.

    The maps are scale-invariant, so a context whose largest |value| lies outside
    [2**-SAFE_EXPONENT, 2**SAFE_EXPONENT] (where variances overflow or underflow and every feature
    would be dropped) is rescaled, with its queries, by a power of two. Query values beyond
    QUERY_REACH times the context's largest |value| are clipped there (far out either way); mapped
    features are then clipped to +-`tart.plan.MAPPED_LIMIT` context scales, where the module's float32 would
    overflow."""
    m = float(np.abs(ctx_KD).max())
    s = 1.0 if m == 0.0 or 2.0**-SAFE_EXPONENT <= m <= 2.0**SAFE_EXPONENT else math.ldexp(1.0, -math.frexp(m)[1])
    if s != 1.0:
        ctx_KD = ctx_KD * s
    if q_MD is None:
        return ctx_KD, None
    with np.errstate(over="ignore"):
        q_MD = q_MD * s if s != 1.0 else q_MD
    if m > 0.0:
        lim = QUERY_REACH * m * s
        q_MD = np.clip(q_MD, -lim, lim)
    return ctx_KD, q_MD


def check_items(X, where: str) -> list:
    items = list(X)
    if not items:
        raise ValueError(f"{where}: X is empty (no items)")
    return items


def as_features(Z, n: int, what: str, n_features: int | None = None) -> np.ndarray:
    """An embedder's output, checked once: [n, D] (D as the context's), finite, float64."""
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or len(Z) != n or (n_features is not None and Z.shape[1] != n_features):
        want = f"[{n}, {'D' if n_features is None else n_features}]"
        raise ValueError(f"the embedder returned {what} features of shape {Z.shape}, expected {want}")
    if not np.isfinite(Z).all():
        raise ValueError(f"the embedder returned NaN or inf {what} features")
    return Z
