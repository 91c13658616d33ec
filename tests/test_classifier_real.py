"""TartClassifier end to end on the packaged models and reviews (fails if set-up skipped them)."""

import numpy as np
import pytest

from conftest import needs_asset
from tart import TartClassifier
from tart.eval.contexts import balanced_context, balanced_test

pytestmark = pytest.mark.assets  # every test reads a packaged model or data set


@pytest.fixture(scope="module")
def reviews():
    from tart.datasets import load_dataset

    assert_installed = needs_asset("amazon_food")(lambda: None)
    assert_installed()
    ds = load_dataset("amazon_food")
    ctx = balanced_context(ds.train_labels, 24, seed=0)
    test = balanced_test(ds.test_labels, 16)
    words = np.array(["other", "great"])
    return ([ds.train_items[i] for i in ctx], words[ds.train_labels[ctx]],
            [ds.test_items[i] for i in test], words[ds.test_labels[test]])


@needs_asset("minilm")
@needs_asset("smollm2")
@pytest.mark.parametrize("embedder, kwargs", [
    ("minilm", None), ("smollm2", None), ("smollm2", {"mode": "vanilla"}),
])
def test_reviews_with_packaged_models(reviews, embedder, kwargs):
    ctx, ctx_y, test, test_y = reviews
    clf = TartClassifier(embedder=embedder, embedder_kwargs=kwargs).fit(ctx, ctx_y)
    assert list(clf.classes_) == ["great", "other"]
    proba = clf.predict_proba(test)
    assert proba.shape == (16, 2) and np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(1), 1, atol=1e-9)
    pred = clf.predict(test)
    assert set(pred) <= {"great", "other"}
    np.testing.assert_allclose(clf.predict_proba(test), proba)  # deterministic
    if kwargs:  # context-dependent: the label words reached the prompt
        assert clf.label_words_ == ("great", "other")


def _media_context(name: str, k: int, n_test: int):
    from tart.datasets import load_dataset

    ds = load_dataset(name)
    ctx = balanced_context(ds.train_labels, k, seed=0)
    test = balanced_test(ds.test_labels, n_test)
    return ([ds.train_items[i] for i in ctx], ds.train_labels[ctx],
            [ds.test_items[i] for i in test], ds.test_labels[test])


@needs_asset("whisper-tiny-en")
@needs_asset("speech_tools")
def test_spoken_keywords_with_packaged_whisper():
    ctx, y, test, y_test = _media_context("spoken_keywords:yes-no", 16, 12)
    faithful = TartClassifier(embedder="whisper-tiny-en", reasoner="tart").fit(ctx, y)
    assert faithful.maps_[0].fill == "zeros"  # 16 components, as for text (no audio hint)
    for clf in (faithful, TartClassifier(embedder="whisper-tiny-en").fit(ctx, y)):  # and the default
        proba = clf.predict_proba(test)
        assert proba.shape == (12, 2) and np.isfinite(proba).all()
        assert (clf.predict(test) == y_test).mean() >= 0.75  # "yes" vs "no" is easy (LR: 1.0)


@needs_asset("mobilenet-v2")
@needs_asset("fashion_mnist")
def test_fashion_mnist_with_packaged_mobilenet():
    ctx, y, test, y_test = _media_context("fashion_mnist:trouser-bag", 16, 12)
    clf = TartClassifier(embedder="mobilenet-v2", reasoner="tart", n_components=16, fill="zeros").fit(ctx, y)
    assert (clf.maps_[0].n_components, clf.maps_[0].fill) == (16, "zeros")  # explicit wins
    proba = clf.predict_proba(test)
    assert proba.shape == (12, 2) and np.isfinite(proba).all()
