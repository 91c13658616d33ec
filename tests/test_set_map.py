"""tart-2's input map: fitted on the context only, class-mean directions first, one scale."""

import numpy as np
import pytest
import torch

from tart.projection import SetMap, apply_set_map, fit_set_map


def _two_classes(k=40, D=30, seed=0, axis=5):
    rng = np.random.default_rng(seed)
    y = np.arange(k) % 2
    X = rng.normal(size=(k, D)) * np.linspace(5, 0.5, D)  # big noise on the early dims
    X[:, axis] += 2.0 * (2 * y - 1)
    return X, y


def test_class_mean_direction_comes_first():
    X, y = _two_classes()
    m = SetMap(8).fit(X, y)
    first = m.params_.basis_BdD[0, 0].numpy()
    means = X[y == 1].mean(0) - X[y == 0].mean(0)
    assert abs(first @ means / np.linalg.norm(means)) > 0.999
    basis = m.params_.basis_BdD[0].numpy()
    np.testing.assert_allclose(basis @ basis.T, np.eye(8), atol=1e-8)  # orthonormal rows


def test_multiclass_between_class_subspace_first():
    rng = np.random.default_rng(1)
    y = np.arange(60) % 4
    X = rng.normal(size=(60, 20)) * 3
    centres = rng.normal(size=(4, 20)) * 4
    X += centres[y]
    basis = SetMap(10).fit(X, y).params_.basis_BdD[0].numpy()
    between = np.stack([X[y == c].mean(0) for c in range(4)])
    between -= between.mean(0)
    # the 3 between-class directions are spanned by the first 3 rows
    resid = between - between @ basis[:3].T @ basis[:3]
    assert np.linalg.norm(resid) < 1e-8 * np.linalg.norm(between)


def test_context_only_unit_scale_and_zero_fill():
    X, y = _two_classes(k=6, D=30)
    m = SetMap(16).fit(X, y)
    Z = m.transform(X)
    assert Z.shape == (6, 16) and Z.dtype == np.float32
    assert m.n_kept_ <= 6 and np.all(Z[:, m.n_kept_:] == 0)
    np.testing.assert_allclose((Z**2).sum() / (6 * m.n_kept_), 1.0, rtol=1e-5)
    # queries never refit the map
    before = m.params_.center_BD.clone()
    m.transform(np.random.default_rng(0).normal(size=(50, 30)) * 100)
    assert torch.equal(before, m.params_.center_BD)


def test_keeps_relative_variance_unlike_whitening():
    X, y = _two_classes(k=200, D=10)
    Z = SetMap(10).fit(X, y).transform(X)
    var = Z[:, 1:].var(0)
    assert var.max() / var.min() > 10  # principal directions keep their decaying variance


def test_label_names_and_row_order_do_not_matter():
    X, y = _two_classes()
    Z = SetMap(8).fit(X, y).transform(X)
    np.testing.assert_allclose(SetMap(8).fit(X, 1 - y).transform(X), Z, atol=1e-9)
    perm = np.random.default_rng(0).permutation(len(y))
    np.testing.assert_allclose(np.abs(SetMap(8).fit(X[perm], y[perm]).transform(X)), np.abs(Z), atol=1e-6)


def test_rotation_of_the_raw_space_does_not_matter():
    X, y = _two_classes(D=12)
    Q = np.linalg.qr(np.random.default_rng(3).normal(size=(12, 12)))[0]
    Z = SetMap(12, standardize=False).fit(X, y).transform(X)
    Zr = SetMap(12, standardize=False).fit(X @ Q, y).transform(X @ Q)
    np.testing.assert_allclose(Zr @ Zr.T, Z @ Z.T, atol=1e-4)  # same geometry, up to signs


def test_auto_standardisation_on_a_dominant_feature():
    X, y = _two_classes(D=30)
    X[:, 0] *= 1000
    params = fit_set_map(torch.from_numpy(X)[None], torch.from_numpy(y)[None], 8)
    assert params.inv_scale_BD[0, 0] < 1e-2  # the huge feature was scaled down
    plain = fit_set_map(torch.from_numpy(X)[None], torch.from_numpy(y)[None], 8, standardize=False)
    assert torch.all(plain.inv_scale_BD == 1)
    const = X.copy()
    const[:, 3] = 7.0
    Z = SetMap(8).fit(const, y).transform(const)
    assert np.isfinite(Z).all()


