import numpy as np
import pytest

from tart.eval.fewshot import balanced_context, balanced_test, fewshot_grid, summarize


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


def test_balanced_test_and_grid():
    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(int)
    ti = balanced_test(y, 100)
    assert len(ti) == 100 and y[ti].sum() == 50
    X = rng.normal(size=(300, 3))
    X[:, 0] += 3 * y
    rows = fewshot_grid(X[:200], y[:200], X[200:], y[200:], ks=(16, 32), seeds=(0, 1))
    assert len(rows) == 2 * 2 * 3
    assert all(r["acc"] > (0.6 if r["method"] == "tart" else 0.75) for r in rows)
    table = summarize(rows)
    assert "| tart |" in table and "k=32" in table
