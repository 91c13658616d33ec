"""Speed benchmarks, each a ratio against a baseline measured in the same run on the same device.

- `bench_train`: optimiser steps/s of our trainer (bf16 autocast on CUDA, SDPA attention, one
  batch, optional torch.compile) against the original's recipe on transformers' GPT2Model (fp32,
  eager attention, 4 x 32 micro-batches).
- `bench_inference`: queries/s of shared-context `predict` (context encoded once for all queries)
  against the original's loop (one full forward pass per query), and the largest logit gap.
- `bench_train_set`: tart-2's training step (set layout) against the `tart` layout's, the same
  number of labelled examples per step: steps/s and examples/s, and the input map's cost.
- `bench_inference_set`: tart-2's queries/s at each k against the `tart` module's at k = 256
  (the most it holds), both with shared-context prediction.
"""

from __future__ import annotations

import platform
import time

import torch

from tart import set_reasoner as sr
from tart.bench.reference import GPT2Reference, reference_step
from tart.priors_tart2 import MixturePrior, SetCurriculum, sample_set_batch
from tart.reasoner import Reasoner, tart_preset
from tart.priors_tart import LogisticPrior
from tart.train import make_autocast, resolve_device, train_step

_tart_config = tart_preset  # the `tart_preset` parameters of the set benchmarks shadow the function


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn, n: int, device: torch.device) -> float:
    """Seconds per call of `fn`, over `n` calls after the caller's warm-up."""
    sync(device)
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    sync(device)
    return (time.perf_counter() - t0) / n


def device_info(device: torch.device) -> dict:
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
    cfg = tart_preset(preset_name)
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
        "benchmark": "train", **device_info(dev), "preset": preset_name,
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
    model = Reasoner(tart_preset(preset_name)).to(dev).eval()
    d = model.config.n_dims
    rows = []
    for k in ks:
        task = LogisticPrior(n_dims=d).sample(
            1, k + n_queries, generator=torch.Generator(dev).manual_seed(k), device=dev
        )
        cx, cy, qx = task.x_BND[:, :k], task.y_BN[:, :k], task.x_BND[:, k:]
        shared = lambda: model.predict(cx, cy, qx)  # noqa: E731
        logits_shared = shared()  # warm-up
        t_shared = min(_timed(shared, 1, dev) for _ in range(5))
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
    return {"benchmark": "inference", **device_info(dev), "preset": preset_name,
            "results": rows, "speedup": rows[-1]["speedup"]}


def bench_train_set(
    set_preset: str = "cpu", tart_preset: str = "tart", batch_size: int = 32, points: int = 256,
    n_queries: int = 64, n_raw: int = 128, steps: int | None = None, amp: str = "auto", device: str = "auto",
) -> dict:
    """Training steps/s and examples/s of tart-2 and of the `tart` layout on batches of
    `batch_size` tasks x `points` labelled examples (tart-2: points - n_queries context + n_queries
    queries; tart: 2 tokens per point, causal). `map_s_per_step`: the input map's SVDs (CPU)."""
    dev = resolve_device(device)
    steps = steps or (20 if dev.type == "cuda" else 2)
    k = points - n_queries
    if k < 2:
        raise ValueError(f"points ({points}) must exceed n_queries ({n_queries}) by at least 2")
    torch.manual_seed(0)
    set_model = sr.SetReasoner(sr.tart2_preset(set_preset)).to(dev)
    g = torch.Generator().manual_seed(0)
    t0 = time.perf_counter()
    batch = sample_set_batch(MixturePrior(max_classes=set_model.config.n_classes), SetCurriculum(n_queries=n_queries),
                             set_model.config.n_dims, batch_size, g, shape=(batch_size, k, n_raw))
    map_s = time.perf_counter() - t0
    batch = batch.to(dev)
    cfg = _tart_config(tart_preset)
    if points > cfg.max_points:
        raise ValueError(f"points {points} exceeds the {tart_preset} preset's {cfg.max_points}")
    task = LogisticPrior(n_dims=cfg.n_dims).sample(batch_size, points, generator=torch.Generator(dev).manual_seed(0), device=dev)
    tart_model = Reasoner(cfg).to(dev)
    autocast = make_autocast(amp, dev)
    out = {}
    for name, model, data in (("tart2", set_model, batch), ("tart", tart_model, task)):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=dev.type == "cuda")
        step = lambda: train_step(model, opt, data, autocast, grad_clip=1.0)  # noqa: E731
        step()  # warm-up
        t = _timed(step, steps, dev)
        out[name] = {"params": model.num_parameters(), "steps_per_s": 1 / t, "examples_per_s": batch_size * points / t}
    return {
        "benchmark": "train-set", **device_info(dev), "set_preset": set_preset, "tart_preset": tart_preset,
        "batch_size": batch_size, "points": points, "n_queries": n_queries, "n_raw": n_raw, "timed_steps": steps,
        "amp": "bf16" if isinstance(autocast, torch.autocast) else "fp32", "map_s_per_step": map_s,
        "tart2": out["tart2"], "tart": out["tart"],
        "examples_ratio": out["tart2"]["examples_per_s"] / out["tart"]["examples_per_s"],
    }


