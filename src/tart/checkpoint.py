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
from contextlib import contextmanager
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


def fsync_dir(path: Path) -> None:
    """Make a rename in folder `path` durable (a no-op where folders cannot be opened)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as f:
        os.fsync(f.fileno())


@contextmanager
def _replacing(path: Path):
    """A temp path beside `path`: on success it atomically replaces `path`, on failure it goes."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temp file in the same folder and an atomic rename."""
    with _replacing(Path(path)) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _umask_mode())


def atomic_write_json(path: Path, obj: object) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def _write_tensors(file: Path, tensors: dict[str, torch.Tensor], meta: dict | None) -> None:
    tensors = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
    save_file(tensors, str(file), metadata=meta)
    os.chmod(file, _umask_mode())
    _fsync_file(file)


def atomic_save_tensors(path: Path, tensors: dict[str, torch.Tensor], meta: dict | None = None):
    """`safetensors.save_file` through a temp file (fsynced) and an atomic rename."""
    with _replacing(Path(path)) as tmp:
        _write_tensors(tmp, tensors, meta)


# ---- saving a model folder: new files under temp names, then one journalled commit -------------
# A model is several files (config.json, the weights or shards + index) that must change together.
# save_model writes every new file under a temp name and fsyncs it; then it writes JOURNAL (one
# atomic rename: the commit point) listing the renames and deletions that turn the old model into
# the new one, applies them, and removes JOURNAL. A crash before the commit leaves the old model
# (the temp files are swept up by the next save); a crash after it leaves JOURNAL, and the next
# load_model or save_model rolls it forward to the new model. Either way, never a mix.
JOURNAL = ".model-commit.json"
_TMP_MARK = ".tart-tmp"


def _model_files(path: Path) -> list[Path]:
    return [p for p in path.glob("model*.safetensors*") if p.is_file()] + \
        [p for p in (path / CONFIG,) if p.is_file()]


def _apply_journal(path: Path) -> None:
    journal = path / JOURNAL
    plan = json.loads(journal.read_text())
    for tmp, final in plan["rename"]:
        if (path / tmp).exists():
            os.replace(path / tmp, path / final)
    for name in plan["delete"]:
        (path / name).unlink(missing_ok=True)
    fsync_dir(path)
    journal.unlink()
    fsync_dir(path)


def recover(path: str | Path) -> None:
    """Finish a save_model that was interrupted after its commit point (see JOURNAL)."""
    path = Path(path)
    if (path / JOURNAL).is_file():
        try:
            _apply_journal(path)
        except (OSError, ValueError, KeyError) as e:
            raise CheckpointError(f"{path}: an interrupted save left {JOURNAL} and finishing it "
                                  f"failed: {e}") from e


def _sweep_temps(path: Path) -> None:
    for p in path.glob(f".*{_TMP_MARK}"):
        p.unlink(missing_ok=True)


def save_model(
    path: str | Path, config: dict, state: dict[str, torch.Tensor], max_shard_mb: float | None = None
) -> None:
    """Write a model folder; with `max_shard_mb`, split tensors into shards of at most that size.

    Atomic: the new files are written under temp names and fsynced, then swapped in by one
    journalled commit, so a crash (or a full disk) at any point leaves either the old or the new
    complete model. A failed write raises CheckpointError naming the folder and the cause."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    recover(path)
    _sweep_temps(path)
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
    token = os.urandom(4).hex()
    renames: list[tuple[str, str]] = []

    def temp(final: str) -> Path:
        renames.append((f".{final}.{token}{_TMP_MARK}", final))
        return path / renames[-1][0]

    try:
        if len(shards) == 1:
            _write_tensors(temp(WEIGHTS), shards[0], {"format": "pt"})
        else:
            weight_map = {}
            for i, shard in enumerate(shards, start=1):
                name = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
                _write_tensors(temp(name), shard, {"format": "pt"})
                weight_map.update({k: name for k in shard})
            total = sum(t.numel() * t.element_size() for t in state.values())
            index = {"metadata": {"total_size": total}, "weight_map": weight_map}
            temp(INDEX).write_bytes((json.dumps(index, indent=2, sort_keys=True) + "\n").encode())
            _fsync_file(path / renames[-1][0])
        temp(CONFIG).write_bytes((json.dumps(config, indent=2, sort_keys=True) + "\n").encode())
        _fsync_file(path / renames[-1][0])
        for tmp, _ in renames:
            os.chmod(path / tmp, _umask_mode())
        finals = {final for _, final in renames}
        stale = sorted(p.name for p in _model_files(path) if p.name not in finals)
        # the commit point: once JOURNAL exists, the new model is what this folder holds
        atomic_write_json(path / JOURNAL, {"rename": renames, "delete": stale})
    except BaseException as e:
        if (path / JOURNAL).is_file():  # interrupted just after the commit point: finish it
            _apply_journal(path)
            raise
        for tmp, _ in renames:
            (path / tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise CheckpointError(f"could not write the model to {path}: {e}; the model that was "
                                  "there is unchanged") from e
        raise
    _apply_journal(path)


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
    recover(path)
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

def preset_config(presets: dict, name: str, what: str = "preset"):
    """A fresh copy of the named config in `presets` (a clear error naming the choices)."""
    if name not in presets:
        raise ValueError(f"unknown {what} {name!r}; choose one of {sorted(presets)}")
    return type(presets[name]).from_dict(presets[name].to_dict())


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
        fields = {f.name for f in dataclasses.fields(cls.config_class)}
        # keys newer than a module family's first saved folders may be absent (their default is
        # what those folders were); any other missing key would silently build a different module
        lacking = sorted(fields - set(config) - set(getattr(cls.config_class, "added_keys", ())))
        if lacking:
            raise CheckpointError(f"{path}: config.json lacks the keys {lacking} (it was not written "
                                  f"by save_pretrained, or was edited); every {cls.__name__} config "
                                  f"key is required: {sorted(fields)}")
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
