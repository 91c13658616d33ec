"""tart-2's prior: synthetic classification tasks shaped like real embeddings and small tables.

Every task lives in a raw feature space of width D (from a handful, like a small table, to
hundreds, like an embedding). Its features have a decaying variance spectrum in random directions
(`lambda_j ~ j^-beta`), and the class signal sits in a few of those directions. Each *component*
is one way labels arise, each its own sampler:

- `logistic`: TART's task family, binary, y ~ Bernoulli(sigmoid(alpha * w . z + b));
- `softmax`: softmax regression over 3-10 classes;
- `gaussian`: class-conditional Gaussians sharing the anisotropic covariance, class means in a
  low-rank subspace, class proportions from a Dirichlet (balanced to strongly imbalanced);
- `clusters`: the same with 1-4 clusters per class;
- `mlp`: a smooth non-linear boundary, the classes of a small random tanh network's outputs;
- `isotropic`: balanced Gaussian classes with the same isotropic noise around each mean.

Which classical learner is Bayes-optimal where: `logistic` and `softmax` are logistic
regression's own models; `gaussian` is shrinkage LDA's (shared covariance; with the class
proportions as priors); `isotropic` is nearest class mean's (Euclidean); `clusters` (classes of
several local clusters) is nearer kNN's than any linear rule's; `mlp` belongs to none of them.

Here z are the task's signal coordinates: the raw features along a few of the spectrum's directions,
each scaled to unit variance. On top of every component: label noise (0-20% of labels resampled
uniformly, half the tasks), a random permutation of the class ids (the module must not care which
class is called 0), and for some tasks per-feature scales and offsets (tables). The broader
prior (`MixturePrior.broad()`) adds, per task: spectra shaped like real embeddings' (a flatter
head and a steeper body, a power law with a knee; scripts/measure_spectra.py measured the
shipped embedders'), heavy-tailed points (multivariate t), pure-noise features beside the
informative ones, and strong class imbalance for the regression components. Dims the module
reads but a task does not fill are zero after the input map (`tart.projection.fit_set_map`),
which the trainer applies to every task, fitted on its context only, exactly as at inference.

Shape legend: B tasks, N points, D raw features, R signal dims, L classes.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

import torch

from tart.basis import check_basis
from tart.projection import BOTH_FIRSTS, apply_set_map, fit_set_map

COMPONENTS = ("logistic", "softmax", "gaussian", "clusters", "mlp", "isotropic", "local")


@dataclass
class RawTasks:
    """A batch of tasks: raw features, integer labels and each task's number of classes."""

    x_BND: torch.Tensor  # float32 raw features
    y_BN: torch.Tensor  # int64 labels in [0, n_classes_B[b])
    n_classes_B: torch.Tensor  # int64

    @staticmethod
    def cat(parts: list["RawTasks"]) -> "RawTasks":
        """The tasks of `parts` (same points and width) in one batch, in order."""
        return RawTasks(*(torch.cat(t) for t in zip(*((p.x_BND, p.y_BN, p.n_classes_B) for p in parts))))


