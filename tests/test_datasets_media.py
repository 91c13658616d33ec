"""tart.datasets for audio and images: Dataset, spoken keywords (espeak-ng + sox, cached),
Fashion-MNIST (Debian idx files), scikit-learn digits, and the hub loaders on tiny local files."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the hub loaders here read local files only
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

import gzip
import io
import shutil
import time
import wave

import numpy as np
import pandas as pd
import pytest

from conftest import needs_asset
from tart import assets
from tart.datasets import (MEDIA_FAMILIES, Dataset, available_datasets,
                           load_dataset)
from tart.datasets.hub_media import CIFAR10_CLASSES, MEDIA_SPECS, SPEECH_COMMANDS_CLASSES
from tart.datasets.media import FASHION_CLASSES, keyword_clips, read_idx
from tart.media import decode_audio, decode_image


# --- registry and the data set type --------------------------------------------------------------

def test_registry_lists_the_media_pairs():
    names = available_datasets()
    for n in ("amazon_food", "sst2", "spoken_keywords:yes-no", "spoken_keywords:stop-go",
              "fashion_mnist:pullover-coat", "digits:3-8", "speech_commands:yes-no", "mnist:3-8",
              "cifar10:cat-dog"):
        assert n in names
    assert len(names) == len(set(names))
    assert names.index("amazon_food") < names.index("sst2") < names.index("digits:3-8")
    assert set(MEDIA_FAMILIES) == {"spoken_keywords", "fashion_mnist", "digits",
                                   "speech_commands", "mnist", "cifar10"}


@pytest.mark.parametrize("name, match", [
    ("digits:3", r"expected 'digits:<a>-<b>'"),
    ("digits:3-3", "must differ"),
    ("digits:3-12", "a digit must be 0-9"),
    ("fashion_mnist:coat-hat", "unknown Fashion-MNIST class 'hat'"),
    ("spoken_keywords:yes-n0", "letters a-z only"),
    ("cifar10:cat-unicorn", "unknown class 'unicorn'"),
    ("spoken_keyword:yes-no", "unknown data set 'spoken_keyword:yes-no'.*any pair"),
])
def test_bad_names(name, match):
    with pytest.raises(ValueError, match=match):
        load_dataset(name)


def _audio(n=1600):
    return np.sin(np.arange(n) / 5.0).astype(np.float32)


def test_mediadataset_validates():
    img = np.zeros((4, 4), np.uint8)
    d = Dataset("x", [img], [1], [img, img], np.array([0, 1]), ("a", "b"), "s", "image")
    assert d.train_labels.dtype == np.int64 and d.sample_rate is None
    assert "image (4, 4)" in repr(d)
    with pytest.raises(ValueError, match="uint8"):
        Dataset("x", [img.astype(np.float32)], [1], [], [], ("a", "b"), "s", "image")
    with pytest.raises(ValueError, match=r"\[H, W, 3\]"):
        Dataset("x", [np.zeros((4, 4, 4), np.uint8)], [1], [], [], ("a", "b"), "s", "image")
    with pytest.raises(ValueError, match="1 train items but 2 labels"):
        Dataset("x", [img], [0, 1], [], [], ("a", "b"), "s", "image")
    with pytest.raises(ValueError, match="modality"):
        Dataset("x", [], [], [], [], ("a", "b"), "s", "video")
    with pytest.raises(ValueError, match="sample_rate"):
        Dataset("x", [_audio()], [1], [], [], ("a", "b"), "s", "audio")
    with pytest.raises(ValueError, match="mono"):
        Dataset("x", [np.zeros((2, 100), np.float32)], [1], [], [], ("a", "b"), "s", "audio",
                     16000)
    with pytest.raises(ValueError, match="0/1"):
        Dataset("x", [_audio()], [2], [], [], ("a", "b"), "s", "audio", 16000)
    a = Dataset("x", [_audio().astype(np.float64)], [1], [], [], ("a", "b"), "s", "audio",
                     16000)
    assert a.train_items[0].dtype == np.float32 and "audio 16000 Hz" in repr(a)


# --- digits --------------------------------------------------------------------------------------

def test_digits_pairs():
    from sklearn.datasets import load_digits

    d = load_dataset("digits:3-8")
    assert isinstance(d, Dataset) and d.modality == "image" and d.label_names == ("3", "8")
    n3, n8 = (load_digits().target == 3).sum(), (load_digits().target == 8).sum()
    assert len(d.train_items) + len(d.test_items) == n3 + n8
    assert int(d.test_labels.sum()) == round(n8 * 0.3) and int((d.test_labels == 0).sum()) == round(n3 * 0.3)
    assert all(x.shape == (8, 8) and x.dtype == np.uint8 for x in d.train_items + d.test_items)
    assert max(int(x.max()) for x in d.train_items) == 255
    raw = load_digits()
    lookup = {np.rint(im * 255 / 16).astype(np.uint8).tobytes(): t
              for im, t in zip(raw.images, raw.target) if t in (3, 8)}
    for x, y in zip(d.train_items[:40], d.train_labels[:40]):
        assert lookup[x.tobytes()] == (8 if y else 3)
    again = load_dataset("digits:3-8")
    assert all(np.array_equal(a, b) for a, b in zip(d.test_items, again.test_items))
    other = load_dataset("digits:3-8", seed=1)
    assert not all(np.array_equal(a, b) for a, b in zip(d.test_items, other.test_items))
    flipped = load_dataset("digits:8-3")
    assert flipped.label_names == ("8", "3") and int(flipped.test_labels.sum()) == round(n3 * 0.3)


# --- Fashion-MNIST -------------------------------------------------------------------------------

def test_fashion_mnist_local_idx_files(fashion_idx):
    d = load_dataset("fashion_mnist:2-4", source=fashion_idx)
    e = load_dataset("fashion_mnist:pullovers-coat", source=fashion_idx)
    assert d.name == e.name == "fashion_mnist:pullover-coat"
    assert d.label_names == ("pullover", "coat")
    assert (len(d.train_items), len(d.test_items)) == (6, 4)
    images = read_idx(fashion_idx / "train-images-idx3-ubyte.gz")
    assert np.array_equal(d.train_items[0], images[2]) and d.train_labels[0] == 0
    assert np.array_equal(d.train_items[1], images[4]) and d.train_labels[1] == 1
    assert load_dataset("fashion_mnist:top-ankle_boot", source=fashion_idx).label_names == (
        "t-shirt/top", "ankle boot")
    f = fashion_idx / "bad-idx1-ubyte.gz"
    f.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + (5).to_bytes(4, "big") + b"abc"))
    with pytest.raises(ValueError, match="truncated"):
        read_idx(f)


def test_fashion_mnist_not_installed_names_the_command(tmp_path, monkeypatch):
    monkeypatch.setenv("TART_HOME", str(tmp_path))
    with pytest.raises(assets.AssetError, match="tart assets install fashion_mnist"):
        load_dataset("fashion_mnist:pullover-coat")


@needs_asset("fashion_mnist")
def test_fashion_mnist_real_pair():
    d = load_dataset("fashion_mnist:pullover-coat")
    assert (len(d.train_items), len(d.test_items)) == (12000, 2000)
    assert (int(d.train_labels.sum()), int(d.test_labels.sum())) == (6000, 1000)
    assert d.train_items[0].shape == (28, 28) and d.train_items[0].dtype == np.uint8
    assert len(FASHION_CLASSES) == 10
    by_index = load_dataset("fashion_mnist:2-4")
    assert by_index.name == d.name and np.array_equal(by_index.test_items[7], d.test_items[7])
    raw = read_idx(assets.data_path("fashion_mnist") / "t10k-labels-idx1-ubyte.gz")
    assert d.test_labels.tolist() == [int(y == 4) for y in raw if y in (2, 4)]


# --- spoken keywords -----------------------------------------------------------------------------

SMALL = dict(voices=("en-us", "en+f4"), speeds=(150, 190), pitches=(40,), progress=False)


@needs_asset("speech_tools")
def test_spoken_keywords_generated_once_and_cached(tmp_path, monkeypatch):
    monkeypatch.setenv("TART_HOME", str(tmp_path))
    t0 = time.perf_counter()
    d = load_dataset("spoken_keywords:yes-no", test_size=0.5, **SMALL)
    first = time.perf_counter() - t0
    assert isinstance(d, Dataset) and d.modality == "audio" and d.sample_rate == 16000
    assert d.label_names == ("yes", "no") and "2 voices x 2 speeds x 1 pitches" in d.source
    assert (len(d.train_items), len(d.test_items)) == (4, 4)
    assert d.train_labels.sum() == 2 and d.test_labels.sum() == 2
    for x in d.train_items + d.test_items:
        assert x.dtype == np.float32 and x.ndim == 1
        assert 0.2 < len(x) / 16000 < 2.0
        assert np.sqrt(np.mean(x ** 2)) > 0.01 and np.abs(x).max() <= 1.0
    cached = list((tmp_path / "data" / "spoken_keywords").glob("*/*.npz"))
    assert sorted(p.name for p in cached) == ["no.npz", "yes.npz"]

    monkeypatch.setattr(shutil, "which", lambda program: None)  # the cache needs no programs
    t0 = time.perf_counter()
    again = load_dataset("spoken_keywords:yes-no", test_size=0.5, **SMALL)
    assert time.perf_counter() - t0 < max(0.5, first / 2)
    assert all(np.array_equal(a, b) for a, b in zip(d.train_items + d.test_items,
                                                    again.train_items + again.test_items))
    assert d.train_labels.tolist() == again.train_labels.tolist()
    with pytest.raises(assets.AssetError, match="tart assets install speech_tools"):
        load_dataset("spoken_keywords:yes-maybe", **SMALL)  # "maybe" is not cached
    monkeypatch.undo()
    monkeypatch.setenv("TART_HOME", str(tmp_path))

    clips, meta = keyword_clips("yes", **SMALL)
    assert meta == [("en-us", 150, 40), ("en-us", 190, 40), ("en+f4", 150, 40), ("en+f4", 190, 40)]
    assert len(clips[0]) > len(clips[1])  # slower speech is longer
    assert not np.array_equal(clips[0][:2000], clips[2][:2000])  # voices differ
    for p in cached:  # synthesis is deterministic: rebuilding gives the same samples
        p.unlink()
    rebuilt, _ = keyword_clips("yes", **SMALL)
    assert all(np.array_equal(a, b) for a, b in zip(clips, rebuilt))


def test_spoken_keywords_without_the_programs_names_the_install(tmp_path, monkeypatch):
    monkeypatch.setenv("TART_HOME", str(tmp_path))
    monkeypatch.setattr(shutil, "which", lambda program: None)
    with pytest.raises(assets.AssetError, match="espeak-ng is not installed: run `tart assets "
                                                "install speech_tools`"):
        load_dataset("spoken_keywords:yes-no", **SMALL)


# --- decoding ------------------------------------------------------------------------------------

def _png(arr: np.ndarray) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _wav(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((samples * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def test_decoders():
    grey = np.arange(64, dtype=np.uint8).reshape(8, 8)
    rgb = np.random.default_rng(0).integers(0, 256, (6, 5, 3)).astype(np.uint8)
    assert np.array_equal(decode_image({"bytes": _png(grey), "path": None}), grey)
    assert np.array_equal(decode_image(_png(rgb)), rgb)
    assert np.array_equal(decode_image(rgb[..., :1].tolist()), rgb[..., 0])
    assert decode_image(np.ones((3, 3), np.float32)).max() == 255
    x = _audio(16000) * 0.5
    y = decode_audio({"bytes": _wav(x, 16000), "path": "a.wav"})
    assert y.dtype == np.float32 and np.abs(y - x).max() < 1e-3
    z = decode_audio({"array": x[::2].tolist(), "sampling_rate": 8000})
    assert len(z) == 16000 and z.dtype == np.float32
    stereo = decode_audio({"array": np.stack([x, x], axis=1), "sampling_rate": 16000})
    assert np.allclose(stereo, x)
    with pytest.raises(ValueError, match="sampling_rate"):
        decode_audio({"array": [0.0, 1.0]})


# --- hub loaders on local files in the hub's formats --------------------------------------------

def _parquet(df: pd.DataFrame, path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_parquet(path)


def _load(name, tmp_path, **kw):
    return load_dataset(name, cache_dir=str(tmp_path / "hf-cache"), **kw)


def test_mnist_local_parquet_png_bytes(tmp_path):
    rng = np.random.default_rng(1)
    imgs = {s: rng.integers(0, 256, (10, 28, 28)).astype(np.uint8) for s in ("train", "test")}
    for split in ("train", "test"):
        _parquet(pd.DataFrame({"image": [{"bytes": _png(im), "path": None} for im in imgs[split]],
                               "label": list(range(10))}),
                 tmp_path / "mnist" / f"{split}-00000-of-00001.parquet")
    d = _load("mnist:3-8", tmp_path, source=tmp_path / "mnist")
    assert d.name == "mnist:3-8" and d.modality == "image" and d.label_names == ("3", "8")
    assert d.train_labels.tolist() == [0, 1] and d.test_labels.tolist() == [0, 1]
    assert np.array_equal(d.train_items[0], imgs["train"][3])
    assert np.array_equal(d.test_items[1], imgs["test"][8])


def test_cifar10_parquet_with_hub_image_features(tmp_path):
    import datasets as hf
    from PIL import Image

    rng = np.random.default_rng(2)
    imgs = rng.integers(0, 256, (6, 32, 32, 3)).astype(np.uint8)
    labels = [3, 5, 0, 5, 3, 9]  # cat, dog, airplane, dog, cat, truck
    features = hf.Features({"img": hf.Image(), "label": hf.ClassLabel(names=list(CIFAR10_CLASSES))})
    ds = hf.Dataset.from_dict({"img": [Image.fromarray(x) for x in imgs], "label": labels},
                              features=features)
    f = tmp_path / "train-00000-of-00001.parquet"
    ds.to_parquet(str(f))  # the hub's own format: Image feature in the schema metadata
    d = _load("cifar10:cat-dog", tmp_path, source=f, test_size=0.5)
    assert d.name == _load("cifar10:3-5", tmp_path, source=f, test_size=0.5).name == "cifar10:cat-dog"
    assert (len(d.train_items), len(d.test_items)) == (2, 2)  # no test file: seeded split
    got = {x.tobytes(): y for x, y in zip(d.train_items + d.test_items,
                                          d.train_labels.tolist() + d.test_labels.tolist())}
    assert got == {imgs[i].tobytes(): int(labels[i] == 5) for i in (0, 1, 3, 4)}
    assert all(x.shape == (32, 32, 3) for x in d.train_items)


def test_speech_commands_local_audio(tmp_path):
    rng = np.random.default_rng(3)
    words = ["yes", "no", "up", "no", "yes", "_silence_"]
    clips = [(rng.standard_normal(8000) * 0.1).astype(np.float32) for _ in words]
    labels = [SPEECH_COMMANDS_CLASSES.index(w) for w in words]
    # train: {"array", "sampling_rate"} at 8 kHz; test: wav bytes at 16 kHz, labels as names
    _parquet(pd.DataFrame({"file": [f"{w}/{i}.wav" for i, w in enumerate(words)],
                           "audio": [{"array": c, "sampling_rate": 8000} for c in clips],
                           "label": labels, "is_unknown": False, "speaker_id": "s",
                           "utterance_id": 0}), tmp_path / "sc" / "train.parquet")
    _parquet(pd.DataFrame({"audio": [{"bytes": _wav(c, 16000), "path": f"{i}.wav"}
                                     for i, c in enumerate(clips)],
                           "label": words}), tmp_path / "sc" / "test.parquet")
    d = _load("speech_commands:yes-no", tmp_path, source=tmp_path / "sc")
    assert d.modality == "audio" and d.sample_rate == 16000 and d.label_names == ("yes", "no")
    assert d.train_labels.tolist() == [0, 1, 1, 0] and d.test_labels.tolist() == [0, 1, 1, 0]
    assert all(len(x) == 16000 and x.dtype == np.float32 for x in d.train_items)  # 8 -> 16 kHz
    assert all(len(x) == 8000 for x in d.test_items)
    assert np.abs(d.test_items[1] - clips[1]).max() < 1e-3


def test_speech_commands_parquet_with_hub_audio_features(tmp_path):
    import datasets as hf

    x = _audio(16000) * 0.5
    words = ["no", "yes", "no", "yes", "wow"]
    ds = hf.Dataset.from_dict({"audio": [{"bytes": _wav(x * (i + 1) / 5, 16000), "path": f"{i}.wav"}
                                         for i in range(5)],
                               "label": [SPEECH_COMMANDS_CLASSES.index(w) for w in words]})
    ds = ds.cast_column("audio", hf.Audio(sampling_rate=16000)).cast_column(
        "label", hf.ClassLabel(names=list(SPEECH_COMMANDS_CLASSES)))
    f = tmp_path / "train-00000-of-00001.parquet"
    ds.to_parquet(str(f))  # the hub's own format: Audio feature in the schema metadata
    d = _load("speech_commands:yes-no", tmp_path, source=f, test_size=0.5)
    got = sorted((round(float(np.abs(a).max()), 2), y) for a, y in
                 zip(d.train_items + d.test_items, d.train_labels.tolist() + d.test_labels.tolist()))
    assert got == [(0.1, 1), (0.2, 0), (0.3, 1), (0.4, 0)]  # decoded without torchcodec


def test_hub_media_missing_column_and_spec(tmp_path):
    _parquet(pd.DataFrame({"picture": [{"bytes": _png(np.zeros((2, 2), np.uint8)), "path": None}],
                           "label": [3]}), tmp_path / "train.parquet")
    with pytest.raises(ValueError, match=r"columns \['image'\] not found"):
        _load("mnist:3-8", tmp_path, source=tmp_path / "train.parquet")
    assert MEDIA_SPECS["speech_commands"].path == "google/speech_commands"
    assert MEDIA_SPECS["speech_commands"].config == "v0.02"
    assert (MEDIA_SPECS["mnist"].path, MEDIA_SPECS["cifar10"].path) == ("ylecun/mnist", "uoft-cs/cifar10")


def test_text_loaders_return_text_datasets(tmp_path):
    f = tmp_path / "train.parquet"
    _parquet(pd.DataFrame({"text": ["a", "b", "c", "d"], "label": [1, 0, 1, 0]}), f)
    d = _load("imdb", tmp_path, source=f, test_size=0.5)
    assert isinstance(d, Dataset) and d.modality == "text" and "text" in repr(d)
