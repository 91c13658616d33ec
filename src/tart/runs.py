"""A training run's folder: checkpoints written atomically and pruned by step number, the
`latest` pointer a resume follows, the optimiser/RNG state (safetensors + JSON, no pickle), and
the metrics log.

    out_dir/
      metrics.jsonl, train_config.json, train_config_history.jsonl, config.json + weights
      checkpoints/step-XXXXXXX/ (model, training_state.safetensors, trainer.json), latest
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from dataclasses import asdict
from pathlib import Path

import torch

from tart import checkpoint

def save_training_state(path: Path, step: int, cfg, opt: torch.optim.Optimizer, elapsed_s: float = 0.0) -> None:
    """The optimiser's state and the RNG states (safetensors) and the step, the training time so
    far and the config (JSON)."""
    sd = opt.state_dict()
    tensors = {f"optim.{i}.{k}": v for i, st in sd["state"].items() for k, v in st.items()}
    tensors["rng.cpu"] = torch.get_rng_state()
    if torch.cuda.is_available():
        tensors.update({f"rng.cuda.{i}": s for i, s in enumerate(torch.cuda.get_rng_state_all())})
    checkpoint.atomic_save_tensors(path / "training_state.safetensors", tensors)
    meta = {"step": step, "elapsed_s": elapsed_s, "train_config": asdict(cfg), "param_groups": sd["param_groups"]}
    checkpoint.atomic_write_json(path / "trainer.json", meta)


def load_training_state(path: Path, opt: torch.optim.Optimizer) -> int:
    """Restore what save_training_state wrote into `opt` and the RNGs; returns the step."""
    meta = json.loads((path / "trainer.json").read_text())
    tensors = checkpoint.load_tensors(path / "training_state.safetensors")
    state: dict[int, dict] = {}
    for key, t in tensors.items():
        if key.startswith("optim."):
            _, idx, name = key.split(".", 2)
            state.setdefault(int(idx), {})[name] = t
    opt.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
    torch.set_rng_state(tensors["rng.cpu"])
    cuda_states = [tensors[k] for k in sorted(tensors) if k.startswith("rng.cuda.")]
    if cuda_states and torch.cuda.is_available() and len(cuda_states) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(cuda_states)
    return int(meta["step"])


def elapsed_of(path: Path) -> float:
    """The training time (s) a checkpoint was saved at (0 for checkpoints that predate it)."""
    return float(json.loads((Path(path) / "trainer.json").read_text()).get("elapsed_s", 0.0))


def _step_of(ckpt: Path) -> int | None:
    """The step number of a `step-XXXXXXX` checkpoint folder (None for anything else)."""
    name = ckpt.name
    return int(name[5:]) if name.startswith("step-") and name[5:].isdigit() else None


def is_complete(ckpt: Path) -> bool:
    """Whether a checkpoint folder holds everything a resume reads."""
    return ckpt.is_dir() and all((ckpt / f).is_file() for f in
                                 ("trainer.json", "training_state.safetensors", checkpoint.CONFIG))


def checkpoints(out_dir: Path) -> list[Path]:
    """The run's checkpoint folders, oldest first by step number (not by name)."""
    ckpts = Path(out_dir) / "checkpoints"
    found = [p for p in ckpts.glob("step-*") if p.is_dir() and _step_of(p) is not None]
    return sorted(found, key=_step_of)


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The checkpoint `checkpoints/latest` names; None when there is no pointer. A pointer that
    names a missing or incomplete folder falls back, with a warning, to the newest complete
    checkpoint; when there is none, a CheckpointError (a resume must never silently restart)."""
    pointer = Path(out_dir) / "checkpoints" / "latest"
    if not pointer.is_file():
        return None
    ckpt = pointer.parent / pointer.read_text().strip()
    if is_complete(ckpt):
        return ckpt
    valid = [p for p in checkpoints(out_dir) if is_complete(p)]
    if not valid:
        raise checkpoint.CheckpointError(
            f"{pointer} names {ckpt.name}, which is missing or incomplete, and {pointer.parent} "
            "holds no other complete checkpoint: nothing to resume from (train with --overwrite "
            "to start again)")
    print(f"warning: {pointer} names {ckpt.name}, which is missing or incomplete; resuming from "
          f"the newest complete checkpoint, {valid[-1].name}", file=sys.stderr)
    return valid[-1]


# what a training run writes at the top of its folder (checkpoints/ holds the rest)
RUN_FILES = ("metrics.jsonl", "train_config.json", "train_config_history.jsonl", checkpoint.CONFIG,
             checkpoint.WEIGHTS, checkpoint.INDEX, checkpoint.JOURNAL)


def run_files(out_dir: Path) -> list[Path]:
    """The files and folders of a training run in `out_dir` (empty: no run there)."""
    out_dir = Path(out_dir)
    found = [out_dir / f for f in RUN_FILES if (out_dir / f).exists()]
    found += sorted(out_dir.glob("model-*.safetensors"))
    if (out_dir / "checkpoints").exists():
        found.append(out_dir / "checkpoints")
    return found


def clear_run(out_dir: Path) -> None:
    """Delete a training run's files from `out_dir` (nothing else in it)."""
    for p in run_files(out_dir):
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def _prune(ckpts: Path, keep: int, newest: Path) -> None:
    """Keep `newest` (the one `latest` names) and the `keep - 1` others with the highest steps."""
    others = [p for p in checkpoints(ckpts.parent) if p != newest]
    for p in others[: max(0, len(others) - max(keep - 1, 0))]:
        shutil.rmtree(p, ignore_errors=True)


