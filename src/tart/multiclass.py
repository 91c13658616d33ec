"""Any number of classes with a bounded module: decompositions into sub-tasks and their coupling.

`TartClassifier` calls this module for contexts its module does not read natively: more than two
classes with the faithful binary module (`reasoner="tart"`), more classes than its class count
(10 for the shipped one) with tart-2. Classes are indices 0..L-1 here (the classifier's `y_`);
every function returns probabilities [M, L] whose rows sum to 1.

The faithful (binary) module, `multiclass=`:

"auto" (the default) is "ovo" up to 20 classes and "ovr" beyond: pairwise coupling measured
better (docs/multiclass_decomposition.md: mean accuracy 0.570 vs 0.509 over vehicle, glass, vowel,
soybean at k = 2..16 per class, log-loss 1.42 vs 1.46), but its L(L-1)/2 sub-tasks cost too much
beyond a few tens of classes (100 classes: 4950).

- "ovr" (one-vs-rest): one binary sub-task per class c, "c" against "the rest".
  The input map of sub-task c is fitted on the whole context with the labels (c, rest), so its
  origin is the midpoint of the two means (the balanced centre the module was trained for). The
  module reads a balanced sub-context: c's examples and as many of the others (at least
  min(L - 1, 8), so a class with one example still meets several negatives), drawn afresh per
  member, stratified over the other classes. The module ignores base rates (trained on balanced
  tasks), so the prior's log-odds are added to its logit and the classes are coupled by
  normalising sigmoid(logit_c + log-odds prior_c) (prior: the context's smoothed class
  frequencies, or uniform); measured against softmax(logit_c + log prior_c): same accuracy,
  ECE 0.160 vs 0.230.
- "ovo" (pairwise coupling): one sub-task per pair of classes, on the pair's examples, the
  pair's map fitted on them; r_ij = P(j | i or j) (log-odds plus the pair's base-rate log-odds)
  coupled into one distribution by Wu, Lin & Weng's (2004) second method. L(L-1)/2 sub-tasks: the
  cost grows with L**2.

Members: every sub-task gets `max(1, ceil(2 * n_estimators / L))` members ("ovr") or
`max(1, ceil(n_estimators / (L - 1)))` ("ovo"), so the work grows about linearly in L; members
differ in their orderings and negative draws. All sub-tasks whose sub-contexts have the same size
run in one batched pass of the module (balanced contexts: one pass).

tart-2 beyond its class count C, `multiclass=`: every member shuffles the classes and splits
them into ceil(L / (C - 1)) segments (so both schemes run the same number of sub-tasks); members:
`max(1, n_estimators // 2)` shufflings. Each sub-task gets its own tart-2 input map; all run in
one batched pass per sub-context size. tart-2 reads base rates, so a sub-task's probabilities are
divided by its classes' shares of the sub-context and multiplied by their priors, renormalised in
the group. "auto" is "coupled" (docs/multiclass_decomposition.md measures the two: better
accuracy and log-loss).

- "coupled": each segment plus the first class of the next one (cyclically) is a group of at
  most C classes, so one member's groups already connect all classes; a group's sub-task holds
  its classes' examples only and gives r_g(c) = P(c | c in g, x). All members' groups are coupled
  into one distribution over the L classes by the generalized Bradley-Terry model (Huang, Weng &
  Lin 2006; `couple_groups`).
- "groups": each segment (at most C - 1 classes) plus an "other" class of about a class's worth
  of examples drawn, stratified, from the classes outside the group ("other"'s prior: the classes
  outside); every class's in-group probability, averaged over members, is normalised over all L
  classes.
"""

from __future__ import annotations

import math
from typing import Callable, Iterator

import numpy as np
import torch

from tart.inputs import MAPPED_LIMIT

DECOMPOSITIONS = ("auto", "ovr", "ovo")
SET_DECOMPOSITIONS = ("auto", "groups", "coupled")  # tart-2 beyond its class count
SET_DEFAULT = "coupled"


OVO_MAX_CLASSES = 20  # "auto": pairwise coupling up to here (L(L-1)/2 sub-tasks), one-vs-rest beyond


