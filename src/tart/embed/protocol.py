"""What an embedder is: `Embedder` (items -> vectors) and `ContextEmbedder` (vectors that depend on
the labelled context), and the check every text embedder runs on its input.

An embedder maps items to vectors, `encode(items) -> float32 [n, D]`. `fingerprint` identifies
the weights it loaded (`tart.embed.runtime.weights_fingerprint`: a file or folder's sha256, a hub
commit, a digest of a module's tensors); `cache_key` holds it and every setting that changes the
vectors (mode, truncation, pooling, dtype), so `tart.embed.cache.CachedEmbedder` can store
vectors on disk per key and never serves vectors of other weights. Context-dependent embedders
(the text modes `vanilla` and `loo`) embed an item inside a prompt of the k labelled context
examples, so they offer `encode_with_context` instead of a plain `encode`.
"""

from __future__ import annotations

from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["Embedder", "ContextEmbedder", "check_texts"]


@runtime_checkable
class Embedder(Protocol):
    """Items -> vectors. `context_dependent` embedders need `encode_with_context` instead."""

    cache_key: str
    context_dependent: bool

    def encode(self, items: Sequence[Any], *, batch_size: int | None = None,
               show_progress_bar: bool | None = None) -> np.ndarray: ...


@runtime_checkable
class ContextEmbedder(Embedder, Protocol):
    """An embedder whose vectors depend on the labelled context (TART's vanilla/loo modes)."""

    def encode_with_context(self, context_items: Sequence[Any], context_label_words: Sequence[str],
                            query_items: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]: ...


def check_texts(items: Sequence[Any], what: str = "items", allow_empty: bool = False) -> list[str]:
    """Validate a list of texts: a non-empty sequence of str (a lone str is refused too)."""
    if isinstance(items, (str, bytes)):
        raise TypeError(f"{what} must be a list of strings, not a single {type(items).__name__}")
    items = list(items)
    if not items and not allow_empty:
        raise ValueError(f"no items to embed: {what} is empty")
    for i, t in enumerate(items):
        if not isinstance(t, str):
            raise TypeError(f"{what}[{i}] is a {type(t).__name__}, not a str: text embedders "
                            "take strings")
    return items
