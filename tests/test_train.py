import json
import os
import subprocess
import sys
import warnings
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from tart.checkpoint import load_model
from tart.cli import main as cli_main
from tart.reasoner import Reasoner
from tart.priors_tart import Curriculum
from tart.runs import latest_checkpoint
from tart.train import RECIPES, TrainConfig, lr_at, train

SMALL_MODEL = dict(n_embd=32, n_layer=2, n_head=2, n_positions=64)


def small_cfg(**kw) -> TrainConfig:
    base = dict(
        preset="tiny", steps=6, batch_size=8, lr=1e-3, warmup=2, model=SMALL_MODEL,
        curriculum=asdict(Curriculum(2, 6, 2, 6, 18, 6, 2)), log_every=1, ckpt_every=3,
        device="cpu",
    )
    return TrainConfig(**{**base, **kw})


def state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_lr_schedule():
    cfg = small_cfg(steps=100, warmup=10, lr=1.0, min_lr=0.1, schedule="cosine")
    assert lr_at(cfg, 0) == pytest.approx(0.1)
    assert lr_at(cfg, 9) == pytest.approx(1.0)
    assert lr_at(cfg, 10) == pytest.approx(1.0)
    assert lr_at(cfg, 99) == pytest.approx(0.1, abs=1e-3)
    assert lr_at(small_cfg(schedule="constant", warmup=0), 50) == pytest.approx(1e-3)


def test_bad_train_config():
    with pytest.raises(ValueError, match="schedule"):
        small_cfg(schedule="linear")
    with pytest.raises(ValueError, match="curriculum reaches 300 points"):
        small_cfg(curriculum=asdict(Curriculum.fixed(4, 300)))


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_every_recipe_is_a_valid_config(name):
    """Each named recipe passes its family's checks (prior, curriculum and module agree) and builds
    its module, so `tart train --recipe NAME` does not fail at start on a GPU lease."""
    cfg = TrainConfig(**RECIPES[name])
    assert sum(p.numel() for p in cfg.build_model().parameters()) > 0


def test_train_writes_checkpoints_and_metrics(tmp_path):
    model = train(small_cfg(), tmp_path, progress=False)
    rows = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    assert rows[0]["points"] == 6 and rows[-1]["points"] == 18 and rows[-1]["active_dims"] == 6
    assert all(r["steps_per_s"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    ckpt = latest_checkpoint(tmp_path)
    assert ckpt.name == "step-0000006"
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == [
        "latest", "step-0000003", "step-0000006"
    ]
    assert not list(tmp_path.rglob("*.tmp"))
    assert not list(tmp_path.rglob("*.pt")) and not list(tmp_path.rglob("*.pkl"))
    # the run folder itself loads as a model, equal to the final weights
    loaded = Reasoner.from_pretrained(tmp_path)
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])


@pytest.mark.slow  # two short trainings: the full run
def test_resume_matches_uninterrupted_run(tmp_path):
    full = state(train(small_cfg(), tmp_path / "full", progress=False))
    # "killed" after step 3: the step-3 checkpoint is all that is left of the first run
    train(small_cfg(steps=3), tmp_path / "cut", progress=False)
    resumed = state(train(small_cfg(), tmp_path / "cut", resume=True, progress=False))
    for k in full:
        assert torch.equal(full[k], resumed[k]), k
    rows = [json.loads(x) for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6]
    # adam moments and step counts were restored too
    cut_state = load_model(tmp_path / "cut" / "checkpoints" / "step-0000006")[1]
    full_state = load_model(tmp_path / "full" / "checkpoints" / "step-0000006")[1]
    assert all(torch.equal(cut_state[k], full_state[k]) for k in full_state)
    a = (tmp_path / "cut" / "checkpoints" / "step-0000006" / "training_state.safetensors").read_bytes()
    b = (tmp_path / "full" / "checkpoints" / "step-0000006" / "training_state.safetensors").read_bytes()
    assert a == b


