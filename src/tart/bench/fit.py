"""`tart bench-fit`: fit + predict_proba latency of the default classifier against a tuned baseline.

Each case draws Gaussian-class features (one random mean per class, unit-variance noise), a
context of k labelled points (every class present, as equal as k allows) and n queries. The
default `TartClassifier()` (numeric features, no embedder) is timed on `fit(context)` and
`predict_proba(queries)`; the baseline is scikit-learn's `LogisticRegressionCV` (C chosen from 10
values on a log grid by 5-fold stratified cross-validation, lbfgs, then refit on the whole context)
timed on the same fit + predict_proba, in the same process. Each case runs once untimed first (the
warm-up: imports, loading the module's weights, caches), then `repeats` timed rounds in which tart
and the baseline take turns; the figures are medians over the rounds, and the ratio is tart's
median total over the baseline's median total (above 1: tart is slower).

Only public API is used (`TartClassifier(**kw).fit(X, y).predict_proba(Q)`), so this file also runs
against an older checkout: `PYTHONPATH=<checkout>/src python -m tart.bench.fit --json`
(scripts/bench_fit_compare.sh does that for a base commit and the current tree).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

__all__ = ["CASES", "bench_fit", "gaussian_case", "format_result", "format_compare", "write_compare", "add_parser",
           "run", "main"]

# name -> (classes, k context points, d features, queries): the two latency cases
CASES = {"A": (2, 64, 384, 500), "B": (10, 160, 784, 500)}


def gaussian_case(n_classes: int, k: int, d: int, n_queries: int, seed: int = 0, sep: float = 0.15):
    """Context (k x d, labels) and queries (n x d, labels): class means N(0, sep^2 I), noise N(0, I)."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=sep, size=(n_classes, d))
    y_ctx = rng.permutation(np.arange(k) % n_classes)
    y_q = rng.integers(n_classes, size=n_queries)
    x_ctx = means[y_ctx] + rng.normal(size=(k, d))
    x_q = means[y_q] + rng.normal(size=(n_queries, d))
    return x_ctx, y_ctx, x_q, y_q


