"""The `tart` command line: train, eval-synthetic, export-model, bench-*, assets."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from dataclasses import asdict
from pathlib import Path

from tart import families
from tart.bench import embed as embed_bench
from tart.bench import fit as fit_bench
from tart.jobs import cli as jobs_cli
from tart.train import RECIPES

# flags of `tart train` that map onto TrainConfig fields (None = not given on the command line)
_TRAIN_FIELDS = {
    "preset": str, "steps": int, "batch_size": int, "lr": float, "min_lr": float, "schedule": str,
    "warmup": int, "weight_decay": float, "grad_clip": float, "seed": int, "log_every": int,
    "ckpt_every": int, "keep_checkpoints": int, "time_limit_s": float, "amp": str, "device": str,
    "clock": str, "warmup_share": float,
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
    p.add_argument("--overwrite", action="store_true",
                   help="delete the run already in --out and start again (without --resume or "
                        "--overwrite, a folder that holds a run is an error)")
    p.add_argument("--recipe", default="tart", choices=sorted(RECIPES),
                   help="base settings: 'tart' (the original's full run), 'quick' (tiny model, "
                        "4-d tasks, minutes on a CPU), 'tart2-cpu' / 'tart2-gpu' / 'tart2-tiny' (the "
                        "set-layout module on the mixture prior); the flags below override them")
    p.add_argument("--compile", action="store_true", default=None, help="torch.compile the model")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    for name, typ in _TRAIN_FIELDS.items():
        choices = families.all_presets() if name == "preset" else None
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
    train(TrainConfig(**cfg), args.out, resume=args.resume, progress=not args.no_progress,
          overwrite=args.overwrite)
    return 0


def _add_eval(sub) -> None:
    p = sub.add_parser("eval-synthetic", help="accuracy/CE vs logistic regression and Bayes")
    p.add_argument("--model", default=None,
                   help="'tart' (default) or 'tart2' (the shipped modules), or a model folder")
    p.add_argument("--ks", type=int, nargs="+", default=None,
                   help="default: 8 16 32 64 128 256 (tart), 8 ... 512 (tart2)")
    p.add_argument("--components", nargs="+", default=None, metavar="NAME",
                   help="tart2: prior components to evaluate (default: all)")
    p.add_argument("--n-raw", type=int, default=64, help="tart2: raw feature width of the tasks")
    p.add_argument("--report", default=None, help="tart2: also write the tables to this Markdown file")
    p.add_argument("--stack", default="auto", type=jobs_cli.stack_value,
                   help="tart2: the classifier's linear member (auto, none, or pseudo-examples on the module)")
    p.add_argument("--n-tasks", type=int, default=256)
    p.add_argument("--n-queries", type=int, default=64)
    p.add_argument("--active-dims", type=int, default=None, help="non-zero dims (default: all)")
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--device", default="auto")
    p.add_argument("--no-baselines", action="store_true")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")


def cmd_eval(args) -> int:
    from tart.train import resolve_device
    from tart.weights import load_reasoner

    model = load_reasoner(args.model, device=resolve_device(args.device))
    return _EVAL_COMMANDS[families.for_module(model).name](model, args)


def _eval_tart(model, args) -> int:
    """`tart eval-synthetic` of a faithful module: the table against logistic regression and Bayes."""
    from tart.eval.synthetic import DEFAULT_KS, format_table

    rows = families.TART.evaluate(
        model, ks=tuple(args.ks or DEFAULT_KS), n_tasks=args.n_tasks, n_queries=args.n_queries,
        active_dims=args.active_dims, seed=args.seed, baselines=not args.no_baselines,
    )
    print(json.dumps(rows, indent=2) if args.json else format_table(rows))
    return 0


def _eval_set(model, args) -> int:
    """`tart eval-synthetic` of a tart-2 module: each prior component, and TART's own tasks."""
    from tart.assets import home
    from tart.eval import synthetic_set as es
    from tart.weights import load_reasoner

    ks = tuple(args.ks or es.SET_KS)
    comps = tuple(args.components or es.COMPONENTS)
    rows = families.TART2.evaluate(model, ks=ks, components=comps, n_tasks=args.n_tasks,
                                   n_queries=args.n_queries, n_raw=args.n_raw, seed=args.seed,
                                   baselines=() if args.no_baselines else es.BASELINES,
                                   cache_file=home() / "synthetic_baselines.json", stack=args.stack)
    tart_rows = es.evaluate_tart_tasks(model, load_reasoner("tart"), tuple(k for k in ks if k <= 256),
                                       n_tasks=256, n_queries=64, seed=args.seed, stack=args.stack)
    if args.json:
        print(json.dumps({"components": rows, "tart_tasks": tart_rows}, indent=2))
    else:
        print(es.format_components(rows) + "\n\n" + es.format_tart_tasks(tart_rows))
    if args.report:
        text = set_report_text("tart " + shlex.join(args.argv), args, rows, tart_rows)
        Path(args.report).parent.mkdir(parents=True, exist_ok=True)
        Path(args.report).write_text(text)
        Path(args.report).with_suffix(".json").write_text(json.dumps({"components": rows, "tart_tasks": tart_rows}, indent=1))
    return 0