@torch.inference_mode()
def bench_inference_set(
    set_preset: str = "cpu", tart_preset: str = "tart", ks: tuple[int, ...] = (256, 2048),
    n_queries: int = 1024, device: str = "auto",
) -> dict:
    """Queries/s of tart-2 at each k (context encoded once) and of the `tart` module at k = 256;
    `ratio_at_256` = tart-2's rate / tart's at k = 256 (when 256 is among `ks`)."""
    dev = resolve_device(device)
    torch.manual_seed(0)
    set_model = sr.SetReasoner(sr.tart2_preset(set_preset)).to(dev).eval()
    tart_model = Reasoner(_tart_config(tart_preset)).to(dev).eval()
    d = set_model.config.n_dims

    def rate(fn) -> float:
        fn()  # warm-up
        return n_queries / min(_timed(fn, 1, dev) for _ in range(5))

    g = torch.Generator(dev).manual_seed(0)
    rows = []
    for k in ks:
        cx = torch.randn(1, k, d, generator=g, device=dev)
        cy = torch.randint(0, 2, (1, k), generator=g, device=dev)
        qx = torch.randn(1, n_queries, d, generator=g, device=dev)
        rows.append({"k": k, "tart2_queries_per_s": rate(lambda: set_model.predict(cx, cy, qx))})
    t = LogisticPrior(n_dims=tart_model.config.n_dims).sample(1, 256 + n_queries, generator=g, device=dev)
    tart_rate = rate(lambda: tart_model.predict(t.x_BND[:, :256], t.y_BN[:, :256], t.x_BND[:, 256:]))
    at_256 = [r["tart2_queries_per_s"] for r in rows if r["k"] == 256]
    return {"benchmark": "inference-set", **device_info(dev), "set_preset": set_preset, "tart_preset": tart_preset,
            "n_queries": n_queries, "results": rows, "tart_queries_per_s_at_256": tart_rate,
            "ratio_at_256": at_256[0] / tart_rate if at_256 else None}


def format_result(result: dict) -> str:
    """A short human-readable summary of a benchmark result."""
    head = f"{result['benchmark']} benchmark on {result['device']} ({result['device_name']})"
    if result["benchmark"] == "train-set":
        return (f"{head}\n  tart2 ({result['set_preset']}): {result['tart2']['steps_per_s']:.2f} steps/s, "
                f"{result['tart2']['examples_per_s']:.0f} examples/s\n  tart ({result['tart_preset']}): "
                f"{result['tart']['steps_per_s']:.2f} steps/s, {result['tart']['examples_per_s']:.0f} examples/s\n"
                f"  examples/s ratio tart2/tart: {result['examples_ratio']:.2f}x; input map "
                f"{result['map_s_per_step']:.3f} s per batch")
    if result["benchmark"] == "inference-set":
        lines = [head] + [f"  tart2 k={r['k']}: {r['tart2_queries_per_s']:.0f} queries/s" for r in result["results"]]
        lines.append(f"  tart k=256: {result['tart_queries_per_s_at_256']:.0f} queries/s")
        if result["ratio_at_256"] is not None:
            lines.append(f"  ratio at k=256 (tart2/tart): {result['ratio_at_256']:.2f}x")
        return "\n".join(lines)
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