def test_batched_fit_equals_one_task_at_a_time():
    rng = np.random.default_rng(0)
    X = torch.from_numpy(rng.normal(size=(3, 25, 12)))
    y = torch.from_numpy(rng.integers(0, 3, size=(3, 25)))
    Z = apply_set_map(fit_set_map(X, y, 6), X)
    for b in range(3):
        Zb = apply_set_map(fit_set_map(X[b : b + 1], y[b : b + 1], 6), X[b : b + 1])[0]
        torch.testing.assert_close(Z[b].abs(), Zb.abs())


def test_errors():
    X, y = _two_classes()
    with pytest.raises(RuntimeError, match="not fitted"):
        SetMap(8).transform(X)
    with pytest.raises(ValueError, match="NaN"):
        SetMap(8).fit(np.where(np.eye(40, 30) > 0, np.nan, X), y)
    with pytest.raises(ValueError, match="the context had 30"):
        SetMap(8).fit(X, y).transform(X[:, :5])
    with pytest.raises(ValueError, match="labels"):
        SetMap(8).fit(X, y[:5])
    with pytest.raises(ValueError, match="out_dims"):
        SetMap(0)
    with pytest.raises(ValueError, match="standardize"):
        SetMap(8, standardize="yes")


def test_without_validation_the_same_on_valid_inputs():
    X, y = _two_classes()
    want = SetMap(8).fit(X, y).transform(X[:7])
    np.testing.assert_array_equal(SetMap(8).fit(X, y, validate=False).transform(X[:7], validate=False), want)


# ---- whiten=True (a module trained with whiten_map) ---------------------------------------------
def test_shrunk_within_is_ledoit_wolf():
    from sklearn.covariance import ledoit_wolf_shrinkage

    from tart.projection import shrunk_within

    rng = np.random.default_rng(4)
    for K, D in ((10, 50), (200, 20), (30, 384)):
        W = rng.normal(size=(K, D)) * rng.uniform(0.1, 3, size=D)
        a, mu = shrunk_within(torch.from_numpy(W)[None], torch.ones(1, D, dtype=torch.bool))
        assert float(a[0]) == pytest.approx(ledoit_wolf_shrinkage(W, assume_centered=True), rel=1e-9)
        assert float(mu[0]) == pytest.approx((W**2).sum() / (K * D), rel=1e-12)


def test_whitened_map_equalises_within_class_spread_with_many_examples():
    """Many examples: little shrinkage, so the within-class covariance of the mapped context is
    close to a multiple of the identity; the unwhitened map keeps its spread of variances."""
    X, y = _two_classes(k=2000, D=10)
    for whiten, spread in ((True, 1.5), (False, 10.0)):
        Z = SetMap(10, standardize=False, whiten=whiten).fit(X, y).transform(X).astype(np.float64)
        W = Z - np.stack([Z[y == c].mean(0) for c in (0, 1)])[y]
        ev = np.linalg.eigvalsh(W.T @ W / len(W))
        assert (ev.max() / ev.min() < spread) if whiten else (ev.max() / ev.min() > spread)
    Z = SetMap(10, whiten=True).fit(X, y).transform(X)
    np.testing.assert_allclose((Z**2).sum() / Z.size, 1.0, rtol=1e-5)  # one global scale still


def test_whitened_map_keeps_the_invariances_and_zero_rows():
    X, y = _two_classes(k=12, D=30)
    m = SetMap(16, whiten=True).fit(X, y)
    Z = m.transform(X)
    assert np.isfinite(Z).all() and np.all(Z[:, m.n_kept_:] == 0)
    np.testing.assert_allclose(SetMap(16, whiten=True).fit(X, 1 - y).transform(X), Z, atol=1e-9)
    Q = np.linalg.qr(np.random.default_rng(3).normal(size=(30, 30)))[0]
    Zr = SetMap(16, standardize=False, whiten=True).fit(X @ Q, y).transform(X @ Q)
    Zp = SetMap(16, standardize=False, whiten=True).fit(X, y).transform(X)
    np.testing.assert_allclose(Zr @ Zr.T, Zp @ Zp.T, atol=1e-4)
    rng = np.random.default_rng(0)
    Xb = torch.from_numpy(rng.normal(size=(3, 25, 12)))
    yb = torch.from_numpy(rng.integers(0, 3, size=(3, 25)))
    Zb = apply_set_map(fit_set_map(Xb, yb, 6, whiten=True), Xb)
    for b in range(3):
        one = apply_set_map(fit_set_map(Xb[b : b + 1], yb[b : b + 1], 6, whiten=True), Xb[b : b + 1])[0]
        torch.testing.assert_close((Zb[b] @ Zb[b].T), one @ one.T)


