"""Reports from the run log: one table writer, one plotter, the verdicts.

`runs.jsonl` holds one JSON line per finished cell (KEY plus status, acc, n_test, seconds, reason;
newer rows also macro_f1, ece, log_loss and n_classes: tables of those skip rows without them);
`read_runs` keeps the last line per cell. `write_report` writes a Markdown report (the command that
produced it, verdicts, one table and one accuracy-vs-k plot per (data set, embedder)) anywhere, e.g.
docs/; `write_reports` rebuilds a run folder's runs.csv, results.md and plots.
"""

from __future__ import annotations

import csv
import json
import re
from collections import Counter
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from tart.eval.methods import ICL_METHODS, PROBES, TART_METHODS

KEY = ("dataset", "embedder", "method", "k", "seed")


def key(row: dict) -> tuple:
    """The cell a row belongs to."""
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
            rows[key(row)] = row
    return list(rows.values())


def slug(name: str) -> str:
    """A file-name-safe form of a data set or embedder name."""
    return re.sub(r"[^\w.-]+", "_", name).strip("_")[-60:]


METRICS = {"acc": "accuracy", "macro_f1": "macro-F1", "ece": "ECE (15 bins, top-label; lower is better)",
           "log_loss": "log-loss (lower is better)"}


def mean_std(rows: Iterable[dict], metric: str = "acc") -> tuple[float, float, int] | None:
    """Mean, std and count of `metric` over the ok rows that have it (None when there are none)."""
    a = np.array([r[metric] for r in rows if r["status"] == "ok" and r.get(metric) is not None], dtype=float)
    return (float(a.mean()), float(a.std()), len(a)) if len(a) else None


def table(rows: list[dict], labels: dict[str, str] | None = None, metric: str = "acc",
          notes_too: bool = True) -> str:
    """Markdown table for one (data set, embedder): methods x k, mean (std) of `metric` over seeds,
    then the reasons of skipped and failed cells. `labels` renames methods."""
    labels = labels or {}
    ks = sorted({r["k"] for r in rows})
    methods = list(dict.fromkeys(r["method"] for r in rows))
    n_seeds = len({r["seed"] for r in rows})
    lines = ["| method | " + " | ".join(f"k={k}" for k in ks) + " |", "|---" * (len(ks) + 1) + "|"]
    notes = []
    for m in methods:
        cells = []
        for k in ks:
            these = [r for r in rows if r["method"] == m and r["k"] == k]
            st = mean_std(these, metric)
            if st is None:
                cells.append("skipped" if any(r["status"] == "skipped" for r in these) else
                             "error" if any(r["status"] == "error" for r in these) else
                             "n/a" if these else "")
            else:
                cells.append(f"{st[0]:.3f} ({st[1]:.3f})" + (f" n={st[2]}" if st[2] < n_seeds else ""))
        name = labels.get(m, m)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        reasons = dict.fromkeys(r["reason"] for r in rows
                                if r["method"] == m and r["status"] != "ok" and r.get("reason"))
        notes += [f"- {name}: {_short(x)}" for x in reasons]
    return "\n".join(lines + ([""] + notes[:20] if notes and notes_too else []))


def _short(reason: str, n: int = 200) -> str:
    reason = " ".join(reason.split())
    return reason if len(reason) <= n else reason[: n - 3] + "..."


def curve(rows: list[dict], method: str) -> dict[int, float]:
    """k -> mean accuracy of `method` over seeds (ok cells only)."""
    out = {}
    for k in sorted({r["k"] for r in rows if r["method"] == method}):
        st = mean_std(r for r in rows if r["method"] == method and r["k"] == k)
        if st is not None:
            out[k] = st[0]
    return out


