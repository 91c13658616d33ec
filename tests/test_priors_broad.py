"""tart-2's broader prior (`MixturePrior.broad()`): each classical learner's home ground is in it,
and its modifiers (embedding-like spectra, heavy tails, noise features, imbalance) do what they say."""

import numpy as np
import pytest
import torch

from tart.eval import probes
from tart.priors_tart2 import COMPONENTS, MixturePrior, class_counts, prior_from_dict, spectrum


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


CLEAN = dict(noise_frac=0.0, table_frac=0.0, heavy_tail_frac=0.0, noise_feature_frac=0.0, imbalance_frac=0.0)


@pytest.mark.parametrize("name", COMPONENTS)
def test_broad_prior_gives_valid_tasks(name):
    t = MixturePrior.broad(heavy_tail_frac=1.0, noise_feature_frac=1.0).sample(16, 50, 24, _g(), components=(name,))
    assert t.x_BND.shape == (16, 50, 24) and torch.isfinite(t.x_BND).all()
    assert ((t.y_BN >= 0) & (t.y_BN < t.n_classes_B[:, None])).all()


def test_broad_prior_draws_every_component_and_round_trips():
    prior = MixturePrior.broad()
    assert set(prior.weights) == set(COMPONENTS)
    assert prior_from_dict(prior.to_dict()) == prior
    a, b = prior.sample(6, 30, 10, _g(5)), prior.sample(6, 30, 10, _g(5))
    assert torch.equal(a.x_BND, b.x_BND) and torch.equal(a.y_BN, b.y_BN)
    with pytest.raises(ValueError, match="go together"):
        MixturePrior(body_beta_range=(1.0, 2.0))
    with pytest.raises(ValueError, match="heavy_tail_frac"):
        MixturePrior(heavy_tail_frac=1.5)


def _accuracies(component: str, seeds=3, n_train=100) -> dict[str, float]:
    acc = {m: [] for m in ("logreg_full", "lda", "ncm", "knn")}
    for seed in range(seeds):
        t = MixturePrior.broad(**CLEAN).sample(8, 400, 16, _g(seed), components=(component,))
        for x, y in zip(t.x_BND.numpy().astype(np.float64), t.y_BN.numpy()):
            if len(np.unique(y[:n_train])) != len(np.unique(y)):
                continue
            for m in acc:
                out = np.asarray(getattr(probes, m)(x[:n_train], y[:n_train], x[n_train:]))
                acc[m].append(((out.argmax(1) if out.ndim == 2 else out) == y[n_train:]).mean())
    return {m: float(np.mean(v)) for m, v in acc.items()}


@pytest.mark.slow
def test_each_learner_has_its_home_ground():
    """Shared anisotropic covariance: LDA ahead of nearest class mean; isotropic noise: nearest
    class mean level with LDA and ahead of logistic regression; local clusters: kNN far ahead of
    every linear rule; TART's logistic task: logistic regression ahead."""
    gauss, iso, local, logistic = (_accuracies(c) for c in ("gaussian", "isotropic", "local", "logistic"))
    assert gauss["lda"] > gauss["ncm"] + 0.03
    assert iso["ncm"] > iso["lda"] - 0.01 and iso["ncm"] > iso["logreg_full"] + 0.005
    assert local["knn"] > max(local["lda"], local["logreg_full"], local["ncm"]) + 0.05
    assert logistic["logreg_full"] > max(logistic["lda"], logistic["ncm"], logistic["knn"]) + 0.01


def test_broken_power_law_spectrum():
    prior = MixturePrior(beta_range=(0.5, 0.5), body_beta_range=(2.0, 2.0), knee_range=(8.0, 8.0))
    j = torch.arange(1, 65, dtype=torch.float32)[None].expand(3, -1)
    lam = spectrum(prior, j, torch.full((3, 1), 0.5), _g())
    slope = lambda lo, hi: -np.polyfit(np.log(np.arange(lo, hi + 1)), np.log(lam[0, lo - 1 : hi].numpy()), 1)[0]  # noqa: E731
    assert abs(slope(1, 8) - 0.5) < 1e-3 and abs(slope(8, 64) - 2.0) < 1e-3
    torch.testing.assert_close(lam[:, 0], torch.ones(3))
    plain = spectrum(MixturePrior(), j, torch.full((3, 1), 0.5), _g())
    torch.testing.assert_close(plain, j**-0.5)


