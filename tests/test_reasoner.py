import json

import pytest
import torch

from tart.checkpoint import CheckpointError
from tart.reasoner import Reasoner, ReasonerConfig, tart_preset
from tart.priors_tart import LogisticPrior


def test_presets_sizes():
    assert Reasoner(tart_preset("tart")).num_parameters() == pytest.approx(9.6e6, rel=0.01)
    cfg = tart_preset("tart")
    assert (cfg.n_embd, cfg.n_layer, cfg.n_head, cfg.n_positions, cfg.n_dims) == (256, 12, 8, 516, 16)
    assert cfg.max_points == 258
    with pytest.raises(ValueError, match="unknown preset"):
        tart_preset("huge")


@torch.no_grad()
@pytest.mark.parametrize("k,m", [(1, 5), (32, 40), pytest.param(257, 9, marks=pytest.mark.slow)])
def test_shared_context_matches_per_query_loop(k, m):
    torch.manual_seed(k)
    model = Reasoner(tart_preset("small")).eval()
    for p in model.parameters():  # larger weights than init, so attention is far from uniform
        p.add_(0.05 * torch.randn_like(p))
    t = LogisticPrior().sample(2, k + m, generator=torch.Generator().manual_seed(k))
    cx, cy, qx = t.x_BND[:, :k], t.y_BN[:, :k], t.x_BND[:, k:]
    shared = model.predict(cx, cy, qx)
    assert shared.shape == (2, m)
    loop = model.predict_per_query(cx, cy, qx)
    assert (shared - loop).abs().max().item() < 1e-4
    chunked = model.predict(cx, cy, qx, query_chunk=4)
    assert (chunked - shared).abs().max().item() < 1e-5


def test_forward_is_causal(tiny_model, task):
    """Changing point j never changes predictions at earlier points."""
    x, y = task.x_BND.clone(), task.y_BN.clone()
    before = tiny_model(x, y)
    x[:, 20] += 1.0
    y[:, 20] = 1 - y[:, 20]
    after = tiny_model(x, y)
    assert torch.allclose(before[:, :20], after[:, :20], atol=1e-6)
    assert not torch.allclose(before[:, 20:], after[:, 20:])


def test_unbatched_predict(tiny_model, task):
    cx, cy, qx = task.x_BND[0, :10], task.y_BN[0, :10], task.x_BND[0, 10:]
    out = tiny_model.predict(cx, cy, qx)
    assert out.shape == (38,)
    assert torch.allclose(out, tiny_model.predict(cx[None], cy[None], qx[None])[0])


@pytest.mark.parametrize(
    "change,match",
    [
        (lambda cx, cy, qx: (cx[..., :8], cy, qx), "feature dimension"),
        (lambda cx, cy, qx: (cx, cy, qx[..., :8]), "feature dimension"),
        (lambda cx, cy, qx: (cx.index_fill(1, torch.tensor([2]), float("nan")), cy, qx), "NaN or inf"),
        (lambda cx, cy, qx: (cx, cy, qx.index_fill(1, torch.tensor([0]), float("inf"))), "NaN or inf"),
        (lambda cx, cy, qx: (cx, cy * 2 - 1, qx), r"labels in \{0, 1\}"),
        (lambda cx, cy, qx: (cx[:, :0], cy[:, :0], qx), "context is empty"),
        (lambda cx, cy, qx: (cx, cy, qx[:, :0]), "query set is empty"),
        (lambda cx, cy, qx: (cx, cy[:, :-1], qx), "sizes disagree"),
        (lambda cx, cy, qx: (cx[0], cy, qx), "expected context_x"),
    ],
)
def test_predict_bad_input(tiny_model, task, change, match):
    cx, cy, qx = task.x_BND[:, :10], task.y_BN[:, :10], task.x_BND[:, 10:]
    with pytest.raises(ValueError, match=match):
        tiny_model.predict(*change(cx, cy, qx))


def test_predict_without_validation_is_the_same_on_valid_inputs(tiny_model, task):
    """validate=False (for callers that checked already, as TartClassifier) skips only the checks."""
    cx, cy, qx = task.x_BND[:, :10], task.y_BN[:, :10], task.x_BND[:, 10:]
    torch.testing.assert_close(tiny_model.predict(cx, cy, qx, validate=False), tiny_model.predict(cx, cy, qx))


def test_too_many_points(tiny_model):
    t = LogisticPrior().sample(1, 260, generator=torch.Generator().manual_seed(0))
    with pytest.raises(ValueError, match="too long: this model holds at most 257"):
        tiny_model.predict(t.x_BND[:, :258], t.y_BN[:, :258], t.x_BND[:, 258:])
    with pytest.raises(ValueError, match="positions"):
        tiny_model(t.x_BND, t.y_BN)


@pytest.mark.parametrize("shard_mb,dtype", [(None, None), (0.1, None), (None, torch.bfloat16)])
def test_checkpoint_round_trip(tmp_path, tiny_model, task, shard_mb, dtype):
    tiny_model.save_pretrained(tmp_path, dtype=dtype, max_shard_mb=shard_mb)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "config.json" in files
    if shard_mb:
        assert "model.safetensors.index.json" in files and len(files) > 3
    loaded = Reasoner.from_pretrained(tmp_path)
    assert loaded.config == tiny_model.config
    cx, cy, qx = task.x_BND[:, :16], task.y_BN[:, :16], task.x_BND[:, 16:]
    diff = (loaded.predict(cx, cy, qx) - tiny_model.predict(cx, cy, qx)).abs().max().item()
    assert diff < (1e-6 if dtype is None else 0.1)


def test_checkpoint_config_mismatch(tmp_path, tiny_model):
    tiny_model.save_pretrained(tmp_path)
    cfg = json.loads((tmp_path / "config.json").read_text())
    cfg["n_layer"] = 4
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match=r"missing tensors \['h.3"):
        Reasoner.from_pretrained(tmp_path)
    cfg["n_layer"], cfg["n_embd"] = 3, 128
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="shape mismatches"):
        Reasoner.from_pretrained(tmp_path)
    cfg["n_embd"], cfg["bogus"] = 64, 1
    (tmp_path / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(CheckpointError, match="unknown reasoner config keys"):
        Reasoner.from_pretrained(tmp_path)


def test_checkpoint_corrupt_or_missing(tmp_path, tiny_model):
    with pytest.raises(CheckpointError, match="does not exist"):
        Reasoner.from_pretrained(tmp_path / "nope")
    tiny_model.save_pretrained(tmp_path)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="corrupt"):
        Reasoner.from_pretrained(tmp_path)
    weights.unlink()
    with pytest.raises(CheckpointError, match="neither"):
        Reasoner.from_pretrained(tmp_path)
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        Reasoner.from_pretrained(tmp_path)


def test_extra_tensor_is_rejected(tmp_path, tiny_model):
    from safetensors.torch import load_file, save_file

    tiny_model.save_pretrained(tmp_path)
    state = load_file(tmp_path / "model.safetensors")
    state["extra.weight"] = torch.zeros(2)
    save_file(state, tmp_path / "model.safetensors")
    with pytest.raises(CheckpointError, match="unexpected tensors"):
        Reasoner.from_pretrained(tmp_path)


def test_config_validation():
    with pytest.raises(ValueError, match="divisible"):
        ReasonerConfig(n_embd=60, n_head=8)
