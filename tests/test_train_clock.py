"""Training against the clock (a GPU window of fixed length) and the data path benchmark."""

import json
import math

import pytest

from tart.bench.train_path import bench_train_path, format_train_path
from tart.runs import elapsed_of, resume_checkpoint
from tart.train import TrainConfig, lr_at, train
from test_train_tart2 import tiny_cfg


def test_time_clock_schedule():
    cfg = TrainConfig(lr=1.0, min_lr=0.1, schedule="cosine", clock="time", time_limit_s=100.0, warmup_share=0.1)
    assert lr_at(cfg, 0, 0.0) == pytest.approx(1e-3)  # warm-up starts near zero, whatever the step
    assert lr_at(cfg, 10**6, 5.0) == pytest.approx(0.5)
    assert lr_at(cfg, 3, 10.0) == pytest.approx(1.0)
    assert lr_at(cfg, 3, 55.0) == pytest.approx(0.55)  # half-way through the cosine
    assert lr_at(cfg, 3, 100.0) == pytest.approx(0.1) and lr_at(cfg, 3, 500.0) == pytest.approx(0.1)
    for bad, match in ((dict(clock="time"), "time_limit_s"), (dict(clock="wall"), "clock must be"),
                       (dict(clock="time", time_limit_s=5.0, warmup_share=1.0), "warmup_share")):
        with pytest.raises(ValueError, match=match):
            TrainConfig(**bad)


def _clock_cfg(limit: float):
    return tiny_cfg(steps=10**6, clock="time", time_limit_s=limit, warmup_share=0.25, schedule="cosine",
                    lr=1e-2, min_lr=1e-4, log_every=1, ckpt_every=10**6)


def test_a_time_clock_run_stops_at_its_budget_and_resumes_with_its_clock(tmp_path):
    """Each step's learning rate is the schedule's at the run's clock when the step began (between
    the previous row's time and its own, whatever the steps/s); the run stops with a checkpoint at
    the limit, and a resume goes on from the checkpoint's clock."""
    cfg = _clock_cfg(2.0)
    train(cfg, tmp_path, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    ckpt = resume_checkpoint(tmp_path)
    assert ckpt.name == f"step-{rows[-1]['step']:07d}" and elapsed_of(ckpt) >= 2.0  # a checkpoint at the limit
    t_peak, before = 0.25 * 2.0, 0.0
    for r in rows:
        a, b = lr_at(cfg, 0, before), lr_at(cfg, 0, r["elapsed_s"])
        top = cfg.lr if before <= t_peak <= r["elapsed_s"] else max(a, b)
        assert min(a, b) * (1 - 1e-6) <= r["lr"] <= top * (1 + 1e-6), (r, before)
        before = r["elapsed_s"]
    longer = _clock_cfg(3.0)
    train(longer, tmp_path, resume=True, progress=False)
    after = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()][len(rows):]
    assert after and after[0]["elapsed_s"] > elapsed_of(ckpt)  # the run's clock went on from the checkpoint
    assert after[0]["lr"] <= lr_at(longer, 0, elapsed_of(ckpt)) < cfg.lr  # past the warm-up, decaying
    assert elapsed_of(resume_checkpoint(tmp_path)) >= 3.0


def test_train_path_benchmark_times_the_split_and_the_start():
    r = bench_train_path("tart2-tiny", steps=2, shapes=((4, 40, 16), (4, 40, 80)), device="cpu")
    assert len(r["step_shapes"]) == 2 and r["map_basis"] == "fast"
    for key in ("data_path_s", "start_data_path_s", "module_steps_per_s", "steps_per_s", "data_path_speedup"):
        assert math.isfinite(r[key]) and r[key] > 0, key
    assert 0 < r["data_path_share"] < 1 and r["steps_per_s"] < r["module_steps_per_s"]
    assert [row["shape"] for row in r["shapes"]] == [[4, 40, 16], [4, 40, 80]]
    assert f"data path {r['data_path_speedup']:.2f}x faster now" in format_train_path(r)
    with pytest.raises(ValueError, match="tart2"):
        bench_train_path("quick", steps=1, device="cpu")