def save_checkpoint(out_dir: Path, model, opt, cfg, step: int, elapsed_s: float = 0.0) -> Path:
    """Write checkpoints/step-XXXXXXX atomically, point `latest` at it, prune old ones, and
    refresh the model files at the top of `out_dir` (so `out_dir` loads as a model folder).
    A failed write (e.g. a full disk) leaves the previous checkpoint and `latest` as they were
    and raises a CheckpointError."""
    ckpts = Path(out_dir) / "checkpoints"
    ckpts.mkdir(parents=True, exist_ok=True)
    name = f"step-{step:07d}"
    tmp = ckpts / f".{name}.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        model.save_pretrained(tmp)
        save_training_state(tmp, step, cfg, opt, elapsed_s)
        checkpoint.fsync_dir(tmp)
    except BaseException as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(e, (OSError, checkpoint.CheckpointError)):
            raise checkpoint.CheckpointError(
                f"writing checkpoint {name} under {ckpts} failed ({e}); the previous checkpoints "
                "and `latest` are unchanged") from e
        raise
    shutil.rmtree(ckpts / name, ignore_errors=True)
    os.replace(tmp, ckpts / name)
    checkpoint.fsync_dir(ckpts)
    checkpoint.atomic_write_bytes(ckpts / "latest", name.encode())
    _prune(ckpts, cfg.keep_checkpoints, ckpts / name)
    model.save_pretrained(out_dir)
    return ckpts / name


def resume_checkpoint(out_dir: Path) -> Path | None:
    """The checkpoint a resume continues from: the one `latest` names, else (the pointer gone)
    the newest complete one with a warning; None when the run committed none."""
    ckpt = latest_checkpoint(out_dir)
    if ckpt is None:
        valid = [p for p in checkpoints(out_dir) if is_complete(p)]
        if valid:
            print(f"warning: {Path(out_dir) / 'checkpoints'} has no `latest`; resuming from "
                  f"{valid[-1].name}", file=sys.stderr)
            ckpt = valid[-1]
    return ckpt


def truncate_metrics(path: Path, step: int) -> None:
    """Drop metric rows logged after `step` (they belong to work a resumed run will redo)."""
    if not path.is_file():
        return
    rows = [line for line in path.read_text().splitlines() if line.strip()]
    keep = [r for r in rows if json.loads(r)["step"] <= step]
    checkpoint.atomic_write_bytes(path, "".join(r + "\n" for r in keep).encode())
