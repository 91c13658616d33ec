"""A fitted classifier's prediction plan: its sub-tasks as data, one executor, one combiner.

A `Plan` lists the input maps a context is read through (`MapFit`: the context rows and labels a
map is fitted on, and which view of the family's map) and the module's passes over it (`Read`: the
rows the module reads, in order, their labels as the module sees them, the map, the sub-task
(`unit`) it serves, the unit column each module output fills, and a weight). Plans are built at
fit by the module family's strategy (`tart.strategy`) and stored as `TartClassifier.plan_`.

`execute` runs any number of (plan, context, queries) jobs together: the maps fitted batched by
(size, view), mapped features clipped once, the module called once per group of reads of equal
shape (members, views and cross-validation folds of one fit together), finiteness checked once
on the module's output.
`combine` turns one job's read probabilities into class probabilities by the plan's rule.

Shape legend: K context rows, M queries, D features, d mapped dims, L classes, n a read's outputs,
B reads in one module call.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch

RULES = ("binary", "mean", "ovr", "ovr-softmax", "ovo", "coupled", "groups")
# a view that cannot move a probability by more than 0.01 is not worth running on the queries
MIN_VIEW_WEIGHT = 0.01
QUERY_BUDGET = 2**18  # most (reads x queries) one module call holds; more queries run in chunks
MAPPED_LIMIT = 1e8  # mapped features are clipped here, where the module's float32 would overflow


@dataclass
class MapFit:
    """One input map: fitted on context `rows` [K'] with `labels` [K'], through view `view`."""

    rows: np.ndarray
    labels: np.ndarray
    view: int = 0


@dataclass
class Read:
    """One pass of the module: it reads context `rows` [K'] labelled `labels` [K'] through map
    `map`; its output j fills column `cols[j]` of sub-task `unit`, averaged with weight `weight`."""

    map: int
    rows: np.ndarray
    labels: np.ndarray
    unit: int
    cols: np.ndarray
    weight: float = 1.0
    turn: int = 0  # 0: the map as fitted; else the seed of a symmetry transform (`turn_matrix`)


@dataclass
class Plan:
    """The sub-tasks of a fitted classifier. `units[u]` names what unit u's columns score (a class
    index, or -1 for "the rest" / "other"); `prior` is the rule's class prior (see `combine`)."""

    rule: str
    n_classes: int
    units: list[np.ndarray]
    maps: list[MapFit]
    reads: list[Read]
    prior: np.ndarray = field(default_factory=lambda: np.zeros(1))
    turns: tuple = ()  # what a read's turn does: "signs" and / or "rotations" (`turn_matrix`)

    def n_views(self) -> int:
        return 1 + max(m.view for m in self.maps)

    def weighted(self, view_weights: np.ndarray | None) -> "Plan":
        """This plan with every read weighted by its map's view weight; reads (and maps) of views
        weighted below `MIN_VIEW_WEIGHT` are dropped. None: equal weights, nothing dropped."""
        if view_weights is None:
            return self
        keep = self.kept_maps(view_weights)
        new_index = {old: new for new, old in enumerate(keep)}
        reads = [replace(r, map=new_index[r.map], weight=r.weight * float(view_weights[self.maps[r.map].view]))
                 for r in self.reads if r.map in new_index]
        return replace(self, maps=[self.maps[i] for i in keep], reads=reads)

    def kept_maps(self, view_weights: np.ndarray | None) -> list[int]:
        """The maps `weighted(view_weights)` keeps (their indices here)."""
        if view_weights is None:
            return list(range(len(self.maps)))
        return [i for i, m in enumerate(self.maps) if view_weights[m.view] >= MIN_VIEW_WEIGHT]

    def read_weights(self, view_weights: np.ndarray | None = None) -> np.ndarray:
        """Each read's weight [R], times its map's view weight (as `weighted`, without dropping)."""
        w_R = np.array([r.weight for r in self.reads], dtype=np.float64)
        if view_weights is None:
            return w_R
        w_V = np.where(view_weights >= MIN_VIEW_WEIGHT, view_weights, 0.0)
        return w_R * w_V[[self.maps[r.map].view for r in self.reads]]


@dataclass
class Job:
    """A plan run on one (conditioned) context [K, D] and its queries [M, D]; `maps`: the plan's
    maps already fitted (else `execute` fits them)."""

    plan: Plan
    ctx_KD: np.ndarray
    q_MD: np.ndarray
    maps: list | None = None


def fit_maps(template, jobs: list[Job]) -> list[list]:
    """Every job's fitted maps: those given, and the rest fitted by `template.fit_many` (an
    unfitted map of the module's family) in one call."""
    wanted = [(j, m) for j, job in enumerate(jobs) if job.maps is None for m in job.plan.maps]
    fitted = iter(template.fit_many([(jobs[j].ctx_KD[m.rows], m.labels, m.view) for j, m in wanted]) if wanted else [])
    return [job.maps if job.maps is not None else [next(fitted) for _ in job.plan.maps] for job in jobs]


