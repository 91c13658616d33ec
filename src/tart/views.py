"""tart-2 reads a context through several views of its input map, weighted by the context.

A view is one way of fitting `tart.projection.fit_set_map` on the context: each map the module was
trained on (`SetReasonerConfig.whiten_map`: plain, whitened, or both) and, with the classifier's
`standardize="auto"`, two scalings of each (the automatic rule's, and every feature standardised as
the classical baselines read tables). `TartClassifier` runs the module through every view and
averages them by Bayesian model averaging on the context alone: each view's weight is proportional
to its likelihood of the context's held-out labels over a k-fold cross-validation
(`tart.calibration.context_folds`). With many examples one view dominates; with few they share.
Views weighted below `MIN_VIEW_WEIGHT` are not run on the queries (the others are renormalised).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from tart import inputs
from tart.projection import SetMap

# a view that cannot move a probability by more than 0.01 is not worth running on the queries
MIN_VIEW_WEIGHT = 0.01
Members = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]  # labels [K] -> (indices [E, K'], perms [E, L])


def view_proba(reasoner, projection: SetMap, ctx_KD: np.ndarray, y_K: np.ndarray, q_MD: np.ndarray,
               members: Members, n_classes: int, weights_V: np.ndarray | None = None) -> np.ndarray:
    """The module's probabilities [V, M, L] through each view of a fitted map (averaged over the
    ensemble members `members(y_K)` gives, columns in label order); views weighted below
    `MIN_VIEW_WEIGHT` are not run and left at zero."""
    with np.errstate(over="ignore"):  # float32 overflow of far-out queries: clipped just below
        cx_VKD, qx_VMD = (np.clip(projection.transform_views(Z, validate=False), -inputs.MAPPED_LIMIT,
                                  inputs.MAPPED_LIMIT) for Z in (ctx_KD, q_MD))
    L, V = n_classes, len(cx_VKD)
    used = np.arange(V) if weights_V is None else np.flatnonzero(weights_V >= MIN_VIEW_WEIGHT)
    idx_EK, perm_EL = members(y_K)
    (E, K), U, dev = idx_EK.shape, len(used), next(reasoner.parameters()).device
    # every member reads every view: one batch of U * E tasks
    cx = torch.from_numpy(cx_VKD[used][:, idx_EK].reshape(U * E, K, -1)).to(dev)
    qx = torch.from_numpy(qx_VMD[used]).to(dev)[:, None].expand(-1, E, -1, -1).reshape(U * E, *qx_VMD.shape[1:])
    cy = torch.from_numpy(np.tile(np.take_along_axis(perm_EL, y_K[idx_EK], 1), (U, 1))).to(dev)
    logits_NML = reasoner.predict(cx, cy, qx, n_classes=L, validate=False)
    inputs.check_finite_output(logits_NML)
    proba_UEML = torch.softmax(logits_NML.double(), -1).cpu().numpy().reshape(U, E, len(q_MD), L)
    out_VML = np.zeros((V, len(q_MD), L))
    # member e called class c "perm_EL[e, c]": read its column back in label order
    out_VML[used] = np.mean([proba_UEML[:, e][..., perm] for e, perm in enumerate(perm_EL)], axis=0)
    return out_VML


def fit_view_weights(reasoner, template: SetMap, fit_map: Callable, ctx_KD: np.ndarray, y_K: np.ndarray,
                     members: Members, n_classes: int, folds: int = 4) -> np.ndarray | None:
    """Each view's weight [V] by its cross-validated likelihood on the context: w_v proportional to
    the product over held-out examples of p_v(their label), each fold's map fitted by
    `fit_map(copy of template, context rows, labels)` on the rest. None with one view or nothing
    to hold out (the views then count equally)."""
    from tart.calibration import context_folds

    if len(template.views) == 1:
        return None
    fold_of = context_folds(ctx_KD, y_K, folds)
    if not (fold_of >= 0).any():
        return None
    loglik_V = np.zeros(len(template.views))
    for f in range(folds):
        held, keep = np.flatnonzero(fold_of == f), np.flatnonzero(fold_of != f)
        if len(held) == 0:
            continue
        fold_map = fit_map(SetMap(template.out_dims, template.standardize, template.whiten, template.views),
                           ctx_KD[keep], y_K[keep])
        proba_VHL = view_proba(reasoner, fold_map, ctx_KD[keep], y_K[keep], ctx_KD[held], members, n_classes)
        loglik_V += np.log(np.clip(proba_VHL[:, np.arange(len(held)), y_K[held]], 1e-6, None)).sum(1)
    w_V = np.exp(loglik_V - loglik_V.max())
    return w_V / w_V.sum()


def weighted_proba(proba_VML: np.ndarray, weights_V: np.ndarray | None) -> np.ndarray:
    """The views' probabilities [M, L] averaged with their weights (equal when None), renormalised."""
    w_V = np.full(len(proba_VML), 1.0 / len(proba_VML)) if weights_V is None else weights_V
    proba_ML = np.einsum("v,vml->ml", w_V, proba_VML)
    return proba_ML / proba_ML.sum(1, keepdims=True)
