"""The `tart` command line: train, eval-synthetic, export-model, bench-*, assets."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from pathlib import Path

from tart.bench import embed as embed_bench
from tart.reasoner import PRESETS
from tart.set_reasoner import PRESETS as SET_PRESETS
from tart.train import RECIPES

# flags of `tart train` that map onto TrainConfig fields (None = not given on the command line)
_TRAIN_FIELDS = {
    "preset": str, "steps": int, "batch_size": int, "lr": float, "min_lr": float, "schedule": str,
    "warmup": int, "weight_decay": float, "grad_clip": float, "seed": int, "log_every": int,
    "ckpt_every": int, "keep_checkpoints": int, "time_limit_s": float, "amp": str, "device": str,
    "init_from": str,
}
_CURRICULUM_FIELDS = ("dims_start", "dims_end", "dims_inc", "points_start", "points_end",
                      "points_inc", "interval", "dims_interval")
_PRIOR_FIELDS = {"n_dims": int, "alpha": float, "alpha_max": float}


def _add_train(sub) -> None:
    p = sub.add_parser("train", help="train a reasoning module on synthetic tasks")
    p.add_argument("--out", required=True, help="output folder (model, checkpoints, metrics)")
    p.add_argument("--resume", action="store_true",
                   help="continue from the latest checkpoint in --out, with its saved settings "
                        "(flags given here override them, e.g. a larger --steps)")
    p.add_argument("--recipe", default="tart", choices=sorted(RECIPES),
                   help="base settings: 'tart' (the original's full run), 'quick' (tiny model, "
                        "4-d tasks, minutes on a CPU), 'cpu-tiny' (the interim shipped module, "
                        "from runs/quick), 'tart2-cpu' / 'tart2-gpu' / 'tart2-tiny' (the set-layout "
                        "module on the mixture prior); the flags below override them")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    for name, typ in _TRAIN_FIELDS.items():
        choices = sorted({*PRESETS, *SET_PRESETS}) if name == "preset" else None
        p.add_argument(f"--{name.replace('_', '-')}", type=typ, default=None, choices=choices)
    for name in _CURRICULUM_FIELDS:
        flag = "curriculum-interval" if name == "interval" else name.replace("_", "-")
        p.add_argument(f"--{flag}", dest=f"cur_{name}", type=int, default=None)
    for name, typ in _PRIOR_FIELDS.items():
        p.add_argument(f"--{name.replace('_', '-')}", dest=f"prior_{name}", type=typ, default=None)


def cmd_train(args) -> int:
    from tart.train import TrainConfig, recipe, train

    saved = Path(args.out) / "train_config.json"
    if args.resume and saved.is_file():
        cfg = asdict(TrainConfig(**json.loads(saved.read_text())))
    else:
        cfg = asdict(recipe(args.recipe))
    for name in _TRAIN_FIELDS:
        if getattr(args, name) is not None:
            cfg[name] = getattr(args, name)
    if args.compile:
        cfg["compile"] = True
    cfg["curriculum"] = {**cfg["curriculum"], **{
        n: getattr(args, f"cur_{n}") for n in _CURRICULUM_FIELDS if getattr(args, f"cur_{n}") is not None
    }}
    cfg["prior"] = {**cfg["prior"], **{
        n: getattr(args, f"prior_{n}") for n in _PRIOR_FIELDS if getattr(args, f"prior_{n}") is not None
    }}
    if args.prior_n_dims is not None:
        cfg["model"] = {**cfg["model"], "n_dims": args.prior_n_dims}
    train(TrainConfig(**cfg), args.out, resume=args.resume, progress=not args.no_progress)
    return 0


def _add_eval(sub) -> None:
    p = sub.add_parser("eval-synthetic", help="accuracy/CE vs logistic regression and Bayes")
    p.add_argument("--model", default=None,
                   help="model folder (config.json + safetensors); default: the shipped module")
    p.add_argument("--ks", type=int, nargs="+", default=[8, 16, 32, 64, 128, 256])
    p.add_argument("--n-tasks", type=int, default=256)
    p.add_argument("--n-queries", type=int, default=64)
    p.add_argument("--active-dims", type=int, default=None, help="non-zero dims (default: all)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def cmd_eval(args) -> int:
    from tart.evaluate import evaluate_synthetic, format_table
    from tart.pretrained import load_reasoner
    from tart.train import resolve_device

    model = load_reasoner(args.model, device=resolve_device(args.device))
    rows = evaluate_synthetic(
        model, ks=tuple(args.ks), n_tasks=args.n_tasks, n_queries=args.n_queries,
        active_dims=args.active_dims, seed=args.seed, baselines=not args.no_baselines,
    )
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _add_export(sub) -> None:
    p = sub.add_parser("export-model", help="ship a trained run: weights, evaluation, model card")
    p.add_argument("--run", required=True, help="training output folder (tart train --out)")
    p.add_argument("--out", required=True, help="folder to write (e.g. src/tart/weights/default)")
    p.add_argument("--hardware", required=True, help="what it was trained on, for the card")
    p.add_argument("--n-tasks", type=int, default=256)
    p.add_argument("--n-queries", type=int, default=64)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--notes", default="", help="a paragraph for the top of the card")
    p.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    p.add_argument("--max-shard-mb", type=float, default=None,
                   help="split weights into files of at most this size (e.g. 15 for 16 MiB limits)")


def cmd_export(args) -> int:
    import torch

    from tart.pretrained import export_model

    result = export_model(
        args.run, args.out, args.hardware, n_tasks=args.n_tasks, n_queries=args.n_queries,
        seed=args.seed, notes=args.notes, dtype=getattr(torch, args.dtype),
        max_shard_mb=args.max_shard_mb,
    )
    print(f"wrote {args.out}: " + ", ".join(f"{k} sha256 {v}" for k, v in result["sha256"].items()))
    return 0


def _add_bench(sub) -> None:
    p = sub.add_parser("bench-train", help="our trainer vs a transformers GPT2Model reference")
    p.add_argument("--preset", default="tart", choices=sorted(PRESETS))
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--points", type=int, default=258, help="points per sequence (2 tokens each)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: by device)")
    p.add_argument("--compile", action="store_true", help="also torch.compile our model")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("bench-inference", help="shared-context vs per-query prediction")
    p.add_argument("--preset", default="tart", choices=sorted(PRESETS))
    p.add_argument("--ks", type=int, nargs="+", default=[32, 256])
    p.add_argument("--n-queries", type=int, default=1024)
    p.add_argument("--loop-queries", type=int, default=None,
                   help="queries timed in the per-query loop (default: by device); its rate is "
                        "queries/s, so a subset measures it")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")


def cmd_bench(args) -> int:
    from tart.bench import speed

    if args.command == "bench-train":
        result = speed.bench_train(
            args.preset, args.batch_size, args.points, args.steps, args.compile, args.device
        )
    else:
        result = speed.bench_inference(
            args.preset, tuple(args.ks), args.n_queries, args.loop_queries, args.device
        )
    print(json.dumps(result, indent=2) if args.json else speed.format_result(result))
    return 0


def _add_assets(sub) -> None:
    p = sub.add_parser("assets", help="install/list the offline models and data sets")
    asub = p.add_subparsers(dest="assets_command", required=True)
    inst = asub.add_parser("install", help="install assets (default: all); idempotent")
    inst.add_argument("names", nargs="*", metavar="NAME", help="assets to install (default: all)")
    inst.add_argument("--quiet", action="store_true", help="print nothing when everything is already there")
    asub.add_parser("list", help="each asset: installed or not, and where")


def cmd_assets(args) -> int:
    from tart import assets

    if args.assets_command == "list":
        width = max(map(len, assets.ASSETS))
        for name, what in assets.ASSETS.items():
            print(f"{name:<{width}}  {assets.describe(name)}\n{'':<{width}}  {what}")
        return 0
    names = args.names or list(assets.ASSETS)
    try:
        if args.quiet and all(assets.is_installed(n) for n in names):
            return 0
        assets.install(names)
    except assets.AssetError as e:
        print(f"tart assets: error: {e}", file=sys.stderr)
        return 1
    return 0


def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="TART vs in-context learning and probes on the shipped defaults")
    p.add_argument("--out", default="results/demo", help="folder for results.json/.md and the plot")
    p.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64, 128])
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--n-test", type=int, default=200, help="class-balanced test reviews")
    p.add_argument("--pool", type=int, default=800, help="training reviews the contexts come from")
    p.add_argument("--dataset", default="amazon_food")
    p.add_argument("--model", default="smollm2")


def cmd_demo(args) -> int:
    from tart.demo import run_demo

    run_demo(args.out, tuple(args.ks), tuple(args.seeds), args.n_test, args.pool, args.dataset, args.model)
    return 0


def _add_eval_grid(sub) -> None:
    from tart.bench.grid import DEFAULT_KS, DEFAULT_METHODS, METHODS

    p = sub.add_parser("eval", help="the evaluation grid: TART vs in-context learning, probes, "
                                    "fine-tuning (resumable)")
    p.add_argument("--datasets", nargs="+", default=["amazon_food"])
    p.add_argument("--embedders", nargs="+", default=["smollm2"])
    p.add_argument("--ks", type=int, nargs="+", default=list(DEFAULT_KS))
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=sorted(METHODS),
                   metavar="METHOD", help=f"default: {' '.join(DEFAULT_METHODS)}; available: "
                                          f"{', '.join(METHODS)}")
    p.add_argument("--out", default="results/grid", help="run folder (runs.jsonl, results.md, plots)")
    p.add_argument("--n-test", type=int, default=400, help="class-balanced test items per data set")
    p.add_argument("--pool", type=int, default=800, help="training items the contexts come from")
    p.add_argument("--max-k", nargs="+", default=[], metavar="METHOD=K",
                   help="largest k for a method (e.g. lora=32 tart-loo=128)")
    p.add_argument("--reasoner", default=None, help="reasoning module folder (default: the shipped one)")
    p.add_argument("--retry-skipped", action="store_true", help="recompute cells recorded as skipped")
    p.add_argument("--report-only", action="store_true", help="rebuild the reports from runs.jsonl")
    p.add_argument("--no-progress", action="store_true")


def cmd_eval_grid(args) -> int:
    from tart.bench.grid import run_grid, write_reports

    if args.report_only:
        print(f"wrote {write_reports(args.out)}")
        return 0
    max_k = {}
    for item in args.max_k:
        name, sep, k = item.partition("=")
        if not sep or not k.isdigit():
            raise ValueError(f"--max-k takes METHOD=K, got {item!r}")
        max_k[name] = int(k)
    run_grid(args.out, args.datasets, args.embedders, args.ks, args.seeds, args.methods,
             n_test=args.n_test, pool=args.pool, max_k=max_k, reasoner=args.reasoner,
             retry_skipped=args.retry_skipped, progress=not args.no_progress)
    print(f"wrote {args.out}/runs.jsonl, runs.csv, results.md and the plots")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="tart", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    _add_train(sub)
    _add_eval(sub)
    _add_export(sub)
    _add_bench(sub)
    _add_assets(sub)
    embed_bench.add_parser(sub)
    _add_demo(sub)
    _add_eval_grid(sub)
    args = parser.parse_args(argv)
    handlers = {"train": cmd_train, "eval-synthetic": cmd_eval, "export-model": cmd_export,
                "assets": cmd_assets, "bench-embed": embed_bench.run,
                "demo": cmd_demo, "eval": cmd_eval_grid}
    try:
        return handlers.get(args.command, cmd_bench)(args)
    except ValueError as e:  # bad input and bad checkpoints: a clear message, not a traceback
        print(f"tart {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
