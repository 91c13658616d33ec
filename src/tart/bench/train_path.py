"""Where a tart-2 training step's time goes: the data path (prior sample and input map) against the
module's optimiser step, for a training recipe on a device, each a ratio in the same run.

- `data_path_s`: drawing one batch of the recipe's shapes as the trainer does now (the prior on the
  device, one shared frame per batch, the map's basis as the recipe's `map_basis` says), and
  `start_data_path_s`: the same shapes drawn as at the start of the training-path issue (the prior on
  the CPU with a frame per task, the exact basis), their ratio `data_path_speedup`;
- `module_steps_per_s`: optimiser steps on ready batches; `steps_per_s`: with the data path in the
  step, as the trainer runs it; `data_path_share`: the data path's part of such a step;
- `shapes`: the data path at fixed (tasks, context, width) shapes (default: the issue's table),
  now and at the start, with their ratio.
"""

from __future__ import annotations

import dataclasses
import time

import torch

from tart.bench.speed import device_info, sync
from tart.priors_tart2 import sample_set_batch
from tart.train import batch_generator, make_autocast, recipe, resolve_device, train_step

ISSUE_SHAPES = ((64, 128, 64), (64, 512, 320), (128, 256, 320))  # (tasks B, context K, width D)


def _timed_draw(draw, device: torch.device) -> tuple[float, object]:
    sync(device)
    t0 = time.perf_counter()
    batch = draw()
    sync(device)
    return time.perf_counter() - t0, batch


def _drawers(cfg, device: torch.device):
    """(now, start): each draws a batch of a given shape at a given step, as the trainer does now
    and as it did at the start (CPU prior with a frame per task, exact basis)."""
    fam = cfg.family_entry
    prior, curriculum = fam.prior_from_dict(cfg.prior), fam.curriculum_class(**cfg.curriculum)
    start_prior = dataclasses.replace(prior, shared_frame=False)
    model_cfg = cfg.model_config()
    cpu = torch.device("cpu")

    def now(shape, step):
        return sample_set_batch(prior, curriculum, model_cfg.n_dims, shape[0], batch_generator(cfg.seed, step, 0, device),
                                shape=shape, device=device, whiten=model_cfg.whiten_map, basis=curriculum.map_basis,
                                first=model_cfg.map_first)

    def start(shape, step):
        return sample_set_batch(start_prior, curriculum, model_cfg.n_dims, shape[0], batch_generator(cfg.seed, step, 0, cpu),
                                shape=shape, device=device, whiten=model_cfg.whiten_map, basis="exact",
                                first=model_cfg.map_first)

    return now, start, curriculum


def bench_train_path(recipe_name: str = "tart2-gpu", steps: int | None = None, shapes=ISSUE_SHAPES,
                     device: str = "auto", preset: str | None = None) -> dict:
    """The split of a tart-2 training step between data path and module (see the module doc)."""
    dev = resolve_device(device)
    cfg = recipe(recipe_name)
    if cfg.family != "tart2":
        raise ValueError(f"recipe {recipe_name!r} trains the {cfg.family!r} family; this benchmark times tart2's data path")
    if preset is not None:
        cfg = dataclasses.replace(cfg, preset=preset)
    steps = steps or (20 if dev.type == "cuda" else 3)
    now, start, curriculum = _drawers(cfg, dev)
    torch.manual_seed(cfg.seed)
    model = cfg.build_model().to(dev)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, fused=dev.type == "cuda")
    autocast = make_autocast(cfg.amp, dev)
    cpu = torch.device("cpu")
    plan = [curriculum.shape(batch_generator(cfg.seed, s, 0, cpu), cfg.batch_size) for s in range(steps + 1)]
    now(plan[0], 0), start(plan[0], 0)  # warm-up
    train_step(model, opt, now(plan[0], 0), autocast, cfg.grad_clip)
    t_now = t_start = t_module = 0.0
    for s, shape in enumerate(plan[1:], 1):
        dt, batch = _timed_draw(lambda: now(shape, s), dev)
        t_now += dt
        t_start += _timed_draw(lambda: start(shape, s), dev)[0]
        t_module += _timed_draw(lambda: train_step(model, opt, batch, autocast, cfg.grad_clip), dev)[0]
    rows = []
    for shape in shapes:
        a = min(_timed_draw(lambda: now(shape, 0), dev)[0] for _ in range(2))
        b = min(_timed_draw(lambda: start(shape, 0), dev)[0] for _ in range(2))
        rows.append({"shape": list(shape), "data_path_s": a, "start_data_path_s": b, "speedup": b / a})
    return {
        "benchmark": "train-path", **device_info(dev), "recipe": recipe_name, "preset": cfg.preset,
        "params": model.num_parameters(), "batch_size": cfg.batch_size, "amp": cfg.amp, "timed_steps": steps,
        "step_shapes": [list(p) for p in plan[1:]], "map_basis": curriculum.map_basis,
        "data_path_s": t_now / steps, "start_data_path_s": t_start / steps, "data_path_speedup": t_start / t_now,
        "module_steps_per_s": steps / t_module, "steps_per_s": steps / (t_module + t_now),
        "start_steps_per_s": steps / (t_module + t_start), "data_path_share": t_now / (t_module + t_now),
        "start_data_path_share": t_start / (t_module + t_start), "shapes": rows,
    }


def format_train_path(r: dict) -> str:
    lines = [f"train-path benchmark on {r['device']} ({r['device_name']}): recipe {r['recipe']}, preset {r['preset']}, "
             f"{r['timed_steps']} steps",
             f"  module alone: {r['module_steps_per_s']:.3f} steps/s",
             f"  with the data path: {r['steps_per_s']:.3f} steps/s (data path {100 * r['data_path_share']:.0f}% "
             f"of a step, {r['data_path_s']:.3f} s per batch)",
             f"  at the start: {r['start_steps_per_s']:.3f} steps/s (data path {100 * r['start_data_path_share']:.0f}%, "
             f"{r['start_data_path_s']:.3f} s per batch); data path {r['data_path_speedup']:.2f}x faster now"]
    for row in r["shapes"]:
        lines.append(f"  shape {tuple(row['shape'])}: {row['data_path_s']:.3f} s now, {row['start_data_path_s']:.3f} s "
                     f"at the start ({row['speedup']:.2f}x)")
    return "\n".join(lines)