@dataclass
class MixturePrior:
    """The mixture of components; `sample(B, N, D)` draws B tasks of N points in D raw dims.

    weights: relative frequency of each component. max_classes: largest class count a task can
    have (the module's C_max). beta_range: spectrum decay exponents. alpha_range: logit scales
    of the regression components (log-uniform). sep_range: class-mean separation of the
    Gaussian components, in noise standard deviations (log-uniform). max_signal_dims: largest R.
    dense_signal: False draws R uniform in [1, max_signal_dims] at full strength per direction;
    True draws R log-uniform (sparse and dense signals alike, as real embeddings spread a class
    difference over many directions) and scales each direction's strength by sqrt(min(1, 4 / R)),
    so a task's difficulty does not grow with R (otherwise dense tasks are all separable).
    table_frac: share of tasks with per-feature scales and offsets. noise_frac / max_flip: share of
    tasks with label noise and its largest rate. shared_frame: the tasks drawn together share one
    random orthonormal frame, each task giving its variances to the frame's directions in its own
    random order (each task alone is distributed as without it; one D x D QR per batch instead of
    one per task: the data path's cost); False gives each task its own frame.
    body_beta_range / knee_range: when given, each task's spectrum is a broken power law, slope
    beta (from beta_range) up to the knee j0 (log-uniform in knee_range) and a slope from
    body_beta_range beyond (real embeddings: flatter head, steeper body); empty: one power law.
    heavy_tail_frac: share of tasks whose points are multivariate t (each point's noise scaled by
    sqrt(nu / chi2_nu), nu log-uniform in [1, 10]). noise_feature_frac: share of tasks in which a
    random 10-60% of the raw features are replaced by pure noise (independent of the label, each
    with its own scale). imbalance_frac: share of the regression tasks (logistic, softmax, mlp)
    whose logits get log class priors from a Dirichlet(0.3) (strong imbalance).
    log_classes: class counts log-uniform between each component's smallest and max_classes (as
    real tasks: few classes common, many rare); False: uniform.
    signal_bias_range: how strongly the signal directions favour the spectrum's larger-variance
    ones: each task draws u uniform in this range and picks its R directions with probability
    proportional to lambda_j^u (0: any direction alike; 1: in proportion to the variance; 2 and
    more: mostly the leading ones, as in real embeddings: scripts/signal_profile.py).
    """

    weights: dict = field(default_factory=lambda: {
        "logistic": 0.2, "softmax": 0.15, "gaussian": 0.3, "clusters": 0.2, "mlp": 0.15})
    max_classes: int = 10
    beta_range: tuple = (0.0, 1.5)
    alpha_range: tuple = (0.5, 10.0)
    sep_range: tuple = (0.3, 3.0)
    max_signal_dims: int = 16
    dense_signal: bool = False
    table_frac: float = 0.3
    noise_frac: float = 0.5
    max_flip: float = 0.2
    shared_frame: bool = True
    body_beta_range: tuple = ()
    knee_range: tuple = ()
    heavy_tail_frac: float = 0.0
    noise_feature_frac: float = 0.0
    imbalance_frac: float = 0.0
    log_classes: bool = False
    signal_bias_range: tuple = (0.0, 1.0)

    @classmethod
    def broad(cls, **overrides) -> "MixturePrior":
        """The broader prior: every component (each classical learner's home ground in it), spectra
        shaped like real embeddings' and tables', heavy tails, noise features, strong imbalance."""
        cfg = dict(weights={"logistic": 0.15, "softmax": 0.1, "gaussian": 0.2, "clusters": 0.15, "mlp": 0.1,
                            "isotropic": 0.15, "local": 0.15},
                   beta_range=(0.0, 1.2), body_beta_range=(0.5, 2.5), knee_range=(2.0, 32.0),
                   heavy_tail_frac=0.2, noise_feature_frac=0.2, imbalance_frac=0.25)
        return cls(**{**cfg, **overrides})

    def __post_init__(self) -> None:
        unknown = set(self.weights) - set(COMPONENTS)
        if unknown:
            raise ValueError(f"unknown prior components {sorted(unknown)}; known: {COMPONENTS}")
        if not self.weights or min(self.weights.values()) < 0 or sum(self.weights.values()) <= 0:
            raise ValueError(f"component weights must be >= 0 with a positive sum, got {self.weights}")
        if self.max_classes < 2:
            raise ValueError(f"max_classes must be >= 2, got {self.max_classes}")
        self.beta_range, self.alpha_range, self.sep_range = (
            tuple(self.beta_range), tuple(self.alpha_range), tuple(self.sep_range))
        self.body_beta_range, self.knee_range = tuple(self.body_beta_range), tuple(self.knee_range)
        self.signal_bias_range = tuple(self.signal_bias_range)
        if len(self.signal_bias_range) != 2 or not 0.0 <= self.signal_bias_range[0] <= self.signal_bias_range[1]:
            raise ValueError(f"signal_bias_range must be (lo, hi) with 0 <= lo <= hi, got {self.signal_bias_range}")
        if bool(self.body_beta_range) != bool(self.knee_range):
            raise ValueError("body_beta_range and knee_range go together (a broken power law), "
                             f"got {self.body_beta_range} and {self.knee_range}")
        for name in ("heavy_tail_frac", "noise_feature_frac", "imbalance_frac", "table_frac", "noise_frac"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")

    def to_dict(self) -> dict:
        return {"name": "mixture", **asdict(self)}

    def sample(self, batch_size: int, n_points: int, n_raw: int,
               generator: torch.Generator | None = None, components: tuple[str, ...] | None = None) -> RawTasks:
        """B tasks, each from a component drawn by `weights` (or only from `components`)."""
        if batch_size < 1 or n_points < 1 or n_raw < 1:
            raise ValueError(f"batch_size, n_points and n_raw must be >= 1, got {batch_size}, {n_points}, {n_raw}")
        names = list(components or [c for c in COMPONENTS if self.weights.get(c, 0) > 0])
        probs = torch.tensor([float(self.weights.get(c, 1.0 if components else 0.0)) for c in names],
                             device=_device(generator))
        counts = torch.bincount(torch.multinomial(probs, batch_size, True, generator=generator),
                                minlength=len(names))
        parts = [SAMPLERS[c](self, int(n), n_points, n_raw, generator)
                 for c, n in zip(names, counts.tolist()) if n]
        return self._finish(RawTasks.cat(parts), generator)

    def sample_each(self, batch_size: int, n_points: int, n_raw: int, generator: torch.Generator | None = None,
                    components: tuple[str, ...] | None = None) -> RawTasks:
        """B tasks drawn one at a time: as `sample`, but nothing is shared between them (`sample`
        draws one number of signal directions and one frame per batch, cheap for training; an
        evaluation's row of tasks should cover those draws too)."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        return RawTasks.cat([self.sample(1, n_points, n_raw, generator, components) for _ in range(batch_size)])

    # ---- shared pieces -------------------------------------------------------------------
    def _finish(self, t: RawTasks, g) -> RawTasks:
        """Label noise, class-id permutation, per-feature scales/offsets (tables)."""
        B, N, D = t.x_BND.shape
        L, dev = self.max_classes, _device(g)
        y = t.y_BN
        rate_B = torch.rand(B, generator=g, device=dev) * self.max_flip * (torch.rand(B, generator=g, device=dev) < self.noise_frac)
        flip = torch.rand(B, N, generator=g, device=dev) < rate_B[:, None]
        random_y = (torch.rand(B, N, generator=g, device=dev) * t.n_classes_B[:, None]).long()
        y = torch.where(flip, random_y, y)
        # a random permutation of each task's class ids (only among its own classes)
        keys_BL = torch.rand(B, L, generator=g, device=dev) + (torch.arange(L, device=dev) >= t.n_classes_B[:, None])
        perm_BL = keys_BL.argsort(dim=1)
        y = perm_BL.gather(1, y)
        x = t.x_BND.float()
        if self.noise_feature_frac > 0:
            x = self._noise_features(x, g)
        table_B1 = (torch.rand(B, generator=g, device=dev) < self.table_frac).float()[:, None]
        log_scale_BD = torch.randn(B, D, generator=g, device=dev) * 1.5 * table_B1
        offset_BD = torch.randn(B, D, generator=g, device=dev) * 3.0 * table_B1
        x = x.add_(offset_BD[:, None]).mul_(log_scale_BD.exp()[:, None])  # in place: x is ours
        return RawTasks(x, y, t.n_classes_B)

    def _noise_features(self, x_BND: torch.Tensor, g) -> torch.Tensor:
        """In a share `noise_feature_frac` of the tasks, 10-60% of the raw features replaced by
        label-free Gaussian noise, each with its own scale around the task's typical feature's."""
        B, N, D = x_BND.shape
        dev = x_BND.device
        share_B1 = (0.1 + 0.5 * torch.rand(B, 1, generator=g, device=dev)) * (
            torch.rand(B, 1, generator=g, device=dev) < self.noise_feature_frac)
        noisy_BD = torch.rand(B, D, generator=g, device=dev) < share_B1
        scale_BD = x_BND.std(1).median(1, keepdim=True).values * _log_uniform(0.3, 3.0, (B, D), g)
        noise_BND = torch.randn(B, N, D, generator=g, device=dev) * scale_BD[:, None]
        return torch.where(noisy_BD[:, None], noise_BND, x_BND)


def _device(g: torch.Generator | None) -> torch.device:
    """Where tasks drawn with `g` live: its device (the CPU without one)."""
    return g.device if g is not None else torch.device("cpu")


def _log_uniform(lo: float, hi: float, shape, g) -> torch.Tensor:
    u = torch.rand(shape, generator=g, device=_device(g))
    return torch.exp(math.log(lo) + (math.log(hi) - math.log(lo)) * u)


def _uniform_int(lo: int, hi: int, shape, g) -> torch.Tensor:
    """Integers in [lo, hi] (inclusive)."""
    return torch.randint(lo, hi + 1, shape, generator=g, device=_device(g))


def class_counts(prior: MixturePrior, lo: int, B: int, g) -> torch.Tensor:
    """B class counts in [lo, max_classes]: uniform, or log-uniform where `prior.log_classes`."""
    hi = prior.max_classes
    if not prior.log_classes or lo == hi:
        return _uniform_int(lo, hi, (B,), g)
    u_B = torch.rand(B, generator=g, device=_device(g))
    return torch.exp(math.log(lo) + u_B * (math.log(hi + 1) - math.log(lo))).long().clamp(lo, hi)


def signal_dims(prior: MixturePrior, D: int, g) -> tuple[int, float]:
    """R, the number of signal directions (shared by the batch), and each one's strength."""
    r_max = min(D, prior.max_signal_dims)
    if not prior.dense_signal:
        return int(_uniform_int(1, r_max, (), g)), 1.0
    R = int(_log_uniform(1, r_max + 1, (), g).floor().clamp(1, r_max))
    return R, math.sqrt(min(1.0, 4.0 / R))


def task_space(prior: MixturePrior, B: int, D: int,
               g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, float]:
    """A raw space per task: returns (sqrt_lam_BD, Q, idx_BR, strength); idx_BR are the R
    eigen-directions (indices into lambda) that carry each task's class signal.

    Covariance Q diag(lambda) Q^T with lambda_j = j^-beta, lambda assigned to the columns of Q in
    a random order per task; Q is Haar-random (QR of a Gaussian matrix, columns' signs fixed by R):
    [D, D], shared by the batch (`shared_frame`: each task's eigen-directions are still Haar-random,
    since Q times a fixed permutation is), or [B, D, D], one per task. The signal lives along R
    (`signal_dims`) of the eigen-directions, chosen with a bias towards the larger-variance ones.
    """
    dev = _device(g)
    R, strength = signal_dims(prior, D, g)
    beta_B1 = prior.beta_range[0] + (prior.beta_range[1] - prior.beta_range[0]) * torch.rand(B, 1, generator=g, device=dev)
    order_BD = torch.rand(B, D, generator=g, device=dev).argsort(1) + 1  # each task's spectrum order
    lam_BD = spectrum(prior, order_BD.float(), beta_B1, g)
    frames = () if prior.shared_frame else (B,)
    q, r = torch.linalg.qr(torch.randn(*frames, D, D, generator=g, device=dev))
    q = q * torch.where(r.diagonal(dim1=-2, dim2=-1) < 0, -1.0, 1.0)[..., None, :]
    lo, hi = prior.signal_bias_range  # u = 0: uniform over directions, 1: by variance, more: the leading ones
    bias_BD = lam_BD ** (lo + (hi - lo) * torch.rand(B, 1, generator=g, device=dev))
    idx_BR = torch.multinomial(bias_BD, R, replacement=False, generator=g)
    return lam_BD.sqrt(), q, idx_BR, strength


def spectrum(prior: MixturePrior, j_BD: torch.Tensor, beta_B1: torch.Tensor, g) -> torch.Tensor:
    """The variances lambda_j of eigen-directions ranked j (1-based) [B, D]: j^-beta, or with
    `body_beta_range` a broken power law, continuous at the knee j0: j0^-beta (j / j0)^-beta2."""
    if not prior.body_beta_range:
        return j_BD**-beta_B1
    B = j_BD.shape[0]
    lo, hi = prior.body_beta_range
    beta2_B1 = lo + (hi - lo) * torch.rand(B, 1, generator=g, device=j_BD.device)
    knee_B1 = _log_uniform(*prior.knee_range, (B, 1), g)
    return torch.where(j_BD <= knee_B1, j_BD**-beta_B1, knee_B1**-beta_B1 * (j_BD / knee_B1) ** -beta2_B1)


def _noise(prior: MixturePrior, sqrt_lam_BD, N: int, g) -> torch.Tensor:
    """Spectral coordinates e [B, N, D] ~ N(0, diag(lambda)); in a share `heavy_tail_frac` of the
    tasks each point's scaled by sqrt(nu / chi2_nu) (multivariate t, nu log-uniform in [1, 10])."""
    B, D = sqrt_lam_BD.shape
    dev = _device(g)
    e = torch.randn(B, N, D, generator=g, device=dev).mul_(sqrt_lam_BD[:, None])
    if prior.heavy_tail_frac > 0:
        nu_B1 = _log_uniform(1.0, 10.0, (B, 1), g)
        chi2_BN = 2.0 * torch._standard_gamma((nu_B1 / 2).expand(B, N).contiguous(), generator=g)
        t_BN = (nu_B1 / chi2_BN.clamp_min(1e-12)).sqrt().clamp_max(1e3)  # a bound: no overflow downstream
        heavy_B1 = torch.rand(B, 1, generator=g, device=dev) < prior.heavy_tail_frac
        e = e.mul_(torch.where(heavy_B1, t_BN, torch.ones_like(t_BN))[..., None])
    return e


def _to_raw(e_BND: torch.Tensor, q: torch.Tensor) -> torch.Tensor:
    """Raw features: the spectral coordinates in the frame Q ([D, D] shared, or [B, D, D])."""
    return e_BND @ q.transpose(-2, -1)


def _signal(e_BND, sqrt_lam_BD, idx_BR) -> torch.Tensor:
    """Unit-variance signal coordinates z [B, N, R] (the chosen directions, standardised)."""
    idx_BNR = idx_BR[:, None].expand(-1, e_BND.shape[1], -1)
    return e_BND.gather(2, idx_BNR) / sqrt_lam_BD.gather(1, idx_BR)[:, None]


def _discriminative(prior, B, N, D, g, n_classes_B, head):
    """Shared body of logistic / softmax / mlp: z from the noise, labels from `head(z)` logits."""
    sqrt_lam, Q, idx, strength = task_space(prior, B, D, g)
    e = _noise(prior, sqrt_lam, N, g)
    z_BNR = _signal(e, sqrt_lam, idx)
    logits_BNL = head(z_BNR, strength)
    L = logits_BNL.shape[-1]
    unused = torch.arange(L, device=logits_BNL.device) >= n_classes_B[:, None]
    if prior.imbalance_frac > 0:  # log class priors from a Dirichlet(0.3): strong imbalance
        props_BL = torch._standard_gamma(torch.full((B, L), 0.3, device=logits_BNL.device), generator=g)
        props_BL = props_BL.masked_fill(unused, 0.0)
        log_prior_BL = (props_BL / props_BL.sum(1, keepdim=True).clamp_min(1e-30)).clamp_min(1e-4).log()
        skewed_B1 = torch.rand(B, 1, generator=g, device=logits_BNL.device) < prior.imbalance_frac
        logits_BNL = logits_BNL + torch.where(skewed_B1, log_prior_BL, torch.zeros_like(log_prior_BL))[:, None]
    logits_BNL = logits_BNL.masked_fill(unused[:, None], float("-inf"))
    y = torch.multinomial(torch.softmax(logits_BNL, -1).view(B * N, L), 1, generator=g).view(B, N)
    return RawTasks(_to_raw(e, Q), y, n_classes_B)


def sample_logistic(prior: MixturePrior, B: int, N: int, D: int, g=None) -> RawTasks:
    """Binary: y ~ Bernoulli(sigmoid(alpha * w . z + b)), w ~ N(0, I) (TART's family)."""
    alpha_B = _log_uniform(*prior.alpha_range, (B,), g)
    b_B = 0.5 * torch.randn(B, generator=g, device=_device(g))

    def head(z_BNR, strength):
        w_BR = torch.randn(B, z_BNR.shape[-1], generator=g, device=z_BNR.device) * strength
        s_BN = alpha_B[:, None] * torch.einsum("bnr,br->bn", z_BNR, w_BR) + b_B[:, None]
        return torch.stack([torch.zeros_like(s_BN), s_BN], -1)

    return _discriminative(prior, B, N, D, g, torch.full((B,), 2, device=_device(g)), head)


def sample_softmax(prior: MixturePrior, B: int, N: int, D: int, g=None) -> RawTasks:
    """3 to max_classes classes: logits = alpha * z W^T + b, W ~ N(0, I)."""
    L = prior.max_classes
    n_classes = class_counts(prior, min(3, L), B, g)
    alpha_B = _log_uniform(*prior.alpha_range, (B,), g)

    def head(z_BNR, strength):
        W_BLR = torch.randn(B, L, z_BNR.shape[-1], generator=g, device=z_BNR.device) * strength
        b_BL = 0.5 * torch.randn(B, L, generator=g, device=z_BNR.device)
        return alpha_B[:, None, None] * torch.einsum("bnr,blr->bnl", z_BNR, W_BLR) + b_BL[:, None]

    return _discriminative(prior, B, N, D, g, n_classes, head)


def sample_mlp(prior: MixturePrior, B: int, N: int, D: int, g=None) -> RawTasks:
    """2 to max_classes classes from a random 1-hidden-layer tanh network of z (smooth boundaries)."""
    L, H = prior.max_classes, 32
    n_classes = class_counts(prior, 2, B, g)
    alpha_B = _log_uniform(*prior.alpha_range, (B,), g)

    def head(z_BNR, strength):  # scale-free already (normalised by R and by the outputs' spread)
        R = z_BNR.shape[-1]
        dev = z_BNR.device
        W1 = torch.randn(B, R, H, generator=g, device=dev) * _log_uniform(0.5, 3.0, (B, 1, 1), g) / math.sqrt(R)
        b1 = torch.randn(B, 1, H, generator=g, device=dev)
        W2 = torch.randn(B, H, L, generator=g, device=dev) / math.sqrt(H)
        out_BNL = torch.tanh(z_BNR @ W1 + b1) @ W2
        out_BNL = out_BNL - out_BNL.mean(1, keepdim=True)  # no class dominates by offset alone
        return alpha_B[:, None, None] * out_BNL / out_BNL.std(1, keepdim=True).clamp_min(1e-6)

    return _discriminative(prior, B, N, D, g, n_classes, head)


def _generative(prior, B, N, D, g, clusters_per_class: int, isotropic: bool = False, local: bool = False):
    """Gaussian classes (or clusters) sharing the task's anisotropic noise; means low-rank.
    `isotropic`: the same noise in every direction and classes balanced in expectation; `local`:
    each cluster placed on its own, not around a class centre (a class's clusters interleave
    with the other classes')."""
    L, dev = prior.max_classes, _device(g)
    n_classes = class_counts(prior, 2, B, g)
    sqrt_lam, Q, idx, strength = task_space(prior, B, D, g)
    if isotropic:
        sqrt_lam = torch.ones_like(sqrt_lam)
    R = idx.shape[1]
    # class proportions: Dirichlet with a concentration from strongly imbalanced to balanced
    conc_B1 = _log_uniform(0.5, 50.0, (B, 1), g) if not isotropic else torch.full((B, 1), 1e4, device=dev)
    props_BL = torch._standard_gamma(conc_B1.expand(B, L).contiguous(), generator=g)
    props_BL = props_BL.masked_fill(torch.arange(L, device=dev) >= n_classes[:, None], 0.0)
    y_BN = torch.multinomial(props_BL / props_BL.sum(1, keepdim=True), N, replacement=True, generator=g)
    P = clusters_per_class
    sub_BN = torch.randint(0, P, (B, N), generator=g, device=dev)
    n_sub_BL = _uniform_int(2 if local else 1, P, (B, L), g)  # clusters each class really uses
    sub_BN = sub_BN % n_sub_BL.gather(1, y_BN)
    sep_B = _log_uniform(*prior.sep_range, (B,), g) * strength
    means_BLPR = torch.randn(B, L, P, R, generator=g, device=dev) * sep_B[:, None, None, None]
    if local:  # tighter noise around clusters spread 1.5-4 noise deviations apart
        sep_B = _log_uniform(1.5, 4.0, (B,), g) * strength
        means_BLPR = torch.randn(B, L, P, R, generator=g, device=dev) * sep_B[:, None, None, None]
    elif P > 1:  # clusters of a class scatter around the class centre
        means_BLPR = means_BLPR[:, :, :1] + 0.7 * sep_B[:, None, None, None] * torch.randn(B, L, P, R, generator=g, device=dev)
    e = _noise(prior, sqrt_lam, N, g)
    mu_BNR = means_BLPR[torch.arange(B, device=dev)[:, None], y_BN, sub_BN]  # in signal units
    offset_BNR = mu_BNR * sqrt_lam.gather(1, idx)[:, None]
    e = e.scatter_add(2, idx[:, None].expand(-1, N, -1), offset_BNR)
    return RawTasks(_to_raw(e, Q), y_BN, n_classes)


def sample_gaussian(prior: MixturePrior, B: int, N: int, D: int, g=None) -> RawTasks:
    """2 to max_classes Gaussian classes with shared anisotropic covariance."""
    return _generative(prior, B, N, D, g, 1)


def sample_clusters(prior: MixturePrior, B: int, N: int, D: int, g=None) -> RawTasks:
    """Like `gaussian`, with 1-4 clusters per class."""
    return _generative(prior, B, N, D, g, 4)


def sample_isotropic(prior: MixturePrior, B: int, N: int, D: int, g=None) -> RawTasks:
    """2 to max_classes balanced Gaussian classes, isotropic noise around each mean (nearest class
    mean's ground)."""
    return _generative(prior, B, N, D, g, 1, isotropic=True)


def sample_local(prior: MixturePrior, B: int, N: int, D: int, g=None) -> RawTasks:
    """2 to max_classes classes, each of 2-4 clusters placed independently (a class is not one
    region: nearest neighbours' ground, where a linear rule fails)."""
    return _generative(prior, B, N, D, g, 4, local=True)


SAMPLERS = {"logistic": sample_logistic, "softmax": sample_softmax, "gaussian": sample_gaussian,
            "clusters": sample_clusters, "mlp": sample_mlp, "isotropic": sample_isotropic,
            "local": sample_local}


def prior_from_dict(cfg: dict) -> MixturePrior:
    """Rebuild a MixturePrior from `to_dict()` output."""
    cfg = dict(cfg)
    name = cfg.pop("name", "mixture")
    if name != "mixture":
        raise ValueError(f"unknown tart-2 prior {name!r}; known: ['mixture']")
    return MixturePrior(**cfg)


@dataclass
class SetCurriculum:
    """How tart-2's training batches are shaped: context sizes K (log-uniform in [k_min, k_max];
    in a share `large_frac` of the steps uniform in [k_max // 8, k_max] instead, since log-uniform
    alone leaves large contexts rare), raw widths D (log-uniform in [d_min, d_max]), `n_queries`
    per task, and as many tasks as fit in `tokens` (K + n_queries tokens each), between 4 and the
    trainer's batch size; `map_basis`: how the input map's basis is found for training batches
    (`tart.basis`: "fast" or "exact"; the classifier always uses "exact")."""

    k_min: int = 4
    k_max: int = 576
    d_min: int = 2
    d_max: int = 320
    n_queries: int = 64
    tokens: int = 12288
    large_frac: float = 0.0
    map_basis: str = "fast"

    def __post_init__(self) -> None:
        if not 2 <= self.k_min <= self.k_max or not 1 <= self.d_min <= self.d_max:
            raise ValueError(f"need 2 <= k_min <= k_max and 1 <= d_min <= d_max, got {self}")
        if not 0.0 <= self.large_frac <= 1.0:
            raise ValueError(f"large_frac must be in [0, 1], got {self.large_frac}")
        if self.n_queries < 1 or self.tokens < 1:
            raise ValueError(f"n_queries and tokens must be >= 1, got {self}")
        check_basis(self.map_basis)

    def shape(self, g: torch.Generator, max_batch: int) -> tuple[int, int, int]:
        """(tasks B, context size K, raw width D) of one step."""
        k = int(_log_uniform(self.k_min, self.k_max + 1, (), g).floor().clamp(self.k_min, self.k_max))
        if self.large_frac and float(torch.rand((), generator=g, device=_device(g))) < self.large_frac:
            k = int(_uniform_int(max(self.k_min, self.k_max // 8), self.k_max, (), g))
        d = int(_log_uniform(self.d_min, self.d_max + 1, (), g).floor().clamp(self.d_min, self.d_max))
        b = max(min(4, max_batch), min(max_batch, self.tokens // (k + self.n_queries)))
        return b, k, d


@dataclass
class SetBatch:
    """Mapped tasks as the module reads them: context and query features, labels, class counts."""

    cx_BKd: torch.Tensor
    cy_BK: torch.Tensor
    qx_BMd: torch.Tensor
    qy_BM: torch.Tensor
    n_classes_B: torch.Tensor
    used_BL: torch.Tensor | None = None  # the class slots each task uses (`assign_slots`); None: 0..n-1

    def to(self, device) -> "SetBatch":
        return SetBatch(*(None if getattr(self, f.name) is None else getattr(self, f.name).to(device)
                          for f in fields(self)))


def assign_slots(batch: SetBatch, n_slots: int, generator: torch.Generator | None = None) -> SetBatch:
    """Each task's classes moved to distinct random slots among `n_slots` (a module with
    `label_codes` then learns no slot's own meaning); `used_BL` marks the slots each task uses."""
    B, dev = batch.cy_BK.shape[0], batch.cy_BK.device
    if int(batch.n_classes_B.max()) > n_slots:
        raise ValueError(f"tasks of {int(batch.n_classes_B.max())} classes do not fit {n_slots} slots")
    g_dev = _device(generator)
    slot_BS = torch.rand(B, n_slots, generator=generator, device=g_dev).argsort(1).to(dev)
    own_BS = torch.arange(n_slots, device=dev) < batch.n_classes_B[:, None]
    used_BS = torch.zeros(B, n_slots, dtype=torch.bool, device=dev).scatter(1, slot_BS, own_BS)
    return SetBatch(batch.cx_BKd, slot_BS.gather(1, batch.cy_BK), batch.qx_BMd, slot_BS.gather(1, batch.qy_BM),
                    batch.n_classes_B, used_BS)


def sample_set_batch(prior: MixturePrior, curriculum: SetCurriculum, n_dims: int, max_batch: int,
                     generator: torch.Generator | None = None, shape: tuple[int, int, int] | None = None,
                     components: tuple[str, ...] | None = None, device: torch.device | str = "cpu",
                     whiten: bool | str = False, basis: str = "exact", first: str = "means") -> SetBatch:
    """One training batch: raw tasks from the prior (drawn where `generator` lives), each mapped on
    `device` by the input map fitted on its own context (`tart.projection.fit_set_map`, its basis
    found by `basis`), exactly as the classifier maps real features (`whiten`: the module's
    `whiten_map`; "both": each task's map whitened or not at random, half and half; `first`: its
    `map_first`, "both" likewise: each task's map led by one of `BOTH_FIRSTS` at random)."""
    B, K, D = shape or curriculum.shape(generator, max_batch)
    t = prior.sample(B, K + curriculum.n_queries, D, generator, components)
    x_BND, y_BN = t.x_BND.to(device), t.y_BN.to(device)
    if whiten == "both":
        mask = (torch.rand(B, generator=generator, device=_device(generator)) < 0.5).to(device)
    else:
        mask = bool(whiten)
    turned = True
    if first == "both":
        first = BOTH_FIRSTS[1]
        turned = (torch.rand(B, generator=generator, device=_device(generator)) < 0.5).to(device)
    params = fit_set_map(x_BND[:, :K], y_BN[:, :K], n_dims, whiten=mask, basis=basis, first=first, turned=turned)
    z_BNd = apply_set_map(params, x_BND)
    return SetBatch(z_BNd[:, :K], y_BN[:, :K], z_BNd[:, K:], y_BN[:, K:], t.n_classes_B.to(device))
