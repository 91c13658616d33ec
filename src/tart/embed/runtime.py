"""Torch helpers shared by the embedders, the baselines and the trainer: device, dtype, identity.

An embedder's identity (`model_ident`, part of its `cache_key`) carries the fingerprint of the
weights it actually loaded (`weights_fingerprint`): the sha256 of a local model file or folder,
the commit a hub id resolved to, or a digest of an in-memory module's tensors. So an embedding
cache never serves vectors computed with other weights (a folder retrained in place, a hub model
that moved).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import torch

from tart.fingerprint import model_fingerprint

__all__ = ["resolve_device", "resolve_dtype", "cpu_has_fast_bf16", "dtype_name", "model_ident",
           "weights_fingerprint", "module_digest"]


def resolve_device(device: str | torch.device | None = "auto") -> torch.device:
    """"auto" (or None): cuda if available, else cpu; otherwise the device named."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with AMX tiles and AVX512-BF16 (Intel Sapphire Rapids and later)."""
    return bool(torch.cpu._is_amx_tile_supported() and torch.cpu._is_avx512_bf16_supported())


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """Auto: bf16 on CUDA and on CPUs with AMX bf16, fp32 elsewhere; or as given ("float32", ...)."""
    if dtype is None or dtype == "auto":
        fast = device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())
        return torch.bfloat16 if fast else torch.float32
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def dtype_name(dtype: torch.dtype) -> str:
    """"float32", "bfloat16", ... as cache keys spell it."""
    return str(dtype).removeprefix("torch.")


def module_digest(module: torch.nn.Module) -> str:
    """sha256 over the names, dtypes, shapes and bytes of a module's parameters and buffers."""
    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}\n".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def weights_fingerprint(source: Any, module: torch.nn.Module | None = None) -> str:
    """The fingerprint of the weights an embedder loaded from `source`.

    A local file or folder: 'sha256:<hex>' of its bytes (memoised by `tart.fingerprint`). A hub
    id: 'hub:<id>@<commit>', the commit transformers resolved (`config._commit_hash`) when known.
    Otherwise (an in-memory module, or a hub id whose commit is unknown): 'tensors:<hex>', a
    digest of `module`'s parameters and buffers.
    """
    if isinstance(source, (str, Path)) and Path(source).expanduser().exists():
        return model_fingerprint(source)
    config = getattr(module, "config", None)
    commit = getattr(config, "_commit_hash", None)
    if isinstance(source, str) and commit:
        return model_fingerprint(source, revision=commit)
    if module is None:
        raise ValueError(f"cannot fingerprint {source!r}: no local file and no loaded module")
    return "tensors:" + module_digest(module)


def model_ident(name_or_path: Any, config: Any, fingerprint: str) -> str:
    """A short identity for cache keys: the model's name (a path's last part, a hub id or a class
    name), a hash of its config, and the fingerprint of its weights."""
    name = Path(name_or_path).name if Path(str(name_or_path)).expanduser().exists() else name_or_path
    cfg = json.dumps(config.to_dict(), sort_keys=True, default=str) if config is not None else ""
    return f"{name}#{hashlib.sha256(cfg.encode()).hexdigest()[:10]}@{fingerprint}"
