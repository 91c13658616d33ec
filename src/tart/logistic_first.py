"""The leading rows of a tart-2 input map from the context's own logistic regression.

`fit_set_map(first=...)` (`SetReasonerConfig.map_first`) turns a context's kept rows within their
span so that the first ones are what a fitted linear classifier would read, the rest the principal
directions of what those leave:

- "logistic": a two-class context's ridge logistic regression (ridge `LOGISTIC_RIDGE`, C = 1 in the
  rows' unit-RMS coordinates); "logistic-wide" the same fitted in a wider span (`projection.WIDE`);
- "logistic-cv": the ridge chosen among `LOGISTIC_RIDGES` by the approximate leave-one-out
  log-loss; at the strongest ridge the direction is all but the class means' one, so the context
  decides between LDA's statistic and the boundary;
- "logistic-1se": the strongest ridge whose loss is within one standard error of the lowest (few,
  noisy examples stay on the means' direction);
- "logistic-ovr": as "logistic-1se" for two classes; 3 to `OVR_MAX_CLASSES` classes get one
  one-vs-rest fit per class (each its own ridge) and lead with the principal directions of the
  class-centred weights, as many as the class means span (C - 1); with the strongest ridges that is
  the class means' span itself. Contexts with more classes keep their rows.

Where a task's fit is not finite, its rows stay as they were. Shapes: B tasks, K context points,
D features, d map rows, a = d + 1 (an intercept), P (task, class) pairs, m leading rows.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tart.basis import narrow_rows, valid_first

LOGISTIC_RIDGE = 1.0  # first="logistic": the ridge of the context's logistic fit (C = 1, unit-RMS coordinates)
LOGISTIC_STEPS = 8  # and their Newton steps
# the ridges a context chooses among (strongest first), each fit warm-started from the last for PATH_STEPS steps
LOGISTIC_RIDGES = (1000.0, 100.0, 10.0, 1.0, 0.1)
PATH_STEPS = 4
OVR_MAX_CLASSES = 10  # first="logistic-ovr": contexts with more classes keep the class means first


def logistic_first(xc_BKD: torch.Tensor, y_BK: torch.Tensor, present_BL: torch.Tensor, basis_BdD: torch.Tensor,
                   n_kept_B: torch.Tensor, first: str) -> torch.Tensor:
    """The map's rows `basis` [B, d, D] (of which `n_kept` are kept) turned within their span for the
    contexts `first` applies to (see the module docstring); `xc` the centred context, `present`
    [B, L] the classes each context has."""
    n_classes_B = present_BL.sum(1)
    basis_BdD = basis_BdD.clone()
    two_B = n_classes_B == 2
    ridges = (LOGISTIC_RIDGE,) if first in ("logistic", "logistic-wide") else LOGISTIC_RIDGES
    one_se = first in ("logistic-1se", "logistic-ovr")
    if two_B.any():
        y2_BK = y_BK[two_B]
        y01_BK = (y2_BK > y2_BK.amin(1, keepdim=True)).to(xc_BKD.dtype)  # the larger label is 1
        z_BKd = _unit_rms(xc_BKD[two_B], basis_BdD[two_B], n_kept_B[two_B])
        w_B1d = _logistic(z_BKd, y01_BK.double(), ridges, one_se)[:, None]
        basis_BdD[two_B] = _turn(z_BKd, w_B1d, basis_BdD[two_B], n_kept_B[two_B])
    many_B = (n_classes_B > 2) & (n_classes_B <= OVR_MAX_CLASSES)
    if first == "logistic-ovr" and many_B.any():
        basis_BdD[many_B] = _one_vs_rest_first(xc_BKD[many_B], y_BK[many_B], present_BL[many_B],
                                               basis_BdD[many_B], n_kept_B[many_B], ridges)
    return basis_BdD


def _unit_rms(xc_BKD: torch.Tensor, basis_BdD: torch.Tensor, n_kept_B: torch.Tensor) -> torch.Tensor:
    """The context in the rows' coordinates [B, K, d] (float64), scaled to unit RMS over the kept rows."""
    K = xc_BKD.shape[1]
    z_BKd = (xc_BKD @ basis_BdD.transpose(1, 2)).double()
    rms_B = ((z_BKd**2).sum((1, 2)) / (K * n_kept_B.clamp_min(1))).sqrt()
    return z_BKd / rms_B.clamp_min(torch.finfo(torch.float64).tiny)[:, None, None]


