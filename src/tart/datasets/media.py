"""Audio and image data sets that load offline (see tart.assets), as binary `Dataset`s.

- `spoken_keywords:<a>-<b>`: two English words synthesised with espeak-ng over a fixed grid of
  voices x speeds x pitches (8 x 5 x 4 = 160 clips per word by default), resampled to 16 kHz mono
  float32 with sox, generated once and cached under `home()/data/spoken_keywords/<grid>/<word>.npz`
  (later loads read the cache and need neither program). Word a -> 0, word b -> 1; seeded
  stratified split (default 20% test, seed 0). Needs `tart assets install speech_tools` the
  first time a word is synthesised.
- `fashion_mnist:<a>-<b>`: two Fashion-MNIST classes, by index (0-9) or name (`tshirt`, `trouser`,
  `pullover`, `dress`, `coat`, `sandal`, `shirt`, `sneaker`, `bag`, `boot`), from the idx files
  of Debian's dataset-fashion-mnist (`tart assets install fashion_mnist`); the official
  train/test split (6000 / 1000 images per class), 28x28 uint8.
- `digits:<a>-<b>`: two digits of scikit-learn's `load_digits()` (8x8, 0-16 scaled to uint8
  0-255), seeded stratified split (default 30% test, seed 0).

Class a is label 0 and class b is label 1 in every family.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from tart import assets
from tart.datasets.base import Dataset, parse_pair, stratified_split
from tart.media import SAMPLE_RATE


def _split(name, items, labels, test_size, seed, label_names, source, **kw) -> Dataset:
    tr, te = stratified_split(labels, test_size, seed)
    return Dataset(name=name, train_items=[items[i] for i in tr], train_labels=labels[tr],
                   test_items=[items[i] for i in te], test_labels=labels[te],
                   label_names=label_names, source=f"{source}, split test_size={test_size} "
                                                   f"seed={seed}", **kw)


# --- spoken keywords ---------------------------------------------------------------------------

KEYWORD_PAIRS = ("yes-no", "up-down", "left-right", "on-off", "stop-go")
VOICES = ("en-us", "en-us+f2", "en+m3", "en+f4", "en-gb-scotland+m1", "en-029+f3",
          "en-gb-x-rp+m7", "en-us+m5")
SPEEDS = (120, 145, 170, 195, 220)  # words per minute
PITCHES = (30, 45, 60, 75)          # 0-99
_WORD = re.compile(r"^[a-z]+$")
_FORMAT = 1  # bump when the cached clips change


def _word(w: str) -> str:
    w = w.strip().lower()
    if not _WORD.match(w):
        raise ValueError(f"a keyword must be letters a-z only, got {w!r}")
    return w


def _grid_dir(voices, speeds, pitches) -> tuple[Path, dict]:
    grid = {"voices": list(voices), "speeds": [int(s) for s in speeds],
            "pitches": [int(p) for p in pitches], "sample_rate": SAMPLE_RATE, "format": _FORMAT}
    key = hashlib.sha256(json.dumps(grid, sort_keys=True).encode()).hexdigest()[:10]
    folder = assets.home() / "data" / "spoken_keywords" / (
        f"{len(voices)}v{len(speeds)}s{len(pitches)}p-{key}")
    return folder, grid


def _synthesise(word: str, voice: str, speed: int, pitch: int, espeak: Path, sox: Path) -> np.ndarray:
    cmd = [str(espeak), "-v", voice, "-s", str(speed), "-p", str(pitch), "--stdout", word]
    wav = subprocess.run(cmd, capture_output=True)
    if wav.returncode != 0 or len(wav.stdout) < 100:
        raise RuntimeError(f"`{' '.join(cmd)}` failed ({wav.returncode}): "
                           f"{wav.stderr.decode(errors='replace').strip()[-300:]}")
    cmd2 = [str(sox), "-t", "wav", "-", "-t", "raw", "-r", str(SAMPLE_RATE), "-c", "1",
            "-e", "floating-point", "-b", "32", "-L", "-"]
    raw = subprocess.run(cmd2, input=wav.stdout, capture_output=True)
    if raw.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd2)}` failed ({raw.returncode}): "
                           f"{raw.stderr.decode(errors='replace').strip()[-300:]}")
    return np.frombuffer(raw.stdout, dtype="<f4").astype(np.float32)


def keyword_clips(word: str, *, voices=VOICES, speeds=SPEEDS, pitches=PITCHES,
                  progress: bool = True) -> tuple[list[np.ndarray], list[tuple[str, int, int]]]:
    """All clips of one word over the grid (voice-major order) and their (voice, speed, pitch).

    Synthesised once with espeak-ng + sox, then read from the cache (an .npz per word and grid,
    written atomically); the cache needs neither program.
    """
    word = _word(word)
    if not (voices and speeds and pitches):
        raise ValueError("voices, speeds and pitches must each be non-empty")
    folder, grid = _grid_dir(voices, speeds, pitches)
    path = folder / f"{word}.npz"
    if not path.is_file():
        _build_keyword_cache(word, grid, folder, path, progress)
    with np.load(path, allow_pickle=False) as z:
        audio, offsets = z["audio"], z["offsets"]
        meta = list(zip(z["voice"].tolist(), z["speed"].tolist(), z["pitch"].tolist()))
    clips = [audio[offsets[i]:offsets[i + 1]] for i in range(len(offsets) - 1)]
    return clips, meta


def _build_keyword_cache(word: str, grid: dict, folder: Path, path: Path, progress: bool) -> None:
    espeak, sox = assets.tool_path("espeak-ng"), assets.tool_path("sox")
    combos = [(v, s, p) for v in grid["voices"] for s in grid["speeds"] for p in grid["pitches"]]
    t0 = time.perf_counter()
    if progress:
        print(f"[tart data] synthesising {len(combos)} clips of {word!r} with espeak-ng + sox "
              f"(once) -> {path}", file=sys.stderr, flush=True)
    clips = [_synthesise(word, v, s, p, espeak, sox) for v, s, p in combos]
    version = subprocess.run([str(espeak), "--version"], capture_output=True, text=True).stdout.strip()
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "grid.json").write_text(json.dumps(grid, indent=1) + "\n")
    fd, tmp = tempfile.mkstemp(prefix=f".{word}.", suffix=".npz", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, audio=np.concatenate(clips),
                     offsets=np.cumsum([0] + [len(c) for c in clips]).astype(np.int64),
                     voice=np.array([c[0] for c in combos]),
                     speed=np.array([c[1] for c in combos], dtype=np.int64),
                     pitch=np.array([c[2] for c in combos], dtype=np.int64),
                     sample_rate=np.int64(SAMPLE_RATE), espeak_version=np.array(version))
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    if progress:
        print(f"[tart data] {word!r}: {len(clips)} clips in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr, flush=True)


def load_spoken_keywords(name: str = "spoken_keywords:yes-no", *, voices=VOICES, speeds=SPEEDS,
                         pitches=PITCHES, test_size: float = 0.2, seed: int = 0,
                         progress: bool = True) -> Dataset:
    """Synthetic spoken keywords, word a (0) vs word b (1), 16 kHz mono float32 clips."""
    _, _, (a, b) = parse_pair(name, _word)
    items, labels = [], []
    for y, w in enumerate((a, b)):
        clips, _ = keyword_clips(w, voices=voices, speeds=speeds, pitches=pitches, progress=progress)
        items += clips
        labels += [y] * len(clips)
    n = len(voices) * len(speeds) * len(pitches)
    return _split(f"spoken_keywords:{a}-{b}", items, np.asarray(labels, np.int64), test_size, seed,
                  (a, b), f"espeak-ng + sox, {len(voices)} voices x {len(speeds)} speeds x "
                          f"{len(pitches)} pitches = {n} clips per word",
                  modality="audio", sample_rate=SAMPLE_RATE)


# --- Fashion-MNIST -----------------------------------------------------------------------------

FASHION_CLASSES = ("t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt",
                   "sneaker", "bag", "ankle boot")
FASHION_SLUGS = ("tshirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker",
                 "bag", "boot")
_FASHION_ALIASES = {"top": 0, "t_shirt": 0, "tshirt_top": 0, "ankle_boot": 9, "ankleboot": 9,
                    **{s: i for i, s in enumerate(FASHION_SLUGS)},
                    **{s + "s": i for i, s in enumerate(FASHION_SLUGS) if not s.endswith("s")}}
FASHION_PAIRS = ("pullover-coat", "tshirt-shirt", "sneaker-sandal", "sandal-boot", "coat-shirt")


def _fashion_class(x: str) -> int:
    x = x.strip().lower()
    if x.isdigit() and 0 <= int(x) < 10:
        return int(x)
    if x in _FASHION_ALIASES:
        return _FASHION_ALIASES[x]
    raise ValueError(f"unknown Fashion-MNIST class {x!r}: use 0-9 or one of {', '.join(FASHION_SLUGS)}")


def read_idx(path: str | Path) -> np.ndarray:
    """An idx file (optionally gzipped: MNIST's format) -> a uint8 numpy array of its shape."""
    path = Path(path)
    data = (gzip.open if path.suffix == ".gz" else open)(path, "rb").read()
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise ValueError(f"{path} is not an unsigned-byte idx file")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise ValueError(f"{path}: header says {shape} but holds {body.size} bytes (truncated?)")
    return body.reshape(shape)


def load_fashion_mnist(name: str = "fashion_mnist:pullover-coat", *,
                       source: str | Path | None = None) -> Dataset:
    """Two Fashion-MNIST classes, a (0) vs b (1), the official split. `source`: a folder with the
    four `*-idx?-ubyte.gz` files (default: the installed asset)."""
    _, _, (a, b) = parse_pair(name, _fashion_class)
    folder = Path(source) if source is not None else assets.data_path("fashion_mnist")
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz")
        if len(images) != len(labels):
            raise ValueError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
        keep = np.flatnonzero((labels == a) | (labels == b))
        splits[split] = (list(images[keep]), (labels[keep] == b).astype(np.int64))
    return Dataset(
        name=f"fashion_mnist:{FASHION_SLUGS[a]}-{FASHION_SLUGS[b]}",
        train_items=splits["train"][0], train_labels=splits["train"][1],
        test_items=splits["test"][0], test_labels=splits["test"][1],
        label_names=(FASHION_CLASSES[a], FASHION_CLASSES[b]),
        source=f"Debian dataset-fashion-mnist idx files ({folder}), classes {a} and {b}, "
               "official train/test split", modality="image")


# --- scikit-learn digits -----------------------------------------------------------------------

DIGIT_PAIRS = ("3-8", "1-7", "4-9", "5-6", "0-1")


def _digit(x: str) -> int:
    x = x.strip()
    if len(x) != 1 or not x.isdigit():
        raise ValueError(f"a digit must be 0-9, got {x!r}")
    return int(x)


def load_digits_pair(name: str = "digits:3-8", *, test_size: float = 0.3,
                     seed: int = 0) -> Dataset:
    """Two digits of scikit-learn's 8x8 `load_digits()`, a (0) vs b (1), as uint8 0-255 images."""
    from sklearn.datasets import load_digits

    _, _, (a, b) = parse_pair(name, _digit)
    d = load_digits()
    keep = np.flatnonzero((d.target == a) | (d.target == b))
    images = np.clip(np.rint(d.images[keep] * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    labels = (d.target[keep] == b).astype(np.int64)
    return _split(f"digits:{a}-{b}", list(images), labels, test_size, seed, (str(a), str(b)),
                  "scikit-learn load_digits (8x8, 0-16 scaled to 0-255)", modality="image")