@pytest.mark.subprocess
def test_resume_from_a_killed_process(tmp_path):
    """A run killed mid-way (SIGKILL) resumes from its last complete checkpoint via the CLI."""
    out = tmp_path / "run"
    args = [
        "--out", str(out), "--preset", "tiny", "--steps", "400", "--batch-size", "4",
        "--ckpt-every", "2", "--log-every", "1", "--device", "cpu", "--dims-start", "4",
        "--points-start", "10", "--points-end", "10", "--no-progress",
    ]
    code = f"import sys; from tart.cli import main; sys.exit(main(['train', *{args!r}]))"
    proc = subprocess.Popen([sys.executable, "-c", code])
    ckpts = out / "checkpoints"
    import time

    deadline = time.time() + 120
    while time.time() < deadline and len(list(ckpts.glob("step-*"))) < 2:
        time.sleep(0.2)
    proc.kill()
    proc.wait()
    done = int(latest_checkpoint(out).name.split("-")[1])
    assert 0 < done < 400
    assert cli_main(["train", "--out", str(out), "--resume", "--steps", str(done + 4), "--no-progress"]) == 0
    assert latest_checkpoint(out).name == f"step-{done + 4:07d}"
    saved = json.loads((out / "train_config.json").read_text())
    assert saved["batch_size"] == 4 and saved["steps"] == done + 4  # settings came from the run
    # and it ends where an uninterrupted run ends: the same weights and the same logged losses
    flags = args[2:]
    flags[flags.index("--steps") + 1] = str(done + 4)
    assert cli_main(["train", "--out", str(tmp_path / "full"), *flags]) == 0
    a, b = load_model(out)[1], load_model(tmp_path / "full")[1]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    rows = [[(r["step"], r["loss"]) for r in map(json.loads, (d / "metrics.jsonl").read_text().splitlines())]
            for d in (out, tmp_path / "full")]
    assert rows[0] == rows[1] and rows[0][-1][0] == done + 4


@pytest.mark.subprocess
@pytest.mark.timeout(300)
def test_ddp_two_cpu_processes_gloo(tmp_path):
    """torchrun with 2 CPU processes on gloo trains and writes one checkpoint."""
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone",
        "-m", "tart.cli", "train", "--out", str(out), "--preset", "tiny", "--steps", "4",
        "--batch-size", "8", "--ckpt-every", "2", "--log-every", "2", "--device", "cpu",
        "--points-start", "10", "--points-end", "10", "--no-progress",
    ]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=280)
    assert res.returncode == 0, res.stderr[-3000:]
    assert latest_checkpoint(out).name == "step-0000004"
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4]  # one writer (rank 0)
    Reasoner.from_pretrained(out)


def test_init_from_starts_at_given_weights(tmp_path):
    first = train(small_cfg(steps=2), tmp_path / "a", progress=False)
    cfg = small_cfg(steps=1, lr=0.0, warmup=0, init_from=str(tmp_path / "a"))  # lr 0: no change
    second = train(cfg, tmp_path / "b", progress=False)
    for k, v in first.state_dict().items():
        assert torch.equal(v, second.state_dict()[k]), k
    other = small_cfg(model={**SMALL_MODEL, "n_embd": 16}, init_from=str(tmp_path / "a"))
    with pytest.raises(ValueError, match="differs from this run"):
        train(other, tmp_path / "c", progress=False)


def test_bf16_on_a_cpu_without_it_warns(monkeypatch):
    """bfloat16 autocast asked on a CPU without AMX bfloat16 warns and names the fix; with it, or in
    float32, it does not."""
    from tart import train as train_mod

    cpu = torch.device("cpu")
    monkeypatch.setattr(train_mod, "cpu_has_fast_bf16", lambda: False)
    with pytest.warns(RuntimeWarning, match="--amp off"):
        train_mod.make_autocast("bf16", cpu)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train_mod.make_autocast("off", cpu)
        monkeypatch.setattr(train_mod, "cpu_has_fast_bf16", lambda: True)
        train_mod.make_autocast("bf16", cpu)
