"""The faithful (`tart`) family's synthetic training tasks: TART's prior and its curriculum.

A *prior* draws a batch of independent tasks (one weight vector per sequence) and the labelled
points of each. TART's prior is probabilistic logistic regression:

    w ~ alpha * N(0, I_d),  x ~ N(0, I_d),  y ~ Bernoulli(sigmoid(x . w)),  y in {0, 1}

with alpha = 10 and d = 16. Only the first `active_dims` coordinates of x are non-zero; the
curriculum grows them (and the number of points) during training.

Shape legend: B batch (tasks), N points per task, D feature dims.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch


@dataclass
class Task:
    """A batch of sampled tasks: points, labels and the weights that generated them."""

    x_BND: torch.Tensor  # float features, inactive dims zero
    y_BN: torch.Tensor  # float labels in {0, 1}
    w_BD: torch.Tensor  # the true weight vector of each task

    def bayes_logits(self) -> torch.Tensor:
        """Logits of the Bayes rule that knows the true w: x . w, shape [B, N]."""
        return torch.einsum("bnd,bd->bn", self.x_BND, self.w_BD)


@dataclass
class LogisticPrior:
    """TART's probabilistic logistic-regression prior.

    alpha: scale of w (w = alpha * N(0, I)); `alpha_max` > alpha draws alpha per task uniformly
    from [alpha, alpha_max] (a "variable alpha" prior). n_dims: feature width d.
    """

    n_dims: int = 16
    alpha: float = 10.0
    alpha_max: float | None = None

    def __post_init__(self) -> None:
        if self.n_dims < 1:
            raise ValueError(f"n_dims must be >= 1, got {self.n_dims}")
        if self.alpha <= 0:
            raise ValueError(f"alpha must be > 0, got {self.alpha}")
        if self.alpha_max is not None and self.alpha_max < self.alpha:
            raise ValueError(f"alpha_max ({self.alpha_max}) must be >= alpha ({self.alpha})")

    def sample(
        self,
        batch_size: int,
        n_points: int,
        active_dims: int | None = None,
        generator: torch.Generator | None = None,
        device: torch.device | str = "cpu",
    ) -> Task:
        """Draw `batch_size` tasks of `n_points` labelled points each, all in one vectorised call."""
        d = self.n_dims
        active = d if active_dims is None else active_dims
        if not 1 <= active <= d:
            raise ValueError(f"active_dims must be in [1, {d}], got {active}")
        if batch_size < 1 or n_points < 1:
            raise ValueError(f"batch_size and n_points must be >= 1, got {batch_size}, {n_points}")
        kw = dict(generator=generator, device=device)
        x_BND = torch.randn(batch_size, n_points, d, **kw)
        x_BND[:, :, active:] = 0.0
        alpha_B1 = torch.full((batch_size, 1), self.alpha, device=device)
        if self.alpha_max is not None:
            u_B1 = torch.rand(batch_size, 1, **kw)
            alpha_B1 = self.alpha + (self.alpha_max - self.alpha) * u_B1
        w_BD = alpha_B1 * torch.randn(batch_size, d, **kw)
        w_BD[:, active:] = 0.0
        p_BN = torch.sigmoid(torch.einsum("bnd,bd->bn", x_BND, w_BD))
        y_BN = torch.bernoulli(p_BN, generator=generator)
        return Task(x_BND, y_BN, w_BD)

    def to_dict(self) -> dict:
        return {"name": "logistic", **asdict(self)}


PRIORS = {"logistic": LogisticPrior}


def prior_from_dict(cfg: dict) -> LogisticPrior:
    """Rebuild a prior from `to_dict()` output (the registry makes new priors pluggable)."""
    cfg = dict(cfg)
    name = cfg.pop("name", "logistic")
    if name not in PRIORS:
        raise ValueError(f"unknown prior {name!r}; known: {sorted(PRIORS)}")
    return PRIORS[name](**cfg)


@dataclass
class Curriculum:
    """Step schedule of active dims and points per sequence (TART: 4 -> 16 dims, 18 -> 258 points).

    Both grow by their increment every `interval` steps (dims every `dims_interval` steps if
    given) until they reach their end value.
    """

    dims_start: int = 4
    dims_end: int = 16
    dims_inc: int = 4
    points_start: int = 18
    points_end: int = 258
    points_inc: int = 30
    interval: int = 1000
    dims_interval: int | None = None

    def __post_init__(self) -> None:
        for name in ("interval", "dims_interval"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"curriculum {name} must be >= 1, got {value}")
        if self.dims_start > self.dims_end or self.points_start > self.points_end:
            raise ValueError("curriculum start values must not exceed end values")

    def at(self, step: int) -> tuple[int, int]:
        """(active_dims, n_points) in force at optimiser step `step` (0-based)."""
        dims_stage = step // (self.dims_interval or self.interval)
        dims = min(self.dims_start + dims_stage * self.dims_inc, self.dims_end)
        points = min(self.points_start + step // self.interval * self.points_inc, self.points_end)
        return dims, points

    @classmethod
    def fixed(cls, dims: int, points: int) -> "Curriculum":
        """A schedule that never changes (for tests and fine-tuning)."""
        return cls(dims, dims, 0, points, points, 0, 1)
