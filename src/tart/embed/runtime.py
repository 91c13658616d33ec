"""Torch helpers shared by the embedders, the baselines and the trainer: device, dtype, identity."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import torch

__all__ = ["resolve_device", "resolve_dtype", "cpu_has_fast_bf16", "dtype_name", "model_ident"]


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


def model_ident(name_or_path: str, config: Any) -> str:
    """A short identity for cache keys: the path or hub id plus a hash of the config."""
    cfg = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return f"{name_or_path}#{hashlib.sha256(cfg.encode()).hexdigest()[:10]}"
