"""A real learning test: the `quick` recipe (tiny preset) learns in-context logistic regression."""

import dataclasses
import time

import pytest
import torch

from tart.eval.synthetic import evaluate_synthetic
from tart.train import recipe, train

CHECKS = (3000, 4000, 5000, 6000)  # steps at which the module is evaluated; it passes at the first that clears


def _clears(rows: list[dict]) -> bool:
    by_k = {r["k"]: r for r in rows}
    return (by_k[32]["tart_acc"] >= 0.75
            and by_k[32]["tart_acc"] > by_k[8]["tart_acc"] - 0.02  # more context does not hurt
            and by_k[32]["tart_ce"] < 0.6)  # far below chance (0.693)


@pytest.mark.slow
@pytest.mark.timeout(2400)
def test_tiny_preset_learns_in_context(tmp_path):
    """The recipe trained in stages up to 6000 steps instead of its 4000, evaluated after each: how
    long the model sits on the initial loss plateau depends on the CPU's float32 kernels (on an
    AVX2-only CPU it left it so late that 4000 steps fell short of the bar; 6000 clear it), so the
    test stops at the first stage that clears the bar. The recipe's rate is constant after warm-up
    and its batches are seeded by step, so a stage resumed from the last one's checkpoint is the
    same run as one to that step (the resume tests check it). Bound by steps, not by time: a loaded
    machine makes it slower, not failing; the 40-minute timeout only guards against hangs."""
    torch.set_num_threads(2)
    assert recipe("quick").schedule == "constant"  # a stage's weights do not depend on the last stage
    t0, seen = time.perf_counter(), []
    for i, steps in enumerate(CHECKS):
        model = train(dataclasses.replace(recipe("quick"), steps=steps), tmp_path, resume=i > 0, progress=False)
        rows = evaluate_synthetic(model, ks=(8, 32), n_tasks=512, n_queries=32, active_dims=4, seed=7)
        seen.append((steps, {r["k"]: (round(r["tart_acc"], 3), round(r["tart_ce"], 3)) for r in rows}))
        print(f"{steps} steps, {(time.perf_counter() - t0) / 60:.1f} min: {seen[-1][1]}")
        if _clears(rows):
            return
    pytest.fail(f"not at 0.75 accuracy and CE under 0.6 at k = 32 after {CHECKS[-1]} steps: {seen}")
