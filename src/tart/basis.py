"""The two halves of tart-2's map basis for a batch of contexts (`tart.projection.fit_set_map`):
the directions of the class means, then the leading directions of what the means leave.

Each comes two ways, with one contract: rows [B, r, D] orthonormal (or zero), each with its
singular value [B, r], in decreasing order; the caller masks the rows under its rank threshold and
fixes their signs.

- `exact`: full batched SVDs (what the classifier uses at inference).
- `fast` (the trainer's data path): the class means' directions from the eigenvectors of their
  small L x L Gram matrix (the residual's too when the context has few rows), and the residual's
  leading directions from a few steps of subspace iteration from a fixed random start (Halko,
  Martinsson and Tropp 2011, algorithm 4.4) followed by Rayleigh-Ritz, in float32 except the
  small factorisations (float64). No SVD of a [K, D]
  matrix: the big work is matrix products, which a GPU runs batched, and Cholesky factors of
  p x p matrices. Where the context spans few more directions than asked for (`D` within 1.5 p, or
  `K` within p), it is exact.

Shape legend: B tasks, K context rows, D features, L classes, r rows returned, p search width.
"""

from __future__ import annotations

import torch

METHODS = ("exact", "fast")
OVERSAMPLE = 8  # extra search directions beyond those asked for
POWER_STEPS = 2  # subspace iteration steps after the range finder's first pass
START_SEED = 0  # the fixed random start: the same context gives the same basis
GRAM_TOL = 1e-12  # singular values from a Gram matrix below this share of the largest are rounding


def check_basis(basis: str) -> str:
    if basis not in METHODS:
        raise ValueError(f"basis must be one of {METHODS}, got {basis!r}")
    return basis


def mean_rows(means_BLD: torch.Tensor, basis: str = "exact") -> tuple[torch.Tensor, torch.Tensor]:
    """Directions spanned by the (centred, masked) class means [B, L, D], by their spread: rows
    [B, min(L, D), D] and singular values [B, min(L, D)]."""
    if check_basis(basis) == "exact":
        _, s_BL, vh_BLD = torch.linalg.svd(means_BLD, full_matrices=False)
        return vh_BLD, s_BL
    return _short_rows(means_BLD)


def residual_rows(resid_BKD: torch.Tensor, n_rows: int, basis: str = "exact") -> tuple[torch.Tensor, torch.Tensor]:
    """The leading right singular vectors of each context's residual [B, K, D] and their singular
    values: all min(K, D) (exact, and fast where the context spans few directions: D within 1.5 p,
    K within p), or at least `n_rows` of them (fast, by subspace iteration)."""
    if check_basis(basis) == "exact":
        _, s_Br, vh_BrD = torch.linalg.svd(resid_BKD, full_matrices=False)
        return vh_BrD, s_Br
    p = n_rows + OVERSAMPLE
    B, K, D = resid_BKD.shape
    if D <= 3 * p // 2:  # eigenvectors of the D x D Gram matrix cost less than the iteration
        return _ritz_rows(resid_BKD, None)
    if K <= p:
        return _short_rows(resid_BKD)
    return _ritz_rows(resid_BKD, _search_space(resid_BKD, p))


