"""Class-count-free tart-2 (`SetReasonerConfig(label_codes=True)`): class codes instead of a weight
per class, tasks' classes in random slots during training, any class count up to the codes in one
pass of the classifier."""

import numpy as np
import pytest
import torch

from tart import TartClassifier
from tart.priors_tart2 import MixturePrior, SetCurriculum, assign_slots, sample_set_batch
from tart.set_reasoner import SetReasoner, SetReasonerConfig


def _module(n_classes=16, seed=0):
    torch.manual_seed(seed)
    return SetReasoner(SetReasonerConfig(n_dims=8, n_classes=n_classes, n_embd=32, n_layer=2, n_head=4,
                                         label_codes=True)).eval()


def test_no_weight_belongs_to_a_class():
    m = _module()
    names = dict(m.named_parameters())
    assert "label_emb.weight" not in names and "read_out.weight" not in names
    assert all(p.shape[0] != 16 and p.shape[-1] != 16 for p in names.values())  # nothing sized by the classes
    assert "codes" not in m.state_dict()  # drawn from a fixed seed, not stored
    torch.testing.assert_close(m.codes, _module(seed=1).codes)


def test_round_trip_and_one_pass_over_many_classes(tmp_path):
    m = _module()
    m.save_pretrained(tmp_path / "m")
    back = SetReasoner.from_pretrained(tmp_path / "m")
    cx, cy, qx = torch.randn(2, 30, 8), torch.arange(30).repeat(2, 1) % 12, torch.randn(2, 5, 8)
    torch.testing.assert_close(back.predict(cx, cy, qx), m.predict(cx, cy, qx))
    assert m.predict(cx, cy, qx).shape == (2, 5, 12)
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(48, 6)), np.arange(48) % 12
    clf = TartClassifier(reasoner=m).fit(X, y)
    assert clf.plan_.rule == "mean"  # natively, no class groups
    P = clf.predict_proba(rng.normal(size=(7, 6)))
    assert P.shape == (7, 12) and np.allclose(P.sum(1), 1)


def test_assign_slots():
    cur = SetCurriculum(k_min=4, k_max=40, d_min=3, d_max=20, n_queries=8, tokens=400)
    g = torch.Generator().manual_seed(0)
    batch = sample_set_batch(MixturePrior(max_classes=6), cur, 8, 16, g, shape=(10, 30, 12))
    slotted = assign_slots(batch, 16, torch.Generator().manual_seed(1))
    assert (slotted.used_BL.sum(1) == batch.n_classes_B).all()
    for b in range(10):  # a bijection of the task's classes onto its used slots
        pairs = set(zip(batch.cy_BK[b].tolist(), slotted.cy_BK[b].tolist())) | set(
            zip(batch.qy_BM[b].tolist(), slotted.qy_BM[b].tolist()))
        assert len({a for a, _ in pairs}) == len(pairs) == len({s for _, s in pairs})
        assert all(slotted.used_BL[b, s] for _, s in pairs)
    assert len({tuple(s.tolist()) for s in slotted.used_BL}) > 1  # slots differ between tasks
    with pytest.raises(ValueError, match="slots"):
        assign_slots(batch, 4)


def test_recipe_checks_the_class_count():
    from dataclasses import asdict

    from tart.train import TrainConfig

    with pytest.raises(ValueError, match="classes"):
        TrainConfig(family="tart2", preset="tiny", prior=MixturePrior(max_classes=12).to_dict(),
                    curriculum=asdict(SetCurriculum()))


@pytest.mark.slow
@pytest.mark.subprocess
def test_tiny_codes_recipe_learns(tmp_path):
    """`tart train --recipe tart2-tiny-codes`: the loss falls on tasks of up to 12 classes."""
    import json
    import subprocess
    import sys

    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "tart.cli", "train", "--recipe", "tart2-tiny-codes", "--out", str(out),
                    "--no-progress"], check=True, capture_output=True)
    losses = [json.loads(line)["loss"] for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert np.mean(losses[-3:]) < np.mean(losses[:2]) - 0.05, losses
    m = SetReasoner.from_pretrained(out)
    assert m.config.label_codes and m.config.n_classes == 16
