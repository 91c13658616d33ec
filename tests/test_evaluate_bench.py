import json
import math

import numpy as np
import pytest
import torch

from tart.bench import speed
from tart.bench.reference import GPT2Reference
from tart.bench.speed import bench_inference, bench_train, format_result
from tart.cli import main as cli_main
from tart.eval.synthetic import evaluate_synthetic, format_table, logreg_logits
from tart.reasoner import Reasoner, tart_preset


@pytest.mark.slow
def test_baselines_order_and_rise_with_k():
    rows = evaluate_synthetic(None, ks=(8, 64), n_tasks=64, n_queries=32, active_dims=4)
    for r in rows:
        assert r["bayes_acc"] >= r["logreg_acc"] - 0.02
        assert r["bayes_ce"] < r["logreg_ce"]
    assert rows[1]["logreg_acc"] > rows[0]["logreg_acc"]
    assert rows[1]["logreg_acc"] > 0.9


def test_logreg_is_the_map_estimate():
    """C = alpha^2 and no intercept: the fitted w minimises logloss + |w|^2 / (2 alpha^2)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20, 3))
    y = (x @ np.array([2.0, -1.0, 0.5]) + rng.normal(size=20) > 0).astype(float)
    alpha = 3.0
    logits = logreg_logits(x, y, x, alpha)
    w = np.linalg.lstsq(x, logits, rcond=None)[0]

    def objective(w):
        z = x @ w
        return np.sum(np.logaddexp(0, z) - y * z) + w @ w / (2 * alpha**2)

    for delta in np.eye(3) * 1e-2:
        assert objective(w) <= objective(w + delta) + 1e-9
        assert objective(w) <= objective(w - delta) + 1e-9
    one_class = logreg_logits(x[:4], np.ones(4), x[:2], alpha)
    assert np.all(one_class > 0)


def test_eval_skips_ks_the_model_cannot_hold(tiny_model):
    rows = evaluate_synthetic(tiny_model, ks=(8, 300), n_tasks=4, n_queries=4, baselines=False)
    assert "tart_acc" in rows[0] and "skipped" in rows[1]
    assert "| 300 | - | - |" in format_table(rows)


def test_cli_eval_synthetic_json(tmp_path, tiny_model, capsys):
    tiny_model.save_pretrained(tmp_path)
    code = cli_main(["eval-synthetic", "--model", str(tmp_path), "--ks", "8", "16",
                     "--n-tasks", "8", "--n-queries", "4", "--json"])
    assert code == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["k"] for r in rows] == [8, 16]
    assert {"tart_acc", "tart_ce", "logreg_acc", "logreg_ce", "bayes_acc", "bayes_ce"} <= set(rows[0])


def test_cli_reports_bad_checkpoint(tmp_path, capsys):
    assert cli_main(["eval-synthetic", "--model", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _as_reference(ours: Reasoner, state: dict) -> GPT2Reference:
    """A GPT2Reference holding `state` (a Reasoner's): Linear weights become GPT-2's Conv1D (transposed)."""
    ref = GPT2Reference(ours.config)
    target = ref.state_dict()
    mapped = {}
    for key, value in state.items():
        if key.startswith(("read_in.", "read_out.")):
            mapped[key] = value
        else:
            conv = key.endswith(".weight") and (".attn." in key or ".mlp." in key)
            mapped["backbone." + key] = value.t() if conv else value
    assert all(target[k].shape == v.shape for k, v in mapped.items())
    missing = {name for name, _ in ref.named_parameters()} - set(mapped)
    assert missing == {"backbone.wte.weight"}  # the one-token table, unused with inputs_embeds
    ref.load_state_dict({**target, **mapped})
    return ref


def test_bench_train_runs_both_trainers(monkeypatch):
    """Both timed trainers take their steps on the same batch and compute the same loss on it (the
    reference, given our weights, gives our loss), and every step changes the weights."""
    seen = {"ours": [], "reference": []}
    real_train_step, real_reference_step = speed.train_step, speed.reference_step

    def ours(model, opt, task, *args, **kwargs):
        before = {k: v.clone() for k, v in model.state_dict().items()}
        loss = real_train_step(model, opt, task, *args, **kwargs)
        seen["ours"].append((model, before, task.x_BND, task.y_BN, loss))
        return loss

    def reference(model, opt, x, y, *args, **kwargs):
        before = {k: v.clone() for k, v in model.state_dict().items()}
        loss = real_reference_step(model, opt, x, y, *args, **kwargs)
        seen["reference"].append((model, before, x, y, loss))
        return loss

    monkeypatch.setattr(speed, "train_step", ours)
    monkeypatch.setattr(speed, "reference_step", reference)
    r = bench_train("tiny", batch_size=8, points=10, steps=2, device="cpu")
    rates = ("ours_steps_per_s", "reference_steps_per_s", "ours_tokens_per_s", "reference_tokens_per_s")
    assert all(math.isfinite(r[k]) and r[k] > 0 for k in (*rates, "speedup")), r
    assert (r["batch_size"], r["tokens_per_seq"], r["timed_steps"]) == (8, 20, 2)
    assert r["params"] == Reasoner(tart_preset("tiny")).num_parameters()
    assert f"speedup:   {r['speedup']:.2f}x" in format_result(r)
    x, y = seen["ours"][0][2], seen["ours"][0][3]
    assert x.shape == (8, 10, 16)
    for side, calls in seen.items():
        assert len(calls) == 1 + 2, side  # the warm-up, then the timed steps
        assert all(torch.equal(c[2], x) and torch.equal(c[3], y) for c in calls), side  # the same batch
        states = [c[1] for c in calls] + [calls[-1][0].state_dict()]
        for a, b in zip(states, states[1:]):  # each step moved the weights
            assert any(not torch.equal(a[k], b[k]) for k in a), side
    model, before, _, _, loss = seen["ours"][0]
    ref = _as_reference(model, before)
    ref_loss = real_reference_step(ref, torch.optim.SGD(ref.parameters(), lr=0.0), x, y)
    assert math.isfinite(loss) and ref_loss == pytest.approx(loss, rel=1e-5, abs=1e-6)
    assert seen["reference"][0][4] != pytest.approx(loss, rel=1e-5)  # its own weights differ: not a tautology


def test_bench_inference_is_exact():
    """Shared-context prediction equals the per-query loop; the rates are positive (no timing
    threshold: how much faster it is depends on the machine and its load)."""
    torch.manual_seed(0)
    r = bench_inference("tiny", ks=(8, 64), n_queries=64, loop_queries=16, device="cpu")
    assert [row["k"] for row in r["results"]] == [8, 64]
    for row in r["results"]:
        assert row["max_abs_logit_diff"] < 1e-4
        assert (row["n_queries"], row["loop_queries_timed"]) == (64, 16)
        rates = (row["shared_queries_per_s"], row["loop_queries_per_s"], row["speedup"])
        assert all(math.isfinite(x) and x > 0 for x in rates), row
    assert r["speedup"] == r["results"][-1]["speedup"]  # taken at the largest k
    assert "k=64" in format_result(r)