# ---- whiten="both" (a module trained on both maps) ------------------------------------------------
def test_both_views_are_the_two_maps_and_a_mask_picks_per_task():
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(40, 30)) * rng.uniform(0.2, 3, size=30), np.arange(40) % 3
    both = SetMap(12, whiten="both").fit(X, y)
    Z = both.transform_views(X[:9])
    assert Z.shape == (2, 9, 12)
    np.testing.assert_allclose(Z[0], SetMap(12).fit(X, y).transform(X[:9]), atol=1e-6)
    np.testing.assert_allclose(Z[1], SetMap(12, whiten=True).fit(X, y).transform(X[:9]), atol=1e-6)
    with pytest.raises(ValueError, match="2 views"):
        both.transform(X)
    with pytest.raises(ValueError, match="whiten must be"):
        SetMap(8, whiten="yes")
    # a bool mask [B] whitens the tasks it marks, as fitting each alone would
    x, yy = torch.from_numpy(np.stack([X, X[::-1].copy()])), torch.from_numpy(np.stack([y, y[::-1].copy()]))
    mixed = fit_set_map(x, yy, 12, whiten=torch.tensor([True, False]))
    for b, w in enumerate((True, False)):
        alone = fit_set_map(x[b:b + 1], yy[b:b + 1], 12, whiten=w)
        torch.testing.assert_close(mixed.basis_BdD[b], alone.basis_BdD[0])
        torch.testing.assert_close(mixed.scale_B[b], alone.scale_B[0])


# ---- first="logistic" (a module trained with map_first="logistic") --------------------------------
def _correlated_two_classes(k=300, D=12, seed=2):
    """Two classes whose mean difference is not the best direction: the noise is correlated."""
    rng = np.random.default_rng(seed)
    y = np.arange(k) % 2
    mix = rng.normal(size=(D, D)) * np.linspace(2.0, 0.3, D)
    X = rng.normal(size=(k, D)) @ mix
    X[:, 0] += 1.5 * (2 * y - 1)
    return X, y


def _span(rows: np.ndarray) -> np.ndarray:
    return rows.T @ np.linalg.pinv(rows.T)  # the projector onto the rows' span


def test_logistic_first_leads_with_the_context_logistic_regression():
    """The first row is the direction of a ridge logistic regression (C = 1, the map's own
    coordinates at unit RMS) fitted on the context; the span and the kept count are the means-first
    map's, the rows orthonormal."""
    from sklearn.linear_model import LogisticRegression

    X, y = _correlated_two_classes()
    means = SetMap(8, standardize=False).fit(X, y)
    first = SetMap(8, standardize=False, first="logistic").fit(X, y)
    b_means, b_first = means.params_.basis_BdD[0].numpy(), first.params_.basis_BdD[0].numpy()
    np.testing.assert_allclose(b_first @ b_first.T, np.eye(8), atol=1e-8)
    np.testing.assert_allclose(_span(b_first), _span(b_means), atol=1e-8)
    assert first.n_kept_ == means.n_kept_ == 8
    z = (X - means.params_.center_BD[0].numpy()) @ b_means.T
    z /= np.sqrt((z**2).mean())
    w = LogisticRegression(C=1.0, tol=1e-10, max_iter=1000).fit(z, y).coef_[0] @ b_means
    cos = b_first[0] @ w / np.linalg.norm(w)
    assert abs(cos) > 0.9999
    mean_dir = X[y == 1].mean(0) - X[y == 0].mean(0)
    assert abs(b_first[0] @ mean_dir) / np.linalg.norm(mean_dir) < 0.95  # not the means' direction


