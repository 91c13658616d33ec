import json
import math

import numpy as np
import pytest
import torch

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


def test_bench_train_runs_both_trainers():
    r = bench_train("tiny", batch_size=8, points=10, steps=1, device="cpu")
    rates = ("ours_steps_per_s", "reference_steps_per_s", "ours_tokens_per_s", "reference_tokens_per_s")
    assert all(math.isfinite(r[k]) and r[k] > 0 for k in (*rates, "speedup")), r
    assert (r["batch_size"], r["tokens_per_seq"], r["timed_steps"]) == (8, 20, 1)
    for side in ("ours", "reference"):  # each side's rates describe the batch that was timed
        assert r[f"{side}_tokens_per_s"] == pytest.approx(r[f"{side}_steps_per_s"] * 8 * 20)
    assert r["speedup"] == pytest.approx(r["ours_tokens_per_s"] / r["reference_tokens_per_s"])
    assert r["params"] == Reasoner(tart_preset("tiny")).num_parameters()
    assert f"speedup:   {r['speedup']:.2f}x" in format_result(r)


def test_bench_inference_is_exact():
    """Shared-context prediction equals the per-query loop; the rates are consistent (no timing
    threshold: how much faster it is depends on the machine and its load)."""
    torch.manual_seed(0)
    r = bench_inference("tiny", ks=(8, 64), n_queries=64, loop_queries=16, device="cpu")
    assert [row["k"] for row in r["results"]] == [8, 64]
    for row in r["results"]:
        assert row["max_abs_logit_diff"] < 1e-4
        assert (row["n_queries"], row["loop_queries_timed"]) == (64, 16)
        rates = (row["shared_queries_per_s"], row["loop_queries_per_s"])
        assert all(math.isfinite(x) and x > 0 for x in rates), row
        assert row["speedup"] == pytest.approx(rates[0] / rates[1])
    assert r["speedup"] == r["results"][-1]["speedup"]  # taken at the largest k
    assert "k=64" in format_result(r)
