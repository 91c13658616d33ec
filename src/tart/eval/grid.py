"""`tart eval`: the evaluation grid, TART against in-context learning, probes and fine-tuning.

Grid: data sets x embedders x k x seeds x methods. For a (data set, embedder) pair, a fixed pool of
training items (`pool`, drawn once with seed 0) and a fixed class-balanced test set (`n_test`) are
embedded once through `CachedEmbedder`; for each seed the contexts are class-balanced and nested in
k (`tart.eval.fewshot.balanced_context`). Every method sees the same context and test set.

A method is a named `fn(context, test) -> predictions` (`Context` carries the raw items, their
stream embeddings and labels; `Test` the items and embeddings, never the labels) with what it
needs ("text", "causal-lm") and an optional largest k. A method that does not apply, or that
stops (an in-context prompt longer than the LM's window), becomes a *skipped* cell with its reason.

Resumable: every finished cell (dataset, embedder, method, k, seed) is appended to
`<out>/runs.jsonl` as one JSON line (flushed) and skipped on a rerun; cells that failed with an
error are recorded as such and retried. `write_reports` rebuilds runs.csv, results.md and one
accuracy-vs-k PNG per (data set, embedder) from runs.jsonl.
"""

from __future__ import annotations

import csv
import json
import re
import time
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from tart.classifier import ORIGINAL_SETTINGS

DEFAULT_KS = (18, 32, 48, 64, 128, 256)
DEFAULT_METHODS = ("tart", "tart-original", "tart-vanilla", "tart-loo", "icl", "icl-calibrated",
                   "logreg-projected", "logreg-full", "knn", "linear-head")
TART_METHODS = ("tart", "tart-original", "tart-vanilla", "tart-loo")
ICL_METHODS = ("icl", "icl-calibrated")
PROBES = ("logreg-projected", "logreg-full", "knn", "linear-head", "lda", "ncm")
KEY = ("dataset", "embedder", "method", "k", "seed")


class SkipCell(Exception):
    """Raised by a method when a cell cannot be computed (the reason is recorded)."""


# ---------------------------------------------------------------- what methods see


@dataclass
class Task:
    """One (data set, embedder) pair: the pool and test set, their embeddings, shared models."""

    dataset: str
    embedder: str
    modality: str  # "text" | "audio" | "image"
    label_words: tuple[str, str]
    pool_items: list
    y_pool: np.ndarray
    test_items: list
    y_test: np.ndarray
    emb: Any  # CachedEmbedder of the stream embedder
    X_pool: np.ndarray
    X_test: np.ndarray
    reasoner: Any = None  # None: the shipped module
    reasoner2: Any = None  # the tart2 method's module; None: the shipped tart-2
    memo: dict = field(default_factory=dict)  # models and scores shared between cells

    @property
    def causal_lm(self) -> bool:
        from tart.embed.text import CausalLMEmbedder

        return isinstance(getattr(self.emb, "embedder", self.emb), CausalLMEmbedder)

    @property
    def lm_path(self) -> str:
        """The causal LM's local folder (or hub id), for methods that load it themselves."""
        return str(getattr(self.emb, "embedder", self.emb).name_or_path)

    def shared(self, key: Any, build: Callable[[], Any]) -> Any:
        """A model or result built once per task (an exception is remembered and re-raised)."""
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
    task: Task

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
    needs: tuple[str, ...] = ()  # "text", "causal-lm"
    max_k: int | None = None  # larger contexts are skipped (expensive methods)
    about: str = ""

    def why_not(self, task: Task, k: int, max_k: int | None = None) -> str | None:
        """The reason this method skips the cell, or None when it applies."""
        if "text" in self.needs and task.modality != "text":
            return f"{self.name} needs text, {task.dataset} is {task.modality}"
        if "causal-lm" in self.needs and not task.causal_lm:
            return f"{self.name} needs a causal LM, {task.embedder} is not one"
        limit = max_k if max_k is not None else self.max_k
        if limit is not None and k > limit:
            return f"k={k} above {self.name}'s max k of {limit}"
        return None


# ---------------------------------------------------------------- the methods


