"""`tart predict --engine ray` on a local 2-CPU Ray: the same predictions as the local engine."""

import json

import numpy as np
import pandas as pd
import pytest

from conftest import needs_asset

ray = pytest.importorskip("ray", reason="the ray extra (pip install 'tart[ray]') is not installed")

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
def test_ray_engine_matches_the_local_engine(local_ray, job_files, tmp_path):
    model, inp = job_files
    local = run_local(PredictJob(model, [str(inp)], tmp_path / "local.parquet", id_column="key",
                                 chunk_size=8, progress=False))
    remote = run_ray(PredictJob(model, [str(inp)], tmp_path / "ray.parquet", id_column="key",
                                chunk_size=8, progress=False, workers=2))
    assert (remote.rows, remote.predicted, remote.failed) == (local.rows, local.predicted, local.failed) == (41, 40, 1)
    a, b = pd.read_parquet(tmp_path / "local.parquet"), pd.read_parquet(tmp_path / "ray.parquet")
    assert list(a.columns) == list(b.columns) == ["key", "label", "proba_0", "proba_1"]
    assert a["key"].tolist() == b["key"].tolist() and a["label"].tolist() == b["label"].tolist()
    assert b["label"].dtype == a["label"].dtype == np.int64
    np.testing.assert_allclose(b[["proba_0", "proba_1"]].to_numpy(), a[["proba_0", "proba_1"]].to_numpy(), atol=1e-6)
    errs = [json.loads(x) for x in (tmp_path / "ray.parquet.errors.jsonl").read_text().splitlines()]
    assert errs == [json.loads(x) for x in (tmp_path / "local.parquet.errors.jsonl").read_text().splitlines()]
    assert errs[0]["id"] == "k9"


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
