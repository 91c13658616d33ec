import numpy as np
from sklearn.linear_model import LogisticRegression
import pytest

from tart.projection import ContextProjection


def _data(k, D=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(k, D)) @ rng.normal(size=(D, D)) + 5.0


def test_whitened_context_has_unit_variance_and_zero_mean():
    X = _data(200)
    Z = ContextProjection(16).fit_transform(X)
    assert Z.shape == (200, 16) and Z.dtype == np.float32
    np.testing.assert_allclose(Z.mean(0), 0, atol=1e-5)
    np.testing.assert_allclose(Z.var(0), 1, atol=1e-4)
    np.testing.assert_allclose(np.cov(Z.T, bias=True), np.eye(16), atol=1e-4)  # decorrelated


def test_matches_sklearn_pca_whitening_up_to_sign():
    from sklearn.decomposition import PCA

    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = _data(100)
    Z = ContextProjection(8, standardize=False).fit(X[:60]).transform(X[60:])
    ref = PCA(8, whiten=True).fit(X[:60]).transform(X[60:]) * np.sqrt(60 / 59)  # PCA divides by n-1
    np.testing.assert_allclose(np.abs(Z), np.abs(ref), rtol=1e-4, atol=1e-4)
    Z = ContextProjection(8, standardize=True).fit(X[:60]).transform(X[60:])  # PCA of the correlations
    ref = make_pipeline(StandardScaler(), PCA(8, whiten=True)).fit(X[:60]).transform(X[60:])
    np.testing.assert_allclose(np.abs(Z), np.abs(ref * np.sqrt(60 / 59)), rtol=1e-4, atol=1e-4)


def test_standardize_auto_scales_only_features_with_massive_variance_outliers():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 40))
    assert ContextProjection(16).fit(X).standardized_ is False  # isotropic: left alone
    X[:, 3] *= 10.0  # variance 100x the median: a "massive activation" dim
    assert ContextProjection(16).fit(X).standardized_ is True
    assert ContextProjection(16, standardize=False).fit(X).standardized_ is False
    assert ContextProjection(16, standardize=True).fit(rng.normal(size=(64, 40))).standardized_ is True
    with pytest.raises(ValueError, match="standardize"):
        ContextProjection(16, standardize="yes")


def test_standardize_keeps_a_huge_variance_feature_from_taking_the_components():
    rng = np.random.default_rng(0)
    y = np.arange(200) % 2
    X = rng.normal(size=(200, 30))
    X[:, :6] += 1.0 * (2 * y - 1)[:, None]  # the class signal, shared by 6 dims (correlated)
    X[:, 6:8] *= 1000.0  # "massive activation" dims: pure noise, huge scale
    for standardize, lo, hi in ((False, 0.0, 0.65), (True, 0.8, 1.0)):
        p = ContextProjection(16, n_components=2, standardize=standardize).fit(X[:100], y[:100])
        Z = p.transform(X[100:])
        acc = LogisticRegression().fit(p.transform(X[:100]), y[:100]).score(Z, y[100:])
        assert lo <= acc <= hi, (standardize, acc)


def test_queries_use_the_context_statistics_only():
    X = _data(120)
    p = ContextProjection(16).fit(X[:50])
    a = p.transform(X[50:])
    b = p.transform(X[50:60])  # other queries do not change a query's features
    np.testing.assert_array_equal(a[:10], b)


@pytest.mark.parametrize("k", [1, 2, 5, 16, 17])
def test_small_contexts_give_finite_zero_padded_features(k):
    X = _data(k + 30)
    p = ContextProjection(16).fit(X[:k])
    Z = p.transform(X)
    assert np.isfinite(Z).all()
    r = min(k - 1, 16)
    assert p.n_kept_ == r
    assert (Z[:, r:] == 0).all()  # unused dims are zero, as inactive dims were in training
    if r:
        np.testing.assert_allclose(Z[:k, :r].var(0), 1, atol=1e-4)


def test_constant_and_duplicated_features_are_dropped_not_blown_up():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(50, 3))
    X = np.concatenate([base, base, np.ones((50, 4))], axis=1)  # rank 3
    p = ContextProjection(16).fit(X)
    assert p.n_kept_ == 3
    Z = p.transform(X)
    assert np.isfinite(Z).all() and np.abs(Z).max() < 10
    assert (ContextProjection(16).fit_transform(np.ones((10, 5))) == 0).all()
    y = np.arange(50) % 2
    for standardize in (True, False):  # with labels (balanced centre), and a query off the constant
        p = ContextProjection(16, standardize=standardize).fit(X, y)
        Q = X.copy()
        Q[:, -1] = 1e6
        assert p.n_kept_ == 3 and np.isfinite(p.transform(Q)).all()
        if standardize:  # a feature constant over the context carries nothing, whatever the query
            np.testing.assert_array_equal(p.transform(Q), p.transform(X))


def test_tile_fill_repeats_components():
    X = _data(64)
    Z = ContextProjection(16, n_components=8, fill="tile").fit_transform(X)
    np.testing.assert_array_equal(Z[:, :8], Z[:, 8:])


