"""`scripts/gpu_train.sh`, rehearsed on the CPU with the tiny tart-2 recipe: a run against the
clock, a checkpoint at the limit, a bf16 export in shards, the comparison with the shipped module
and a bundle of pieces that fit the device's 16 MiB limit."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from safetensors import safe_open

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.subprocess
def test_gpu_script_rehearsed_on_cpu(tmp_path):
    env = {**os.environ, "PY": sys.executable, "RECIPE": "tart2-tiny", "SMOKE": "0", "BENCH": "0",
           "TIME_LIMIT": "4", "TRAIN_ARGS": "--clock time --warmup-share 0.2 --steps 1000000 --device cpu", "EVAL_TASKS": "2",
           "WORK": str(tmp_path / "work"), "OUT": str(tmp_path / "out")}
    done = subprocess.run(["bash", "scripts/gpu_train.sh"], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run, ship, out = tmp_path / "work" / "tart2-tiny", tmp_path / "work" / "ship", tmp_path / "out"
    cfg = json.loads((run / "train_config.json").read_text())
    assert cfg["clock"] == "time" and cfg["time_limit_s"] == 4.0
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["elapsed_s"] >= 4.0 and rows[-1]["step"] < cfg["steps"]  # stopped by the clock
    assert f"time limit of 4 s reached after {rows[-1]['step']} steps" in done.stdout
    weights = sorted(ship.glob("model*.safetensors"))
    assert weights and all(p.stat().st_size <= 15 * 2**20 for p in weights)
    with safe_open(str(weights[0]), "pt") as f:
        assert f.get_tensor(next(iter(f.keys()))).dtype.is_floating_point
        assert str(f.get_tensor(next(iter(f.keys()))).dtype) == "torch.bfloat16"
    compare = (out / "compare.md").read_text()
    assert "against the shipped `tart2` module" in compare and "| **mean** |" in compare
    pieces = sorted(out.glob("bundle.tar.*"))
    assert pieces and all(p.stat().st_size <= 15 * 2**20 for p in pieces)
