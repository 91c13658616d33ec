"""`tart predict --engine ray` on a local 2-CPU Ray: the same output files as the local engine, and
a stopped job resumed (by either engine) without redoing its finished chunks."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import needs_asset

ray = pytest.importorskip("ray", reason="the ray extra (pip install 'tart[ray]') is not installed")
pytestmark = pytest.mark.ray

from tart.cli import main  # noqa: E402
from tart.jobs.local import PredictJob, run_local  # noqa: E402
from tart.jobs.ray_engine import plan_workers, run_ray  # noqa: E402

POS = ["great food", "loved it", "wonderful service", "amazing taste", "really good", "superb meal"]
NEG = ["awful food", "hated it", "terrible service", "disgusting taste", "really bad", "horrible meal"]


@pytest.fixture(scope="module")
def local_ray():
    started = not ray.is_initialized()
    if started:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield ray
    if started:
        ray.shutdown()


@pytest.fixture(scope="module")
def job_files(tmp_path_factory):
    root = tmp_path_factory.mktemp("rayjob")
    pd.DataFrame({"text": POS + NEG, "label": [1] * 6 + [0] * 6}).to_csv(root / "train.csv", index=False)
    assert main(["fit", "--data", str(root / "train.csv"), "--text-column", "text", "--label-column",
                 "label", "--n-estimators", "2", "--no-loo", "--out", str(root / "m")]) == 0
    texts = [f"{(POS + NEG)[i % 12]} number {i}" for i in range(41)]
    texts[9] = ""
    pd.DataFrame({"key": [f"k{i}" for i in range(41)], "text": texts}).to_parquet(root / "q.parquet")
    return root / "m", root / "q.parquet"


def test_plan_workers_uses_gpus_when_the_cluster_has_them():
    assert plan_workers({"CPU": 2.0}, None) == (1, {"num_cpus": 1})
    assert plan_workers({"CPU": 16.0}, 2) == (2, {"num_cpus": 1})
    n, res = plan_workers({"CPU": 16.0, "GPU": 4.0}, None)
    assert n == 4 and res["num_gpus"] == 1


@needs_asset("minilm")
def test_ray_engine_matches_the_local_engine(local_ray, job_files, tmp_path, capsys):
    model, inp = job_files
    local = run_local(PredictJob(model, [str(inp)], tmp_path / "local.parquet", id_column="key",
                                 chunk_size=8, progress=False))
    capsys.readouterr()
    remote = run_ray(PredictJob(model, [str(inp)], tmp_path / "ray.parquet", id_column="key",
                                chunk_size=8, progress=True, workers=2))
    bar = capsys.readouterr().err  # the driver's progress bar counts the rows as they come back
    assert "tart predict (ray, 2 workers)" in bar and "41/41" in bar
    assert (remote.rows, remote.predicted, remote.failed) == (local.rows, local.predicted, local.failed) == (41, 40, 1)
    a, b = pd.read_parquet(tmp_path / "local.parquet"), pd.read_parquet(tmp_path / "ray.parquet")
    assert list(a.columns) == list(b.columns) == ["key", "label", "proba_0", "proba_1"]
    assert a["key"].tolist() == b["key"].tolist() and a["label"].tolist() == b["label"].tolist()
    assert b["label"].dtype == a["label"].dtype == np.int64
    np.testing.assert_allclose(b[["proba_0", "proba_1"]].to_numpy(), a[["proba_0", "proba_1"]].to_numpy(), atol=1e-6)
    errs = [json.loads(x) for x in (tmp_path / "ray.parquet.errors.jsonl").read_text().splitlines()]
    assert errs == [json.loads(x) for x in (tmp_path / "local.parquet.errors.jsonl").read_text().splitlines()]
    assert errs[0]["id"] == "k9"
    _assert_same_output(tmp_path / "ray.parquet", tmp_path / "local.parquet")


def _assert_same_output(path, reference_path) -> None:
    """The same rows, ids, columns, dtypes and labels; probabilities equal up to float noise (a
    local engine using several torch threads and one-thread Ray actors sum in different orders)."""
    a, b = pd.read_parquet(reference_path), pd.read_parquet(path)
    assert list(a.columns) == list(b.columns) and (a.dtypes == b.dtypes).all()
    proba = [c for c in a.columns if c.startswith("proba_")]
    pd.testing.assert_frame_equal(b.drop(columns=proba), a.drop(columns=proba))
    np.testing.assert_allclose(b[proba].to_numpy(), a[proba].to_numpy(), rtol=0, atol=1e-6)


@pytest.fixture(scope="module")
def reference(job_files, tmp_path_factory):
    """An uninterrupted local run's output (path) and errors file (bytes), 41 rows in 6 chunks of 8."""
    model, inp = job_files
    out = tmp_path_factory.mktemp("ref") / "ref.parquet"
    res = run_local(PredictJob(model, [str(inp)], out, id_column="key", chunk_size=8, progress=False))
    assert (res.predicted, res.failed) == (40, 1)
    return out, out.with_name("ref.parquet.errors.jsonl").read_bytes()


