"""Multi-class TartClassifier (tart.strategy, tart.plan): the faithful module by one-vs-rest or pairwise
coupling, tart-2 beyond its class count by class groups; labels, probabilities, bad input."""

import numpy as np
import pytest
import torch

from tart import TartClassifier
from tart.plan import couple_groups, couple_pairwise
from tart.strategy import set_groups
from tart.reasoner import Reasoner, tart_preset
from tart.set_reasoner import SetReasoner, SetReasonerConfig


def _blobs(n_per, L, D=12, seed=0, spread=3.0):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(L, D)) * spread
    y = np.repeat(np.arange(L), n_per)
    return means[y] + rng.normal(size=(len(y), D)), y, means


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    return Reasoner(tart_preset("tiny")).eval()


@pytest.fixture(scope="module")
def tiny2():
    torch.manual_seed(0)
    return SetReasoner(SetReasonerConfig(n_dims=8, n_classes=4, n_embd=32, n_layer=2, n_head=4)).eval()


@pytest.mark.parametrize("multiclass", ["ovr", "ovo"])
@pytest.mark.slow
def test_string_labels_sorted_classes_and_probabilities_with_the_shipped_module(multiclass):
    X, y, means = _blobs(6, 4)
    names = np.array(["zebra", "apple", "mango", "kiwi"])
    clf = TartClassifier(multiclass=multiclass, n_estimators=4).fit(X, names[y])
    assert list(clf.classes_) == ["apple", "kiwi", "mango", "zebra"]
    rng = np.random.default_rng(1)
    yq = np.repeat(np.arange(4), 5)
    Q = means[yq] + rng.normal(size=(len(yq), X.shape[1]))
    proba = clf.predict_proba(Q)
    assert proba.shape == (20, 4) and np.all(proba >= 0)
    np.testing.assert_allclose(proba.sum(1), 1.0, atol=1e-9)
    pred = clf.predict(Q)
    np.testing.assert_array_equal(pred, clf.classes_[proba.argmax(1)])
    assert (pred == names[yq]).mean() >= 0.8  # well-separated blobs
    assert clf.decision_function(Q).shape == (20, 4)
    # the same context relabelled in the same sorted order: the same probabilities
    order = np.argsort(names)  # apple=1, kiwi=3, mango=2, zebra=0
    rank = np.argsort(order)
    other = TartClassifier(multiclass=multiclass, n_estimators=4).fit(X, rank[y] * 10 + 5)
    np.testing.assert_allclose(other.predict_proba(Q), proba, atol=1e-9)
    assert list(other.classes_) == [5, 15, 25, 35]


@pytest.mark.parametrize("labels", [[30, -1, 2], [1.0, 2.0, -1.0], ["a", "b", "c"], [True, False, True]])
def test_any_hashable_labels(tiny, labels):
    X, y, _ = _blobs(4, 3)
    lab = [labels[i] for i in y]
    clf = TartClassifier(reasoner=tiny).fit(X, lab)
    assert list(clf.classes_) == sorted(set(labels))
    p = clf.predict_proba(X)
    assert p.shape == (len(X), len(set(labels)))
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    assert set(clf.predict(X).tolist()) <= set(labels)


@pytest.mark.parametrize("multiclass", ["ovr", "ovo"])
def test_single_example_classes(tiny, multiclass):
    X, y, _ = _blobs(3, 5)
    keep = np.r_[0, 3:len(y)]  # class 0 keeps one example
    X1, y1 = X[keep], y[keep]
    y1 = y1.copy()
    X1 = np.vstack([X1, X[:0]])
    clf = TartClassifier(reasoner=tiny, multiclass=multiclass).fit(X1, y1)
    p = clf.predict_proba(X)
    assert p.shape == (len(X), 5)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    # every class a single example
    clf = TartClassifier(reasoner=tiny, multiclass=multiclass).fit(X[::3], y[::3])
    np.testing.assert_allclose(clf.predict_proba(X).sum(1), 1.0, atol=1e-9)


