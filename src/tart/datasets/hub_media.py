"""Hugging Face hub loaders for audio and image tasks, made binary (need internet, or a local copy).

| family            | hub id (config)                   | item column | label column, classes         |
|-------------------|-----------------------------------|-------------|-------------------------------|
| `speech_commands` | `google/speech_commands` (v0.02)  | `audio`     | `label`: the 35 words + `_silence_` |
| `mnist`           | `ylecun/mnist` (mnist)            | `image`     | `label`: "0".."9"             |
| `cifar10`         | `uoft-cs/cifar10` (plain_text)    | `img`       | `label`: airplane .. truck    |

Names are `<family>:<a>-<b>` (class names or indices, a -> 0, b -> 1), e.g.
`speech_commands:yes-no`, `mnist:3-8`, `cifar10:cat-dog`. Rows of other classes are dropped
before anything is decoded. Audio becomes mono float32 at 16 kHz, images uint8 [H, W] or
[H, W, 3]. The hub's train/test splits are used (speech_commands: `test`); a local source without
a test split is split with a seeded stratified split (`test_size`, `seed`).

`source=` reads local files in the hub's formats (parquet, json/jsonl), a file, a folder
(`<split>*.<ext>`) or a {split: path(s)} dict, like the text loaders. Image values may be
{"bytes": png/jpeg, "path"} dicts (the hub's parquet files), audio values {"array",
"sampling_rate"} dicts or {"bytes": wav, "path"} dicts. `hub_id=` / `config=` point at another
copy on the hub with the same columns: google/speech_commands is a loading-script repository,
which `datasets` >= 4 no longer runs, so pass a parquet copy there (or `source=`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tart.datasets.base import Dataset, parse_pair, stratified_split
from tart.datasets.hub import local_data_files
from tart.media import SAMPLE_RATE, decode_audio, decode_image

SPEECH_COMMANDS_CLASSES = (
    "yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go", "zero", "one", "two",
    "three", "four", "five", "six", "seven", "eight", "nine", "bed", "bird", "cat", "dog", "happy",
    "house", "marvin", "sheila", "tree", "wow", "backward", "forward", "follow", "learn", "visual",
    "_silence_")
MNIST_CLASSES = tuple(str(i) for i in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
                   "truck")


@dataclass(frozen=True)
class MediaHubSpec:
    """One hub audio/image data set; any two of its classes make a binary task."""

    path: str                       # hub id
    config: str | None              # hub config (subset) name
    column: str                     # the audio or image column
    label: str                      # the label column (ClassLabel index or class name)
    classes: tuple[str, ...]        # ClassLabel names in index order
    modality: str                   # "audio" | "image"
    pairs: tuple[str, ...]          # the pairs listed by available_datasets()
    train_split: str = "train"
    test_split: str | None = "test"
    test_size: float = 0.2          # for a source without a test split
    note: str = ""

    def class_index(self, x: str) -> int:
        x = x.strip()
        if x in self.classes:
            return self.classes.index(x)
        if x.lower() in self.classes:
            return self.classes.index(x.lower())
        if x.isdigit() and int(x) < len(self.classes):
            return int(x)
        raise ValueError(f"unknown class {x!r} for {self.path}: use one of {', '.join(self.classes)}"
                         f" or an index 0-{len(self.classes) - 1}")


MEDIA_SPECS: dict[str, MediaHubSpec] = {
    "speech_commands": MediaHubSpec(
        "google/speech_commands", "v0.02", "audio", "label", SPEECH_COMMANDS_CLASSES, "audio",
        ("yes-no", "up-down", "left-right", "on-off", "stop-go"),
        note="one-second clips at 16 kHz; the hub repository is a loading script"),
    "mnist": MediaHubSpec("ylecun/mnist", "mnist", "image", "label", MNIST_CLASSES, "image",
                          ("3-8", "4-9", "1-7")),
    "cifar10": MediaHubSpec("uoft-cs/cifar10", "plain_text", "img", "label", CIFAR10_CLASSES,
                            "image", ("cat-dog", "automobile-truck", "airplane-ship",
                                      "deer-horse")),
}


def _raw_index(raw: Any, spec: MediaHubSpec) -> int | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return spec.classes.index(raw) if raw in spec.classes else None
    return int(raw)


def _items_labels(rows, spec: MediaHubSpec, a: int, b: int) -> tuple[list[np.ndarray], np.ndarray]:
    import datasets as hf

    missing = [c for c in (spec.column, spec.label) if c not in rows.column_names]
    if missing:
        raise ValueError(f"columns {missing} not found (have {rows.column_names}); expected "
                         f"{spec.modality} {spec.column!r} and label {spec.label!r}")
    idx = [_raw_index(r, spec) for r in rows[spec.label]]
    keep = [i for i, c in enumerate(idx) if c in (a, b)]
    labels = np.asarray([int(idx[i] == b) for i in keep], dtype=np.int64)
    rows = rows.select(keep)
    feature = rows.features[spec.column]
    if isinstance(feature, (hf.Audio, hf.Image)):  # decode here: no torchcodec, one code path
        rows = rows.cast_column(spec.column, type(feature)(decode=False))
    decode = decode_audio if spec.modality == "audio" else decode_image
    return [decode(v) for v in rows[spec.column]], labels


def load_hub_media(name: str, *, source: str | Path | dict | None = None, hub_id: str | None = None,
                   config: str | None = None, seed: int = 0, test_size: float | None = None,
                   cache_dir: str | None = None, **load_kwargs) -> Dataset:
    """Load `<family>:<a>-<b>` from the hub (or `source=`) as a binary Dataset."""
    import datasets as hf

    family = name.partition(":")[0]
    if family not in MEDIA_SPECS:
        raise KeyError(name)
    spec = MEDIA_SPECS[family]
    _, _, (a, b) = parse_pair(name, spec.class_index)
    if source is not None:
        builder, files = local_data_files(source, spec)
        # one split at a time: local copies may store a column differently per split
        ds = {split: hf.load_dataset(builder, data_files={split: paths}, cache_dir=cache_dir,
                                     **load_kwargs)[split] for split, paths in files.items()}
        where = f"local {builder} files ({', '.join(f'{k}: {len(v)}' for k, v in files.items())})"
    else:
        path, cfg = hub_id or spec.path, config if config is not None else spec.config
        try:
            ds = hf.load_dataset(path, cfg, cache_dir=cache_dir, **load_kwargs)
        except RuntimeError as e:
            if "script" not in str(e).lower():
                raise
            raise RuntimeError(f"{path} is a loading-script repository, which this version of "
                               f"`datasets` does not run: pass source= (local parquet files) or "
                               f"hub_id= (a parquet copy with columns {spec.column!r}, "
                               f"{spec.label!r})") from e
        where = f"hub {path}" + (f" ({cfg})" if cfg else "")
    if spec.train_split not in ds:
        raise ValueError(f"{name}: no {spec.train_split!r} split (have {list(ds)})")
    train_items, train_labels = _items_labels(ds[spec.train_split], spec, a, b)
    if spec.test_split is not None and spec.test_split in ds:
        test_items, test_labels = _items_labels(ds[spec.test_split], spec, a, b)
        how = f"{spec.train_split}/{spec.test_split} splits"
    else:
        frac = spec.test_size if test_size is None else test_size
        tr, te = stratified_split(train_labels, frac, seed)
        test_items, test_labels = [train_items[i] for i in te], train_labels[te]
        train_items, train_labels = [train_items[i] for i in tr], train_labels[tr]
        how = f"seeded split of {spec.train_split} (test_size={frac}, seed={seed})"
    return Dataset(
        name=f"{family}:{spec.classes[a]}-{spec.classes[b]}", train_items=train_items,
        train_labels=train_labels, test_items=test_items, test_labels=test_labels,
        label_names=(spec.classes[a], spec.classes[b]), source=f"{where}, {how}",
        modality=spec.modality, sample_rate=SAMPLE_RATE if spec.modality == "audio" else None)
