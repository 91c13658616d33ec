"""The data set the loaders return (binary or multi-class (`Dataset`: text, audio, images or numeric tables), and
the seeded split used where a source has no test split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np


MODALITIES = ("text", "audio", "image", "table")


@dataclass
class Dataset:
    """A classification task: items with labels 0..L-1 (L = len(label_names) >= 2; 0/1 for the
    binary sets), split into train and test.

    The items depend on `modality`:
    - "text": every item is a str;
    - "audio": a 1-d float32 array (mono, in [-1, 1]) at `sample_rate` Hz (16000 for every loader
      here, what Whisper expects);
    - "image": a uint8 array, [H, W] (grey) or [H, W, 3] (RGB);
    - "table": a 1-d float32 array of finite numbers, one feature row (the `features` embedder
      passes them through unchanged).

    `label_names` name classes 0, 1, ... (the words prompts use, e.g. ("negative", "positive"));
    a multi-class set has at least one training item per class (else a ValueError);
    `source` says where the data came from. Items are a list (clips and texts differ in length).
    """

    name: str
    train_items: list
    train_labels: np.ndarray
    test_items: list
    test_labels: np.ndarray
    label_names: tuple[str, ...]
    source: str
    modality: str = "text"
    sample_rate: int | None = None

    def __post_init__(self) -> None:
        if self.modality not in MODALITIES:
            raise ValueError(f"{self.name}: modality must be one of {MODALITIES}, got {self.modality!r}")
        if self.modality == "audio":
            if self.sample_rate is None or int(self.sample_rate) <= 0:
                raise ValueError(f"{self.name}: audio needs a positive sample_rate, got {self.sample_rate!r}")
            self.sample_rate = int(self.sample_rate)
        elif self.sample_rate is not None:
            raise ValueError(f"{self.name}: sample_rate applies to audio only")
        if len(self.label_names) < 2 or len(set(self.label_names)) != len(self.label_names):
            raise ValueError(f"{self.name}: label_names must be 2 or more distinct words, got "
                             f"{self.label_names!r}")
        self.label_names = tuple(self.label_names)
        L = len(self.label_names)
        self.train_labels = _as_labels(self.train_labels, "train_labels", L)
        self.test_labels = _as_labels(self.test_labels, "test_labels", L)

        self.train_items = [self._check_item(x, "train", i) for i, x in enumerate(self.train_items)]
        self.test_items = [self._check_item(x, "test", i) for i, x in enumerate(self.test_items)]
        for split, items, labels in (("train", self.train_items, self.train_labels),
                                     ("test", self.test_items, self.test_labels)):
            if len(items) != len(labels):
                raise ValueError(f"{self.name}: {len(items)} {split} items but {len(labels)} labels")
        empty = [n for c, n in enumerate(self.label_names) if not (self.train_labels == c).any()]
        if L > 2 and empty:  # multi-class: every named class is a class the contexts draw from
            raise ValueError(f"{self.name}: class(es) {empty} of label_names have no training items")

    def _check_item(self, x: Any, split: str, i: int) -> Any:
        if self.modality == "text":
            return x
        x = np.asarray(x)
        where = f"{self.name}: {split} item {i}"
        if self.modality == "audio":
            if x.ndim != 1 or not np.issubdtype(x.dtype, np.floating):
                raise ValueError(f"{where}: audio must be a 1-d float array (mono), got "
                                 f"{x.dtype} {x.shape}")
            return np.ascontiguousarray(x, dtype=np.float32)
        if self.modality == "table":
            if x.ndim != 1 or x.dtype.kind not in "biuf":
                raise ValueError(f"{where}: a table row must be a 1-d numeric array, got "
                                 f"{x.dtype} {x.shape}")
            x = np.ascontiguousarray(x, dtype=np.float32)
            if not np.isfinite(x).all():
                raise ValueError(f"{where}: a table row must hold finite numbers (no NaN/inf)")
            return x
        if x.dtype != np.uint8 or not (x.ndim == 2 or (x.ndim == 3 and x.shape[2] == 3)):
            raise ValueError(f"{where}: an image must be uint8 [H, W] or [H, W, 3], got "
                             f"{x.dtype} {x.shape}")
        return x

    def __repr__(self) -> str:
        if self.modality == "audio":
            what = f"audio {self.sample_rate} Hz"
        elif self.modality == "table":
            dims = {len(x) for x in self.train_items + self.test_items}
            what = f"table {dims.pop() if len(dims) == 1 else 'mixed'} features"
        elif self.modality == "image":
            shapes = {x.shape for x in self.train_items[:100] + self.test_items[:100]}
            what = "image " + (f"{next(iter(shapes))}" if len(shapes) == 1 else "mixed sizes")
        else:
            what = "text"
        if self.n_classes > 2:
            return (f"Dataset({self.name!r}, {what}, {self.n_classes} classes, train="
                    f"{len(self.train_items)}, test={len(self.test_items)}, labels="
                    f"{self.label_names[:5]}{'...' if self.n_classes > 5 else ''}, source={self.source!r})")
        return (f"Dataset({self.name!r}, {what}, train={len(self.train_items)} "
                f"(positive {int(self.train_labels.sum())}), test={len(self.test_items)} "
                f"(positive {int(self.test_labels.sum())}), labels={self.label_names}, "
                f"source={self.source!r})")

    @property
    def n_classes(self) -> int:
        return len(self.label_names)


def parse_pair(name: str, resolve: Callable[[str], Any]) -> tuple[str, str, tuple]:
    """Split "family:a-b" into (family, spec, (resolve(a), resolve(b))); the two must differ."""
    family, sep, spec = name.partition(":")
    parts = spec.split("-") if sep else []
    if len(parts) != 2 or not all(parts):
        raise ValueError(f"{name!r}: expected '{family}:<a>-<b>' (two classes joined by '-')")
    a, b = resolve(parts[0]), resolve(parts[1])
    if a == b:
        raise ValueError(f"{name!r}: the two classes must differ")
    return family, spec, (a, b)


def _as_labels(labels: Any, what: str, n_classes: int = 2) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-d, got shape {arr.shape}")
    if arr.size and not np.isin(arr, np.arange(n_classes)).all():
        want = "0/1" if n_classes == 2 else f"integers 0..{n_classes - 1}"
        raise ValueError(f"{what} must be {want}, got values {sorted(set(arr.tolist()))[:10]}")
    return arr.astype(np.int64)


def stratified_split(labels: np.ndarray, test_size: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test) of a seeded stratified split, each shuffled; same seed, same split.

    Each class puts round(n_class * test_size) of its rows in the test set.
    """
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    train, test = [], []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        n_test = int(round(len(idx) * test_size))
        test.append(idx[:n_test])
        train.append(idx[n_test:])
    train_idx = rng.permutation(np.concatenate(train)) if train else np.zeros(0, np.int64)
    test_idx = rng.permutation(np.concatenate(test)) if test else np.zeros(0, np.int64)
    return train_idx, test_idx