def _clipped(Z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):  # float32 overflow of far-out queries: clipped
        return np.clip(Z, -MAPPED_LIMIT, MAPPED_LIMIT).astype(np.float32)


def execute(module, template, jobs: list[Job]) -> tuple[list[list[np.ndarray]], list[list]]:
    """Run the jobs: (per job, each read's probabilities [M, n] (float64); per job, its fitted maps)."""
    maps = fit_maps(template, jobs)
    mapped = [[(_clipped(f.transform(job.ctx_KD, validate=False)), _clipped(f.transform(job.q_MD, validate=False)))
               for f in fitted] if len(job.q_MD) else [] for job, fitted in zip(jobs, maps)]  # no queries: maps only
    groups: dict[tuple[int, int], list[tuple[int, int]]] = {}
    for j, job in enumerate(jobs):
        for r, read in enumerate(job.plan.reads if len(job.q_MD) else []):  # no queries: maps only
            groups.setdefault((len(read.rows), len(read.cols)), []).append((j, r))
    out: list[list] = [[np.zeros((0, len(read.cols))) for read in job.plan.reads] for job in jobs]
    for (_, n_out), members in groups.items():
        for (j, r), P_MN in zip(members, _run_group(module, jobs, mapped, members, n_out)):
            out[j][r] = P_MN
    return out, maps


def turn_matrix(z_KD: np.ndarray, labels: np.ndarray, turn: int, kinds: tuple) -> np.ndarray:
    """The symmetry transform [d, d] of a read with seed `turn`, for a map whose mapped context is
    z_KD with `labels`: "rotations": a Haar-random rotation of the residual directions (the kept
    dims on which the class means do not differ: they carry no class-mean signal, the module should
    not depend on their order); "signs": each dim's sign flipped at random (a direction's sign is
    arbitrary). Identity for turn 0."""
    d = z_KD.shape[1]
    T = np.eye(d)
    if turn == 0 or not kinds:
        return T
    g = np.random.default_rng(turn)
    if "rotations" in kinds:
        rms = np.sqrt((z_KD**2).mean()) + 1e-30
        kept = np.flatnonzero(np.abs(z_KD).max(0) > 0)
        means_LD = np.stack([z_KD[labels == c].mean(0) for c in np.unique(labels)])
        spread_D = means_LD.max(0) - means_LD.min(0)
        resid = kept[spread_D[kept] <= 1e-4 * rms]
        if len(resid) > 1:
            q, r = np.linalg.qr(g.standard_normal((len(resid), len(resid))))
            T[np.ix_(resid, resid)] = q * np.sign(np.diag(r))
    if "signs" in kinds:
        T = T * g.choice([-1.0, 1.0], d)
    return T


def _turned(mapped, jobs: list[Job], j: int, rd: Read) -> tuple[np.ndarray, np.ndarray]:
    """The mapped (context, queries) a read sees: its map's, through its turn."""
    z_ctx, z_q = mapped[j][rd.map]
    kinds = jobs[j].plan.turns
    if rd.turn == 0 or not kinds:
        return z_ctx, z_q
    fit = jobs[j].plan.maps[rd.map]
    T = turn_matrix(z_ctx[fit.rows].astype(np.float64), fit.labels, rd.turn, kinds).astype(np.float32)
    return z_ctx @ T, z_q @ T


