"""The one place where names become embedders.

`get_embedder(spec)` turns a name, file, folder or hub id into an embedder. Known names resolve
to their offline asset's path by `tart.embed.names.locate`, which the embedder modules use too.
The embedder modules are imported only when one is built (they import torch, transformers).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from tart.embed.names import ASSET_KINDS, locate
from tart.embed.protocol import Embedder

__all__ = ["KNOWN_MODELS", "KINDS", "get_embedder", "locate", "guess_kind"]

KNOWN_MODELS = {
    "smollm2": "SmolLM2-135M-Instruct causal LM (offline asset; modes stream, vanilla, loo)",
    "minilm": "all-MiniLM-L6-v2 sentence encoder, 384-d (offline asset)",
    "whisper-tiny-en": "Whisper tiny.en audio encoder, 384-d, mean over the real-audio frames "
                       "(offline asset)",
    "mobilenet-v2": "MobileNetV2 ImageNet image encoder, 1280-d pooled features (offline asset)",
    "features": "identity for numeric feature rows (tables): the rows themselves, float32",
}
KINDS = ("causal-lm", "sentence", "audio", "image")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")  # org/name
_IMAGE_MODEL_TYPES = ("vit", "clip", "siglip", "dinov2", "deit", "beit", "convnext", "resnet",
                      "swin", "mobilenet")


def guess_kind(path: Path) -> str:
    """The kind of a local model folder: CTranslate2 Whisper or a .pth -> audio / image;
    transformers folders by their config's model_type; else sentence-transformers or causal LM."""
    if (path / "model.bin").is_file():
        return "audio"  # CTranslate2 (faster-whisper) format
    if (path / "modules.json").is_file() or (path / "config_sentence_transformers.json").is_file():
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
    if name in ASSET_KINDS:
        return _build(kind or ASSET_KINDS[name], locate(name), kwargs)
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
        return _build(kind or guess_kind(path), path, kwargs)
    if kind is not None or _HUB_ID.match(name):  # a hub id (needs internet once)
        guess = "audio" if "whisper" in name.lower() else "causal-lm"
        return _build(kind or guess, name, kwargs)
    raise ValueError(
        f"unknown embedder {name!r}: not a known name, a local path or a hub id 'org/name'. "
        "Known names: " + "; ".join(f"{k} ({v})" for k, v in KNOWN_MODELS.items())
    )


def _build(kind: str, model: Any, kwargs: dict) -> Embedder:
    """Construct the embedder class of `kind` (imported here: torch, transformers)."""
    if kind == "audio":
        from tart.embed.audio import WhisperEmbedder

        return WhisperEmbedder(model, **kwargs)
    if kind == "image":
        from tart.embed.vision import image_embedder

        return image_embedder(model, **kwargs)
    from tart.embed.text import CausalLMEmbedder, SentenceEmbedder

    return {"causal-lm": CausalLMEmbedder, "sentence": SentenceEmbedder}[kind](model, **kwargs)


def resolve_embedder(embedder: Any, kwargs: dict | None = None):
    """`TartClassifier`'s embedder: an object with `encode` as it is; a name, path or hub id loaded
    by `get_embedder` with `kwargs` (once per process: the last few are kept loaded)."""
    if not isinstance(embedder, (str, Path)) and hasattr(embedder, "encode"):
        if kwargs:
            raise ValueError("embedder_kwargs apply to embedder names, not to embedder objects")
        return embedder
    return _get_embedder_cached(embedder, tuple(sorted((kwargs or {}).items())))


@lru_cache(maxsize=4)
def _get_embedder_cached(name, kwargs: tuple):
    return get_embedder(name, **dict(kwargs))
