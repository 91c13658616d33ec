"""The `tart fit`, `tart predict` and `tart bench-predict` commands (wired into `tart.cli`).

Exit status of `tart predict`: 0 every row was labelled; 3 the job finished but some rows could
not be read or embedded (listed with their reasons in `<output>.errors.jsonl`); 2 bad input (a
missing column, an unknown file type, no rows, an existing output, ...), with a one-line error.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

__all__ = ["add_parsers", "HANDLERS"]

PREDICT_HELP = """Label every row of the inputs with a saved classifier and write the predicted label and one
probability column per class, in input order. Runs in chunks (bounded memory) and resumes: rerun
the same command after a crash and the finished chunks are skipped. Rows that cannot be read or
embedded go to <output>.errors.jsonl. Exit status: 0 every row labelled; 3 some rows failed (see the
errors file); 2 bad input (missing column, unknown file type, no rows, an existing output, ...)."""


def _kv(items: list[str] | None) -> dict:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--embedder-option takes KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def stack_value(value: str):
    """--stack: "auto", "none" or a number."""
    if value in ("auto", "none"):
        return None if value == "none" else value
    try:
        return float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected auto, none or a number, got {value!r}") from None


def add_parsers(sub) -> None:
    p = sub.add_parser("fit", help="fit and save a classifier from a labelled table or class folders",
                       description="Fit a TartClassifier on labelled examples and save it (a folder "
                                   "for `tart predict` or TartClassifier.from_pretrained). Prints the "
                                   "classes, their counts and a leave-one-out accuracy estimate.")
    p.add_argument("--data", required=True, help="a CSV / JSON Lines / Parquet file, or a folder with one "
                                                 "sub-folder per class (images or audio)")
    p.add_argument("--text-column", help="the column of texts")
    p.add_argument("--path-column", help="the column of image or audio file paths (relative to the table)")
    p.add_argument("--label-column", help="the column of labels (str, int or bool)")
    p.add_argument("--embedder", default="minilm", help="minilm (default), smollm2, mobilenet-v2, "
                                                        "whisper-tiny-en, a model folder or hub id")
    p.add_argument("--embedder-option", action="append", metavar="KEY=VALUE",
                   help="an embedder option, e.g. mode=stream or batch_size=64 (repeatable)")
    p.add_argument("--reasoner", default=None, help="tart2 (the default) or tart (the faithful binary module)")
    p.add_argument("--n-estimators", type=int, default=8)
    p.add_argument("--stack", default="auto", type=stack_value,
                   help="tart-2's linear member (TartClassifier(stack=)): auto (the default), none (the "
                        "module alone) or a number of pseudo-examples on the module")
    p.add_argument("--device", default=None, help="auto (default), cpu, cuda, ...")
    p.add_argument("--no-loo", action="store_true", help="skip the leave-one-out estimate")
    p.add_argument("--out", required=True, help="the folder to save the classifier to")
    p.add_argument("--overwrite", action="store_true", help="replace a classifier saved in --out")

    p = sub.add_parser("predict", help="label tables or folders of images / audio with a saved classifier",
                       description=PREDICT_HELP)
    p.add_argument("--model", required=True, help="a folder written by `tart fit` or save_pretrained")
    p.add_argument("--input", required=True, nargs="+", help="table files or globs (CSV, JSON Lines, "
                                                              "Parquet), or one folder of media files")
    p.add_argument("--output", required=True, help="out.parquet, out.csv or out.jsonl")
    p.add_argument("--text-column", "--path-column", dest="column", default=None,
                   help="the column to label (default: the one `tart fit` used)")
    p.add_argument("--id-column", default=None, help="a column copied to the output to name each row "
                                                     "(default: the row number; a folder: the file path)")
    p.add_argument("--chunk-size", type=int, default=1024, help="rows per chunk (memory and resume unit)")
    p.add_argument("--batch-size", type=int, default=None, help="the embedder's batch size")
    p.add_argument("--engine", choices=("local", "ray"), default="local")
    p.add_argument("--workers", type=int, default=None, help="ray: actors (default: one per GPU, "
                                                             "else one per 2 CPUs)")
    p.add_argument("--device", default=None)
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.add_argument("--no-progress", action="store_true")

    p = sub.add_parser("bench-predict", help="items/s of `tart predict`: local engine and Ray with 1 and 2 workers")
    p.add_argument("--json", action="store_true", help="print the results as JSON")
    p.add_argument("--texts", type=int, default=2000, help="short texts to label (MiniLM)")
    p.add_argument("--images", type=int, default=256, help="images to label (MobileNetV2)")
    p.add_argument("--no-ray", action="store_true", help="local engine only")
    p.add_argument("--threads", type=int, default=1, help="torch threads of the local engine (default 1: "
                                                          "one worker's rate, as each Ray actor runs)")
    p.add_argument("--report", default=None, help="also write this markdown table and a .json beside it "
                                                  "(e.g. docs/bench_predict.md)")


def cmd_fit(args) -> int:
    from tart.extras import MissingExtra
    from tart.jobs.fit import fit_job

    try:
        report = fit_job(args.data, args.out, label_column=args.label_column, text_column=args.text_column,
                         path_column=args.path_column, embedder=args.embedder,
                         embedder_kwargs=_kv(args.embedder_option), reasoner=args.reasoner,
                         n_estimators=args.n_estimators, stack=args.stack, loo=not args.no_loo,
                         overwrite=args.overwrite,
                         device=args.device)
    except MissingExtra as e:
        print(f"tart fit: error: {e}", file=sys.stderr)
        return 2
    print("\n".join(report.lines()))
    return 0


def cmd_predict(args) -> int:
    from tart.extras import MissingExtra
    from tart.jobs.local import PredictJob

    job = PredictJob(model=Path(args.model), inputs=args.input, output=Path(args.output), column=args.column,
                     id_column=args.id_column, chunk_size=args.chunk_size, overwrite=args.overwrite,
                     progress=not args.no_progress, device=args.device, batch_size=args.batch_size,
                     engine=args.engine, workers=args.workers)
    try:
        if args.engine == "ray":
            from tart.jobs.ray_engine import run_ray

            result = run_ray(job)
        else:
            from tart.jobs.local import run_local

            result = run_local(job)
    except MissingExtra as e:
        print(f"tart predict: error: {e}", file=sys.stderr)
        return 2
    if result.predicted < 0:
        print(f"{result.output} was already complete for this job")
        return 0
    rate = result.rows / result.seconds if result.seconds else float("nan")
    print(f"wrote {result.predicted} predictions to {result.output} ({result.rows} rows, "
          f"{result.seconds:.1f} s, {rate:.1f} items/s"
          + (f", {result.resumed_chunks} chunks resumed" if result.resumed_chunks else "") + ")")
    if result.failed:
        print(f"{result.failed} rows could not be labelled: see {result.errors}", file=sys.stderr)
    return result.exit_status


def cmd_bench_predict(args) -> int:
    from tart.jobs.bench import run_bench

    return run_bench(args)


HANDLERS = {"fit": cmd_fit, "predict": cmd_predict, "bench-predict": cmd_bench_predict}