def _one_vs_rest_first(xc_BKD: torch.Tensor, y_BK: torch.Tensor, present_BL: torch.Tensor, basis_BdD: torch.Tensor,
                       n_kept_B: torch.Tensor, ridges: tuple[float, ...]) -> torch.Tensor:
    """`basis` turned to lead with the principal directions of the class-centred weights of one
    one-vs-rest ridge logistic regression per present class (one-standard-error ridges)."""
    z_BKd = _unit_rms(xc_BKD, basis_BdD, n_kept_B)
    task_P, class_P = present_BL.nonzero(as_tuple=True)
    y01_PK = (y_BK[task_P] == class_P[:, None]).double()
    w_Pd = _logistic(z_BKd[task_P], y01_PK, ridges, one_se=True)
    B, L, d = *present_BL.shape, z_BKd.shape[2]
    w_BLd = torch.zeros(B, L, d, dtype=w_Pd.dtype, device=w_Pd.device).index_put((task_P, class_P), w_Pd)
    n_B = present_BL.sum(1).to(w_Pd.dtype)
    mask_BL1 = present_BL[..., None].to(w_Pd.dtype)
    centred_BLd = (w_BLd - w_BLd.sum(1, keepdim=True) / n_B[:, None, None]) * mask_BL1
    rows_Bdd, s_Bd = narrow_rows(centred_BLd)
    m = min(OVR_MAX_CLASSES - 1, d)
    lead_Bm = (torch.arange(m, device=s_Bd.device) < (n_B[:, None] - 1)) & (s_Bd[:, :m] > 1e-8 * s_Bd[:, :1])
    return _turn(z_BKd, rows_Bdd[:, :m] * lead_Bm[..., None], basis_BdD, n_kept_B)


def _turn(z_BKd: torch.Tensor, lead_Bmd: torch.Tensor, basis_BdD: torch.Tensor, n_kept_B: torch.Tensor) -> torch.Tensor:
    """The same span as the kept rows of `basis`, turned: first the directions `lead` [B, m, d] (in
    the rows' coordinates; made orthonormal in their order; zero rows are unused), then the principal
    directions of what they leave. A task whose leading rows are not finite or all zero keeps `basis`."""
    d = basis_BdD.shape[1]
    q_Bdm, r_Bmm = torch.linalg.qr(torch.nan_to_num(lead_Bmd, nan=0.0).transpose(1, 2))
    used_Bm = r_Bmm.diagonal(dim1=1, dim2=2).abs() > 1e-12 * lead_Bmd.norm(dim=2).amax(1, keepdim=True).nan_to_num(0)
    v_Bmd = q_Bdm.transpose(1, 2) * used_Bm[..., None]
    n_lead_B = used_Bm.sum(1)
    resid_BKd = z_BKd - (z_BKd @ v_Bmd.transpose(1, 2)) @ v_Bmd
    u_Bdd, _ = narrow_rows(resid_BKd)  # all d directions of the residual, decreasing
    rest_Bd = torch.arange(d, device=z_BKd.device) < (n_kept_B - n_lead_B)[:, None]
    rows_Bnd = torch.cat([v_Bmd, u_Bdd * rest_Bd[..., None]], 1)
    ok_Bn = torch.cat([used_Bm, rest_Bd], 1)
    turn_Bdd, _ = valid_first(rows_Bnd, ok_Bn, d)
    turned_BdD = (turn_Bdd @ basis_BdD.double()).to(basis_BdD.dtype)
    fine_B = (n_lead_B > 0) & torch.isfinite(lead_Bmd).all(2).all(1) & torch.isfinite(turned_BdD).all(2).all(1)
    return torch.where(fine_B[:, None, None], turned_BdD, basis_BdD)