@pytest.mark.parametrize("first", ["logistic", "logistic-cv", "logistic-1se"])
def test_logistic_first_turns_two_class_contexts_only(first):
    """A batch mixing two- and four-class contexts: the two-class ones lead with their logistic
    direction (as fitted alone), the others keep the class means first, exactly."""
    rng = np.random.default_rng(5)
    X = torch.from_numpy(rng.normal(size=(3, 40, 10)) @ rng.normal(size=(10, 10)))
    y = torch.from_numpy(np.stack([np.arange(40) % 2, np.arange(40) % 4, 2 + np.arange(40) % 2]))
    X[0, :, 0] += 2 * y[0]
    both = fit_set_map(X.clone(), y, 8, first=first)
    means = fit_set_map(X.clone(), y, 8)
    torch.testing.assert_close(both.basis_BdD[1], means.basis_BdD[1])
    for b in (0, 2):
        alone = fit_set_map(X[b : b + 1].clone(), (y[b : b + 1] > y[b].min()).long(), 8, first=first)
        torch.testing.assert_close(both.basis_BdD[b], alone.basis_BdD[0])
        assert (both.basis_BdD[b, 0] @ means.basis_BdD[b, 0]).abs() < 0.9999  # it did turn


@pytest.mark.parametrize("first", ["logistic", "logistic-cv", "logistic-1se", "logistic-ovr"])
def test_logistic_first_keeps_the_invariances_and_stays_finite(first):
    X, y = _correlated_two_classes(k=40, D=30)
    m = SetMap(16, first=first).fit(X, y)
    Z = m.transform(X)
    assert np.isfinite(Z).all() and np.all(Z[:, m.n_kept_:] == 0)
    np.testing.assert_allclose(SetMap(16, first=first).fit(X, 1 - y).transform(X), Z, atol=1e-8)
    perm = np.random.default_rng(0).permutation(len(y))
    np.testing.assert_allclose(np.abs(SetMap(16, first=first).fit(X[perm], y[perm]).transform(X)), np.abs(Z),
                               atol=1e-6)
    Q = np.linalg.qr(np.random.default_rng(3).normal(size=(30, 30)))[0]
    Zr = SetMap(16, standardize=False, first=first).fit(X @ Q, y).transform(X @ Q)
    Zp = SetMap(16, standardize=False, first=first).fit(X, y).transform(X)
    np.testing.assert_allclose(Zr @ Zr.T, Zp @ Zp.T, atol=1e-4)
    # separable, tiny, duplicated and constant contexts: finite maps of the means-first map's rank
    sep = np.repeat(np.eye(2, 5) * 100, 3, axis=0)
    for Xc, yc in ((sep, np.repeat([0, 1], 3)), (X[:2], y[:2]), (np.ones((6, 4)), np.arange(6) % 3),
                   (np.vstack([X[:5], X[:5]]), np.r_[y[:5], y[:5]])):
        for whiten in (False, True):
            f = SetMap(8, whiten=whiten, first=first).fit(Xc, yc)
            assert np.isfinite(f.transform(Xc)).all()
            assert f.n_kept_ == SetMap(8, whiten=whiten).fit(Xc, yc).n_kept_
    with pytest.raises(ValueError, match="first must be"):
        SetMap(8, first="lda")


# ---- first="logistic-cv": the ridge chosen on the context ----------------------------------------
def _exact_loo_log_losses(z, y, ridge):
    """Each point's leave-one-out log-loss of scikit-learn's ridge logistic regression (C = 1 / ridge),
    by refits."""
    from sklearn.linear_model import LogisticRegression

    losses = []
    for i in range(len(y)):
        keep = np.arange(len(y)) != i
        fit = LogisticRegression(C=1.0 / ridge, solver="newton-cholesky", tol=1e-10, max_iter=100).fit(z[keep], y[keep])
        p = fit.predict_proba(z[i : i + 1])[0, 1]
        losses.append(-np.log(p if y[i] == 1 else 1 - p))
    return np.array(losses)


def _exact_loo_log_loss(z, y, ridge):
    return float(_exact_loo_log_losses(z, y, ridge).mean())


