"""Speed benchmarks, each a ratio against a baseline measured in the same run on the same device.

- `bench_train`: optimiser steps/s of our trainer (bf16 autocast on CUDA, SDPA attention, one
  batch, optional torch.compile) against the original's recipe on transformers' GPT2Model (fp32,
  eager attention, 4 x 32 micro-batches).
- `bench_inference`: queries/s of shared-context `predict` (context encoded once for all queries)
  against the original's loop (one full forward pass per query), and the largest logit gap.
"""

from __future__ import annotations

import platform
import time

import torch

from tart.bench.reference import GPT2Reference, reference_step
from tart.reasoner import Reasoner, preset
from tart.synthetic import LogisticPrior
from tart.train import make_autocast, resolve_device, train_step


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, n: int, device: torch.device) -> float:
    """Seconds per call of `fn`, over `n` calls after the caller's warm-up."""
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    _sync(device)
    return (time.perf_counter() - t0) / n


def _device_info(device: torch.device) -> dict:
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor()
    return {"device": str(device), "device_name": name or platform.machine(),
            "torch": torch.__version__, "threads": torch.get_num_threads()}


def bench_train(
    preset_name: str = "tart",
    batch_size: int = 128,
    points: int = 258,
    steps: int | None = None,
    compile: bool = False,
    device: str = "auto",
) -> dict:
    """Steps/s and tokens/s of our trainer vs the GPT2Model reference; `speedup` = ours / ref."""
    dev = resolve_device(device)
    steps = steps or (20 if dev.type == "cuda" else 2)
    cfg = preset(preset_name)
    if points > cfg.max_points:
        raise ValueError(f"--points {points} exceeds the preset's {cfg.max_points}")
    task = LogisticPrior(n_dims=cfg.n_dims).sample(
        batch_size, points, generator=torch.Generator(dev).manual_seed(0), device=dev
    )
    torch.manual_seed(0)
    ours = Reasoner(cfg).to(dev)
    opt = torch.optim.AdamW(ours.parameters(), lr=1e-4, fused=dev.type == "cuda")
    fwd = torch.compile(ours) if compile else ours
    autocast = make_autocast("auto", dev)

    def ours_step():
        train_step(fwd, opt, task, autocast, grad_clip=1.0)

    ref = GPT2Reference(cfg).to(dev)
    ref_opt = torch.optim.Adam(ref.parameters(), lr=1e-4)

    def ref_step():
        reference_step(ref, ref_opt, task.x_BND, task.y_BN, micro_batch=32)

    for fn in (ours_step, ref_step):  # warm-up (and compilation)
        for _ in range(3 if compile and fn is ours_step else 1):
            fn()
    t_ours = _timed(ours_step, steps, dev)
    t_ref = _timed(ref_step, steps, dev)
    tokens = batch_size * 2 * points
    return {
        "benchmark": "train", **_device_info(dev), "preset": preset_name,
        "params": ours.num_parameters(), "batch_size": batch_size, "tokens_per_seq": 2 * points,
        "timed_steps": steps, "compile": compile, "amp": "bf16" if dev.type == "cuda" else "fp32",
        "ours_steps_per_s": 1 / t_ours, "ours_tokens_per_s": tokens / t_ours,
        "reference_steps_per_s": 1 / t_ref, "reference_tokens_per_s": tokens / t_ref,
        "speedup": t_ref / t_ours,
    }


@torch.inference_mode()
def bench_inference(
    preset_name: str = "tart",
    ks: tuple[int, ...] = (32, 256),
    n_queries: int = 1024,
    loop_queries: int | None = None,
    device: str = "auto",
) -> dict:
    """Queries/s, shared-context vs per-query loop, at each k; `speedup` is taken at the largest k."""
    dev = resolve_device(device)
    torch.manual_seed(0)
    model = Reasoner(preset(preset_name)).to(dev).eval()
    d = model.config.n_dims
    rows = []
    for k in ks:
        task = LogisticPrior(n_dims=d).sample(
            1, k + n_queries, generator=torch.Generator(dev).manual_seed(k), device=dev
        )
        cx, cy, qx = task.x_BND[:, :k], task.y_BN[:, :k], task.x_BND[:, k:]
        shared = lambda: model.predict(cx, cy, qx)  # noqa: E731
        logits_shared = shared()  # warm-up
        t_shared = min(_timed(shared, 1, dev) for _ in range(3))
        n_loop = min(n_queries, loop_queries or (n_queries if dev.type == "cuda" else 64))
        loop = lambda: model.predict_per_query(cx, cy, qx[:, :n_loop])  # noqa: E731
        logits_loop = loop()  # warm-up, and the equivalence check
        t_loop = _timed(loop, 1, dev)
        rows.append({
            "k": k, "n_queries": n_queries, "loop_queries_timed": n_loop,
            "shared_queries_per_s": n_queries / t_shared, "loop_queries_per_s": n_loop / t_loop,
            "speedup": (n_queries / t_shared) / (n_loop / t_loop),
            "max_abs_logit_diff": (logits_shared[:, :n_loop] - logits_loop).abs().max().item(),
        })
    return {"benchmark": "inference", **_device_info(dev), "preset": preset_name,
            "results": rows, "speedup": rows[-1]["speedup"]}


def format_result(result: dict) -> str:
    """A short human-readable summary of a benchmark result."""
    head = f"{result['benchmark']} benchmark on {result['device']} ({result['device_name']})"
    if result["benchmark"] == "train":
        return (
            f"{head}\n  ours:      {result['ours_steps_per_s']:.3f} steps/s "
            f"({result['ours_tokens_per_s']:.0f} tokens/s)\n  reference: "
            f"{result['reference_steps_per_s']:.3f} steps/s "
            f"({result['reference_tokens_per_s']:.0f} tokens/s)\n  speedup:   {result['speedup']:.2f}x"
        )
    lines = [head]
    for r in result["results"]:
        lines.append(
            f"  k={r['k']}: shared {r['shared_queries_per_s']:.0f} q/s, loop "
            f"{r['loop_queries_per_s']:.1f} q/s, speedup {r['speedup']:.1f}x, "
            f"max |logit diff| {r['max_abs_logit_diff']:.2e}"
        )
    return "\n".join(lines)
