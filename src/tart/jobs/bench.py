"""`tart bench-predict`: items/s of `tart predict` on this machine.

Two workloads, each fitted once with `tart fit`'s code: MiniLM on short texts (a CSV) and
MobileNetV2 on Fashion-MNIST images (a folder of PNG files). Each runs on the local engine (the
classifier loaded beforehand, so the figure is the steady rate) and, unless --no-ray, on a local
Ray with 1 and 2 actors (the whole job: starting the actors and loading the model in each
included). For the local engine it reports the share of the job's time spent outside the
embedder (reading, decoding, the reasoning module, writing; the issue's target: under 10%).
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

__all__ = ["run_bench", "short_texts"]

_GOOD = ["great", "lovely", "excellent", "tasty", "friendly", "perfect", "fresh", "superb"]
_BAD = ["awful", "bland", "rude", "stale", "terrible", "cold", "greasy", "dreadful"]
_NOUNS = ["food", "service", "coffee", "staff", "pizza", "soup", "room", "price", "dessert", "bread"]


def short_texts(n: int, seed: int = 0) -> tuple[list[str], list[int]]:
    """n short review-like texts (4-9 words) and their 0/1 sentiment."""
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for _ in range(n):
        y = int(rng.integers(2))
        words = (_GOOD if y else _BAD)
        k = int(rng.integers(1, 3))
        parts = [f"the {rng.choice(_NOUNS)} was {rng.choice(words)}" for _ in range(k)]
        texts.append(" and ".join(parts))
        labels.append(y)
    return texts, labels


def _local(model: Path, inputs: list[str], out: Path, chunk: int, reasoner: str = "tart2", threads: int = 1) -> dict:
    from tart.jobs.local import PredictJob, run_local
    from tart.jobs.predictor import Predictor

    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        t = time.perf_counter()
        predictor = Predictor(model)
        load = time.perf_counter() - t
        res = run_local(PredictJob(model, inputs, out, chunk_size=chunk, progress=False, overwrite=True),
                        predictor=predictor)
    finally:
        torch.set_num_threads(before)  # the caller's setting, not the benchmark's
    outside = 1.0 - res.embed_seconds / res.seconds
    return {"engine": "local", "reasoner": reasoner, "workers": 1, "torch_threads": _threads(), "items": res.rows,
            "seconds": round(res.seconds, 2), "items_per_s": round(res.rows / res.seconds, 1),
            "embed_seconds": round(res.embed_seconds, 2), "outside_embedder_share": round(outside, 4),
            "model_load_seconds": round(load, 2)}


def _ray(model: Path, inputs: list[str], out: Path, chunk: int, workers: int) -> dict:
    from tart.jobs.local import PredictJob
    from tart.jobs.ray_engine import run_ray

    res = run_ray(PredictJob(model, inputs, out, chunk_size=chunk, progress=False, overwrite=True,
                             workers=workers))
    return {"engine": "ray", "reasoner": "tart2", "workers": workers, "torch_threads_per_worker": 1, "items": res.rows,
            "seconds": round(res.seconds, 2), "items_per_s": round(res.rows / res.seconds, 1),
            "note": "whole job: actor start-up and model loading included"}


def _threads() -> int:
    import torch

    return torch.get_num_threads()


def _text_workload(root: Path, n: int, reasoner: str = "tart2") -> tuple[Path, list[str]]:
    import pandas as pd

    from tart.jobs.fit import fit_job

    texts, labels = short_texts(64, seed=1)
    pd.DataFrame({"text": texts, "label": labels}).to_csv(root / "train.csv", index=False)
    fit_job(root / "train.csv", root / f"text_model_{reasoner}", label_column="label", text_column="text",
            embedder="minilm", reasoner=reasoner, loo=False, overwrite=True)
    q, _ = short_texts(n, seed=2)
    pd.DataFrame({"id": np.arange(n), "text": q}).to_csv(root / "texts.csv", index=False)
    return root / f"text_model_{reasoner}", [str(root / "texts.csv")]


def _image_workload(root: Path, n: int, reasoner: str = "tart2") -> tuple[Path, list[str]]:
    from PIL import Image

    from tart.datasets import load_dataset
    from tart.jobs.fit import fit_job

    ds = load_dataset("fashion_mnist:sneaker-sandal")
    y = np.asarray(ds.train_labels)
    for name, cls in zip(ds.label_names, (0, 1)):
        (root / "img_train" / name).mkdir(parents=True, exist_ok=True)
        for j, i in enumerate(np.flatnonzero(y == cls)[:16]):
            Image.fromarray(ds.train_items[i]).save(root / "img_train" / name / f"{j}.png")
    fit_job(root / "img_train", root / "image_model", embedder="mobilenet-v2", reasoner=reasoner, loo=False)
    (root / "images").mkdir(exist_ok=True)
    items = list(ds.test_items) + list(ds.train_items)
    for i in range(n):
        Image.fromarray(items[i % len(items)]).save(root / "images" / f"{i:06d}.png")
    return root / "image_model", [str(root / "images")]


def run_bench(args) -> int:
    results = {"command": "tart " + shlex.join(getattr(args, "argv", None) or sys.argv[1:]),
               "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                           "python": platform.python_version()},
               "threads": args.threads, "workloads": {}}
    import torch

    results["machine"]["torch"] = torch.__version__
    results["machine"]["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    with tempfile.TemporaryDirectory(prefix="tart-bench-predict-") as tmp:
        root = Path(tmp)
        plans = []
        if args.texts:
            plans.append(("minilm_short_texts", _text_workload, args.texts, 512))
        if args.images:
            plans.append(("mobilenet_v2_images", _image_workload, args.images, 128))
        for name, make, n, chunk in plans:
            model, inputs = make(root, n)
            runs = [_local(model, inputs, root / f"{name}.parquet", chunk, threads=args.threads)]
            _log(name, runs[-1])
            if name == "minilm_short_texts":  # the faithful module: 8 members of a 12-layer transformer
                model2, _ = make(root, n, "tart")
                runs.append(_local(model2, inputs, root / f"{name}.tart.parquet", chunk, "tart", args.threads))
                _log(name, runs[-1])
            if not args.no_ray:
                from tart.jobs.ray_engine import connect

                ray = connect()
                for w in (1, 2):
                    runs.append(_ray(model, inputs, root / f"{name}.ray.parquet", chunk, w))
                    _log(name, runs[-1])
                ray.shutdown()
            results["workloads"][name] = {"items": n, "chunk_size": chunk, "runs": runs}
    if args.json:
        print(json.dumps(results, indent=2))
    if args.report:
        report = Path(args.report)
        report.parent.mkdir(parents=True, exist_ok=True)
        report.with_suffix(".json").write_text(json.dumps(results, indent=2) + "\n")
        report.write_text(markdown(results))
        print(f"wrote {report} and {report.with_suffix('.json')}", file=sys.stderr)
    return 0


def _log(name: str, run: dict) -> None:
    print(f"[bench-predict] {name}: {run['engine']} x{run['workers']} ({run['reasoner']}): {run['items_per_s']} items/s"
          + (f", {100 * run['outside_embedder_share']:.1f}% outside the embedder"
             if "outside_embedder_share" in run else ""), file=sys.stderr)


def markdown(results: dict) -> str:
    m = results["machine"]
    lines = [f"# `tart predict` throughput", "",
             f"Made by `{results['command']}` on {m['cpus']} CPUs ({m['platform']}, torch {m['torch']}"
             + (f", {m['cuda']}" if m.get("cuda") else ", no GPU") + ").", "",
             "| workload | items | engine | reasoner | workers | items/s | seconds | outside the embedder |",
             "|---|---|---|---|---|---|---|---|"]
    for name, w in results["workloads"].items():
        for r in w["runs"]:
            share = f"{100 * r['outside_embedder_share']:.1f}%" if "outside_embedder_share" in r else "-"
            lines.append(f"| {name} | {r['items']} | {r['engine']} | {r['reasoner']} | {r['workers']} | {r['items_per_s']} | "
                         f"{r['seconds']} | {share} |")
    lines += ["", "Local engine: the classifier loaded beforehand (steady rate), "
              f"{results.get('threads', 1)} torch thread(s): one worker's rate. Ray: a local Ray, one CPU and one torch thread per actor, the whole job "
              "(actor start-up and model loading included)."]
    return "\n".join(lines) + "\n"
