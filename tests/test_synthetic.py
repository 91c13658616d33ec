import pytest
import torch

from tart.priors_tart import Curriculum, LogisticPrior, prior_from_dict


def test_sample_shapes_labels_and_inactive_dims():
    t = LogisticPrior(n_dims=16).sample(5, 20, active_dims=4, generator=torch.Generator().manual_seed(1))
    assert t.x_BND.shape == (5, 20, 16) and t.y_BN.shape == (5, 20) and t.w_BD.shape == (5, 16)
    assert set(t.y_BN.unique().tolist()) <= {0.0, 1.0}
    assert (t.x_BND[..., 4:] == 0).all() and (t.w_BD[:, 4:] == 0).all()
    assert (t.x_BND[..., :4] != 0).all()


def test_sampling_is_seeded():
    a = LogisticPrior().sample(4, 10, generator=torch.Generator().manual_seed(3))
    b = LogisticPrior().sample(4, 10, generator=torch.Generator().manual_seed(3))
    c = LogisticPrior().sample(4, 10, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a.x_BND, b.x_BND) and torch.equal(a.y_BN, b.y_BN)
    assert not torch.equal(a.x_BND, c.x_BND)


def test_prior_statistics_match_tart():
    """w = alpha * N(0, I) with alpha = 10; y ~ Bernoulli(sigmoid(x.w))."""
    t = LogisticPrior(alpha=10.0).sample(4000, 50, generator=torch.Generator().manual_seed(0))
    assert abs(t.w_BD.std().item() - 10.0) < 0.2
    assert abs(t.x_BND.std().item() - 1.0) < 0.01
    p = torch.sigmoid(t.bayes_logits())
    assert abs(t.y_BN.mean().item() - p.mean().item()) < 0.01
    # labels agree with the sign of x.w far more often than chance (alpha = 10 is nearly noiseless)
    assert ((t.bayes_logits() > 0).float() == t.y_BN).float().mean() > 0.95


def test_variable_alpha_and_registry():
    prior = LogisticPrior(alpha=1.0, alpha_max=20.0)
    t = prior.sample(2000, 2, generator=torch.Generator().manual_seed(0))
    norms = t.w_BD.norm(dim=1) / 4.0  # |N(0, I_16)| is about 4
    assert norms.min() < 3 and norms.max() > 15
    assert prior_from_dict(prior.to_dict()) == prior
    with pytest.raises(ValueError, match="unknown prior"):
        prior_from_dict({"name": "gaussian-mixture"})


@pytest.mark.parametrize("kwargs", [dict(alpha=0), dict(n_dims=0), dict(alpha=5, alpha_max=1)])
def test_bad_prior_settings(kwargs):
    with pytest.raises(ValueError):
        LogisticPrior(**kwargs)


def test_bad_sample_arguments():
    with pytest.raises(ValueError, match="active_dims"):
        LogisticPrior(n_dims=16).sample(2, 3, active_dims=17)


def test_curriculum_matches_tart_schedule():
    c = Curriculum()
    assert c.at(0) == (4, 18)
    assert c.at(999) == (4, 18)
    assert c.at(1000) == (8, 48)
    assert c.at(3000) == (16, 108)
    assert c.at(8000) == (16, 258)
    assert c.at(100_000) == (16, 258)
    assert Curriculum.fixed(4, 40).at(12345) == (4, 40)
    separate = Curriculum(4, 16, 4, 6, 258, 12, 250, dims_interval=1500)
    assert separate.at(1499) == (4, 6 + 5 * 12) and separate.at(1500) == (8, 6 + 6 * 12)
    with pytest.raises(ValueError, match="dims_interval must be >= 1, got 0"):
        Curriculum(dims_interval=0)
