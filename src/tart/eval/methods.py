"""The method registry: every few-shot method by name, what it needs and its largest k.

A method is a named `fn(context, test) -> predictions`, labels [m] or (where the method has them)
probabilities [m, L] over the context's classes 0..L-1 (the runner scores both, `tart.eval.metrics`): `Context` carries the k labelled items, their
stream embeddings and labels; `Test` the test items and embeddings, never the labels. `Setup` is
one (data set, embedder) pair: the pool and test set, their embeddings, and models shared between
cells. A method that does not apply (`needs`, `max_k`) or that stops (an in-context prompt longer
than the LM's window) gives a skipped cell with its reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from tart.classifier import ORIGINAL_SETTINGS
from tart.eval import probes

DEFAULT_METHODS = ("tart", "tart-original", "tart-vanilla", "tart-loo", "icl", "icl-calibrated",
                   "logreg-projected", "logreg-full", "knn", "linear-head")
TART_METHODS = ("tart2", "tart", "tart-original", "tart-vanilla", "tart-loo")  # each gets a verdict in reports
ICL_METHODS = ("icl", "icl-calibrated")
PROBES = ("logreg-projected", "logreg-full", "knn", "linear-head", "lda", "ncm")


class SkipCell(Exception):
    """Raised by a method when a cell cannot be computed (the reason is recorded)."""


@dataclass
class Setup:
    """One (data set, embedder) pair: the pool and test set, their embeddings, shared models."""

    dataset: str
    embedder: str
    modality: str  # "text" | "audio" | "image" | "table"
    label_words: tuple[str, ...]  # one per class (the data set's class names)
    pool_items: list
    y_pool: np.ndarray
    test_items: list
    y_test: np.ndarray
    emb: Any  # CachedEmbedder of the stream embedder (None: fixed features, no raw-item methods)
    X_pool: np.ndarray
    X_test: np.ndarray
    reasoner: Any = None  # None: the shipped module
    reasoner2: Any = None  # the tart2 method's module; None: the shipped tart-2
    memo: dict = field(default_factory=dict)  # models and scores shared between cells
    n_classes: int = 2  # more: k counts examples per class, binary-only methods skip

    @property
    def causal_lm(self) -> bool:
        from tart.embed.text import CausalLMEmbedder

        return isinstance(getattr(self.emb, "embedder", self.emb), CausalLMEmbedder)

    @property
    def lm_path(self) -> str:
        """The causal LM's local folder (or hub id), for methods that load it themselves."""
        return str(getattr(self.emb, "embedder", self.emb).name_or_path)

    def shared(self, key: Any, build: Callable[[], Any]) -> Any:
        """A model or result built once per setup (an exception is remembered and re-raised)."""
        if key not in self.memo:
            try:
                self.memo[key] = build()
            except Exception as e:  # noqa: BLE001  (re-raised to every cell that asks)
                self.memo[key] = e
        if isinstance(self.memo[key], Exception):
            raise self.memo[key]
        return self.memo[key]


@dataclass
class Context:
    """The k labelled context examples: raw items, stream embeddings [k, D], 0/1 labels."""

    items: list
    X: np.ndarray
    y: np.ndarray
    seed: int
    setup: Setup

    @property
    def k(self) -> int:
        return len(self.y)


@dataclass
class Test:
    """The test set: raw items and stream embeddings [m, D] (no labels)."""

    items: list
    X: np.ndarray


@dataclass
class Method:
    """A named method `fn(context, test) -> 0/1 predictions`."""

    name: str
    fn: Callable[[Context, Test], np.ndarray]
    needs: tuple[str, ...] = ()  # "text", "causal-lm", "binary"
    max_k: int | None = None  # larger contexts are skipped (expensive methods)
    about: str = ""

    def why_not(self, setup: Setup, k: int, max_k: int | None = None) -> str | None:
        """The reason this method skips the cell, or None when it applies."""
        if "text" in self.needs and setup.modality != "text":
            return f"{self.name} needs text, {setup.dataset} is {setup.modality}"
        if "binary" in self.needs and setup.n_classes > 2:
            return f"{self.name} is binary, {setup.dataset} has {setup.n_classes} classes"
        if "causal-lm" in self.needs and not setup.causal_lm:
            return f"{self.name} needs a causal LM, {setup.embedder} is not one"
        limit = max_k if max_k is not None else self.max_k
        if limit is not None and k > limit:
            return f"k={k} above {self.name}'s max k of {limit}"
        return None


