import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from golden_inputs import CLASSIFIER_GOLDEN_FILE, golden_classifier_cases
from tart import TartClassifier
from tart.weights import default_model_dir, sha256
from tart.reasoner import Reasoner, tart_preset


# Queries are independent in exact arithmetic, but the batched float32 attention gives results
# that differ with the batch's size and order at ~1e-7 (relative ~1e-6), above these checks' rtol
# of 1e-7; test_query_batch_invariance below asserts the invariance at float32 precision instead.
FLOAT32_CHECKS = {
    "check_methods_sample_order_invariance": "float32 batched attention: equal to ~1e-6, not 1e-7",
    "check_methods_subset_invariance": "float32 batched attention: equal to ~1e-6, not 1e-7",
}


@parametrize_with_checks([TartClassifier()], expected_failed_checks=lambda est: FLOAT32_CHECKS)
@pytest.mark.slow
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("case", [pytest.param(c, marks=pytest.mark.slow) if c == "tart2_k200_max64" else c
                                  for c in golden_classifier_cases()])  # the long-context case: full run
def test_golden_predict_proba(case):
    """Projection + ensemble + class prior on fixed features with the shipped modules never change
    silently (scripts/update_golden.py classifier rewrites them). The tolerance absorbs float32
    noise across machines (~1e-6); another ordering, subset or prior moves them by 1e-2 or more."""
    golden = json.loads((Path(__file__).parent / CLASSIFIER_GOLDEN_FILE).read_text())
    kwargs, X, y, Xq = golden_classifier_cases()[case]
    name = kwargs.get("reasoner", "tart2")
    assert sha256(default_model_dir(name) / "model.safetensors") == golden["weights_sha256"][name]
    proba = TartClassifier(**kwargs).fit(X, y).predict_proba(Xq)
    np.testing.assert_allclose(proba, golden["proba"][case], rtol=0, atol=1e-5)


