"""Embedding speed: our batched causal-LM embedder against the original's one-text-at-a-time loop.

The loop is HazyResearch/TART's procedure: for each text one forward pass of the causal LM
(`AutoModelForCausalLM`, logits included, `output_hidden_states=True`) and the mean of the last
hidden layer. Both run in the same process on the same texts and device; the loop may be timed
on a subset (its rate is texts/s). In `vanilla` mode the texts are test queries behind a prompt
of k labelled examples: ours runs the prompt once and reuses its key/value cache, the loop runs
the full prompt + query for every query (ours runs the prompt once per round). `max_abs_diff`
compares the two sets of vectors.

A machine's speed can swing within minutes, so the two are not timed one after the other:
they take turns over `rounds` slices of the texts (ours, loop | loop, ours | ...), and each rate
is over all its rounds; `speedup_per_round` shows the spread.

`tart bench-embed [--json]` (wired in tart.cli through `add_parser` and `run`).
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import resource
import sys
import time
from typing import Sequence

import numpy as np
import torch

__all__ = ["bench_embed", "add_parser", "run", "format_result"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _maxrss_mib() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kb / (1024 * 1024) if sys.platform == "darwin" else kb / 1024  # bytes on macOS


def _default_texts(n: int, seed: int) -> list[str]:
    from tart.datasets import load_dataset

    texts = list(load_dataset("amazon_food").train_items)
    random.Random(seed).shuffle(texts)
    return texts[:n]


@torch.inference_mode()
def _loop(lm, seqs: list[list[int]], spans: list[tuple[int, int]], device) -> np.ndarray:
    """The original's loop: one full causal-LM forward per sequence, mean over one span."""
    out = []
    for ids, (a, b) in zip(seqs, spans):
        hidden = lm(input_ids=torch.tensor([ids], device=device),
                    output_hidden_states=True).hidden_states[-1][0]
        out.append(hidden[a:b].float().mean(0).cpu().numpy())
    return np.stack(out)


def bench_embed(
    model: str = "smollm2",
    mode: str = "stream",
    n_texts: int = 256,
    batch_size: int = 16,
    loop_texts: int | None = None,
    max_chars: int | None | str = "auto",
    k: int = 32,
    device: str | None = None,
    texts: Sequence[str] | None = None,
    seed: int = 0,
    dtype: str | None = None,
    loop_dtype: str | None = "float32",
    rounds: int = 4,
    compile: bool = False,
) -> dict:
    """Texts/s of the batched embedder vs the one-at-a-time loop; `speedup` = ours / loop.

    dtype: ours (default: the embedder's automatic choice, bf16 on CUDA and on AMX CPUs);
    loop_dtype: the loop's, default float32 as in the original (None: the same as ours).
    rounds: ours and the loop take turns over this many slices of the texts (order swapped
        every round), so a change in machine load hits both; rates are over all rounds.
    compile: ours with `CausalLMEmbedder(compile=True)` (stream only); the compilation happens
        in the untimed warm-up, whose time is reported as `warmup_s`.
    """
    _check_options(mode, rounds)
    need = n_texts + (k if mode == "vanilla" else 0)
    texts = list(texts) if texts is not None else _default_texts(need, seed)
    if len(texts) < need:
        raise ValueError(f"need {need} texts, got {len(texts)}")
    emb = _causal_embedder(model, mode, max_chars, device, batch_size, dtype, compile)
    dev = emb.device
    ctx, queries = texts[:k] if mode == "vanilla" else [], texts[-n_texts:]
    labels = ["positive" if i % 2 else "negative" for i in range(len(ctx))]
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats(dev)

    def ours(items):
        if mode == "stream":
            return emb.encode(items, show_progress_bar=False)
        return emb.encode_with_context(ctx, labels, items)[1]

    n_loop = min(n_texts, loop_texts or (n_texts if dev.type == "cuda" else 48))
    rounds = min(rounds, n_loop)
    sub = emb.clip(queries[:n_loop])
    seqs, spans = _loop_inputs(emb, mode, ctx, labels, sub)
    timing = _time_in_turns(emb, ours, queries, seqs, spans, n_loop, rounds, loop_dtype)
    return _result(emb, timing, model=model, mode=mode, k=len(ctx), batch_size=batch_size,
                   mean_tokens=float(np.mean([len(s) for s in emb.tokenizer(sub)["input_ids"]])))


def _check_options(mode: str, rounds) -> None:
    if mode not in ("stream", "vanilla"):
        raise ValueError("bench-embed times mode 'stream' or 'vanilla' (loo's test queries run "
                         "exactly as vanilla's)")
    if not isinstance(rounds, int) or rounds < 1:
        raise ValueError(f"rounds must be a positive int, not {rounds!r}")


