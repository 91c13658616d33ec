"""What each of `TartClassifier`'s ensemble members reads, and the class prior it applies.

The faithful module is order-sensitive and holds a bounded context: its members read the context
in their own random orders, or, for a context longer than `max_context`, class-stratified random
subsets (`n_estimators * ceil(k / max_context)` of them, so every point is read about
`n_estimators` times). tart-2 ignores order and reads any k: its members are label permutations
(both orders for two classes), with a subset that keeps every class per member for long contexts;
with `symmetries` (`symmetry_members`), they also differ in transforms of the mapped features the
module should not depend on (`tart.plan.turn_matrix`).

y holds class indices 0..L-1; indices are [E, K'] (E members of K' points), permutations [E, L]
(member e shows class c as perm[e, c]).
"""

from __future__ import annotations

import math

import numpy as np

from tart.plan import logit


def ordering_members(y: np.ndarray, n_estimators: int, max_context: int, rng: np.random.Generator) -> np.ndarray:
    """The faithful module's members: random orders of the context, or stratified subsets."""
    k = len(y)
    if k <= max_context:
        return np.stack([rng.permutation(k) for _ in range(n_estimators)])
    n_members = n_estimators * math.ceil(k / max_context)
    return np.stack([stratified_subset(y, max_context, rng) for _ in range(n_members)])


def permutation_members(
    y: np.ndarray, n_classes: int, n_estimators: int, max_context: int, rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """tart-2's members: (context indices, label permutations). Two classes: both orders; more:
    the identity and random permutations, `n_estimators` in all; long contexts: a subset each."""
    L, k = n_classes, len(y)
    perms = [np.arange(L), np.arange(L)[::-1]] if L == 2 else [np.arange(L)] + [
        rng.permutation(L) for _ in range(max(0, n_estimators - 1))]
    if k <= max_context:
        return np.stack([np.arange(k)] * len(perms)), np.stack(perms)
    n = max(len(perms), n_estimators * math.ceil(k / max_context))
    perms = [perms[i % len(perms)] for i in range(n)]
    return np.stack([subset_with_every_class(y, max_context, rng) for _ in range(n)]), np.stack(perms)


SYMMETRIES = ("classes", "signs", "rotations")
LEGACY_SYMMETRIES = "labels"  # the members before symmetries: `permutation_members`


def check_symmetries(symmetries) -> tuple[str, ...] | str:
    """`symmetries` as the strategy reads it: "labels" (the legacy members), or a tuple of names
    from SYMMETRIES (a string of names joined by "+" is accepted); else a ValueError."""
    if isinstance(symmetries, str) and symmetries == LEGACY_SYMMETRIES:
        return symmetries
    names = tuple(symmetries.split("+")) if isinstance(symmetries, str) else tuple(symmetries or ())
    bad = [n for n in names if n not in SYMMETRIES]
    if bad or len(set(names)) != len(names):
        raise ValueError(f"symmetries must be {LEGACY_SYMMETRIES!r} or distinct names from {SYMMETRIES} "
                         f"(joined by '+'), got {symmetries!r}")
    return names


def symmetry_members(
    y: np.ndarray, n_classes: int, n_members: int, symmetries: tuple[str, ...], max_context: int,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """tart-2's members over symmetries: (context indices [E, K'], label permutations [E, L],
    turns [E]), in blocks. "classes": a block is L members showing the classes cyclically shifted
    by 0..L-1 from the block's base order (the identity for the first block, random after), so
    every class goes through every slot; without it a block is one member in the identity order.
    "signs" / "rotations": every block but the first gets a turn seed shared by its members (the
    mapped features' signs flipped / the map's residual directions rotated, `tart.plan.turn_matrix`),
    so a block of two classes is the same whatever the classes are called. Long contexts: a subset
    with every class per member."""
    L, k, E = n_classes, len(y), max(1, n_members)
    size = L if "classes" in symmetries else 1
    turned = any(s in symmetries for s in ("signs", "rotations"))
    perms, turns, base, turn = [], [], np.arange(L), 0
    for e in range(E):
        if e and e % size == 0:  # a new block
            base = rng.permutation(L) if "classes" in symmetries else base
            turn = int(rng.integers(1, 2**31)) if turned else 0
        perms.append(np.roll(base, -(e % size)))
        turns.append(turn)
    if k <= max_context:
        idx = np.stack([np.arange(k)] * E)
    else:
        idx = np.stack([subset_with_every_class(y, max_context, rng) for _ in range(E)])
    return idx, np.stack(perms), np.array(turns, dtype=np.int64)


def stratified_subset(y01: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` random indices of a binary context, the classes in its proportions (each >= 1);
    `size` must be at least 2."""
    if size < 2:
        raise ValueError(f"max_context={size} cannot hold one example of each of 2 classes")
    pos, neg = np.flatnonzero(y01 == 1), np.flatnonzero(y01 == 0)
    n_pos = min(max(1, round(size * len(pos) / len(y01))), len(pos), size - 1)
    picked = np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, size - n_pos, replace=False)])
    return rng.permutation(picked)


def subset_with_every_class(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` random indices: one of each class, the rest drawn at random (so in the context's
    proportions on average); `size` must be at least the number of classes."""
    classes = np.unique(y)
    if size < len(classes):
        raise ValueError(f"max_context={size} cannot hold one example of each of {len(classes)} classes")
    first = np.array([rng.choice(np.flatnonzero(y == c)) for c in classes])
    rest = rng.choice(np.setdiff1d(np.arange(len(y)), first), size - len(first), replace=False)
    return rng.permutation(np.concatenate([first, rest]))


# ---- class priors -------------------------------------------------------------------------------
def _prior_kind(prior) -> str:
    if isinstance(prior, str) and prior in ("context", "uniform"):
        return prior
    if isinstance(prior, (int, float, np.floating)) and not isinstance(prior, bool) and 0 < prior < 1:
        return "float"
    return "bad"


def prior_logit(prior, y01: np.ndarray) -> float:
    """The faithful module ignores base rates: the log-odds its logits get for `class_prior`
    ("context": the smoothed context frequency (n1 + 1) / (k + 2); "uniform": none; a float:
    P(class 1))."""
    kind = _prior_kind(prior)
    if kind == "bad":
        raise ValueError(f"class_prior must be 'context', 'uniform' or a float in (0, 1), got {prior!r}")
    if kind == "uniform":
        return 0.0
    return float(logit((y01.sum() + 1.0) / (len(y01) + 2.0) if kind == "context" else prior))


def class_weight(prior, y: np.ndarray, n_classes: int) -> np.ndarray:
    """tart-2 reads base rates from the context, so "context" changes nothing; other priors
    reweight its probabilities by prior / (smoothed) context frequency."""
    kind, L = _prior_kind(prior), n_classes
    if kind == "bad" or (kind == "float" and L != 2):
        raise ValueError("class_prior must be 'context', 'uniform' or (two classes) a float in (0, 1), "
                         f"got {prior!r}")
    freq = (np.bincount(y, minlength=L) + 1.0) / (len(y) + L)
    if kind == "context":
        return np.ones(L)
    return (1.0 if kind == "uniform" else np.array([1.0 - prior, prior])) / freq