def test_loo_log_loss_matches_refits():
    """The one-step leave-one-out log-loss is within 1% of refitting without each point."""
    from tart.logistic_first import _loo_log_losses, _newton

    X, y = _correlated_two_classes(k=40, D=5, seed=4)
    z = (X - X.mean(0)) / X.std()
    xa = torch.from_numpy(np.c_[z, np.ones(len(y))])[None]
    for ridge in (10.0, 1.0):
        pen = torch.full((6,), ridge, dtype=torch.float64)
        pen[-1] = 1e-6 * ridge
        w, failed = _newton(xa, torch.from_numpy(y[None]).double(), pen, torch.zeros(1, 6, 1, dtype=torch.float64), 30)
        approx = float(_loo_log_losses(xa, torch.from_numpy(y[None]).double(), pen, w)[0].mean())
        assert not failed.any() and approx == pytest.approx(_exact_loo_log_loss(z, y, ridge), rel=0.01)


def test_logistic_cv_chooses_the_ridge_on_the_context():
    """Few examples in many dimensions: the strongest ridge wins and the map leads with (all but) the
    class means' direction; many examples with correlated noise: a weak ridge wins and the first row
    is that ridge's logistic regression's direction, the one refits' leave-one-out loss prefers."""
    from sklearn.linear_model import LogisticRegression

    from tart.logistic_first import LOGISTIC_RIDGES

    X, y = _correlated_two_classes(k=12, D=30, seed=1)
    cv = SetMap(8, standardize=False, first="logistic-cv").fit(X, y)
    means = SetMap(8, standardize=False).fit(X, y)
    assert abs(cv.params_.basis_BdD[0, 0] @ means.params_.basis_BdD[0, 0]) > 0.99
    X, y = _correlated_two_classes(k=60, D=6, seed=2)
    cv = SetMap(6, standardize=False, first="logistic-cv").fit(X, y)
    b = SetMap(6, standardize=False).fit(X, y).params_.basis_BdD[0].numpy()
    z = (X - cv.params_.center_BD[0].numpy()) @ b.T
    z /= np.sqrt((z**2).mean())
    best = min(LOGISTIC_RIDGES, key=lambda r: _exact_loo_log_loss(z, y, r))
    assert best < max(LOGISTIC_RIDGES)
    w = LogisticRegression(C=1.0 / best, tol=1e-10, max_iter=1000).fit(z, y).coef_[0] @ b
    assert abs(cv.params_.basis_BdD[0, 0].numpy() @ w) / np.linalg.norm(w) > 0.999


def test_logistic_1se_takes_the_strongest_ridge_within_one_standard_error():
    """"logistic-1se" leads with the direction of scikit-learn's fit at the strongest ridge whose
    refits' leave-one-out loss is within one standard error of the lowest: on this context a
    stronger ridge than the lowest loss's, and a different direction from "logistic-cv"'s."""
    from sklearn.linear_model import LogisticRegression

    from tart.logistic_first import LOGISTIC_RIDGES

    X, y = _correlated_two_classes(k=40, D=6, seed=0)
    b = SetMap(6, standardize=False).fit(X, y).params_.basis_BdD[0].numpy()
    one_se = SetMap(6, standardize=False, first="logistic-1se").fit(X, y)
    z = (X - one_se.params_.center_BD[0].numpy()) @ b.T
    z /= np.sqrt((z**2).mean())
    losses = {r: _exact_loo_log_losses(z, y, r) for r in LOGISTIC_RIDGES}
    best = min(LOGISTIC_RIDGES, key=lambda r: losses[r].mean())
    bar = losses[best].mean() + losses[best].std(ddof=1) / np.sqrt(len(y))
    pick = max(r for r in LOGISTIC_RIDGES if losses[r].mean() <= bar)
    assert pick > best
    w = LogisticRegression(C=1.0 / pick, tol=1e-10, max_iter=1000).fit(z, y).coef_[0] @ b
    assert abs(one_se.params_.basis_BdD[0, 0].numpy() @ w) / np.linalg.norm(w) > 0.999
    cv = SetMap(6, standardize=False, first="logistic-cv").fit(X, y)
    assert abs(cv.params_.basis_BdD[0, 0] @ one_se.params_.basis_BdD[0, 0]) < 0.999


# ---- first="logistic-ovr": one-vs-rest fits lead a context of 3 to OVR_MAX_CLASSES classes ---------
def _correlated_classes(k, D, n_classes, seed):
    rng = np.random.default_rng(seed)
    y = np.arange(k) % n_classes
    X = rng.normal(size=(k, D)) @ (rng.normal(size=(D, D)) * np.linspace(2.0, 0.3, D))
    X[:, :n_classes] += 2.0 * np.eye(n_classes)[y]
    return X, y


