"""tart-2's set-layout module: shared context, order invariance, masking, errors, persistence."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from dataclasses import replace

from tart.checkpoint import CheckpointError
from tart.weights import load_reasoner
from tart.set_reasoner import SetReasoner, SetReasonerConfig, deepened, tart2_preset

CFG = SetReasonerConfig(n_dims=8, n_classes=5, n_embd=32, n_layer=2, n_head=4)


@pytest.fixture
def model() -> SetReasoner:
    torch.manual_seed(0)
    m = SetReasoner(CFG).eval()
    for p in m.parameters():  # larger weights than the init, so differences are not hidden
        p.data.add_(0.2 * torch.randn_like(p))
    return m


def _inputs(B=2, K=12, M=7, D=8, L=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, K, D, generator=g), torch.randint(0, L, (B, K), generator=g), torch.randn(B, M, D, generator=g)


def test_queries_together_equal_one_at_a_time(model):
    cx, cy, qx = _inputs()
    together = model.predict(cx, cy, qx)
    alone = torch.cat([model.predict(cx, cy, qx[:, j : j + 1]) for j in range(qx.shape[1])], 1)
    torch.testing.assert_close(together, alone, rtol=1e-5, atol=1e-5)
    chunked = model.predict(cx, cy, qx, query_chunk=3)
    torch.testing.assert_close(together, chunked, rtol=1e-5, atol=1e-5)


def test_context_order_does_not_matter(model):
    cx, cy, qx = _inputs()
    perm = torch.randperm(cx.shape[1], generator=torch.Generator().manual_seed(1))
    torch.testing.assert_close(model.predict(cx, cy, qx), model.predict(cx[:, perm], cy[:, perm], qx),
                               rtol=1e-5, atol=1e-5)


def test_context_matters_and_labels_matter(model):
    cx, cy, qx = _inputs()
    base = model.predict(cx, cy, qx)
    assert not torch.allclose(base, model.predict(cx, (cy + 1) % 3, qx), atol=1e-3)
    assert not torch.allclose(base, model.predict(cx[:, :6], cy[:, :6], qx), atol=1e-3)


def test_forward_masks_unused_classes_and_matches_predict(model):
    cx, cy, qx = _inputs(L=3)
    logits = model(cx, cy, qx, torch.tensor([3, 4]))
    assert logits.shape == (2, 7, 5)
    assert torch.isinf(logits[0, :, 3:]).all() and torch.isfinite(logits[0, :, :3]).all()
    assert torch.isinf(logits[1, :, 4:]).all() and torch.isfinite(logits[1, :, :4]).all()
    torch.testing.assert_close(model.predict(cx, cy, qx, n_classes=3), model(cx, cy, qx)[..., :3],
                               rtol=1e-5, atol=1e-5)
    assert model.predict(cx, cy, qx).shape == (2, 7, 3)  # n_classes from the labels


def test_narrow_features_are_zero_filled_and_unbatched_inputs(model):
    cx, cy, qx = _inputs(D=5)
    pad = lambda t: torch.nn.functional.pad(t, (0, 3))  # noqa: E731
    torch.testing.assert_close(model.predict(cx, cy, qx), model.predict(pad(cx), cy, pad(qx)))
    torch.testing.assert_close(model.predict(cx[0], cy[0], qx[0]), model.predict(cx, cy, qx)[0])


@pytest.mark.parametrize("change, match", [
    (lambda cx, cy, qx: (cx, cy + 5, qx), r"labels in \[0, 5\)"),
    (lambda cx, cy, qx: (cx, cy - 1, qx), r"labels in \[0, 5\)"),
    (lambda cx, cy, qx: (torch.randn(2, 12, 9), cy, torch.randn(2, 7, 9)), "at most 8"),
    (lambda cx, cy, qx: (cx, cy, qx[..., :4]), "D=4"),
    (lambda cx, cy, qx: (cx.index_fill(1, torch.tensor([0]), float("nan")), cy, qx), "NaN"),
    (lambda cx, cy, qx: (cx, cy, qx.index_fill(1, torch.tensor([0]), float("inf"))), "NaN or inf"),
    (lambda cx, cy, qx: (cx[:, :0], cy[:, :0], qx), "empty"),
    (lambda cx, cy, qx: (cx, cy, qx[:, :0]), "empty"),
    (lambda cx, cy, qx: (cx, cy[:, :5], qx), "disagree"),
    (lambda cx, cy, qx: (cx, cy.float() + 0.5, qx), "integer"),
    (lambda cx, cy, qx: (cx[0], cy, qx), r"expected context_x \[B, K, D\]"),
])
def test_bad_input_errors(model, change, match):
    with pytest.raises(ValueError, match=match):
        model.predict(*change(*_inputs()))


def test_predict_without_validation_is_the_same_on_valid_inputs(model):
    """validate=False (for callers that checked already, as TartClassifier) skips only the checks."""
    cx, cy, qx = _inputs()
    for n_classes in (None, 5):
        torch.testing.assert_close(model.predict(cx, cy, qx, n_classes=n_classes, validate=False),
                                   model.predict(cx, cy, qx, n_classes=n_classes))


def test_bad_class_counts(model):
    cx, cy, qx = _inputs(L=3)
    with pytest.raises(ValueError, match="n_classes must be in"):
        model.predict(cx, cy, qx, n_classes=6)
    with pytest.raises(ValueError, match="n_classes is 2"):
        model.predict(cx, cy, qx, n_classes=2)


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        SetReasonerConfig(n_embd=30, n_head=4)
    with pytest.raises(ValueError, match="n_classes"):
        SetReasonerConfig(n_classes=1)
    with pytest.raises(ValueError, match="unknown set-reasoner config keys"):
        SetReasonerConfig.from_dict({"n_dims": 4, "n_positions": 8})
    with pytest.raises(ValueError, match="unknown tart-2 preset"):
        tart2_preset("huge")
    assert SetReasoner(tart2_preset("tiny")).num_parameters() > 0


def test_save_load_round_trip_and_strict_checks(model, tmp_path):
    model.save_pretrained(tmp_path / "m")
    loaded = load_reasoner(tmp_path / "m")  # the family comes from config.json
    assert isinstance(loaded, SetReasoner) and loaded.config == model.config
    cx, cy, qx = _inputs()
    torch.testing.assert_close(loaded.predict(cx, cy, qx), model.predict(cx, cy, qx))
    model.save_pretrained(tmp_path / "half", dtype=torch.bfloat16, max_shard_mb=0.01)
    assert len(list((tmp_path / "half").glob("model-*.safetensors"))) > 1
    torch.testing.assert_close(SetReasoner.from_pretrained(tmp_path / "half").predict(cx, cy, qx),
                               model.predict(cx, cy, qx), rtol=0.1, atol=0.1)
    SetReasoner(SetReasonerConfig(n_dims=8, n_classes=5, n_embd=32, n_layer=3, n_head=4)).save_pretrained(tmp_path / "deep")
    import json
    cfg = json.loads((tmp_path / "deep" / "config.json").read_text())
    (tmp_path / "deep" / "config.json").write_text(json.dumps({**cfg, "n_layer": 2}))
    with pytest.raises(CheckpointError, match="unexpected tensors"):
        SetReasoner.from_pretrained(tmp_path / "deep")
    default = load_reasoner()  # the faithful module is not a tart-2 module
    default.save_pretrained(tmp_path / "tart")
    with pytest.raises(CheckpointError, match="is not a .tart-set-reasoner. module"):
        SetReasoner.from_pretrained(tmp_path / "tart")


def test_softmax_attention_sees_self(model):
    """A query whose own features are extreme is not predicted as if it were an average one:
    the query token attends to itself (and its read-in), not only to the context."""
    cx, cy, qx = _inputs(B=1, M=2)
    out = model.predict(cx, cy, torch.stack([qx[0, 0], 50 * qx[0, 0]])[None])
    assert not torch.allclose(out[0, 0], out[0, 1], atol=1e-3)
    assert np.isfinite(out.numpy()).all()


@pytest.mark.parametrize("codes", [False, True])
def test_deepened_module_computes_the_same_and_can_learn(codes):
    torch.manual_seed(0)
    cfg = replace(tart2_preset("tiny"), label_codes=codes, n_classes=6)
    small = SetReasoner(cfg).eval()
    for p in small.parameters():
        p.data.add_(0.2 * torch.randn_like(p))
    cx, cy, qx = _inputs(D=16, L=3)
    deep = deepened(small, 6).eval()
    assert deep.config.n_layer == 6 and small.config.n_layer == 2
    torch.testing.assert_close(deep.predict(cx, cy, qx), small.predict(cx, cy, qx), rtol=0, atol=1e-6)
    new_blocks = [b for i, b in enumerate(deep.h) if i % 3]
    assert all(float(b.c_proj.weight.abs().sum() + b.attn.c_proj.weight.abs().sum()) == 0 for b in new_blocks)
    # the new layers are not dead: gradients reach their residual projections
    loss = F.cross_entropy(deep(cx, cy, qx)[..., :3].reshape(-1, 3), torch.randint(0, 3, (qx.shape[0] * qx.shape[1],)))
    loss.backward()
    assert all(b.c_proj.weight.grad.abs().sum() > 0 for b in new_blocks)
    with pytest.raises(ValueError, match="multiple"):
        deepened(small, 3)
