"""Write docs/training_path.md from what the commands it names measured:

    tart bench-train --family tart2 --recipe tart2-gpu --steps 6 --json > docs/training_path/bench_tart2-gpu.json
    tart bench-train --family tart2 --recipe tart2-cpu --steps 8 --json > docs/training_path/bench_tart2-cpu.json
    python scripts/compare_map_training.py report --runs ... --out docs/training_path/modules.md
    python scripts/fast_map_grid.py --ks 16 64 128 256 --seeds 5 --out docs/training_path/grid.md
    python scripts/training_path_report.py   (with docs/training_path/notes.md, written by hand)
"""

from __future__ import annotations

import json
from pathlib import Path

DOCS = Path("docs")
DIR = DOCS / "training_path"
INTRO = """# tart-2's training path

A tart-2 training step draws a batch of synthetic tasks from the prior, maps every task by the input
map fitted on its own context (`tart.projection.fit_set_map`), then takes one optimiser step of the
module. At the start of the training-path issue (main at 817b8f8) the data path was a CPU prior with
one random frame (a D x D QR) per task and the map's basis from two full batched SVDs; on one H200
that was about 95% of a step (0.67-0.74 steps/s for the `full` preset). Now:

- the prior is drawn on the training device with its own generator (reproducible from seed and
  step), one Haar-random frame per batch that each task fills in its own random order
  (`MixturePrior.shared_frame`: each task alone is distributed as before);
- the trainer's map finds its basis the fast way (`SetCurriculum.map_basis="fast"`, `tart.basis`):
  the class means' directions from the eigenvectors of their L x L Gram matrix, the residual's
  leading directions by subspace iteration (two power steps, 8 extra directions, CholeskyQR in
  float64 for the small factors) and Rayleigh-Ritz; exact wherever the context spans few more
  directions than the map keeps. The classifier keeps the exact basis.

`start` below is the old data path run in the same process on the same shapes
(`MixturePrior(shared_frame=False)`, CPU generator, `basis="exact"`). On this shared 2-core machine
the same timing differs by up to 60% between runs (compare the two tables' `start` at a shape);
the ratios, taken within a run, vary less."""


def bench_section(r: dict, cmd: str) -> str:
    head = (f"### Recipe `{r['recipe']}` (`{r['preset']}` preset, {r['params']:,} parameters) on {r['device']} "
            f"({r['device_name']}, {r['threads']} threads, torch {r['torch']})\n\n`{cmd}`, {r['timed_steps']} steps "
            f"of the recipe's own batch shapes (tasks, context, width): {', '.join(str(tuple(s)) for s in r['step_shapes'])}.\n")
    table = ["| | now | start | ratio |", "|---|---|---|---|",
             f"| data path, s per batch | {r['data_path_s']:.3f} | {r['start_data_path_s']:.3f} | **{r['data_path_speedup']:.2f}x** |",
             f"| training steps/s (data path + module) | {r['steps_per_s']:.3f} | {r['start_steps_per_s']:.3f} | "
             f"{r['steps_per_s'] / r['start_steps_per_s']:.2f}x |",
             f"| data path's share of a step | {100 * r['data_path_share']:.0f}% | {100 * r['start_data_path_share']:.0f}% | |",
             f"| module alone, steps/s | {r['module_steps_per_s']:.3f} | | |"]
    shapes = ["", "The data path alone at fixed shapes (best of 2):", "",
              "| tasks, context, width | now (s) | start (s) | ratio |", "|---|---|---|---|"]
    shapes += [f"| {tuple(row['shape'])} | {row['data_path_s']:.3f} | {row['start_data_path_s']:.3f} | "
               f"**{row['speedup']:.2f}x** |" for row in r["shapes"]]
    return "\n".join([head, *table, *shapes])


def main() -> None:
    parts = [INTRO, "", "## Where a step's time goes", ""]
    for name in ("tart2-gpu", "tart2-cpu"):
        f = DIR / f"bench_{name}.json"
        if f.is_file():
            r = json.loads(f.read_text())
            cmd = f"tart bench-train --family tart2 --recipe {name} --steps {r['timed_steps']} --json"
            parts += [bench_section(r, cmd), ""]
    modules = DIR / "modules.md"
    if modules.is_file():
        parts += ["## Does a module trained on the fast basis read real contexts as well?", "",
                  modules.read_text().split("\n", 1)[1].strip(), ""]
    grid = DIR / "grid.md"
    if grid.is_file():
        parts += ["### The shipped module on real embeddings through either basis", "", grid.read_text().strip(), ""]
    notes = DIR / "notes.md"
    if notes.is_file():
        parts += [notes.read_text().strip(), ""]
    (DOCS / "training_path.md").write_text("\n".join(parts))
    print(f"wrote {DOCS / 'training_path.md'}")


if __name__ == "__main__":
    main()
