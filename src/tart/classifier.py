"""`TartClassifier`: few-shot classification as a scikit-learn estimator.

items -> embedder -> ContextProjection (fitted on the context) -> reasoning module -> probabilities.

`fit(X, y)` only stores the context (and embeds it when the embedder does not depend on the
context); nothing is trained. `predict_proba` projects context and queries with PCA + whitening
fitted on the context, then runs the reasoning module once per ensemble member with all queries
sharing the encoded context (one batched pass, see `Reasoner.predict`).

Ensembling and long contexts. The module is order-sensitive and holds at most
`config.max_points - 1` context points (257 for the shipped 516-position module). Each of the
`n_estimators` members reads the context in its own random order (seeded by `random_state`); when
the context is longer than `max_context`, each member instead reads a random class-stratified
subset of `max_context` points, and `n_estimators * ceil(k / max_context)` members are used so every
point is read about n_estimators times on average. The projection is always fitted on the whole
context. Members' probabilities are averaged.

With `reasoner="tart2"` (the set-layout module, `tart.set_reasoner`) the chain is the same with
tart-2's own input map (`tart.projection.SetMap`: class-mean directions first, then principal
directions, one global scale) and up to the module's class count (10). That module does not
depend on the context's order and reads any number of points, so its ensemble members are
label permutations instead (both label orders for two classes), which makes the prediction
independent of which class is called 0; long contexts (over `max_context`, when given) are read
as random subsets that keep every class.

The faithful module is binary: more than two classes raises a clear error.
"""

from __future__ import annotations

import math
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets, type_of_target
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from tart.projection import BASES, CENTERS, ContextProjection, SetMap
from tart.reasoner import Reasoner
from tart.set_reasoner import SetReasoner

DEFAULT_LABEL_WORDS = ("negative", "positive")
# TART's own projection and decision rule, for comparisons: TartClassifier(**ORIGINAL_SETTINGS)
ORIGINAL_SETTINGS = {"projection": "pca", "standardize": False, "center": "mean", "class_prior": "uniform"}


