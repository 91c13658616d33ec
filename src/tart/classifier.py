"""`TartClassifier`: few-shot classification as a scikit-learn estimator.

items -> embedder -> context-fitted input map -> reasoning module -> probabilities.

`fit(X, y)` checks and stores the context (and embeds it when the embedder does not depend on the
context); nothing is trained. `predict_proba` maps context and queries with the map fitted on the
context, then runs every ensemble member (`tart.ensemble`) in one batched pass, all queries
sharing the encoded context. Inputs are checked here, once: the map and the module are called
with `validate=False`. Predicting never changes fitted state: with a context-dependent embedder the
context's features come with each call, and the call fits its own map.

tart-2 (the default, `tart.set_reasoner`) reads up to its module's class count, in any order and
any number: its members are label permutations, so the prediction does not depend on which class
is called 0, and it reads the context through several views of its own input map, weighted by the
context (`tart.views`). The faithful module (`reasoner="tart"`) is binary and order-sensitive and
holds at most `config.max_points - 1` context points: its members read the context in their own
random orders, or class-stratified subsets when the context is longer than `max_context`.
"""

from __future__ import annotations

import copy
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, column_or_1d, validate_data

from tart import ensemble, inputs, multiclass, views
from tart.embed.runtime import resolve_device
from tart.projection import BASES, CENTERS, ContextProjection, SetMap, set_views
from tart.reasoner import Reasoner
from tart.set_reasoner import SetReasoner

DEFAULT_LABEL_WORDS = ("negative", "positive")
# TART's own projection and decision rule, for comparisons: TartClassifier(**ORIGINAL_SETTINGS)
ORIGINAL_SETTINGS = {"projection": "pca", "standardize": False, "center": "mean", "class_prior": "uniform"}