def on_features(fn: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]
                ) -> Callable[[Context, Test], np.ndarray]:
    """A method from `fn(Xc, yc, Xq)` on the stream embeddings."""
    def method(ctx: Context, test: Test) -> np.ndarray:
        return fn(ctx.X, ctx.y, test.X)

    method.__doc__ = fn.__doc__
    return method


def tart_on_features(family: str = "tart", **settings) -> Callable[[Context, Test], np.ndarray]:
    """TartClassifier(**settings) on the stream embeddings, with the setup's module of `family`:
    the faithful "tart" (`Setup.reasoner`) or "tart2" (`Setup.reasoner2`, with its own input map);
    the shipped one when the setup names none."""
    def fn(ctx: Context, test: Test) -> np.ndarray:
        from tart.classifier import TartClassifier

        module = (ctx.setup.reasoner2 if family == "tart2" else ctx.setup.reasoner) or family
        clf = TartClassifier(**{"reasoner": module, **settings})
        return clf.fit(ctx.X, ctx.y).predict_proba(test.X)

    fn.__doc__ = f"TartClassifier(reasoner={family!r}, {settings or 'defaults'}) on the stream embeddings."
    return fn


def _tart_in_context(mode: str) -> Callable[[Context, Test], np.ndarray]:
    def fn(ctx: Context, test: Test) -> np.ndarray:
        from tart.classifier import TartClassifier
        from tart.embed import CachedEmbedder, get_embedder

        setup = ctx.setup
        emb = setup.shared(("embedder", mode), lambda: CachedEmbedder(
            get_embedder(setup.lm_path, kind="causal-lm", mode=mode), cache_dir=setup.emb.cache_dir))
        clf = TartClassifier(embedder=emb, reasoner=setup.reasoner or "tart", label_words=setup.label_words)
        try:
            return clf.fit(ctx.items, ctx.y).predict(test.items)
        except ValueError as e:
            if "window" in str(e):
                raise SkipCell(str(e)) from e
            raise

    fn.__doc__ = f"TartClassifier on {mode} embeddings of the raw texts (context in the prompt)."
    return fn


def _icl_scores(ctx: Context, test: Test) -> tuple[np.ndarray, np.ndarray]:
    """Label-word log-probs [m, L] on the test set and the content-free probabilities [L]: one
    pass for both ICL rows."""
    from tart.eval.icl import ICLClassifier

    setup = ctx.setup

    def score() -> tuple[np.ndarray, np.ndarray]:
        icl = setup.shared("icl-model", lambda: ICLClassifier(setup.lm_path, label_words=setup.label_words))
        try:
            icl.fit(ctx.items, ctx.y)
            return icl.label_logprobs(test.items), icl.content_free_probs()
        except ValueError as e:  # the prompt no longer fits the window
            raise SkipCell(f"in-context learning stops at k={ctx.k}: {e}") from e

    try:
        return setup.shared(("icl", ctx.k, ctx.seed), score)
    except ValueError as e:  # the model itself is unusable (e.g. label words share a token)
        raise SkipCell(f"no in-context learning with {setup.embedder}: {e}") from e


def m_icl(ctx: Context, test: Test) -> np.ndarray:
    """The LM reads the k labelled texts in its prompt; the label words' next-token probabilities."""
    from tart.eval.icl import renormalised

    return renormalised(_icl_scores(ctx, test)[0])