def _tart_kwargs(task: Task) -> dict:
    hint = getattr(task.emb, "projection_hint", None) or {}
    return {"reasoner": task.reasoner, "n_components": hint.get("n_components"), "fill": hint.get("fill")}


def _tart_stream(**settings) -> Callable[[Context, Test], np.ndarray]:
    """TartClassifier on the stream embeddings (the embedder's projection hint) with `settings`."""
    def fn(ctx: Context, test: Test) -> np.ndarray:
        from tart.classifier import TartClassifier

        clf = TartClassifier(**_tart_kwargs(ctx.task), **settings)
        return clf.fit(ctx.X, ctx.y).predict(test.X)

    fn.__doc__ = f"TartClassifier({settings or 'defaults'}) on the stream embeddings."
    return fn


def m_tart2(ctx: Context, test: Test) -> np.ndarray:
    """TartClassifier(reasoner="tart2") on the stream embeddings: tart-2 with its own input map."""
    from tart.classifier import TartClassifier

    return TartClassifier(reasoner=ctx.task.reasoner2 or "tart2").fit(ctx.X, ctx.y).predict(test.X)


def _tart_in_context(mode: str) -> Callable[[Context, Test], np.ndarray]:
    def fn(ctx: Context, test: Test) -> np.ndarray:
        from tart.classifier import TartClassifier
        from tart.embed import CachedEmbedder, get_embedder

        task = ctx.task
        emb = task.shared(("embedder", mode), lambda: CachedEmbedder(
            get_embedder(task.lm_path, kind="causal-lm", mode=mode), cache_dir=task.emb.cache_dir))
        clf = TartClassifier(embedder=emb, reasoner=task.reasoner, label_words=task.label_words)
        try:
            return clf.fit(ctx.items, ctx.y).predict(test.items)
        except ValueError as e:
            if "window" in str(e):
                raise SkipCell(str(e)) from e
            raise

    fn.__doc__ = f"TartClassifier on {mode} embeddings of the raw texts (context in the prompt)."
    return fn


def _icl_scores(ctx: Context, test: Test) -> tuple[np.ndarray, float]:
    """Raw log-odds on the test set and the content-free log-odds: one pass for both ICL rows."""
    from tart.eval.icl import ICLClassifier

    task = ctx.task

    def score():
        icl = task.shared("icl-model", lambda: ICLClassifier(task.lm_path, label_words=task.label_words))
        try:
            icl.fit(ctx.items, ctx.y)
            return icl.decision_function(test.items), icl.content_free_logodds()
        except ValueError as e:  # the prompt no longer fits the window
            raise SkipCell(f"in-context learning stops at k={ctx.k}: {e}") from e

    try:
        return task.shared(("icl", ctx.k, ctx.seed), score)
    except ValueError as e:  # the model itself is unusable (e.g. label words share a token)
        raise SkipCell(f"no in-context learning with {task.embedder}: {e}") from e


def m_icl(ctx: Context, test: Test) -> np.ndarray:
    """The LM reads the k labelled texts in its prompt; label words' next-token log-probs."""
    return (_icl_scores(ctx, test)[0] > 0).astype(int)


def m_icl_calibrated(ctx: Context, test: Test) -> np.ndarray:
    """In-context learning with contextual calibration (content-free inputs)."""
    raw, cf = _icl_scores(ctx, test)
    return (raw - cf > 0).astype(int)


def m_logreg_projected(ctx: Context, test: Test) -> np.ndarray:
    """Logistic regression on the projected features TART reads."""
    from tart.eval.fewshot import logreg_projected

    hint = getattr(ctx.task.emb, "projection_hint", None) or {}
    return logreg_projected(ctx.X, ctx.y, test.X, n_components=hint.get("n_components", 16))


def m_logreg_full(ctx: Context, test: Test) -> np.ndarray:
    """Logistic regression on the full standardised embeddings, C by cross-validation."""
    from tart.eval.fewshot import logreg_full

    return logreg_full(ctx.X, ctx.y, test.X)


def m_lda(ctx: Context, test: Test) -> np.ndarray:
    """Shrinkage LDA (lsqr, Ledoit-Wolf) on the embeddings standardised on the context."""
    from tart.eval.fewshot import lda

    return lda(ctx.X, ctx.y, test.X)