def _blobs(n, D=4, seed=0, sep=3.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    X = rng.normal(size=(n, D))
    X[:, 0] += sep * (2 * y - 1)
    return X, y


def test_query_batch_invariance():
    X, y = _blobs(100, D=20)
    clf = TartClassifier().fit(X[:50], y[:50])
    full = clf.decision_function(X[50:])
    order = np.random.default_rng(0).permutation(50)
    np.testing.assert_allclose(clf.decision_function(X[50:][order]), full[order], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(clf.decision_function(X[50:60]), full[:10], rtol=1e-5, atol=1e-6)


def test_string_labels_and_proba_column_order():
    X, y = _blobs(80)
    labels = np.array(["spam", "ham"])[y]  # classes_ sorted: ham, spam
    clf = TartClassifier().fit(X[:48], labels[:48])
    assert list(clf.classes_) == ["ham", "spam"]
    proba = clf.predict_proba(X[48:])
    assert proba.shape == (32, 2)
    np.testing.assert_allclose(proba.sum(1), 1)
    pred = clf.predict(X[48:])
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    assert (pred == labels[48:]).mean() > 0.8
    np.testing.assert_allclose(clf.decision_function(X[48:]) > 0, proba[:, 1] > 0.5)


def test_matches_a_direct_reasoner_call():
    """One member, no shuffle effect on the math: the estimator is projection + predict."""
    from tart.projection import ContextProjection

    X, y = _blobs(60)
    torch.manual_seed(0)
    model = Reasoner(tart_preset("tiny")).eval()
    clf = TartClassifier(reasoner=model, n_estimators=1, random_state=3, temperature=1.0).fit(X[:40], y[:40])
    order = np.random.default_rng(3).permutation(40)
    p = ContextProjection(16, basis="class-mean").fit(X[:40], y[:40])
    logits = model.predict(
        torch.from_numpy(p.transform(X[:40])[order]), torch.from_numpy(y[:40][order]),
        torch.from_numpy(p.transform(X[40:])),
    )
    np.testing.assert_allclose(clf.predict_proba(X[40:])[:, 1], torch.sigmoid(logits).numpy(), atol=1e-6)


@pytest.mark.slow
def test_class_prior_shifts_the_log_odds_by_the_context_base_rate():
    X, y = _blobs(80)
    idx = np.r_[np.flatnonzero(y == 0)[:30], np.flatnonzero(y == 1)[:10]]  # 30 vs 10
    Xq = X[np.setdiff1d(np.arange(80), idx)]
    logit = {}
    for prior in ("uniform", "context", 0.9):
        clf = TartClassifier(class_prior=prior, temperature=1.0).fit(X[idx], y[idx])
        logit[prior] = clf.decision_function(Xq)
    np.testing.assert_allclose(logit["context"] - logit["uniform"], np.log(11 / 31), atol=1e-6)
    np.testing.assert_allclose(logit[0.9] - logit["uniform"], np.log(9.0), atol=1e-6)
    balanced = np.r_[np.flatnonzero(y == 0)[:10], np.flatnonzero(y == 1)[:10]]
    a = TartClassifier().fit(X[balanced], y[balanced]).predict_proba(Xq)
    b = TartClassifier(class_prior="uniform").fit(X[balanced], y[balanced]).predict_proba(Xq)
    np.testing.assert_array_equal(a, b)  # a balanced context is left alone
    for bad in ("data", 0.0, 1.0, True):
        with pytest.raises(ValueError, match="class_prior"):
            TartClassifier(class_prior=bad).fit(X[idx], y[idx])


@pytest.mark.slow
def test_projection_settings_through_the_estimator():
    X, y = _blobs(120, seed=2)
    clf = TartClassifier(reasoner="tart").fit(X[:60], y[:60])
    assert clf.maps_[0].basis == "class-mean" and clf.maps_[0].standardize == "auto"
    assert (clf.predict(X[60:]) == y[60:]).mean() > 0.8
    clf = TartClassifier(reasoner="tart", projection="pca", standardize=False).fit(X[:60], y[:60])  # the original's
    assert clf.maps_[0].basis == "pca" and clf.maps_[0].standardized_ is False
    assert (clf.predict(X[60:]) == y[60:]).mean() > 0.8
    texts, labels = _texts(40)
    clf = TartClassifier(reasoner="tart", embedder=_ToyContextEmbedder(), projection="class-mean").fit(texts[:30], labels[:30])
    assert np.isfinite(clf.predict_proba(texts[30:])).all()  # fitted with the labels at predict time
    with pytest.raises(ValueError, match="projection must be one of"):
        TartClassifier(reasoner="tart", projection="lda").fit(X[:60], y[:60])
    with pytest.raises(ValueError, match="standardize must be"):
        TartClassifier(reasoner="tart", standardize="yes").fit(X[:60], y[:60])


@pytest.mark.slow
def test_center_through_the_estimator():
    X, y = _blobs(120, seed=4)
    idx = np.r_[np.flatnonzero(y[:80] == 0)[:30], np.flatnonzero(y[:80] == 1)[:8]]  # 30 vs 8
    mids = {c: TartClassifier(reasoner="tart", center=c).fit(X[idx], y[idx]).maps_[0].mean_D for c in ("balanced", "mean")}
    np.testing.assert_allclose(mids["mean"], X[idx].mean(0))
    np.testing.assert_allclose(mids["balanced"], 0.5 * (X[idx][y[idx] == 0].mean(0) + X[idx][y[idx] == 1].mean(0)))
    with pytest.raises(ValueError, match="center must be one of"):
        TartClassifier(reasoner="tart", center="median").fit(X[idx], y[idx])


@pytest.mark.slow
def test_long_contexts_use_stratified_subsets():
    X, y = _blobs(700, seed=1)
    clf = TartClassifier(reasoner="tart", max_context=100, n_estimators=2).fit(X[:600], y[:600])
    idx = np.stack([r.rows for r in clf.plan_.reads])
    assert clf.plan_.rule == "binary"  # the faithful module's members are orderings or subsets
    assert idx.shape == (2 * 6, 100)
    for row in idx:
        assert len(set(row)) == 100 and abs(y[:600][row].mean() - 0.5) < 0.02
    assert len(set(idx.ravel())) > 450  # most of the context is read
    acc = (clf.predict(X[600:]) == y[600:]).mean()
    assert acc > 0.8
    # the default reads up to what the module holds, with no error
    TartClassifier(reasoner="tart").fit(X[:600], y[:600]).predict(X[600:])


def test_small_context_works():
    X, y = _blobs(40)
    proba = TartClassifier().fit(X[:4], y[:4]).predict_proba(X[4:])
    assert np.isfinite(proba).all()


def test_bad_input_errors():
    X, y = _blobs(30)
    with pytest.raises(ValueError, match="only one class"):
        TartClassifier(reasoner="tart").fit(X, np.zeros(30))
    with pytest.raises(ValueError, match="multiclass must be one of"):
        TartClassifier(reasoner="tart", multiclass="ecoc").fit(X, np.arange(30) % 3)
    Xn = X.copy()
    Xn[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        TartClassifier(reasoner="tart").fit(Xn, y)
    clf = TartClassifier(reasoner="tart").fit(X, y)
    with pytest.raises(ValueError, match="NaN"):
        clf.predict(Xn)
    with pytest.raises(ValueError, match="features"):
        clf.predict(X[:, :2])
    with pytest.raises(ValueError):
        clf.predict(X[:0])
    with pytest.raises(ValueError, match="max_context"):
        TartClassifier(reasoner="tart", max_context=10_000).fit(X, y)
    with pytest.raises(ValueError, match="n_estimators"):
        TartClassifier(reasoner="tart", n_estimators=0).fit(X, y)
    with pytest.raises(TypeError, match="reasoner must be"):
        TartClassifier(reasoner=3).fit(X, y)


@pytest.mark.slow
def test_errors_are_the_same_for_lists_and_arrays_features_and_items():
    """Checked once at the boundary: ValueError for bad values and shapes, TypeError for what is
    not a collection of rows or items, whichever form X takes."""
    X, y = _blobs(30)
    texts, labels = _texts(30)
    Xn = X.copy()
    Xn[3, 2] = np.nan
    fitted = {"array": TartClassifier().fit(X, y), "list": TartClassifier().fit(X.tolist(), list(y)),
              "items": TartClassifier(embedder=_ToyEmbedder()).fit(texts, labels)}
    for form, clf in fitted.items():
        for bad in ("one string", 3.0):
            with pytest.raises(TypeError, match="X must be"):
                clf.predict(bad)
            with pytest.raises(TypeError, match="X must be"):
                clone(clf).fit(bad, y)
        with pytest.raises(ValueError):
            clf.predict([] if form != "array" else X[:0])
        with pytest.raises(ValueError, match="only one class"):
            clone(clf).fit(texts if form == "items" else X, np.zeros(30))
    for X_nan in (Xn, Xn.tolist()):
        with pytest.raises(ValueError, match="NaN"):
            fitted["array"].predict(X_nan)
    nan_embedder = _ToyEmbedder()
    nan_embedder.encode = lambda items, **kw: np.full((len(items), 3), np.nan)
    with pytest.raises(ValueError, match="NaN"):
        TartClassifier(embedder=nan_embedder).fit(texts, labels)
    wide = TartClassifier(embedder=_ToyEmbedder()).fit(texts, labels)
    wide.embedder_ = _WideEmbedder()
    with pytest.raises(ValueError, match="query features of shape"):
        wide.predict(texts)


class _ToyEmbedder:
    """Items are strings; the vector counts letters (stands in for a real model)."""
    cache_key = "toy"
    context_dependent = False

    def encode(self, items, **kw):
        if not items:
            raise ValueError("no items")
        return np.array([[s.count(c) for c in "abe"] for s in items], dtype=np.float32)


class _ToyContextEmbedder(_ToyEmbedder):
    context_dependent = True

    def __init__(self):
        self.calls = []

    def encode(self, items, **kw):
        raise ValueError("needs the context")

    def encode_with_context(self, context_items, context_label_words, query_items):
        self.calls.append(list(context_label_words))
        return _ToyEmbedder.encode(self, context_items), _ToyEmbedder.encode(self, query_items)


class _WideEmbedder(_ToyEmbedder):
    def encode(self, items, **kw):
        return np.ones((len(items), 5))


@pytest.mark.slow
def test_projection_defaults_unless_given():
    texts, labels = _texts(40)
    clf = TartClassifier(reasoner="tart", embedder=_ToyEmbedder()).fit(texts, labels)
    assert (clf.maps_[0].n_components, clf.maps_[0].fill) == (16, "zeros")
    clf = TartClassifier(reasoner="tart", embedder=_ToyEmbedder(), n_components=3, fill="tile").fit(texts, labels)
    assert (clf.maps_[0].n_components, clf.maps_[0].fill) == (3, "tile")


def _fitted_state(clf) -> tuple[bytes, list]:
    """The estimator's fitted attributes (not the embedder's own bookkeeping): bytes, weights."""
    state = {k: v for k, v in vars(clf).items() if k.endswith("_") and k not in ("embedder_", "reasoner_")}
    return pickle.dumps(state), [v.clone() for v in clf.reasoner_.state_dict().values()]


def _assert_same_state(clf, before):
    state, weights = _fitted_state(clf)
    assert state == before[0]
    assert all(torch.equal(a, b) for a, b in zip(weights, before[1], strict=True))


@pytest.mark.parametrize("reasoner", ["tart", "tart2"])
@pytest.mark.slow
def test_predict_leaves_the_fitted_state_alone(reasoner):
    """A context-dependent embedder gives the context's features with each predict call: the call
    fits its own map, and the estimator is the same after predicting as after fitting."""
    texts, labels = _texts(60)
    clf = TartClassifier(embedder=_ToyContextEmbedder(), reasoner=reasoner).fit(texts[:40], labels[:40])
    before = _fitted_state(clf)
    first = clf.predict_proba(texts[40:])
    _assert_same_state(clf, before)
    assert not hasattr(clf, "maps_")  # never fitted: each predict call fits its own
    np.testing.assert_array_equal(clf.predict_proba(texts[40:]), first)
    clf = TartClassifier(reasoner=reasoner).fit(*_blobs(40))  # and with features
    before = _fitted_state(clf)
    clf.predict_proba(_blobs(10, seed=1)[0])
    _assert_same_state(clf, before)


def test_settings_the_family_does_not_read_are_errors_naming_them():
    """tart-2 fits its own map: the faithful projection's settings are refused, by name; the
    original's settings give TART's module."""
    X, y = _blobs(40)
    for name, value in (("projection", "pca"), ("center", "mean"), ("fill", "tile")):
        with pytest.raises(ValueError, match=rf"{name}={value!r}: read only by the faithful module"):
            TartClassifier(**{name: value}).fit(X, y)
    from tart.classifier import ORIGINAL_SETTINGS
    from tart.reasoner import Reasoner

    clf = TartClassifier(**ORIGINAL_SETTINGS).fit(X, y)
    assert isinstance(clf.reasoner_, Reasoner) and clf.maps_[0].basis == "pca" and clf.maps_[0].center == "mean"


def _texts(n, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    texts = ["".join(rng.choice(list("aabcd" if t else "effgh"), 12)) for t in y]
    return texts, np.array(["neg", "pos"])[y]


def test_item_embedders_through_fit_predict():
    texts, labels = _texts(60)
    clf = TartClassifier(embedder=_ToyEmbedder()).fit(texts[:40], labels[:40])
    assert (clf.predict(texts[40:]) == labels[40:]).mean() > 0.8
    emb = _ToyContextEmbedder()
    clf = TartClassifier(embedder=emb, label_words=("negative", "positive")).fit(texts[:40], labels[:40])
    assert (clf.predict(texts[40:]) == labels[40:]).mean() > 0.8
    # the context's labels reach the embedder as words, in the context's order
    assert emb.calls[-1] == [{"neg": "negative", "pos": "positive"}[lab] for lab in labels[:40]]
    with pytest.raises(ValueError, match="empty"):
        clf.predict([])
    with pytest.raises(TypeError, match="list of items"):
        clf.predict("just one string")


@pytest.mark.parametrize("reasoner", ["tart", "tart2"])
def test_max_context_below_the_class_count_is_a_clear_error_at_fit(reasoner):
    """A member reads at least one example of each class (the faithful module's subsets are
    class-stratified, tart-2's keep every class): max_context=1 cannot, so fit says so. (It used to
    give the faithful module members that read one class-0 point each, every query near the prior.)"""
    X, y = _blobs(20)
    for bad in (1, 0):
        with pytest.raises(ValueError, match=rf"max_context={bad} cannot hold one example of each of 2 classes"):
            TartClassifier(reasoner=reasoner, max_context=bad).fit(X, y)
    clf = TartClassifier(reasoner=reasoner, max_context=2, n_estimators=2).fit(X, y)  # the least that works
    idx = np.stack([r.rows for r in clf.plan_.reads])
    assert idx.shape[1] == 2 and all(sorted(y[row]) == [0, 1] for row in idx)
    assert np.isfinite(clf.predict_proba(X[:3])).all()


def test_stratified_subsets_refuse_a_size_that_drops_a_class():
    from tart import ensemble

    y = np.arange(10) % 2
    with pytest.raises(ValueError, match="cannot hold one example of each of 2 classes"):
        ensemble.stratified_subset(y, 1, np.random.default_rng(0))
    with pytest.raises(ValueError, match="cannot hold one example of each of 2 classes"):
        ensemble.ordering_members(y, 2, 1, np.random.default_rng(0))


@pytest.mark.parametrize("kind", ["tart", "tart2"])
def test_a_user_module_is_left_as_it_was(kind):
    """fit works on its own copy: the caller's module keeps its device, dtype, training mode and
    weights ("meta" stands in for another device on a CPU-only machine: moving there in place
    would drop the weights)."""
    from tart.set_reasoner import SetReasoner
    from tart.set_reasoner import tart2_preset as set_preset

    torch.manual_seed(0)
    module = Reasoner(tart_preset("tiny")) if kind == "tart" else SetReasoner(set_preset("tiny"))
    module.train()
    weights = {k: v.clone() for k, v in module.state_dict().items()}
    X, y = _blobs(20)
    devices = ["meta", "cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    for device in devices:
        # one view of the map, no linear member: fit runs nothing on the module (a "meta" module
        # cannot compute)
        clf = TartClassifier(reasoner=module, device=device, n_estimators=2, temperature=1.0,
                             standardize=False, stack=None).fit(X, y)
        assert clf.reasoner_ is not module and not clf.reasoner_.training
        assert next(clf.reasoner_.parameters()).device.type == device
        assert clf.reasoner is module  # the parameter itself is the caller's object (sklearn)
        assert module.training and all(p.device.type == "cpu" and p.dtype == torch.float32
                                       for p in module.parameters())
        assert all(torch.equal(v, weights[k]) for k, v in module.state_dict().items())
    # the copy predicts as the module itself would (cpu)
    clf = TartClassifier(reasoner=module, device="cpu", n_estimators=1).fit(X, y)
    module.eval()
    ref = TartClassifier(reasoner=module, device="cpu", n_estimators=1).fit(X, y).predict_proba(X[:5])
    np.testing.assert_array_equal(clf.predict_proba(X[:5]), ref)
    half = module.half()  # a float16 module stays float16 and keeps its weights
    TartClassifier(reasoner=half, device="cpu").fit(X, y)
    assert all(p.dtype == torch.float16 for p in half.parameters())


def test_mixed_label_types_are_a_clear_error():
    """[1, "a", ...] used to become the strings "1" and "a" without a word (numpy's conversion)."""
    X, _ = _blobs(10)
    for y in ([1, "a"] * 5, np.array([1, "a"] * 5, dtype=object), [True, "yes"] * 5, [1.5, "x"] * 5):
        with pytest.raises(ValueError, match="mix of label types"):
            TartClassifier().fit(X, y)
    clf = TartClassifier().fit(X, [True, False] * 5)  # one kind each: fine
    assert clf.classes_.dtype == bool and set(clf.predict(X)) <= {True, False}
    assert list(TartClassifier().fit(X, ["b", "a"] * 5).classes_) == ["a", "b"]


@pytest.mark.parametrize("reasoner", ["tart", "tart2"])
@pytest.mark.slow
def test_extreme_scales_give_the_answer_of_unit_scale(reasoner):
    """The maps are scale-invariant, but a context at 1e300 overflowed their variances (1e-300
    underflowed), every feature was dropped and every query got the prior, silently; queries
    1e200 times the context's scale overflowed float32 and came back NaN."""
    X, y = _blobs(40, seed=5)
    ref = TartClassifier(reasoner=reasoner).fit(X[:30], y[:30]).predict_proba(X[30:])
    assert np.ptp(ref[:, 1]) > 0.1  # the features matter
    for scale in (1e300, 1e-300, 1e200, 1e-200, 2.0**101):
        proba = TartClassifier(reasoner=reasoner).fit(X[:30] * scale, y[:30]).predict_proba(X[30:] * scale)
        np.testing.assert_allclose(proba, ref, atol=1e-5, err_msg=f"scale {scale}")
    clf = TartClassifier(reasoner=reasoner).fit(X[:30], y[:30])
    for far in (1e200, 1e308, -1e308, 1e30, 1e20):
        Xq = X[30:33].copy()
        Xq[:, 0] = far
        proba = clf.predict_proba(Xq)
        assert np.isfinite(proba).all() and np.allclose(proba.sum(1), 1), far


def test_non_finite_module_output_is_a_clear_error(monkeypatch):
    X, y = _blobs(20)
    clf = TartClassifier(n_estimators=1).fit(X, y)
    monkeypatch.setattr(clf.reasoner_, "predict", lambda *a, **k: torch.full((1, 3), float("nan")))
    with pytest.raises(ValueError, match="not finite"):
        clf.predict_proba(X[:3])


def test_auto_temperature_is_one_with_a_context_dependent_embedder():
    """The context's features change with every predict call, so no temperature can be chosen at
    fit: "auto" (the default) uses 1 and "context" is refused by name."""
    texts, labels = _texts(40)
    clf = TartClassifier(embedder=_ToyContextEmbedder(), n_estimators=2).fit(texts, labels)
    assert clf.temperature_ == 1.0
    with pytest.raises(ValueError, match='temperature="context" needs an embedder'):
        TartClassifier(embedder=_ToyContextEmbedder(), temperature="context").fit(texts, labels)