def _baseline(k: int, n_classes: int, seed: int):
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    folds = max(2, min(5, k // n_classes))  # a fold must hold every class
    return LogisticRegressionCV(Cs=10, cv=StratifiedKFold(folds, shuffle=True, random_state=seed), max_iter=1000)


def _tart_kwargs(reasoner, temperature) -> dict:
    kw = {}  # only what was asked for, so an older TartClassifier sees its own defaults
    if reasoner is not None:
        kw["reasoner"] = reasoner
    if temperature is not None:
        kw["temperature"] = temperature
    return kw


def _time_tart(kw, x_ctx, y_ctx, x_q):
    from tart import TartClassifier

    t0 = time.perf_counter()
    clf = TartClassifier(**kw).fit(x_ctx, y_ctx)
    t1 = time.perf_counter()
    proba = clf.predict_proba(x_q)
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, proba, clf


def _time_baseline(k, n_classes, seed, x_ctx, y_ctx, x_q):
    t0 = time.perf_counter()
    est = _baseline(k, n_classes, seed).fit(x_ctx, y_ctx)
    proba = est.predict_proba(x_q)
    return time.perf_counter() - t0, proba, est


def _source() -> dict:
    """Which tart was measured: its path and, inside a git checkout, the commit (+ whether edited)."""
    import tart

    where = Path(tart.__file__).resolve().parent
    info = {"tart_path": str(where)}
    try:
        head = subprocess.run(["git", "-C", str(where), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10)
        if head.returncode == 0:
            info["commit"] = head.stdout.strip()
            # edits to the package, not counting this file (copied into an older checkout to measure it)
            dirty = subprocess.run(["git", "-C", str(where), "status", "--porcelain", "--untracked-files=no",
                                    "--", ".", ":(exclude)bench/fit.py"], capture_output=True, text=True, timeout=10)
            info["edited"] = bool(dirty.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return info


def _machine() -> dict:
    import sklearn
    import torch

    return {"cpu": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
            "threads": torch.get_num_threads(), "torch": torch.__version__, "sklearn": sklearn.__version__,
            "python": platform.python_version(),
            "load_average_after": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


def _med(xs):
    return float(statistics.median(xs))


def bench_case(n_classes: int, k: int, d: int, n_queries: int, repeats: int = 5, reasoner=None,
               temperature=None, seed: int = 0) -> dict:
    """One case: warm-up, then `repeats` rounds of tart and the baseline taking turns."""
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    x_ctx, y_ctx, x_q, y_q = gaussian_case(n_classes, k, d, n_queries, seed)
    kw = _tart_kwargs(reasoner, temperature)
    _time_tart(kw, x_ctx, y_ctx, x_q)  # warm-up, untimed: imports, module weights, caches
    _time_baseline(k, n_classes, seed, x_ctx, y_ctx, x_q)
    fit, pred, base = [], [], []
    for _ in range(repeats):
        f, p, proba, clf = _time_tart(kw, x_ctx, y_ctx, x_q)
        b, base_proba, est = _time_baseline(k, n_classes, seed, x_ctx, y_ctx, x_q)
        fit.append(f)
        pred.append(p)
        base.append(b)
    total = [f + p for f, p in zip(fit, pred)]
    classes = np.asarray(clf.classes_)
    out = {
        "classes": n_classes, "k": k, "d": d, "queries": n_queries, "repeats": repeats,
        "tart_fit_s": _med(fit), "tart_predict_s": _med(pred), "tart_total_s": _med(total),
        "baseline_total_s": _med(base),
        "ratio": _med(total) / _med(base),
        "tart_total_runs_s": total, "baseline_total_runs_s": base,
        "tart_accuracy": float(np.mean(classes[np.argmax(proba, axis=1)] == y_q)),
        "baseline_accuracy": float(np.mean(est.classes_[np.argmax(base_proba, axis=1)] == y_q)),
        "baseline_C": [float(c) for c in np.ravel(est.C_)][:1],
    }
    temp = getattr(clf, "temperature_", None)
    if temp is not None:
        out["tart_temperature_"] = float(temp)
    return out


@contextlib.contextmanager
def _threads(n: int | None):
    """Torch's and the BLAS libraries' thread counts set to n for the run (None: left as they are)."""
    if n is None:
        yield
        return
    import torch
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        with threadpool_limits(limits=n):
            yield
    finally:
        torch.set_num_threads(before)  # the caller's setting, not the benchmark's


def bench_fit(cases: dict | None = None, repeats: int = 5, reasoner=None, temperature=None, seed: int = 0,
              threads: int | None = None) -> dict:
    """All cases (name -> (classes, k, d, queries)); a JSON-ready dict.

    threads: torch and BLAS threads for both sides (None: the defaults). On a machine whose cores
    other processes also use, torch's default threads can wait on each other for many times the
    work (fits 20-80x slower measured on 2 loaded cores); 1 thread is steadier there.
    """
    cases = CASES if cases is None else cases
    load = list(os.getloadavg()) if hasattr(os, "getloadavg") else None
    t = time.perf_counter()
    with _threads(threads), warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # scikit-learn's notices of changing defaults
        results = {name: bench_case(c, k, d, n, repeats, reasoner, temperature, seed)
                   for name, (c, k, d, n) in cases.items()}
        machine = _machine()
    machine["load_average_before"] = load  # 1, 5, 15 minutes; other processes on the same cores
    return {
        "benchmark": "bench-fit",
        "ours": "TartClassifier(" + ", ".join(f"{a}={v!r}" for a, v in _tart_kwargs(reasoner, temperature).items())
                + ").fit(context).predict_proba(queries)",
        "baseline": "LogisticRegressionCV(Cs=10, cv=5-fold stratified, lbfgs, max_iter=1000), fit + predict_proba",
        "timing": f"median of {repeats} rounds after one untimed warm-up per case; tart and the baseline take turns",
        "data": "Gaussian classes: means N(0, 0.15^2 I), unit noise; context has every class",
        "source": _source(), "machine": machine, "cases": results,
        "wall_s": time.perf_counter() - t,
    }


def format_result(r: dict) -> str:
    src = r["source"]
    lines = [f"bench-fit: {r['ours']} vs {r['baseline']}",
             f"{r['timing']}; tart at {src.get('commit', src['tart_path'])}"
             + (" (edited)" if src.get("edited") else "")
             + f"; {r['machine']['cpu_count']} CPUs, {r['machine']['threads']} torch threads",
             "",
             "| case | classes | k | d | queries | tart fit | tart predict | tart total | baseline total "
             "| tart / baseline |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name, c in r["cases"].items():
        lines.append(f"| {name} | {c['classes']} | {c['k']} | {c['d']} | {c['queries']} | {c['tart_fit_s']:.3f} s "
                     f"| {c['tart_predict_s']:.3f} s | {c['tart_total_s']:.3f} s | {c['baseline_total_s']:.3f} s "
                     f"| {c['ratio']:.2f}x |")
    return "\n".join(lines)


def _temperature(value: str):
    return value if value in ("auto", "context") else float(value)


def _case(value: str):
    parts = value.split(",")
    if len(parts) != 4:
        raise argparse.ArgumentTypeError(f"--case takes classes,k,d,queries (e.g. 2,64,384,500), got {value!r}")
    return tuple(int(p) for p in parts)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register `bench-fit` on an argparse subparsers object."""
    p = sub.add_parser("bench-fit", help="fit + predict_proba latency of TartClassifier() vs LogisticRegressionCV")
    _arguments(p)
    return p


def _arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--case", type=_case, action="append", default=None, metavar="C,K,D,N",
                   help="classes,k,d,queries (repeatable; default: A = 2,64,384,500 and B = 10,160,784,500)")
    p.add_argument("--repeats", type=int, default=5, help="timed rounds per case (after one warm-up)")
    p.add_argument("--reasoner", default=None, help="passed to TartClassifier (default: its default module)")
    p.add_argument("--temperature", type=_temperature, default=None,
                   help="passed to TartClassifier: a number, 'auto' or 'context' (default: its default)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch and BLAS threads for both sides (default: as set; 1 is steadier on a busy machine)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    cases = None if not args.case else {f"c{c}_k{k}_d{d}_n{n}": (c, k, d, n) for c, k, d, n in args.case}
    result = bench_fit(cases, args.repeats, args.reasoner, args.temperature, args.seed, args.threads)
    print(json.dumps(result, indent=2) if args.json else format_result(result))
    return 0


MD_BEGIN = "<!-- bench-fit compare: written by scripts/bench_fit_compare.sh -->"
MD_END = "<!-- /bench-fit compare -->"


def _label(r: dict) -> str:
    src = r["source"]
    return src.get("commit", src["tart_path"]) + (" + edits" if src.get("edited") else "")


def format_compare(base: dict, current: dict, command: str) -> str:
    """A markdown block: the same cases run on a base checkout and on the current tree."""
    m = current["machine"]
    load = m.get("load_average_before")
    lines = [MD_BEGIN, "",
             f"`{command}`: base {_label(base)}, then current {_label(current)}, back-to-back in one "
             f"environment ({m['cpu_count']} CPUs, {m['threads']} torch threads, torch {m['torch']}, "
             f"scikit-learn {m['sklearn']}" + (f", load average {load[0]:.1f} at the start" if load else "")
             + f"); {current['timing']}.", "",
             "| case | classes, k, d, queries | tart fit + predict: base | current | current speedup "
             "| LogisticRegressionCV: base run | current run | tart / baseline: base | current |",
             "|---|---|---|---|---|---|---|---|---|"]
    for name, c in current["cases"].items():
        b = base["cases"].get(name)
        if b is None:
            continue
        lines.append(
            f"| {name} | {c['classes']}, {c['k']}, {c['d']}, {c['queries']} "
            f"| {b['tart_total_s']:.3f} s ({b['tart_fit_s']:.3f} + {b['tart_predict_s']:.3f}) "
            f"| {c['tart_total_s']:.3f} s ({c['tart_fit_s']:.3f} + {c['tart_predict_s']:.3f}) "
            f"| **{b['tart_total_s'] / c['tart_total_s']:.2f}x** | {b['baseline_total_s']:.3f} s "
            f"| {c['baseline_total_s']:.3f} s | {b['ratio']:.2f}x | **{c['ratio']:.2f}x** |")
    return "\n".join(lines + ["", MD_END])


def write_compare(base_json: str, current_json: str, command: str, out_json: str | None, md: str | None) -> str:
    """Read the two runs' JSON, write them together to out_json, put the table into md (replacing an
    earlier one between MD_BEGIN and MD_END, else appended); returns the table."""
    base, current = (json.loads(Path(p).read_text()) for p in (base_json, current_json))
    table = format_compare(base, current, command)
    if out_json:
        Path(out_json).write_text(json.dumps({"command": command, "base": base, "current": current}, indent=2) + "\n")
    if md:
        text = Path(md).read_text() if Path(md).exists() else ""
        if MD_BEGIN in text and MD_END in text:
            head, rest = text.split(MD_BEGIN, 1)
            text = head + table + rest.split(MD_END, 1)[1]
        else:
            text = text.rstrip("\n") + "\n\n" + table + "\n"
        Path(md).write_text(text)
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tart.bench.fit", description=__doc__.split("\n\n")[0])
    _arguments(p)
    p.add_argument("--compare", nargs=2, metavar=("BASE_JSON", "CURRENT_JSON"),
                   help="no benchmark: put two runs' --json side by side (scripts/bench_fit_compare.sh)")
    p.add_argument("--command", default="scripts/bench_fit_compare.sh", help="with --compare: the command named")
    p.add_argument("--out-json", default=None, help="with --compare: write both runs here")
    p.add_argument("--md", default=None, help="with --compare: put the table into this markdown file")
    args = p.parse_args(argv)
    if args.compare:
        print(write_compare(*args.compare, args.command, args.out_json, args.md))
        return 0
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
