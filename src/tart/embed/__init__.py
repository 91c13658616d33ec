"""Embedders: frozen pre-trained models that turn items into vectors for the reasoning module.

`get_embedder("smollm2", mode="stream")` -> an embedder with `encode(items) -> float32 [n, D]`;
`CachedEmbedder(embedder)` stores vectors on disk so each text is embedded once per model.
"""

from tart.embed.base import KNOWN_MODELS, ContextEmbedder, Embedder, get_embedder
from tart.embed.cache import CachedEmbedder

__all__ = ["Embedder", "ContextEmbedder", "KNOWN_MODELS", "get_embedder", "CachedEmbedder",
           "CausalLMEmbedder", "SentenceEmbedder"]


def __getattr__(name: str):  # the text module imports torch/transformers lazily
    if name in ("CausalLMEmbedder", "SentenceEmbedder"):
        from tart.embed import text

        return getattr(text, name)
    raise AttributeError(name)
