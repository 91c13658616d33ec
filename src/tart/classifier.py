"""`TartClassifier`: few-shot classification as a scikit-learn estimator.

items -> embedder -> context-fitted input map -> reasoning module -> probabilities.

`fit(X, y)` checks the context, embeds it (unless the embedder depends on the context) and builds
the plan of the module's passes over it (`plan_`, `tart.plan`; made by the module family's
strategy, `tart.strategy`), fitting its input maps (`maps_`) and, in the same executor call, the
cross-validation folds the family runs on the context (tart-2: the weights of its map's views, the
temperature and its linear member, `tart.linear`; the faithful module: the temperature). Nothing
is trained. `predict_proba` runs the plan on the queries: one module call per batch of equal
shapes, all queries sharing each encoded context, then one combiner (and tart-2's linear member
mixed in). Inputs are checked here, once: the maps and the module are called with
`validate=False`. Predicting never changes fitted state: with a context-dependent
embedder the context's features come with each call, and the call fits its own maps.
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

from tart import families, inputs, persist, strategy
from tart.embed.runtime import resolve_device
from tart.plan import Job, combine, execute, logit
from tart.reasoner import Reasoner
from tart.set_reasoner import SetReasoner
from tart.strategy import default_reasoner
from tart.weights import load_reasoner

DEFAULT_LABEL_WORDS = ("negative", "positive")
# TART's module, projection and decision rule, for comparisons: TartClassifier(**ORIGINAL_SETTINGS)
ORIGINAL_SETTINGS = {"reasoner": "tart", "projection": "pca", "standardize": False, "center": "mean",
                     "class_prior": "uniform"}


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
        set-layout module (up to 64 classes in one pass, its own input map); or a model folder or
        module. None (the default): "tart2" (measured against the baselines and the faithful
        module in docs/tart2_real.md and docs/multiclass_notes.md), or "tart" when `multiclass`
        names one of the faithful module's decompositions ("ovr", "ovo").
    n_components : int, optional
        Components the map keeps; default the module's feature width (tart: 16, tart-2: 64).
    fill : {"zeros", "tile"}, optional
        How the faithful module's dims beyond the kept components are filled (None: "zeros").
        `fill`, `projection` and `center` set the faithful module's projection (`tart.projection`);
        tart-2 fits its own map, and refuses them (a ValueError naming them).
    projection : {"class-mean", "pca"}, optional
        The faithful projection's basis (None: "class-mean"): the context's class-mean difference
        first, then PCA of the rest; or "pca", the original's.
    center : {"balanced", "mean"}, optional
        The faithful projection's origin (None: "balanced"): the midpoint of the two class means
        (the module's training tasks have their boundary through the origin), or the context mean
        (the original's).
    standardize : True, False or "auto", default "auto"
        Scale every feature to unit variance over the context before the map; "auto" does it when
        a few features hold a huge share of the variance (a causal LM's "massive activations");
        False is the original's.
    n_estimators : int, default 8
        Ensemble members, averaged (see `tart.strategy`): context orderings or subsets for the
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
        count (the shipped one's: 64) reads class groups, with an "other" class ("groups") or
        coupled by a generalized Bradley-Terry model ("coupled"); "auto": `tart.strategy.SET_DEFAULT` (see `tart.strategy`).
    temperature : float, "context" or "auto", default "auto"
        Probabilities become p ** (1 / temperature), renormalised (the argmax is unchanged).
        "context": chosen at fit by cross-validated log-loss on the context alone (tart-2: the
        held-out predictions of the folds that weigh its views; the faithful module: refitted on
        up to 5 folds, `tart.calibration.temperature_folds`); "auto": "context" when the
        embedder's features do not depend on the context, else 1. The value used is stored as
        `temperature_`; docs/calibration.md measures it against temperature 1.
    symmetries : "labels" or names joined by "+", default "labels"
        tart-2's ensemble members: "labels" (label permutations, as above), or `n_estimators`
        members over the named symmetries (`tart.ensemble.symmetry_members`): "classes" (every
        class through every label slot), "signs" (the mapped features' signs flipped), "rotations"
        (the map's residual directions rotated). docs/symmetries.md measures them: the shipped
        module is already invariant to them, so the default stays "labels".
    stack : "auto", None or float, default "auto"
        tart-2 mixes its probabilities with those of a logistic regression fitted on the same
        context (`tart.linear`), weighted by their likelihood of the held-out labels of the
        context's folds, with `stack` pseudo-examples on the module (a prior: a few examples keep
        the weight on the module). "auto": `tart.strategy.STACK_DEFAULT` for tart-2, nothing for
        the faithful module; None: the module alone. The member is `linear_` (None when its weight
        is under 0.01); docs/tart2.md and docs/candidates.md measure it.
    """

    def __init__(
        self, embedder=None, embedder_kwargs=None, reasoner=None, n_components=None, fill=None,
        projection=None, center=None, standardize="auto", n_estimators=8, max_context=None, label_words=None,
        class_prior="context", device="auto", random_state=0, multiclass="auto", temperature="auto",
        symmetries="labels", stack="auto",
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
        self.symmetries = symmetries
        self.stack = stack

    # ---- scikit-learn API ----------------------------------------------------------------
    def fit(self, X, y) -> "TartClassifier":
        """Check and store the context (X, y) and build the plan of the module's passes over it
        (`plan_`); embeds X now unless the embedder depends on the context."""
        X, y = self._checked_context(X, y)
        self.classes_, y01 = np.unique(y, return_inverse=True)
        self.reasoner_ = _resolve_reasoner(default_reasoner(self.reasoner, len(self.classes_), self.multiclass),
                                           resolve_device(self.device))
        limit = self._check_params()
        self.max_context_ = self.max_context or limit or len(y01)
        self.y_ = y01.astype(np.int64)
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
                self.plan_ = self._plan(self.y_)  # its views weighted at each predict call
                return self
            self.context_ = inputs.as_features(self.embedder_.encode(list(X)), len(X), "context")
        fit_t = self.temperature in ("auto", "context")
        fitted = self._fit_plan(self.context_, temperature=fit_t)
        self.plan_, self.maps_, self.view_weights_ = fitted.plan, fitted.maps, fitted.view_weights
        self.linear_ = fitted.linear
        self.temperature_ = fitted.temperature if fit_t else float(self.temperature)
        return self

    def predict_proba(self, X) -> np.ndarray:
        """Probabilities [n, n_classes], columns in `classes_` order."""
        check_is_fitted(self, "classes_")
        ctx_KD, q_MD = inputs.condition(*self._features(X))
        plan, maps, linear = self.plan_, getattr(self, "maps_", None), getattr(self, "linear_", None)
        if self._context_dependent():  # the context's features came with the queries: its own maps
            plan, maps, _, _, linear = self._fit_plan(ctx_KD, temperature=False, conditioned=True)
        probs, _ = execute(self.reasoner_, None, [Job(plan, ctx_KD, q_MD, maps)])  # the maps are fitted
        proba = combine(plan, probs[0], temperature=self.temperature_)
        return proba if linear is None else linear.mix(proba, q_MD)

    def decision_function(self, X) -> np.ndarray:
        """Two classes: log-odds of classes_[1] (from the averaged probability) [n];
        more: log-probabilities [n, n_classes]."""
        proba = np.clip(self.predict_proba(X), 1e-7, 1 - 1e-7)
        return logit(proba[:, 1]) if proba.shape[1] == 2 else np.log(proba)

    def predict(self, X) -> np.ndarray:
        proba = self.predict_proba(X)
        if proba.shape[1] == 2:  # ties go to classes_[0], as before
            return self.classes_[(proba[:, 1] > 0.5).astype(int)]
        return self.classes_[proba.argmax(1)]

    # ---- saved classifiers (tart.persist) ------------------------------------------------
    def save_pretrained(self, path) -> Path:
        """Write the fitted classifier to folder `path` (config.json + model.safetensors, no
        pickle; see `tart.persist`); `from_pretrained(path)` gives identical predictions."""
        return persist.save(self, path)

    @classmethod
    def from_pretrained(cls, path, *, device: str | None = None, embedder=None) -> "TartClassifier":
        """Load a classifier written by `save_pretrained`. Refuses a newer format version and an
        embedder whose weights differ from the saved fingerprint. `device` overrides the saved one."""
        return persist.load(cls, path, device=device, embedder=embedder)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = True  # class groups or decompositions beyond the module's own
        if self.embedder is not None:
            tags.input_tags.two_d_array = False
            tags.input_tags.string = True
        return tags

    # ---- internals -----------------------------------------------------------------------
    def _checked_context(self, X, y):
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
        return X, y

    def _check_params(self) -> int | None:
        """One clear ValueError per bad setting or context (before anything is embedded); returns
        the most context points one member may read (None: any)."""
        L = len(self.classes_)
        if L < 2:
            raise ValueError(f"the context has only one class ({self.classes_[0]!r}): TartClassifier "
                             "needs examples of both classes")
        t = self.temperature
        if not (t in ("auto", "context") or (isinstance(t, (int, float, np.floating))
                                              and not isinstance(t, bool) and 0 < t < float("inf"))):
            raise ValueError(f'temperature must be a positive number, "context" or "auto", got {t!r}')
        if self.n_estimators < 1:
            raise ValueError(f"n_estimators must be >= 1, got {self.n_estimators}")
        if self.standardize not in (True, False, "auto"):
            raise ValueError(f'standardize must be True, False or "auto", got {self.standardize!r}')
        limit = self._strategy().check(L)
        if self.max_context is not None:  # every member reads at least one example of each class
            if self.max_context < L:
                raise ValueError(f"max_context={self.max_context} cannot hold one example of each of {L} "
                                 f"classes: give max_context >= {L}")
            if limit is not None and self.max_context > limit:
                raise ValueError(f"max_context must be in [{L}, {limit}] for this module, got {self.max_context}")
        return limit

    def _strategy(self):
        """The module family's strategy (`tart.strategy`): its map, its plan and its checks."""
        family = families.for_module(self.reasoner_)
        return families.resolve(family.strategy)(self.get_params(deep=False), self.reasoner_)

    def _plan(self, y_K: np.ndarray):
        """The plan for a context labelled y_K (every class present), its views equally weighted."""
        return self._strategy().plan(y_K, len(self.classes_))

    def _fit_plan(self, context, *, temperature: bool, conditioned: bool = False) -> strategy.Fitted:
        """The fitted plan of a context (`tart.strategy.fit_plans`)."""
        ctx_KD = context if conditioned else inputs.condition(context)[0]
        return strategy.fit_plans(self._strategy(), self.reasoner_, [(context, ctx_KD, self.y_, len(self.classes_))],
                                  temperature=temperature)[0]

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


def _resolve_reasoner(reasoner, device: torch.device) -> Reasoner | SetReasoner:
    if isinstance(reasoner, (Reasoner, SetReasoner)):  # a copy: the caller's module is left as it was
        return copy.deepcopy(reasoner).to(device).eval()
    if reasoner is not None and not isinstance(reasoner, (str, Path)):
        raise TypeError('reasoner must be None, "tart", "tart2", a model folder, a Reasoner or a '
                        f"SetReasoner, got {type(reasoner).__name__}")
    return _load_reasoner_cached(str(reasoner) if reasoner is not None else None, str(device))


@lru_cache(maxsize=4)
def _load_reasoner_cached(path: str | None, device: str) -> Reasoner | SetReasoner:
    return load_reasoner(path, device=device).eval()
