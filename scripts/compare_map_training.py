"""Does a module trained on the fast map basis (`SetCurriculum.map_basis="fast"`) read real
contexts (the exact map, as the classifier does) as well as one trained on the exact basis?

`train` runs one of the compared trainings: the `tart2-cpu` recipe with a small module (64 wide,
3 layers, 4 heads; 64 input dims, 10 classes), 2,000 steps, raw widths 96-320 so that most
batches are wide enough for the two bases to differ (the recipe's own 2-320 leaves most batches
narrow, where the fast basis is exact), one thread. Same seed: same initialisation and same raw
tasks for both bases. `report`, given the runs (`--runs NAME=FOLDER ...`, names `exact_s0`,
`fast_s0`, ...), writes a Markdown report with
1. how far the fast basis is from the exact one on the prior's tasks (share of the exact basis'
   subspace it spans, share of the context variance it captures, per shape);
2. each module on held-out prior tasks mapped exactly (and, to see whether a module can tell,
   mapped with the fast basis): cross-entropy and accuracy, with the standard error over tasks;
3. the paired differences fast - exact per seed (same initialisation and raw tasks) against the
   seed-to-seed differences of each basis: the noise a difference must exceed to count;
4. the same for the shipped tart-2 module (trained on the exact basis) read through either basis.

    for s in 0 1; do for b in exact fast; do
        python scripts/compare_map_training.py train --basis $b --seed $s --out runs/cmp/${b}_s$s &
    done; wait; done
    python scripts/compare_map_training.py report --runs exact_s0=runs/cmp/exact_s0 fast_s0=... \
        --out docs/training_path/modules.md
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import torch
import torch.nn.functional as F

from tart.priors_tart2 import MixturePrior
from tart.projection import apply_set_map, fit_set_map
from tart.weights import load_reasoner

SHAPES = [(k, d) for k in (16, 64, 256, 512) for d in (128, 320)]  # (context K, raw width D)


def held_out(n_tasks: int, n_queries: int, seed: int, max_classes: int):
    """Raw prior tasks per shape (fixed seeds): [(K, D, x_BND, y_BN, n_classes_B)]."""
    prior = MixturePrior(max_classes=max_classes)
    out = []
    for i, (k, d) in enumerate(SHAPES):
        t = prior.sample(n_tasks, k + n_queries, d, torch.Generator().manual_seed(seed + i))
        out.append((k, d, t.x_BND, t.y_BN, t.n_classes_B))
    return out


@torch.no_grad()
def per_task_scores(model, tasks, basis: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy and accuracy of each task's queries (all shapes concatenated): [T], [T]."""
    ces, accs = [], []
    for k, _, x, y, n_classes in tasks:
        params = fit_set_map(x[:, :k], y[:, :k], model.config.n_dims, basis=basis)
        z = apply_set_map(params, x)
        logits = model(z[:, :k], y[:, :k], z[:, k:], n_classes).float()
        ce = F.cross_entropy(logits.flatten(0, 1), y[:, k:].flatten(), reduction="none").view(len(x), -1)
        ces.append(ce.mean(1))
        accs.append((logits.argmax(-1) == y[:, k:]).float().mean(1))
    return torch.cat(ces), torch.cat(accs)


def basis_distance(tasks, n_dims: int) -> list[str]:
    lines = ["| context K | raw width D | subspace overlap (mean, min) | variance captured (mean, min) |", "|---|---|---|---|"]
    for k, d, x, y, _ in tasks:
        e = fit_set_map(x[:, :k], y[:, :k], n_dims)
        f = fit_set_map(x[:, :k], y[:, :k], n_dims, basis="fast")
        overlap = ((e.basis_BdD @ f.basis_BdD.transpose(1, 2)) ** 2).sum((1, 2)) / e.n_kept_B.clamp_min(1)
        var = [(apply_set_map(p, x[:, :k]) ** 2).sum((1, 2)) * p.scale_B**2 for p in (e, f)]
        ratio = var[1] / var[0]
        lines.append(f"| {k} | {d} | {overlap.mean():.4f}, {overlap.min():.4f} | {ratio.mean():.4f}, {ratio.min():.4f} |")
    return lines


def _se(v: torch.Tensor) -> float:
    return float(v.std() / len(v) ** 0.5)


