"""`tart fit` / `tart predict` on text files (MiniLM): outputs, errors file, exit status, bad
input, resume after a crash, and SIGKILL at any moment (tart.jobs)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from conftest import needs_asset
from tart.cli import main
from tart.jobs.local import EXIT_ROW_ERRORS, PredictJob, run_local

pytestmark = pytest.mark.assets  # the jobs embed with the packaged MiniLM

POS = ["great food", "loved it", "wonderful service", "amazing taste", "really good", "superb meal",
       "very tasty", "excellent place", "so delicious", "fantastic dinner"]
NEG = ["awful food", "hated it", "terrible service", "disgusting taste", "really bad", "horrible meal",
       "very bland", "poor place", "so gross", "dreadful dinner"]
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}


def _queries(n, seed=0):
    rng = np.random.default_rng(seed)
    words = ["indeed", "today", "again", "overall", "honestly", "tonight"]
    return [f"{(POS + NEG)[i % 20]} {words[rng.integers(6)]}" for i in range(n)]


@pytest.fixture(scope="module")
def text_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("textjob")
    pd.DataFrame({"text": POS + NEG, "label": ["pos"] * 10 + ["neg"] * 10}).to_csv(root / "train.csv", index=False)
    assert main(["fit", "--data", str(root / "train.csv"), "--text-column", "text", "--label-column",
                 "label", "--embedder", "minilm", "--n-estimators", "2", "--out", str(root / "model")]) == 0
    return root / "model"


def _write(df, path):
    {".csv": lambda: df.to_csv(path, index=False), ".parquet": lambda: df.to_parquet(path, index=False),
     ".jsonl": lambda: df.to_json(path, orient="records", lines=True)}[path.suffix]()
    return path


@needs_asset("minilm")
def test_fit_reports_classes_counts_and_loo(tmp_path, capsys):
    pd.DataFrame({"t": POS + NEG[:6], "y": [1] * 10 + [0] * 6}).to_parquet(tmp_path / "d.parquet")
    assert main(["fit", "--data", str(tmp_path / "d.parquet"), "--text-column", "t", "--label-column", "y",
                 "--n-estimators", "2", "--out", str(tmp_path / "m")]) == 0
    out = capsys.readouterr().out
    assert "0: 6" in out and "1: 10" in out and "leave-one-out accuracy on the 16 context examples" in out
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["classes"]["values"] == [0, 1] and cfg["fit"]["column"] == "t"
    assert cfg["fit"]["loo_accuracy"] >= 0.8
    assert cfg["params"]["stack"] == "auto"
    assert main(["fit", "--data", str(tmp_path / "d.parquet"), "--text-column", "t", "--label-column", "y",
                 "--n-estimators", "2", "--stack", "none", "--no-loo", "--out", str(tmp_path / "m2")]) == 0
    cfg = json.loads((tmp_path / "m2" / "config.json").read_text())
    assert cfg["params"]["stack"] is None and cfg["state"]["linear_"] is None
    with pytest.raises(SystemExit):
        main(["fit", "--data", str(tmp_path / "d.parquet"), "--stack", "lots", "--out", str(tmp_path / "m3")])


@needs_asset("minilm")
@pytest.mark.parametrize("suffix", [".csv", ".jsonl", ".parquet"])
def test_predict_formats_order_ids_and_probabilities(text_model, tmp_path, suffix):
    from tart.classifier import TartClassifier

    texts = _queries(23)
    inp = _write(pd.DataFrame({"key": [f"k{i}" for i in range(23)], "text": texts}), tmp_path / f"in{suffix}")
    out = tmp_path / f"out{suffix}"
    code = main(["predict", "--model", str(text_model), "--input", str(inp), "--output", str(out),
                 "--id-column", "key", "--chunk-size", "5", "--no-progress"])
    assert code == 0 and not (tmp_path / f"out{suffix}.errors.jsonl").exists()
    df = pd.read_parquet(out) if suffix == ".parquet" else (
        pd.read_csv(out) if suffix == ".csv" else pd.read_json(out, lines=True))
    assert list(df.columns) == ["key", "label", "proba_neg", "proba_pos"]
    assert df["key"].tolist() == [f"k{i}" for i in range(23)]
    clf = TartClassifier.from_pretrained(text_model)
    np.testing.assert_allclose(df[["proba_neg", "proba_pos"]].to_numpy(), clf.predict_proba(texts), atol=1e-6)
    assert df["label"].tolist() == clf.predict(texts).tolist()
    assert not any(p.name.startswith(".") for p in tmp_path.iterdir())  # no parts or temporary files left


@needs_asset("minilm")
def test_bad_rows_go_to_the_errors_file_and_exit_3(text_model, tmp_path):
    texts = _queries(8)
    texts[2], texts[5] = "", "   "
    inp = _write(pd.DataFrame({"text": texts}), tmp_path / "in.jsonl")
    out = tmp_path / "out.parquet"
    code = main(["predict", "--model", str(text_model), "--input", str(inp), "--output", str(out), "--no-progress"])
    assert code == EXIT_ROW_ERRORS == 3
    df = pd.read_parquet(out)
    assert df["row"].tolist() == [0, 1, 3, 4, 6, 7]
    errors = [json.loads(x) for x in (tmp_path / "out.parquet.errors.jsonl").read_text().splitlines()]
    assert [e["id"] for e in errors] == [2, 5] and all("empty text" in e["error"] for e in errors)


@needs_asset("minilm")
def test_bad_input_is_a_clear_error(text_model, tmp_path, capsys):
    inp = _write(pd.DataFrame({"text": _queries(4)}), tmp_path / "in.csv")
    pred = ["predict", "--model", str(text_model), "--no-progress", "--output"]

    def err(argv):
        assert main(argv) == 2
        return capsys.readouterr().err

    assert "no column 'body'" in err(pred + [str(tmp_path / "o.csv"), "--input", str(inp), "--text-column", "body"])
    (tmp_path / "in.xlsx").write_text("x")
    assert "unknown file type '.xlsx'" in err(pred + [str(tmp_path / "o.csv"), "--input", str(tmp_path / "in.xlsx")])
    assert "unknown output type '.txt'" in err(pred + [str(tmp_path / "o.txt"), "--input", str(inp)])
    pd.DataFrame({"text": []}).to_csv(tmp_path / "empty.csv", index=False)
    assert "has no rows" in err(pred + [str(tmp_path / "o.csv"), "--input", str(tmp_path / "empty.csv")])
    assert "matches no files" in err(pred + [str(tmp_path / "o.csv"), "--input", str(tmp_path / "*.nothing")])
    # an existing output: refused, then replaced with --overwrite
    (tmp_path / "o.csv").write_text("precious")
    assert "exists: pass --overwrite" in err(pred + [str(tmp_path / "o.csv"), "--input", str(inp)])
    assert (tmp_path / "o.csv").read_text() == "precious"
    assert main(pred + [str(tmp_path / "o.csv"), "--input", str(inp), "--overwrite"]) == 0
    assert len(pd.read_csv(tmp_path / "o.csv")) == 4
    # a saved classifier from a newer format version
    import shutil

    newer = tmp_path / "newer"
    shutil.copytree(text_model, newer)
    cfg = json.loads((newer / "config.json").read_text())
    cfg["format_version"] += 1
    (newer / "config.json").write_text(json.dumps(cfg))
    assert "newer than this tart reads" in err(["predict", "--model", str(newer), "--input", str(inp),
                                               "--output", str(tmp_path / "o2.csv")])
    # fit: one class, a missing column
    pd.DataFrame({"text": POS, "label": ["pos"] * 10}).to_csv(tmp_path / "one.csv", index=False)
    fit = ["fit", "--data", str(tmp_path / "one.csv"), "--text-column", "text", "--out", str(tmp_path / "m")]
    assert "only one class ('pos'" in err(fit + ["--label-column", "label"])
    assert "no column 'y'" in err(fit + ["--label-column", "y"])


@needs_asset("minilm")
def test_resume_after_a_crash_skips_finished_chunks(text_model, tmp_path):
    from tart.jobs.predictor import Predictor

    texts = _queries(30, seed=1)
    inp = _write(pd.DataFrame({"text": texts}), tmp_path / "in.csv")
    ref = run_local(PredictJob(text_model, [str(inp)], tmp_path / "ref.parquet", chunk_size=7, progress=False))
    assert ref.failed == 0 and ref.predicted == 30

    class Crash(Predictor):
        calls = 0

        def predict(self, ids, values):
            Crash.calls += 1
            if Crash.calls == 3:
                raise RuntimeError("simulated crash")
            return super().predict(ids, values)

    job = PredictJob(text_model, [str(inp)], tmp_path / "out.parquet", chunk_size=7, progress=False)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_local(job, predictor=Crash(text_model))
    assert not job.output.exists()
    parts = sorted(p.name for p in (tmp_path / ".out.parquet.parts").iterdir())
    assert parts == ["manifest.json", "part-000000.parquet", "part-000001.parquet"]
    # another job may not take over the unfinished folder
    with pytest.raises(ValueError, match="unfinished job"):
        run_local(PredictJob(text_model, [str(inp)], job.output, chunk_size=5, progress=False))
    again = run_local(job)
    assert again.resumed_chunks == 2 and again.predicted == 30
    pd.testing.assert_frame_equal(pd.read_parquet(job.output), pd.read_parquet(tmp_path / "ref.parquet"))


@pytest.mark.subprocess
@needs_asset("minilm")
def test_sigkill_mid_run_then_rerun_gives_the_same_output(text_model, tmp_path):
    texts = _queries(600, seed=2)
    inp = _write(pd.DataFrame({"id": [f"t{i}" for i in range(600)], "text": texts}), tmp_path / "in.csv")
    out, parts = tmp_path / "out.csv", tmp_path / ".out.csv.parts"
    cmd = [sys.executable, "-m", "tart.cli", "predict", "--model", str(text_model), "--input", str(inp),
           "--output", str(out), "--id-column", "id", "--chunk-size", "40", "--no-progress"]
    proc = subprocess.Popen(cmd, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    while time.time() < deadline and len(list(parts.glob("part-*.parquet"))) < 3 and proc.poll() is None:
        time.sleep(0.05)
    assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()  # never a truncated output
    done = len(list(parts.glob("part-*.parquet")))
    assert 3 <= done < 15
    rerun = subprocess.run(cmd, env=ENV, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr[-2000:]
    assert f"{done} chunks resumed" in rerun.stdout
    ref = run_local(PredictJob(text_model, [str(inp)], tmp_path / "ref.csv", id_column="id", chunk_size=40,
                               progress=False))
    assert ref.predicted == 600
    assert out.read_text() == (tmp_path / "ref.csv").read_text()
    assert not parts.exists()


@needs_asset("minilm")
def test_bench_predict_writes_its_report(tmp_path, capsys):
    report = tmp_path / "bench.md"
    assert main(["bench-predict", "--json", "--texts", "24", "--images", "0", "--no-ray", "--report", str(report)]) == 0
    data = json.loads(capsys.readouterr().out)
    runs = data["workloads"]["minilm_short_texts"]["runs"]
    assert [r["reasoner"] for r in runs] == ["tart2", "tart"] and all(r["items"] == 24 for r in runs)
    assert 0 <= runs[0]["outside_embedder_share"] < 1
    assert json.loads(report.with_suffix(".json").read_text())["workloads"] == data["workloads"]
    assert "| minilm_short_texts | 24 | local | tart |" in report.read_text()


def test_a_features_classifier_is_refused_by_predict(tmp_path, capsys):
    from tart.classifier import TartClassifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 4))
    TartClassifier(embedder="features", n_estimators=1).fit(X, (X[:, 0] > 0).astype(int)).save_pretrained(tmp_path / "m")
    pd.DataFrame({"text": ["a", "b"]}).to_csv(tmp_path / "in.csv", index=False)
    assert main(["predict", "--model", str(tmp_path / "m"), "--input", str(tmp_path / "in.csv"), "--text-column",
                 "text", "--output", str(tmp_path / "o.csv"), "--no-progress"]) == 2
    assert "fitted on numeric features" in capsys.readouterr().err


@needs_asset("minilm")
def test_killed_between_the_output_rename_and_the_clean_up(text_model, tmp_path, monkeypatch):
    import tart.jobs.local as local

    inp = _write(pd.DataFrame({"text": _queries(9)}), tmp_path / "in.csv")
    job = PredictJob(text_model, [str(inp)], tmp_path / "out.csv", chunk_size=4, progress=False)
    real = local._write_manifest

    def dies_at_the_mark(parts, manifest):
        if manifest.get("complete"):
            raise KeyboardInterrupt  # as if killed right after the output's rename
        real(parts, manifest)

    monkeypatch.setattr(local, "_write_manifest", dies_at_the_mark)
    with pytest.raises(KeyboardInterrupt):
        run_local(job)
    monkeypatch.undo()
    first = job.output.read_text()
    assert (tmp_path / ".out.csv.parts").exists()
    again = run_local(job)  # the same command: recognised as done, the parts folder cleaned up
    assert again.predicted == -1 and job.output.read_text() == first
    assert not (tmp_path / ".out.csv.parts").exists()
