"""tart-2's prior: every component samples valid, learnable tasks; the batch maker maps them."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import LogisticRegression

from tart.priors_tart2 import (COMPONENTS, SAMPLERS, MixturePrior, SetCurriculum, prior_from_dict,
                         sample_set_batch)


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("name", COMPONENTS)
def test_each_component_gives_valid_tasks(name):
    prior = MixturePrior()
    t = prior.sample(16, 50, 24, _g(), components=(name,))
    assert t.x_BND.shape == (16, 50, 24) and t.x_BND.dtype == torch.float32
    assert torch.isfinite(t.x_BND).all()
    assert t.y_BN.dtype == torch.int64 and (t.y_BN >= 0).all()
    assert (t.y_BN < t.n_classes_B[:, None]).all()
    lo, hi = {"logistic": (2, 2), "softmax": (3, 10)}.get(name, (2, 10))
    assert ((t.n_classes_B >= lo) & (t.n_classes_B <= hi)).all()


@pytest.mark.parametrize("name", COMPONENTS)
def test_each_component_is_learnable(name):
    """Labels depend on the features: a logistic regression on 400 points beats the majority
    class on fresh points of the same task (it would not if labels were noise)."""
    prior = MixturePrior(noise_frac=0.0, table_frac=0.0, sep_range=(2.0, 3.0), alpha_range=(3.0, 10.0))
    t = prior.sample(12, 600, 16, _g(1), components=(name,))
    gains = []
    for x, y in zip(t.x_BND.numpy(), t.y_BN.numpy()):
        if len(np.unique(y[:400])) < 2:
            continue
        acc = (LogisticRegression(max_iter=2000).fit(x[:400], y[:400]).predict(x[400:]) == y[400:]).mean()
        gains.append(acc - np.bincount(y[400:]).max() / 200)
    assert np.mean(gains) > 0.15, gains


def test_label_noise_lowers_what_can_be_learned():
    clean = MixturePrior(noise_frac=0.0, table_frac=0.0, alpha_range=(20.0, 20.01))
    noisy = MixturePrior(noise_frac=1.0, max_flip=0.2, table_frac=0.0, alpha_range=(20.0, 20.01))

    def acc(prior):
        t = prior.sample(16, 600, 4, _g(2), components=("logistic",))
        return np.mean([(LogisticRegression(C=100, max_iter=2000).fit(x[:400], y[:400]).predict(x[400:]) == y[400:]).mean()
                        for x, y in zip(t.x_BND.numpy(), t.y_BN.numpy())])

    assert acc(clean) > acc(noisy) + 0.03


def test_class_ids_are_permuted_and_imbalance_occurs():
    t = MixturePrior().sample(400, 64, 8, _g(3), components=("gaussian",))
    binary = t.n_classes_B == 2
    share1 = (t.y_BN[binary] == 1).float().mean().item()
    assert 0.4 < share1 < 0.6  # neither id is favoured
    majority = [np.bincount(y).max() / len(y) for y in t.y_BN[binary].numpy()]
    assert max(majority) > 0.85 and min(majority) < 0.65  # from strongly imbalanced to balanced


def test_tables_get_feature_scales_and_offsets():
    tables = MixturePrior(table_frac=1.0).sample(8, 200, 12, _g(4))
    plain = MixturePrior(table_frac=0.0).sample(8, 200, 12, _g(4))
    spread = lambda t: (t.x_BND.std(1).amax(1) / t.x_BND.std(1).amin(1)).median()  # noqa: E731
    assert spread(tables) > 3 * spread(plain)


def test_seeded_and_serialisable():
    prior = MixturePrior(weights={"softmax": 1.0, "mlp": 2.0})
    a, b = prior.sample(5, 20, 6, _g(7)), prior.sample(5, 20, 6, _g(7))
    assert torch.equal(a.x_BND, b.x_BND) and torch.equal(a.y_BN, b.y_BN)
    assert prior_from_dict(prior.to_dict()) == prior
    with pytest.raises(ValueError, match="unknown prior components"):
        MixturePrior(weights={"spiral": 1.0})
    with pytest.raises(ValueError, match="unknown tart-2 prior"):
        prior_from_dict({"name": "logistic"})
    with pytest.raises(ValueError, match=">= 1"):
        prior.sample(0, 5, 5)
    assert set(SAMPLERS) == set(COMPONENTS)


def test_curriculum_and_mapped_batches():
    cur = SetCurriculum(k_min=4, k_max=100, d_min=3, d_max=50, n_queries=10, tokens=2000)
    shapes = [cur.shape(_g(s), 32) for s in range(200)]
    assert all(4 <= k <= 100 and 3 <= d <= 50 and 4 <= b <= 32 for b, k, d in shapes)
    assert min(k for _, k, _ in shapes) < 8 and max(k for _, k, _ in shapes) > 60
    batch = sample_set_batch(MixturePrior(), cur, 16, 32, _g(0), shape=(6, 20, 40))
    assert batch.cx_BKd.shape == (6, 20, 16) and batch.qx_BMd.shape == (6, 10, 16)
    # the map was fitted on each context: unit mean square over the kept dims, the rest zero
    kept = (batch.cx_BKd.abs().sum(1) > 0).sum(1)
    ms = (batch.cx_BKd**2).sum((1, 2)) / (20 * kept)
    torch.testing.assert_close(ms, torch.ones(6), rtol=1e-4, atol=1e-4)
    assert (kept <= 16).all()
    small = sample_set_batch(MixturePrior(), cur, 16, 32, _g(0), shape=(3, 5, 40))
    assert ((small.cx_BKd.abs().sum(1) > 0).sum(1) <= 5).all()  # 5 points span few directions
    # whiten="both": the same tasks, each mapped by the unwhitened or the whitened map
    maps = [sample_set_batch(MixturePrior(), cur, 16, 32, _g(1), shape=(40, 30, 40), whiten=w).cx_BKd
            for w in (False, True, "both")]
    same = [(maps[2] - m).abs().amax((1, 2)) < 1e-5 for m in maps[:2]]
    assert (same[0] | same[1]).all() and 8 < int(same[1].sum()) < 32
    with pytest.raises(ValueError):
        SetCurriculum(k_min=10, k_max=5)


@pytest.mark.slow
def test_dense_signal_spreads_the_class_difference_without_making_tasks_trivial():
    """dense_signal: R log-uniform up to max_signal_dims (sparse and dense tasks), each direction
    weaker as R grows, so dense tasks are not all separable as they are at full strength."""
    from tart.priors_tart2 import signal_dims

    dense, full = MixturePrior(max_signal_dims=64, dense_signal=True), MixturePrior(max_signal_dims=64)
    g = _g(11)
    rs = [signal_dims(dense, 128, g)[0] for _ in range(400)]
    assert min(rs) == 1 and max(rs) > 40 and np.median(rs) < 16  # log-uniform: most tasks sparse
    assert signal_dims(dense, 128, _g(0))[1] <= 1.0 and signal_dims(full, 128, _g(0))[1] == 1.0
    assert max(signal_dims(dense, 3, g)[0] for _ in range(50)) <= 3  # never more than the width

    def separable_share(prior):
        shares = []
        for seed in range(6):  # R is shared by a batch: several batches
            t = prior.sample(8, 800, 64, _g(100 + seed), components=("gaussian",))
            for x, y in zip(t.x_BND.numpy(), t.y_BN.numpy()):
                if len(np.unique(y[:600])) < 2 or len(np.unique(y)) != len(np.unique(y[:600])):
                    continue
                acc = (LogisticRegression(max_iter=3000).fit(x[:600], y[:600]).predict(x[600:]) == y[600:]).mean()
                shares.append(acc > 0.99)
        return np.mean(shares)

    strong = MixturePrior(max_signal_dims=64, noise_frac=0.0, table_frac=0.0, sep_range=(1.0, 3.0))
    weak = MixturePrior(max_signal_dims=64, noise_frac=0.0, table_frac=0.0, sep_range=(1.0, 3.0), dense_signal=True)
    assert separable_share(weak) < separable_share(strong) - 0.15
