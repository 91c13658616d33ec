"""Cells of the synthetic report measured again on fresh draws of tasks.

`tart eval-synthetic --model tart2 --n-tasks 64` (docs/tart2_synthetic.md) draws one set of 64
tasks per (component, k); its "tart2 - best" column carries that draw's noise (the report's SE
column). This script takes the cells of such a report that fall short of the synthetic target
(tart-2 more than `--below` points under the better of logistic regression and shrinkage LDA, at
k <= `--max-k`), the cells named with `--cells`, or with `--all` every cell at k <= `--max-k`
(smallest k first; the report is rewritten after each cell, so a stopped run keeps what it
measured), and evaluates each on `--draws` further draws
of the same size (seeds 1, 2, ...; the report's own seed is never reused), with the same code as
the report (`tart.eval.synthetic_set.evaluate_components`, the default classifier unless
`--stack`). The cells are chosen on the report's draw and measured on draws independent of it, so
the pooled estimate is not biased by the choice.

Per cell: each draw's tart-2 minus its best baseline and that difference's standard error over the
draw's tasks; pooled over the draws, tart-2 minus the baseline with the best pooled accuracy and
the standard error of the draws' differences.

    python scripts/synthetic_redraws.py --from-report docs/tart2_synthetic.json \\
        --report docs/tart2_synthetic_redraws.md
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path

import numpy as np

from tart.assets import home
from tart.checkpoint import atomic_write_bytes, atomic_write_json
from tart.eval import synthetic_set as es
from tart.jobs.cli import stack_value
from tart.weights import load_reasoner


def short_cells(report_json: Path, below: float, max_k: int) -> list[tuple[str, int, float]]:
    """(component, k, gap in points) of the report's cells more than `below` points under the best."""
    return [c for c in report_cells(report_json) if c[1] <= max_k and round(c[2], 1) <= -below]


def report_cells(report_json: Path | None) -> list[tuple[str, int, float]]:
    """(component, k, tart-2 minus the best baseline in points) of each cell of a report's JSON."""
    if report_json is None:
        return []
    rows = json.loads(report_json.read_text())["components"]
    return [(r["component"], r["k"], 100 * (r["tart2_acc"] - r[r["best"] + "_acc"])) for r in rows]


def all_cells(report_json: Path | None, max_k: int) -> list[tuple[str, int, float | None]]:
    """Every (component, k <= max_k), smallest k first, with the report's gap where it has the cell."""
    gaps = {(c, k): g for c, k, g in report_cells(report_json)}
    return [(c, k, gaps.get((c, k))) for k in es.SET_KS if k <= max_k for c in es.COMPONENTS]


def redraw(model, comp: str, k: int, draws: int, n_tasks: int, stack) -> list[dict]:
    """The cell's rows on `draws` fresh draws (seeds 1..draws)."""
    return [es.evaluate_components(model, ks=(k,), components=(comp,), n_tasks=n_tasks, seed=seed,
                                   cache_file=home() / "synthetic_baselines.json", stack=stack)[0]
            for seed in range(1, draws + 1)]


def pooled(rows: list[dict]) -> tuple[str, float, float]:
    """The baseline best over all draws, tart-2's mean gap to it (points) and that gap's SE over draws."""
    best = max(es.BASELINES, key=lambda b: np.mean([r[f"{b}_acc"] for r in rows]))
    gaps = 100 * np.array([r["tart2_acc"] - r[f"{best}_acc"] for r in rows])
    return best, float(gaps.mean()), float(gaps.std(ddof=1) / np.sqrt(len(gaps)))


def table(results: list[tuple[str, int, float | None, list[dict]]]) -> str:
    lines = ["| component | k | report's draw | each fresh draw: tart2 - best (SE) | pooled: tart2 - best (SE) |",
             "|---|---|---|---|---|"]
    for comp, k, first, rows in results:
        each = ", ".join(f"{100 * (r['tart2_acc'] - r[r['best'] + '_acc']):+.1f} ({100 * r['gap_se']:.1f})"
                         for r in rows)
        best, gap, se = pooled(rows)
        shown = "-" if first is None else f"{first:+.1f}"
        lines.append(f"| {comp} | {k} | {shown} | {each} | {gap:+.1f} ({se:.1f}) vs {best} |")
    return "\n".join(lines)


def summary(results: list) -> str:
    """How many cells' pooled gap is more than a point under the best baseline, and the lowest."""
    gaps = [(pooled(rows)[1], comp, k) for comp, k, _, rows in results]
    low = min(gaps)
    return (f"Pooled over the draws: {sum(g < -1.0 for g, _, _ in gaps)} of {len(gaps)} cells more than "
            f"1 point under the best baseline; the lowest {low[0]:+.1f} ({low[1]}, k = {low[2]}).")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--from-report", type=Path, help="a report's JSON (tart eval-synthetic --report X.md writes X.json)")
    ap.add_argument("--cells", nargs="+", default=[], metavar="COMPONENT:K", help="cells to redraw")
    ap.add_argument("--all", action="store_true", help="every cell at k <= --max-k")
    ap.add_argument("--below", type=float, default=1.0, help="points under the best that select a cell")
    ap.add_argument("--max-k", type=int, default=256)
    ap.add_argument("--draws", type=int, default=8)
    ap.add_argument("--n-tasks", type=int, default=64)
    ap.add_argument("--stack", default="auto", type=stack_value)
    ap.add_argument("--report", type=Path, help="write the table to this Markdown file (and its .json)")
    args = ap.parse_args()
    cells: list[tuple[str, int, float | None]] = []
    if args.all:
        cells += all_cells(args.from_report, args.max_k)
    elif args.from_report:
        cells += short_cells(args.from_report, args.below, args.max_k)
    for spec in args.cells:
        comp, _, k = spec.partition(":")
        if comp not in es.COMPONENTS or not k.isdigit():
            ap.error(f"--cells takes COMPONENT:K with COMPONENT one of {', '.join(es.COMPONENTS)}; got {spec!r}")
        cells.append((comp, int(k), None))
    if not cells:
        ap.error("no cells: give --cells, or a --from-report with cells under --below")
    model = load_reasoner("tart2")
    results = []
    for comp, k, first in cells:
        results.append((comp, k, first, redraw(model, comp, k, args.draws, args.n_tasks, args.stack)))
        print(table(results[-1:]).splitlines()[-1], flush=True)
        if args.report:
            write_report(args, results, len(cells))
    print(table(results) + "\n\n" + summary(results))


def write_report(args, results: list, n_cells: int) -> None:
    """The Markdown report (and its .json) of the cells measured so far."""
    cmd = "python scripts/synthetic_redraws.py " + shlex.join(sys.argv[1:])
    done = "" if len(results) == n_cells else f" Cells measured so far: {len(results)} of {n_cells}."
    atomic_write_bytes(args.report, (
        f"# Synthetic cells on fresh draws\n\nWritten by `{cmd}`.\n\n"
        f"Each cell: {args.draws} fresh draws of {args.n_tasks} tasks x 64 queries (seeds 1-{args.draws}; "
        "the report's draw is seed 1234), the default classifier unless the command names `--stack`; "
        "points, with the standard error in brackets (each draw's over its tasks; the pooled one "
        "over the draws). The pooled column compares with the baseline whose accuracy is best "
        f"over all the draws.{done}\n\n" + table(results) + "\n\n" + summary(results) + "\n").encode())
    atomic_write_json(args.report.with_suffix(".json"),
                      [{"component": c, "k": k, "report_gap": f, "draws": rows} for c, k, f, rows in results])


if __name__ == "__main__":
    main()