def _logistic(z_BKd: torch.Tensor, y_BK: torch.Tensor, ridges: tuple[float, ...] = (LOGISTIC_RIDGE,),
              one_se: bool = False) -> torch.Tensor:
    """Weights [B, d] of a ridge logistic regression of y (0 / 1) on z per task, with an intercept,
    penalty ridge / 2 |w|^2 (ridge 1: scikit-learn's C = 1), by LOGISTIC_STEPS Newton steps; NaN for a
    task whose Hessian could not be factored. With several `ridges` (strongest first, each fit
    warm-started from the last for PATH_STEPS steps) each task keeps the fit whose approximate
    leave-one-out log-loss (`_loo_log_losses`) is lowest, or with `one_se` the strongest ridge whose
    loss is within one standard error (over the context's points) of the lowest."""
    B, K, d = z_BKd.shape
    xa_BKa = torch.cat([z_BKd, torch.ones_like(z_BKd[..., :1])], 2)
    w_Ba1 = torch.zeros(B, d + 1, 1, dtype=z_BKd.dtype, device=z_BKd.device)
    loss_RB, se_RB, w_RBd = [], [], []
    for i, ridge in enumerate(ridges):
        pen_a = torch.full((d + 1,), ridge, dtype=z_BKd.dtype, device=z_BKd.device)
        pen_a[-1] = 1e-6 * ridge  # the intercept is (all but) free
        w_Ba1, failed_B = _newton(xa_BKa, y_BK, pen_a, w_Ba1, LOGISTIC_STEPS if i == 0 else PATH_STEPS)
        if len(ridges) == 1:
            return torch.where(failed_B[:, None], torch.nan, w_Ba1[:, :d, 0])  # NaN: that task keeps its rows
        loss_BK = _loo_log_losses(xa_BKa, y_BK, pen_a, w_Ba1)
        loss_B = torch.where(failed_B, math.inf, loss_BK.mean(1))
        loss_RB.append(loss_B)
        se_RB.append(loss_BK.std(1) / math.sqrt(K) if one_se else torch.zeros_like(loss_B))
        w_RBd.append(torch.where(torch.isfinite(loss_B)[:, None], w_Ba1[:, :d, 0], torch.nan))
        w_Ba1 = torch.where(failed_B[:, None, None], 0.0, w_Ba1)
    loss_RB, se_RB = torch.stack(loss_RB), torch.stack(se_RB)
    best_B = loss_RB.argmin(0)
    pick_B = (loss_RB <= (loss_RB.min(0).values + se_RB.gather(0, best_B[None])[0])).int().argmax(0)
    return torch.stack(w_RBd).gather(0, pick_B[None, :, None].expand(1, B, d))[0]  # NaN where all failed


def _newton(xa_BKa: torch.Tensor, y_BK: torch.Tensor, pen_a: torch.Tensor, w_Ba1: torch.Tensor,
            steps: int) -> tuple[torch.Tensor, torch.Tensor]:
    """`steps` Newton steps of the penalised logistic log-likelihood from w [B, a, 1]; the tasks whose
    Hessian failed to factor are flagged (a failed factor is finite but wrong)."""
    failed_B = torch.zeros(xa_BKa.shape[0], dtype=torch.bool, device=xa_BKa.device)
    for _ in range(steps):
        p_BK1 = torch.sigmoid(xa_BKa @ w_Ba1)
        grad_Ba1 = xa_BKa.transpose(1, 2) @ (y_BK[..., None] - p_BK1) - pen_a[:, None] * w_Ba1
        hess_Baa = xa_BKa.transpose(1, 2) @ (p_BK1 * (1 - p_BK1) * xa_BKa) + torch.diag(pen_a)
        factor = torch.linalg.cholesky_ex(hess_Baa)
        failed_B |= factor.info > 0
        w_Ba1 = w_Ba1 + torch.cholesky_solve(grad_Ba1, factor.L)
    return w_Ba1, failed_B


def _loo_log_losses(xa_BKa: torch.Tensor, y_BK: torch.Tensor, pen_a: torch.Tensor, w_Ba1: torch.Tensor) -> torch.Tensor:
    """Leave-one-out log-loss of each point [B, K] of a fitted ridge logistic regression, its left-out
    logit taken one Newton step from the full fit (Rad & Maleki 2020): eta - h / (1 - v h) (y - p),
    h = x' H^-1 x; infinite for a task whose Hessian does not factor or whose losses are not finite."""
    eta_BK = (xa_BKa @ w_Ba1)[..., 0]
    p_BK = torch.sigmoid(eta_BK)
    v_BK = p_BK * (1 - p_BK)
    hess_Baa = xa_BKa.transpose(1, 2) @ (v_BK[..., None] * xa_BKa) + torch.diag(pen_a)
    factor = torch.linalg.cholesky_ex(hess_Baa)
    h_BK = (xa_BKa * torch.cholesky_solve(xa_BKa.transpose(1, 2), factor.L).transpose(1, 2)).sum(2)
    loo_BK = eta_BK - h_BK / (1 - v_BK * h_BK).clamp_min(torch.finfo(eta_BK.dtype).eps) * (y_BK - p_BK)
    loss_BK = F.softplus(loo_BK) - y_BK * loo_BK
    bad_B = (factor.info > 0) | ~torch.isfinite(loss_BK).all(1)
    return torch.where(bad_B[:, None], math.inf, loss_BK)
