"""Embedders: frozen pre-trained models that turn items into vectors for the reasoning module.

`get_embedder("smollm2", mode="stream")` -> an embedder with `encode(items) -> float32 [n, D]`;
`CachedEmbedder(embedder)` stores vectors on disk so each text is embedded once per model.
Audio: `get_embedder("whisper-tiny-en")` (Whisper encoder, `tart.embed.audio`); images:
`get_embedder("mobilenet-v2")` or a transformers image model (`tart.embed.vision`); numeric
table rows: `get_embedder("features")`, the identity (`tart.embed.features`).

Modules: `protocol` (what an embedder is), `registry` (names -> embedders), `names` (known
names -> asset paths), `runtime` (device, dtype, model identity), `prompted` (a causal LM running
TART's prompts), `text`, `audio` (+ `ctranslate2`, its model-file reader), `vision`, `features`,
`cache`, `gguf`.
"""

from tart.embed.cache import CachedEmbedder
from tart.embed.protocol import ContextEmbedder, Embedder
from tart.embed.registry import KNOWN_MODELS, get_embedder

__all__ = ["Embedder", "ContextEmbedder", "KNOWN_MODELS", "get_embedder", "CachedEmbedder",
           "CausalLMEmbedder", "SentenceEmbedder", "WhisperEmbedder", "MobileNetV2Embedder",
           "HFImageEmbedder", "FeatureEmbedder"]

_LAZY = {"CausalLMEmbedder": "text", "SentenceEmbedder": "text", "WhisperEmbedder": "audio",
         "MobileNetV2Embedder": "vision", "HFImageEmbedder": "vision", "FeatureEmbedder": "features"}


def __getattr__(name: str):  # the modality modules import torch/transformers lazily
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"tart.embed.{_LAZY[name]}"), name)
    raise AttributeError(name)
