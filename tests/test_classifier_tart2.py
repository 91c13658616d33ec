"""TartClassifier with tart-2 (the set-layout module): map, label symmetry, classes, subsets."""

import numpy as np
import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from conftest import tiny_set_reasoner
from tart import TartClassifier
from tart.projection import SetMap
from tart.set_reasoner import SetReasoner, SetReasonerConfig

FLOAT32_CHECKS = {
    "check_methods_sample_order_invariance": "float32 batched attention: equal to ~1e-6, not 1e-7",
    "check_methods_subset_invariance": "float32 batched attention: equal to ~1e-6, not 1e-7",
}


@parametrize_with_checks([TartClassifier(reasoner="tart2")], expected_failed_checks=lambda est: FLOAT32_CHECKS)
@pytest.mark.slow
def test_sklearn_estimator_checks_multiclass(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def tiny():
    return tiny_set_reasoner()


def _blobs(n, D=6, L=2, seed=0, sep=3.0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % L
    X = rng.normal(size=(n, D))
    X[:, :L] += sep * np.eye(L)[y]
    return X, y


def test_matches_the_map_and_both_label_orders(tiny):
    X, y = _blobs(50)
    clf = TartClassifier(reasoner=tiny, standardize=False, temperature=1.0, stack=None).fit(X[:30], y[:30])
    m = SetMap(8, standardize=False).fit(X[:30], y[:30])
    cx, qx = torch.from_numpy(m.transform(X[:30])), torch.from_numpy(m.transform(X[30:]))
    cy = torch.from_numpy(y[:30])
    p = torch.softmax(tiny.predict(cx, cy, qx).double(), -1).numpy()
    p_swapped = torch.softmax(tiny.predict(cx, 1 - cy, qx).double(), -1).numpy()[:, ::-1]
    np.testing.assert_allclose(clf.predict_proba(X[30:]), (p + p_swapped) / 2, atol=1e-6)


def test_renaming_classes_and_reordering_the_context_change_nothing(tiny):
    X, y = _blobs(60, L=3)
    base = TartClassifier(reasoner=tiny).fit(X[:40], y[:40]).predict_proba(X[40:])
    np.testing.assert_allclose(base.sum(1), 1.0)
    perm = np.random.default_rng(1).permutation(40)
    shuffled = TartClassifier(reasoner=tiny).fit(X[:40][perm], y[:40][perm]).predict_proba(X[40:])
    np.testing.assert_allclose(shuffled, base, atol=1e-5)
    # binary: renaming the classes swaps the columns exactly (both label orders are averaged)
    Xb, yb = _blobs(40)
    a = TartClassifier(reasoner=tiny).fit(Xb[:24], yb[:24]).predict_proba(Xb[24:])
    b = TartClassifier(reasoner=tiny).fit(Xb[:24], 1 - yb[:24]).predict_proba(Xb[24:])
    np.testing.assert_allclose(a, b[:, ::-1], atol=1e-6)


def test_string_labels_multiclass_and_class_limits(tiny):
    X, y = _blobs(80, L=4)
    labels = np.array(["d", "b", "a", "c"])[y]
    clf = TartClassifier(reasoner=tiny).fit(X[:48], labels[:48])
    assert list(clf.classes_) == ["a", "b", "c", "d"]
    proba = clf.predict_proba(X[48:])
    assert proba.shape == (32, 4)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    np.testing.assert_array_equal(clf.predict(X[48:]), clf.classes_[proba.argmax(1)])
    assert clf.decision_function(X[48:]).shape == (32, 4)
    X5, y5 = _blobs(50, L=5)  # beyond the module's 4 classes: class groups (tart.strategy)
    p5 = TartClassifier(reasoner=tiny).fit(X5, y5).predict_proba(X5[:7])
    assert p5.shape == (7, 5)
    np.testing.assert_allclose(p5.sum(1), 1.0)


def test_long_contexts_keep_every_class_in_every_subset(tiny):
    X, y = _blobs(400, L=3)
    y[:2] = 3  # a rare class with two examples
    clf = TartClassifier(reasoner=tiny, max_context=50, n_estimators=2).fit(X, y)
    idx = np.stack([r.rows for r in clf.plan_.reads if clf.plan_.maps[r.map].view == 0])
    assert idx.shape[1] == 50 and len(idx) >= 2 * 8
    assert all(set(y[row]) == {0, 1, 2, 3} and len(set(row)) == 50 for row in idx)
    assert np.isfinite(clf.predict_proba(X[:5])).all()
    with pytest.raises(ValueError, match="cannot hold one example of each"):
        TartClassifier(reasoner=tiny, max_context=3).fit(X, y)  # at fit, before anything runs


def test_class_prior_reweights(tiny):
    X, y = _blobs(80)
    idx = np.r_[np.flatnonzero(y == 0)[:30], np.flatnonzero(y == 1)[:10]]
    ctx = TartClassifier(reasoner=tiny, temperature=1.0, stack=None).fit(X[idx], y[idx]).predict_proba(X[:10])
    uni = TartClassifier(reasoner=tiny, class_prior="uniform", temperature=1.0,
                         stack=None).fit(X[idx], y[idx]).predict_proba(X[:10])
    odds = (uni[:, 1] / uni[:, 0]) / (ctx[:, 1] / ctx[:, 0])
    np.testing.assert_allclose(odds, (31 / 42) / (11 / 42), rtol=1e-6)  # prior / context frequency
    with pytest.raises(ValueError, match="class_prior"):
        TartClassifier(reasoner=tiny, class_prior="data").fit(X[idx], y[idx])


@pytest.mark.slow
def test_shipped_tart2_learns_from_a_few_examples():
    """The shipped module through the classifier, on Gaussian blobs in 30 dims with 2 and 5
    classes (40 examples each): within 3 points of shrinkage LDA (the plug-in rule for these
    tasks) and far above chance, which untrained or mis-loaded weights would not be."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    for L in (2, 5):
        X, y = _blobs(40 * L + 400, D=30, L=L, seed=L, sep=2.0)
        n = 40 * L
        acc = (TartClassifier(reasoner="tart2").fit(X[:n], y[:n]).predict(X[n:]) == y[n:]).mean()
        lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(X[:n], y[:n])
        ref = (lda.predict(X[n:]) == y[n:]).mean()
        assert acc > ref - 0.03 and acc > 1 / L + 0.4, (L, acc, ref)


def test_shipped_tart2_is_nearly_label_symmetric():
    """Trained with permuted class ids, the module itself (one pass, no averaging) gives nearly
    the same probabilities when the two labels are swapped."""
    from tart import load_reasoner

    model = load_reasoner("tart2")
    X, y = _blobs(140, D=30, seed=3, sep=1.0)
    m = SetMap(64).fit(X[:40], y[:40])
    cx, qx = torch.from_numpy(m.transform(X[:40])), torch.from_numpy(m.transform(X[40:]))
    cy = torch.from_numpy(y[:40])
    p = torch.softmax(model.predict(cx, cy, qx), -1)
    p_swapped = torch.softmax(model.predict(cx, 1 - cy, qx), -1).flip(-1)
    assert (p - p_swapped).abs().max() < 0.1
    flipped = p.argmax(-1) != p_swapped.argmax(-1)  # decisions differ only where it is unsure
    assert flipped.float().mean() <= 0.1 and ((p[flipped, 1] - 0.5).abs() < 0.1).all()


@pytest.mark.slow
def test_a_module_reading_both_maps_weighs_the_two_by_the_context(tiny):
    """whiten_map="both": the classifier weighs the module's probabilities through the unwhitened
    and the whitened map by their cross-validated likelihood on the context (binary and native
    multi-class); class groups read the same weighted views."""
    from dataclasses import replace

    def with_map(w):
        m = SetReasoner(replace(tiny.config, whiten_map=w)).eval()
        m.load_state_dict(tiny.state_dict())
        return m

    plain, white, both = with_map(False), with_map(True), with_map("both")
    for L, n in ((2, 40), (3, 45)):
        X, y = _blobs(n + 20, D=12, L=L, seed=L)
        clfs = [TartClassifier(reasoner=m, standardize=False, temperature=1.0, stack=None).fit(X[:n], y[:n])
                for m in (plain, white, both)]
        p = [c.predict_proba(X[n:]) for c in clfs]
        w = clfs[2].view_weights_
        assert clfs[0].view_weights_ is None and w.shape == (2,) and w.sum() == pytest.approx(1.0)
        np.testing.assert_allclose(p[2], w[0] * p[0] + w[1] * p[1], atol=1e-6)
        assert np.abs(p[0] - p[1]).max() > 1e-3  # the two maps do differ
    X, y = _blobs(92, D=12, L=6, seed=6)  # 6 classes > the module's 4: class groups, the same views
    clf = TartClassifier(reasoner=both, standardize=False, temperature=1.0).fit(X[:72], y[:72])
    assert clf.plan_.rule == "coupled" and clf.view_weights_.shape == (2,)
    assert {clf.plan_.maps[r.map].view for r in clf.plan_.reads} == set(np.flatnonzero(clf.view_weights_ >= 0.01))
    with pytest.raises(ValueError, match="whiten_map must be"):
        SetReasonerConfig(whiten_map="sometimes")


@pytest.mark.slow
def test_view_weights_follow_the_views_likelihood_on_the_context(tiny):
    """standardize="auto": two scalings of the map (the rule's and every feature standardised),
    weighted by cross-validation on the context; the weights are what the folds' likelihoods say,
    and views of negligible weight are not run on the queries."""
    from tart.calibration import context_folds

    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(60, 10)) * np.r_[20.0, np.ones(9)], np.arange(60) % 2
    X[:, 1] += 1.5 * y  # the signal in a low-variance feature: standardising helps
    clf = TartClassifier(reasoner=tiny, temperature=1.0).fit(X[:40], y[:40])
    assert [m.view for m in clf.plan_.maps] == [0, 1] and clf.maps_[1].views == [(False, True, "means")]
    fold_of, ll = context_folds(X[:40], y[:40], 4), np.zeros(2)
    for f in range(4):
        keep, held = fold_of != f, fold_of == f
        for v, st in enumerate(("auto", True)):
            sub = TartClassifier(reasoner=tiny, standardize=st, temperature=1.0).fit(X[:40][keep], y[:40][keep])
            ll[v] += np.log(np.clip(sub.predict_proba(X[:40][held])[np.arange(held.sum()), y[:40][held]], 1e-6, None)).sum()
    np.testing.assert_allclose(clf.view_weights_, np.exp(ll - ll.max()) / np.exp(ll - ll.max()).sum(), atol=1e-6)
    only_first = clf.plan_.weighted(np.array([0.995, 0.005]))  # a view under 1% is not run
    assert [m.view for m in only_first.maps] == [0] and all(r.map == 0 for r in only_first.reads)


@pytest.mark.slow
def test_the_synthetic_evaluation_predicts_as_the_classifier(tiny):
    """tart.eval.synthetic_set runs the classifier's own plan (views weighted on the context,
    temperature), batched over tasks: each task's probabilities are the classifier's, and a
    class absent from a context gets 0."""
    from tart.eval.synthetic_set import classifier_proba

    g = torch.Generator().manual_seed(0)
    cx, qx = torch.randn(3, 24, 12, generator=g), torch.randn(3, 5, 12, generator=g)
    cy = torch.arange(24).repeat(3, 1) % 3
    cy[2] = torch.arange(24) % 2  # the third task's context has two of the three classes
    cx[..., 0] += 2.0 * cy
    proba = classifier_proba(tiny, cx, cy, qx, torch.tensor([3, 3, 3]), task_batch=2)
    for b in range(3):
        clf = TartClassifier(reasoner=tiny).fit(cx[b].double().numpy(), cy[b].numpy())
        want = np.zeros((5, 3))
        want[:, clf.classes_] = clf.predict_proba(qx[b].double().numpy())
        np.testing.assert_allclose(proba[b], want, atol=1e-6)
    assert np.all(proba[2][:, 2] == 0)