def set_report_text(cmd: str, args, rows: list[dict], tart_rows: list[dict]) -> str:
    """The Markdown of `tart eval-synthetic --report` for a tart-2 module: what was measured, then
    each prior component's rows and TART's own tasks."""
    from tart.eval import synthetic_set as es

    what = ("the module as `TartClassifier` predicts with its linear member (`stack=\"auto\"`, the default)"
            if args.stack is not None else "the module alone (`TartClassifier(stack=None)`)")
    return (f"# tart-2 on synthetic tasks\n\nWritten by `{cmd}`.\n\ntart2 is {what}. Each task is drawn "
            "on its own (`MixturePrior.sample_each`: its own number of signal directions and frame). SE: "
            "the paired standard error, over the row's tasks, of tart2 minus the better of logistic "
            "regression (C by cross-validation) and shrinkage LDA.\n\n## Each prior "
            f"component ({args.n_tasks} tasks x {args.n_queries} queries per row, raw width {args.n_raw})\n\n"
            f"{es.format_components(rows)}\n\n## TART's own tasks (d = 16, alpha = 10; 256 tasks x 64 "
            f"queries, the draws of `tart eval-synthetic`)\n\n{es.format_tart_tasks(tart_rows)}\n")


# how `tart eval-synthetic` runs and prints each family's synthetic evaluation
_EVAL_COMMANDS = {families.TART.name: _eval_tart, families.TART2.name: _eval_set}


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

    from tart.export import export_model

    result = export_model(
        args.run, args.out, args.hardware, n_tasks=args.n_tasks, n_queries=args.n_queries,
        seed=args.seed, notes=args.notes, dtype=getattr(torch, args.dtype),
        max_shard_mb=args.max_shard_mb,
    )
    print(f"wrote {args.out}: " + ", ".join(f"{k} sha256 {v}" for k, v in result["sha256"].items()))
    return 0


def _add_family_options(p) -> None:
    """--family, and the preset of each family a benchmark runs (tart-2's is timed against tart's)."""
    p.add_argument("--family", default="tart", choices=sorted(families.FAMILIES))
    p.add_argument("--set-preset", default="cpu", choices=sorted(families.TART2.presets),
                   help="tart2's preset")
    p.add_argument("--preset", default="tart", choices=sorted(families.TART.presets))


def _add_bench(sub) -> None:
    p = sub.add_parser("bench-train", help="our trainer vs a transformers GPT2Model reference "
                                           "(--family tart2: a recipe's data path vs its module step)")
    _add_family_options(p)
    p.add_argument("--recipe", default="tart2-gpu", choices=sorted(n for n, r in RECIPES.items() if r.get("family") == "tart2"),
                   help="tart2: the training recipe whose batches and module are timed")
    p.add_argument("--recipe-preset", default=None, help="tart2: time this preset's module instead of the recipe's")
    p.add_argument("--vs-tart", action="store_true",
                   help="tart2: instead, the set layout's training step against the tart layout's")
    p.add_argument("--batch-size", type=int, default=None, help="default: 128 (tart), 32 (tart2 --vs-tart)")
    p.add_argument("--points", type=int, default=258, help="points per sequence (2 tokens each)")
    p.add_argument("--steps", type=int, default=None, help="timed steps (default: by device)")
    p.add_argument("--compile", action="store_true", help="also torch.compile our model")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")
    p = sub.add_parser("bench-inference", help="shared-context vs per-query prediction "
                                               "(--family tart2: tart2's queries/s vs tart's at k=256)")
    _add_family_options(p)
    p.add_argument("--ks", type=int, nargs="+", default=None, help="default: 32 256 (tart), 256 2048 (tart2)")
    p.add_argument("--n-queries", type=int, default=1024)
    p.add_argument("--loop-queries", type=int, default=None,
                   help="queries timed in the per-query loop (default: by device); its rate is "
                        "queries/s, so a subset measures it")
    p.add_argument("--device", default="auto")
    p.add_argument("--json", action="store_true")


