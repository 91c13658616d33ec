"""A real learning test: the `quick` recipe (tiny preset) learns in-context logistic regression."""

import dataclasses
import time

import pytest
import torch

from tart.eval.synthetic import evaluate_synthetic
from tart.train import recipe, train


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_tiny_preset_learns_in_context(tmp_path):
    """The recipe trained for 6000 steps instead of its 4000: how long the model sits on the
    initial loss plateau depends on the CPU's float32 kernels (on an AVX2-only CPU it left it so
    late that 4000 steps fell short of the bar below; 6000 clear it). Bound by steps, not
    by time: a loaded machine makes it slower, not failing (a 600 s training cap here once cut it at
    2654 steps on a busy machine and failed it); the 40-minute timeout only guards against hangs."""
    torch.set_num_threads(2)
    cfg = dataclasses.replace(recipe("quick"), steps=6000)
    t0 = time.perf_counter()
    model = train(cfg, tmp_path, progress=False)
    minutes = (time.perf_counter() - t0) / 60
    rows = evaluate_synthetic(model, ks=(8, 32), n_tasks=512, n_queries=32, active_dims=4, seed=7)
    by_k = {r["k"]: r for r in rows}
    print(f"trained {cfg.steps} steps in {minutes:.1f} min; rows: {rows}")
    assert by_k[32]["tart_acc"] >= 0.75
    assert by_k[32]["tart_acc"] > by_k[8]["tart_acc"] - 0.02  # more context does not hurt
    assert by_k[32]["tart_ce"] < 0.6  # far below chance (0.693)
