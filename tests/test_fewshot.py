import numpy as np
import pytest

from tart.eval.contexts import balanced_context, balanced_test, random_context
from tart.eval.methods import METHODS, Method, Setup, on_features
from tart.eval.probes import logreg_full
from tart.eval.report import table
from tart.eval.runner import run_cells


def test_contexts_are_balanced_and_nested():
    y = (np.arange(500) % 5 == 0).astype(int)  # imbalanced pool: 100 positives
    prev = set()
    for k in (16, 32, 64, 128):
        idx = balanced_context(y, k, seed=3)
        assert len(set(idx)) == k and y[idx].sum() == k // 2
        assert prev <= set(idx)
        prev = set(idx)
    assert not np.array_equal(balanced_context(y, 16, 3), balanced_context(y, 16, 4))
    with pytest.raises(ValueError, match="even"):
        balanced_context(y, 15, 0)
    with pytest.raises(ValueError, match="class 1"):
        balanced_context(y, 256, 0)
    r = random_context(y, 40, 1)
    assert len(set(r)) == 40 and np.array_equal(r, random_context(y, 40, 1))


def _setup(rng: np.random.Generator) -> Setup:
    y = (rng.random(300) < 0.3).astype(int)
    X = rng.normal(size=(300, 3))
    X[:, 0] += 3 * y
    ti = 200 + balanced_test(y[200:], 100)
    return Setup("toy", "features", "table", ("a", "b"), list(X[:200]), y[:200], list(X[ti]), y[ti],
                 None, X[:200], X[ti])


@pytest.mark.slow
def test_balanced_test_and_the_loop_on_fixed_features():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(int)
    ti = balanced_test(y, 100)
    assert len(ti) == 100 and y[ti].sum() == 50
    setup = _setup(rng)
    registry = {**METHODS, "lr": Method("lr", on_features(logreg_full))}
    methods = ["tart", "logreg-projected", "lr", "icl"]
    rows = list(run_cells(setup, methods, (16, 32), (0, 1), registry))
    assert len(rows) == 2 * 2 * 4
    ok = [r for r in rows if r["status"] == "ok"]
    assert len(ok) == 12 and all(r["acc"] > (0.6 if r["method"] == "tart" else 0.75) for r in ok)
    assert all("needs text" in r["reason"] for r in rows if r["method"] == "icl")
    t = table(rows, {"lr": "logreg (full)"})
    assert "| tart |" in t and "k=32" in t and "| logreg (full) |" in t and "| icl | skipped" in t
    done = {("toy", "features", "tart", 16, 0)}
    assert len(list(run_cells(setup, ["tart"], (16,), (0, 1), done=done))) == 1
    rows = list(run_cells(setup, ["tart"], (16,), (0,), contexts=random_context))
    assert rows[0]["status"] == "ok"
