"""Training, exporting, evaluating and benchmarking the tart-2 family (tiny sizes)."""

import json
import math
from dataclasses import asdict, replace

import pytest
import torch

from tart.eval import synthetic_set as es
from tart.bench.speed import bench_inference_set, bench_train_set, format_result
from tart.cli import main as cli_main
from tart.export import CARD_FILE, EVAL_FILE
from tart.weights import load_reasoner, sha256
from tart.priors_tart2 import MixturePrior, SetCurriculum
from tart.set_reasoner import SetReasoner
from tart.train import TrainConfig, recipe, train


def tiny_cfg(**kw) -> TrainConfig:
    base = dict(family="tart2", preset="tiny", steps=6, batch_size=8, lr=2e-3, warmup=2, log_every=1,
                ckpt_every=3, device="cpu", prior=MixturePrior(max_classes=4, max_signal_dims=4).to_dict(),
                curriculum=asdict(SetCurriculum(k_min=4, k_max=24, d_min=2, d_max=12, n_queries=8, tokens=256)))
    return TrainConfig(**{**base, **kw})


def test_tart2_resume_matches_uninterrupted_run(tmp_path):
    full = train(tiny_cfg(), tmp_path / "full", progress=False).state_dict()
    train(tiny_cfg(steps=3), tmp_path / "cut", progress=False)
    resumed = train(tiny_cfg(), tmp_path / "cut", resume=True, progress=False).state_dict()
    assert all(torch.equal(full[k], resumed[k]) for k in full)
    rows = [json.loads(x) for x in (tmp_path / "cut" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2, 3, 4, 5, 6] and all(r["tokens_per_s"] > 0 for r in rows)
    assert isinstance(load_reasoner(tmp_path / "full"), SetReasoner)


def test_tart2_config_validation_and_recipes():
    with pytest.raises(ValueError, match="family must be one of"):
        tiny_cfg(family="gpt")
    with pytest.raises(ValueError, match="unknown tart-2 preset"):
        tiny_cfg(preset="tart").model_config()
    with pytest.raises(ValueError):
        tiny_cfg(curriculum=asdict(SetCurriculum(k_min=50, k_max=10)))
    for name in ("tart2-cpu", "tart2-gpu", "tart2-tiny", "tart2-cpu-dense", "tart2-cpu-white"):
        assert recipe(name).family == "tart2"


@pytest.mark.slow  # real training
def test_tart2_tiny_recipe_learns(tmp_path):
    """200 steps of the tiny recipe (seconds): on fresh Gaussian tasks the trained module is far
    above the same module untrained (which sits at chance); the module alone (stack=None: the
    classifier's linear member would rescue an untrained module)."""
    model = train(replace(recipe("tart2-tiny"), device="cpu"), tmp_path, progress=False)
    prior = MixturePrior(max_classes=4, max_signal_dims=4, noise_frac=0.0, table_frac=0.0, sep_range=(1.5, 3.0))
    torch.manual_seed(0)
    untrained = SetReasoner(model.config).eval()
    acc = {name: es.evaluate_components(m, ks=(32,), components=("gaussian",), n_tasks=64, n_queries=32,
                                        n_raw=12, baselines=(), prior=prior, stack=None)[0]["tart2_acc"]
           for name, m in (("trained", model), ("untrained", untrained))}
    assert acc["trained"] > acc["untrained"] + 0.25, acc


@pytest.mark.slow  # training, export and the card's evaluation end to end: the full run
def test_export_eval_and_cli_for_tart2(tmp_path):
    train(tiny_cfg(), tmp_path / "run", progress=False)
    out = tmp_path / "shipped"
    assert cli_main(["export-model", "--run", str(tmp_path / "run"), "--out", str(out), "--hardware",
                     "test CPU", "--n-tasks", "2", "--n-queries", "4", "--dtype", "bfloat16"]) == 0
    card = (out / CARD_FILE).read_text()
    assert sha256(out / "model.safetensors") in card and "tart-2" in card and "| gaussian |" in card
    saved = json.loads((out / EVAL_FILE).read_text())
    assert {r["component"] for r in saved["rows"]} == set(es.COMPONENTS)
    assert [r["k"] for r in saved["tart_tasks"]] == [8, 16, 32, 64, 128, 256]
    report = tmp_path / "docs" / "synthetic.md"
    assert cli_main(["eval-synthetic", "--model", str(out), "--ks", "8", "16", "--components", "gaussian",
                     "--n-tasks", "3", "--n-queries", "5", "--n-raw", "10", "--report", str(report)]) == 0
    text = report.read_text()
    assert "| gaussian | 16 |" in text and "tart2 - best" in text and "| 16 |" in text and "| SE |" in text


def test_baselines_are_strong_on_their_own_tasks():
    """The classical learners the targets compare with do learn the components (not a strawman)."""
    rows = es.evaluate_components(None, ks=(64,), components=("gaussian", "logistic"), n_tasks=8,
                                  n_queries=32, n_raw=16,
                                  prior=MixturePrior(sep_range=(2.0, 3.0), noise_frac=0.0, alpha_range=(5.0, 10.0)))
    for r in rows:
        assert max(r["logreg_acc"], r["lda_acc"]) > 0.7, r


def test_bench_tart2_train_and_inference(monkeypatch):
    """The rates are finite, and the set module's timed predictions are exact: every timed call gives
    the warm-up's logits, and those equal predicting each query on its own against the context (the
    bench's speed comes from the shared pass, not from computing something else)."""
    r = bench_train_set("tiny", "tiny", batch_size=4, points=40, n_queries=8, n_raw=16, steps=1, device="cpu")
    for side in ("tart2", "tart"):
        s = r[side]
        assert all(math.isfinite(s[k]) and s[k] > 0 for k in ("steps_per_s", "examples_per_s")), s
    assert f"examples/s ratio tart2/tart: {r['examples_ratio']:.2f}x" in format_result(r)
    calls, predict = [], SetReasoner.predict

    def recording(self, cx, cy, qx, *args, **kwargs):
        out = predict(self, cx, cy, qx, *args, **kwargs)
        calls.append((self, cx, cy, qx, out))
        return out

    monkeypatch.setattr(SetReasoner, "predict", recording)
    r = bench_inference_set("tiny", "tiny", ks=(16, 256), n_queries=32, device="cpu")
    monkeypatch.undo()
    assert [x["k"] for x in r["results"]] == [16, 256]
    rates = [x["tart2_queries_per_s"] for x in r["results"]] + [r["tart_queries_per_s_at_256"], r["ratio_at_256"]]
    assert all(math.isfinite(x) and x > 0 for x in rates)
    assert f"ratio at k=256 (tart2/tart): {r['ratio_at_256']:.2f}x" in format_result(r)
    assert [c[1].shape[1] for c in calls] == [16] * 6 + [256] * 6  # per k: the warm-up, then 5 timed passes
    for group in (calls[:6], calls[6:]):
        model, cx, cy, qx, out = group[0]
        assert out.shape == (1, 32, 2) and all(torch.equal(c[4], out) for c in group)
        one_by_one = torch.cat([predict(model, cx, cy, qx[:, i : i + 1], n_classes=2) for i in range(8)], dim=1)
        assert (one_by_one - out[:, :8]).abs().max().item() < 1e-5  # 8 of the 32 queries: enough, and quick
    assert bench_inference_set("tiny", "tiny", ks=(16,), n_queries=8, device="cpu")["ratio_at_256"] is None
    with pytest.raises(ValueError, match="points"):
        bench_train_set("tiny", "tiny", points=9, n_queries=8, device="cpu")


def test_a_module_for_the_whitened_map_trains_saves_and_is_read_with_it(tmp_path):
    """whiten_map: `--init-from` a module of the same sizes saved before the key existed, trained
    on whitened batches, saved with the key, and the classifier maps its inputs the same way."""
    import numpy as np

    from tart.classifier import TartClassifier

    base = train(tiny_cfg(steps=2), tmp_path / "plain", progress=False)
    cfg_file = tmp_path / "plain" / "config.json"
    old = json.loads(cfg_file.read_text())
    old.pop("whiten_map")  # as a folder saved before the key existed
    cfg_file.write_text(json.dumps(old))
    assert SetReasoner.from_pretrained(tmp_path / "plain").config.whiten_map is False
    white = train(tiny_cfg(steps=2, model={"whiten_map": True}, init_from=str(tmp_path / "plain")),
                  tmp_path / "white", progress=False)
    assert white.config.whiten_map and not base.config.whiten_map
    loaded = SetReasoner.from_pretrained(tmp_path / "white")
    assert loaded.config.whiten_map
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 6)), np.arange(20) % 2
    clf = TartClassifier(reasoner=loaded, embedder=None).fit(X, y)
    assert all(m.whiten for m in clf.maps_) and np.allclose(clf.predict_proba(X).sum(1), 1.0)
    with pytest.raises(ValueError, match="differs"):  # other sizes are still refused
        train(tiny_cfg(steps=1, model={"n_embd": 64}, init_from=str(tmp_path / "plain")), tmp_path / "x",
              progress=False)
    assert recipe("tart2-cpu-white").model == {"whiten_map": True}
    both = train(tiny_cfg(steps=2, model={"whiten_map": "both"}, init_from=str(tmp_path / "plain")),
                 tmp_path / "both", progress=False)
    assert SetReasoner.from_pretrained(tmp_path / "both").config.whiten_map == "both" == both.config.whiten_map
    clf = TartClassifier(reasoner=tmp_path / "both", embedder=None).fit(X, y)
    assert clf._strategy().template().views == [(False, "auto", "means"), (False, True, "means"), (True, "auto", "means"),
                                                (True, True, "means")]
    assert {m.view for m in clf.plan_.maps} == set(np.flatnonzero(clf.view_weights_ >= 0.01))  # both maps x two scalings
    assert recipe("tart2-cpu-both").model == {"whiten_map": "both"}