def valid_first(rows_BnD: torch.Tensor, ok_Bn: torch.Tensor, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The first n of each task's rows with its valid ones (`ok_Bn`) moved ahead, each group in
    its own order (a stable sort), and their flags: ([B, n, D], [B, n])."""
    order_Bn = torch.sort((~ok_Bn).to(torch.int8), dim=1, stable=True).indices[:, :n]
    return rows_BnD.gather(1, order_Bn[..., None].expand(-1, -1, rows_BnD.shape[-1])), ok_Bn.gather(1, order_Bn)


def narrow_rows(a_BKd: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All right singular vectors [B, d, d] and values [B, d] of matrices with few columns, in
    decreasing order, from the eigenvectors of their d x d Gram matrix (float64)."""
    return _ritz_rows(a_BKd, None)


def _short_rows(a_BnD: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """All right singular vectors [B, min(n, D), D] and values of matrices with few rows, from the
    eigenvectors of their n x n Gram matrix A A^T (float64): rows U^T A / s, zero where s is."""
    a64_BnD = a_BnD.double()
    ev_Bn, u_Bnn = _eigh(a64_BnD @ a64_BnD.transpose(1, 2))
    ev_Bn, u_Bnn = ev_Bn.flip(1), u_Bnn.flip(2)  # decreasing
    r = min(a_BnD.shape[1], a_BnD.shape[2])
    s_Br = ev_Bn[:, :r].clamp_min(0).sqrt()
    # singular values far under sqrt(eps64) of the largest are the Gram's rounding, their rows noise
    # (divided by a tiny s, even beyond float32): zero both, as for an exactly zero s
    real_Br = s_Br > GRAM_TOL * s_Br[:, :1]
    rows_BrD = u_Bnn[:, :, :r].transpose(1, 2) @ a64_BnD
    rows_BrD = torch.where(real_Br[..., None], rows_BrD / torch.where(real_Br, s_Br, torch.ones_like(s_Br))[..., None], 0.0)
    return rows_BrD.to(a_BnD.dtype), torch.where(real_Br, s_Br, 0.0).to(a_BnD.dtype)


def _search_space(a_BKD: torch.Tensor, p: int) -> torch.Tensor:
    """Orthonormal columns Z [B, D, p] whose span holds the rows' leading directions: a randomized
    range finder from a fixed start, then `POWER_STEPS` steps of subspace iteration."""
    D = a_BKD.shape[2]
    g = torch.Generator(device=a_BKD.device).manual_seed(START_SEED)
    omega_Dp = torch.randn(D, p, generator=g, device=a_BKD.device, dtype=a_BKD.dtype)
    z_BDp = _orthonormal(a_BKD.transpose(1, 2) @ (a_BKD @ omega_Dp))
    for _ in range(POWER_STEPS):
        z_BDp = _orthonormal(a_BKD.transpose(1, 2) @ (a_BKD @ z_BDp))
    return _orthonormal(z_BDp)  # twice (CholeskyQR2): orthonormal to float32 precision


def _eigh(gram_Bpp: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigen-decomposition of small symmetric matrices, on the CPU when they live on a GPU (where a
    batch of matrices over 32 x 32 is decomposed one at a time)."""
    if gram_Bpp.device.type == "cpu":
        return torch.linalg.eigh(gram_Bpp)
    ev_Bp, vec_Bpp = torch.linalg.eigh(gram_Bpp.cpu())
    return ev_Bp.to(gram_Bpp.device), vec_Bpp.to(gram_Bpp.device)


def _gram64(y_BNp: torch.Tensor) -> torch.Tensor:
    """Y^T Y [B, p, p] in float64 (rank and conditioning survive the squaring)."""
    y64_BNp = y_BNp.double()
    return y64_BNp.transpose(1, 2) @ y64_BNp


def _orthonormal(y_BNp: torch.Tensor) -> torch.Tensor:
    """Columns spanning what Y's span (CholeskyQR: Y R^-1, with R the Cholesky factor of Y^T Y
    formed in float64, slightly regularised so a rank-deficient Y gives zero columns, not NaN):
    matrix products and small factorisations, where a batched Householder QR on a GPU runs one
    matrix at a time."""
    gram_Bpp = _gram64(y_BNp)
    eye = torch.eye(gram_Bpp.shape[1], dtype=gram_Bpp.dtype, device=gram_Bpp.device)
    ridge_B11 = 1e-12 * gram_Bpp.diagonal(dim1=1, dim2=2).sum(1)[:, None, None].clamp_min(1e-300)
    r_Bpp = torch.linalg.cholesky(gram_Bpp + ridge_B11 * eye, upper=True)
    r_inv_Bpp = torch.linalg.solve_triangular(r_Bpp, eye.expand_as(r_Bpp), upper=True)
    return y_BNp @ r_inv_Bpp.to(y_BNp.dtype)


def _ritz_rows(a_BKD: torch.Tensor, z_BDp: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
    """Rayleigh-Ritz in span(Z): the eigenvectors of (A Z)^T (A Z) (in float64) give singular
    values and, mapped back by Z, right singular vectors [B, p, D] in decreasing order."""
    ev_Bp, w_Bpp = _eigh(_gram64(a_BKD if z_BDp is None else a_BKD @ z_BDp))
    s_Bp = ev_Bp.flip(1).clamp_min(0).sqrt().to(a_BKD.dtype)
    wh_Bpp = w_Bpp.flip(2).transpose(1, 2).to(a_BKD.dtype)
    return (wh_Bpp if z_BDp is None else wh_Bpp @ z_BDp.transpose(1, 2)), s_Bp
