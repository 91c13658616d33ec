"""Each module family's strategy: the plan (`tart.plan.Plan`) a context gets at fit.

The faithful module (`reasoner="tart"`) is binary and order-sensitive and holds a bounded context.
Two classes: its members read the context in their own random orders, or class-stratified subsets
of a longer one (`tart.ensemble`); the map is fitted on the whole context. More classes,
`multiclass=`:

- "ovr" (one-vs-rest): one sub-task per class c, "c" against "the rest", its map fitted on the
  whole context with the labels (c, rest) (so its origin is the midpoint of the two means, the
  balanced centre the module was trained for). The module reads a balanced sub-context: c's
  examples and as many of the others (at least min(L - 1, 8), so a class with one example still
  meets several negatives), drawn afresh per member, stratified over the other classes. The
  classes are coupled by normalising sigmoid(logit_c + log-odds prior_c) (measured against
  softmax(logit_c + log prior_c): same accuracy, ECE 0.160 vs 0.230; docs/multiclass_notes.md).
- "ovo" (pairwise coupling): one sub-task per pair of classes on the pair's examples, the pair's
  map fitted on them, coupled by Wu, Lin & Weng's (2004) second method; L(L-1)/2 sub-tasks.
- "auto": "ovo" up to `OVO_MAX_CLASSES` classes, "ovr" beyond (pairwise coupling measured better,
  docs/multiclass_decomposition.md, but its sub-tasks grow with L**2).
Every sub-task gets `max(1, ceil(2 * n_estimators / L))` ("ovr") or
`max(1, ceil(n_estimators / (L - 1)))` ("ovo") members, so the work grows about linearly in L.

tart-2 reads up to its class count C natively, any k, in any order: its members are label
permutations (both orders for two classes), with a subset that keeps every class per member for
contexts longer than `max_context`; it reads the context through every view of its map. Beyond C
classes, `multiclass=`: every member (`max(1, n_estimators // 2)` of them) shuffles the classes
and splits them into ceil(L / (C - 1)) segments; each group gets its own maps (the same views)
and one read per view:
- "coupled" (the default, "auto"): each segment plus the first class of the next one
  (cyclically), so one member's groups connect all classes; groups coupled by the generalized
  Bradley-Terry model (Huang, Weng & Lin 2006);
- "groups": each segment plus an "other" class of about a class's worth of examples drawn,
  stratified, from the classes outside the group.
A group's probabilities have its base rates swapped for the class priors (`tart.plan.combine`).
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Iterator, NamedTuple

import numpy as np

from tart import ensemble
from tart.calibration import context_folds, fit_temperature, temperature_folds
from tart.inputs import condition
from tart.linear import LinearMember, fit_member
from tart.plan import Job, MapFit, Plan, Read, combine, execute
from tart.projection import BASES, CENTERS, FILLS, ContextProjection, SetMap, set_views

DECOMPOSITIONS = ("auto", "ovr", "ovo")
SET_DECOMPOSITIONS = ("auto", "groups", "coupled")  # tart-2 beyond its class count
SET_DEFAULT = "coupled"
OVO_MAX_CLASSES = 20  # "auto": pairwise coupling up to here (L(L-1)/2 sub-tasks), one-vs-rest beyond


def check_multiclass(value, n_classes: int | None = None) -> str:
    """The faithful module's decomposition, or a ValueError; with `n_classes`, "auto" is resolved."""
    if value not in DECOMPOSITIONS:
        raise ValueError(f"multiclass must be one of {DECOMPOSITIONS}, got {value!r}")
    if value == "auto" and n_classes is not None:
        return "ovo" if n_classes <= OVO_MAX_CLASSES else "ovr"
    return value


def check_set_multiclass(value) -> str:
    """tart-2's decomposition beyond its class count ("auto": SET_DEFAULT), or a ValueError."""
    if value not in SET_DECOMPOSITIONS:
        raise ValueError(f"multiclass must be one of {SET_DECOMPOSITIONS} for tart-2, got {value!r}")
    return SET_DEFAULT if value == "auto" else value


