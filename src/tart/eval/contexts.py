"""Context and test samples for few-shot evaluation.

Contexts are nested and class-balanced: for a seed, each class's pool indices are shuffled once and
the context of size k takes the first k/2 of each, so the k=32 context contains the k=16 one. The
test set is a fixed class-balanced sample drawn from the test split.
"""

from __future__ import annotations

import numpy as np


def balanced_context(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of a class-balanced context of size k (nested in k for a fixed seed)."""
    if k % 2:
        raise ValueError(f"k must be even for a balanced binary context, got {k}")
    rng = np.random.default_rng(seed)
    parts = []
    for c in (0, 1):
        idx = rng.permutation(np.flatnonzero(y == c))
        if len(idx) < k // 2:
            raise ValueError(f"class {c} has {len(idx)} examples, the context needs {k // 2}")
        parts.append(idx[: k // 2])
    order = np.random.default_rng(seed + 10_000).permutation(k)
    return np.concatenate(parts)[order]


def random_context(y: np.ndarray, k: int, seed: int) -> np.ndarray:
    """Indices of k pool items drawn at random (no class balance), seeded."""
    return np.random.default_rng(seed).choice(len(y), k, replace=False)


def balanced_test(y: np.ndarray, n: int, seed: int = 0) -> np.ndarray:
    """Indices of a class-balanced test sample of size n (or fewer if a class runs out)."""
    rng = np.random.default_rng(seed)
    per = min(n // 2, *(int((y == c).sum()) for c in (0, 1)))
    return np.sort(np.concatenate([rng.permutation(np.flatnonzero(y == c))[:per] for c in (0, 1)]))
