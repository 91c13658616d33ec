"""`features`: the identity embedder for items that already are numeric feature rows (tables).

`get_embedder("features").encode(rows)` stacks the rows into float32 [n, D]. There is nothing to
compute, so `CachedEmbedder` passes it through without a disk cache (`cacheable = False`).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

__all__ = ["FeatureEmbedder"]


class FeatureEmbedder:
    """Identity embedder: `encode(rows) -> float32 [n, D]`, each row a 1-d sequence of D finite
    numbers (numpy array or list); a ValueError names the first bad row."""

    name = "features"
    cache_key = "features-identity-v1"
    fingerprint = "identity"  # no weights: the rows are the vectors
    context_dependent = False
    cacheable = False  # CachedEmbedder calls encode directly: storing copies gains nothing

    def encode(self, items: Sequence[Any], *, batch_size: int | None = None,
               show_progress_bar: bool | None = None) -> np.ndarray:
        if isinstance(items, (str, bytes)):
            raise ValueError("items must be a list of numeric feature rows, not a single string")
        rows = list(items)  # a 2-d array is a list of rows too
        if not rows:
            raise ValueError("no items to embed: items is empty")
        out: list[np.ndarray] = []
        for i, row in enumerate(rows):
            x = np.asarray(row)
            if x.ndim != 1 or x.dtype.kind not in "biuf":
                raise ValueError(f"features: item {i} must be a 1-d row of numbers, got "
                                 f"{x.dtype} {x.shape}")
            if out and len(x) != len(out[0]):
                raise ValueError(f"features: item {i} has {len(x)} values, item 0 has "
                                 f"{len(out[0])}: rows must have the same length")
            x = x.astype(np.float32)
            if not np.isfinite(x).all():
                raise ValueError(f"features: item {i} holds NaN or inf (or values beyond float32)")
            out.append(x)
        return np.stack(out)

    def __repr__(self) -> str:
        return "FeatureEmbedder()"
