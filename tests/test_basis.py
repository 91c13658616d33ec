"""The fast basis of tart-2's training data path (`tart.basis`, `fit_set_map(basis="fast")`): the
same contract as the exact one, exact where the context spans few directions, close elsewhere."""

import numpy as np
import pytest
import torch

from tart import basis
from tart.priors_tart2 import MixturePrior
from tart.projection import apply_set_map, fit_set_map


def _tasks(B=6, K=300, D=200, seed=0, **prior):
    t = MixturePrior(**prior).sample(B, K, D, torch.Generator().manual_seed(seed))
    return t.x_BND, t.y_BN


def _fits(x, y, d=16, **kw):
    return fit_set_map(x, y, d, **kw), fit_set_map(x, y, d, basis="fast", **kw)


def _captured(p, x):
    """The context's variance inside each task's map (before the map's one scale)."""
    return (apply_set_map(p, x) ** 2).sum((1, 2)) * p.scale_B**2


@pytest.mark.parametrize("K,D", [(300, 20), (12, 200), (30, 24)])
def test_fast_is_exact_where_the_context_spans_few_directions(K, D):
    """D within 1.5 (d + oversampling), or K within it: the same map as the full SVDs (up to
    float32 rounding, which turns rows of nearly equal singular values a little), zero rows and
    kept counts included."""
    x, y = _tasks(K=K, D=D)
    exact, fast = _fits(x, y)
    assert torch.equal(exact.n_kept_B, fast.n_kept_B)
    cos_Bd = (exact.basis_BdD * fast.basis_BdD).sum(2)
    kept_Bd = torch.arange(16) < exact.n_kept_B[:, None]
    # (0.99: with one thread instead of two, float32 rounding turns one row of a near tie to 0.995)
    assert (cos_Bd[kept_Bd] > 0.99).all() and (fast.basis_BdD[~kept_Bd] == 0).all()
    torch.testing.assert_close(exact.scale_B, fast.scale_B, atol=0, rtol=1e-4)
    torch.testing.assert_close(exact.center_BD, fast.center_BD)


def test_fast_basis_is_orthonormal_signed_and_captures_nearly_all_the_variance():
    x, y = _tasks(K=400, D=256)
    exact, fast = _fits(x, y, d=32)
    b = fast.basis_BdD
    torch.testing.assert_close(b @ b.transpose(1, 2), torch.eye(32).expand(len(b), -1, -1), atol=1e-4, rtol=0)
    peak = b.gather(2, b.abs().argmax(2, keepdim=True))
    assert (peak > 0).all()  # each row's largest entry positive, as the exact map's
    assert torch.equal(exact.n_kept_B, fast.n_kept_B)
    ratio = _captured(fast, x) / _captured(exact, x)
    assert (ratio > 0.97).all() and (ratio < 1 + 1e-4).all(), ratio  # the exact basis is optimal
    # the class-mean directions come first in both, the same up to rounding
    torch.testing.assert_close((exact.basis_BdD[:, 0] * b[:, 0]).sum(1).abs(), torch.ones(len(b)), atol=1e-4, rtol=0)


def test_fast_map_keeps_the_invariances():
    """Renaming the classes gives the same map; reordering the rows the same up to rounding; a
    rank-deficient context (duplicated features) keeps only its real directions."""
    x, y = _tasks(B=3, K=200, D=160, max_classes=4)
    fast = fit_set_map(x, y, 24, basis="fast")
    renamed = fit_set_map(x, (y + 1) % 4, 24, basis="fast")
    torch.testing.assert_close(renamed.basis_BdD, fast.basis_BdD, atol=1e-5, rtol=0)
    perm = torch.randperm(200, generator=torch.Generator().manual_seed(0))
    reordered = fit_set_map(x[:, perm], y[:, perm], 24, basis="fast")
    torch.testing.assert_close(reordered.basis_BdD, fast.basis_BdD, atol=1e-3, rtol=0)
    low = torch.cat([x[:, :, :10]] * 16, 2)  # 160 features spanning 10 directions
    exact_low, fast_low = _fits(low, y, d=24)
    assert torch.equal(fast_low.n_kept_B, exact_low.n_kept_B) and (fast_low.n_kept_B == 10).all()
    assert (fast_low.basis_BdD[:, 10:] == 0).all()


def test_unknown_basis_is_an_error():
    x, y = _tasks(B=1, K=10, D=4)
    with pytest.raises(ValueError, match="basis must be one of"):
        fit_set_map(x, y, 4, basis="svd")
    with pytest.raises(ValueError, match="basis must be one of"):
        basis.residual_rows(x, 4, "random")


def test_fast_rows_of_degenerate_class_means_stay_finite():
    """Many classes, few of them present, means nearly collinear: the Gram matrix's rounding-level
    eigenvalues give zero rows, not rows divided by a tiny singular value (inf in float32)."""
    g = torch.Generator().manual_seed(0)
    means = torch.zeros(4, 50, 99)
    base = torch.randn(4, 1, 99, generator=g)
    means[:, :3] = base * torch.tensor([1.0, -0.5, -0.5])[None, :, None]  # rank one
    means[:, 3] = 1e-20 * torch.randn(4, 99, generator=g)  # rounding-sized
    rows, s = basis.mean_rows(means, "fast")
    assert torch.isfinite(rows).all() and torch.isfinite(s).all()
    assert ((s > 0).sum(1) <= 2).all()  # the real direction (and at most a rounding one, kept)
    torch.testing.assert_close(rows[:, 0].norm(dim=1), torch.ones(4))


def test_a_non_finite_batch_skips_the_step():
    from tart.set_reasoner import SetReasoner, SetReasonerConfig
    from tart.priors_tart2 import SetBatch
    from tart.train import train_step

    m = SetReasoner(SetReasonerConfig(n_dims=4, n_classes=3, n_embd=16, n_layer=1, n_head=2))
    opt = torch.optim.AdamW(m.parameters(), lr=1e-2)
    before = [p.detach().clone() for p in m.parameters()]
    cx = torch.randn(2, 5, 4)
    cx[0, 0, 0] = float("nan")
    batch = SetBatch(cx, torch.zeros(2, 5, dtype=torch.long), torch.randn(2, 3, 4), torch.zeros(2, 3, dtype=torch.long),
                     torch.tensor([2, 2]))
    assert np.isnan(train_step(m, opt, batch))
    assert all(torch.equal(a, b) for a, b in zip(before, m.parameters()))
    batch.cx_BKd = torch.randn(2, 5, 4)
    assert np.isfinite(train_step(m, opt, batch))
    assert any(not torch.equal(a, b) for a, b in zip(before, m.parameters()))
