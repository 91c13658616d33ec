"""`tart eval` grid: shared balanced nested contexts, resume, skipped cells, reports, the CLI.

Fast: a hashed-feature embedder, the tiny random Llama of test_embed.py and a tiny random reasoner.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import torch

from conftest import needs_asset
from tart.datasets import Dataset
from tart.eval import report
from tart.eval.methods import METHODS, Method
from tart.eval.report import read_runs
from tart.eval.runner import run_grid
from tart.reasoner import Reasoner, tart_preset
from test_embed import tiny_path  # noqa: F401  (fixture)

GOOD = ["tasty", "great", "lovely", "fresh", "yummy"]
BAD = ["stale", "awful", "broken", "bland", "rotten"]


def _texts(n: int, seed: int) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (np.arange(n) % 3 == 0).astype(int)  # imbalanced: a third positive
    texts = [f"{rng.choice(GOOD if v else BAD)} snack number {seed}-{i}" for i, v in enumerate(y)]
    return texts, y


def _dataset(name: str = "toy") -> Dataset:
    tr, ytr = _texts(240, 1)
    te, yte = _texts(90, 2)
    return Dataset(name, tr, ytr, te, yte, ("negative", "positive"), "synthetic")


class HashEmbedder:
    """Features from the text: a class signal on dim 0 plus hashed noise (no model)."""

    cache_key = "test-hash-embedder-v1"
    context_dependent = False
    name = "hash"

    def encode(self, items, *, batch_size=None, show_progress_bar=None):
        out = []
        for t in items:
            rng = np.random.default_rng(int(hashlib.sha256(t.encode()).hexdigest()[:8], 16))
            v = rng.normal(size=12)
            v[0] += 2.0 if t.split()[0] in GOOD else -2.0
            out.append(v)
        return np.asarray(out, np.float32)


@pytest.fixture
def tiny_reasoner() -> Reasoner:
    torch.manual_seed(0)
    return Reasoner(tart_preset("tiny")).eval()


def _counting(calls: list, name: str = "count") -> Method:
    def fn(ctx, test):
        calls.append((name, ctx.k, ctx.seed, list(ctx.items), ctx.y.copy(), list(test.items)))
        return np.zeros(len(test.items), int)
    return Method(name, fn)


def test_every_method_sees_the_same_balanced_nested_contexts(tmp_path):
    calls: list = []
    registry = {"a": _counting(calls, "a"), "b": _counting(calls, "b")}
    run_grid(tmp_path / "run", ["toy"], [HashEmbedder()], ks=(18, 32, 48, 64), seeds=(0, 1),
             methods=["a", "b"], n_test=40, pool=200, registry=registry, load=lambda n: _dataset(n),
             cache_dir=tmp_path / "emb", progress=False)
    assert len(calls) == 2 * 4 * 2
    tests = {tuple(c[5]) for c in calls}
    assert len(tests) == 1 and len(next(iter(tests))) == 40
    for seed in (0, 1):
        prev: set = set()
        for k in (18, 32, 48, 64):
            a, b = [c for c in calls if c[1] == k and c[2] == seed]
            assert a[3] == b[3] and (a[4] == b[4]).all()  # same context for both methods
            assert len(set(a[3])) == k and a[4].sum() == k // 2  # balanced
            assert all((t.split()[0] in GOOD) == bool(v) for t, v in zip(a[3], a[4]))
            assert prev <= set(a[3])  # nested in k
            prev = set(a[3])
    s0 = {tuple(c[3]) for c in calls if c[1] == 18 and c[2] == 0}
    s1 = {tuple(c[3]) for c in calls if c[1] == 18 and c[2] == 1}
    assert s0 != s1


def test_resume_skips_finished_cells_and_retries_errors(tmp_path):
    calls: list = []
    fails = {"on": True}

    def flaky(ctx, test):
        calls.append("flaky")
        if fails["on"]:
            raise RuntimeError("boom")
        return np.zeros(len(test.items), int)

    registry = {"count": _counting(calls), "flaky": Method("flaky", flaky)}
    kw = dict(n_test=30, pool=200, registry=registry, load=lambda n: _dataset(n),
              cache_dir=tmp_path / "emb", progress=False)
    out = tmp_path / "run"
    run_grid(out, ["toy"], [HashEmbedder()], ks=(4, 8), seeds=(0,), methods=["count", "flaky"], **kw)
    assert len(calls) == 4
    rows = read_runs(out / "runs.jsonl")
    assert {r["status"] for r in rows if r["method"] == "flaky"} == {"error"}
    assert all("boom" in r["reason"] for r in rows if r["method"] == "flaky")
    calls.clear()
    fails["on"] = False
    run_grid(out, ["toy"], [HashEmbedder()], ks=(4, 8), seeds=(0, 1), methods=["count", "flaky"], **kw)
    assert sorted(c if isinstance(c, str) else c[0] for c in calls) == ["count"] * 2 + ["flaky"] * 4
    calls.clear()
    rows = run_grid(out, ["toy"], [HashEmbedder()], ks=(4, 8), seeds=(0, 1),
                    methods=["count", "flaky"], **kw)
    assert calls == [] and len(rows) == 8 and all(r["status"] == "ok" for r in rows)
    lines = (out / "runs.jsonl").read_text().splitlines()
    assert len(lines) == 4 + 6 and all(json.loads(x)["k"] in (4, 8) for x in lines)
    # --redo: the named method runs again everywhere; its new rows are the ones read back
    rows = run_grid(out, ["toy"], [HashEmbedder()], ks=(4, 8), seeds=(0, 1),
                    methods=["count", "flaky"], redo=["count"], **kw)
    assert [c[0] for c in calls] == ["count"] * 4 and len(rows) == 8
    assert len((out / "runs.jsonl").read_text().splitlines()) == 10 + 4
    with pytest.raises(ValueError, match="nope"):
        run_grid(out, ["toy"], [HashEmbedder()], ks=(4,), seeds=(0,), methods=["count"], redo=["nope"], **kw)


@pytest.mark.slow
def test_real_methods_skips_and_reports(tmp_path, tiny_path, tiny_reasoner):  # noqa: F811
    methods = ["tart", "tart-vanilla", "icl", "icl-calibrated", "logreg-projected", "logreg-full",
               "knn", "linear-head"]
    out = tmp_path / "run"
    rows = run_grid(out, ["toy"], [HashEmbedder(), str(tiny_path)], ks=(4, 8, 64), seeds=(0,),
                    methods=methods, n_test=16, pool=200, reasoner=tiny_reasoner,
                    max_k={"tart-vanilla": 8}, load=lambda n: _dataset(n),
                    cache_dir=tmp_path / "emb", progress=False)
    cell = {(r["embedder"], r["method"], r["k"]): r for r in rows}
    assert len(cell) == 2 * 3 * len(methods)
    for m in ("tart", "logreg-projected", "logreg-full", "knn", "linear-head"):
        for emb in ("hash", str(tiny_path)):
            assert cell[emb, m, 8]["status"] == "ok", cell[emb, m, 8]
    assert cell["hash", "knn", 64]["acc"] > 0.8 and cell["hash", "logreg-full", 64]["acc"] > 0.8
    for m in ("tart-vanilla", "icl", "icl-calibrated"):  # not on a hashed-feature embedder
        assert cell["hash", m, 4]["status"] == "skipped"
        assert "causal LM" in cell["hash", m, 4]["reason"]
    lm = str(tiny_path)
    assert cell[lm, "icl", 4]["status"] == "ok" and cell[lm, "icl-calibrated", 4]["status"] == "ok"
    assert cell[lm, "tart-vanilla", 8]["status"] == "ok"
    assert "max k" in cell[lm, "tart-vanilla", 64]["reason"]
    for m in ("icl", "icl-calibrated"):  # a 64-example prompt exceeds the tiny LM's 512 tokens
        assert cell[lm, m, 64]["status"] == "skipped" and "window" in cell[lm, m, 64]["reason"]
    md = (out / "results.md").read_text()
    # per pair: accuracy, then macro-F1, ECE and log-loss tables (methods with probabilities)
    assert md.count("| method | k=4 | k=8 | k=64 |") == 2 * 4 and "## Summary" in md
    assert md.count("ECE (15 bins, top-label") == 2 and md.count("log-loss (lower") == 2
    assert "| knn |" in md and "skipped" in md and "in-context learning" in md
    pngs = sorted(p.name for p in out.glob("accuracy_*.png"))
    assert len(pngs) == 2 and all((out / p).stat().st_size > 1000 for p in pngs)
    assert len((out / "runs.csv").read_text().splitlines()) == 1 + len(cell)


def test_verdicts_and_table():
    rows = [{"dataset": "d", "embedder": "e", "method": m, "k": k, "seed": s, "status": "ok",
             "acc": acc + 0.01 * s, "reason": None}
            for m, acc in (("tart", 0.7), ("icl", 0.6), ("logreg-full", 0.8)) for k in (18, 32)
            for s in (0, 1)]
    rows.append({"dataset": "d", "embedder": "e", "method": "icl", "k": 64, "seed": 0,
                 "status": "skipped", "acc": None, "reason": "too long"})
    (line,) = report.verdicts(rows)
    assert "beats in-context learning" in line and "+10.0 points" in line
    assert "10.0 points under the best probe" in line and "logreg-full" in line
    t = report.table(rows)
    assert "| tart | 0.705 (0.005) | 0.705 (0.005) |  |" in t and "- icl: too long" in t


@pytest.mark.slow
def test_cli_end_to_end(tmp_path, monkeypatch, tiny_path, tiny_reasoner):  # noqa: F811
    import tart.datasets
    from tart.cli import main

    monkeypatch.setenv("TART_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tart.datasets, "load_dataset", lambda name: _dataset(name))
    tiny_reasoner.save_pretrained(tmp_path / "reasoner")
    out = tmp_path / "grid"
    argv = ["eval", "--datasets", "toy", "--embedders", str(tiny_path), "--ks", "4", "8",
            "--seeds", "0", "1", "--methods", "tart", "icl", "knn", "--n-test", "12", "--pool", "100",
            "--reasoner", str(tmp_path / "reasoner"), "--out", str(out), "--no-progress"]
    assert main(argv) == 0
    assert len(read_runs(out / "runs.jsonl")) == 2 * 2 * 3
    (out / "results.md").unlink()
    assert main(["eval", "--out", str(out), "--report-only"]) == 0
    assert "| tart |" in (out / "results.md").read_text()
    assert main(argv) == 0 and len((out / "runs.jsonl").read_text().splitlines()) == 12
    doc = tmp_path / "docs" / "results" / "toy.md"
    assert main([*argv, "--report", str(doc)]) == 0
    text = doc.read_text()
    assert f"Written by `tart eval --datasets toy" in text and "| tart |" in text and "## Summary" in text
    assert (doc.parent / "toy.png").stat().st_size > 1000
    assert main([*argv, "--max-k", "lora"]) == 2
    assert set(METHODS) >= {"tart", "tart-vanilla", "tart-loo", "icl", "icl-calibrated", "knn",
                            "logreg-projected", "logreg-full", "linear-head", "lora", "setfit"}


@pytest.mark.slow
def test_demo_is_the_grid_with_its_methods(tmp_path, monkeypatch, tiny_path, capsys):  # noqa: F811
    import tart.datasets
    from tart.eval.demo import METHODS as DEMO_METHODS, run_demo

    monkeypatch.setenv("TART_HOME", str(tmp_path / "home"))
    monkeypatch.setattr(tart.datasets, "load_dataset", lambda name: _dataset(name))
    out, doc = tmp_path / "demo", tmp_path / "docs" / "demo.md"
    rows = run_demo(out, ks=(4, 8), seeds=(0, 1), n_test=12, pool=100, dataset="toy",
                    model=str(tiny_path), report=doc, command="tart demo --report docs/demo.md")
    assert len(rows) == 2 * 2 * len(DEMO_METHODS)
    assert [r["method"] for r in rows[:7]] == ["tart-2 (default)", "tart (faithful)", "logreg (full)", "shrinkage LDA",
                                               "logreg (projected)", "icl", "icl (calibrated)"]
    printed = capsys.readouterr().out
    assert "| method | k=4 | k=8 |\n|---|---|---|\n| tart-2 (default) | " in printed
    assert "| logreg (projected) |" in printed and "| icl (calibrated) |" in printed
    saved = json.loads((out / "results.json").read_text())
    assert saved["rows"] == rows and saved["meta"]["icl_stopped_at_k"] is None
    assert "| icl (calibrated) |" in (out / "results.md").read_text()
    assert (out / "accuracy_vs_k.png").is_file() and (doc.parent / "demo.png").is_file()
    assert "Written by `tart demo --report docs/demo.md`" in doc.read_text()
    again = run_demo(out, ks=(4,), seeds=(0,), n_test=12, pool=100, dataset="toy", model=str(tiny_path),
                     progress=False)
    assert len(again) == len(DEMO_METHODS)  # a fresh run, not resumed


@pytest.mark.slow
def test_linear_head_and_lora_on_the_tiny_llama(tiny_path):  # noqa: F811
    from tart.eval.finetune import linear_head, lora

    rng = np.random.default_rng(0)
    y = np.array([0, 1] * 20)
    X = rng.normal(size=(40, 6)) + 4 * y[:, None] * np.eye(6)[0]
    assert (linear_head(X[:24], y[:24], X[24:]).argmax(1) == y[24:]).mean() > 0.8
    texts, yt = _texts(12, 3)
    pred = lora(tiny_path, texts[:8], yt[:8], texts[8:], ("negative", "positive"), max_steps=2,
                batch_size=4)
    assert pred.shape == (4,) and set(pred) <= {0, 1}


@needs_asset("minilm")
def test_setfit_on_the_packaged_minilm():
    from tart.eval.finetune import setfit

    texts, y = _texts(12, 4)
    proba = setfit(texts[:8], y[:8], texts[8:], num_iterations=1, max_steps=2, batch_size=4)
    assert proba.shape == (4, 2) and np.allclose(proba.sum(1), 1.0)
    y3 = np.arange(9) % 3  # three classes: one probability column each
    proba3 = setfit(texts[:9], y3, texts[9:], num_iterations=1, max_steps=2, batch_size=4)
    assert proba3.shape == (3, 3) and np.allclose(proba3.sum(1), 1.0)


@pytest.mark.slow
def test_icl_on_three_classes(tmp_path, tiny_path, tiny_reasoner):  # noqa: F811
    """In-context learning is multi-class: one label word per class (the class names), a
    probability per class, so the grid reports its ECE and log-loss too."""
    rng = np.random.default_rng(0)
    words = (["stale", "awful"], ["plain", "okay"], ["tasty", "lovely"])

    def texts(n, seed):
        y = np.arange(n) % 3
        return [f"{rng.choice(words[v])} snack {seed}-{i}" for i, v in enumerate(y)], y

    (tr, ytr), (te, yte) = texts(60, 1), texts(30, 2)
    ds = Dataset("toy3", tr, ytr, te, yte, ("negative", "neutral", "positive"), "synthetic")
    rows = run_grid(tmp_path / "run", ["toy3"], [str(tiny_path)], ks=(2,), seeds=(0,),
                    methods=["icl", "icl-calibrated", "tart"], n_test=30, pool=60, reasoner=tiny_reasoner,
                    load=lambda n: ds, cache_dir=tmp_path / "emb", progress=False, reports=False)
    cell = {r["method"]: r for r in rows}
    for m in ("icl", "icl-calibrated"):
        assert cell[m]["status"] == "ok" and cell[m]["n_classes"] == 3, cell[m]
        assert cell[m]["ece"] is not None and cell[m]["log_loss"] is not None