def test_subsets_keep_every_class_with_thousands_of_points(tiny):
    """k = 3000 over 30 classes, max_context 40: every sub-task the module reads (its plan's
    reads) holds its class and others."""
    X, y, _ = _blobs(100, 30, D=8)
    clf = TartClassifier(reasoner=tiny, max_context=40, n_estimators=2, temperature=1.0).fit(X, y)
    p = clf.predict_proba(X[:50])
    assert p.shape == (50, 30) and clf.plan_.rule == "ovr"
    seen = [(len(r.rows), int(r.labels.sum()), int(len(r.labels) - r.labels.sum())) for r in clf.plan_.reads]
    assert len(seen) == 30 and all(k <= 40 and pos >= 1 and neg >= 1 for k, pos, neg in seen)
    assert all(set(y[r.rows][r.labels == 1]) == {c} for c, r in enumerate(clf.plan_.reads))


def test_tart2_beyond_its_class_count_by_groups(tiny2):
    X, y, means = _blobs(5, 11, D=8, spread=4.0)
    clf = TartClassifier(reasoner=tiny2, n_estimators=4).fit(X, y)
    p = clf.predict_proba(X)
    assert p.shape == (len(X), 11)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    clf = TartClassifier(reasoner=tiny2, n_estimators=2, max_context=12).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(X[:5]).sum(1), 1.0, atol=1e-9)


@pytest.mark.parametrize("multiclass", ["coupled", "groups"])
def test_tart2_decompositions_labels_probabilities_and_single_examples(tiny2, multiclass):
    X, y, means = _blobs(3, 7, D=8, spread=4.0)  # 7 classes: beyond tiny2's 4
    names = np.array(["g", "e", "a", "f", "c", "b", "d"])
    clf = TartClassifier(reasoner=tiny2, multiclass=multiclass, n_estimators=4).fit(X, names[y])
    assert list(clf.classes_) == list("abcdefg")
    p = clf.predict_proba(means)
    assert p.shape == (7, 7) and np.all(p >= 0)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    np.testing.assert_array_equal(clf.predict(means), clf.classes_[p.argmax(1)])
    keep = np.r_[0, 3:len(y)]  # class 0 keeps one example; one member (n_estimators=1)
    for n_est in (1, 8):
        q = TartClassifier(reasoner=tiny2, multiclass=multiclass, n_estimators=n_est).fit(X[keep], y[keep])
        np.testing.assert_allclose(q.predict_proba(X).sum(1), 1.0, atol=1e-9)
    every = TartClassifier(reasoner=tiny2, multiclass=multiclass).fit(X[::3], y[::3])  # one example each
    np.testing.assert_allclose(every.predict_proba(X).sum(1), 1.0, atol=1e-9)


def test_tart2_auto_is_coupled_and_names_are_checked_per_module(tiny, tiny2):
    X, y, _ = _blobs(3, 6, D=8)
    auto = TartClassifier(reasoner=tiny2).fit(X, y).predict_proba(X)
    coupled = TartClassifier(reasoner=tiny2, multiclass="coupled").fit(X, y).predict_proba(X)
    np.testing.assert_array_equal(auto, coupled)
    with pytest.raises(ValueError, match="multiclass must be one of .* for tart-2"):
        TartClassifier(reasoner=tiny2, multiclass="ovr").fit(X, y)
    with pytest.raises(ValueError, match="multiclass must be one of"):
        TartClassifier(reasoner=tiny, multiclass="coupled").fit(X, y)


@pytest.mark.parametrize("L, size", [(11, 3), (26, 9), (5, 4)])
def test_linked_groups_are_small_and_one_member_connects_every_class(L, size):
    groups = list(set_groups(L, size, 1, np.random.default_rng(0), linked=True))
    assert len(groups) == -(-L // size) and all(len(g) <= size + 1 for g in groups)
    assert sorted(set(np.concatenate(groups).tolist())) == list(range(L))
    reached = set(groups[0].tolist())
    for _ in groups:  # classes reachable from group 0 through shared classes
        for g in groups:
            if reached & set(g.tolist()):
                reached |= set(g.tolist())
    assert reached == set(range(L))


def _conditionals(p, groups):
    """Exact R[m, t, c] = p_c / sum_{j in t} p_j and the membership G[t, c]."""
    G = np.zeros((len(groups), p.shape[1]))
    for t, g in enumerate(groups):
        G[t, g] = 1.0
    R = p[:, None, :] * G / (p @ G.T)[..., None]
    return R, G


def test_group_coupling_recovers_a_distribution_from_exact_conditionals():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(12), size=3)
    groups = list(set_groups(12, 4, 2, rng, linked=True))
    R, G = _conditionals(p, groups)
    np.testing.assert_allclose(couple_groups(R, G), p, atol=1e-8)