def _run_group(module, jobs: list[Job], mapped, members: list[tuple[int, int]], n_out: int) -> list[np.ndarray]:
    """Probabilities of reads of one shape, in one module call per chunk of queries (queries padded
    with zeros to the longest job's: every query reads only the context and itself)."""
    dev = next(module.parameters()).device
    reads = [jobs[j].plan.reads[r] for j, r in members]
    turned: dict[tuple[int, int, int], tuple] = {}  # a block's members share their map and turn: once each
    for (j, _), rd in zip(members, reads):
        if (j, rd.map, rd.turn) not in turned:
            turned[j, rd.map, rd.turn] = _turned(mapped, jobs, j, rd)
    seen = [turned[j, rd.map, rd.turn] for (j, _), rd in zip(members, reads)]
    cx_BKd = torch.from_numpy(np.stack([z[0][rd.rows] for z, rd in zip(seen, reads)])).to(dev)
    cy_BK = torch.from_numpy(np.stack([rd.labels for rd in reads]).astype(np.int64)).to(dev)
    M = [len(jobs[j].q_MD) for j, _ in members]
    chunk = max(1, QUERY_BUDGET // len(reads))
    kwargs = {"n_classes": n_out} if n_out > 2 else {}  # the binary faithful module takes no class count
    parts = []
    for start in range(0, max(M), chunk):
        qx_BMd = np.zeros((len(reads), min(chunk, max(M) - start), cx_BKd.shape[-1]), dtype=np.float32)
        for b, z in enumerate(seen):
            q = z[1][start : start + chunk]
            qx_BMd[b, : len(q)] = q
        logits = module.predict(cx_BKd, cy_BK, torch.from_numpy(qx_BMd).to(dev), validate=False, **kwargs)
        if not torch.isfinite(logits).all():  # the one finiteness check, on what the module gives
            raise ValueError("the reasoning module's outputs are not finite (NaN or inf): its weights or dtype "
                             "cannot read these features (a float16 module, or non-finite weights?)")
        parts.append(_probabilities(logits))
    P_BMN = np.concatenate(parts, axis=1)
    return [P_BMN[b, : M[b]] for b in range(len(reads))]


def _probabilities(logits: torch.Tensor) -> np.ndarray:
    """[B, M] log-odds of label 1 (the binary faithful module) or [B, M, n] logits -> [B, M, n]."""
    logits = logits.double()
    if logits.dim() == 2:
        p1 = torch.sigmoid(logits)
        return torch.stack([1.0 - p1, p1], -1).cpu().numpy()
    return torch.softmax(logits, -1).cpu().numpy()


# ---- the combiner ------------------------------------------------------------------------------
def unit_means(plan: Plan, probs: list[np.ndarray], weights_R: np.ndarray | None = None) -> list[np.ndarray]:
    """Each unit's probabilities [M, n_u]: the weighted mean of its reads' (each output in its
    column), with the reads' own weights or `weights_R`."""
    M = len(probs[0])
    acc = [np.zeros((M, len(cols))) for cols in plan.units]
    total = np.zeros(len(plan.units))
    for read, w, P_MN in zip(plan.reads, plan.read_weights() if weights_R is None else weights_R, probs):
        if w > 0:
            acc[read.unit][:, read.cols] += w * P_MN
            total[read.unit] += w
    return [a / t for a, t in zip(acc, total)]


def combine(plan: Plan, probs: list[np.ndarray], weights_R: np.ndarray | None = None,
            temperature: float = 1.0) -> np.ndarray:
    """Class probabilities [M, L] (rows sum to 1) from the reads' probabilities, by `plan.rule`
    (the reads weighted by their own weights, or by `weights_R`), at `temperature`."""
    P = _combined(plan, unit_means(plan, probs, weights_R))
    return P if temperature == 1.0 else apply_temperature(P, temperature)


def apply_temperature(proba: np.ndarray, t: float) -> np.ndarray:
    """p ** (1/t), renormalised per row."""
    logp = np.log(np.clip(proba, 1e-15, None)) / t
    logp -= logp.max(1, keepdims=True)
    p = np.exp(logp)
    return p / p.sum(1, keepdims=True)


def _combined(plan: Plan, U: list[np.ndarray]) -> np.ndarray:
    L, prior = plan.n_classes, plan.prior
    if plan.rule == "binary":  # the faithful module: log-odds of the prior added (prior[0])
        p1 = U[0][:, 1]
        if prior[0] != 0.0:
            p1 = 1.0 / (1.0 + np.exp(-(logit(np.clip(p1, 1e-12, 1 - 1e-12)) + prior[0])))
        return np.stack([1.0 - p1, p1], axis=1)
    if plan.rule == "mean":  # tart-2 natively: its probabilities reweighted by prior [L]
        P = U[0] / U[0].sum(1, keepdims=True) * prior
        return P / P.sum(1, keepdims=True)
    if plan.rule in ("ovr", "ovr-softmax"):  # unit c: (rest, c); prior: log priors [L]
        score_ML = np.stack([logit(np.clip(u[:, 1], 1e-12, 1 - 1e-12)) for u in U], axis=1)
        if plan.rule == "ovr":
            odds = prior - np.log1p(-np.clip(np.exp(prior), 0, 1 - 1e-12))
            return _normalised(1.0 / (1.0 + np.exp(-(score_ML + odds))))
        z = score_ML + prior
        return _normalised(np.exp(z - z.max(1, keepdims=True)))
    if plan.rule == "ovo":  # unit (i, j): P(j | i or j); prior: log priors [L]
        R = np.full((len(U[0]), L, L), 0.5)  # R[m, a, b] = P(a | a or b)
        for (i, j), u in zip(plan.units, U):
            r_j = 1.0 / (1.0 + np.exp(-(logit(np.clip(u[:, 1], 1e-12, 1 - 1e-12)) + prior[j] - prior[i])))
            R[:, j, i], R[:, i, j] = r_j, 1.0 - r_j
        return couple_pairwise(R)
    if plan.rule in ("coupled", "groups"):
        return _combine_groups(plan, U)
    raise ValueError(f"unknown combination rule {plan.rule!r}; known: {RULES}")


def _combine_groups(plan: Plan, U: list[np.ndarray]) -> np.ndarray:
    """tart-2 beyond its class count: each group's base rates swapped for the priors (log priors
    [L]; "other": the classes outside), then coupled by Bradley-Terry ("coupled") or normalised
    over all classes ("groups")."""
    L, M = plan.n_classes, len(U[0])
    S, G = np.zeros((M, L)), np.zeros((len(plan.units), L))
    first = {}
    for read in plan.reads:
        first.setdefault(read.unit, read)
    for t, (cols, u) in enumerate(zip(plan.units, U)):
        group = cols[cols >= 0]
        labels = first[t].labels
        share = (np.bincount(labels, minlength=len(cols)) + 1.0) / (len(labels) + len(cols))
        prior = np.exp(plan.prior[group])
        if len(group) < len(cols):  # "other"
            prior = np.append(prior, max(1.0 - prior.sum(), 1e-12))
        w = u / share * prior
        S[:, group] += w[:, : len(group)] / w.sum(1, keepdims=True)
        G[t, group] = 1.0
    if plan.rule == "coupled":
        return bradley_terry(S, G)
    return _normalised(np.clip(S / G.sum(0), 1e-300, None))


def _normalised(P: np.ndarray) -> np.ndarray:
    return P / P.sum(1, keepdims=True)


def logit(p):
    """log(p / (1 - p)) for probabilities strictly inside (0, 1)."""
    return np.log(p) - np.log1p(-p)


def couple_pairwise(R_MLL: np.ndarray) -> np.ndarray:
    """Pairwise coupling (Wu, Lin & Weng 2004, method 2): p minimising
    sum_{i != j} (r_ji p_i - r_ij p_j)**2 subject to sum p = 1, with R[m, i, j] = P(i | i or j).
    Returns [M, L] (negatives clipped, renormalised)."""
    R = np.clip(R_MLL, 1e-6, 1 - 1e-6)
    M, L, _ = R.shape
    off = ~np.eye(L, dtype=bool)
    Rt = np.swapaxes(R, 1, 2)  # Rt[m, i, j] = r_ji
    Q = np.where(off, -Rt * R, 0.0)  # Q_ij = -r_ji r_ij
    Q[:, np.arange(L), np.arange(L)] = np.where(off, Rt**2, 0.0).sum(2)  # Q_ii = sum_s r_si**2
    A = np.zeros((M, L + 1, L + 1))
    A[:, :L, :L], A[:, :L, L], A[:, L, :L] = Q, 1.0, 1.0
    b = np.zeros((M, L + 1))
    b[:, L] = 1.0
    p = np.linalg.solve(A, b[..., None])[..., :L, 0]
    return _normalised(np.clip(p, 1e-12, None))


def couple_groups(R_MTL: np.ndarray, G_TL: np.ndarray, *, tol: float = 1e-10, max_iter: int = 5000) -> np.ndarray:
    """Generalized Bradley-Terry coupling (Huang, Weng & Lin 2006, single-class teams): p [M, L]
    maximising sum_t sum_{c in t} r_t(c) log(p_c / sum_{j in t} p_j), with R[m, t, c] =
    P(c | c in group t) (rows sum to 1 over the group) and G[t, c] = 1 if c is in group t. Their
    MM update p_c <- sum_{t ∋ c} r_t(c) / sum_{t ∋ c} 1 / sum_{j in t} p_j, normalised, to
    convergence. The groups must connect all classes (else the split between parts is arbitrary)."""
    G = np.asarray(G_TL, dtype=np.float64)
    return bradley_terry(np.where(G > 0, R_MTL, 0.0).sum(1), G, tol=tol, max_iter=max_iter)


def bradley_terry(S_ML: np.ndarray, G_TL: np.ndarray, *, tol: float = 1e-10, max_iter: int = 5000) -> np.ndarray:
    """`couple_groups` from the sums S[m, c] = sum_{t ∋ c} r_t(c) (all the update needs)."""
    G = np.asarray(G_TL, dtype=np.float64)
    num = np.clip(S_ML, 1e-12 * G.sum(0), None)
    p = np.full(num.shape, 1.0 / G.shape[1])
    for _ in range(max_iter):
        new = num / ((1.0 / (p @ G.T)) @ G)
        new /= new.sum(1, keepdims=True)
        done = np.abs(new - p).max() <= tol
        p = new
        if done:
            break
    return p
