"""The embedder protocol and `get_embedder`, the registry that turns a name or path into one.

An embedder maps items to vectors, `encode(items) -> float32 [n, D]`. `cache_key` names the
model and every setting that changes the vectors (mode, truncation, pooling, dtype), so
`tart.embed.cache.CachedEmbedder` can store vectors on disk per key. Context-dependent embedders
(the text modes `vanilla` and `loo`) embed an item inside a prompt of the k labelled context
examples, so they offer `encode_with_context` instead of a plain `encode`.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

__all__ = ["Embedder", "ContextEmbedder", "KNOWN_MODELS", "get_embedder", "check_texts"]

KNOWN_MODELS = {
    "smollm2": "SmolLM2-135M-Instruct causal LM (offline asset; modes stream, vanilla, loo)",
    "minilm": "all-MiniLM-L6-v2 sentence encoder, 384-d (offline asset)",
}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # org/name


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


def _is_sentence_transformers_dir(path: Path) -> bool:
    return (path / "modules.json").is_file() or (path / "config_sentence_transformers.json").is_file()


def get_embedder(spec: Any, *, kind: str | None = None, **kwargs) -> Embedder:
    """An embedder from a name, path or hub id; an embedder instance is returned as is.

    spec: "smollm2" | "minilm" (offline assets) | a .gguf file (de-quantised once) | a local
    model folder (sentence-transformers if it has modules.json, else a causal LM) | a hub id
    "org/name" for online users. `kind="causal-lm"|"sentence"` overrides the guess. Other
    keyword arguments (mode, max_chars, max_tokens, device, dtype, batch_size, ...) go to the
    embedder's constructor.
    """
    if not isinstance(spec, (str, Path)):
        if hasattr(spec, "encode") and hasattr(spec, "cache_key"):
            if kwargs or kind:
                raise ValueError("options cannot be applied to an embedder instance")
            return spec
        raise TypeError(f"embedder spec must be a name, path or embedder, not {type(spec).__name__}")
    if kind not in (None, "causal-lm", "sentence"):
        raise ValueError(f"kind must be 'causal-lm' or 'sentence', not {kind!r}")
    from tart import assets
    from tart.embed.text import CausalLMEmbedder, SentenceEmbedder

    build = {"causal-lm": CausalLMEmbedder, "sentence": SentenceEmbedder}
    name = str(spec)
    if name in KNOWN_MODELS:
        default = "sentence" if name == "minilm" else "causal-lm"
        return build[kind or default](assets.model_path(name), **kwargs)
    path = Path(name).expanduser()
    if name.endswith(".gguf"):
        if not path.is_file():
            raise FileNotFoundError(f"no GGUF file at {path}")
        return build[kind or "causal-lm"](assets.dequantize_gguf(path), **kwargs)
    if path.is_dir():
        guess = "sentence" if _is_sentence_transformers_dir(path) else "causal-lm"
        return build[kind or guess](path, **kwargs)
    if kind is not None or _HUB_ID.match(name):
        return build[kind or "causal-lm"](name, **kwargs)  # a hub id (needs internet once)
    raise ValueError(
        f"unknown embedder {name!r}: not a known name, a local path or a hub id 'org/name'. "
        "Known names: " + "; ".join(f"{k} ({v})" for k, v in KNOWN_MODELS.items())
    )
