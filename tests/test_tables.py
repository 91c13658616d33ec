"""Numeric tables (mlbench: sonar, ionosphere, pima), the identity embedder `features`, the lda and
ncm baselines, and an evaluation grid over a table.

Loaders run on small .rda fixtures written here with `rdata.write_rda`; the real asset is checked
by tests that fail (not skip) when `tart assets install mlbench` has not run.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdata

from conftest import needs_asset
from tart import assets
from tart.datasets import Dataset, available_datasets, load_dataset
from tart.embed import CachedEmbedder, FeatureEmbedder, get_embedder
from tart.eval.methods import DEFAULT_METHODS, METHODS, PROBES
from tart.eval.probes import lda, ncm
from tart.eval.report import read_runs
from tart.eval.runner import run_grid


# --- fixtures: mlbench-like .rda files ----------------------------------------------------------

def _factor(values, levels) -> pd.Categorical:
    return pd.Categorical(list(values), categories=list(levels))


def _write_fixtures(folder: Path, n_pos: int = 25, n_neg: int = 15) -> Path:
    """Sonar, Ionosphere and PimaIndiansDiabetes with the real columns and factor levels; the
    positive rows come first, and one feature (ROW_FEATURE) is the row number."""
    rng = np.random.default_rng(0)
    n = n_pos + n_neg
    pos = np.arange(n) < n_pos
    row = np.arange(n, dtype=float)
    sonar = pd.DataFrame({f"V{i}": rng.uniform(size=n) for i in range(1, 61)})
    sonar["V1"] = row
    sonar["Class"] = _factor(np.where(pos, "M", "R"), ["M", "R"])
    iono = pd.DataFrame({"V1": _factor(np.where(row % 2 == 0, "1", "0"), ["0", "1"]),
                         "V2": _factor(["0"] * n, ["0"])})
    for i in range(3, 35):
        iono[f"V{i}"] = rng.uniform(-1, 1, size=n)
    iono["V3"] = row
    iono["Class"] = _factor(np.where(pos, "good", "bad"), ["bad", "good"])
    pima = pd.DataFrame({c: rng.integers(0, 200, size=n).astype(float) for c in (
        "pregnant", "glucose", "pressure", "triceps", "insulin", "mass", "pedigree", "age")})
    pima["pregnant"] = row
    pima["diabetes"] = _factor(np.where(pos, "pos", "neg"), ["neg", "pos"])
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in (("Sonar", sonar), ("Ionosphere", iono), ("PimaIndiansDiabetes", pima)):
        rdata.write_rda(folder / f"{name}.rda", {name: df})
    return folder


@pytest.fixture
def mlbench_dir(tmp_path) -> Path:
    return _write_fixtures(tmp_path / "mlbench")


ROW_FEATURE = {"sonar": 0, "ionosphere": 1, "pima": 0}  # Ionosphere: V3 (V1 is 0/1, V2 dropped)
TABLE_SHAPES = {"sonar": (60, ("rock", "mine")), "ionosphere": (33, ("bad", "good")),
                "pima": (8, ("negative", "positive"))}


# --- loaders ---------------------------------------------------------------------------------

def test_tables_are_registered():
    names = available_datasets()
    assert {"sonar", "ionosphere", "pima"} <= set(names) and len(names) == len(set(names))


@pytest.mark.parametrize("name", sorted(TABLE_SHAPES))
def test_table_loader_on_fixtures(name, mlbench_dir):
    d = load_dataset(name, source=mlbench_dir)
    dims, label_names = TABLE_SHAPES[name]
    assert isinstance(d, Dataset) and d.modality == "table" and d.name == name
    assert d.label_names == label_names
    assert len(d.train_items) == 28 and len(d.test_items) == 12  # 25/15 rows, 30% test
    assert int(d.test_labels.sum()) == round(25 * 0.3) and int((d.test_labels == 0).sum()) == 4
    assert all(x.dtype == np.float32 and x.shape == (dims,) for x in d.train_items + d.test_items)
    # label 1 is the positive class: the first 25 rows
    j = ROW_FEATURE[name]
    for items, labels in ((d.train_items, d.train_labels), (d.test_items, d.test_labels)):
        assert all(int(x[j] < 25) == y for x, y in zip(items, labels))
    rows = sorted(int(x[j]) for x in d.train_items + d.test_items)
    assert rows == list(range(40))  # every row once: train and test are disjoint


def test_ionosphere_v1_is_numeric_and_v2_is_dropped(mlbench_dir):
    from tart.datasets.tables import read_table

    X, y, cols = read_table("ionosphere", mlbench_dir)
    assert cols[:2] == ["V1", "V3"] and "V2" not in cols and len(cols) == 33
    assert X.shape == (40, 33) and set(X[:, 0].tolist()) == {0.0, 1.0}
    assert np.array_equal(X[:, 0], (np.arange(40) % 2 == 0).astype(np.float32))


def test_split_is_seeded_and_stratified(mlbench_dir):
    a = load_dataset("sonar", source=mlbench_dir)
    b = load_dataset("sonar", source=mlbench_dir)
    assert all(np.array_equal(x, y) for x, y in zip(a.test_items, b.test_items))
    assert np.array_equal(a.train_labels, b.train_labels)
    c = load_dataset("sonar", source=mlbench_dir, seed=1)
    assert [x[0] for x in c.test_items] != [x[0] for x in a.test_items]
    d = load_dataset("sonar", source=mlbench_dir, test_size=0.5)
    assert len(d.test_items) == 20 and int(d.test_labels.sum()) == round(25 * 0.5)


def test_table_errors(tmp_path, mlbench_dir, monkeypatch):
    monkeypatch.setenv("TART_HOME", str(tmp_path / "empty"))
    with pytest.raises(assets.AssetError, match="tart assets install mlbench"):
        load_dataset("pima")
    bad = tmp_path / "bad"
    bad.mkdir()
    text = pd.Series(["a", "b"], dtype=object)
    df = pd.DataFrame({"V1": text, "Class": _factor(["M", "R"], ["M", "R"])})
    rdata.write_rda(bad / "Sonar.rda", {"Sonar": df})
    with pytest.raises(ValueError, match="column 'V1' .* is not numeric"):
        load_dataset("sonar", source=bad)
    df = pd.DataFrame({"V1": [0.1, np.nan], "Class": _factor(["M", "R"], ["M", "R"])})
    rdata.write_rda(bad / "Sonar.rda", {"Sonar": df})
    with pytest.raises(ValueError, match="missing or infinite"):
        load_dataset("sonar", source=bad)
    df = pd.DataFrame({"V1": [0.1, 0.2], "Class": _factor(["M", "X"], ["M", "X"])})
    rdata.write_rda(bad / "Sonar.rda", {"Sonar": df})
    with pytest.raises(ValueError, match=r"unexpected Class values \['X'\]"):
        load_dataset("sonar", source=bad)
    with pytest.raises(FileNotFoundError, match="PimaIndiansDiabetes.rda"):
        load_dataset("pima", source=bad)
    with pytest.raises(ValueError, match="finite"):
        Dataset("t", [np.array([1.0, np.inf])], [0], [], [], ("a", "b"), "s", "table")
    with pytest.raises(ValueError, match="1-d numeric"):
        Dataset("t", [np.array(["x"])], [0], [], [], ("a", "b"), "s", "table")


# --- the real asset --------------------------------------------------------------------------

REAL = {"sonar": (208, 111, 60), "ionosphere": (351, 225, 33), "pima": (768, 268, 8),
        "breast_cancer": (683, 239, 9), "satellite": (1984, 626, 36)}
REAL_NAMES = {"breast_cancer": ("benign", "malignant"), "satellite": ("grey soil", "damp grey soil")}


@needs_asset("mlbench")
@pytest.mark.parametrize("name", sorted(REAL))
def test_real_tables(name):
    n, n_pos, dims = REAL[name]
    d = load_dataset(name)
    assert len(d.train_items) + len(d.test_items) == n
    assert int(d.train_labels.sum() + d.test_labels.sum()) == n_pos
    assert int(d.test_labels.sum()) == round(n_pos * 0.3)
    assert int((d.test_labels == 0).sum()) == round((n - n_pos) * 0.3)
    assert d.train_items[0].shape == (dims,)
    assert d.label_names == (TABLE_SHAPES[name][1] if name in TABLE_SHAPES else REAL_NAMES[name])
    assert all(np.isfinite(x).all() for x in d.train_items)
    assert "r-cran-mlbench" in d.source and "seed=0" in d.source


@needs_asset("mlbench")
def test_real_asset_folder():
    folder = assets.data_path("mlbench")
    assert folder == assets.home() / "data" / "mlbench"
    assert {"Sonar.rda", "Ionosphere.rda", "PimaIndiansDiabetes.rda", "Glass.rda"} <= {
        p.name for p in folder.glob("*.rda")}
    assert "r-cran-mlbench" in (folder / "SOURCE.txt").read_text()


# --- the features embedder -------------------------------------------------------------------

def test_features_embedder_is_the_identity(tmp_path):
    emb = get_embedder("features")
    assert isinstance(emb, FeatureEmbedder) and emb.name == "features"
    rows = [np.array([1, 2, 3]), np.array([0.5, -1.0, 2.5], np.float64), [4, 5, 6]]
    X = emb.encode(rows)
    assert X.dtype == np.float32 and X.shape == (3, 3)
    assert np.array_equal(X, np.array([[1, 2, 3], [0.5, -1, 2.5], [4, 5, 6]], np.float32))
    assert np.array_equal(emb.encode(X), X)  # a 2-d array is a list of rows
    cached = CachedEmbedder(emb, cache_dir=tmp_path / "emb")
    assert np.array_equal(cached.encode(rows), X) and cached.name == "features"
    assert not (tmp_path / "emb").exists()  # nothing to store for the identity


@pytest.mark.parametrize("rows, match", [
    ([np.ones(3), np.ones(4)], "item 1 has 4 values, item 0 has 3"),
    ([np.ones(2), np.array(["a", "b"])], "item 1 must be a 1-d row of numbers"),
    ([np.ones(2), [1.0, None]], "item 1 must be a 1-d row of numbers"),
    ([np.ones((2, 2))], "item 0 must be a 1-d row"),
    ([np.array([1.0, np.nan])], "item 0 holds NaN or inf"),
    ([np.ones(2), np.array([np.inf, 1.0])], "item 1 holds NaN or inf"),
    ([], "empty"),
    ("abc", "not a single string"),
])
def test_features_embedder_errors(rows, match):
    with pytest.raises(ValueError, match=match):
        get_embedder("features").encode(rows)


def test_features_embedder_takes_no_options():
    with pytest.raises(ValueError, match="takes no options"):
        get_embedder("features", batch_size=8)
    with pytest.raises(ValueError, match="takes no options"):
        get_embedder("features", kind="image")


# --- lda and ncm -----------------------------------------------------------------------------

def _blobs(n_classes: int, n: int, noise_seed: int, dims: int = 10):
    """Gaussian classes around fixed, well-separated means away from the origin (the same means
    for every noise_seed); the last feature is constant (standardising must not divide by 0)."""
    centres = np.random.default_rng(0).normal(size=(n_classes, dims)) * 3.0 + 5.0
    y = np.arange(n) % n_classes
    X = centres[y] + np.random.default_rng(noise_seed).normal(size=(n, dims))
    X[:, -1] = 2.0
    return X.astype(np.float32), y


@pytest.mark.parametrize("fn", [lda, ncm])
@pytest.mark.parametrize("n_classes", [2, 3])
def test_lda_and_ncm_are_accurate(fn, n_classes):
    Xc, yc = _blobs(n_classes, 8 * n_classes, noise_seed=1)
    Xq, yq = _blobs(n_classes, 300, noise_seed=2)
    pred = fn(Xc, yc, Xq)
    if pred.ndim == 2:  # lda: probabilities [m, L], columns in class order
        assert pred.shape == (300, n_classes)
        np.testing.assert_allclose(pred.sum(1), 1.0)
        pred = pred.argmax(1)
    assert pred.shape == (300,) and set(np.unique(pred)) <= set(range(n_classes))
    assert (pred == yq).mean() > 0.9


def test_lda_and_ncm_keep_label_values_and_edge_cases():
    X = np.array([[1.0, 0, 0], [1.1, 0, 0], [0, 1.0, 0], [0, 1.2, 0], [0, 0, 1.0], [0, 0, 0.9]])
    y = np.array([7, 7, 3, 3, 5, 5])
    assert ncm(X, y, np.eye(3)).tolist() == [7, 3, 5]
    assert ncm(X, y, np.zeros((1, 3))).tolist() in ([3], [5], [7])  # a zero query: no NaN
    assert lda(np.ones((8, 4)), np.array([0, 1] * 4), np.ones((2, 4))).shape == (2, 2)  # constant: probabilities
    Xc = np.random.default_rng(0).normal(size=(16, 40))  # more features than examples
    yc = np.array([0, 1] * 8)
    Xc[:, 0] += 4 * yc
    Xq = np.c_[np.array([[-4.0], [8.0]]), np.zeros((2, 39))]
    assert lda(Xc, yc, Xq).argmax(1).tolist() == [0, 1]


def test_methods_are_registered_as_probes_not_defaults():
    for name in ("lda", "ncm"):
        assert name in METHODS and name in PROBES and name not in DEFAULT_METHODS


# --- the evaluation grid over a table --------------------------------------------------------

@needs_asset("mlbench")
def test_grid_over_sonar_with_features(tmp_path):
    out = tmp_path / "run"
    methods = ["logreg-full", "lda", "ncm", "knn"]
    rows = run_grid(out, ["sonar"], ["features"], ks=(16,), seeds=(0,), methods=methods,
                    cache_dir=tmp_path / "emb", progress=False)
    lines = [json.loads(x) for x in (out / "runs.jsonl").read_text().splitlines()]
    assert len(lines) == len(rows) == 4 and {r["method"] for r in lines} == set(methods)
    acc = {r["method"]: r["acc"] for r in read_runs(out / "runs.jsonl")}
    assert all(r["status"] == "ok" and r["embedder"] == "features" for r in lines), lines
    assert all(r["n_test"] == 58 for r in lines)  # sonar's test split: 29 rocks, 33 mines
    for m in ("logreg-full", "lda", "ncm"):
        assert acc[m] > 0.6, acc
    assert acc["knn"] > 0.5, acc  # raw-feature cosine k-NN at k=16 is weak on sonar
    assert "| lda |" in (out / "results.md").read_text()
    assert not (tmp_path / "emb").exists()