def test_group_coupling_with_pairs_is_pairwise_coupling():
    """Groups of two: exact conditionals give couple_pairwise's answer (and p); noisy ones satisfy
    the Bradley-Terry likelihood's stationarity condition (Hastie & Tibshirani's pairwise coupling,
    which differs from Wu-Lin-Weng's method 2 when the r_ij are inconsistent)."""
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    pairs = [np.array([i, j]) for i in range(3) for j in range(i + 1, 3)]
    R, G = _conditionals(p, pairs)
    Rp = p[:, :, None] / (p[:, :, None] + p[:, None, :])
    np.testing.assert_allclose(couple_groups(R, G), couple_pairwise(Rp), atol=1e-8)
    np.testing.assert_allclose(couple_groups(R, G), p, atol=1e-8)
    noisy = np.clip(R + np.random.default_rng(1).normal(scale=0.1, size=R.shape) * G, 0.05, None) * G
    noisy /= noisy.sum(2, keepdims=True)
    q = couple_groups(noisy, G)
    np.testing.assert_allclose(q.sum(1), 1.0)
    # d/dp_c of the log-likelihood is zero: sum_{t ∋ c} r_t(c) = p_c sum_{t ∋ c} 1 / sum_{j in t} p_j
    np.testing.assert_allclose(noisy.sum(1), q * ((1.0 / (q @ G.T)) @ G), atol=1e-7)


def test_tart2_shipped_module_with_twelve_classes():
    """The shipped module reads twelve classes in one pass (its label codes), no class groups."""
    X, y, means = _blobs(3, 12, D=16, spread=4.0)
    clf = TartClassifier(reasoner="tart2", n_estimators=2).fit(X, y)
    assert clf.plan_.rule == "mean" and len(clf.plan_.units) == 1
    rng = np.random.default_rng(2)
    yq = np.repeat(np.arange(12), 2)
    Q = means[yq] + rng.normal(size=(len(yq), 16))
    p = clf.predict_proba(Q)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)
    assert (p.argmax(1) == yq).mean() >= 0.7


def test_hundred_classes_of_two_examples_fit_and_predict(tiny):
    """Correctness of the 100-class case (its time is measured by scripts/bench_multiclass.py)."""
    X, y, means = _blobs(2, 100, D=10, spread=4.0)
    clf = TartClassifier(reasoner=tiny).fit(X, y)
    p = clf.predict_proba(means)
    assert p.shape == (100, 100)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-9)


def test_pairwise_coupling_recovers_a_consistent_distribution():
    p = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    R = p[:, :, None] / (p[:, :, None] + p[:, None, :])
    np.testing.assert_allclose(couple_pairwise(R), p, atol=1e-6)


def test_class_prior_for_many_classes(tiny):
    X, y, _ = _blobs(4, 3)
    a = TartClassifier(reasoner=tiny, class_prior="uniform").fit(X, y).predict_proba(X)
    np.testing.assert_allclose(a.sum(1), 1.0)
    with pytest.raises(ValueError, match="two classes"):
        TartClassifier(reasoner=tiny, class_prior=0.3).fit(X, y)


def test_bad_input_is_a_clear_error(tiny):
    X, y, _ = _blobs(4, 3)
    with pytest.raises(ValueError, match="mix of label types"):
        TartClassifier(reasoner=tiny).fit(X, [1, "a", 2] * 4)
    with pytest.raises(ValueError, match="NaN"):
        TartClassifier(reasoner=tiny).fit(X, np.r_[np.nan, y[1:].astype(float)])
    with pytest.raises(ValueError, match="0 sample|empty|minimum of 1"):
        TartClassifier(reasoner=tiny).fit(np.zeros((0, 12)), np.zeros(0))
    with pytest.raises(ValueError, match="1d|1-d|column"):
        TartClassifier(reasoner=tiny).fit(X, np.c_[y, y])
    with pytest.raises(ValueError, match="label_words needs 3 words"):  # a class without a word
        TartClassifier(reasoner=tiny, embedder=_Identity(), label_words=("a", "b")).fit(list(X), y)
    with pytest.raises(ValueError, match="multiclass must be one of"):
        TartClassifier(reasoner=tiny, multiclass="ecoc").fit(X, y)


class _Identity:
    context_dependent = False

    def encode(self, items):
        return np.asarray(items, dtype=np.float64)


