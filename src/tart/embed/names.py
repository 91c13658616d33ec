"""The known model names that are offline assets, and `locate`, which turns one into its path.

`locate(model)` turns a known name ("smollm2", "minilm", "whisper-tiny-en", "mobilenet-v2") into
its offline asset's path (through `tart.assets`) and passes anything else through. The embedder
modules (`text`, `audio`, `vision`), the registry that builds them and the baselines that load a
model themselves (`tart.eval.icl`, `tart.eval.finetune`) all resolve names here.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tart import assets

__all__ = ["ASSET_KINDS", "locate"]

ASSET_KINDS = {"smollm2": "causal-lm", "minilm": "sentence", "whisper-tiny-en": "audio",
               "mobilenet-v2": "image"}  # the known names that are offline model assets


def locate(model: Any) -> Any:
    """The asset path of a known model name; any other value (path, hub id, module) as is."""
    if isinstance(model, (str, Path)) and str(model) in ASSET_KINDS:
        return assets.model_path(str(model))
    return model
