"""The binary text data set every loader returns, and the seeded split used where a source has no test split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class TextDataset:
    """A binary text classification task: texts with 0/1 labels, split into train and test.

    `label_names` are the words for class 0 and class 1 (used in prompts), e.g.
    ("negative", "positive"); `source` says where the data came from.
    """

    name: str
    train_texts: list[str]
    train_labels: np.ndarray
    test_texts: list[str]
    test_labels: np.ndarray
    label_names: tuple[str, str]
    source: str

    def __post_init__(self) -> None:
        self.train_labels = _as_labels(self.train_labels, "train_labels")
        self.test_labels = _as_labels(self.test_labels, "test_labels")
        self.train_texts, self.test_texts = list(self.train_texts), list(self.test_texts)
        for split, texts, labels in (("train", self.train_texts, self.train_labels),
                                     ("test", self.test_texts, self.test_labels)):
            if len(texts) != len(labels):
                raise ValueError(f"{self.name}: {len(texts)} {split} texts but {len(labels)} labels")
        if len(self.label_names) != 2:
            raise ValueError(f"{self.name}: label_names must be 2 words, got {self.label_names!r}")
        self.label_names = tuple(self.label_names)

    def __repr__(self) -> str:
        return (f"TextDataset({self.name!r}, train={len(self.train_texts)} "
                f"(positive {int(self.train_labels.sum())}), test={len(self.test_texts)} "
                f"(positive {int(self.test_labels.sum())}), labels={self.label_names}, "
                f"source={self.source!r})")


def _as_labels(labels, what: str) -> np.ndarray:
    arr = np.asarray(labels)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be 1-d, got shape {arr.shape}")
    if arr.size and not np.isin(arr, (0, 1)).all():
        raise ValueError(f"{what} must be 0/1, got values {sorted(set(arr.tolist()))[:10]}")
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
