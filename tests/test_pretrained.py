import json
import re
from dataclasses import asdict
from pathlib import Path

import pytest
import torch

from golden_inputs import GOLDEN_FILE, golden_inputs
from tart import load_reasoner
from tart.cli import main as cli_main
from tart.eval.synthetic import evaluate_synthetic
from tart.export import CARD_FILE, EVAL_FILE, _phases, training_summary
from tart.weights import default_model_dir, sha256
from tart.priors_tart import Curriculum
from tart.train import TrainConfig, train

HERE = Path(__file__).parent


def test_export_model_writes_weights_eval_and_card(tmp_path):
    cfg = TrainConfig(
        preset="tiny", steps=4, batch_size=8, warmup=1, log_every=2, ckpt_every=2, device="cpu",
        model=dict(n_embd=32, n_layer=2, n_head=2, n_positions=64),
        curriculum=asdict(Curriculum.fixed(4, 20)),
    )
    train(cfg, tmp_path / "run", progress=False)
    out = tmp_path / "shipped"
    assert cli_main(["export-model", "--run", str(tmp_path / "run"), "--out", str(out),
                     "--hardware", "test CPU", "--n-tasks", "4", "--n-queries", "4"]) == 0
    card = (out / CARD_FILE).read_text()
    assert sha256(out / "model.safetensors") in card
    assert "Steps: 4" in card and "test CPU" in card and "| k | tart acc" in card
    rows = json.loads((out / EVAL_FILE).read_text())["rows"]
    assert [r["k"] for r in rows] == [8, 16, 32, 64, 128, 256]
    assert "tart_acc" in rows[1] and "skipped" in rows[2]  # 64 positions hold 31 context points
    assert load_reasoner(out).config.n_embd == 32
    sharded = tmp_path / "sharded"
    assert cli_main(["export-model", "--run", str(tmp_path / "run"), "--out", str(sharded),
                     "--hardware", "test CPU", "--n-tasks", "4", "--n-queries", "4",
                     "--dtype", "bfloat16", "--max-shard-mb", "0.01"]) == 0
    shards = sorted(sharded.glob("model-*.safetensors"))
    assert len(shards) > 1
    assert all(sha256(f) in (sharded / CARD_FILE).read_text() for f in shards)
    assert load_reasoner(sharded).config.n_embd == 32
    assert training_summary(tmp_path / "run")["steps"] == 4


def test_card_phase_lines_show_step_ranges_and_schedules():
    first = asdict(TrainConfig())
    last = {**first, "schedule": "cosine", "min_lr": 1e-5, "steps": 10000, "warmup": 200}
    text = _phases([{"start_step": 0, "config": first}, {"start_step": 19548, "config": last}], 29375)
    assert "steps 0-19548: lr 0.0003 constant, warm-up 500" in text
    assert "steps 19548-29375: lr 0.0003 cosine to 1e-05 over 10000 steps, warm-up 200" in text
    assert _phases([{"start_step": 0, "config": first}], 10) == ""  # one phase: the recipe line says it


def test_shipped_module_loads_offline():
    model = load_reasoner()
    assert model.config.n_dims == 16 and model.config.max_points == 258
    card = (default_model_dir() / CARD_FILE).read_text()
    digest = re.search(r"`model.safetensors`, sha256 `([0-9a-f]{64})`", card).group(1)
    assert sha256(default_model_dir() / "model.safetensors") == digest


def test_shipped_module_golden_predictions():
    """The shipped module's outputs on fixed inputs never change silently (update_golden.py)."""
    golden = json.loads((HERE / GOLDEN_FILE).read_text())
    assert sha256(default_model_dir() / "model.safetensors") == golden["weights_sha256"]
    logits = load_reasoner().predict(*golden_inputs())
    assert torch.allclose(logits, torch.tensor(golden["logits"]), atol=1e-4)


@pytest.mark.slow
def test_shipped_eval_reproduces_the_card():
    shipped = json.loads((default_model_dir() / EVAL_FILE).read_text())
    spec = shipped["spec"]
    rows = evaluate_synthetic(load_reasoner(), ks=tuple(spec["ks"]), n_tasks=spec["n_tasks"],
                              n_queries=spec["n_queries"], seed=spec["seed"])
    for got, want in zip(rows, shipped["rows"], strict=True):
        for key, value in want.items():
            assert got[key] == pytest.approx(value, abs=2e-3), (want["k"], key)


def test_shipped_tart2_loads_offline_with_golden_predictions():
    """The shipped tart-2 module: its card names the weights' digest, and its outputs on fixed
    inputs never change silently (scripts/update_golden.py tart2 rewrites them)."""
    from golden_inputs import GOLDEN_FILES, golden_inputs_tart2
    from tart.set_reasoner import SetReasoner

    model = load_reasoner("tart2")
    assert isinstance(model, SetReasoner) and model.config.label_codes and model.config.n_classes == 64
    folder = default_model_dir("tart2")
    card = (folder / CARD_FILE).read_text()
    digest = re.search(r"`model.safetensors`, sha256 `([0-9a-f]{64})`", card).group(1)
    assert sha256(folder / "model.safetensors") == digest
    golden = json.loads((HERE / GOLDEN_FILES["tart2"]).read_text())
    assert golden["weights_sha256"] == digest
    logits = model.predict(*golden_inputs_tart2())
    assert torch.allclose(logits, torch.tensor(golden["logits"]), atol=1e-4)
    # and it has learned: dim c is shifted by 3 for class c, so the queries' largest of the first
    # three dims is nearly always their class, and the module agrees with it
    x, y, q = golden_inputs_tart2()
    assert (logits.argmax(-1) == q[..., :3].argmax(-1)).float().mean() > 0.9


@pytest.mark.slow
def test_shipped_tart2_eval_reproduces_its_card():
    from tart.eval.synthetic_set import evaluate_components

    shipped = json.loads((default_model_dir("tart2") / EVAL_FILE).read_text())
    spec = shipped["spec"]
    rows = evaluate_components(load_reasoner("tart2"), ks=(16,), components=("gaussian", "softmax"),
                               n_tasks=spec["n_tasks"], n_queries=spec["n_queries"], n_raw=spec["n_raw"],
                               seed=spec["seed"], baselines=(), stack=None)  # the card: the module alone
    want = {(r["component"], r["k"]): r for r in shipped["rows"]}
    for got in rows:
        assert got["tart2_acc"] == pytest.approx(want[got["component"], got["k"]]["tart2_acc"], abs=2e-3)