def check_multiclass(value, n_classes: int | None = None) -> str:
    """The decomposition for the faithful module, or a ValueError; with `n_classes`, "auto" is
    resolved: "ovo" up to OVO_MAX_CLASSES classes, "ovr" beyond."""
    if value not in DECOMPOSITIONS:
        raise ValueError(f"multiclass must be one of {DECOMPOSITIONS}, got {value!r}")
    if value == "auto" and n_classes is not None:
        return "ovo" if n_classes <= OVO_MAX_CLASSES else "ovr"
    return value


def log_prior(class_prior, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Log class priors [L] for more than two classes: "context" (smoothed context frequencies
    (n_c + 1) / (k + L)) or "uniform"; a float is for two classes only (ValueError)."""
    if isinstance(class_prior, str) and class_prior == "uniform":
        return np.zeros(n_classes)
    if isinstance(class_prior, str) and class_prior == "context":
        return np.log((np.bincount(y, minlength=n_classes) + 1.0) / (len(y) + n_classes))
    raise ValueError("class_prior must be 'context', 'uniform' or (two classes) a float in (0, 1), "
                     f"got {class_prior!r} for {n_classes} classes")


def _clip(Z: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return np.clip(Z, -MAPPED_LIMIT, MAPPED_LIMIT).astype(np.float32)


def _draw_stratified(pools: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
    """n indices drawn without replacement from the pools (one per class), round-robin over the
    classes in random order, so the classes are as even as their sizes allow."""
    pools = [rng.permutation(p) for p in pools if len(p)]
    order = rng.permutation(len(pools))
    out, depth = [], 0
    while len(out) < n and any(depth < len(p) for p in pools):
        for j in order:
            if depth < len(pools[j]) and len(out) < n:
                out.append(pools[j][depth])
        depth += 1
    return np.asarray(out, dtype=np.int64)


# ---- the faithful module -------------------------------------------------------------------
def _run_binary(reasoner, tasks: list[tuple[np.ndarray, np.ndarray, np.ndarray]], device) -> np.ndarray:
    """Logits [T, M] of binary sub-tasks (context [K_t, d], labels [K_t], queries [M, d]); one
    batched pass per distinct context size."""
    out = [None] * len(tasks)
    sizes: dict[int, list[int]] = {}
    for t, (cx, _, _) in enumerate(tasks):
        sizes.setdefault(len(cx), []).append(t)
    for ids in sizes.values():
        cx = torch.from_numpy(np.stack([tasks[t][0] for t in ids])).to(device)
        cy = torch.from_numpy(np.stack([tasks[t][1] for t in ids]).astype(np.int64)).to(device)
        qx = torch.from_numpy(np.stack([tasks[t][2] for t in ids])).to(device)
        logits = reasoner.predict(cx, cy, qx, validate=False)
        if not torch.isfinite(logits).all():
            raise ValueError("the reasoning module's outputs are not finite (NaN or inf)")
        for t, row in zip(ids, logits.double().cpu().numpy()):
            out[t] = row
    return np.stack(out)


def _mean_logit(logits_EM: np.ndarray) -> np.ndarray:
    """The log-odds of the members' mean probability (as the binary classifier averages)."""
    p = np.clip((1.0 / (1.0 + np.exp(-logits_EM))).mean(0), 1e-12, 1 - 1e-12)
    return np.log(p) - np.log1p(-p)


def faithful_proba(reasoner, make_projection: Callable, X_KD: np.ndarray, y: np.ndarray, Q_MD: np.ndarray,
                   n_classes: int, *, method: str = "ovr", n_estimators: int = 8, max_context: int = 255,
                   class_prior="context", random_state=0, device="cpu", coupling: str = "sigmoid",
                   neg_ratio: float = 1.0, min_neg: int | None = None) -> np.ndarray:
    """Probabilities [M, L] from the binary module by one-vs-rest or pairwise coupling.

    One-vs-rest's knobs (measured by scripts/bench_multiclass.py): `coupling` "softmax"
    (softmax of logit + log prior) or "sigmoid" (sigmoid(logit + prior log-odds), renormalised);
    the sub-context's negatives: max(neg_ratio * n_pos, min_neg) (min_neg default min(L - 1, 8); -1: L - 1)."""
    L, rng = n_classes, np.random.default_rng(random_state)
    method = check_multiclass(method, L)
    lp = log_prior(class_prior, y, L)
    members = [np.flatnonzero(y == c) for c in range(L)]
    tasks, owner = [], []
    if method == "ovr":
        per = max(1, math.ceil(2 * n_estimators / L))
        for c in range(L):
            y01 = (y == c).astype(np.int64)
            proj = make_projection().fit(X_KD, y01, validate=False)
            cx, qx = _clip(proj.transform(X_KD, validate=False)), _clip(proj.transform(Q_MD, validate=False))
            pos, others = members[c], [members[j] for j in range(L) if j != c]
            n_pos = min(len(pos), max(1, max_context // 2))
            floor = min(L - 1, 8) if min_neg is None else L - 1 if min_neg < 0 else min_neg
            want = max(int(round(neg_ratio * n_pos)), floor, 1)
            n_neg = min(want, sum(map(len, others)), max_context - n_pos)
            for _ in range(per):
                idx = rng.permutation(np.concatenate([rng.choice(pos, n_pos, replace=False),
                                                      _draw_stratified(others, n_neg, rng)]))
                tasks.append((cx[idx], y01[idx], qx))
                owner.append(c)
        logits = _run_binary(reasoner, tasks, device)
        owner = np.asarray(owner)
        score_LM = np.stack([_mean_logit(logits[owner == c]) for c in range(L)])
        if coupling == "sigmoid":
            odds = lp - np.log1p(-np.clip(np.exp(lp), 0, 1 - 1e-12))
            p = 1.0 / (1.0 + np.exp(-(score_LM.T + odds)))
            return p / p.sum(1, keepdims=True)
        z = score_LM.T + lp
        z -= z.max(1, keepdims=True)
        p = np.exp(z)
        return p / p.sum(1, keepdims=True)
    if method != "ovo":
        raise ValueError(f"unknown decomposition {method!r}")
    per = max(1, math.ceil(n_estimators / (L - 1)))
    pairs = [(i, j) for i in range(L) for j in range(i + 1, L)]
    for i, j in pairs:
        both = np.concatenate([members[i], members[j]])
        y01 = (y[both] == j).astype(np.int64)
        proj = make_projection().fit(X_KD[both], y01, validate=False)
        cx, qx = _clip(proj.transform(X_KD[both], validate=False)), _clip(proj.transform(Q_MD, validate=False))
        for _ in range(per):
            if len(both) > max_context:
                from tart.ensemble import stratified_subset
                idx = stratified_subset(y01, max_context, rng)
            else:
                idx = rng.permutation(len(both))
            tasks.append((cx[idx], y01[idx], qx))
    logits = _run_binary(reasoner, tasks, device).reshape(len(pairs), per, -1)
    M = logits.shape[-1]
    R = np.full((M, L, L), 0.5)  # R[m, a, b] = P(a | a or b)
    for (i, j), lg in zip(pairs, logits):
        r_j = 1.0 / (1.0 + np.exp(-(_mean_logit(lg) + lp[j] - lp[i])))
        R[:, j, i], R[:, i, j] = r_j, 1.0 - r_j
    return couple_pairwise(R)


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
    p = np.clip(p, 1e-12, None)
    return p / p.sum(1, keepdims=True)


# ---- tart-2 beyond its class count -----------------------------------------------------------
def check_set_multiclass(value) -> str:
    """tart-2's decomposition beyond its class count ("auto": SET_DEFAULT), or a ValueError."""
    if value not in SET_DECOMPOSITIONS:
        raise ValueError(f"multiclass must be one of {SET_DECOMPOSITIONS} for tart-2, got {value!r}")
    return SET_DEFAULT if value == "auto" else value


def set_groups(n_classes: int, size: int, n_members: int, rng: np.random.Generator, *,
               linked: bool) -> Iterator[np.ndarray]:
    """Class groups: each member shuffles the classes and splits them into ceil(L / size)
    segments; `linked` appends to each segment the first class of the next one (cyclically), so
    one member's groups (at most size + 1 classes) already connect all classes."""
    for _ in range(n_members):
        segs = np.array_split(rng.permutation(n_classes), math.ceil(n_classes / size))
        for i, s in enumerate(segs):
            yield np.append(s, segs[(i + 1) % len(segs)][0]) if linked else s


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


def set_groups_proba(reasoner, X_KD: np.ndarray, y: np.ndarray, Q_MD: np.ndarray, n_classes: int, *,
                     method: str = "auto", n_components: int | None = None, standardize="auto",
                     n_estimators: int = 8, max_context: int | None = None, class_prior="context",
                     random_state=0, device="cpu") -> np.ndarray:
    """Probabilities [M, L] from tart-2 for L above its class count C: "groups" (groups of C - 1
    plus an "other" class, scores averaged) or "coupled" (linked groups of at most C classes,
    coupled by `couple_groups`)."""
    from tart.projection import apply_set_map, fit_set_map, map_views

    L, C = n_classes, reasoner.config.n_classes
    method = check_set_multiclass(method)
    coupled = method == "coupled"
    rng = np.random.default_rng(random_state)
    lp = log_prior(class_prior, y, L)
    members = [np.flatnonzero(y == c) for c in range(L)]
    tasks = []  # (context idx, labels, group classes)
    for group in set_groups(L, C - 1, max(1, n_estimators // 2), rng, linked=coupled):
        inside = np.concatenate([members[c] for c in group])
        where = np.full(L, -1)
        where[group] = np.arange(len(group))
        lab, idx = where[y[inside]], inside
        if not coupled:  # plus "other": about a class's worth, stratified over the classes outside
            outside = [members[c] for c in range(L) if c not in set(group.tolist())]
            n_other = min(max(1, round(len(inside) / len(group)), min(len(group), L - len(group))),
                          sum(map(len, outside)))
            other = _draw_stratified(outside, n_other, rng)
            lab = np.concatenate([lab, np.full(len(other), len(group))])
            idx = np.concatenate([inside, other])
        if max_context is not None and len(idx) > max_context:
            from tart.ensemble import subset_with_every_class
            keep = subset_with_every_class(lab, max_context, rng)
            idx, lab = idx[keep], lab[keep]
        tasks.append((idx, lab.astype(np.int64), group))
    out_dims = n_components or reasoner.config.n_dims
    S = np.zeros((len(Q_MD), L))  # every class's in-group probabilities, summed over its groups
    by_size: dict[tuple[int, int], list[int]] = {}
    for t, (idx, lab, group) in enumerate(tasks):
        by_size.setdefault((len(idx), len(group) + (not coupled)), []).append(t)
    Q = torch.from_numpy(np.asarray(Q_MD, dtype=np.float64))
    views = map_views(reasoner.config.whiten_map)
    for (K, n_lab), ids in by_size.items():
        x = torch.from_numpy(np.stack([X_KD[tasks[t][0]] for t in ids]))
        yl = torch.from_numpy(np.stack([tasks[t][1] for t in ids]))
        proba = 0.0  # [B, M, n_lab], averaged over the views of the map
        for whiten in views:
            params = fit_set_map(x, yl, out_dims, standardize, whiten=whiten)
            cx = apply_set_map(params, x).float().clamp(-MAPPED_LIMIT, MAPPED_LIMIT)
            qx = apply_set_map(params, Q[None].expand(len(ids), -1, -1)).float().clamp(-MAPPED_LIMIT, MAPPED_LIMIT)
            logits = reasoner.predict(cx.to(device), yl.to(device), qx.to(device), n_classes=n_lab, validate=False)
            if not torch.isfinite(logits).all():
                raise ValueError("the reasoning module's outputs are not finite (NaN or inf)")
            proba = proba + torch.softmax(logits.double(), -1).cpu().numpy() / len(views)
        for t, p in zip(ids, proba):
            idx, lab, group = tasks[t]
            share = (np.bincount(lab, minlength=n_lab) + 1.0) / (len(lab) + n_lab)
            # the sub-task's base rates swapped for the priors ("other": the classes outside)
            prior = np.exp(lp[group])
            if not coupled:
                prior = np.append(prior, max(1.0 - prior.sum(), 1e-12))
            u = p / share * prior
            S[:, group] += u[:, : len(group)] / u.sum(1, keepdims=True)
    G = np.zeros((len(tasks), L))
    for t, (_, _, group) in enumerate(tasks):
        G[t, group] = 1.0
    if coupled:
        return bradley_terry(S, G)
    score = np.clip(S / G.sum(0), 1e-300, None)
    return score / score.sum(1, keepdims=True)
