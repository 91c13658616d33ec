"""Context-fitted projection: real features -> the synthetic tasks' feature space.

The reasoning module was trained on x ~ N(0, I_d). `ContextProjection` makes real embeddings look
like that: PCA fitted on the k context vectors only (centred on the context mean), then each kept
component scaled to unit variance over the context (the original's whitening). Queries get the
same transform, never a refit.

Small contexts (the original required k >= 18 for d = 16): centred k vectors span at most k - 1
directions, so only r = min(k - 1, D, n_components) components carry information. Those r are
whitened; components whose context variance is negligible (below `rel_tol` = 1e-10 times the largest,
e.g. duplicated or constant features) are dropped rather than blown up by whitening. The missing
dims are then filled with zeros, exactly how the module saw lower-dimensional tasks during training
(inactive dims are zeroed by the curriculum), or, with `fill="tile"`, by repeating the kept
components (the original tiled 8 audio/vision components twice). With k = 1 every output is zero.
The result is always finite.

`basis="class-mean"` (beyond the original; needs the context's labels) spans the kept components
differently: the direction between the two class means of the context first, then the top principal
directions of what that direction leaves, then the same PCA + whitening inside that subspace. PCA
alone can miss the direction that separates the classes when it is not among the 16 of largest
variance.

`center="balanced"` (the default; beyond the original) centres on the midpoint of the two class
means when `fit` gets two-class labels, instead of the context mean. The module was trained on tasks
whose decision boundary passes through the origin with classes equally likely (no intercept); with
a balanced context the two centres coincide, but with an imbalanced one the context mean sits
towards the larger class, shifting the boundary into it (the module then over-predicts the smaller
class). Base rates are the classifier's `class_prior`'s job. `center="mean"` is the original's;
without labels the context mean is used.

`standardize` (beyond the original) first scales every input feature to unit variance over the
context, so the PCA is that of the context's correlation matrix rather than its covariance. A causal
language model's hidden states carry a few "massive activation" dims whose variance dwarfs the rest
and plain PCA spends its components on them; sentence encoders, Whisper and MobileNetV2 features
have no such dims, and there scaling up every low-variance (noise) feature did not help. So the
default, "auto", standardises only when the largest feature variance over the context is more than
`AUTO_RATIO` = 50 times the median one (a causal LM's hidden states are far above it, sentence
encoders', Whisper's and MobileNetV2's features near or below it). `standardized_` records the
choice. Features constant over the context (variance below `rel_tol` times the largest) are
set to zero rather than blown up. `standardize=False` is the original's.

Shape legend: K context points, M queries, D input features, R kept components, d output dims.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass, fields

import numpy as np
import torch
import torch.nn.functional as F

from tart.basis import check_basis, mean_rows, residual_rows, valid_first
from tart.logistic_first import logistic_first

FILLS = ("zeros", "tile")
BASES = ("pca", "class-mean")
CENTERS = ("balanced", "mean")
FIRSTS = ("means", "logistic", "logistic-wide", "logistic-cv", "logistic-1se", "logistic-ovr")  # a tart-2 map's leading rows (`fit_set_map(first=...)`)
MAP_FIRSTS = FIRSTS + ("both",)  # the values of a tart-2 module's `map_first`; "both": BOTH_FIRSTS
BOTH_FIRSTS = ("means", "logistic-ovr")  # the leading rows of a module trained on both (map_first="both")
WIDE = 2  # first="logistic-wide": the logistic fit reads this many times the map's rows
AUTO_RATIO = 50.0  # standardize="auto": max / median feature variance above which features are scaled


class ContextProjection:
    """PCA + whitening fitted on a context; `fit(X_KD, y_K)`, `transform(X_MD) -> [M, out_dims]`."""

    def __init__(
        self, out_dims: int = 16, n_components: int | None = None, fill: str = "zeros",
        rel_tol: float = 1e-10, basis: str = "pca", center: str = "balanced", standardize: bool | str = "auto",
    ):
        if center not in CENTERS:
            raise ValueError(f"center must be one of {CENTERS}, got {center!r}")
        if standardize not in (True, False, "auto"):
            raise ValueError(f'standardize must be True, False or "auto", got {standardize!r}')
        if basis not in BASES:
            raise ValueError(f"basis must be one of {BASES}, got {basis!r}")
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, got {fill!r}")
        if out_dims < 1:
            raise ValueError(f"out_dims must be >= 1, got {out_dims}")
        n_components = out_dims if n_components is None else n_components
        if not 1 <= n_components <= out_dims:
            raise ValueError(f"n_components must be in [1, out_dims={out_dims}], got {n_components}")
        self.out_dims, self.n_components, self.fill, self.rel_tol = out_dims, n_components, fill, rel_tol
        self.basis, self.center, self.standardize = basis, center, standardize

    def fit(self, X_KD: np.ndarray, y_K: np.ndarray | None = None, *, validate: bool = True) -> "ContextProjection":
        """Fit on the context vectors only (and their labels, for basis="class-mean").
        `validate=False` skips the checks of X_KD (2-D, non-empty, finite) for callers that made them."""
        X_KD = _check_features(X_KD, "context") if validate else np.asarray(X_KD, dtype=np.float64)
        raw_means = None if y_K is None else _class_means(X_KD, y_K)  # (class 0, class 1) or None
        self.mean_D = X_KD.mean(axis=0)
        self.inv_scale_D = self._inverse_scale(X_KD - self.mean_D)
        Xc_KD = (X_KD - self.mean_D) * self.inv_scale_D  # centred (and standardised) context
        means = None if raw_means is None else [(m - self.mean_D) * self.inv_scale_D for m in raw_means]
        # SVD of the centred context: rows of Vt are the principal directions, s**2/K their variance
        if self.basis == "class-mean":
            B_PD = self._class_mean_basis(Xc_KD, y_K, means)
            _, s, Vt_PP = np.linalg.svd(Xc_KD @ B_PD.T, full_matrices=False)
            Vt_RD = Vt_PP @ B_PD
        else:
            _, s, Vt_RD = np.linalg.svd(Xc_KD, full_matrices=False)
        var_R = s**2 / len(X_KD)
        r = min(self.n_components, len(var_R))
        keep = var_R[:r] > self.rel_tol * max(var_R[0] if len(var_R) else 0.0, np.finfo(np.float64).tiny)
        r = int(keep.sum())
        self.components_RD = Vt_RD[:r]
        self.scale_R = np.sqrt(var_R[:r])
        self.n_kept_ = r
        if self.center == "balanced" and raw_means is not None:
            self.mean_D = 0.5 * (raw_means[0] + raw_means[1])  # the midpoint of the two class means
        return self

    def _inverse_scale(self, Xc_KD: np.ndarray) -> np.ndarray:
        """Per-feature factor: 1 / context std (0 for features constant over the context), or ones."""
        var_D = (Xc_KD**2).mean(axis=0)
        floor = self.rel_tol * max(var_D.max(), np.finfo(np.float64).tiny)
        self.standardized_ = self.standardize is True or bool(
            self.standardize == "auto" and var_D.max() > AUTO_RATIO * max(np.median(var_D), floor))
        if not self.standardized_:
            return np.ones(Xc_KD.shape[1])
        return np.where(var_D > floor, 1.0 / np.sqrt(np.maximum(var_D, floor)), 0.0)

    def _class_mean_basis(self, Xc_KD: np.ndarray, y_K, means) -> np.ndarray:
        """Orthonormal rows: the class-mean difference, then the residual's principal directions."""
        if y_K is None:
            raise ValueError('basis="class-mean" needs the context labels: fit(X, y)')
        if means is None:
            n = len(np.unique(np.asarray(y_K).ravel()))
            raise ValueError(f'basis="class-mean" needs exactly 2 classes in the context, got {n}')
        u_D = means[1] - means[0]
        norm = np.linalg.norm(u_D)
        scale = np.abs(Xc_KD).max() if Xc_KD.size else 0.0
        if not norm > self.rel_tol * max(scale, np.finfo(np.float64).tiny):
            return np.linalg.svd(Xc_KD, full_matrices=False)[2][: self.n_components]
        u_D = u_D / norm
        resid_KD = Xc_KD - np.outer(Xc_KD @ u_D, u_D)
        _, s, Vt = np.linalg.svd(resid_KD, full_matrices=False)
        floor = self.rel_tol * max(s[0] if len(s) else 0.0, np.finfo(np.float64).tiny)
        m = int((s[: self.n_components - 1] > floor).sum())
        return np.vstack([u_D[None], Vt[:m]])

    def transform(self, X_MD: np.ndarray, *, validate: bool = True) -> np.ndarray:
        """Project and whiten with the context's statistics; float32 [M, out_dims].
        `validate=False` skips the checks of X_MD (as `fit`'s)."""
        if not hasattr(self, "mean_D"):
            raise RuntimeError("ContextProjection is not fitted: call fit(context) first")
        if validate:
            X_MD = _check_features(X_MD, "query", n_features=len(self.mean_D))
        Z_MR = (X_MD - self.mean_D) * self.inv_scale_D @ self.components_RD.T / self.scale_R
        out = np.zeros((len(X_MD), self.out_dims), dtype=np.float64)
        r = self.n_kept_
        if r and self.fill == "tile":
            reps = -(-self.out_dims // r)
            out[:] = np.tile(Z_MR, reps)[:, : self.out_dims]
        else:
            out[:, :r] = Z_MR
        return out.astype(np.float32)

    def fit_transform(self, X_KD: np.ndarray, y_K: np.ndarray | None = None) -> np.ndarray:
        return self.fit(X_KD, y_K).transform(X_KD)

    def fit_many(self, contexts: list[tuple[np.ndarray, np.ndarray, int]]) -> list["ContextProjection"]:
        """Copies of this (unfitted) projection, each fitted on one checked (context, labels, view);
        it has one view (0)."""
        out = []
        for X_KD, y_K, view in contexts:
            if view != 0:
                raise ValueError(f"ContextProjection has one view, got view {view}")
            out.append(copy.deepcopy(self).fit(X_KD, y_K, validate=False))
        return out


def feature_order(X_KD: np.ndarray, tiebreak: np.ndarray | None = None) -> np.ndarray:
    """The rows' order sorted by their features (first feature, then the next, ...; then `tiebreak`):
    the same rows in any input order, and after any common positive scale that keeps their order."""
    keys = list(np.asarray(X_KD).T[::-1])
    return np.lexsort(keys if tiebreak is None else [tiebreak, *keys])


def _class_means(X_KD: np.ndarray, y_K) -> tuple[np.ndarray, np.ndarray] | None:
    """The context's two class means (sorted class order), or None unless exactly 2 classes."""
    y_K = np.asarray(y_K).ravel()
    if len(y_K) != len(X_KD):
        raise ValueError(f"context has {len(X_KD)} vectors but {len(y_K)} labels")
    classes = np.unique(y_K)
    if len(classes) != 2:
        return None
    return X_KD[y_K == classes[0]].mean(0), X_KD[y_K == classes[1]].mean(0)


def _check_features(X, what: str, n_features: int | None = None) -> np.ndarray:
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2:
        raise ValueError(f"{what} features must be a 2-D array [n, D], got shape {X.shape}")
    if len(X) == 0:
        raise ValueError(f"{what} features are empty (0 rows)")
    if not np.isfinite(X).all():
        raise ValueError(f"{what} features contain NaN or inf values")
    if n_features is not None and X.shape[1] != n_features:
        raise ValueError(f"{what} features have {X.shape[1]} dims, the context had {n_features}")
    return X


# ---- tart-2's input map ---------------------------------------------------------------------
@dataclass
class SetMapParams:
    """A fitted tart-2 input map per task: x -> ((x * inv_scale) - center) @ basis^T / scale."""

    inv_scale_BD: torch.Tensor  # per-feature standardisation (ones when not standardised)
    center_BD: torch.Tensor  # the mean of the context's class means (balanced centre)
    basis_BdD: torch.Tensor  # orthonormal rows (whitened ones with whiten=True); zero rows where a
    # task has fewer directions
    scale_B: torch.Tensor  # one global scale per task
    n_kept_B: torch.Tensor  # informative rows of the basis


def fit_set_map(x_BKD: torch.Tensor, y_BK: torch.Tensor, out_dims: int, standardize: bool | str = "auto",
                rel_tol: float = 1e-5, whiten: bool | torch.Tensor = False, basis: str = "exact",
                first: str = "means", turned: bool | torch.Tensor = True) -> SetMapParams:
    """Fit tart-2's input map on each task's context (batched; the trainer and the classifier
    both call this, so the module trains on exactly what it reads at inference).

    1. standardize ("auto": as `ContextProjection`) each feature over the context;
    2. centre on the mean of the class means (each class counts once, whatever its size);
    3. basis: the directions spanned by the class means first (by their spread), then the
       principal directions of what they leave (`basis`: "exact" by full SVDs, "fast" by subspace
       iteration, the trainer's data path: `tart.basis`), `out_dims` rows at most; fewer when the context
       spans fewer (the rest of the output is zero, as the module saw in training); each row's
       sign is fixed by the row itself, so the map does not depend on what the classes are called;
       `first` (`SetReasonerConfig.map_first`, "means" or a "logistic..." value) turns a
       context's kept rows within their span to lead with what the context's own ridge logistic
       regression reads, then the principal directions of what it leaves (`tart.logistic_first`:
       two-class contexts, and with "logistic-ovr" 3 to 10 classes by one-vs-rest fits; other
       contexts keep their means first); "logistic-wide" fits in `WIDE` times as many rows;
       `turned` (a bool [B]: `map_first="both"`'s trainer) turns only the tasks it marks;
    4. `whiten` (a module trained for it, `SetReasonerConfig.whiten_map`): the kept directions are
       whitened by the context's within-class covariance, shrunk (Ledoit-Wolf, `shrunk_within`)
       towards the average within-class variance of all the raw features, so a direction that
       varies little inside the classes counts as much as it would for shrinkage LDA, while few
       examples keep the map close to the unwhitened one; a bool tensor [B] whitens the tasks it
       marks (the trainer of a module that reads both maps, `whiten_map="both"`);
    5. one global scale (the RMS of the projected context over the kept rows): without `whiten`,
       the relative variance of the directions is kept.
    """
    if standardize not in (True, False, "auto"):
        raise ValueError(f'standardize must be True, False or "auto", got {standardize!r}')
    check_basis(basis)
    check_first(first)
    B, K, D = x_BKD.shape
    tiny = torch.finfo(x_BKD.dtype).tiny
    var_BD = torch.var_mean(x_BKD, 1, correction=0)[0]
    floor_B1 = rel_tol**2 * var_BD.amax(1, keepdim=True).clamp_min(tiny)
    flag_B1 = torch.full((B, 1), bool(standardize is True), device=x_BKD.device)
    if standardize == "auto":
        flag_B1 = var_BD.amax(1, keepdim=True) > AUTO_RATIO * torch.maximum(var_BD.median(1, keepdim=True).values, floor_B1)
    scaled_BD = torch.where(var_BD > floor_B1, var_BD.clamp_min(tiny).rsqrt(), torch.zeros_like(var_BD))
    inv_BD = torch.where(flag_B1, scaled_BD, torch.ones_like(var_BD))
    xs_BKD = x_BKD * inv_BD[:, None]
    L = int(y_BK.max()) + 1
    onehot_BKL = F.one_hot(y_BK.long(), L).to(x_BKD.dtype)
    count_BL = onehot_BKL.sum(1)
    present_BL = (count_BL > 0).to(x_BKD.dtype)
    means_BLD = onehot_BKL.transpose(1, 2) @ xs_BKD / count_BL.clamp_min(1)[..., None]
    center_BD = (means_BLD * present_BL[..., None]).sum(1) / present_BL.sum(1, keepdim=True)
    xc_BKD = xs_BKD.sub_(center_BD[:, None])  # (in place: big contexts are the data path's cost)
    size_B1 = torch.maximum(xc_BKD.amax((1, 2)), -xc_BKD.amin((1, 2)))[:, None].clamp_min(tiny)
    vh_b, s_b = mean_rows((means_BLD - center_BD[:, None]) * present_BL[..., None], basis)
    ok_b = s_b > rel_tol * size_B1
    vh_b = vh_b * ok_b[..., None]
    resid_BKD = torch.baddbmm(xc_BKD, xc_BKD @ vh_b.transpose(1, 2), vh_b, alpha=-1)
    width = WIDE * out_dims if first == "logistic-wide" else out_dims  # the span the logistic fits read
    vh_r, s_r = residual_rows(resid_BKD, width, basis)
    ok_r = s_r > rel_tol * size_B1 * math.sqrt(K)
    rows = torch.cat([vh_b, vh_r], 1)
    ok = torch.cat([ok_b, ok_r], 1)
    kept_BdD, kept_Bd = valid_first(rows, ok, width)
    basis_BdD = kept_BdD * kept_Bd[..., None]
    if basis_BdD.shape[1] < width:
        basis_BdD = F.pad(basis_BdD, (0, 0, 0, width - basis_BdD.shape[1]))
    n_kept_B = ok.sum(1).clamp_max(width)
    if first != "means":
        basis_BdD = _led_by(first, turned, xc_BKD, y_BK, present_BL, basis_BdD, n_kept_B)
        basis_BdD, n_kept_B = basis_BdD[:, :out_dims], n_kept_B.clamp_max(out_dims)
    # a sign per row that depends on the row alone (its largest entry positive, as scikit-learn's
    # svd_flip), so renaming the classes gives the very same map
    peak_Bd1 = basis_BdD.gather(2, basis_BdD.abs().argmax(2, keepdim=True))
    basis_BdD = basis_BdD * torch.where(peak_Bd1 < 0, -1.0, 1.0).to(basis_BdD.dtype)
    mask_B = torch.as_tensor(whiten, device=x_BKD.device).expand(B)
    if mask_B.any():
        within_BKD = xc_BKD - onehot_BKL @ (means_BLD - center_BD[:, None])  # each point minus its class mean
        white_BdD = _whitening(within_BKD, basis_BdD, var_BD > floor_B1) @ basis_BdD
        basis_BdD = torch.where(mask_B[:, None, None], white_BdD, basis_BdD)
    z_BKd = xc_BKD @ basis_BdD.transpose(1, 2)
    ms_B = (z_BKd**2).sum((1, 2)) / (K * n_kept_B.clamp_min(1))
    scale_B = torch.where(n_kept_B > 0, ms_B.clamp_min(tiny).sqrt(), torch.ones_like(ms_B))
    return SetMapParams(inv_BD, center_BD, basis_BdD, scale_B, n_kept_B)


def _led_by(first: str, turned: bool | torch.Tensor, xc_BKD, y_BK, present_BL, basis_BdD, n_kept_B) -> torch.Tensor:
    """The basis [B, d, D] of the tasks `turned` marks led by `first`'s logistic fits (fitted for
    those tasks alone), the others' as it is."""
    turned_B = torch.as_tensor(turned, device=xc_BKD.device).expand(len(xc_BKD))
    if turned_B.all():
        return logistic_first(xc_BKD, y_BK, present_BL, basis_BdD, n_kept_B, first)
    at = turned_B.nonzero().squeeze(1)
    led_BdD = basis_BdD.clone()
    if len(at):
        led_BdD[at] = logistic_first(xc_BKD[at], y_BK[at], present_BL[at], basis_BdD[at], n_kept_B[at], first)
    return led_BdD


def check_first(first: str) -> str:
    if first not in FIRSTS:
        raise ValueError(f"first must be one of {FIRSTS}, got {first!r}")
    return first


def shrunk_within(w_BKD: torch.Tensor, counted_BD: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Ledoit-Wolf (2004) for within-class residuals w [B, K, D] (taken as centred): the shrinkage
    intensity a [B] in [0, 1] and the target mu [B] (the mean variance over the `counted` features),
    computed through the K x K Gram matrix, so any D is cheap; the covariance is (1 - a) S + a mu I."""
    K = w_BKD.shape[1]
    tiny = torch.finfo(w_BKD.dtype).tiny
    gram_BKK = w_BKD @ w_BKD.transpose(1, 2)
    n_feat_B = counted_BD.sum(1).clamp_min(1).to(w_BKD.dtype)
    mu_B = gram_BKK.diagonal(dim1=1, dim2=2).sum(1) / K / n_feat_B
    gram_fro2_B = (gram_BKK**2).sum((1, 2))  # ||W W^T||_F^2 = K^2 ||S||_F^2
    delta_B = (gram_fro2_B / K**2 - mu_B**2 * n_feat_B).clamp_min(tiny)  # ||S - mu I||_F^2
    norms4_B = (gram_BKK.diagonal(dim1=1, dim2=2) ** 2).sum(1)
    beta_B = ((norms4_B - gram_fro2_B / K) / K**2).clamp_min(0.0)
    return torch.minimum(beta_B / delta_B, torch.ones_like(beta_B)), mu_B


def _whitening(w_BKD: torch.Tensor, basis_BdD: torch.Tensor, counted_BD: torch.Tensor) -> torch.Tensor:
    """T [B, d, d] (symmetric) with T @ basis the whitened basis: the inverse square root of the
    shrunk within-class covariance in the basis' coordinates (identity on its zero rows)."""
    K = w_BKD.shape[1]
    a_B, mu_B = shrunk_within(w_BKD, counted_BD)
    wz_BKd = w_BKD @ basis_BdD.transpose(1, 2)
    kept_Bd = (basis_BdD.abs().sum(2) > 0).to(w_BKD.dtype)
    eye = torch.eye(basis_BdD.shape[1], dtype=w_BKD.dtype, device=w_BKD.device)
    cov_Bdd = ((1 - a_B)[:, None, None] * (wz_BKd.transpose(1, 2) @ wz_BKd) / K
               + (a_B * mu_B)[:, None, None] * eye * kept_Bd[:, None, :] + eye * (1 - kept_Bd)[:, None, :])
    floor = torch.finfo(w_BKD.dtype).eps * cov_Bdd.diagonal(dim1=1, dim2=2).amax(1).clamp_min(1.0)
    ev_Bd, U_Bdd = torch.linalg.eigh(cov_Bdd)
    inv_sqrt_Bd = torch.maximum(ev_Bd, floor[:, None]).rsqrt()
    return (U_Bdd * inv_sqrt_Bd[:, None, :]) @ U_Bdd.transpose(1, 2)


def apply_set_map(params: SetMapParams, x_BND: torch.Tensor) -> torch.Tensor:
    """Map features [B, N, D] with a fitted map: [B, N, out_dims]."""
    z_BNd = (x_BND * params.inv_scale_BD[:, None] - params.center_BD[:, None]) @ params.basis_BdD.transpose(1, 2)
    return z_BNd / params.scale_B[:, None, None]


WHITEN_MAPS = (False, True, "both")  # the values of a tart-2 module's `whiten_map`


def map_views(whiten: bool | str) -> tuple[bool, ...]:
    """The maps a module reads, from its `whiten_map`: one (unwhitened or whitened), or both ("both":
    the module was trained on both and its predictions through the two are averaged)."""
    if whiten not in WHITEN_MAPS:
        raise ValueError(f'whiten must be False, True or "both", got {whiten!r}')
    return (False, True) if whiten == "both" else (bool(whiten),)


def map_firsts(first: str) -> tuple[str, ...]:
    """The leading rows of the maps a module reads, from its `map_first`: one, or ("both")
    `BOTH_FIRSTS`, read as views of the context and weighed on it as the whitened and unwhitened
    maps are."""
    if first not in MAP_FIRSTS:
        raise ValueError(f"map_first must be one of {MAP_FIRSTS}, got {first!r}")
    return BOTH_FIRSTS if first == "both" else (first,)


def set_views(whiten_map: bool | str, standardize: bool | str, both_scalings: bool = False,
              first: str = "means") -> list[tuple]:
    """(whiten, standardize, first) of each view of a context a module reads: its `whiten_map`'s
    maps with its `map_first`'s leading rows, each with `standardize`, and (`both_scalings` with
    "auto") also with every feature standardised."""
    scalings = ("auto", True) if both_scalings and standardize == "auto" else (standardize,)
    return [(w, s, f) for f in map_firsts(first) for w in map_views(whiten_map) for s in scalings]


class SetMap:
    """tart-2's input map for one context (numpy in, float32 out), built on `fit_set_map`. It may
    hold several views of the context (`views`: (whiten, standardize, first) triples, or
    (whiten, standardize) pairs read with `first`; by default those of `whiten`, "both" giving two):
    `transform_views` maps through each. `first`: the leading rows (`fit_set_map`) of a view that
    does not name its own."""

    first = "means"  # what maps saved before `first` existed were fitted with

    def __init__(self, out_dims: int = 64, standardize: bool | str = "auto", whiten: bool | str = False,
                 views: list[tuple] | None = None, first: str = "means"):
        if out_dims < 1:
            raise ValueError(f"out_dims must be >= 1, got {out_dims}")
        self.first = check_first(first)
        views = [tuple(v) + (self.first,) * (3 - len(v)) for v in (views or set_views(whiten, standardize, first=first))]
        for w, st, f in views:
            map_views(w)
            check_first(f)
            if st not in (True, False, "auto"):
                raise ValueError(f'standardize must be True, False or "auto", got {st!r}')
        self.out_dims, self.standardize, self.whiten, self.views = out_dims, standardize, whiten, views

    def fit(self, X_KD: np.ndarray, y_K: np.ndarray, *, validate: bool = True) -> "SetMap":
        """Fit on the context vectors and their integer labels (0..L-1). `validate=False` skips
        the checks of X_KD and y_K (as `ContextProjection.fit`'s)."""
        if validate:
            X_KD = _check_features(X_KD, "context")
        y_K = np.asarray(y_K).ravel()
        if validate and len(y_K) != len(X_KD):
            raise ValueError(f"context has {len(X_KD)} vectors but {len(y_K)} labels")
        x_1KD, y_1K = torch.from_numpy(X_KD)[None], torch.from_numpy(y_K.astype(np.int64))[None]
        fitted = [fit_set_map(x_1KD, y_1K, self.out_dims, st, whiten=w, first=f) for w, st, f in self.views]
        self.params_ = SetMapParams(*(torch.cat([getattr(p, f.name) for p in fitted])  # one task per view
                                      for f in fields(SetMapParams)))
        self.n_features_ = X_KD.shape[1]
        self.n_kept_ = int(self.params_.n_kept_B[0])
        return self

    def fit_many(self, contexts: list[tuple[np.ndarray, np.ndarray, int]]) -> list["SetMap"]:
        """One fitted single-view map per checked (context [K, D], labels [K], view index into
        `views`): contexts of one size and view are fitted in one batched `fit_set_map`, each in
        its canonical row order (by features, then label), so the map reads the context as a set
        even where its singular values tie (binary or duplicated features)."""
        groups: dict[tuple[int, int], list[int]] = {}
        for i, (X_KD, _, view) in enumerate(contexts):
            groups.setdefault((len(X_KD), view), []).append(i)
        out: list = [None] * len(contexts)
        for (_, view), ids in groups.items():
            whiten, standardize, first = self.views[view]
            orders = [feature_order(contexts[i][0], contexts[i][1]) for i in ids]
            x_BKD = torch.from_numpy(np.stack([contexts[i][0][o] for i, o in zip(ids, orders)]))
            y_BK = torch.from_numpy(np.stack([np.asarray(contexts[i][1])[o] for i, o in zip(ids, orders)]).astype(np.int64))
            params = fit_set_map(x_BKD, y_BK, self.out_dims, standardize, whiten=whiten, first=first)
            for b, i in enumerate(ids):
                one = SetMap(self.out_dims, standardize, whiten, views=[(whiten, standardize, first)], first=first)
                one.params_ = SetMapParams(*(getattr(params, f.name)[b : b + 1] for f in fields(SetMapParams)))
                one.n_features_, one.n_kept_ = x_BKD.shape[2], int(params.n_kept_B[b])
                out[i] = one
        return out

    def transform_views(self, X_MD: np.ndarray, *, validate: bool = True) -> np.ndarray:
        """Map features [M, D] (float64) through each view: float32 [V, M, out_dims]."""
        if not hasattr(self, "params_"):
            raise RuntimeError("SetMap is not fitted: call fit(context, labels) first")
        if validate:
            X_MD = _check_features(X_MD, "query", n_features=self.n_features_)
        V = len(self.params_.scale_B)
        return apply_set_map(self.params_, torch.from_numpy(X_MD)[None].expand(V, -1, -1)).numpy().astype(np.float32)

    def transform(self, X_MD: np.ndarray, *, validate: bool = True) -> np.ndarray:
        """Map features [M, D] (float64) with the fitted map: float32 [M, out_dims] (one view only)."""
        Z_VMd = self.transform_views(X_MD, validate=validate)
        if len(Z_VMd) != 1:
            raise ValueError(f'this map has {len(Z_VMd)} views (whiten="both"): use transform_views')
        return Z_VMd[0]