def _causal_embedder(model, mode, max_chars, device, batch_size, dtype, compile):
    """The batched embedder to time; a ValueError unless it is a causal-LM one."""
    from tart.embed import get_embedder
    from tart.embed.text import CausalLMEmbedder

    emb = get_embedder(model, mode=mode, max_chars=max_chars, device=device, batch_size=batch_size,
                       dtype=dtype, **({"compile": True} if compile else {}))
    if not isinstance(emb, CausalLMEmbedder):
        raise ValueError(f"bench-embed compares causal-LM embedders; {model!r} is not one")
    return emb


def _loop_inputs(emb, mode: str, ctx: list[str], labels: list[str],
                 sub: list[str]) -> tuple[list[list[int]], list[tuple[int, int]]]:
    """The loop's sequences and the span each is averaged over, on the same token ids as ours:
    each text alone (stream), or the full prompt + query for every query (vanilla)."""
    if mode == "stream":
        seqs = emb.tokenizer(sub, add_special_tokens=True)["input_ids"]
        return seqs, [(0, len(s)) for s in seqs]
    pieces = emb.pieces(emb.clip(ctx), labels)
    prompt = emb.lm.bos + sum((p.ids for p in pieces), [])
    lead = len(prompt) - pieces[-1].tail if emb.span == "segment" else None
    seqs, spans = [], []
    for p in emb.pieces(sub, None, query=True):
        a, b = p.span(emb.span)
        seqs.append(prompt + p.ids)
        spans.append((lead if lead is not None else len(prompt) + a, len(prompt) + b))
    return seqs, spans


def _timed(dev: torch.device, times: list[float], fn, *args):
    """fn(*args); its wall time (device synchronised) is appended to `times`."""
    _sync(dev)
    t0 = time.perf_counter()
    out = fn(*args)
    _sync(dev)
    times.append(time.perf_counter() - t0)
    return out


def _time_in_turns(emb, ours, queries: list[str], seqs, spans, n_loop: int, rounds: int,
                   loop_dtype: str | None) -> dict:
    """Ours and the loop, taking turns over `rounds` slices: their vectors, per-round times and
    slices, the warm-up time, ours' peak memory (before the loop's model exists) and the loop's dtype."""
    from transformers import AutoModelForCausalLM

    from tart.embed.runtime import resolve_dtype

    dev = emb.device
    # round r: ours embeds queries[r::rounds], the loop its share of the first n_loop; the two
    # alternate (and swap order every round) so both see the same machine load
    ours_parts = [list(range(len(queries)))[r::rounds] for r in range(rounds)]
    loop_parts = [list(range(n_loop))[r::rounds] for r in range(rounds)]
    vecs = np.zeros((len(queries), emb.dim), np.float32)
    ref = np.zeros((n_loop, emb.dim), np.float32)
    t_ours: list[float] = []
    t_loop: list[float] = []

    def time_ours(r):
        vecs[ours_parts[r]] = _timed(dev, t_ours, ours, [queries[i] for i in ours_parts[r]])

    def time_loop(r):
        ref[loop_parts[r]] = _timed(dev, t_loop, _loop, lm, [seqs[i] for i in loop_parts[r]],
                                    [spans[i] for i in loop_parts[r]], dev)

    warmup: list[float] = []
    _timed(dev, warmup, ours, queries[:2])  # warm-up (and compilation), untimed in the rates
    time_ours(0)  # before the loop's model exists, so the peak memory is ours alone
    rss_ours = _maxrss_mib()
    gpu_ours = torch.cuda.max_memory_allocated(dev) / 2**20 if dev.type == "cuda" else None
    lm_dtype = resolve_dtype(loop_dtype, dev) if loop_dtype else emb.dtype
    lm = AutoModelForCausalLM.from_pretrained(emb.name_or_path, dtype=lm_dtype).to(dev).eval()
    _loop(lm, seqs[:1], spans[:1], dev)  # warm-up
    time_loop(0)
    for r in range(1, rounds):  # rounds alternate: ours, loop | loop, ours | ours, loop ...
        for step in ((time_loop, time_ours) if r % 2 else (time_ours, time_loop)):
            step(r)
    return {"vecs": vecs, "ref": ref, "t_ours": t_ours, "t_loop": t_loop,
            "ours_parts": ours_parts, "loop_parts": loop_parts, "warmup_s": warmup[0],
            "rss_ours": rss_ours, "gpu_ours": gpu_ours, "lm_dtype": lm_dtype}


