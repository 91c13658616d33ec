"""Context and test samples for few-shot evaluation.

Contexts are nested and class-balanced: for a seed, each class's pool indices are shuffled once and
the context takes the first n of each, so a larger context contains the smaller one. Binary data
sets count k in total (n = k/2 per class, as the binary grids always did); multi-class ones count k
per class (`per_class=True`: n = k, the context holds k * L examples). The test set is a fixed
class-balanced sample drawn from the test split.
"""

from __future__ import annotations

import numpy as np


def balanced_context(y: np.ndarray, k: int, seed: int, per_class: bool = False) -> np.ndarray:
    """Indices of a class-balanced context (nested in k for a fixed seed): k in total over two
    classes, or k per class with `per_class` (any number of classes)."""
    classes = np.unique(y) if per_class else np.array([0, 1])
    if per_class:
        n = k
    else:
        if k % 2:
            raise ValueError(f"k must be even for a balanced binary context, got {k}")
        n = k // 2
    rng = np.random.default_rng(seed)
    parts = []
    for c in classes:
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < n:
            raise ValueError(f"class {c} has {len(idx)} examples, the context needs {n}")
        parts.append(idx[:n])
    total = n * len(classes)
    order = np.random.default_rng(seed + 10_000).permutation(total)
    return np.concatenate(parts)[order]


def random_context(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of k pool items drawn at random (no class balance), seeded."""
    return np.random.default_rng(seed).choice(len(y), k, replace=False)


def balanced_test(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced test sample of about n items (n // L per class, or fewer if a
    class runs out: then every class gives as many as the smallest)."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y) if len(np.unique(y)) > 2 else np.array([0, 1])
    per = min(n // len(classes), *(int((y == c).sum()) for c in classes))
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in classes]))


def balanced_pool(y: np.ndarray, size: int, seed: int = 0) -> np.ndarray:
    """Indices of a pool of about `size` training items for a multi-class data set: ceil(size / L)
    of each class (all of a smaller class), in a seeded random order."""
    rng = np.random.default_rng(seed)
    classes = np.unique(y)
    per = -(-size // len(classes))
    return rng.permutation(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in classes]))
