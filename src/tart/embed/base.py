"""The embedder protocol and `get_embedder`, the registry that turns a name or path into one.

An embedder maps items to vectors, `encode(items) -> float32 [n, D]`. `cache_key` names the
model and every setting that changes the vectors (mode, truncation, pooling, dtype), so
`tart.embed.cache.CachedEmbedder` can store vectors on disk per key. Context-dependent embedders
(the text modes `vanilla` and `loo`) embed an item inside a prompt of the k labelled context
examples, so they offer `encode_with_context` instead of a plain `encode`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Protocol, Sequence, runtime_checkable

import numpy as np

from tart.paths import file_ident  # noqa: F401  (re-exported: embedders name their files by it)

__all__ = ["Embedder", "ContextEmbedder", "KNOWN_MODELS", "KINDS", "get_embedder", "check_texts",
           "file_ident"]

KNOWN_MODELS = {
    "smollm2": "SmolLM2-135M-Instruct causal LM (offline asset; modes stream, vanilla, loo)",
    "minilm": "all-MiniLM-L6-v2 sentence encoder, 384-d (offline asset)",
    "whisper-tiny-en": "Whisper tiny.en audio encoder, 384-d, mean over the real-audio frames "
                       "(offline asset)",
    "mobilenet-v2": "MobileNetV2 ImageNet image encoder, 1280-d pooled features (offline asset)",
    "features": "identity for numeric feature rows (tables): the rows themselves, float32",
}
KINDS = ("causal-lm", "sentence", "audio", "image")
_DEFAULT_KIND = {"smollm2": "causal-lm", "minilm": "sentence", "whisper-tiny-en": "audio",
                 "mobilenet-v2": "image"}
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


_IMAGE_MODEL_TYPES = ("vit", "clip", "siglip", "dinov2", "deit", "beit", "convnext", "resnet",
                      "swin", "mobilenet")


def _guess_dir_kind(path: Path) -> str:
    """The kind of a local model folder: CTranslate2 Whisper or a .pth -> audio / image;
    transformers folders by their config's model_type; else sentence-transformers or causal LM."""
    if (path / "model.bin").is_file():
        return "audio"  # CTranslate2 (faster-whisper) format
    if _is_sentence_transformers_dir(path):
        return "sentence"
    config = path / "config.json"
    if config.is_file():
        model_type = str(json.loads(config.read_text()).get("model_type", ""))
        if model_type == "whisper":
            return "audio"
        if model_type.startswith(_IMAGE_MODEL_TYPES):
            return "image"
    elif any(path.glob("*.pth")):
        return "image"
    return "causal-lm"


def get_embedder(spec: Any, *, kind: str | None = None, **kwargs) -> Embedder:
    """An embedder from a name, path or hub id; an embedder instance is returned as is.

    spec: "smollm2" | "minilm" | "whisper-tiny-en" | "mobilenet-v2" (offline assets) |
    "features" (the identity for numeric rows, `tart.embed.features`; takes no options) | a .gguf
    file (de-quantised once) | a torchvision MobileNetV2 .pth file | a local model folder
    (CTranslate2 Whisper, transformers Whisper or image model, sentence-transformers, else a
    causal LM) | a hub id "org/name" for online users (a causal LM unless its name says whisper,
    e.g. "openai/whisper-base"). `kind="causal-lm"|"sentence"|"audio"|"image"` overrides the
    guess, e.g. `get_embedder("google/vit-base-patch16-224-in21k", kind="image")`. Other keyword
    arguments (mode, max_chars, device, dtype, batch_size, image_size, pool, ...) go to the
    embedder's constructor.
    """
    if not isinstance(spec, (str, Path)):
        if hasattr(spec, "encode") and hasattr(spec, "cache_key"):
            if kwargs or kind:
                raise ValueError("options cannot be applied to an embedder instance")
            return spec
        raise TypeError(f"embedder spec must be a name, path or embedder, not {type(spec).__name__}")
    if kind not in (None, *KINDS):
        raise ValueError(f"kind must be one of {', '.join(map(repr, KINDS))}, not {kind!r}")
    name = str(spec)
    path = Path(name).expanduser()
    if name == "features":
        if kwargs or kind:
            raise ValueError(f"the features embedder takes no options, got "
                             f"{sorted([*kwargs, *(['kind'] if kind else [])])}")
        from tart.embed.features import FeatureEmbedder

        return FeatureEmbedder()
    if name in KNOWN_MODELS:
        kind = kind or _DEFAULT_KIND[name]
        if kind in ("audio", "image"):
            return _build(kind, name, kwargs)  # these resolve their asset themselves
        from tart import assets

        return _build(kind, assets.model_path(name), kwargs)
    if name.endswith(".gguf"):
        if not path.is_file():
            raise FileNotFoundError(f"no GGUF file at {path}")
        from tart.embed.gguf import dequantize_gguf

        return _build(kind or "causal-lm", dequantize_gguf(path), kwargs)
    if name.endswith(".pth") or (path.is_file() and path.name == "model.bin"):
        if not path.is_file():
            raise FileNotFoundError(f"no model file at {path}")
        return _build(kind or ("image" if name.endswith(".pth") else "audio"), path, kwargs)
    if path.is_dir():
        return _build(kind or _guess_dir_kind(path), path, kwargs)
    if kind is not None or _HUB_ID.match(name):  # a hub id (needs internet once)
        guess = "audio" if "whisper" in name.lower() else "causal-lm"
        return _build(kind or guess, name, kwargs)
    raise ValueError(
        f"unknown embedder {name!r}: not a known name, a local path or a hub id 'org/name'. "
        "Known names: " + "; ".join(f"{k} ({v})" for k, v in KNOWN_MODELS.items())
    )


def _build(kind: str, model: Any, kwargs: dict) -> Embedder:
    """Construct the embedder class of `kind` (imported lazily: torch, transformers)."""
    if kind == "audio":
        from tart.embed.audio import WhisperEmbedder

        return WhisperEmbedder(model, **kwargs)
    if kind == "image":
        from tart.embed.vision import image_embedder

        return image_embedder(model, **kwargs)
    from tart.embed.text import CausalLMEmbedder, SentenceEmbedder

    return {"causal-lm": CausalLMEmbedder, "sentence": SentenceEmbedder}[kind](model, **kwargs)