def _watch(monkeypatch, engine="ray", stop_after=None):
    """Record the chunks an engine writes and the rows sent to Ray; with stop_after=N, the engine
    stops (as on Ctrl-C) when it is about to write its (N+1)-th chunk."""
    import ray.data

    import tart.jobs.local
    import tart.jobs.ray_engine

    engine = {"ray": tart.jobs.ray_engine, "local": tart.jobs.local}[engine]
    seen = {"written": [], "sent": 0}
    real_write, real_from = engine.write_part, ray.data.from_pandas

    def write_part(parts, j, df, errors):
        if stop_after is not None and len(seen["written"]) == stop_after:
            raise KeyboardInterrupt
        seen["written"].append(j)
        real_write(parts, j, df, errors)

    def from_pandas(frames, *a, **kw):
        seen["sent"] += sum(len(f) for f in frames)
        return real_from(frames, *a, **kw)

    monkeypatch.setattr(engine, "write_part", write_part)
    monkeypatch.setattr(ray.data, "from_pandas", from_pandas)
    return seen


def _parts(out):
    return sorted(p.name for p in out.with_name(f".{out.name}.parts").iterdir())


@needs_asset("minilm")
def test_a_stopped_ray_job_resumes_without_redoing_finished_chunks(local_ray, job_files, reference,
                                                                   tmp_path, monkeypatch):
    model, inp = job_files
    job = PredictJob(model, [str(inp)], tmp_path / "out.parquet", id_column="key", chunk_size=8,
                     progress=False, workers=2)
    first = _watch(monkeypatch, stop_after=2)
    with pytest.raises(KeyboardInterrupt):
        run_ray(job)
    assert first == {"written": [0, 1], "sent": 41} and not job.output.exists()
    assert _parts(job.output) == ["manifest.json", "part-000000.parquet", "part-000001.errors.jsonl",
                                  "part-000001.parquet"]  # row 9 (empty) failed in chunk 1
    monkeypatch.undo()
    again = _watch(monkeypatch)
    res = run_ray(job)
    assert again == {"written": [2, 3, 4, 5], "sent": 41 - 16}  # only the unfinished chunks
    assert (res.resumed_chunks, res.rows, res.predicted, res.failed) == (2, 41, 40, 1)
    _assert_same_output(job.output, reference[0])
    assert (tmp_path / "out.parquet.errors.jsonl").read_bytes() == reference[1]
    assert not (tmp_path / ".out.parquet.parts").exists()


@needs_asset("minilm")
def test_either_engine_resumes_the_other_ones_job(local_ray, job_files, reference, tmp_path, monkeypatch):
    model, inp = job_files

    def job(engine):
        return PredictJob(model, [str(inp)], tmp_path / "out.parquet", id_column="key", chunk_size=8,
                          progress=False, engine=engine, workers=2)

    _watch(monkeypatch, "local", stop_after=2)
    with pytest.raises(KeyboardInterrupt):  # local: chunks 0 and 1 done
        run_local(job("local"))
    monkeypatch.undo()
    seen = _watch(monkeypatch, "ray", stop_after=1)
    with pytest.raises(KeyboardInterrupt):  # ray takes over the local job's parts: chunk 2 done
        run_ray(job("ray"))
    assert seen == {"written": [2], "sent": 41 - 16}
    assert _parts(job("ray").output)[-2:] == ["part-000001.parquet", "part-000002.parquet"]
    monkeypatch.undo()
    seen = _watch(monkeypatch, "local")
    res = run_local(job("local"))  # local finishes the job Ray continued
    assert seen["written"] == [3, 4, 5] and (res.resumed_chunks, res.predicted, res.failed) == (3, 40, 1)
    _assert_same_output(tmp_path / "out.parquet", reference[0])
    assert (tmp_path / "out.parquet.errors.jsonl").read_bytes() == reference[1]


@needs_asset("minilm")
def test_ray_engine_from_the_command_line_on_two_csv_files(local_ray, job_files, tmp_path, capsys):
    model, inp = job_files
    df = pd.read_parquet(inp)
    df.iloc[:20].to_csv(tmp_path / "a.csv", index=False)
    df.iloc[20:].to_csv(tmp_path / "b.csv", index=False)
    out, ref = tmp_path / "o.csv", tmp_path / "ref.csv"
    argv = ["predict", "--model", str(model), "--input", str(tmp_path / "a.csv"), str(tmp_path / "b.csv"),
            "--chunk-size", "16", "--no-progress", "--output"]
    assert main(argv + [str(out), "--engine", "ray"]) == 3  # row 9 is empty
    assert main(argv + [str(ref)]) == 3
    a, b = pd.read_csv(ref), pd.read_csv(out)
    assert b["row"].tolist() == a["row"].tolist() == [i for i in range(41) if i != 9]
    assert b["label"].tolist() == a["label"].tolist()
    np.testing.assert_allclose(b[["proba_0", "proba_1"]].to_numpy(), a[["proba_0", "proba_1"]].to_numpy(), atol=1e-6)
    assert [json.loads(x)["id"] for x in (tmp_path / "o.csv.errors.jsonl").read_text().splitlines()] == [9]
    assert main(argv + [str(out), "--engine", "ray"]) == 2 and "exists: pass --overwrite" in capsys.readouterr().err
