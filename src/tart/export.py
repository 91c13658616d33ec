"""Exporting a training run as a shipped module folder (tooling; loading one is `tart.weights`).

`export_model` turns a training run into a folder like `tart/weights/default/`: the weights, the
family's synthetic evaluation (`eval_synthetic.json`) and a model card (`MODEL_CARD.md`) with the
recipe, steps, wall time, hardware and the sha256 of the weights. What differs between the two
module families (their evaluation and card) is the family's `exporter` (`tart.families`): here,
`export_tart` and `export_tart2`.
"""

from __future__ import annotations

import json
import platform
import shutil
import tempfile
from pathlib import Path

import torch

from tart.checkpoint import atomic_write_bytes, atomic_write_json
from tart.eval import synthetic_set as es
from tart.eval.synthetic import DEFAULT_KS, evaluate_synthetic, format_table
from tart.set_reasoner import SetReasoner
from tart.weights import family_of, load_reasoner, sha256

EVAL_FILE = "eval_synthetic.json"
CARD_FILE = "MODEL_CARD.md"


def training_summary(run_dir: Path) -> dict:
    """Steps, wall time and final loss of a run, from its train_config.json and metrics.jsonl.

    Wall time is summed from each logged interval (steps / steps_per_s), so runs resumed across
    restarts count only the time spent training.
    """
    rows = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines() if x]
    if not rows:
        raise ValueError(f"{run_dir}/metrics.jsonl has no rows")
    seconds, last = 0.0, 0
    for r in rows:
        seconds += (r["step"] - last) / r["steps_per_s"]
        last = r["step"]
    history = run_dir / "train_config_history.jsonl"
    phases = [json.loads(x) for x in history.read_text().splitlines() if x] if history.is_file() else []
    return {
        "train_config": json.loads((run_dir / "train_config.json").read_text()),
        "phases": phases,
        "steps": rows[-1]["step"], "wall_s": seconds, "final_loss": rows[-1]["loss"],
        "final_curriculum": {"active_dims": rows[-1]["active_dims"], "points": rows[-1]["points"]},
    }


def _schedule(cfg: dict) -> str:
    if cfg.get("schedule", "constant") == "constant":
        return "constant"
    return f"cosine to {cfg['min_lr']} over {cfg['steps']} steps"


def _phases(phases: list[dict], last_step: int) -> str:
    """Card lines for runs trained in several invocations with different settings."""
    if len(phases) < 2:
        return ""
    ends = [p["start_step"] for p in phases[1:]] + [last_step]
    lines = [f"  - steps {p['start_step']}-{end}: lr {p['config']['lr']} {_schedule(p['config'])}, "
             f"warm-up {p['config']['warmup']}, curriculum {json.dumps(p['config']['curriculum'])}"
             for p, end in zip(phases, ends)]
    return "- Phases (the recipe line shows the last):\n" + "\n".join(lines) + "\n"


def export_model(
    run_dir: str | Path,
    out_dir: str | Path,
    hardware: str,
    n_tasks: int = 256,
    n_queries: int = 64,
    ks: tuple[int, ...] = DEFAULT_KS,
    seed: int = 1234,
    notes: str = "",
    dtype: torch.dtype | None = None,
    max_shard_mb: float | None = None,
) -> dict:
    """Copy a run's final weights to `out_dir` with its synthetic evaluation and a model card.

    `dtype` (e.g. torch.bfloat16) and `max_shard_mb` shrink or split the weight files; the
    evaluation runs on the weights as saved.
    """
    run_dir, final = Path(run_dir), Path(out_dir)
    foreign = sorted(p.name for p in final.iterdir() if p.name not in _EXPORTED and
                     not (p.name.startswith("model") and ".safetensors" in p.name)) \
        if final.is_dir() else []
    if foreign:
        raise ValueError(f"{final} holds files an export does not write ({', '.join(foreign[:5])}): "
                         "export into a new or empty folder, or one an earlier export wrote")
    family = family_of(run_dir)
    source = family.module_class.from_pretrained(run_dir)
    summary = training_summary(run_dir)
    final.parent.mkdir(parents=True, exist_ok=True)
    _sweep_exports(final)
    # everything is written to a hidden sibling folder, then swapped in whole: a killed export
    # leaves the destination as it was (or, the first time, absent), never half-written
    out_dir = Path(tempfile.mkdtemp(prefix=f".{final.name}.export-", dir=final.parent))
    try:
        source.save_pretrained(out_dir, dtype=dtype, max_shard_mb=max_shard_mb)
        model = family.module_class.from_pretrained(out_dir)
        result = family.export(model, out_dir, summary, hardware=hardware, n_tasks=n_tasks,
                               n_queries=n_queries, ks=ks, seed=seed, notes=notes, dtype=dtype)
        _swap_in(out_dir, final)
    finally:
        shutil.rmtree(out_dir, ignore_errors=True)
    return result


