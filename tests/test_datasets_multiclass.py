"""Multi-class data sets (tart.datasets.multiclass) on small fixtures, the multi-class contexts,
pools and test sets, the metrics, and a tiny multi-class grid with its report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdata

from tart.datasets import MULTICLASS, Dataset, available_datasets, load_dataset
from tart.eval.contexts import balanced_context, balanced_pool, balanced_test
from tart.eval.metrics import ece, log_loss, macro_f1, scores


def _factor(values, levels):
    return pd.Categorical(list(values), categories=list(levels))


def _write_tables(folder: Path) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    n = 24
    vehicle = pd.DataFrame({c: rng.normal(size=n) for c in ("Comp", "Circ", "D.Circ")})
    vehicle["Class"] = _factor(np.array(["bus", "opel", "saab", "van"])[np.arange(n) % 4],
                               ["bus", "opel", "saab", "van"])
    glass = pd.DataFrame({c: rng.normal(size=n) for c in ("RI", "Na")})
    glass["Type"] = _factor(np.array(["1", "2", "3", "5", "6", "7"])[np.arange(n) % 6],
                            ["1", "2", "3", "4", "5", "6", "7"])  # level "4" has no rows
    vowel = pd.DataFrame({"V1": _factor(["0"] * n, ["0", "1"])})
    for i in range(2, 5):
        vowel[f"V{i}"] = rng.normal(size=n)
    vowel["Class"] = _factor(np.array(["hid", "hId", "hEd"])[np.arange(n) % 3], ["hid", "hId", "hEd"])
    soy = pd.DataFrame({"Class": _factor(np.array(["a-rot", "b-spot"])[np.arange(n) % 2] , ["a-rot", "b-spot"]),
                        "date": _factor(np.where(np.arange(n) % 5 == 0, None, "1"), ["0", "1", "2"]),
                        "hail": _factor(np.array(["0", "1"])[np.arange(n) % 2], ["0", "1"])})
    letter = pd.DataFrame({"lettr": _factor(np.array(list("ABC"))[np.arange(n) % 3], list("ABC")),
                           "x.box": rng.integers(0, 15, n).astype(float)})
    for name, df in (("Vehicle", vehicle), ("Glass", glass), ("Vowel", vowel), ("Soybean", soy),
                     ("LetterRecognition", letter)):
        rdata.write_rda(folder / f"{name}.rda", {name: df})
    return folder


def test_registry_lists_the_multiclass_sets():
    names = available_datasets()
    for n in MULTICLASS:
        assert n in names
    assert {"digits", "fashion_mnist", "spoken_keywords10", "spoken_keywords20", "tweets3", "vehicle",
            "glass", "vowel", "soybean", "letter"} <= set(MULTICLASS)


def test_mlbench_tables_from_fixtures(tmp_path):
    src = _write_tables(tmp_path / "mlbench")
    v = load_dataset("vehicle", source=src, test_size=0.25)
    assert v.modality == "table" and v.label_names == ("bus", "opel", "saab", "van") and v.n_classes == 4
    assert len(v.train_items) == 16 and len(v.test_items) == 8 and v.train_items[0].shape == (3,)
    assert np.bincount(v.test_labels).tolist() == [2, 2, 2, 2]  # stratified: round(6 * 0.25) each
    g = load_dataset("glass", source=src)
    assert g.label_names == ("1", "2", "3", "5", "6", "7")  # the empty level is left out
    w = load_dataset("vowel", source=src)
    assert w.train_items[0].shape == (3,)  # V1 (speaker) dropped
    s = load_dataset("soybean", source=src)
    assert s.train_items[0].shape == (3 + 2,)  # one-hot factors
    rows = np.stack(s.train_items + s.test_items)
    assert set(np.unique(rows)) <= {0.0, 1.0} and (rows[:, :3].sum(1) <= 1).all()  # missing: zeros
    letter = load_dataset("letter", source=src)
    assert letter.label_names == ("A", "B", "C")


def test_fashion_mnist_ten_classes_from_idx_files(fashion_idx):
    d = load_dataset("fashion_mnist", source=fashion_idx)
    assert d.n_classes == 10 and len(d.train_items) == 30 and d.modality == "image"
    assert d.label_names[0] == "t-shirt/top" and d.label_names[9] == "ankle boot"


def test_digits_ten_classes():
    d = load_dataset("digits")
    assert d.n_classes == 10 and d.train_items[0].shape == (8, 8) and d.train_items[0].dtype == np.uint8
    assert len(d.train_items) + len(d.test_items) == 1797 and np.bincount(d.test_labels).min() >= 50


def test_tweets_three_way_from_a_small_csv(tmp_path):
    path = tmp_path / "t.csv"
    texts = [f"tweet {i}" for i in range(30)] + ["tweet 0", ""]
    sent = (["negative", "neutral", "positive"] * 10) + ["positive", "neutral"]
    pd.DataFrame({"sentiment": sent, "confidence": 1.0, "text": texts}).to_csv(path, index=False, encoding="latin-1")
    d = load_dataset("tweets3", source=path, test_size=0.2)
    assert d.label_names == ("negative", "neutral", "positive")
    assert len(d.train_items) + len(d.test_items) == 30  # repeated and empty texts dropped
    assert np.bincount(d.test_labels).tolist() == [2, 2, 2]


def test_spoken_keywords_with_many_words_from_the_cache(tmp_path, monkeypatch):
    import tart.datasets.multiclass as mc

    def fake_clips(word, progress=True, **grid):
        rng = np.random.default_rng(len(word))
        return [rng.uniform(-0.5, 0.5, 1600).astype(np.float32) for _ in range(5)], []

    monkeypatch.setattr("tart.datasets.media.keyword_clips", fake_clips)
    d = mc.load_keywords("spoken_keywords20")
    assert d.n_classes == 20 and d.label_names[:2] == ("yes", "no") and d.modality == "audio"
    assert len(d.train_items) == 80 and len(d.test_items) == 20
    assert mc.load_keywords("spoken_keywords10").n_classes == 10


def test_contexts_per_class_are_nested_balanced_and_test_sets_fixed():
    y = np.repeat(np.arange(5), [40, 30, 20, 50, 10])
    prev = None
    for k in (2, 4, 8):
        idx = balanced_context(y, k, seed=3, per_class=True)
        assert np.bincount(y[idx], minlength=5).tolist() == [k] * 5
        if prev is not None:
            assert set(prev) <= set(idx)
        prev = idx
    with pytest.raises(ValueError, match="needs 16"):
        balanced_context(y, 16, 0, per_class=True)
    t = balanced_test(y, 50)
    assert np.bincount(y[t]).tolist() == [10] * 5 and np.array_equal(t, balanced_test(y, 50))
    p = balanced_pool(y, 100)
    assert np.bincount(y[p]).tolist() == [20, 20, 20, 20, 10]


def test_metrics():
    y = np.array([0, 1, 2, 2])
    proba = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]])
    s = scores(proba, y, 3)
    assert s["acc"] == 0.75
    assert s["log_loss"] == pytest.approx(-np.mean(np.log([0.8, 0.7, 0.8, 0.2])), abs=1e-6)
    # bins: 0.8, 0.7, 0.8 correct, 0.6 wrong -> |1 - 0.8| * 2/4 + |1 - 0.7| / 4 + |0 - 0.6| / 4
    assert ece(proba, y) == pytest.approx(0.2 * 0.5 + 0.3 * 0.25 + 0.6 * 0.25)
    assert macro_f1(np.array([0, 1, 2, 0]), y, 3) == pytest.approx(np.mean([2 / 3, 1.0, 2 / 3]))
    labels = scores(np.array([0, 1, 2, 0]), y, 3)
    assert labels["ece"] is None and labels["log_loss"] is None and labels["acc"] == 0.75
    assert log_loss(np.array([[1.0, 0.0]]), np.array([1])) == pytest.approx(-np.log(1e-15))


@pytest.mark.slow
def test_a_tiny_multiclass_grid_and_its_report(tmp_path):
    from tart.eval.runner import run_grid
    from tart.reasoner import Reasoner, tart_preset
    import torch

    torch.manual_seed(0)
    tiny = Reasoner(tart_preset("tiny")).eval()
    rng = np.random.default_rng(0)
    means = rng.normal(size=(4, 6)) * 3
    ytr, yte = np.arange(80) % 4, np.arange(40) % 4
    ds = Dataset("toy4", list((means[ytr] + rng.normal(size=(80, 6))).astype(np.float32)), ytr,
                 list((means[yte] + rng.normal(size=(40, 6))).astype(np.float32)), yte,
                 ("a", "b", "c", "d"), "test", modality="table")
    out = tmp_path / "run"
    old = {"dataset": "toy4", "embedder": "features", "method": "ncm", "k": 64, "seed": 0, "status": "ok",
           "acc": 0.5, "n_test": 40, "seconds": 0.1, "reason": None}  # a row from before the metrics
    out.mkdir()
    (out / "runs.jsonl").write_text(json.dumps(old) + "\n")
    rows = run_grid(out, ["toy4"], ["features"], ks=(2, 4), seeds=(0,), methods=["tart", "lda", "ncm",
                    "logreg-projected"], n_test=40, pool=80, reasoner=tiny, load=lambda n: ds,
                    progress=False, report=tmp_path / "mc.md", command="tart eval ...")
    cell = {(r["method"], r["k"]): r for r in rows}
    assert cell["tart", 4]["status"] == "ok" and cell["tart", 4]["n_classes"] == 4
    assert cell["tart", 4]["ece"] is not None and cell["tart", 4]["log_loss"] is not None
    assert cell["ncm", 4]["ece"] is None and cell["ncm", 4]["macro_f1"] is not None
    assert cell["logreg-projected", 2]["status"] == "skipped"
    assert "binary" in cell["logreg-projected", 2]["reason"]
    assert cell["ncm", 64]["acc"] == 0.5  # the old row still loads
    md = (tmp_path / "mc.md").read_text()
    assert "ECE (15 bins, top-label" in md and "Multi-class, features" in md and "macro-F1" in md
    assert "examples per class; 4 classes" not in md  # (a plot label, not in the text)
    assert (tmp_path / "mc.png").is_file()