def test_a_module_for_the_logistic_first_map_trains_saves_and_is_read_with_it(tmp_path):
    """map_first: absent from older folders (the class means first), trained from one on batches
    mapped with the context's logistic directions first, saved with the key, and the classifier
    fits its maps that way."""
    import numpy as np

    from tart.classifier import TartClassifier
    from tart.set_reasoner import SetReasonerConfig

    train(tiny_cfg(steps=2), tmp_path / "plain", progress=False)
    cfg_file = tmp_path / "plain" / "config.json"
    old = json.loads(cfg_file.read_text())
    old.pop("map_first")  # as a folder saved before the key existed
    cfg_file.write_text(json.dumps(old))
    assert SetReasoner.from_pretrained(tmp_path / "plain").config.map_first == "means"
    first = train(tiny_cfg(steps=2, model={"map_first": "logistic"}, init_from=str(tmp_path / "plain")),
                  tmp_path / "first", progress=False)
    assert first.config.map_first == "logistic"
    assert SetReasoner.from_pretrained(tmp_path / "first").config.map_first == "logistic"
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 6)), np.arange(30) % 3
    clf = TartClassifier(reasoner=tmp_path / "first", embedder=None).fit(X, y)
    assert all(m.first == "logistic" for m in clf.maps_) and np.allclose(clf.predict_proba(X).sum(1), 1.0)
    assert recipe("tart2-cpu-codes-first").model["map_first"] == "logistic"
    with pytest.raises(ValueError, match="map_first must be"):
        SetReasonerConfig(map_first="lda")