def m_icl_calibrated(ctx: Context, test: Test) -> np.ndarray:
    """In-context learning with contextual calibration (content-free inputs)."""
    from tart.eval.icl import calibrated

    return calibrated(*_icl_scores(ctx, test))


def m_linear_head(ctx: Context, test: Test) -> np.ndarray:
    from tart.eval.finetune import linear_head

    return linear_head(ctx.X, ctx.y, test.X, seed=ctx.seed)  # probabilities


def m_lora(ctx: Context, test: Test) -> np.ndarray:
    from tart.eval.finetune import lora

    return lora(ctx.setup.lm_path, ctx.items, ctx.y, test.items, ctx.setup.label_words, seed=ctx.seed)


def m_setfit(ctx: Context, test: Test) -> np.ndarray:
    from tart.eval.finetune import setfit

    return setfit(ctx.items, ctx.y, test.items, seed=ctx.seed)


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("tart", tart_on_features(), about="TartClassifier defaults on the stream embeddings"),
    Method("tart2", tart_on_features("tart2"), about="TartClassifier with the tart-2 module (set layout, its own map)"),
    Method("tart2-alone", tart_on_features("tart2", stack=None),
           about="tart2 without its linear member (stack=None): the module's probabilities alone"),
    Method("tart2-groups", tart_on_features("tart2", multiclass="groups"),
           about='tart2, beyond its class count by groups with an "other" class'),
    Method("tart2-coupled", tart_on_features("tart2", multiclass="coupled"),
           about="tart2, beyond its class count by linked groups coupled (generalized Bradley-Terry)"),
    Method("tart-ovo", tart_on_features(multiclass="ovo"),
           about="TartClassifier, more than two classes by pairwise coupling (default: one-vs-rest)"),
    Method("tart-t1", tart_on_features(temperature=1.0),
           about="tart at temperature 1: the module's probabilities as they come (the default: "
                 "a temperature chosen on the context)"),
    Method("tart2-t1", tart_on_features("tart2", temperature=1.0), about="tart2 at temperature 1"),
    Method("tart-ts", tart_on_features(temperature="context"),
           about='tart with temperature="context" (what "auto" does on fixed features)'),
    Method("tart2-ts", tart_on_features("tart2", temperature="context"), about='tart2 with temperature="context"'),
    Method("tart-original", tart_on_features(**ORIGINAL_SETTINGS),
           about="TartClassifier with the original's projection (PCA, no scaling, context mean)"),
    Method("tart-vanilla", _tart_in_context("vanilla"), ("text", "causal-lm", "binary"),
           about="TartClassifier, vanilla embeddings (all k examples in one prompt)"),
    Method("tart-loo", _tart_in_context("loo"), ("text", "causal-lm", "binary"), max_k=64,
           about="TartClassifier, leave-one-out embeddings (k prompts: expensive, k <= 64)"),
    Method("icl", m_icl, ("text", "causal-lm"), about="in-context learning, label-word log-probs"),
    Method("icl-calibrated", m_icl_calibrated, ("text", "causal-lm"),
           about="in-context learning with contextual calibration"),
    Method("logreg-projected", on_features(probes.logreg_projected), ("binary",),
           about="logistic regression, TART's projected features"),
    Method("logreg-full", on_features(probes.logreg_full), about="logistic regression, full embeddings, C by CV"),
    Method("knn", on_features(probes.knn), about="cosine k-NN, n_neighbors by CV on the context"),
    Method("lda", on_features(probes.lda), about="shrinkage LDA (lsqr, Ledoit-Wolf), standardised embeddings"),
    Method("ncm", on_features(probes.ncm), about="nearest class mean, cosine similarity"),
    Method("linear-head", m_linear_head, about="linear head trained with torch on the frozen embeddings"),
    Method("lora", m_lora, ("text", "causal-lm", "binary"), max_k=64,
           about="LoRA fine-tuning of the causal LM, label-word log-probs (peft)"),
    Method("setfit", m_setfit, ("text",), max_k=64, about="SetFit with the packaged MiniLM"),
)}
