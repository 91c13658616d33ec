"""Small numeric tables from mlbench (Debian r-cran-mlbench, `tart assets install mlbench`), as
binary `Dataset`s with modality "table": each item is one float32 feature row.

| name       | R data frame        | rows | features | label 1 (positive)  | label 0     |
|------------|---------------------|------|----------|---------------------|-------------|
| sonar      | Sonar               | 208  | 60       | "M" (mine, 111)     | "R" (rock)  |
| ionosphere | Ionosphere          | 351  | 33       | "good" (225)        | "bad"       |
| pima       | PimaIndiansDiabetes | 768  | 8        | "pos" (268)         | "neg"       |
| breast_cancer | BreastCancer     | 683  | 9        | "malignant" (239)   | "benign"    |
| satellite  | Satellite           | 1984 | 36       | "damp grey soil" (626) | "grey soil" |

Ionosphere's factor V1 is made numeric (0/1) and its constant V2 dropped. BreastCancer's Id is
dropped, its ordinal factors (1-10) become numbers and its 16 rows with a missing value are left
out. Satellite (Landsat pixels, 36 spectral values of a 3 x 3 neighbourhood) keeps the rows of
its two closest classes, grey and damp grey soil. The tables have no test split: a seeded
stratified split (default 30% test, seed 0; `stratified_split`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tart import assets
from tart.datasets.base import Dataset, stratified_split
from tart.datasets.rdata import read_rda


@dataclass(frozen=True)
class TableSpec:
    """Where a table lives in mlbench and how its label column maps to 0/1."""

    frame: str  # the R data frame, in <frame>.rda
    label: str  # the label column
    positive: str  # its value for label 1
    negative: str  # its value for label 0
    label_names: tuple[str, str]  # words for 0 and 1
    drop: tuple[str, ...] = ()  # columns left out (constant ones, identifiers)
    other_rows: bool = False  # rows of other label values are left out (else they are an error)
    missing_rows: bool = False  # rows with a missing value are left out (else they are an error)


TABLES = {
    "sonar": TableSpec("Sonar", "Class", "M", "R", ("rock", "mine")),
    "ionosphere": TableSpec("Ionosphere", "Class", "good", "bad", ("bad", "good"), drop=("V2",)),
    "pima": TableSpec("PimaIndiansDiabetes", "diabetes", "pos", "neg", ("negative", "positive")),
    "breast_cancer": TableSpec("BreastCancer", "Class", "malignant", "benign", ("benign", "malignant"),
                               drop=("Id",), missing_rows=True),
    "satellite": TableSpec("Satellite", "classes", "damp grey soil", "grey soil", ("grey soil", "damp grey soil"),
                           other_rows=True),
}


def read_frame(name: str, frame: str, label: str, source: str | Path | None = None):
    """The data frame `frame` of an mlbench .rda file (`source`: a folder of .rda files or the file
    itself; default the mlbench asset), checked to hold the label column `label`; returns it and
    the file it came from."""
    path = Path(source) if source is not None else assets.data_path("mlbench")
    if path.is_dir():
        path = path / f"{frame}.rda"
    if not path.is_file():
        raise FileNotFoundError(f"{name}: no {path}")
    objects = read_rda(path)
    if frame not in objects:
        raise ValueError(f"{path} holds {', '.join(objects) or 'nothing'}, not {frame}")
    df = objects[frame]
    if label not in df.columns:
        raise ValueError(f"{path}: {frame} has no label column {label!r}")
    return df, path


def read_table(name: str,
               source: str | Path | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X float32 [n, D], y int64 0/1, feature names) of a table in TABLES.

    source: a folder with `<frame>.rda` or the .rda file itself (default: the mlbench asset).
    Factor columns (Ionosphere's V1) become numbers; a non-numeric one is a ValueError.
    """
    import pandas as pd

    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; known: {', '.join(TABLES)}")
    spec = TABLES[name]
    df, path = read_frame(name, spec.frame, spec.label, source)
    if spec.other_rows:
        df = df[df[spec.label].astype(str).isin([spec.positive, spec.negative])]
    if spec.missing_rows:
        df = df.dropna()
    labels = df[spec.label].astype(str)
    unknown = sorted(set(labels) - {spec.positive, spec.negative})
    if unknown:
        raise ValueError(f"{name}: unexpected {spec.label} values {unknown} in {path}")
    features = df.drop(columns=[spec.label, *spec.drop], errors="ignore")
    columns = {}
    for col in features.columns:
        values = features[col].astype(str) if features[col].dtype == "category" else features[col]
        try:
            columns[col] = pd.to_numeric(values).to_numpy(np.float64)
        except (ValueError, TypeError):
            raise ValueError(f"{name}: column {col!r} of {path} is not numeric") from None
    X = np.column_stack(list(columns.values())).astype(np.float32)
    if not np.isfinite(X).all():
        raise ValueError(f"{name}: {path} has missing or infinite values")
    return X, (labels == spec.positive).to_numpy(np.int64), list(columns)


def load_table(name: str, *, source: str | Path | None = None, test_size: float = 0.3,
               seed: int = 0) -> Dataset:
    """A table of TABLES as a Dataset (modality "table"), seeded stratified split."""
    X, y, cols = read_table(name, source)
    spec = TABLES[name]
    tr, te = stratified_split(y, test_size, seed)
    return Dataset(
        name=name, train_items=list(X[tr]), train_labels=y[tr], test_items=list(X[te]),
        test_labels=y[te], label_names=spec.label_names, modality="table",
        source=f"Debian r-cran-mlbench {spec.frame} ({len(cols)} features; {spec.label} "
               f"{spec.positive!r} -> 1), split test_size={test_size} seed={seed}")