def test_bad_input_is_named():
    p = ContextProjection(16)
    with pytest.raises(ValueError, match="NaN or inf"):
        p.fit(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="empty"):
        p.fit(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="2-D"):
        p.fit(np.zeros(4))
    p.fit(_data(20, D=5))
    with pytest.raises(ValueError, match="5"):
        p.transform(np.zeros((3, 4)))
    with pytest.raises(RuntimeError, match="not fitted"):
        ContextProjection().transform(np.zeros((1, 4)))
    with pytest.raises(ValueError, match="fill"):
        ContextProjection(fill="bogus")
    with pytest.raises(ValueError, match="n_components"):
        ContextProjection(16, n_components=17)



def test_without_validation_the_same_on_valid_inputs():
    X, y = _data(30, D=12), np.arange(30) % 2
    p, q = ContextProjection(16, basis="class-mean").fit(X, y), ContextProjection(16, basis="class-mean")
    np.testing.assert_array_equal(q.fit(X, y, validate=False).transform(X[:7], validate=False), p.transform(X[:7]))


def test_class_mean_basis_finds_a_low_variance_separating_direction():
    """10 noise dims of variance 9 outrank the separating dim: 4 PCA components miss it.

    standardize=False: per-feature scaling would undo this construction (the dims are uncorrelated).
    """
    rng = np.random.default_rng(0)
    y = np.arange(600) % 2
    X = np.c_[rng.normal(0, 3, (600, 10)), (y - 0.5) * 2.0 + rng.normal(0, 0.3, 600)]
    ctx, qry = slice(0, 400), slice(400, 600)
    acc = {}
    for basis in ("pca", "class-mean"):
        p = ContextProjection(16, n_components=4, basis=basis, standardize=False).fit(X[ctx], y[ctx])
        Zc, Zq = p.transform(X[ctx]), p.transform(X[qry])
        acc[basis] = LogisticRegression().fit(Zc, y[ctx]).score(Zq, y[qry])
        # whitened: unit variance, uncorrelated over the context on the kept dims
        np.testing.assert_allclose(np.cov(Zc[:, :4].T, bias=True), np.eye(4), atol=1e-4)
    assert acc["pca"] < 0.6 and acc["class-mean"] > 0.7, acc


def test_class_mean_basis_small_contexts_and_errors():
    rng = np.random.default_rng(1)
    for k in (2, 3, 5):
        X, y = rng.normal(size=(k, 30)), np.arange(k) % 2
        Z = ContextProjection(16, basis="class-mean").fit_transform(X, y)
        assert Z.shape == (k, 16) and np.isfinite(Z).all()
        assert ContextProjection(16, basis="class-mean").fit(X, y).n_kept_ <= k - 1
    X = rng.normal(size=(10, 5))
    with pytest.raises(ValueError, match="labels"):
        ContextProjection(16, basis="class-mean").fit(X)
    with pytest.raises(ValueError, match="2 classes"):
        ContextProjection(16, basis="class-mean").fit(X, np.zeros(10))
    with pytest.raises(ValueError, match="basis"):
        ContextProjection(16, basis="lda")
    # identical class means: falls back to plain PCA directions, still finite
    Xs = np.r_[X, X]
    Z = ContextProjection(16, basis="class-mean").fit_transform(Xs, np.r_[np.zeros(10), np.ones(10)])
    assert np.isfinite(Z).all()


def test_balanced_center_is_the_class_midpoint():
    rng = np.random.default_rng(5)
    X = np.r_[rng.normal(size=(30, 20)) + 3.0, rng.normal(size=(6, 20)) - 3.0]  # 30 vs 6
    y = np.r_[np.zeros(30), np.ones(6)]
    mid = 0.5 * (X[:30].mean(0) + X[30:].mean(0))
    p = ContextProjection(16).fit(X, y)
    np.testing.assert_allclose(p.transform(mid[None]), 0, atol=1e-5)  # the midpoint maps to the origin
    # the two class means land symmetrically about the origin, as in the module's training tasks
    np.testing.assert_allclose(p.transform(X[:30].mean(0)[None]), -p.transform(X[30:].mean(0)[None]), atol=1e-5)
    q = ContextProjection(16, center="mean").fit(X, y)
    np.testing.assert_allclose(q.transform(X.mean(0)[None]), 0, atol=1e-5)
    # same components and scales either way; balanced contexts and unlabelled fits use the mean
    np.testing.assert_allclose(p.components_RD, q.components_RD)
    bal = np.r_[np.arange(6), np.arange(30, 36)]
    np.testing.assert_allclose(ContextProjection(16).fit(X[bal], y[bal]).mean_D, X[bal].mean(0))
    np.testing.assert_allclose(ContextProjection(16).fit(X).mean_D, X.mean(0))
    np.testing.assert_allclose(ContextProjection(16).fit(X, np.zeros(36)).mean_D, X.mean(0))
    with pytest.raises(ValueError, match="center must be one of"):
        ContextProjection(16, center="median")
    with pytest.raises(ValueError, match="labels"):
        ContextProjection(16).fit(X, y[:10])
