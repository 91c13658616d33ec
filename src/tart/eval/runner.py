"""The runner: the one few-shot loop behind `tart eval`, `tart demo` and the scripts.

Grid: data sets x embedders x k x seeds x methods. For a (data set, embedder) pair, a fixed pool of
training items (`pool`, drawn once with seed 0) and a fixed class-balanced test set (`n_test`) are
embedded once through `CachedEmbedder` (`build_setup`); for each seed the contexts are
class-balanced and nested in k (`tart.eval.contexts.balanced_context`), and every method sees the
same context and test set (`run_cells`).

Multi-class data sets (more than two classes): the pool is class-balanced (`balanced_pool`), k
counts context examples per class, and binary-only methods skip. Every ok row holds acc, macro_f1
and, for methods that return probabilities, ece (15 bins, top-label) and log_loss
(`tart.eval.metrics`); rows written before these existed load with them missing.

Resumable: every finished cell (dataset, embedder, method, k, seed) is appended to
`<out>/runs.jsonl` as one JSON line (flushed) and skipped on a rerun; cells that failed with an
error are recorded as such and retried. The reports are rebuilt from runs.jsonl (tart.eval.report).
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from functools import partial

from tart.eval.contexts import balanced_context, balanced_pool, balanced_test
from tart.eval.metrics import scores
from tart.eval.methods import DEFAULT_METHODS, METHODS, Context, Method, Setup, SkipCell, Test
from tart.eval.report import key, read_runs, write_reports

DEFAULT_KS = (18, 32, 48, 64, 128, 256)
Sampler = Callable[[np.ndarray, int, int], np.ndarray]  # (pool labels, k, seed) -> pool indices


def _name(spec: Any) -> str:
    return spec if isinstance(spec, str) else getattr(spec, "name", None) or type(spec).__name__


def build_setup(dataset: str, embedder: Any, ds: Any, n_test: int, pool: int, reasoner: Any = None,
                cache_dir: str | Path | None = None, reasoner2: Any = None) -> Setup:
    """Pool (seed 0), balanced test set and their stream embeddings for one pair; `ds` is a
    tart.datasets.Dataset."""
    from tart.embed import CachedEmbedder, get_embedder

    n_classes = int(getattr(ds, "n_classes", len(ds.label_names)))
    if n_classes > 2:
        pool_idx = balanced_pool(ds.train_labels, pool, seed=0)
    else:
        pool_idx = np.random.default_rng(0).permutation(len(ds.train_items))[:pool]
    test_idx = balanced_test(ds.test_labels, n_test)
    emb = CachedEmbedder(get_embedder(embedder), cache_dir=cache_dir)
    pool_items = [ds.train_items[i] for i in pool_idx]
    test_items = [ds.test_items[i] for i in test_idx]
    return Setup(dataset, _name(embedder), ds.modality, tuple(ds.label_names),
                 pool_items, ds.train_labels[pool_idx], test_items, ds.test_labels[test_idx], emb,
                 emb.encode(pool_items), emb.encode(test_items), reasoner, reasoner2, n_classes=n_classes)


def run_cell(setup: Setup, method: Method, k: int, seed: int, max_k: int | None = None,
             contexts: Sampler = balanced_context) -> dict:
    """One cell: the method on the seed's k-context, scored on the test set."""
    row = {"dataset": setup.dataset, "embedder": setup.embedder, "method": method.name, "k": k,
           "seed": seed, "status": "ok", "acc": None, "n_test": len(setup.y_test), "seconds": 0.0,
           "reason": None, "n_classes": setup.n_classes}
    if setup.n_classes > 2 and contexts is balanced_context:  # k per class
        contexts = partial(balanced_context, per_class=True)
    reason = method.why_not(setup, k, max_k)
    if reason is None:
        try:
            idx = contexts(setup.y_pool, k, seed)
        except ValueError as e:
            reason = f"no balanced context: {e}"
    if reason is not None:
        return {**row, "status": "skipped", "reason": reason}
    ctx = Context([setup.pool_items[i] for i in idx], setup.X_pool[idx], setup.y_pool[idx], seed, setup)
    t0 = time.perf_counter()
    try:
        pred = np.asarray(method.fn(ctx, Test(setup.test_items, setup.X_test)))
    except SkipCell as e:
        return {**row, "status": "skipped", "reason": str(e), "seconds": time.perf_counter() - t0}
    except Exception as e:  # noqa: BLE001  (recorded; the cell is retried on the next run)
        return {**row, "status": "error", "reason": f"{type(e).__name__}: {e}",
                "seconds": time.perf_counter() - t0}
    seconds = round(time.perf_counter() - t0, 3)
    try:
        return {**row, **scores(pred, setup.y_test, setup.n_classes), "seconds": seconds}
    except ValueError as e:
        return {**row, "status": "error", "reason": f"ValueError: {e}", "seconds": seconds}