def cmd_bench(args) -> int:
    from tart.bench import speed

    if args.command == "bench-train" and args.family == "tart2" and not args.vs_tart:
        from tart.bench import train_path

        result = train_path.bench_train_path(args.recipe, args.steps, device=args.device, preset=args.recipe_preset)
        print(json.dumps(result, indent=2) if args.json else train_path.format_train_path(result))
        return 0
    if args.command == "bench-train" and args.family == "tart2":
        result = speed.bench_train_set(args.set_preset, args.preset, args.batch_size or 32, args.points,
                                       steps=args.steps, device=args.device)
    elif args.command == "bench-train":
        result = speed.bench_train(
            args.preset, args.batch_size or 128, args.points, args.steps, args.compile, args.device
        )
    elif args.family == "tart2":
        result = speed.bench_inference_set(args.set_preset, args.preset, tuple(args.ks or (256, 2048)),
                                           args.n_queries, args.device)
    else:
        result = speed.bench_inference(
            args.preset, tuple(args.ks or (32, 256)), args.n_queries, args.loop_queries, args.device
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
    p.add_argument("--report", default=None, metavar="PATH",
                   help="also write the results (table, verdicts, this command) to this Markdown "
                        "file, the plot next to it (e.g. docs/demo.md)")


def cmd_demo(args) -> int:
    from tart.eval.demo import run_demo

    run_demo(args.out, tuple(args.ks), tuple(args.seeds), args.n_test, args.pool, args.dataset, args.model,
             report=args.report, command="tart " + shlex.join(args.argv))
    return 0


def _add_eval_grid(sub) -> None:
    from tart.eval.methods import DEFAULT_METHODS, METHODS
    from tart.eval.runner import DEFAULT_KS

    p = sub.add_parser("eval", help="the evaluation grid: TART vs in-context learning, probes, "
                                    "fine-tuning (resumable)")
    p.add_argument("--datasets", nargs="+", default=["amazon_food"])
    p.add_argument("--embedders", nargs="+", default=["smollm2"])
    p.add_argument("--ks", type=int, nargs="+", default=list(DEFAULT_KS),
                   help="context sizes: examples in all for binary data sets, examples per class for "
                        "multi-class ones (e.g. digits, vehicle: --ks 4 8 16 32)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--methods", nargs="+", default=list(DEFAULT_METHODS), choices=sorted(METHODS),
                   metavar="METHOD", help=f"default: {' '.join(DEFAULT_METHODS)}; available: "
                                          f"{', '.join(METHODS)}")
    p.add_argument("--out", default="results/grid", help="run folder (runs.jsonl, results.md, plots)")
    p.add_argument("--n-test", type=int, default=400, help="class-balanced test items per data set")
    p.add_argument("--pool", type=int, default=800, help="training items the contexts come from "
                                                           "(multi-class: class-balanced)")
    p.add_argument("--max-k", nargs="+", default=[], metavar="METHOD=K",
                   help="largest k for a method (e.g. lora=32 tart-loo=128)")
    p.add_argument("--reasoner", default=None, help="reasoning module folder (default: the shipped one)")
    p.add_argument("--reasoner2", default=None,
                   help="the tart2 method's module folder (default: the shipped tart-2)")
    p.add_argument("--retry-skipped", action="store_true", help="recompute cells recorded as skipped")
    p.add_argument("--redo", nargs="+", default=[], metavar="METHOD",
                   help="run these methods' cells again although runs.jsonl has them (e.g. after "
                        "retraining a module); the new rows replace the old ones in the reports")
    p.add_argument("--report-only", action="store_true", help="rebuild the reports from runs.jsonl")
    p.add_argument("--report", default=None, metavar="PATH",
                   help="also write results.md (naming this command) to this Markdown file, the plots "
                        "next to it (e.g. docs/<name>.md)")
    p.add_argument("--no-progress", action="store_true")


def cmd_eval_grid(args) -> int:
    from tart.eval.report import write_reports
    from tart.eval.runner import run_grid

    command = "tart " + shlex.join(args.argv)
    if args.report_only:
        print(f"wrote {write_reports(args.out, args.report, command)}" + (f" and {args.report}" if args.report else ""))
        return 0
    max_k = {}
    for item in args.max_k:
        name, sep, k = item.partition("=")
        if not sep or not k.isdigit():
            raise ValueError(f"--max-k takes METHOD=K, got {item!r}")
        max_k[name] = int(k)
    run_grid(args.out, args.datasets, args.embedders, args.ks, args.seeds, args.methods,
             n_test=args.n_test, pool=args.pool, max_k=max_k, reasoner=args.reasoner,
             retry_skipped=args.retry_skipped, progress=not args.no_progress, reasoner2=args.reasoner2,
             report=args.report, command=command, redo=args.redo)
    print(f"wrote {args.out}/runs.jsonl, runs.csv, results.md and the plots" + (f"; {args.report}" if args.report else ""))
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
    fit_bench.add_parser(sub)
    jobs_cli.add_parsers(sub)  # fit, predict, bench-predict
    _add_demo(sub)
    _add_eval_grid(sub)
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # as typed, for reports that name their command
    handlers = {"train": cmd_train, "eval-synthetic": cmd_eval, "export-model": cmd_export,
                "assets": cmd_assets, "bench-embed": embed_bench.run, "bench-fit": fit_bench.run,
                "demo": cmd_demo, "eval": cmd_eval_grid}
    handlers.update(jobs_cli.HANDLERS)
    try:
        return handlers.get(args.command, cmd_bench)(args)
    except ValueError as e:  # bad input and bad checkpoints: a clear message, not a traceback
        print(f"tart {args.command}: error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
