"""Checkpoint files: `config.json` + safetensors weights (optionally sharded), written atomically.

Layout of a model folder (the Hugging Face shape, loadable from a local path):
    config.json                      the model config (JSON)
    model.safetensors                all tensors, or, when sharded:
    model-00001-of-00003.safetensors ... + model.safetensors.index.json (weight_map: key -> file)
Nothing is ever pickled: training state (optimizer moments, RNG states) is safetensors too.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
INDEX = "model.safetensors.index.json"


class CheckpointError(ValueError):
    """A checkpoint folder is missing, corrupt, or does not match the model it should build."""


def _umask_mode() -> int:
    """The mode a plain `open()` would give a new file (mkstemp's files are 0600)."""
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: object) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict | None = None):
    """`safetensors.save_file` through a temp file and an atomic rename."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
        save_file(tensors, tmp, metadata=meta)
        os.chmod(tmp, _umask_mode())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_model(
    path: str | Path, config: dict, state: dict[str, torch.Tensor], max_shard_mb: float | None = None
) -> None:
    """Write a model folder; with `max_shard_mb`, split tensors into shards of at most that size."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    shards: list[dict[str, torch.Tensor]] = [{}]
    limit = None if max_shard_mb is None else max_shard_mb * 2**20
    size = 0
    for key, t in state.items():
        nbytes = t.numel() * t.element_size()
        if limit is not None and shards[-1] and size + nbytes > limit:
            shards.append({})
            size = 0
        shards[-1][key] = t
        size += nbytes
    for old in path.glob("model*.safetensors*"):  # drop a previous layout first
        old.unlink()
    if len(shards) == 1:
        atomic_save_tensors(path / WEIGHTS, shards[0], {"format": "pt"})
    else:
        weight_map = {}
        for i, shard in enumerate(shards, start=1):
            name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
            atomic_save_tensors(path / name, shard, {"format": "pt"})
            weight_map.update({k: name for k in shard})
        total = sum(t.numel() * t.element_size() for t in state.values())
        atomic_write_json(path / INDEX, {"metadata": {"total_size": total}, "weight_map": weight_map})
    atomic_write_json(path / CONFIG, config)


def load_tensors(file: Path) -> dict[str, torch.Tensor]:
    """Read one safetensors file, turning any decoding failure into a CheckpointError."""
    if not file.is_file():
        raise CheckpointError(f"missing weights file {file}")
    try:
        return load_file(str(file))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CheckpointError(f"{file} is corrupt or not a safetensors file: {e}") from e


def load_model(path: str | Path) -> tuple[dict, dict[str, torch.Tensor]]:
    """Read (config dict, tensors) from a model folder, single-file or sharded."""
    path = Path(path)
    if not path.is_dir():
        raise CheckpointError(f"checkpoint folder {path} does not exist")
    try:
        config = json.loads((path / CONFIG).read_text())
    except FileNotFoundError as e:
        raise CheckpointError(f"{path} has no {CONFIG}") from e
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{path / CONFIG} is not valid JSON: {e}") from e
    if (path / WEIGHTS).is_file():
        return config, load_tensors(path / WEIGHTS)
    if not (path / INDEX).is_file():
        raise CheckpointError(f"{path} has neither {WEIGHTS} nor {INDEX}")
    try:
        weight_map = json.loads((path / INDEX).read_text())["weight_map"]
    except (json.JSONDecodeError, KeyError) as e:
        raise CheckpointError(f"{path / INDEX} is not a valid shard index: {e}") from e
    state: dict[str, torch.Tensor] = {}
    for name in sorted(set(weight_map.values())):
        state.update(load_tensors(path / name))
    if set(state) != set(weight_map):
        raise CheckpointError(f"{path}: shard contents do not match {INDEX}")
    return config, state


def check_state(expected: dict[str, torch.Tensor], found: dict[str, torch.Tensor], path) -> None:
    """Raise a CheckpointError naming every missing, unexpected or mis-shaped tensor."""
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    shapes = [
        f"{k}: checkpoint {tuple(found[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in sorted(set(expected) & set(found))
        if found[k].shape != expected[k].shape
    ]
    problems = []
    if missing:
        problems.append(f"missing tensors {missing[:8]}{' ...' if len(missing) > 8 else ''}")
    if unexpected:
        problems.append(f"unexpected tensors {unexpected[:8]}{' ...' if len(unexpected) > 8 else ''}")
    if shapes:
        problems.append("shape mismatches (does config.json match the weights?) " + "; ".join(shapes[:8]))
    if problems:
        raise CheckpointError(f"{path}: checkpoint does not match its config: " + "; ".join(problems))


class ConfigMixin:
    """`to_dict` / `from_dict` for a model config dataclass. config.json's bookkeeping keys
    (`model_type`, `preset`) are ignored; any other unknown key is a ValueError naming the
    subclass's `config_name`."""

    config_name = "model"

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, cfg: dict):
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = set(cfg) - known - {"model_type", "preset"}
        if unknown:
            raise ValueError(f"unknown {cls.config_name} config keys: {sorted(unknown)}")
        return cls(**{k: v for k, v in cfg.items() if k in known})


class PretrainedMixin:
    """`save_pretrained` / `from_pretrained` / `num_parameters` for a torch module whose `config`
    is a dataclass with `to_dict` / `from_dict`; subclasses name `config_class` and `model_type`
    (written to config.json and checked on load; a folder without one is taken as this type)."""

    config_class: type
    model_type: str

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def save_pretrained(self, path: str | Path, dtype: torch.dtype | None = None,
                        max_shard_mb: float | None = None) -> None:
        """Write `config.json` + `model.safetensors` (or shards with an index) to folder `path`."""
        state = {k: v.detach() for k, v in self.state_dict().items()}
        if dtype is not None:
            state = {k: v.to(dtype) for k, v in state.items()}
        save_model(path, {"model_type": self.model_type, **self.config.to_dict()}, state,
                   max_shard_mb=max_shard_mb)

    @classmethod
    def from_pretrained(cls, path: str | Path, device: torch.device | str = "cpu",
                        dtype: torch.dtype | None = None):
        """Load a folder written by `save_pretrained`; every tensor key and shape is checked."""
        config, state = load_model(path)
        found = config.get("model_type", cls.model_type)
        if found != cls.model_type:
            raise CheckpointError(f"{path}: model_type {found!r} is not a {cls.model_type!r} module "
                                  f"({cls.__name__})")
        try:
            cfg = cls.config_class.from_dict(config)
        except (TypeError, ValueError) as e:
            raise CheckpointError(f"{path}: invalid config.json: {e}") from e
        model = cls(cfg)
        check_state(model.state_dict(), state, path)
        model.load_state_dict(state, strict=True)
        return model.to(device=device, dtype=dtype or torch.float32).eval()


def init_gpt2_weights(model: torch.nn.Module, n_layer: int) -> None:
    """GPT-2's initialisation: N(0, 0.02) weights, zero biases, residual projections (`c_proj`)
    scaled by 1 / sqrt(2 * n_layer)."""
    import math

    for module in model.modules():
        if isinstance(module, (torch.nn.Linear, torch.nn.Embedding)):
            torch.nn.init.normal_(module.weight, mean=0.0, std=0.02)
        if isinstance(module, torch.nn.Linear) and module.bias is not None:
            torch.nn.init.zeros_(module.bias)
    for name, p in model.named_parameters():
        if name.endswith("c_proj.weight"):
            torch.nn.init.normal_(p, mean=0.0, std=0.02 / math.sqrt(2 * n_layer))
