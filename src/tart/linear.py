"""tart-2's linear member: logistic regression on the context, mixed with the module (stacking).

The classifier's probabilities are p = (1 - w) p_module + w p_linear, where p_linear is an
L2-penalised multinomial logistic regression fitted on the same context, and w maximises the
likelihood of the held-out labels of the context's folds (the folds that weigh the module's views,
`tart.strategy.SetStrategy.folds`) with `alpha` pseudo-examples on the module (a Beta prior on w:
a small context leaves the weight on the module; a large one, where the regression's home ground
is, can move it). docs/tart2.md and docs/candidates.md measure it; docs/stacking.md measured the
first version, with the probes' own learners.

The regression is the maximum a posteriori fit under a Gaussian prior on the weights of the
features standardised over the context: C = min(1, `PRIOR_SCALE` / D), so the prior standard
deviation of a logit is at most sqrt(PRIOR_SCALE) whatever the width D. The penalised solution
lies in the span of the context's rows, so with more features than rows it is solved on the rows'
coordinates in that span (exactly the same fit, a K-wide problem instead of a D-wide one).

Shape legend: K context rows, M queries, D features, L classes, N held-out rows of the folds.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.special import softmax
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from threadpoolctl import threadpool_limits

from tart.projection import feature_order

PRIOR_SCALE = 64.0  # C = min(1, PRIOR_SCALE / D) on standardised features
MAX_ITER = 500
EM_ITERS = 200
MIN_WEIGHT = 0.01  # a member that cannot move a probability by more than 0.01 is not fitted


@dataclass
class LinearMember:
    """A fitted linear member: class scores X @ W_LD.T + b_L on the conditioned features, its
    probabilities reweighted by `prior_L` (the classifier's class prior over the context's
    frequencies; ones for class_prior="context"), and its share `weight` of the mixture."""

    W_LD: np.ndarray
    b_L: np.ndarray
    prior_L: np.ndarray
    weight: float

    def proba(self, X_MD: np.ndarray) -> np.ndarray:
        """Its own class probabilities [M, L]."""
        P_ML = softmax(X_MD @ self.W_LD.T + self.b_L, axis=1) * self.prior_L
        return P_ML / P_ML.sum(1, keepdims=True)

    def mix(self, P_ML: np.ndarray, X_MD: np.ndarray) -> np.ndarray:
        """The module's probabilities P_ML mixed with this member's on queries X_MD."""
        if self.weight == 0.0:
            return P_ML
        return (1.0 - self.weight) * P_ML + self.weight * self.proba(X_MD)


def fit_logistic(X_KD: np.ndarray, y_K: np.ndarray, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    """(W_LD, b_L) of the penalised logistic regression (see the module doc) on rows X_KD labelled
    y_K in 0..n_classes-1, every class present; scores on the raw features. The rows are read in
    their features' order, so the fit does not depend on the context's order."""
    order = feature_order(X_KD, y_K)
    X_KD, y_K = X_KD[order], y_K[order]
    mu_D = X_KD.mean(0)
    sd_D = X_KD.std(0)
    sd_D = np.where(sd_D > 0, sd_D, 1.0)  # a constant feature stays 0 after centring
    Xs_KD = (X_KD - mu_D) / sd_D
    K, D = X_KD.shape
    basis_RD = None
    if D > K:  # the rows' span: an orthonormal basis [R, D] of the standardised rows
        _, s_R, basis_RD = np.linalg.svd(Xs_KD, full_matrices=False)
        basis_RD = basis_RD[s_R > s_R[0] * 1e-10] if s_R[0] > 0 else basis_RD[:1]
    Z = Xs_KD if basis_RD is None else Xs_KD @ basis_RD.T
    clf = LogisticRegression(C=min(1.0, PRIOR_SCALE / D), max_iter=MAX_ITER)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # a short fit stands: the prior bounds it
        warnings.filterwarnings("ignore", "The number of unique classes", UserWarning)  # many classes, few rows
        clf.fit(Z, y_K)
    coef, b_L = clf.coef_, clf.intercept_
    if n_classes == 2:  # scikit-learn's one row scores class 1 against class 0
        coef, b_L = np.vstack([np.zeros_like(coef), coef]), np.array([0.0, b_L[0]])
    W_LD = (coef if basis_RD is None else coef @ basis_RD) / sd_D
    return W_LD, b_L - W_LD @ mu_D


def held_out(X_KD: np.ndarray, y_K: np.ndarray, folds: list[tuple[np.ndarray, np.ndarray]],
             n_classes: int) -> np.ndarray:
    """The regression's probabilities [N, L] of each fold's held-out rows, fitted on its kept rows
    (every class kept, as `tart.calibration.context_folds` deals them), in the folds' order."""
    out = []
    for keep, held in folds:
        W_LD, b_L = fit_logistic(X_KD[keep], y_K[keep], n_classes)
        out.append(softmax(X_KD[held] @ W_LD.T + b_L, axis=1))
    return np.concatenate(out)


def mixture_weight(p_module_N: np.ndarray, p_linear_N: np.ndarray, alpha: float) -> float:
    """The linear member's weight w maximising sum log((1 - w) p_module + w p_linear) over the
    held-out labels' probabilities, with `alpha` pseudo-examples on the module (EM)."""
    p_2N = np.clip(np.stack([p_module_N, p_linear_N]), 1e-6, None)
    w_2 = np.array([0.5, 0.5])
    prior_2 = np.array([alpha, 0.0])
    for _ in range(EM_ITERS):
        r_2N = w_2[:, None] * p_2N
        r_2N /= r_2N.sum(0, keepdims=True)
        w_2 = (r_2N.sum(1) + prior_2) / (p_2N.shape[1] + alpha)
    return float(w_2[1])


def fit_member(X_KD: np.ndarray, y_K: np.ndarray, n_classes: int, folds: list[tuple[np.ndarray, np.ndarray]],
               p_module_NL: np.ndarray, alpha: float, prior_L: np.ndarray) -> LinearMember | None:
    """The linear member of a context: fitted on all of it, weighted against the module's held-out
    probabilities p_module_NL on `folds` (scored with the context's class prior); None when its
    weight is under `MIN_WEIGHT`. One thread (BLAS and OpenMP): these small problems gain nothing
    from more, and thread pools left spinning after them slow the module's next torch calls."""
    with threadpool_limits(1):
        return _fit_member(X_KD, y_K, n_classes, folds, p_module_NL, alpha, prior_L)


def _fit_member(X_KD, y_K, n_classes, folds, p_module_NL, alpha, prior_L) -> LinearMember | None:
    y_N = np.concatenate([y_K[held] for _, held in folds])
    rows = np.arange(len(y_N))
    weight = mixture_weight(p_module_NL[rows, y_N], held_out(X_KD, y_K, folds, n_classes)[rows, y_N], alpha)
    if weight < MIN_WEIGHT:
        return None
    W_LD, b_L = fit_logistic(X_KD, y_K, n_classes)
    return LinearMember(W_LD, b_L, np.asarray(prior_L, dtype=np.float64), weight)