def _result(emb, t: dict, *, model: str, mode: str, k: int, batch_size: int,
            mean_tokens: float) -> dict:
    """The benchmark's record from `_time_in_turns`' measurements."""
    from tart.embed.runtime import dtype_name

    dev, n_texts, n_loop = emb.device, len(t["vecs"]), len(t["ref"])
    rounds = len(t["t_ours"])
    ratios = [(len(t["ours_parts"][r]) / t["t_ours"][r]) / (len(t["loop_parts"][r]) / t["t_loop"][r])
              for r in range(rounds)]
    diff = float(np.abs(t["ref"] - t["vecs"][:n_loop]).max())
    ours_rate, loop_rate = n_texts / sum(t["t_ours"]), n_loop / sum(t["t_loop"])
    return {
        "benchmark": "embed", "device": str(dev), "torch": torch.__version__,
        "device_name": torch.cuda.get_device_name(dev) if dev.type == "cuda"
        else (platform.processor() or platform.machine()),
        "threads": torch.get_num_threads(), "model": model, "mode": mode, "span": emb.span,
        "dtype": dtype_name(emb.dtype), "loop_dtype": dtype_name(t["lm_dtype"]),
        "max_chars": emb.max_chars, "k": k, "n_texts": n_texts, "batch_size": batch_size,
        "mean_tokens": mean_tokens, "loop_texts_timed": n_loop,
        "ours_texts_per_s": ours_rate, "loop_texts_per_s": loop_rate,
        "speedup": ours_rate / loop_rate, "rounds": rounds,
        "compiled": emb.compiled, "warmup_s": t["warmup_s"],
        "speedup_per_round": [round(x, 3) for x in ratios],
        "max_abs_diff": diff, "mean_abs_value": float(np.abs(t["ref"]).mean()),
        "peak_rss_mib_ours": t["rss_ours"], "peak_rss_mib": _maxrss_mib(),
        "peak_gpu_mib_ours": t["gpu_ours"],
    }


def format_result(r: dict) -> str:
    comp = f", compiled in {r['warmup_s']:.1f} s" if r["compiled"] else ""
    head = (f"embed benchmark ({r['model']}, {r['mode']}, max_chars={r['max_chars']}, "
            f"{r['dtype']}{comp} vs loop {r['loop_dtype']}, "
            f"~{r['mean_tokens']:.0f} tokens/text) on {r['device']} ({r['device_name']}, "
            f"{r['threads']} threads)")
    ctx = f", behind a prompt of k={r['k']} examples" if r["mode"] != "stream" else ""
    gpu = f", GPU peak {r['peak_gpu_mib_ours']:.0f} MiB" if r["peak_gpu_mib_ours"] else ""
    return (
        f"{head}{ctx}\n"
        f"  batched:  {r['ours_texts_per_s']:.1f} texts/s ({r['n_texts']} texts, batch "
        f"{r['batch_size']})\n"
        f"  loop:     {r['loop_texts_per_s']:.1f} texts/s ({r['loop_texts_timed']} texts, one "
        f"forward each)\n"
        f"  speedup:  {r['speedup']:.2f}x (rounds: "
        f"{', '.join(f'{x:.2f}' for x in r['speedup_per_round'])}), max |diff| {r['max_abs_diff']:.2e} "
        f"(mean |value| {r['mean_abs_value']:.2f})\n"
        f"  peak RSS: {r['peak_rss_mib_ours']:.0f} MiB batched, {r['peak_rss_mib']:.0f} MiB "
        f"with the loop's model{gpu}"
    )


def _max_chars(s: str) -> int | None | str:
    return None if s == "none" else s if s == "auto" else int(s)


def add_parser(sub) -> argparse.ArgumentParser:
    """Register `bench-embed` on an argparse subparsers object."""
    p = sub.add_parser("bench-embed", help="batched text embedding vs the original's loop")
    p.add_argument("--model", default="smollm2", help="smollm2, a .gguf file, a folder or hub id")
    p.add_argument("--mode", default="stream", choices=["stream", "vanilla"])
    p.add_argument("--n-texts", type=int, default=256, help="texts embedded by ours")
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--loop-texts", type=int, default=None,
                   help="texts timed in the loop (default: 48 on CPU, all on GPU)")
    p.add_argument("--max-chars", type=_max_chars, default="auto",
                   help="cut texts to this many characters ('none': no cut; default by mode)")
    p.add_argument("--k", type=int, default=32, help="context examples (vanilla)")
    p.add_argument("--device", default=None)
    p.add_argument("--dtype", default=None, help="ours: float32, bfloat16 (default: automatic)")
    p.add_argument("--loop-dtype", default="float32",
                   help="the loop's dtype (default float32, as the original; 'same': ours)")
    p.add_argument("--rounds", type=int, default=4,
                   help="ours and the loop take turns over this many slices of the texts")
    p.add_argument("--compile", action="store_true",
                   help="ours with torch.compile'd decoder layers (compiled in the warm-up)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true")
    return p


def run(args) -> int:
    result = bench_embed(args.model, args.mode, args.n_texts, args.batch_size, args.loop_texts,
                         args.max_chars, args.k, args.device, seed=args.seed,
                         dtype=args.dtype,
                         loop_dtype=None if args.loop_dtype == "same" else args.loop_dtype,
                         rounds=args.rounds, compile=args.compile)
    print(json.dumps(result, indent=2) if args.json else format_result(result))
    return 0