def test_heavy_tails():
    def kurtosis(prior):
        x = prior.sample(32, 400, 8, _g(2), components=("gaussian",)).x_BND
        z = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True)
        return float((z**4).mean(1).median())

    assert kurtosis(MixturePrior(**{**CLEAN, "heavy_tail_frac": 1.0})) > kurtosis(MixturePrior(**CLEAN)) + 1.0


def test_noise_features_replace_a_share_of_the_features():
    prior = MixturePrior(noise_feature_frac=1.0)
    x = torch.full((50, 40, 20), 7.0) + torch.randn(50, 40, 20, generator=_g(3))
    out = prior._noise_features(x.clone(), _g(4))
    share = (out != x).all(1).float().mean(1)
    assert share.min() >= 0.0 and share.max() <= 0.8 and 0.2 < share.mean() < 0.5
    assert (out - x).abs().amax(1).max() > 0  # noise features do not keep the original values
    same = MixturePrior(noise_feature_frac=0.0).sample(4, 30, 6, _g(5)).x_BND
    assert torch.equal(same, MixturePrior().sample(4, 30, 6, _g(5)).x_BND)  # off: the old draws


def test_imbalance_skews_the_regression_components():
    def majority(prior):
        t = prior.sample(200, 200, 6, _g(6), components=("logistic",))
        return float(np.median([np.bincount(y, minlength=2).max() / len(y) for y in t.y_BN.numpy()]))

    assert majority(MixturePrior(**{**CLEAN, "imbalance_frac": 1.0})) > majority(MixturePrior(**CLEAN)) + 0.1


def test_log_classes_make_few_class_tasks_common():
    """log_classes: counts log-uniform in [2, max_classes] (P(n) = log((n+1)/n) / log((hi+1)/2)),
    every count reachable; the default stays uniform."""
    prior = MixturePrior.broad(max_classes=50, log_classes=True)
    n_B = class_counts(prior, 2, 200_000, _g(3))
    assert int(n_B.min()) == 2 and int(n_B.max()) == 50
    expected_2 = np.log(3 / 2) / np.log(51 / 2)
    assert abs(float((n_B == 2).float().mean()) - expected_2) < 0.005
    uniform = class_counts(MixturePrior(max_classes=50), 2, 200_000, _g(3))
    assert abs(float((uniform == 2).float().mean()) - 1 / 49) < 0.003
    t = prior.sample(64, 40, 8, _g(1), components=("gaussian",))
    assert float((t.n_classes_B <= 10).float().mean()) > 0.3
    assert prior_from_dict(prior.to_dict()).log_classes


def test_signal_bias_puts_the_signal_in_the_leading_directions():
    """signal_bias_range: directions picked with probability lambda_j^u; u = 0 any direction alike,
    u = 3 almost only the leading ones (real embeddings carry their class signal there)."""
    from tart.priors_tart2 import task_space

    def mean_rank(lo_hi):
        prior = MixturePrior(beta_range=(1.0, 1.0), signal_bias_range=lo_hi)
        ranks = []
        for seed in range(20):
            sqrt_lam, _, idx, _ = task_space(prior, 8, 64, _g(seed))
            rank_BD = sqrt_lam.argsort(1, descending=True).argsort(1) + 1  # 1: the largest variance
            ranks.append(rank_BD.gather(1, idx).float().flatten())
        return float(torch.cat(ranks).mean())

    uniform, leading = mean_rank((0.0, 0.0)), mean_rank((3.0, 3.0))
    assert 27 < uniform < 38 and leading < 10
    assert uniform > mean_rank((0.0, 1.0)) > leading
    with pytest.raises(ValueError, match="signal_bias_range"):
        MixturePrior(signal_bias_range=(2.0, 1.0))


def test_an_old_prior_dict_loads_with_the_old_signal_bias():
    from tart.train import ALIGNED_PRIOR

    assert prior_from_dict(ALIGNED_PRIOR.to_dict()) == ALIGNED_PRIOR
    old = {k: v for k, v in MixturePrior.broad().to_dict().items() if k != "signal_bias_range"}
    assert prior_from_dict(old).signal_bias_range == (0.0, 1.0)