class TartClassifier(ClassifierMixin, BaseEstimator):
    """Few-shot classifier: a frozen embedder + a reasoning module trained on synthetic tasks.

    Parameters
    ----------
    embedder : None, str or embedder object
        None: X holds numeric features (e.g. embeddings you already have), shape [n, D].
        A name ("smollm2", "minilm"), a model path / hub id, or an object with
        `encode(items) -> [n, D]`: X holds raw items (texts, ...) embedded by it.
    embedder_kwargs : dict, optional
        Passed to `tart.embed.get_embedder` with a name (e.g. {"mode": "vanilla"}).
    reasoner : None, "tart", "tart2", path, Reasoner or SetReasoner
        "tart": the faithful binary module shipped with the package; "tart2": the shipped
        set-layout module (multi-class, its own input map); or a model folder or module. None
        (the default): "tart2" (measured against the baselines and the faithful module in
        docs/tart2_real.md and docs/multiclass_notes.md), or "tart" when `multiclass` names one
        of the faithful module's decompositions ("ovr", "ovo").
    n_components : int, optional
        Components the map keeps; default the module's feature width (tart: 16, tart-2: 64).
    fill : {"zeros", "tile"}, optional
        How the faithful module's dims beyond the kept components are filled (default "zeros").
        `fill`, `projection` and `center` set the faithful module's projection (`tart.projection`).
    projection : {"class-mean", "pca"}, default "class-mean"
        The projection's basis: the context's class-mean difference first, then PCA of the rest;
        or "pca", the original's.
    center : {"balanced", "mean"}, default "balanced"
        The projection's origin: the midpoint of the two class means (the module's training
        tasks have their boundary through the origin), or the context mean (the original's).
    standardize : True, False or "auto", default "auto"
        Scale every feature to unit variance over the context before the map; "auto" does it when
        a few features hold a huge share of the variance (a causal LM's "massive activations");
        False is the original's.
    n_estimators : int, default 8
        Ensemble members, averaged (see `tart.ensemble`): context orderings or subsets for the
        faithful module; label permutations for tart-2 (two classes: both orders, always).
    max_context : int, optional
        Most context points one member reads (default and ceiling: what the module holds; tart-2:
        no limit by default). A longer context is read in subsets that keep every class, so it is
        at least the number of classes (max_context=1 is a ValueError at fit).
    label_words : pair of str, optional
        Words for classes_[0] and classes_[1] in prompts of context-dependent embedders
        (default: the classes themselves when they are strings, else negative/positive).
    class_prior : "context", "uniform" or float, default "context"
        The faithful module ignores base rates (it was trained on balanced tasks): "context" adds
        the log-odds of the context's smoothed class frequencies ((n1 + 1) / (k + 2)) to its
        logits, a float in (0, 1) gives P(classes_[1]) instead, "uniform" leaves it alone. tart-2
        reads base rates from the context: "context" leaves it alone, "uniform" and a float
        reweight its probabilities by prior / smoothed context frequency.
    device : str
        "auto" (CUDA when available), "cpu", "cuda", ...
    random_state : int or None
        Seeds the ensemble's orderings, subsets and permutations.
    multiclass : {"auto", "ovr", "ovo"} or (tart-2) {"auto", "groups", "coupled"}, default "auto"
        More than two classes with the faithful binary module: pairwise coupling ("ovo") or
        one-vs-rest ("ovr"); "auto": "ovo" up to 20 classes, "ovr" beyond. tart-2 beyond its class
        count reads class groups, with an "other" class ("groups") or coupled by a generalized
        Bradley-Terry model ("coupled"); "auto": `tart.multiclass.SET_DEFAULT` (see `tart.multiclass`).
    temperature : float, "context" or "auto", default "auto"
        Probabilities become p ** (1 / temperature), renormalised (the argmax is unchanged).
        "context": chosen at fit by cross-validated log-loss on the context alone
        (`tart.calibration.context_temperature`, up to 4 extra fits); "auto": "context" when the
        embedder's features do not depend on the context, else 1. The value used is stored as
        `temperature_`; docs/calibration.md measures it against temperature 1.
    """

    def __init__(
        self, embedder=None, embedder_kwargs=None, reasoner=None, n_components=None, fill=None,
        projection="class-mean", center="balanced", standardize="auto", n_estimators=8, max_context=None, label_words=None,
        class_prior="context", device="auto", random_state=0, multiclass="auto", temperature="auto",
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
        self.multiclass = multiclass
        self.temperature = temperature

    # ---- scikit-learn API ----------------------------------------------------------------
    def fit(self, X, y) -> "TartClassifier":
        """Check and store the context (X, y); embeds X now unless the embedder depends on the context."""
        inputs.check_kind(X, "fit")
        y_raw = y
        if self.embedder is None:
            X, y = validate_data(self, X, y, dtype=np.float64, ensure_min_samples=1)
        else:
            X = inputs.check_items(X, "fit")
            if y is None:
                raise ValueError("TartClassifier requires y to be passed, but the target y is None")
            y = column_or_1d(y, warn=True)
            if len(y) != len(X):
                raise ValueError(f"X has {len(X)} items but y has {len(y)} labels")
        inputs.check_label_kinds(y_raw)
        check_classification_targets(y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        self.reasoner_ = _resolve_reasoner(default_reasoner(self.reasoner, len(self.classes_), self.multiclass),
                                           resolve_device(self.device))
        set_module, cfg = isinstance(self.reasoner_, SetReasoner), self.reasoner_.config
        limit = self._check_params(y, set_module)
        self.max_context_ = self.max_context or limit or len(y01)
        self.y_ = y01.astype(np.int64)
        if set_module and len(self.classes_) <= cfg.n_classes:
            self.class_weight_ = ensemble.class_weight(self.class_prior, self.y_, len(self.classes_))
        elif len(self.classes_) > 2:  # tart.multiclass: checked here, applied at predict time
            multiclass.log_prior(self.class_prior, self.y_, len(self.classes_))
        else:
            self.prior_logit_ = ensemble.prior_logit(self.class_prior, self.y_)
        self.projection_ = self._make_projection()
        if self.embedder is None:
            self.context_ = X
        else:
            from tart.embed.registry import resolve_embedder

            self.embedder_ = resolve_embedder(self.embedder, self.embedder_kwargs)
            self.label_words_ = self._label_words()
            if self._context_dependent():  # embedded at predict time, together with the queries
                if self.temperature == "context":
                    raise ValueError('temperature="context" needs an embedder whose features do not '
                                     'depend on the context; give a number or "auto"')
                self.temperature_ = 1.0 if self.temperature == "auto" else float(self.temperature)
                self.context_ = list(X)
                return self
            self.context_ = inputs.as_features(self.embedder_.encode(list(X)), len(X), "context")
        if not self._decomposed():  # sub-tasks fit their own maps (tart.multiclass)
            ctx_KD = inputs.condition(self.context_)[0]
            _fit_map(self.projection_, ctx_KD, self.y_)
            if set_module:
                self.view_weights_ = self._fit_view_weights(ctx_KD)
        if self.temperature in ("auto", "context"):
            from tart.calibration import context_temperature

            params = {**self.get_params(deep=False), "embedder": None, "embedder_kwargs": None,
                      "temperature": 1.0, "label_words": None}
            self.temperature_ = context_temperature(lambda: type(self)(**params), self.context_, self.y_,
                                                    seed=0 if self.random_state is None else self.random_state)
        else:
            self.temperature_ = float(self.temperature)
        return self

    def _check_params(self, y, set_module: bool) -> int | None:
        """One clear ValueError per bad setting or context (before anything is embedded); returns
        the most context points one member may read (None: any, tart-2)."""
        L, cfg = len(self.classes_), self.reasoner_.config
        if L < 2:
            raise ValueError(f"the context has only one class ({self.classes_[0]!r}): TartClassifier "
                             "needs examples of both classes")
        (multiclass.check_set_multiclass if set_module else multiclass.check_multiclass)(self.multiclass)
        t = self.temperature
        if not (t in ("auto", "context") or (isinstance(t, (int, float, np.floating))
                                              and not isinstance(t, bool) and 0 < t < float("inf"))):
            raise ValueError(f'temperature must be a positive number, "context" or "auto", got {t!r}')
        if self.projection not in BASES:
            raise ValueError(f"projection must be one of {BASES}, got {self.projection!r}")
        if self.center not in CENTERS:
            raise ValueError(f"center must be one of {CENTERS}, got {self.center!r}")
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators}")
        if set_module and self.n_components is not None and not 1 <= self.n_components <= cfg.n_dims:
            raise ValueError(f"n_components must be in [1, {cfg.n_dims}] for this module, got {self.n_components}")
        limit = None if set_module else cfg.max_points - 1  # tart-2 reads any number of points
        if self.max_context is not None:  # every member reads at least one example of each class
            if self.max_context < L:
                raise ValueError(f"max_context={self.max_context} cannot hold one example of each of {L} "
                                 f"classes: give max_context >= {L}")
            if limit is not None and self.max_context > limit:
                raise ValueError(f"max_context must be in [{L}, {limit}] for this module, got {self.max_context}")
        return limit

    def _make_projection(self) -> ContextProjection | SetMap:
        n_dims = self.reasoner_.config.n_dims
        if isinstance(self.reasoner_, SetReasoner):
            whiten = self.reasoner_.config.whiten_map
            return SetMap(self.n_components or n_dims, self.standardize, whiten,
                          views=set_views(whiten, self.standardize, both_scalings=True))
        return ContextProjection(n_dims, self.n_components or n_dims, self.fill or "zeros",
                                 basis=self.projection, center=self.center, standardize=self.standardize)

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities [n, n_classes], columns in `classes_` order."""
        proba = self._proba(X)
        if self.temperature_ == 1.0:
            return proba
        from tart.calibration import apply_temperature

        return apply_temperature(proba, self.temperature_)

    def _proba(self, X) -> np.ndarray:
        check_is_fitted(self, "classes_")
        ctx_KD, q_MD = inputs.condition(*self._features(X))
        if self._decomposed():
            return self._decomposed_proba(ctx_KD, q_MD)
        projection = self.projection_
        if self._context_dependent():  # the context's features came with the queries: a local map
            projection = _fit_map(self._make_projection(), ctx_KD, self.y_)
        if isinstance(projection, SetMap):  # tart-2: its views of the context (tart.views)
            weights_V = getattr(self, "view_weights_", None)  # saved before views: all equal
            if self._context_dependent():
                weights_V = self._fit_view_weights(ctx_KD)
            proba_VML = views.view_proba(self.reasoner_, projection, ctx_KD, self.y_, q_MD, self._members,
                                         len(self.classes_), weights_V)
            proba_ML = views.weighted_proba(proba_VML, weights_V) * self.class_weight_
            return proba_ML / proba_ML.sum(1, keepdims=True)
        with np.errstate(over="ignore"):  # float32 overflow of far-out queries: clipped just below
            cx_KD, qx_MD = (np.clip(projection.transform(Z, validate=False), -inputs.MAPPED_LIMIT, inputs.MAPPED_LIMIT)
                            for Z in (ctx_KD, q_MD))
        idx_EK, _ = self._members(self.y_)
        dev = next(self.reasoner_.parameters()).device
        cx = torch.from_numpy(cx_KD[idx_EK]).to(dev)  # [E, K', d]
        qx = torch.from_numpy(qx_MD).to(dev).expand(len(idx_EK), -1, -1)  # [E, M, d]
        logits_EM = self.reasoner_.predict(cx, torch.from_numpy(self.y_[idx_EK]).to(dev), qx, validate=False)
        inputs.check_finite_output(logits_EM)
        p1 = torch.sigmoid(logits_EM.double()).mean(0).cpu().numpy()
        if self.prior_logit_ != 0.0:
            p1 = 1.0 / (1.0 + np.exp(-(ensemble.logit(np.clip(p1, 1e-12, 1 - 1e-12)) + self.prior_logit_)))
        return np.stack([1.0 - p1, p1], axis=1)

    def decision_function(self, X) -> np.ndarray:
        """Two classes: log-odds of classes_[1] (from the averaged probability) [n];
        more: log-probabilities [n, n_classes]."""
        proba = np.clip(self.predict_proba(X), 1e-7, 1 - 1e-7)
        return ensemble.logit(proba[:, 1]) if proba.shape[1] == 2 else np.log(proba)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        if proba.shape[1] == 2:  # ties go to classes_[0], as before
            return self.classes_[(proba[:, 1] > 0.5).astype(int)]
        return self.classes_[proba.argmax(1)]

    # ---- saved classifiers (tart.persist) ------------------------------------------------
    def save_pretrained(self, path) -> Path:
        """Write the fitted classifier to folder `path` (config.json + model.safetensors, no
        pickle; see `tart.persist`); `from_pretrained(path)` gives identical predictions."""
        from tart import persist

        return persist.save(self, path)

    @classmethod
    def from_pretrained(cls, path, *, device: str | None = None, embedder=None) -> "TartClassifier":
        """Load a classifier written by `save_pretrained`. Refuses a newer format version and an
        embedder whose weights differ from the saved fingerprint. `device` overrides the saved one."""
        from tart import persist

        return persist.load(cls, path, device=device, embedder=embedder)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True  # tart.multiclass beyond the module's own classes
        if self.embedder is not None:
            tags.input_tags.two_d_array = False
            tags.input_tags.string = True
        return tags

    # ---- internals -----------------------------------------------------------------------
    def _fit_view_weights(self, ctx_KD: np.ndarray) -> np.ndarray | None:
        return views.fit_view_weights(self.reasoner_, self._make_projection(), _fit_map, ctx_KD, self.y_, self._members,
                                      len(self.classes_))

    def _decomposed(self) -> bool:
        """More classes than the module reads natively (tart.multiclass)."""
        if isinstance(self.reasoner_, SetReasoner):
            return len(self.classes_) > self.reasoner_.config.n_classes
        return len(self.classes_) > 2

    def _decomposed_proba(self, ctx_KD: np.ndarray, q_MD: np.ndarray) -> np.ndarray:
        dev = next(self.reasoner_.parameters()).device
        common = dict(n_estimators=self.n_estimators, class_prior=self.class_prior,
                      random_state=self.random_state, device=dev)
        if isinstance(self.reasoner_, SetReasoner):
            return multiclass.set_groups_proba(
                self.reasoner_, ctx_KD, self.y_, q_MD, len(self.classes_), method=self.multiclass,
                n_components=self.n_components, standardize=self.standardize, max_context=self.max_context,
                **common)
        return multiclass.faithful_proba(
            self.reasoner_, self._make_projection, ctx_KD, self.y_, q_MD, len(self.classes_),
            method=multiclass.check_multiclass(self.multiclass), max_context=self.max_context_, **common)

    def _members(self, y_K: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Context indices [E, K'] each member reads of a context labelled y_K, and (tart-2) its
        label permutation [E, L]."""
        rng = np.random.default_rng(self.random_state)
        if isinstance(self.reasoner_, SetReasoner):
            return ensemble.permutation_members(y_K, len(self.classes_), self.n_estimators, self.max_context_, rng)
        return ensemble.ordering_members(y_K, self.n_estimators, self.max_context_, rng), None

    def _features(self, X) -> tuple[np.ndarray, np.ndarray]:
        """Checked (context features [K, D], query features [M, D])."""
        inputs.check_kind(X, "predict")
        if self.embedder is None:
            return self.context_, validate_data(self, X, dtype=np.float64, reset=False)
        items = inputs.check_items(X, "predict")
        if self._context_dependent():
            words = [self.label_words_[i] for i in self.y_]
            ctx, q = self.embedder_.encode_with_context(self.context_, words, items)
            ctx = inputs.as_features(ctx, len(self.context_), "context")
            return ctx, inputs.as_features(q, len(items), "query", ctx.shape[1])
        return self.context_, inputs.as_features(self.embedder_.encode(items), len(items), "query", self.context_.shape[1])

    def _context_dependent(self) -> bool:
        return self.embedder is not None and bool(getattr(self.embedder_, "context_dependent", False))

    def _label_words(self) -> tuple[str, str]:
        if self.label_words is not None:
            words = tuple(str(w) for w in self.label_words)
            if len(words) != len(self.classes_):
                raise ValueError(f"label_words needs {len(self.classes_)} words (one per class), got "
                                 f"{self.label_words!r}")
            return words
        if all(isinstance(c, str) for c in self.classes_):
            return tuple(self.classes_)
        return DEFAULT_LABEL_WORDS if len(self.classes_) == 2 else tuple(str(c) for c in self.classes_)


def _fit_map(projection: ContextProjection | SetMap, ctx_KD: np.ndarray, y_K: np.ndarray):
    """Fit the input map on the context; tart-2's in a canonical row order (by features, then
    label), so that it reads the context as a set even when the context's singular values tie
    (binary or duplicated features), where the SVD's basis of the tied subspace would otherwise
    depend on the order of the rows."""
    if isinstance(projection, SetMap):
        order = inputs.feature_order(ctx_KD, y_K)
        ctx_KD, y_K = ctx_KD[order], y_K[order]
    return projection.fit(ctx_KD, y_K, validate=False)


def default_reasoner(reasoner, n_classes: int, multiclass: str = "auto"):
    """The module `reasoner` names: None is "tart2" (level with or ahead of the best baseline at
    every k on the binary grid, docs/tart2_real.md; ahead on the multi-class grid), or "tart" when
    `multiclass` names one of the faithful module's decompositions ("ovr" or "ovo")."""
    if reasoner is None:
        return "tart" if n_classes > 2 and multiclass in ("ovr", "ovo") else "tart2"
    return reasoner


def _resolve_reasoner(reasoner, device: torch.device) -> Reasoner | SetReasoner:
    if isinstance(reasoner, (Reasoner, SetReasoner)):  # a copy: the caller's module is left as it was
        return copy.deepcopy(reasoner).to(device).eval()
    if reasoner is not None and not isinstance(reasoner, (str, Path)):
        raise TypeError('reasoner must be None, "tart", "tart2", a model folder, a Reasoner or a '
                        f"SetReasoner, got {type(reasoner).__name__}")
    return _load_reasoner_cached(str(reasoner) if reasoner is not None else None, str(device))


@lru_cache(maxsize=4)
def _load_reasoner_cached(path: str | None, device: str) -> Reasoner | SetReasoner:
    from tart.pretrained import load_reasoner

    return load_reasoner(path, device=device).eval()