def log_prior(class_prior, y: np.ndarray, n_classes: int) -> np.ndarray:
    """Log class priors [L] for more than two classes: "context" (smoothed context frequencies
    (n_c + 1) / (k + L)) or "uniform"; a float is for two classes only (ValueError)."""
    if isinstance(class_prior, str) and class_prior == "uniform":
        return np.zeros(n_classes)
    if isinstance(class_prior, str) and class_prior == "context":
        return np.log((np.bincount(y, minlength=n_classes) + 1.0) / (len(y) + n_classes))
    raise ValueError("class_prior must be 'context', 'uniform' or (two classes) a float in (0, 1), "
                     f"got {class_prior!r} for {n_classes} classes")


def draw_stratified(pools: list[np.ndarray], n: int, rng: np.random.Generator) -> np.ndarray:
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


# ---- the faithful module ---------------------------------------------------------------------
def faithful_plan(y: np.ndarray, n_classes: int, *, method: str = "auto", n_estimators: int = 8,
                  max_context: int = 255, class_prior="context", random_state=0, coupling: str = "sigmoid",
                  neg_ratio: float = 1.0, min_neg: int | None = None) -> Plan:
    """The faithful module's plan for labels y [K] (0..L-1). One-vs-rest's knobs (measured by
    scripts/bench_multiclass.py): `coupling` "softmax" or "sigmoid"; the sub-context's negatives:
    max(neg_ratio * n_pos, min_neg) (min_neg default min(L - 1, 8); -1: L - 1)."""
    rng, K = np.random.default_rng(random_state), len(y)
    if n_classes == 2:
        idx_EK = ensemble.ordering_members(y, n_estimators, max_context, rng)
        reads = [Read(0, idx, y[idx], 0, np.arange(2)) for idx in idx_EK]
        return Plan("binary", 2, [np.arange(2)], [MapFit(np.arange(K), y)], reads,
                    np.array([ensemble.prior_logit(class_prior, y)]))
    lp = log_prior(class_prior, y, n_classes)
    if check_multiclass(method, n_classes) == "ovr":
        return _ovr_plan(y, n_classes, lp, n_estimators, max_context, rng, coupling, neg_ratio, min_neg)
    return _ovo_plan(y, n_classes, lp, n_estimators, max_context, rng)


