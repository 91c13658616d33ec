"""tart.calibration: the context temperature's folds, its invariances and that it recovers a known
over-confidence."""

from __future__ import annotations

import numpy as np

from tart.calibration import GRID, apply_temperature, context_temperature


class _Sharpened:
    """A fake classifier: column 0 of X holds P(class 1); it answers that probability raised to
    the power `power` (power 3: over-confident, temperature 3 undoes it). Records its fits."""

    fits: list = []
    labels: list = []
    predicted: list = []

    def __init__(self, power: float = 3.0):
        self.power = power

    def fit(self, X, y):
        _Sharpened.fits.append(len(y))
        _Sharpened.labels.append(set(np.asarray(y).tolist()))
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, X):
        _Sharpened.predicted.append(len(X))
        q = np.clip(X[:, 0], 1e-6, 1 - 1e-6)
        return apply_temperature(np.stack([1 - q, q], 1), 1 / self.power)


class _Sharpened3(_Sharpened):
    """Three classes: class 2 gets no probability."""

    def predict_proba(self, X):
        return np.c_[super().predict_proba(X), np.zeros(len(X))]


def _data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    q = rng.uniform(0.05, 0.95, n)
    X = np.stack([q, rng.normal(size=n)], 1)
    return X, (rng.random(n) < q).astype(int)


def test_recovers_a_known_over_confidence():
    X, y = _data(4000)
    t = context_temperature(_Sharpened, X, y, enough=4000)
    assert abs(np.log(t) - np.log(3.0)) < np.log(GRID[1] / GRID[0]) * 2  # within two grid steps
    calibrated = context_temperature(lambda: _Sharpened(1.0), X, y, enough=4000)
    assert abs(np.log(calibrated)) < 0.2


def test_folds_hold_out_each_example_at_most_once_and_stop_when_enough():
    X, y = _data(200)
    _Sharpened.fits = []
    context_temperature(_Sharpened, X, y, folds=5, enough=10_000)
    held = [200 - n for n in _Sharpened.fits]
    assert len(held) == 5 and sum(held) == 200 and max(held) - min(held) <= 2  # each example once
    _Sharpened.fits = []
    context_temperature(_Sharpened, X, y, folds=5, enough=64)
    assert len(_Sharpened.fits) == 2  # about 40 + 24 of the next 40 held out: 64, stop
    _Sharpened.fits, _Sharpened.predicted = [], []
    context_temperature(_Sharpened, X, y, folds=5, enough=30)
    assert len(_Sharpened.fits) == 1 and _Sharpened.predicted == [30]  # only what is needed
    _Sharpened.fits, _Sharpened.labels = [], []
    y1 = y.copy()
    y1[0] = 2  # a class with one example: never held out, so in every fit
    context_temperature(lambda: _Sharpened3(), X, y1, folds=5, enough=10_000)
    assert len(_Sharpened.fits) == 5 and all(2 in labels for labels in _Sharpened.labels)
    _Sharpened.fits = []
    assert context_temperature(_Sharpened, X[:2], np.array([0, 1])) == 1.0 and _Sharpened.fits == []


def test_renaming_classes_and_reordering_the_context_give_the_same_temperature():
    X, y = _data(120, seed=1)
    t = context_temperature(_Sharpened, X, y)
    perm = np.random.default_rng(2).permutation(len(y))
    names = np.array(["yes", "no"])[y]  # class 1 -> "no": sorted order flips the columns' meaning

    class Named(_Sharpened):
        def predict_proba(self, X):
            return super().predict_proba(X)[:, ::-1]  # columns in ("no", "yes") order

    assert context_temperature(_Sharpened, X[perm], y[perm]) == t
    assert context_temperature(Named, X[perm], names[perm]) == t
