"""The reasoning modules shipped inside the package, loaded at run time (offline).

`load_reasoner()` returns the faithful `tart` module from `tart/weights/default/` (config.json +
model.safetensors + MODEL_CARD.md + eval_synthetic.json); `load_reasoner("tart2")` the set-layout
module from `tart/weights/tart2/`; a folder path loads whichever family its config.json names
(`tart.families`). Exporting a training run into such a folder is tooling: `tart.export`. A
replaced module is kept under `tart/weights/retired/` for the classifiers saved with it
(`retired_module_dir`).
"""

from __future__ import annotations

import hashlib
import json
from importlib.resources import files
from pathlib import Path

import torch

from tart import families
from tart.checkpoint import CheckpointError
from tart.fingerprint import folder_digest
from tart.reasoner import Reasoner
from tart.set_reasoner import SetReasoner

SHIPPED = {f.name: f.shipped for f in families.FAMILIES.values()}  # module name -> folder under tart/weights/


def default_model_dir(name: str = "tart") -> Path:
    """The folder of a module shipped with the package ("tart" or "tart2")."""
    if name not in SHIPPED:
        raise ValueError(f"unknown shipped module {name!r}; choose one of {sorted(SHIPPED)}")
    return Path(str(files("tart") / "weights" / SHIPPED[name]))


def module_fingerprint(folder: str | Path) -> str:
    """A shipped module's fingerprint, as saved classifiers record it: its config and weights
    files, not its card or evaluation."""
    return "sha256:" + folder_digest(Path(folder), ("config.json", "*.safetensors"))


def retired_module_dir(name: str, fingerprint: str | None) -> Path | None:
    """The folder under tart/weights/retired/ of a module once shipped as `name` that a saved
    classifier knew by `fingerprint` (scripts/retire_module.py keeps one when it is replaced);
    None when none matches."""
    root = Path(str(files("tart") / "weights" / "retired"))
    for folder in sorted(root.glob(f"{name}-*")):
        record = json.loads((folder / "RETIRED.json").read_text())
        if record["name"] == name and fingerprint in record["fingerprints"]:
            return folder
    return None


def load_reasoner(
    path: str | Path | None = None, device: torch.device | str = "cpu", dtype: torch.dtype | None = None
) -> Reasoner | SetReasoner:
    """Load a reasoning module: None or "tart" the shipped faithful module, "tart2" the shipped
    set-layout module, else a model folder (its config.json's model_type picks the family)."""
    name = "tart" if path is None else str(path)
    folder = default_model_dir(name) if name in SHIPPED else Path(path)
    if name in SHIPPED and not (folder / "config.json").is_file():
        raise CheckpointError(f"the shipped module {name!r} is missing from {folder}")
    return module_class(folder).from_pretrained(folder, device=device, dtype=dtype)


def family_of(folder: str | Path) -> families.Family:
    """The module family a model folder holds, from its config.json (unreadable: `tart`, whose
    `from_pretrained` then names the problem)."""
    try:
        config = json.loads((Path(folder) / "config.json").read_text())
    except (OSError, json.JSONDecodeError):
        return families.TART
    return families.for_model_type(config.get("model_type"))


def module_class(folder: str | Path) -> type[Reasoner] | type[SetReasoner]:
    """The module class a model folder holds, from its config.json."""
    return family_of(folder).module_class


def sha256(path: Path) -> str:
    """The hex sha256 of a file (shipped weights are pinned by it)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