def test_logistic_ovr_leads_with_the_one_vs_rest_weights_span():
    """Many examples: the first C - 1 rows span the class-centred weights of scikit-learn's
    one-vs-rest fits, each at the strongest ridge within one standard error of its refits' lowest
    leave-one-out loss; two-class contexts get "logistic-1se"'s map, contexts of more than
    OVR_MAX_CLASSES classes the means-first one."""
    from sklearn.linear_model import LogisticRegression

    from tart.logistic_first import LOGISTIC_RIDGES, OVR_MAX_CLASSES

    X, y = _correlated_classes(k=45, D=6, n_classes=3, seed=5)  # the classes pick ridges 1, 1000 and 0.1
    ovr = SetMap(6, standardize=False, first="logistic-ovr").fit(X, y)
    b = SetMap(6, standardize=False).fit(X, y).params_.basis_BdD[0].numpy()
    z = (X - ovr.params_.center_BD[0].numpy()) @ b.T
    z /= np.sqrt((z**2).mean())
    weights = []
    for c in range(3):
        yc = (y == c).astype(int)
        losses = {r: _exact_loo_log_losses(z, yc, r) for r in LOGISTIC_RIDGES}
        best = min(LOGISTIC_RIDGES, key=lambda r: losses[r].mean())
        pick = max(r for r in LOGISTIC_RIDGES
                   if losses[r].mean() <= losses[best].mean() + losses[best].std(ddof=1) / np.sqrt(len(y)))
        weights.append(LogisticRegression(C=1.0 / pick, tol=1e-10, max_iter=1000).fit(z, yc).coef_[0] @ b)
    weights = np.array(weights) - np.mean(weights, 0)
    lead = ovr.params_.basis_BdD[0, :2].numpy()
    np.testing.assert_allclose(_span(lead), _span(weights), atol=1e-4)
    means = SetMap(6, standardize=False).fit(X, y).params_.basis_BdD[0, :2].numpy()
    assert np.abs(_span(lead) - _span(means)).max() > 0.05  # not the means' span
    X2, y2 = _correlated_two_classes(k=40, D=6, seed=0)
    np.testing.assert_array_equal(SetMap(6, first="logistic-ovr").fit(X2, y2).transform(X2),
                                  SetMap(6, first="logistic-1se").fit(X2, y2).transform(X2))
    Xm, ym = _correlated_classes(k=60, D=20, n_classes=OVR_MAX_CLASSES + 1, seed=1)
    np.testing.assert_array_equal(SetMap(16, first="logistic-ovr").fit(Xm, ym).transform(Xm),
                                  SetMap(16).fit(Xm, ym).transform(Xm))


def test_logistic_ovr_few_examples_keep_the_class_means_span():
    """Two examples per class in 30 dimensions: the strongest ridge for every class, whose weights
    are (all but) the class means' directions, so the leading rows span the class means."""
    X, y = _correlated_classes(k=10, D=30, n_classes=5, seed=2)
    lead = SetMap(8, standardize=False, first="logistic-ovr").fit(X, y).params_.basis_BdD[0, :4].numpy()
    means = SetMap(8, standardize=False).fit(X, y).params_.basis_BdD[0, :4].numpy()
    np.testing.assert_allclose(_span(lead), _span(means), atol=0.02)


def test_logistic_ovr_does_not_depend_on_class_names_or_order():
    X, y = _correlated_classes(k=48, D=12, n_classes=4, seed=3)
    Z = SetMap(8, first="logistic-ovr").fit(X, y).transform(X)
    renamed = np.array([7, 2, 5, 0])[y]
    np.testing.assert_allclose(SetMap(8, first="logistic-ovr").fit(X, renamed).transform(X), Z, atol=1e-8)
    perm = np.random.default_rng(1).permutation(len(y))
    np.testing.assert_allclose(np.abs(SetMap(8, first="logistic-ovr").fit(X[perm], y[perm]).transform(X)),
                               np.abs(Z), atol=1e-6)


def test_valid_first_moves_the_valid_rows_ahead_in_their_order():
    from tart.basis import valid_first

    rows = torch.arange(2 * 5 * 3, dtype=torch.float32).view(2, 5, 3)
    ok = torch.tensor([[False, True, False, True, True], [True, True, True, True, True]])
    kept, flags = valid_first(rows, ok, 4)
    assert torch.equal(kept[0], rows[0, [1, 3, 4, 0]]) and flags[0].tolist() == [True, True, True, False]
    assert torch.equal(kept[1], rows[1, :4]) and flags[1].all()