_EXPORTED = {"config.json", EVAL_FILE, CARD_FILE}


def _sweep_exports(final: Path) -> None:
    """Remove the hidden folders of exports to `final` that were killed before their swap."""
    for p in final.parent.glob(f".{final.name}.export-*"):
        shutil.rmtree(p, ignore_errors=True)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two folders (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    import ctypes
    import os

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    res = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    return res == 0


def _swap_in(new: Path, final: Path) -> None:
    """Put folder `new` at `final`; the old `final` ends up at `new` (deleted by the caller)."""
    import os

    from tart.checkpoint import fsync_dir

    mask = os.umask(0)
    os.umask(mask)
    os.chmod(new, 0o777 & ~mask)  # mkdtemp's folders are 0700
    fsync_dir(new)
    if not final.exists():
        os.rename(new, final)
    elif not _exchange(new, final):  # two renames: a kill between them leaves `final` absent
        old = new.with_name(new.name + "-old")
        os.rename(final, old)
        os.rename(new, final)
        os.rename(old, new)
    fsync_dir(final.parent)


def export_tart(model, out_dir: Path, summary: dict, *, hardware: str, n_tasks: int, n_queries: int,
                ks: tuple[int, ...], seed: int, notes: str, dtype: torch.dtype | None) -> dict:
    """The faithful family's exporter: its synthetic evaluation against logistic regression and
    the Bayes rule, and its model card."""
    rows = evaluate_synthetic(model, ks=ks, n_tasks=n_tasks, n_queries=n_queries, seed=seed)
    eval_spec = {"ks": list(ks), "n_tasks": n_tasks, "n_queries": n_queries, "seed": seed}
    atomic_write_json(out_dir / EVAL_FILE, {"spec": eval_spec, "rows": rows})
    weight_files = sorted(out_dir.glob("model*.safetensors"))
    digests = {f.name: sha256(f) for f in weight_files}
    digest = "; ".join(f"`{name}`, sha256 `{d}`" for name, d in digests.items())
    gaps = [r["logreg_acc"] - r["tart_acc"] for r in rows if "tart_acc" in r]
    cfg = summary["train_config"]
    card = f"""# tart reasoning module: default

{notes}

- Architecture: GPT-2-style reasoner, {json.dumps(model.config.to_dict())}
  ({model.num_parameters():,} parameters).
- Training data: TART's synthetic logistic-regression tasks, prior {json.dumps(cfg["prior"])}.
- Recipe: preset `{cfg["preset"]}`, batch {cfg["batch_size"]}, lr {cfg["lr"]} ({cfg["schedule"]},
  {cfg["warmup"]} warm-up steps), grad clip {cfg["grad_clip"]}, seed {cfg["seed"]},
  curriculum {json.dumps(cfg["curriculum"])}.
{_phases(summary["phases"], summary["steps"])}- Steps: {summary["steps"]}; final training loss {summary["final_loss"]:.4f} at
  {summary["final_curriculum"]["active_dims"]} active dims and {summary["final_curriculum"]["points"]} points.
- Wall time: {summary["wall_s"] / 60:.1f} min of training on {hardware}.
- Exported (and evaluated) with torch {torch.__version__}, Python {platform.python_version()}.
- Weights ({dtype or torch.float32}): {digest}.

## Synthetic evaluation

Fresh tasks on all {model.config.n_dims} dims: {n_tasks} tasks x {n_queries} queries per k, seed {seed}
(`tart eval-synthetic --n-tasks {n_tasks} --n-queries {n_queries} --seed {seed}` reproduces it;
the rows are in `{EVAL_FILE}`). logreg = scikit-learn LogisticRegression(C=alpha^2,
fit_intercept=False) on the same k points (MAP); bayes = the true w.

{format_table(rows)}

Largest accuracy gap to logistic regression: {max(gaps) * 100:.1f} points.
"""
    atomic_write_bytes(out_dir / CARD_FILE, card.encode())
    return {"summary": summary, "rows": rows, "sha256": digests}


def card_eval_section(rows: list[dict], tart_rows: list[dict], n_tasks: int, n_queries: int, seed: int) -> str:
    """The model card's synthetic-evaluation section of a tart-2 module (from `tart.eval.synthetic_set`)."""
    table = "| component | " + " | ".join(f"k={k}" for k in es.SET_KS) + " |\n|" + "---|" * (1 + len(es.SET_KS))
    for comp in es.COMPONENTS:
        accs = [f"{r['tart2_acc']:.3f}" for r in rows if r["component"] == comp]
        table += f"\n| {comp} | " + " | ".join(accs) + " |"
    return f"""## Synthetic evaluation (accuracy of tart-2 as `TartClassifier(stack=None)` predicts: the module alone)

Fresh tasks of each prior component in 64 raw dims, {n_tasks} tasks x {n_queries} queries per
cell, seed {seed}; rows in `{EVAL_FILE}`. Each task is read as the classifier reads a context (its
plan: label permutations, the map's views weighted on the context, temperature). The classical
learners on the same tasks: `tart eval-synthetic --model tart2 --n-tasks 64 --report docs/tart2_synthetic.md`.

{table}

TART's own tasks (d = 16, alpha = 10, {n_tasks} tasks x 64 queries, the draws of `tart eval-synthetic`):

{es.format_tart_tasks(tart_rows)}
"""


def card_eval_spec(n_tasks: int, n_queries: int, seed: int) -> dict:
    """The `spec` of a tart-2 card's evaluation file: what `card_eval_tart2` evaluated."""
    return {"ks": list(es.SET_KS), "n_tasks": n_tasks, "n_queries": n_queries, "n_raw": 64, "seed": seed,
            "draws": es.DRAWS}


def card_eval_tart2(model: SetReasoner, n_tasks: int, n_queries: int, seed: int) -> tuple[list[dict], list[dict]]:
    """The rows of a tart-2 card's evaluation: each prior component at `SET_KS` and TART's tasks,
    predicted by the module alone (`TartClassifier(stack=None)`: without the linear member)."""
    rows = es.evaluate_components(model, n_tasks=n_tasks, n_queries=n_queries, seed=seed, baselines=(),
                                  stack=None)
    return rows, es.evaluate_tart_tasks(model, load_reasoner("tart"), n_tasks=n_tasks, seed=seed, stack=None)


def export_tart2(model: SetReasoner, out_dir: Path, summary: dict, *, hardware: str, n_tasks: int,
                 n_queries: int, ks: tuple[int, ...], seed: int, notes: str, dtype: torch.dtype | None) -> dict:
    """tart-2's exporter: the card and evaluation (`card_eval_tart2`; the baselines' table is `tart
    eval-synthetic --model tart2 --report ...`). `ks` is not read: tart-2 is evaluated at `SET_KS`."""
    rows, tart_rows = card_eval_tart2(model, n_tasks, n_queries, seed)
    spec = card_eval_spec(n_tasks, n_queries, seed)
    atomic_write_json(out_dir / EVAL_FILE, {"spec": spec, "rows": rows, "tart_tasks": tart_rows})
    digests = {f.name: sha256(f) for f in sorted(out_dir.glob("model*.safetensors"))}
    digest = "; ".join(f"`{name}`, sha256 `{d}`" for name, d in digests.items())
    cfg = summary["train_config"]
    card = f"""# tart-2 reasoning module (set layout)

{notes}

- Architecture: set-layout transformer (`tart.set_reasoner`), {json.dumps(model.config.to_dict())}
  ({model.num_parameters():,} parameters). One token per example, no positions, queries attend to
  the context and themselves.
- Training data: the mixture prior (`tart.priors_tart2`) {json.dumps(cfg["prior"])},
  every task through the input map `tart.projection.fit_set_map` fitted on its context.
- Recipe: preset `{cfg["preset"]}`, up to {cfg["batch_size"]} tasks per step, lr {cfg["lr"]} ({cfg["schedule"]},
  {cfg["warmup"]} warm-up steps), grad clip {cfg["grad_clip"]}, amp {cfg["amp"]}, seed {cfg["seed"]},
  batch shapes {json.dumps(cfg["curriculum"])}.
{_phases(summary["phases"], summary["steps"])}- Steps: {summary["steps"]}; final training loss {summary["final_loss"]:.4f}.
- Wall time: {summary["wall_s"] / 60:.1f} min of training on {hardware}.
- Exported (and evaluated) with torch {torch.__version__}, Python {platform.python_version()}.
- Weights ({dtype or torch.float32}): {digest}.

{card_eval_section(rows, tart_rows, n_tasks, n_queries, seed)}"""
    atomic_write_bytes(out_dir / CARD_FILE, card.encode())
    return {"summary": summary, "rows": rows, "tart_tasks": tart_rows, "sha256": digests}
