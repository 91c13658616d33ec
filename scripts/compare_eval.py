"""Compare an exported module's synthetic evaluation (`eval_synthetic.json`, written by
`tart export-model`) with the shipped module's of its family, row by row, as a Markdown table.

Both files come from the same evaluation code; rows are matched by (component, k). Where the
shipped file was written with other settings (tasks per row, seed), the comparison says so and the
shipped module is evaluated again with the new file's settings. Usage:

    python scripts/compare_eval.py runs/ship/eval_synthetic.json tart2
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from tart.export import EVAL_FILE
from tart.weights import default_model_dir, load_reasoner

MODULE_KEY = {"tart": "tart", "tart2": "tart2"}  # each family's accuracy/CE column prefix


def _shipped_rows(family: str, spec: dict) -> tuple[list[dict], str]:
    shipped = json.loads((default_model_dir(family) / EVAL_FILE).read_text())
    same = all(shipped["spec"].get(k) == spec.get(k) for k in ("n_tasks", "n_queries", "seed", "ks", "n_raw", "draws"))
    if same:
        return shipped["rows"], "its shipped evaluation file"
    from tart import families

    fam = families.get(family)
    options = {k: spec[k] for k in ("n_tasks", "n_queries", "seed") if k in spec}
    if family == "tart2":
        rows = fam.evaluate(load_reasoner(family), ks=tuple(spec["ks"]), baselines=(), stack=None,
                            **options)  # the module alone, as `tart export-model` evaluates it
    else:
        rows = fam.evaluate(load_reasoner(family), ks=tuple(spec["ks"]), **options)
    return rows, f"evaluated again with the new file's settings (the shipped file has {shipped['spec']})"


def compare(new_file: Path, family: str) -> str:
    new = json.loads(Path(new_file).read_text())
    old_rows, how = _shipped_rows(family, new["spec"])
    key = MODULE_KEY[family]
    old = {(r.get("component", "-"), r["k"]): r for r in old_rows}
    lines = [f"New module ({new_file}) against the shipped `{family}` module ({how}); "
             f"{new['spec'].get('n_tasks')} tasks x {new['spec'].get('n_queries')} queries per row.", "",
             "| component | k | new acc | shipped acc | diff (points) | new CE | shipped CE |", "|---|---|---|---|---|---|---|"]
    diffs = []
    for r in new["rows"]:
        o = old.get((r.get("component", "-"), r["k"]))
        if o is None:
            continue
        d = 100 * (r[f"{key}_acc"] - o[f"{key}_acc"])
        diffs.append(d)
        lines.append(f"| {r.get('component', '-')} | {r['k']} | {r[f'{key}_acc']:.3f} | {o[f'{key}_acc']:.3f} | {d:+.1f} | "
                     f"{r[f'{key}_ce']:.3f} | {o[f'{key}_ce']:.3f} |")
    if diffs:
        lines.append(f"| **mean** | | | | **{sum(diffs) / len(diffs):+.2f}** | | |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("new", type=Path, help="the exported module's eval_synthetic.json")
    ap.add_argument("family", choices=sorted(MODULE_KEY))
    args = ap.parse_args()
    print(compare(args.new, args.family))


if __name__ == "__main__":
    main()