# ---- map_first="both": a module trained on two maps reads each context through both ----------------
def test_map_first_both_views_are_each_first_and_a_mask_turns_per_task():
    """set_views over both leading rows: the means' views, then the one-vs-rest fits' views, each
    map exactly the single-first map; `turned` [B] turns the tasks it marks, as fitting each alone."""
    from tart.projection import BOTH_FIRSTS, map_firsts, set_views

    assert map_firsts("both") == BOTH_FIRSTS == ("means", "logistic-ovr") and map_firsts("means") == ("means",)
    views = set_views("both", "auto", both_scalings=True, first="both")
    assert len(views) == 8 and [v[2] for v in views] == ["means"] * 4 + ["logistic-ovr"] * 4
    X, y = _correlated_two_classes()
    Z = SetMap(8, views=views).fit(X, y).transform_views(X[:5])
    for v, (w, s, f) in enumerate(views):
        np.testing.assert_allclose(Z[v], SetMap(8, s, w, first=f).fit(X, y).transform(X[:5]), atol=1e-6)
    assert not np.allclose(np.abs(Z[0]), np.abs(Z[4]), atol=1e-3)  # the two leading rows differ here
    fitted = SetMap(8, views=views).fit_many([(X, y, 0), (X, y, 4)])
    np.testing.assert_allclose(fitted[1].transform(X[:5]), Z[4], atol=1e-6)
    with pytest.raises(ValueError, match="map_first must be one of"):
        map_firsts("neither")
    x, yy = torch.from_numpy(np.stack([X, X[::-1].copy()])), torch.from_numpy(np.stack([y, y[::-1].copy()]))
    mixed = fit_set_map(x.clone(), yy, 8, first="logistic-ovr", turned=torch.tensor([False, True]))
    for b, f in enumerate(("means", "logistic-ovr")):
        torch.testing.assert_close(mixed.basis_BdD[b], fit_set_map(x[b:b + 1].clone(), yy[b:b + 1], 8, first=f).basis_BdD[0])


def test_map_first_both_trains_on_both_maps_and_the_classifier_weighs_them(tmp_path):
    """A module with map_first="both": its training batches lead about half the tasks with each
    map's first rows, and the classifier reads a context through the 8 views and weighs them."""
    from tart import TartClassifier
    from tart.priors_tart2 import MixturePrior, SetCurriculum, sample_set_batch
    from tart.set_reasoner import SetReasoner, SetReasonerConfig

    with pytest.raises(ValueError, match="map_first must be one of"):
        SetReasonerConfig(n_dims=8, n_embd=16, n_layer=1, n_head=2, map_first="neither")
    cfg = dict(n_dims=8, n_classes=4, n_embd=16, n_layer=1, n_head=2, whiten_map="both", map_first="both")
    g = torch.Generator().manual_seed(0)
    batch = sample_set_batch(MixturePrior(max_classes=2), SetCurriculum(), 8, 64, g, shape=(64, 24, 12),
                             components=("logistic",), first="both")
    g = torch.Generator().manual_seed(0)
    means = sample_set_batch(MixturePrior(max_classes=2), SetCurriculum(), 8, 64, g, shape=(64, 24, 12),
                             components=("logistic",), first="means")
    same_B = (batch.cx_BKd - means.cx_BKd).abs().amax((1, 2)) < 1e-6
    assert 16 <= int(same_B.sum()) <= 48  # about half the tasks kept the means first, the rest turned
    module = SetReasoner(SetReasonerConfig(**cfg)).eval()
    module.save_pretrained(tmp_path / "m")
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(30, 12)), np.arange(30) % 2
    clf = TartClassifier(reasoner=tmp_path / "m", embedder=None).fit(X, y)
    assert len(clf.view_weights_) == 8 and np.isclose(clf.view_weights_.sum(), 1.0)
    assert {m.view for m in clf.plan_.maps} == set(np.flatnonzero(clf.view_weights_ >= 0.01))
    np.testing.assert_allclose(clf.predict_proba(X).sum(1), 1.0)