def verdicts(rows: list[dict]) -> list[str]:
    """One line per (data set, embedder, tart method): against in-context learning and probes."""
    lines = []
    for (dataset, embedder), these in pairs(rows).items():
        for tm in [m for m in TART_METHODS if curve(these, m)]:
            tart = curve(these, tm)
            parts = []
            icl = best_of(these, ICL_METHODS)
            common = sorted(set(tart) & set(icl))
            if common:
                d = np.array([tart[k] - icl[k][0] for k in common])
                wins = int((d > 0).sum())
                verdict = "beats" if wins == len(common) else "does not beat" if wins == 0 else "partly beats"
                parts.append(f"{verdict} in-context learning (best of raw/calibrated): ahead at "
                             f"{wins}/{len(common)} k, mean {100 * d.mean():+.1f} points")
            else:
                parts.append("no in-context learning to compare with")
            probe = best_of(these, PROBES)
            common = sorted(set(tart) & set(probe))
            if common:
                gap = np.array([probe[k][0] - tart[k] for k in common])
                best = Counter(probe[k][1] for k in common).most_common(1)[0][0]
                parts.append(f"{100 * gap.mean():.1f} points under the best probe on average "
                             f"(per k {100 * gap.min():+.1f} to {100 * gap.max():+.1f}, negative = TART "
                             f"ahead; best probe mostly {best})")
            lines.append(f"- **{dataset}, {embedder}, {tm}**: " + "; ".join(parts) + ".")
    return lines


def multiclass_summary(rows: list[dict], ks: tuple[int, int] = (4, 32)) -> list[str]:
    """Multi-class rows: per embedder, a table of every method's mean accuracy, macro-F1, ECE and
    log-loss over the data sets and k in [ks[0], ks[1]] (each data set and k weighted alike; only
    (data set, k) cells every listed method finished, so the means compare like with like)."""
    multi = [r for r in rows if (r.get("n_classes") or 2) > 2 and r["status"] == "ok"
             and ks[0] <= r["k"] <= ks[1]]
    out = []
    for embedder in dict.fromkeys(r["embedder"] for r in multi):
        these = [r for r in multi if r["embedder"] == embedder]
        methods = list(dict.fromkeys(r["method"] for r in these))
        cells = {(r["dataset"], r["k"]) for r in these}
        cells = sorted(c for c in cells if all(any(r["method"] == m and (r["dataset"], r["k"]) == c
                                                   for r in these) for m in methods))
        if not cells:
            continue
        out += ["", f"Multi-class, {embedder}: mean over {len({c[0] for c in cells})} data sets x k per class "
                f"in {ks[0]}..{ks[1]} ({len(cells)} (data set, k) cells, seeds averaged first):", "",
                "| method | accuracy | macro-F1 | ECE | log-loss |", "|---|---|---|---|---|"]
        for m in methods:
            vals = []
            for metric in METRICS:
                per = [mean_std([r for r in these if r["method"] == m and (r["dataset"], r["k"]) == c], metric)
                       for c in cells]
                per = [p[0] for p in per if p is not None]
                vals.append(f"{np.mean(per):.3f}" if len(per) == len(cells) else "n/a")
            out.append(f"| {m} | " + " | ".join(vals) + " |")
    return out


def best_of(rows: list[dict], methods: Sequence[str]) -> dict[int, tuple[float, str]]:
    """Per k, the best mean accuracy among `methods` and which method it was."""
    best: dict[int, tuple[float, str]] = {}
    for m in methods:
        for k, acc in curve(rows, m).items():
            if k not in best or acc > best[k][0]:
                best[k] = (acc, m)
    return best


def pairs(rows: list[dict]) -> dict[tuple[str, str], list[dict]]:
    """The rows grouped by (data set, embedder), in order of appearance."""
    out: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        out.setdefault((r["dataset"], r["embedder"]), []).append(r)
    return out


