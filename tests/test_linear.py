"""tart-2's linear member (`tart.linear`) and its place in the classifier (stack=)."""

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.linear_model import LogisticRegression

from conftest import tiny_set_reasoner
from tart import TartClassifier
from tart.linear import LinearMember, fit_logistic, mixture_weight


@pytest.fixture(scope="module")
def tiny():
    return tiny_set_reasoner()


def _linear_task(n, D, L, seed=0, noise=1.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D)) * rng.uniform(0.1, 10.0, size=D) + rng.normal(size=D)
    y = (X / X.std(0) @ rng.normal(size=(D, L)) + noise * rng.gumbel(size=(n, L))).argmax(1)
    return X, y


@pytest.mark.parametrize("K, D, L", [(120, 6, 2), (90, 5, 3), (30, 200, 2), (40, 150, 4)])
def test_fit_logistic_is_the_penalised_regression_on_standardised_features(K, D, L):
    """Same fit as scikit-learn on the standardised features, C = min(1, 64 / D); with more
    features than rows it is solved in the rows' span and still is the same fit."""
    X, y = _linear_task(K + 50, D, L)
    W_LD, b_L = fit_logistic(X[:K], y[:K], L)
    mu, sd = X[:K].mean(0), X[:K].std(0)
    ref = LogisticRegression(C=min(1.0, 64.0 / D), max_iter=5000, tol=1e-10).fit((X[:K] - mu) / sd, y[:K])
    expected = ref.predict_proba((X[K:] - mu) / sd)
    np.testing.assert_allclose(softmax(X[K:] @ W_LD.T + b_L, axis=1), expected, atol=2e-3)


def test_fit_logistic_does_not_depend_on_the_rows_order():
    X, y = _linear_task(80, 120, 3)
    perm = np.random.default_rng(1).permutation(80)
    W_LD, b_L = fit_logistic(X, y, 3)
    W2_LD, b2_L = fit_logistic(X[perm], y[perm], 3)
    assert np.array_equal(W_LD, W2_LD) and np.array_equal(b_L, b2_L)


def test_fit_logistic_keeps_constant_features_harmless():
    X, y = _linear_task(60, 4, 2)
    X = np.hstack([X, np.full((60, 1), 7.0)])
    W_LD, b_L = fit_logistic(X, y, 2)
    assert np.all(np.isfinite(W_LD)) and np.all(np.isfinite(b_L)) and np.allclose(W_LD[:, -1], 0.0)


def test_mixture_weight_maximises_the_held_out_likelihood():
    rng = np.random.default_rng(0)
    p_module, p_linear = rng.uniform(0.2, 0.9, 300), rng.uniform(0.2, 0.9, 300)
    grid = np.linspace(0, 1, 2001)
    for alpha in (0.0, 4.0):
        objective = [np.log((1 - w) * p_module + w * p_linear).sum() + alpha * np.log(max(1 - w, 1e-300))
                     for w in grid]
        assert mixture_weight(p_module, p_linear, alpha) == pytest.approx(grid[int(np.argmax(objective))], abs=2e-3)
    # a member far better on every held-out label takes the weight, pseudo-examples hold it back
    assert mixture_weight(np.full(50, 0.3), np.full(50, 0.9), 0.0) > 0.99
    assert mixture_weight(np.full(50, 0.3), np.full(50, 0.9), 1e6) < 0.01


def test_the_classifier_mixes_the_module_and_the_member(tiny):
    """stack=None is the module alone; the default mixes it with `linear_` by `linear_.weight`;
    renaming the classes still swaps the columns exactly."""
    X, y = _linear_task(260, 6, 2, noise=0.3)
    alone = TartClassifier(reasoner=tiny, stack=None).fit(X[:200], y[:200])
    assert alone.linear_ is None
    clf = TartClassifier(reasoner=tiny).fit(X[:200], y[:200])
    member = clf.linear_
    assert isinstance(member, LinearMember) and 0.01 <= member.weight <= 1.0
    assert clf.temperature_ == alone.temperature_
    expected = (1 - member.weight) * alone.predict_proba(X[200:]) + member.weight * member.proba(X[200:])
    np.testing.assert_allclose(clf.predict_proba(X[200:]), expected, atol=1e-12)
    swapped = TartClassifier(reasoner=tiny).fit(X[:200], 1 - y[:200]).predict_proba(X[200:])
    np.testing.assert_allclose(swapped, clf.predict_proba(X[200:])[:, ::-1], atol=1e-6)
    # more pseudo-examples on the module: less weight on the member
    assert TartClassifier(reasoner=tiny, stack=400.0).fit(X[:200], y[:200]).linear_ is None


def test_the_member_follows_the_class_prior(tiny):
    X, y = _linear_task(400, 4, 2, noise=0.3)
    idx = np.r_[np.flatnonzero(y == 0)[:120], np.flatnonzero(y == 1)[:40]]
    assert len(idx) == 160
    clf = TartClassifier(reasoner=tiny, class_prior="uniform", stack=0.0).fit(X[idx], y[idx])
    assert clf.linear_ is not None
    np.testing.assert_allclose(clf.linear_.prior_L, [162 / 121, 162 / 41])  # uniform / smoothed frequency
    raw = softmax(X[:10] @ clf.linear_.W_LD.T + clf.linear_.b_L, axis=1)
    odds = (clf.linear_.proba(X[:10])[:, 1] / clf.linear_.proba(X[:10])[:, 0]) / (raw[:, 1] / raw[:, 0])
    np.testing.assert_allclose(odds, 121 / 41)


@pytest.mark.parametrize("value", [-1.0, "big", True, float("inf")])
def test_bad_stack_values_are_refused(tiny, value):
    X, y = _linear_task(40, 4, 2)
    with pytest.raises(ValueError, match="stack"):
        TartClassifier(reasoner=tiny, stack=value).fit(X, y)


def test_the_faithful_module_has_no_linear_member():
    X, y = _linear_task(40, 4, 2)
    clf = TartClassifier(reasoner="tart", n_estimators=1).fit(X, y)
    assert getattr(clf, "linear_", None) is None
    with pytest.raises(ValueError, match="linear member is tart-2's"):
        TartClassifier(reasoner="tart", stack=4.0).fit(X, y)


def test_the_eval_grid_runs_the_default_and_the_module_alone(tiny):
    """`tart eval`'s tart2 is the default classifier (its member mixed in); tart2-alone is stack=None."""
    from types import SimpleNamespace

    from tart.eval.methods import METHODS, Context, Test

    X, y = _linear_task(260, 6, 2, noise=0.3)
    setup = SimpleNamespace(reasoner2=tiny, reasoner=None)
    ctx, test = Context(list(range(200)), X[:200], y[:200], 0, setup), Test(list(range(60)), X[200:])
    for name, stack in (("tart2", "auto"), ("tart2-alone", None)):
        expected = TartClassifier(reasoner=tiny, stack=stack).fit(X[:200], y[:200]).predict_proba(X[200:])
        np.testing.assert_allclose(METHODS[name].fn(ctx, test), expected, atol=1e-12)