def run_cells(setup: Setup, methods: Sequence[str], ks: Sequence[int], seeds: Sequence[int],
              registry: dict[str, Method] | None = None, max_k: dict[str, int] | None = None,
              done: set[tuple] | frozenset = frozenset(), contexts: Sampler = balanced_context
              ) -> Iterator[dict]:
    """The few-shot loop on one setup: per seed, per k, every method on the same context; cells
    whose key is in `done` are passed over. Yields one row per cell."""
    registry = registry or METHODS
    for seed in seeds:
        for k in ks:
            for name in methods:
                if (setup.dataset, setup.embedder, name, k, seed) not in done:
                    yield run_cell(setup, registry[name], k, seed, (max_k or {}).get(name), contexts)


def run_grid(out_dir: str | Path, datasets: Sequence[str], embedders: Sequence[Any],
             ks: Sequence[int] = DEFAULT_KS, seeds: Sequence[int] = (0, 1, 2),
             methods: Sequence[str] = DEFAULT_METHODS, n_test: int = 400, pool: int = 800,
             registry: dict[str, Method] | None = None, max_k: dict[str, int] | None = None,
             reasoner: Any = None, cache_dir: str | Path | None = None,
             load: Callable[[str], Any] | None = None, retry_skipped: bool = False,
             progress: bool = True, reasoner2: Any = None, fresh: bool = False,
             on_row: Callable[[dict], None] | None = None, reports: bool = True,
             report: str | Path | None = None, command: str | None = None,
             redo: Sequence[str] = ()) -> list[dict]:
    """Run every missing cell, append each to runs.jsonl, then write the reports; returns all rows.

    registry: name -> Method (default METHODS); max_k: per-method overrides of the largest k;
    reasoner: a Reasoner or folder for the tart methods (default: the shipped module);
    reasoner2: a SetReasoner or folder for the tart2 method (default: the shipped tart-2);
    load: data set loader (default tart.datasets.load_dataset); fresh: start a new runs.jsonl;
    on_row: called with each finished row; reports: rebuild the run folder's reports at the end,
    and `report` (a Markdown path naming `command`) with them; redo: methods whose cells are run
    again (e.g. after retraining a module); their new rows supersede the old ones.
    """
    from tqdm.auto import tqdm

    registry = registry or METHODS
    unknown = [m for m in (*methods, *redo) if m not in registry]
    if unknown:
        raise ValueError(f"unknown method(s) {unknown}; available: {', '.join(registry)}")
    if load is None:
        from tart.datasets import load_dataset as load
    ks = sorted(set(ks))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log = out / "runs.jsonl"
    if fresh:
        for path in (log, out / "run.json"):
            path.unlink(missing_ok=True)
    done = {key(r) for r in read_runs(log) if r["method"] not in redo
            and (r["status"] == "ok" or (r["status"] == "skipped" and not retry_skipped))}
    names = {id(e): _name(e) for e in embedders}
    todo = {(d, id(e)): sum((d, names[id(e)], m, k, s) not in done for s in seeds for k in ks for m in methods)
            for d in datasets for e in embedders}
    total = len(datasets) * len(embedders) * len(seeds) * len(ks) * len(methods)
    _write_meta(out, datasets, list(names.values()), ks, seeds, methods, n_test, pool, command)
    warnings.filterwarnings("ignore", category=FutureWarning)
    bar = tqdm(total=total, initial=total - sum(todo.values()), desc="tart eval", unit="cell",
               disable=not progress)
    with open(log, "a") as f:
        for dataset in datasets:
            specs = [e for e in embedders if todo[dataset, id(e)]]
            ds = load(dataset) if specs else None
            for spec in specs:
                bar.set_postfix_str(f"{dataset}, {names[id(spec)]}: embedding")
                setup = build_setup(dataset, spec, ds, n_test, pool, reasoner, cache_dir, reasoner2)
                for row in run_cells(setup, methods, ks, seeds, registry, max_k, done):
                    f.write(json.dumps(row) + "\n")
                    f.flush()
                    if row["status"] == "error":
                        bar.write(f"[tart eval] {row['method']} k={row['k']} seed {row['seed']} "
                                  f"failed: {row['reason']}")
                    if on_row is not None:
                        on_row(row)
                    bar.set_postfix_str(f"{dataset}, {setup.embedder}, {row['method']}, k={row['k']}, "
                                        f"seed {row['seed']}")
                    bar.update()
    bar.close()
    if reports:
        write_reports(out, report, command)
    return read_runs(log)


def _write_meta(out: Path, datasets, embedders, ks, seeds, methods, n_test: int, pool: int,
                command: str | None = None) -> None:
    path = out / "run.json"
    meta = json.loads(path.read_text()) if path.is_file() else {}
    for name, values in (("datasets", datasets), ("embedders", embedders), ("ks", ks),
                         ("seeds", seeds), ("methods", methods), ("commands", [command] if command else [])):
        meta[name] = list(dict.fromkeys([*meta.get(name, []), *values]))
    meta.update(n_test=n_test, pool=pool)
    path.write_text(json.dumps(meta, indent=1))