def m_ncm(ctx: Context, test: Test) -> np.ndarray:
    """Nearest class mean of the context embeddings, by cosine similarity."""
    from tart.eval.fewshot import ncm

    return ncm(ctx.X, ctx.y, test.X)


def m_knn(ctx: Context, test: Test) -> np.ndarray:
    """Cosine k-nearest neighbours; n_neighbors (odd, 1-25) by stratified CV on the context."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold
    from sklearn.neighbors import KNeighborsClassifier

    folds = int(min(5, np.bincount(ctx.y).min()))
    knn = KNeighborsClassifier(metric="cosine", algorithm="brute")
    if folds < 2:
        return knn.set_params(n_neighbors=1).fit(ctx.X, ctx.y).predict(test.X)
    largest = ctx.k - -(-ctx.k // folds)  # the smallest training fold
    grid = [n for n in (1, 3, 5, 7, 9, 15, 25) if n <= largest]
    cv = StratifiedKFold(folds, shuffle=True, random_state=0)
    return GridSearchCV(knn, {"n_neighbors": grid}, cv=cv).fit(ctx.X, ctx.y).predict(test.X)


def m_linear_head(ctx: Context, test: Test) -> np.ndarray:
    from tart.eval.finetune import linear_head

    return linear_head(ctx.X, ctx.y, test.X, seed=ctx.seed)


def m_lora(ctx: Context, test: Test) -> np.ndarray:
    from tart.eval.finetune import lora

    return lora(ctx.task.lm_path, ctx.items, ctx.y, test.items, ctx.task.label_words, seed=ctx.seed)


def m_setfit(ctx: Context, test: Test) -> np.ndarray:
    from tart.eval.finetune import setfit

    return setfit(ctx.items, ctx.y, test.items, seed=ctx.seed)


METHODS: dict[str, Method] = {m.name: m for m in (
    Method("tart", _tart_stream(), about="TartClassifier defaults on the stream embeddings"),
    Method("tart2", m_tart2, about="TartClassifier with the tart-2 module (set layout, its own map)"),
    Method("tart-original", _tart_stream(**ORIGINAL_SETTINGS),
           about="TartClassifier with the original's projection (PCA, no scaling, context mean)"),
    Method("tart-vanilla", _tart_in_context("vanilla"), ("text", "causal-lm"),
           about="TartClassifier, vanilla embeddings (all k examples in one prompt)"),
    Method("tart-loo", _tart_in_context("loo"), ("text", "causal-lm"), max_k=64,
           about="TartClassifier, leave-one-out embeddings (k prompts: expensive, k <= 64)"),
    Method("icl", m_icl, ("text", "causal-lm"), about="in-context learning, label-word log-probs"),
    Method("icl-calibrated", m_icl_calibrated, ("text", "causal-lm"),
           about="in-context learning with contextual calibration"),
    Method("logreg-projected", m_logreg_projected, about="logistic regression, TART's projected features"),
    Method("logreg-full", m_logreg_full, about="logistic regression, full embeddings, C by CV"),
    Method("knn", m_knn, about="cosine k-NN, n_neighbors by CV on the context"),
    Method("lda", m_lda, about="shrinkage LDA (lsqr, Ledoit-Wolf), standardised embeddings"),
    Method("ncm", m_ncm, about="nearest class mean, cosine similarity"),
    Method("linear-head", m_linear_head, about="linear head trained with torch on the frozen embeddings"),
    Method("lora", m_lora, ("text", "causal-lm"), max_k=64,
           about="LoRA fine-tuning of the causal LM, label-word log-probs (peft)"),
    Method("setfit", m_setfit, ("text",), max_k=64, about="SetFit with the packaged MiniLM"),
)}


# ---------------------------------------------------------------- the run log


def _key(row: dict) -> tuple:
    return tuple(row[k] for k in KEY)


def read_runs(path: str | Path) -> list[dict]:
    """The rows of runs.jsonl, the last one per cell (a torn last line is ignored)."""
    path = Path(path)
    rows: dict[tuple, dict] = {}
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                continue
            rows[_key(row)] = row
    return list(rows.values())


def _name(spec: Any) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "name", None) or type(spec).__name__


def _slug(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("_")[-60:]


# ---------------------------------------------------------------- the grid


def build_task(dataset: str, embedder: Any, ds: Any, n_test: int, pool: int, reasoner: Any = None,
               cache_dir: str | Path | None = None, reasoner2: Any = None) -> Task:
    """Pool (seed 0), balanced test set and their stream embeddings for one pair."""
    from tart.eval.fewshot import balanced_test
    from tart.embed import CachedEmbedder, get_embedder

    media = hasattr(ds, "train_items")
    train = ds.train_items if media else ds.train_texts
    test = ds.test_items if media else ds.test_texts
    pool_idx = np.random.default_rng(0).permutation(len(train))[:pool]
    test_idx = balanced_test(ds.test_labels, n_test)
    emb = CachedEmbedder(get_embedder(embedder), cache_dir=cache_dir)
    pool_items, test_items = [train[i] for i in pool_idx], [test[i] for i in test_idx]
    return Task(dataset, _name(embedder), ds.modality if media else "text", tuple(ds.label_names),
                pool_items, ds.train_labels[pool_idx], test_items, ds.test_labels[test_idx], emb,
                emb.encode(pool_items), emb.encode(test_items), reasoner, reasoner2)


def run_grid(out_dir: str | Path, datasets: Sequence[str], embedders: Sequence[Any],
             ks: Sequence[int] = DEFAULT_KS, seeds: Sequence[int] = (0, 1, 2),
             methods: Sequence[str] = DEFAULT_METHODS, n_test: int = 400, pool: int = 800,
             registry: dict[str, Method] | None = None, max_k: dict[str, int] | None = None,
             reasoner: Any = None, cache_dir: str | Path | None = None,
             load: Callable[[str], Any] | None = None, retry_skipped: bool = False,
             progress: bool = True, reasoner2: Any = None) -> list[dict]:
    """Run every missing cell, append each to runs.jsonl, then write the reports; returns all rows.

    registry: name -> Method (default METHODS); max_k: per-method overrides of the largest k;
    reasoner: a Reasoner or folder for the tart methods (default: the shipped module);
    reasoner2: a SetReasoner or folder for the tart2 method (default: the shipped tart-2);
    load: data set loader (default tart.datasets.load_dataset).
    """
    from tqdm.auto import tqdm

    registry = registry or METHODS
    unknown = [m for m in methods if m not in registry]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; available: {', '.join(registry)}")
    if load is None:
        from tart.datasets import load_dataset as load
    ks = sorted(set(ks))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    done = {_key(r) for r in read_runs(log)
            if r["status"] == "ok" or (r["status"] == "skipped" and not retry_skipped)}
    names = {id(e): _name(e) for e in embedders}
    cells = [(d, e, m, k, s) for d in datasets for e in embedders for s in seeds for k in ks for m in methods]
    todo = [c for c in cells if (c[0], names[id(c[1])], c[2], c[3], c[4]) not in done]
    _write_meta(out, datasets, [names[id(e)] for e in embedders], ks, seeds, methods, n_test, pool)
    warnings.filterwarnings("ignore", category=FutureWarning)
    bar = tqdm(total=len(cells), initial=len(cells) - len(todo), desc="tart eval", unit="cell",
               disable=not progress)
    with open(log, "a") as f:
        for dataset in dict.fromkeys(c[0] for c in todo):
            ds = load(dataset)
            for spec in dict.fromkeys(c[1] for c in todo if c[0] == dataset):
                mine = [c for c in todo if c[0] == dataset and c[1] == spec]
                bar.set_postfix_str(f"{dataset}, {names[id(spec)]}: embedding")
                task = build_task(dataset, spec, ds, n_test, pool, reasoner, cache_dir, reasoner2)
                for _, _, name, k, seed in mine:
                    bar.set_postfix_str(f"{dataset}, {task.embedder}, {name}, k={k}, seed {seed}")
                    row = run_cell(task, registry[name], k, seed, (max_k or {}).get(name))
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    if row["status"] == "error":
                        bar.write(f"[tart eval] {name} k={k} seed {seed} failed: {row['reason']}")
                    bar.update()
    bar.close()
    rows = read_runs(log)
    write_reports(out)
    return rows


def run_cell(task: Task, method: Method, k: int, seed: int, max_k: int | None = None) -> dict:
    """One cell: the method on the seed's k-context, scored on the test set."""
    from tart.eval.fewshot import balanced_context

    row = {"dataset": task.dataset, "embedder": task.embedder, "method": method.name, "k": k,
           "seed": seed, "status": "ok", "acc": None, "n_test": len(task.y_test), "seconds": 0.0,
           "reason": None}
    reason = method.why_not(task, k, max_k)
    if reason is None:
        try:
            idx = balanced_context(task.y_pool, k, seed)
        except ValueError as e:
            reason = f"no balanced context: {e}"
    if reason is not None:
        return {**row, "status": "skipped", "reason": reason}
    ctx = Context([task.pool_items[i] for i in idx], task.X_pool[idx], task.y_pool[idx], seed, task)
    t0 = time.perf_counter()
    try:
        pred = np.asarray(method.fn(ctx, Test(task.test_items, task.X_test)))
    except SkipCell as e:
        return {**row, "status": "skipped", "reason": str(e), "seconds": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001  (recorded; the cell is retried on the next run)
        return {**row, "status": "error", "reason": f"{type(e).__name__}: {e}",
                "seconds": time.perf_counter() - t0}
    acc = float((pred == task.y_test).mean())
    return {**row, "acc": acc, "seconds": round(time.perf_counter() - t0, 3)}


def _write_meta(out: Path, datasets, embedders, ks, seeds, methods, n_test, pool) -> None:
    path = out / "run.json"
    meta = json.loads(path.read_text()) if path.is_file() else {}
    for key, values in (("datasets", datasets), ("embedders", embedders), ("ks", ks),
                        ("seeds", seeds), ("methods", methods)):
        meta[key] = list(dict.fromkeys([*meta.get(key, []), *values]))
    meta.update(n_test=n_test, pool=pool)
    path.write_text(json.dumps(meta, indent=1))


# ---------------------------------------------------------------- reports


def _mean_std(rows: Iterable[dict]) -> tuple[float, float, int] | None:
    a = np.array([r["acc"] for r in rows if r["status"] == "ok"], dtype=float)
    return (float(a.mean()), float(a.std()), len(a)) if len(a) else None


def table(rows: list[dict]) -> str:
    """Markdown table for one (data set, embedder): methods x k, mean (std) over seeds."""
    ks = sorted({r["k"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    n_seeds = len({r["seed"] for r in rows})
    lines = ["| method | " + " | ".join(f"k={k}" for k in ks) + " |", "|---" * (len(ks) + 1) + "|"]
    notes = []
    for m in methods:
        cells = []
        for k in ks:
            these = [r for r in rows if r["method"] == m and r["k"] == k]
            st = _mean_std(these)
            if st is None:
                cells.append("skipped" if any(r["status"] == "skipped" for r in these) else
                             "error" if these else "")
            else:
                cells.append(f"{st[0]:.3f} ({st[1]:.3f})" + (f" n={st[2]}" if st[2] < n_seeds else ""))
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
        reasons = dict.fromkeys(r["reason"] for r in rows
                                if r["method"] == m and r["status"] != "ok" and r["reason"])
        notes += [f"- {m}: {_short(x)}" for x in reasons]
    return "\n".join(lines + ([""] + notes[:20] if notes else []))


def _short(reason: str, n: int = 200) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= n else reason[: n - 3] + "..."


def _curve(rows: list[dict], method: str) -> dict[int, float]:
    ks = sorted({r["k"] for r in rows if r["method"] == method})
    out = {}
    for k in ks:
        st = _mean_std(r for r in rows if r["method"] == method and r["k"] == k)
        if st is not None:
            out[k] = st[0]
    return out


def verdicts(rows: list[dict]) -> list[str]:
    """One line per (data set, embedder, tart method): against in-context learning and probes."""
    lines = []
    for (dataset, embedder), these in _pairs(rows).items():
        for tm in [m for m in TART_METHODS if _curve(these, m)]:
            tart = _curve(these, tm)
            parts = []
            icl = _best_of(these, ICL_METHODS)
            common = sorted(set(tart) & set(icl))
            if common:
                d = np.array([tart[k] - icl[k][0] for k in common])
                wins = int((d > 0).sum())
                verdict = "beats" if wins == len(common) else "does not beat" if wins == 0 else "partly beats"
                parts.append(f"{verdict} in-context learning (best of raw/calibrated): ahead at "
                             f"{wins}/{len(common)} k, mean {100 * d.mean():+.1f} points")
            else:
                parts.append("no in-context learning to compare with")
            probe = _best_of(these, PROBES)
            common = sorted(set(tart) & set(probe))
            if common:
                gap = np.array([probe[k][0] - tart[k] for k in common])
                best = Counter(probe[k][1] for k in common).most_common(1)[0][0]
                parts.append(f"{100 * gap.mean():.1f} points under the best probe on average "
                             f"(per k {100 * gap.min():+.1f} to {100 * gap.max():+.1f}, negative = TART "
                             f"ahead; best probe mostly {best})")
            lines.append(f"- **{dataset}, {embedder}, {tm}**: " + "; ".join(parts) + ".")
    return lines


def _best_of(rows: list[dict], methods: Sequence[str]) -> dict[int, tuple[float, str]]:
    """Per k, the best mean accuracy among `methods` and which method it was."""
    best: dict[int, tuple[float, str]] = {}
    for m in methods:
        for k, acc in _curve(rows, m).items():
            if k not in best or acc > best[k][0]:
                best[k] = (acc, m)
    return best


def _pairs(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    pairs: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        pairs.setdefault((r["dataset"], r["embedder"]), []).append(r)
    return pairs


def plot(rows: list[dict], path: Path, title: str) -> None:
    """Accuracy vs k, one line per method (mean +- std over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for m in dict.fromkeys(r["method"] for r in rows):
        ks = sorted(k for k in {r["k"] for r in rows if r["method"] == m}
                    if _mean_std(r for r in rows if r["method"] == m and r["k"] == k))
        if not ks:
            continue
        st = [_mean_std(r for r in rows if r["method"] == m and r["k"] == k) for k in ks]
        ax.errorbar(ks, [s[0] for s in st], yerr=[s[1] for s in st], marker="o", capsize=3, label=m,
                    ls="-" if m.startswith("tart") else "--")
    ax.axhline(0.5, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    all_ks = sorted({r["k"] for r in rows})
    ax.set_xticks(all_ks, [str(k) for k in all_ks])
    ax.minorticks_off()
    ax.set_xlabel("k (labelled examples in the context)")
    ax.set_ylabel("accuracy (balanced test)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_reports(out_dir: str | Path) -> Path:
    """runs.csv, results.md and accuracy_<dataset>_<embedder>.png from runs.jsonl."""
    out = Path(out_dir)
    rows = read_runs(out / "runs.jsonl")
    if not rows:
        raise ValueError(f"no finished cells in {out / 'runs.jsonl'}")
    fields = [*KEY, "status", "acc", "n_test", "seconds", "reason"]
    with open(out / "runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(sorted(rows, key=lambda r: tuple(str(r[k]).zfill(6) for k in KEY)))
    meta = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
    md = ["# tart eval", ""]
    if meta:
        md += [f"Balanced test sets of up to {meta.get('n_test')} items (chance 0.5), contexts from a "
               f"pool of {meta.get('pool')} training items, class-balanced and nested in k; "
               f"mean (std) accuracy over seeds {meta.get('seeds')}. `n=` marks fewer seeds.", ""]
    md += ["## Summary", "", *verdicts(rows), ""]
    for (dataset, embedder), these in _pairs(rows).items():
        png = f"accuracy_{_slug(dataset)}_{_slug(embedder)}.png"
        plot(these, out / png, f"{dataset}, {embedder}")
        md += [f"## {dataset}, {embedder}", "", table(these), "", f"![accuracy vs k]({png})", ""]
    secs = sum(r.get("seconds") or 0 for r in rows)
    md += [f"{len(rows)} cells ({sum(r['status'] == 'ok' for r in rows)} ok), {secs:.0f} s of method time."]
    (out / "results.md").write_text("\n".join(md) + "\n")
    return out / "results.md"
