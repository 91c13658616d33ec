"""Merge the multi-class grid's run folders (scripts/multiclass_grid.sh) into results/multiclass_all
(runs.jsonl + run.json, for `tart eval --report-only`) and keep a copy of the rows and the run's
record in docs/results/multiclass_runs.jsonl and multiclass_run.json (scripts/rerun_tart2_multiclass.sh
starts from them where results/ is gone). Rows of methods the default now covers are left out:
tart-ts / tart2-ts (a context temperature, the default since temperature="auto"; the grid runs
tart-t1 / tart2-t1 for the probabilities at temperature 1), and rows a rerun superseded (the last
row per cell is kept, as `tart.eval.report.read_runs` reads them)."""
import json
from pathlib import Path

from tart.eval.report import read_runs

out = Path("results/multiclass_all")
out.mkdir(parents=True, exist_ok=True)
SUPERSEDED = {"tart-ts", "tart2-ts"}
lines, meta = [], {}
for part in ("multiclass", "multiclass_media", "multiclass_text"):
    folder = Path("results") / part
    lines += [json.dumps(r) for r in read_runs(folder / "runs.jsonl") if r["method"] not in SUPERSEDED]
    if (folder / "run.json").is_file():
        m = json.loads((folder / "run.json").read_text())
        for k, v in m.items():
            meta[k] = [x for x in dict.fromkeys([*meta.get(k, []), *v]) if x not in SUPERSEDED] \
                if isinstance(v, list) else v
(out / "runs.jsonl").write_text("\n".join(lines) + "\n")
(out / "run.json").write_text(json.dumps(meta, indent=1))
Path("docs/results").mkdir(parents=True, exist_ok=True)
Path("docs/results/multiclass_runs.jsonl").write_text("\n".join(lines) + "\n")
Path("docs/results/multiclass_run.json").write_text(json.dumps(meta, indent=1))
print(len(lines), "rows")