class TartClassifier(ClassifierMixin, BaseEstimator):
    """Few-shot binary classifier: a frozen embedder + TART's reasoning module, no training.

    Parameters
    ----------
    embedder : None, str or embedder object
        None: X holds numeric features (e.g. embeddings you already have), shape [n, D].
        A name ("smollm2", "minilm"), a model path / hub id, or an object with
        `encode(items) -> [n, D]`: X holds raw items (texts, ...) embedded by it.
    embedder_kwargs : dict, optional
        Passed to `tart.embed.get_embedder` with a name (e.g. {"mode": "vanilla"}).
    reasoner : None, "tart", "tart2", path, Reasoner or SetReasoner
        The reasoning module: None or "tart" the faithful module shipped with the package,
        "tart2" the shipped set-layout module (multi-class, its own input map), or a model folder.
    n_components : int, optional
        PCA components kept (tart-2: the width of its map, default the module's 64). Default: the embedder's `projection_hint` if it has one, else the
        module's feature width (16; with the shipped module 16 beat the original's 8 components
        tiled twice on text, audio and images alike, see the README).
    fill : {"zeros", "tile"}, optional
        How dims beyond the kept components are filled (see `tart.projection`). Default: the
        embedder's hint, else "zeros". `fill`, `projection` and `center` set the faithful module's
        projection; tart-2 always uses its own map (`tart.projection.SetMap`).
    projection : {"class-mean", "pca"}, default "class-mean"
        The basis of the context projection (see `tart.projection`): "class-mean" puts the
        context's class-mean difference first, then PCA of the rest; "pca" is the original's.
        On balanced contexts (amazon_food and tweets with SmolLM2 and MiniLM, Whisper, MobileNetV2)
        "class-mean" was ahead in 21 of 29 cells (by up to 5.1 points) and at most 0.6 behind; on
        imbalanced amazon_food contexts ahead by 1.9-3.5 points at k = 64 (README).
    center : {"balanced", "mean"}, default "balanced"
        Where the projection puts the origin: the midpoint of the context's two class means, or
        the context mean (the original's). They coincide for balanced contexts; for imbalanced ones
        the midpoint matches the module's training tasks (boundary through the origin) and gained
        1.7-5.2 points (SmolLM2) and 1.3-7.5 (MiniLM) at k = 32-256 on amazon_food.
    standardize : True, False or "auto", default "auto"
        Scale every feature to unit variance over the context before the projection (see
        `tart.projection`); False is the original's. "auto" does it when a few features hold a
        huge share of the variance, as a causal LM's hidden states do ("massive activations"), and
        not for sentence encoders, audio or image features. With SmolLM2 it gained 1.3-2.0 points
        on imbalanced amazon_food contexts and up to 3.7 on balanced tweets (README).
    n_estimators : int, default 8
        tart-2: label permutations (two classes: both orders, always). The faithful module:
        random context orderings (or subsets, for long contexts) whose probabilities are averaged;
        all run in one batched pass. With the shipped module on amazon_food + SmolLM2 (balanced
        test, k = 16-256, 3 seeds), 8 orderings were within 0.5 points of 1 up to k = 64 and
        1.4-2.2 points better at k = 128-256.
    max_context : int, optional
        Most context points one pass reads (default and ceiling: what the module holds; tart-2:
        no limit by default, and subsets that keep every class when given).
    label_words : pair of str, optional
        Words for classes_[0] and classes_[1] in prompts of context-dependent embedders
        (default: the classes themselves when they are strings, else negative/positive).
    class_prior : "context", "uniform" or float, default "context"
        The module was trained on tasks whose two classes are equally likely a priori (no
        intercept), so it ignores base rates. "context" adds the log-odds of the context's class
        frequencies ((n1 + 1) / (k + 2)) to its logits (a label-shift correction; no change for a
        balanced context); a float in (0, 1) gives P(classes_[1]) instead; "uniform" leaves the
        module's output alone. On amazon_food (random contexts of the natural class mix, 1000
        test reviews; scripts/imbalanced.py) "context" gained 0.8-2.7 points at k = 32-256 on
        top of center="balanced". tart-2 was trained on imbalanced tasks and reads base rates from
        the context itself: "context" leaves it alone, "uniform" and a float reweight its
        probabilities by (prior / smoothed context frequency).
    device : str
        "auto" (CUDA when available), "cpu", "cuda", ...
    random_state : int or None
        Seeds the context orderings and subsets.
    """

    def __init__(
        self, embedder=None, embedder_kwargs=None, reasoner=None, n_components=None, fill=None,
        projection="class-mean", center="balanced", standardize="auto", n_estimators=8, max_context=None, label_words=None,
        class_prior="context", device="auto", random_state=0,
    ):
        self.embedder = embedder
        self.embedder_kwargs = embedder_kwargs
        self.reasoner = reasoner
        self.n_components = n_components
        self.fill = fill
        self.projection = projection
        self.center = center
        self.standardize = standardize
        self.n_estimators = n_estimators
        self.max_context = max_context
        self.label_words = label_words
        self.class_prior = class_prior
        self.device = device
        self.random_state = random_state

    # ---- scikit-learn API ----------------------------------------------------------------
    def fit(self, X, y) -> "TartClassifier":
        """Store the context (X, y); embeds X now unless the embedder depends on the context."""
        self.reasoner_ = _resolve_reasoner(self.reasoner, _resolve_device(self.device))
        set_module = isinstance(self.reasoner_, SetReasoner)
        if self.embedder is None:
            X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=1)
        else:
            X = _check_items(X, "fit")
            if y is None:
                raise ValueError("TartClassifier requires y to be passed, but the target y is None")
            y = column_or_1d(y, warn=True)
            if len(y) != len(X):
                raise ValueError(f"X has {len(X)} items but y has {len(y)} labels")
        check_classification_targets(y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                f"the context has only one class ({self.classes_[0]!r}): TartClassifier needs "
                "examples of both classes"
            )
        if set_module and len(self.classes_) > self.reasoner_.config.n_classes:
            raise ValueError(
                f"y has {len(self.classes_)} classes but this tart-2 module reads at most "
                f"{self.reasoner_.config.n_classes}")
        if len(self.classes_) > 2 and not set_module:
            raise ValueError(
                f"Only binary classification is supported. The type of the target is "
                f"{type_of_target(y)}: y has {len(self.classes_)} classes "
                f"({list(self.classes_[:5])}{'...' if len(self.classes_) > 5 else ''}); "
                "TartClassifier is binary for now"
            )
        if self.projection not in BASES:
            raise ValueError(f"projection must be one of {BASES}, got {self.projection!r}")
        if self.center not in CENTERS:
            raise ValueError(f"center must be one of {CENTERS}, got {self.center!r}")
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators}")
        cfg = self.reasoner_.config
        limit = None if set_module else cfg.max_points - 1  # tart-2 reads any number of points
        if self.max_context is not None and not 1 <= self.max_context <= (limit or self.max_context):
            raise ValueError(f"max_context must be in [1, {limit or 'any'}] for this module, got {self.max_context}")
        self.max_context_ = self.max_context or limit or len(y01)
        self.y_ = y01.astype(np.int64)
        if set_module:
            self.class_weight_ = self._class_weight()
        else:
            self.prior_logit_ = self._prior_logit()
        if self.embedder is None:
            self.projection_ = self._make_projection(cfg.n_dims, {})
            self.context_ = X
            self.projection_.fit(X, self.y_)
            return self
        self.embedder_ = _resolve_embedder(self.embedder, self.embedder_kwargs)
        self.projection_ = self._make_projection(cfg.n_dims, getattr(self.embedder_, "projection_hint", None) or {})
        self.label_words_ = self._label_words()
        if self._context_dependent():
            self.context_ = list(X)  # embedded at predict time, together with the queries
        else:
            self.context_ = _as_features(self.embedder_.encode(list(X)), len(X), "context")
            self.projection_.fit(self.context_, self.y_)
        return self

    def _make_projection(self, n_dims: int, hint: dict) -> ContextProjection | SetMap:
        """The context projection; the embedder's hint fills an unset n_components / fill."""
        if isinstance(self.reasoner_, SetReasoner):
            return SetMap(self.n_components or n_dims, standardize=self.standardize)
        n_components = self.n_components or min(hint.get("n_components", n_dims), n_dims)
        return ContextProjection(n_dims, n_components, self.fill or hint.get("fill", "zeros"),
                                 basis=self.projection, center=self.center, standardize=self.standardize)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities [n, n_classes], columns in `classes_` order."""
        check_is_fitted(self, "classes_")
        if isinstance(self.reasoner_, SetReasoner):
            return self._predict_proba_set(*self._features(X))
        p1 = self._predict_p1(X)
        return np.stack([1.0 - p1, p1], axis=1)

    def decision_function(self, X) -> np.ndarray:
        """Two classes: log-odds of classes_[1] (from the averaged probability) [n];
        more: log-probabilities [n, n_classes]."""
        proba = np.clip(self.predict_proba(X), 1e-7, 1 - 1e-7)
        return _logit(proba[:, 1]) if proba.shape[1] == 2 else np.log(proba)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        if proba.shape[1] == 2:  # ties go to classes_[0], as before
            return self.classes_[(proba[:, 1] > 0.5).astype(int)]
        return self.classes_[proba.argmax(1)]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = isinstance(self.reasoner, SetReasoner) or self.reasoner == "tart2"
        if self.embedder is not None:
            tags.input_tags.two_d_array = False
            tags.input_tags.string = True
        return tags

    # ---- internals -----------------------------------------------------------------------
    def _predict_p1(self, X) -> np.ndarray:
        check_is_fitted(self, "classes_")
        ctx_KD, q_MD = self._features(X)
        if self._context_dependent():
            self.projection_.fit(ctx_KD, self.y_)  # context vectors come with the queries
        cx_KD = self.projection_.transform(ctx_KD)
        qx_MD = self.projection_.transform(q_MD)
        idx_EK = self._member_indices()
        dev = next(self.reasoner_.parameters()).device
        cx = torch.from_numpy(cx_KD[idx_EK]).to(dev)  # [E, K', d]
        cy = torch.from_numpy(self.y_[idx_EK]).to(dev)  # [E, K']
        qx = torch.from_numpy(qx_MD).to(dev).expand(len(idx_EK), -1, -1)  # [E, M, d]
        logits_EM = self.reasoner_.predict(cx, cy, qx)
        p1 = torch.sigmoid(logits_EM.double()).mean(0).cpu().numpy()
        if self.prior_logit_ == 0.0:
            return p1
        return 1.0 / (1.0 + np.exp(-(_logit(np.clip(p1, 1e-12, 1 - 1e-12)) + self.prior_logit_)))

    def _predict_proba_set(self, ctx_KD: np.ndarray, q_MD: np.ndarray) -> np.ndarray:
        """tart-2: map fitted on the context, members = label permutations (x subsets)."""
        projection = self.projection_
        if self._context_dependent():  # context vectors come with the queries: a local map
            projection = self._make_projection(self.reasoner_.config.n_dims, {}).fit(ctx_KD, self.y_)
        cx_KD, qx_MD = projection.transform(ctx_KD), projection.transform(q_MD)
        idx_EK, perm_EL = self._set_members()
        dev = next(self.reasoner_.parameters()).device
        L = len(self.classes_)
        cx = torch.from_numpy(cx_KD[idx_EK]).to(dev)  # [E, K', d]
        cy = torch.from_numpy(np.take_along_axis(perm_EL, self.y_[idx_EK], 1)).to(dev)  # [E, K']
        qx = torch.from_numpy(qx_MD).to(dev).expand(len(idx_EK), -1, -1)
        proba_EML = torch.softmax(self.reasoner_.predict(cx, cy, qx, n_classes=L).double(), -1).cpu().numpy()
        # member e called class c "perm_EL[e, c]": read its column back in classes_ order
        proba_ML = np.mean([p[:, perm] for p, perm in zip(proba_EML, perm_EL)], axis=0)
        proba_ML = proba_ML * self.class_weight_
        return proba_ML / proba_ML.sum(1, keepdims=True)

    def _set_members(self) -> tuple[np.ndarray, np.ndarray]:
        """tart-2's members: context indices [E, K'] and label permutations [E, L] (member e
        shows class c as perm[e, c]). Two classes: both orders; more: the identity and random
        permutations, `n_estimators` in all; long contexts: a stratified subset per member."""
        rng = np.random.default_rng(self.random_state)
        L, k = len(self.classes_), len(self.y_)
        perms = [np.arange(L), np.arange(L)[::-1]] if L == 2 else [np.arange(L)] + [
            rng.permutation(L) for _ in range(max(0, self.n_estimators - 1))]
        if k <= self.max_context_:
            idx = [np.arange(k)] * len(perms)
        else:
            n = max(len(perms), self.n_estimators * math.ceil(k / self.max_context_))
            perms = [perms[i % len(perms)] for i in range(n)]
            idx = [_stratified_subset_all(self.y_, self.max_context_, rng) for _ in range(n)]
        return np.stack(idx), np.stack(perms)

    def _class_weight(self) -> np.ndarray:
        """tart-2 reads base rates from the context itself, so "context" changes nothing; other
        priors reweight its probabilities by prior / (smoothed) context frequency."""
        prior, L = self.class_prior, len(self.classes_)
        freq = (np.bincount(self.y_, minlength=L) + 1.0) / (len(self.y_) + L)
        if isinstance(prior, str) and prior == "context":
            return np.ones(L)
        if isinstance(prior, str) and prior == "uniform":
            return 1.0 / freq
        if isinstance(prior, (int, float, np.floating)) and not isinstance(prior, bool) and 0 < prior < 1 and L == 2:
            return np.array([1.0 - prior, prior]) / freq
        raise ValueError("class_prior must be 'context', 'uniform' or (two classes) a float in (0, 1), "
                         f"got {prior!r}")

    def _prior_logit(self) -> float:
        """Log-odds added to the module's logits (see `class_prior`)."""
        prior = self.class_prior
        if isinstance(prior, str) and prior == "uniform":
            return 0.0
        if isinstance(prior, str) and prior == "context":
            return float(_logit((self.y_.sum() + 1.0) / (len(self.y_) + 2.0)))
        if isinstance(prior, (int, float, np.floating)) and not isinstance(prior, bool) and 0 < prior < 1:
            return float(_logit(prior))
        raise ValueError(f"class_prior must be 'context', 'uniform' or a float in (0, 1), got {prior!r}")

    def _features(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(context features [K, D], query features [M, D])."""
        if self.embedder is None:
            q = validate_data(self, X, dtype=np.float64, reset=False)
            return self.context_, q
        items = _check_items(X, "predict")
        if self._context_dependent():
            words = [self.label_words_[i] for i in self.y_]
            ctx, q = self.embedder_.encode_with_context(self.context_, words, items)
            return _as_features(ctx, len(self.context_), "context"), _as_features(q, len(items), "query")
        return self.context_, _as_features(self.embedder_.encode(items), len(items), "query")

    def _context_dependent(self) -> bool:
        return self.embedder is not None and bool(getattr(self.embedder_, "context_dependent", False))

    def _member_indices(self) -> np.ndarray:
        """Context indices read by each ensemble member, [E, K'] (E orderings or subsets)."""
        rng = np.random.default_rng(self.random_state)
        k = len(self.y_)
        if k <= self.max_context_:
            return np.stack([rng.permutation(k) for _ in range(self.n_estimators)])
        n_members = self.n_estimators * math.ceil(k / self.max_context_)
        return np.stack([_stratified_subset(self.y_, self.max_context_, rng) for _ in range(n_members)])

    def _label_words(self) -> tuple[str, str]:
        if self.label_words is not None:
            words = tuple(str(w) for w in self.label_words)
            if len(words) != 2:
                raise ValueError(f"label_words needs 2 words (one per class), got {self.label_words!r}")
            return words
        if all(isinstance(c, str) for c in self.classes_):
            return tuple(self.classes_)
        return DEFAULT_LABEL_WORDS


def _logit(p):
    """log(p / (1 - p)) for probabilities strictly inside (0, 1)."""
    return np.log(p) - np.log1p(-p)


def _stratified_subset(y01: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` random indices with the classes in the context's proportions (each class >= 1)."""
    pos, neg = np.flatnonzero(y01 == 1), np.flatnonzero(y01 == 0)
    n_pos = min(max(1, round(size * len(pos) / len(y01))), len(pos), size - 1)
    picked = np.concatenate([rng.choice(pos, n_pos, replace=False), rng.choice(neg, size - n_pos, replace=False)])
    return rng.permutation(picked)


def _stratified_subset_all(y: np.ndarray, size: int, rng: np.random.Generator) -> np.ndarray:
    """`size` random indices (any number of classes): one of each class, the rest drawn at random
    (so in the context's proportions on average); `size` must be >= the number of classes."""
    classes = np.unique(y)
    if size < len(classes):
        raise ValueError(f"max_context={size} cannot hold one example of each of {len(classes)} classes")
    first = np.array([rng.choice(np.flatnonzero(y == c)) for c in classes])
    rest = rng.choice(np.setdiff1d(np.arange(len(y)), first), size - len(first), replace=False)
    return rng.permutation(np.concatenate([first, rest]))


def _check_items(X, where: str) -> list:
    if isinstance(X, (str, bytes)):
        raise ValueError(f"{where}: X must be a list of items, got a single {type(X).__name__}")
    try:
        items = list(X)
    except TypeError:
        raise ValueError(f"{where}: X must be a list of items, got {type(X).__name__}") from None
    if not items:
        raise ValueError(f"{where}: X is empty (no items)")
    return items


def _as_features(Z, n: int, what: str) -> np.ndarray:
    Z = np.asarray(Z, dtype=np.float64)
    if Z.ndim != 2 or len(Z) != n:
        raise ValueError(f"the embedder returned {what} features of shape {Z.shape}, expected [{n}, D]")
    if not np.isfinite(Z).all():
        raise ValueError(f"the embedder returned NaN or inf {what} features")
    return Z


def _resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def _resolve_reasoner(reasoner, device: torch.device) -> Reasoner | SetReasoner:
    if isinstance(reasoner, (Reasoner, SetReasoner)):
        return reasoner.to(device).eval()
    if reasoner is not None and not isinstance(reasoner, (str, Path)):
        raise ValueError('reasoner must be None, "tart", "tart2", a model folder, a Reasoner or a '
                         f"SetReasoner, got {type(reasoner).__name__}")
    return _load_reasoner_cached(str(reasoner) if reasoner is not None else None, str(device))


@lru_cache(maxsize=4)
def _load_reasoner_cached(path: str | None, device: str) -> Reasoner | SetReasoner:
    from tart.pretrained import load_reasoner

    return load_reasoner(path, device=device).eval()


def _resolve_embedder(embedder, kwargs):
    if not isinstance(embedder, (str, Path)) and hasattr(embedder, "encode"):
        if kwargs:
            raise ValueError("embedder_kwargs apply to embedder names, not to embedder objects")
        return embedder
    from tart.embed import get_embedder

    return _get_embedder_cached(embedder, tuple(sorted((kwargs or {}).items())), get_embedder)


@lru_cache(maxsize=4)
def _get_embedder_cached(name, kwargs: tuple, factory):
    return factory(name, **dict(kwargs))
