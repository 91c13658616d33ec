"""bench-fit on tiny sizes: the JSON's shape, positive timings, the accuracies it reports (refitted here),
the CLI and the markdown table (no speed checks)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegressionCV
from sklearn.model_selection import StratifiedKFold

from tart import TartClassifier
from tart.bench import fit as bench

TIMES = ("tart_fit_s", "tart_predict_s", "tart_total_s", "baseline_total_s", "ratio")


def test_gaussian_case_has_every_class_in_the_context():
    x, y, q, yq = bench.gaussian_case(3, 16, 8, 20, seed=1)
    assert x.shape == (16, 8) and q.shape == (20, 8) and y.shape == (16,) and yq.shape == (20,)
    assert sorted(np.unique(y)) == [0, 1, 2] and np.all(np.bincount(y) >= 5)
    assert np.array_equal(bench.gaussian_case(3, 16, 8, 20, seed=1)[0], x)  # seeded


@pytest.fixture(scope="module")
def tiny():
    threads = torch.get_num_threads()
    r = bench.bench_fit({"tiny": (2, 16, 8, 20)}, repeats=1, temperature=1.0, threads=1)
    assert torch.get_num_threads() == threads  # the caller's setting comes back
    return r


def test_bench_fit_json_shape_and_positive_timings(tiny):
    r = tiny
    json.loads(json.dumps(r))  # JSON-ready
    assert r["benchmark"] == "bench-fit" and "temperature=1.0" in r["ours"]
    assert "LogisticRegressionCV" in r["baseline"] and "warm-up" in r["timing"]
    assert r["machine"]["threads"] == 1 and r["source"]["tart_path"]
    c = r["cases"]["tiny"]
    assert (c["classes"], c["k"], c["d"], c["queries"], c["repeats"]) == (2, 16, 8, 20, 1)
    assert all(isinstance(c[key], float) and c[key] > 0 for key in TIMES)
    assert len(c["tart_total_runs_s"]) == len(c["baseline_total_runs_s"]) == 1
    # the accuracies it reports are those of the two models it names, fitted here on the case's data
    x, y, q, yq = bench.gaussian_case(2, 16, 8, 20, seed=0)
    tart = TartClassifier(temperature=1.0).fit(x, y)
    assert c["tart_accuracy"] == np.mean(tart.predict(q) == yq)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        base = LogisticRegressionCV(Cs=10, cv=StratifiedKFold(5, shuffle=True, random_state=0),
                                    max_iter=1000).fit(x, y)
    assert c["baseline_accuracy"] == base.score(q, yq) and c["baseline_C"] == [float(base.C_[0])]
    table = bench.format_result(r)
    assert "| tiny | 2 | 16 | 8 | 20 |" in table and "tart / baseline" in table


def test_cli_bench_fit_json(capsys):
    from tart.cli import main

    assert main(["bench-fit", "--case", "3,12,4,10", "--repeats", "1", "--temperature", "1",
                 "--threads", "1", "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    assert list(r["cases"]) == ["c3_k12_d4_n10"] and r["cases"]["c3_k12_d4_n10"]["tart_total_s"] > 0


def test_compare_writes_json_and_replaces_its_table(tiny, tmp_path):
    base, current = tmp_path / "base.json", tmp_path / "current.json"
    base.write_text(json.dumps(tiny))
    current.write_text(json.dumps(tiny))
    md = tmp_path / "benchmarks.md"
    md.write_text("# Benchmarks\n\nbefore\n")
    out = tmp_path / "both.json"
    for _ in range(2):  # the second run replaces the first table
        assert bench.main(["--compare", str(base), str(current), "--command", "cmd X",
                           "--out-json", str(out), "--md", str(md)]) == 0
    text = md.read_text()
    assert text.startswith("# Benchmarks\n\nbefore\n") and text.count(bench.MD_BEGIN) == 1
    assert "`cmd X`" in text and "| tiny | 2, 16, 8, 20 |" in text and "**1.00x**" in text
    both = json.loads(out.read_text())
    assert both["command"] == "cmd X" and set(both) == {"command", "base", "current"}


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="repeats"):
        bench.bench_case(2, 8, 4, 5, repeats=0)
    with pytest.raises(SystemExit):
        bench.main(["--case", "2,16"])