def report(runs: dict[str, str], n_tasks: int, n_queries: int, seed: int) -> str:
    models = {name: load_reasoner(folder) for name, folder in runs.items()}
    models["shipped tart2"] = load_reasoner("tart2")
    n_dims = next(iter(models.values())).config.n_dims
    tasks = held_out(n_tasks, n_queries, seed, next(iter(models.values())).config.n_classes)
    scores = {(name, b): per_task_scores(m, tasks, b) for name, m in models.items() for b in ("exact", "fast")}
    T = len(scores[next(iter(scores))][0])
    lines = ["| run | steps | training time (s, 1 thread, two runs at once) | training loss, last 500 steps |",
             "|---|---|---|---|"]
    for name, folder in runs.items():
        rows = [json.loads(line) for line in (Path(folder) / "metrics.jsonl").read_text().splitlines()]
        tail = [r["loss"] for r in rows if r["step"] > rows[-1]["step"] - 500]
        lines.append(f"| {name} | {rows[-1]['step']} | {rows[-1]['elapsed_s']:.0f} | {sum(tail) / len(tail):.4f} |")
    lines += ["", f"Held-out prior tasks: {n_tasks} per shape x {len(SHAPES)} shapes (K in 16..512, D in 128, 320), "
             f"{n_queries} queries each, seed {seed}; {T} tasks in all. Standard errors over tasks.", "",
             "### The fast basis against the exact one", "", *basis_distance(tasks, n_dims), "",
             "### Each module, inputs mapped exactly (as the classifier does) or with the fast basis", "",
             "| module | map at inference | cross-entropy | accuracy |", "|---|---|---|---|"]
    for (name, b), (ce, acc) in scores.items():
        lines.append(f"| {name} | {b} | {ce.mean():.4f} ± {_se(ce):.4f} | {acc.mean():.4f} ± {_se(acc):.4f} |")
    lines += ["", "### Differences (exact map at inference; paired over the same tasks)", "",
              "| comparison | cross-entropy diff | accuracy diff (points) |", "|---|---|---|"]
    names = [n for n in runs]
    pairs = [(f"fast_s{s}", f"exact_s{s}") for s in sorted({n.split("_s")[1] for n in names if "_s" in n})
             if f"fast_s{s}" in runs and f"exact_s{s}" in runs]
    pairs += [(a, b) for a, b in itertools.combinations(names, 2) if a.split("_")[0] == b.split("_")[0]]
    for a, b in pairs:
        dce = scores[(a, "exact")][0] - scores[(b, "exact")][0]
        dacc = 100 * (scores[(a, "exact")][1] - scores[(b, "exact")][1])
        lines.append(f"| {a} - {b} | {dce.mean():+.4f} ± {_se(dce):.4f} | {dacc.mean():+.2f} ± {_se(dacc):.2f} |")
    for name in models:
        dce = scores[(name, "fast")][0] - scores[(name, "exact")][0]
        dacc = 100 * (scores[(name, "fast")][1] - scores[(name, "exact")][1])
        lines.append(f"| {name}: fast map - exact map at inference | {dce.mean():+.4f} ± {_se(dce):.4f} | "
                     f"{dacc.mean():+.2f} ± {_se(dacc):.2f} |")
    return "\n".join(lines) + "\n"


def train_one(basis: str, seed: int, out: str, steps: int) -> None:
    from tart.train import RECIPES, TrainConfig, train

    torch.set_num_threads(1)
    r = dict(RECIPES["tart2-cpu"])
    r.update(steps=steps, warmup=100, log_every=50, ckpt_every=250, seed=seed,
             model=dict(n_embd=64, n_layer=3, n_head=4))
    r["curriculum"] = {**r["curriculum"], "map_basis": basis, "d_min": 96}
    train(TrainConfig(**r), out, resume=Path(out).is_dir(), progress=False)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="one of the compared training runs")
    t.add_argument("--basis", choices=["exact", "fast"], required=True)
    t.add_argument("--seed", type=int, required=True)
    t.add_argument("--steps", type=int, default=2000)
    t.add_argument("--out", required=True)
    r = sub.add_parser("report", help="compare the runs")
    r.add_argument("--runs", nargs="+", required=True, metavar="NAME=FOLDER")
    r.add_argument("--n-tasks", type=int, default=64)
    r.add_argument("--n-queries", type=int, default=64)
    r.add_argument("--seed", type=int, default=4321)
    r.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.command == "train":
        train_one(args.basis, args.seed, args.out, args.steps)
        return
    runs = dict(r.split("=", 1) for r in args.runs)
    text = report(runs, args.n_tasks, args.n_queries, args.seed)
    print(text)
    if args.out:
        args.out.write_text(f"# Training on the fast map basis\n\nWritten by `python scripts/compare_map_training.py "
                            f"report --runs {' '.join(args.runs)} --n-tasks {args.n_tasks}`.\n\n{text}")


if __name__ == "__main__":
    main()