def _ovr_plan(y, L, lp, n_estimators, max_context, rng, coupling, neg_ratio, min_neg) -> Plan:
    per = max(1, math.ceil(2 * n_estimators / L))
    members = [np.flatnonzero(y == c) for c in range(L)]
    maps, reads = [], []
    for c in range(L):
        y01 = (y == c).astype(np.int64)
        maps.append(MapFit(np.arange(len(y)), y01))
        pos, others = members[c], [members[j] for j in range(L) if j != c]
        n_pos = min(len(pos), max(1, max_context // 2))
        floor = min(L - 1, 8) if min_neg is None else L - 1 if min_neg < 0 else min_neg
        want = max(int(round(neg_ratio * n_pos)), floor, 1)
        n_neg = min(want, sum(map(len, others)), max_context - n_pos)
        for _ in range(per):
            idx = rng.permutation(np.concatenate([rng.choice(pos, n_pos, replace=False),
                                                  draw_stratified(others, n_neg, rng)]))
            reads.append(Read(c, idx, y01[idx], c, np.arange(2)))
    rule = {"sigmoid": "ovr", "softmax": "ovr-softmax"}[coupling]
    return Plan(rule, L, [np.array([-1, c]) for c in range(L)], maps, reads, lp)


def _ovo_plan(y, L, lp, n_estimators, max_context, rng) -> Plan:
    per = max(1, math.ceil(n_estimators / (L - 1)))
    members = [np.flatnonzero(y == c) for c in range(L)]
    pairs = [(i, j) for i in range(L) for j in range(i + 1, L)]
    maps, reads = [], []
    for t, (i, j) in enumerate(pairs):
        both = np.concatenate([members[i], members[j]])
        y01 = (y[both] == j).astype(np.int64)
        maps.append(MapFit(both, y01))
        for _ in range(per):
            sub = (ensemble.stratified_subset(y01, max_context, rng) if len(both) > max_context
                   else rng.permutation(len(both)))
            reads.append(Read(t, both[sub], y01[sub], t, np.arange(2)))
    return Plan("ovo", L, [np.array(p) for p in pairs], maps, reads, lp)


# ---- tart-2 ------------------------------------------------------------------------------------
def set_plan(y: np.ndarray, n_classes: int, module_classes: int, n_views: int, *, method: str = "auto",
             n_estimators: int = 8, max_context: int | None = None, class_prior="context",
             random_state=0, symmetries="labels") -> Plan:
    """tart-2's plan for labels y [K] (0..L-1): natively up to `module_classes`, class groups
    beyond; every map through each of `n_views` views, equally weighted (`Plan.weighted` sets the
    views' weights). Natively, the members: `symmetries` "labels" (label permutations, both
    orders for two classes: `ensemble.permutation_members`), or `n_estimators` members over the
    named symmetries (`ensemble.symmetry_members`)."""
    rng, K = np.random.default_rng(random_state), len(y)
    max_context = max_context or K
    if n_classes > module_classes:
        return _groups_plan(y, n_classes, module_classes, n_views, check_set_multiclass(method),
                            n_estimators, max_context, log_prior(class_prior, y, n_classes), rng)
    symmetries = ensemble.check_symmetries(symmetries)
    if symmetries == ensemble.LEGACY_SYMMETRIES:
        idx_EK, perm_EL = ensemble.permutation_members(y, n_classes, n_estimators, max_context, rng)
        turn_E, turns = np.zeros(len(idx_EK), dtype=np.int64), ()
    else:
        idx_EK, perm_EL, turn_E = ensemble.symmetry_members(y, n_classes, n_estimators, symmetries, max_context, rng)
        turns = tuple(t for t in symmetries if t != "classes")
    maps = [MapFit(np.arange(K), y, v) for v in range(n_views)]
    # member e calls class c "perm[c]": its output j scores class argsort(perm)[j]
    reads = [Read(v, idx, perm[y[idx]], 0, np.argsort(perm), turn=int(turn)) for v in range(n_views)
             for idx, perm, turn in zip(idx_EK, perm_EL, turn_E)]
    return Plan("mean", n_classes, [np.arange(n_classes)], maps, reads,
                ensemble.class_weight(class_prior, y, n_classes), turns=turns)


def set_groups(n_classes: int, size: int, n_members: int, rng: np.random.Generator, *,
               linked: bool) -> Iterator[np.ndarray]:
    """Class groups: each member shuffles the classes and splits them into ceil(L / size)
    segments; `linked` appends to each segment the first class of the next one (cyclically), so
    one member's groups (at most size + 1 classes) already connect all classes."""
    for _ in range(n_members):
        segs = np.array_split(rng.permutation(n_classes), math.ceil(n_classes / size))
        for i, s in enumerate(segs):
            yield np.append(s, segs[(i + 1) % len(segs)][0]) if linked else s


def _groups_plan(y, L, C, n_views, method, n_estimators, max_context, lp, rng) -> Plan:
    coupled = method == "coupled"
    members = [np.flatnonzero(y == c) for c in range(L)]
    units, maps, reads = [], [], []
    for t, group in enumerate(set_groups(L, C - 1, max(1, n_estimators // 2), rng, linked=coupled)):
        inside = np.concatenate([members[c] for c in group])
        where = np.full(L, -1)
        where[group] = np.arange(len(group))
        lab, idx, cols = where[y[inside]], inside, group
        if not coupled:  # plus "other": about a class's worth, stratified over the classes outside
            outside = [members[c] for c in range(L) if c not in set(group.tolist())]
            n_other = min(max(1, round(len(inside) / len(group)), min(len(group), L - len(group))),
                          sum(map(len, outside)))
            other = draw_stratified(outside, n_other, rng)
            lab, idx = np.concatenate([lab, np.full(len(other), len(group))]), np.concatenate([inside, other])
            cols = np.append(group, -1)
        if len(idx) > max_context:
            keep = ensemble.subset_with_every_class(lab, max_context, rng)
            idx, lab = idx[keep], lab[keep]
        units.append(np.asarray(cols))
        for v in range(n_views):
            maps.append(MapFit(idx, lab.astype(np.int64), v))
            reads.append(Read(len(maps) - 1, idx, lab.astype(np.int64), t, np.arange(len(cols))))
    return Plan(method, L, units, maps, reads, lp)


# ---- the families' strategies, as the classifier reads them -------------------------------------
def default_reasoner(reasoner, n_classes: int, multiclass: str = "auto"):
    """The module `reasoner` names: None is "tart2" (level with or ahead of the best baseline at
    every k on the binary grid, docs/tart2_real.md; ahead on the multi-class grid), or "tart" when
    `multiclass` names one of the faithful module's decompositions ("ovr" or "ovo")."""
    if reasoner is None:
        return "tart" if n_classes > 2 and multiclass in ("ovr", "ovo") else "tart2"
    return reasoner


FAITHFUL_ONLY = ("fill", "projection", "center")  # settings of the faithful module's projection
STACK_DEFAULT = 4.0  # tart-2's stack="auto": pseudo-examples on the module (docs/stacking.md)


def check_stack(value, family: str) -> float | None:
    """`stack` resolved for a module family: tart-2's pseudo-examples on the module (a number >= 0;
    "auto": STACK_DEFAULT), None for no linear member; the faithful module has none (ValueError)."""
    if value is None or (isinstance(value, str) and value == "auto" and family == "tart"):
        return None
    if isinstance(value, str) and value == "auto":
        return STACK_DEFAULT
    if family == "tart":
        raise ValueError(f"stack={value!r}: the linear member is tart-2's (reasoner='tart2'); give "
                         "stack='auto' or None with the faithful module")
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0 <= value < float("inf"):
        raise ValueError(f'stack must be "auto", None or a number >= 0 (pseudo-examples on the module), got {value!r}')
    return float(value)


class FaithfulStrategy:
    """The faithful module: its projection, its plan, and the temperature's folds (each a refit
    on a fold of the raw context, `tart.calibration.temperature_folds`)."""

    name = "tart"

    def __init__(self, params: dict, module):
        self.params, self.config = params, module.config
        self.stack = None

    def check(self, n_classes: int) -> int:
        """The most context points one member reads."""
        check_multiclass(self.params["multiclass"])
        check_stack(self.params.get("stack", "auto"), self.name)
        if self.params.get("symmetries", "auto") not in ("auto", ensemble.LEGACY_SYMMETRIES):
            raise ValueError(f"symmetries={self.params['symmetries']!r}: tart-2's members "
                             "(reasoner='tart2'); the faithful module's are context orderings")
        for name, allowed in (("projection", BASES), ("center", CENTERS), ("fill", FILLS)):
            value = self.params[name]
            if value is not None and value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if n_classes == 2:
            ensemble.prior_logit(self.params["class_prior"], np.zeros(1, dtype=np.int64))
        else:
            log_prior(self.params["class_prior"], np.zeros(1, dtype=np.int64), n_classes)
        return self.config.max_points - 1

    def template(self) -> ContextProjection:
        p, n_dims = self.params, self.config.n_dims
        return ContextProjection(n_dims, p["n_components"] or n_dims, p["fill"] or "zeros",
                                 basis=p["projection"] or "class-mean", center=p["center"] or "balanced",
                                 standardize=p["standardize"])

    def plan(self, y: np.ndarray, n_classes: int) -> Plan:
        p = self.params
        return faithful_plan(y, n_classes, method=p["multiclass"], n_estimators=p["n_estimators"],
                             max_context=p["max_context"] or self.config.max_points - 1,
                             class_prior=p["class_prior"], random_state=p["random_state"])

    def folds(self, raw_KD, ctx_KD: np.ndarray, y: np.ndarray, n_classes: int, temperature: bool):
        """The temperature's folds (kept, held) and their jobs: refits on the raw context's folds."""
        if not temperature:
            return [], []
        rows_KD = np.asarray(raw_KD, dtype=np.float64)
        seed = 0 if self.params["random_state"] is None else self.params["random_state"]
        folds = temperature_folds(rows_KD, y, seed=seed)
        return folds, [Job(self.plan(y[keep], n_classes), *condition(rows_KD[keep], rows_KD[held]))
                       for keep, held in folds]


class SetStrategy:
    """tart-2: its map's views, its plan, and k-fold cross-validation on the context that weighs
    the views (Bayesian model averaging), gives the temperature and weighs the linear member
    (`tart.linear`; `stack` pseudo-examples on the module, None: no member)."""

    name = "tart2"
    view_folds = 4

    def __init__(self, params: dict, module):
        self.params, self.config = params, module.config
        self.views = set_views(module.config.whiten_map, params["standardize"], both_scalings=True,
                               first=module.config.map_first)
        self.stack = check_stack(params.get("stack", "auto"), self.name)

    def check(self, n_classes: int) -> None:
        """tart-2 reads any number of context points: no limit (None)."""
        check_set_multiclass(self.params["multiclass"])
        ensemble.check_symmetries(self.params.get("symmetries", ensemble.LEGACY_SYMMETRIES))
        given = [f"{n}={self.params[n]!r}" for n in FAITHFUL_ONLY if self.params[n] is not None]
        if given:
            raise ValueError(f"{', '.join(given)}: read only by the faithful module's projection "
                             "(reasoner='tart'); tart-2 fits its own map (tart.projection.SetMap)")
        n = self.params["n_components"]
        if n is not None and not 1 <= n <= self.config.n_dims:
            raise ValueError(f"n_components must be in [1, {self.config.n_dims}] for this module, got {n}")
        if n_classes <= self.config.n_classes:
            ensemble.class_weight(self.params["class_prior"], np.zeros(1, dtype=np.int64), n_classes)
        else:
            log_prior(self.params["class_prior"], np.zeros(1, dtype=np.int64), n_classes)
        return None

    def template(self) -> SetMap:
        p, whiten = self.params, self.config.whiten_map
        return SetMap(p["n_components"] or self.config.n_dims, p["standardize"], whiten, views=self.views)

    def plan(self, y: np.ndarray, n_classes: int) -> Plan:
        p = self.params
        return set_plan(y, n_classes, self.config.n_classes, len(self.views), method=p["multiclass"],
                        n_estimators=p["n_estimators"], max_context=p["max_context"],
                        class_prior=p["class_prior"], random_state=p["random_state"],
                        symmetries=p.get("symmetries", ensemble.LEGACY_SYMMETRIES))

    def context_prior(self, plan: Plan, y: np.ndarray) -> np.ndarray:
        """`plan`'s prior for class_prior="context": the views are scored on what the context's
        labels say, whatever prior the predictions get."""
        if plan.rule == "mean":
            return ensemble.class_weight("context", y, plan.n_classes)
        return log_prior("context", y, plan.n_classes)

    def folds(self, raw_KD, ctx_KD: np.ndarray, y: np.ndarray, n_classes: int, temperature: bool):
        """The view folds (kept, held) and their jobs, when there are views or a linear member to
        weigh or a temperature."""
        if len(self.views) == 1 and not temperature and self.stack is None:
            return [], []
        fold_of = context_folds(ctx_KD, y, self.view_folds)
        folds = [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(self.view_folds)]
        folds = [(keep, held) for keep, held in folds if len(held)]
        return folds, [Job(self.plan(y[keep], n_classes), ctx_KD[keep], ctx_KD[held]) for keep, held in folds]


class Fitted(NamedTuple):
    """A context's fitted plan: the plan (its views weighted), its fitted maps, the temperature,
    the view weights [V] (None: one view or nothing held out) and the linear member (None: none)."""

    plan: Plan
    maps: list
    temperature: float
    view_weights: np.ndarray | None
    linear: LinearMember | None


def fit_plans(fam, module, contexts: list[tuple], *, temperature: bool) -> list[Fitted]:
    """The fitted plan of each context (raw [K, D], conditioned [K, D], labels [K] in 0..L-1 with
    every class present, L): every context's plan maps and every fold's jobs in one executor call.
    Each plan's views are weighted by Bayesian model averaging on its folds (a view's weight
    proportional to its likelihood of the held-out labels); the temperature is fitted on the folds'
    held-out probabilities (1 without folds); then the linear member (`fam.stack` not None) is
    weighed against the module's held-out probabilities at that temperature."""
    plans = [fam.plan(y, L) for _, _, y, L in contexts]
    folds = [fam.folds(raw, ctx, y, L, temperature) for raw, ctx, y, L in contexts]
    jobs = [Job(plan, ctx, ctx[:0]) for plan, (_, ctx, _, _) in zip(plans, contexts)]
    jobs += [job for _, fold_jobs in folds for job in fold_jobs]
    probs, maps = execute(module, fam.template(), jobs)
    out, at = [], len(contexts)
    for i, (plan, (held_folds, fold_jobs)) in enumerate(zip(plans, folds)):
        fold_probs, at = probs[at : at + len(fold_jobs)], at + len(fold_jobs)
        _, ctx, y, L = contexts[i]
        weights_V = _view_weights(fam, plan.n_views(), fold_jobs, fold_probs, held_folds, y)
        t, linear = 1.0, None
        if temperature and fold_jobs:
            P = np.concatenate([combine(job.plan, p, job.plan.read_weights(weights_V))
                                for job, p in zip(fold_jobs, fold_probs)])
            t = fit_temperature(P, np.concatenate([y[held] for _, held in held_folds]))
        if fam.stack is not None and fold_jobs:
            P = np.concatenate([combine(replace(job.plan, prior=fam.context_prior(job.plan, y[keep])), p,
                                        job.plan.read_weights(weights_V), temperature=t)
                                for job, p, (keep, _) in zip(fold_jobs, fold_probs, held_folds)])
            prior_L = ensemble.class_weight(fam.params["class_prior"], y, L)
            linear = fit_member(ctx, y, L, held_folds, P, fam.stack, prior_L)
        out.append(Fitted(plan.weighted(weights_V), [maps[i][m] for m in plan.kept_maps(weights_V)], t,
                          weights_V, linear))
    return out


def _view_weights(fam, views: int, jobs: list[Job], probs: list, folds: list, y: np.ndarray) -> np.ndarray | None:
    """Each view's weight [V] by its cross-validated likelihood on the context, the folds' plans
    scored with the context's class prior (None: one view, or nothing held out)."""
    if views == 1 or not jobs:
        return None
    loglik_V = np.zeros(views)
    for job, p, (keep, held) in zip(jobs, probs, folds):
        scored = replace(job.plan, prior=fam.context_prior(job.plan, y[keep]))
        for v in range(views):
            P = combine(scored, p, scored.read_weights(np.eye(views)[v]))
            loglik_V[v] += np.log(np.clip(P[np.arange(len(held)), y[held]], 1e-6, None)).sum()
    w_V = np.exp(loglik_V - loglik_V.max())
    return w_V / w_V.sum()