def plot(rows: list[dict], path: str | Path, title: str, labels: dict[str, str] | None = None) -> None:
    """Accuracy vs k, one line per method (mean +- std over seeds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = labels or {}
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for m in dict.fromkeys(r["method"] for r in rows):
        st = {k: mean_std(r for r in rows if r["method"] == m and r["k"] == k)
              for k in sorted({r["k"] for r in rows if r["method"] == m})}
        ks = [k for k, s in st.items() if s is not None]
        if not ks:
            continue
        ax.errorbar(ks, [st[k][0] for k in ks], yerr=[st[k][1] for k in ks], marker="o", capsize=3,
                    label=labels.get(m, m), ls="-" if m.startswith("tart") else "--")
    n_classes = max((r.get("n_classes") or 2) for r in rows)
    ax.axhline(1.0 / n_classes, color="grey", lw=0.8, ls=":")
    ax.set_xscale("log", base=2)
    all_ks = sorted({r["k"] for r in rows})
    ax.set_xticks(all_ks, [str(k) for k in all_ks])
    ax.minorticks_off()
    ax.set_xlabel("k (labelled examples in the context)" if n_classes == 2 else
                  f"k (labelled examples per class; {n_classes} classes)")
    ax.set_ylabel("accuracy (balanced test)")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(rows: list[dict], path: str | Path, *, meta: dict | None = None,
                 command: str | None = None, title: str = "tart eval",
                 labels: dict[str, str] | None = None,
                 png: Callable[[str, str], str] | None = None) -> Path:
    """Markdown at `path`: the command, the settings, verdicts, then per (data set, embedder) its
    table and plot. Plots go next to it, named by `png(dataset, embedder)` (default: the report's
    stem, plus the pair when there are several)."""
    if not rows:
        raise ValueError("no finished cells to report")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    groups = pairs(rows)
    if png is None:
        png = (lambda d, e: f"{path.stem}.png") if len(groups) == 1 else \
              (lambda d, e: f"{path.stem}_{slug(d)}_{slug(e)}.png")
    md = [f"# {title}", ""]
    if command:
        md += [f"Written by `{command}`.", ""]
    runs = [c for c in (meta or {}).get("commands", []) if c != command]
    if runs:
        md += ["The runs: " + "; ".join(f"`{c}`" for c in runs) + ".", ""]
    if meta:
        multi = any((r.get("n_classes") or 2) > 2 for r in rows)
        md += [f"Balanced test sets of up to {meta.get('n_test')} items (chance "
               f"{'1/L for L classes' if multi else '0.5'}), contexts from a "
               f"pool of {meta.get('pool')} training items, class-balanced and nested in k"
               f"{' (k counts examples per class on multi-class data sets)' if multi else ''}; "
               f"mean (std) accuracy over seeds {meta.get('seeds')}. `n=` marks fewer seeds.", ""]
    md += ["## Summary", "", *verdicts(rows), *multiclass_summary(rows), ""]
    for (dataset, embedder), these in groups.items():
        name = png(dataset, embedder)
        plot(these, path.parent / name, f"{dataset}, {embedder}", labels)
        md += [f"## {dataset}, {embedder}", "", table(these, labels), "", f"![accuracy vs k]({name})", ""]
        for metric in ("macro_f1", "ece", "log_loss"):
            if any(r.get(metric) is not None for r in these):
                md += [f"{METRICS[metric]}:", "", table(these, labels, metric, notes_too=False), ""]
    secs = sum(r.get("seconds") or 0 for r in rows)
    md += [f"{len(rows)} cells ({sum(r['status'] == 'ok' for r in rows)} ok), {secs:.0f} s of method time."]
    path.write_text("\n".join(md) + "\n")
    return path


def write_reports(out_dir: str | Path, report: str | Path | None = None,
                  command: str | None = None) -> Path:
    """A run folder's runs.csv, results.md and accuracy_<dataset>_<embedder>.png from runs.jsonl;
    with `report`, the same Markdown (naming `command`) and plots there too."""
    out = Path(out_dir)
    rows = read_runs(out / "runs.jsonl")
    if not rows:
        raise ValueError(f"no finished cells in {out / 'runs.jsonl'}")
    fields = [*KEY, "status", "acc", "macro_f1", "ece", "log_loss", "n_classes", "n_test", "seconds", "reason"]
    with open(out / "runs.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fields, extrasaction="ignore")
        w.writeheader()
        w.writerows(sorted(rows, key=lambda r: tuple(str(r[k]).zfill(6) for k in KEY)))
    meta = json.loads((out / "run.json").read_text()) if (out / "run.json").is_file() else {}
    path = write_report(rows, out / "results.md", meta=meta,
                        png=lambda d, e: f"accuracy_{slug(d)}_{slug(e)}.png")
    if report is not None:
        write_report(rows, report, meta=meta, command=command)
    return path