def test_a_named_class_without_examples_in_a_dataset_is_an_error():
    from tart.datasets import Dataset

    with pytest.raises(ValueError, match="no training items"):
        Dataset("x", ["a", "b"], [0, 1], ["c"], [0], ("n", "m", "o"), "test")
    with pytest.raises(ValueError, match="integers 0..2"):
        Dataset("x", ["a", "b", "c"], [0, 1, 3], ["c"], [0], ("n", "m", "o"), "test")
    d = Dataset("x", ["a", "b", "c"], [0, 1, 2], ["c"], [2], ("n", "m", "o"), "test")
    assert d.n_classes == 3 and "3 classes" in repr(d)


def test_a_saved_multiclass_classifier_predicts_the_same(tmp_path):
    X, y, _ = _blobs(3, 3, D=5)
    clf = TartClassifier(n_estimators=2).fit(X, np.array(["a", "b", "c"])[y])
    clf.save_pretrained(tmp_path / "m")
    again = TartClassifier.from_pretrained(tmp_path / "m")
    assert again.multiclass == "auto" and list(again.classes_) == ["a", "b", "c"]
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


def test_temperature_chosen_on_the_context(tiny, tmp_path):
    X, y, means = _blobs(6, 4, D=6, spread=2.0)
    plain = TartClassifier(reasoner=tiny, temperature=1.0).fit(X, y)
    clf = TartClassifier(reasoner=tiny, temperature="context").fit(X, y)
    assert 0.25 <= clf.temperature_ <= 8.0 and plain.temperature_ == 1.0
    auto = TartClassifier(reasoner=tiny).fit(X, y)  # the default, "auto": "context" on features
    assert auto.temperature == "auto" and auto.temperature_ == clf.temperature_
    np.testing.assert_array_equal(auto.predict_proba(means), clf.predict_proba(means))
    p, q = plain.predict_proba(means), clf.predict_proba(means)
    np.testing.assert_allclose(q.sum(1), 1.0)
    np.testing.assert_array_equal(p.argmax(1), q.argmax(1))  # a temperature keeps the argmax
    sharp = TartClassifier(reasoner=tiny, temperature=0.5).fit(X, y).predict_proba(means)
    assert (sharp.max(1) >= p.max(1) - 1e-12).all()
    Xb, yb = X[y < 2], y[y < 2]  # two classes: predict is unchanged too
    b = TartClassifier(reasoner=tiny, temperature=3.0).fit(Xb, yb)
    np.testing.assert_array_equal(b.predict(Xb), TartClassifier(reasoner=tiny, temperature=1.0).fit(Xb, yb).predict(Xb))
    for bad in (0, -1.0, "warm", True, float("nan")):
        with pytest.raises(ValueError, match="temperature must be"):
            TartClassifier(reasoner=tiny, temperature=bad).fit(X, y)


@pytest.mark.slow
def test_a_saved_classifier_keeps_its_temperature(tmp_path):
    X, y, _ = _blobs(4, 3, D=5)
    clf = TartClassifier(temperature="context", n_estimators=2).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    again = TartClassifier.from_pretrained(tmp_path / "m")
    assert again.temperature_ == clf.temperature_
    np.testing.assert_array_equal(again.predict_proba(X), clf.predict_proba(X))


@pytest.mark.slow
def test_the_default_module_is_tart2_and_ovr_ovo_keep_the_faithful_one(tmp_path):
    """reasoner=None: tart-2 for any number of classes, the faithful module when `multiclass`
    names one of its decompositions; a saved classifier reloads the module it ran."""
    from tart.reasoner import Reasoner
    from tart.set_reasoner import SetReasoner

    X, y, _ = _blobs(4, 3, D=5)
    three = TartClassifier(n_estimators=2).fit(X, y)
    two = TartClassifier(n_estimators=2).fit(X[y < 2], y[y < 2])
    assert isinstance(three.reasoner_, SetReasoner) and isinstance(two.reasoner_, SetReasoner)
    assert three.reasoner is None and two.reasoner is None  # the parameter is left as given
    forced = TartClassifier(reasoner="tart", n_estimators=2).fit(X, y)
    assert isinstance(forced.reasoner_, Reasoner)
    assert isinstance(TartClassifier(multiclass="ovo", n_estimators=2).fit(X, y).reasoner_, Reasoner)
    three.save_pretrained(tmp_path / "m")
    again = TartClassifier.from_pretrained(tmp_path / "m")
    assert isinstance(again.reasoner_, SetReasoner) and again.reasoner is None
    np.testing.assert_array_equal(again.predict_proba(X), three.predict_proba(X))
