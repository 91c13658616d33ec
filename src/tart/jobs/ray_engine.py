"""`tart predict --engine ray`: the same job on Ray Data.

The driver reads the inputs in chunks (as the local engine does; table rows or media file paths,
not the media themselves) into a Ray dataset; `map_batches` runs a pool of actors, each of which
loads the saved classifier and its embedder once (`tart.jobs.predictor.Predictor`) and labels
batches of `chunk_size` rows, reading the files named in them; the labelled rows stream back to
the driver in input order and are written to the output the way the local engine writes it (a
temporary file renamed onto the output, the failed rows in `<output>.errors.jsonl`). The output
path is the driver's: on a cluster give a path on shared storage.

The cluster is the one `RAY_ADDRESS` names (`ray job submit` sets it), else a Ray already
initialised in this process, else a local Ray started on the spot. Actors get one GPU each when
the cluster has GPUs, else one CPU each; `--workers` sets their number (default: one per GPU,
else one per 2 CPUs). Resuming is the local engine's feature: a Ray job that stops is rerun whole
(Ray itself retries failed tasks and restarts failed actors).
"""

from __future__ import annotations

import os
import time
from typing import Any

import numpy as np

from tart.extras import require
from tart.jobs import files
from tart.jobs.files import JobError
from tart.jobs.local import JobResult, PredictJob, errors_path, prepare, chunks

__all__ = ["run_ray", "connect", "plan_workers"]

_ROW = "_row"


def connect():
    """Ray, initialised: the cluster in RAY_ADDRESS, the one this process joined, or a local one."""
    ray = require("ray", "tart predict --engine ray")
    require("ray.data", "tart predict --engine ray")
    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS")
        ray.init(address=address or None, ignore_reinit_error=True, log_to_driver=False,
                 include_dashboard=False)
    return ray


def plan_workers(resources: dict, workers: int | None) -> tuple[int, dict]:
    """(actors, resources per actor) for a cluster's resources: a GPU each when there are GPUs."""
    gpus = int(resources.get("GPU", 0))
    cpus = int(resources.get("CPU", 1))
    if gpus:
        n = workers or gpus
        return n, {"num_gpus": 1, "num_cpus": max(1, min(4, cpus // max(n, 1)))}
    n = workers or max(1, cpus // 2)
    return n, {"num_cpus": 1}


class _RayPredictor:
    """One actor: loads the classifier once, labels pandas batches of (_row, value)."""

    def __init__(self, model_dir: str, device: str | None, batch_size: int | None, threads: int):
        import torch

        from tart.jobs.predictor import Predictor

        if threads > 0 and not torch.cuda.is_available():
            torch.set_num_threads(threads)
        self.predictor = Predictor(model_dir, device=device, batch_size=batch_size)

    def __call__(self, batch):
        import pandas as pd

        ok, proba, index, errors = self.predictor.label(batch["value"].tolist())
        n, L = len(batch), len(self.predictor.classes)
        label = np.full(n, -1, dtype=np.int64)
        full = np.full((n, L), np.nan)
        label[ok], full[ok] = index, proba
        out = pd.DataFrame({_ROW: batch[_ROW].to_numpy(), "label_index": label,
                            "error": pd.Series([errors.get(p) for p in range(n)], dtype=object)})
        for c in range(L):
            out[f"p{c}"] = full[:, c]
        return out


def run_ray(job: PredictJob) -> JobResult:
    """Run a prediction job on Ray Data (see the module docstring)."""
    import json

    import pandas as pd

    from tart.jobs.predictor import output_frame

    t0 = time.perf_counter()
    job.engine = "ray"
    prep = prepare(job)
    out = job.output
    if out.exists() and not job.overwrite:
        raise JobError(f"{out} exists: pass --overwrite to replace it")
    ident = prep.config["embedder"]
    if ident is None or ident.get("context_dependent"):
        raise JobError(f"{job.model}: `tart predict` labels texts, images and audio with an embedder "
                       "whose vectors do not depend on the context")
    from tart.persist import saved_classes

    classes = saved_classes(prep.config)
    ray = connect()
    import ray.data as rd

    rd.DataContext.get_current().execution_options.preserve_order = True
    n_actors, per_actor = plan_workers(ray.cluster_resources(), job.workers)
    threads = int(per_actor.get("num_cpus", 1)) if "num_gpus" not in per_actor else 0
    ids: list = []  # the ids stay on the driver; the actors see row numbers and values
    frames = []
    for _, chunk_ids, values in chunks(prep):
        frames.append(pd.DataFrame({_ROW: np.arange(len(ids), len(ids) + len(values)),
                                    "value": pd.Series(values, dtype=object)}))
        ids += chunk_ids
    labelled = rd.from_pandas(frames).map_batches(
        _RayPredictor, batch_format="pandas", batch_size=job.chunk_size, concurrency=n_actors,
        fn_constructor_kwargs={"model_dir": str(job.model.resolve()), "device": job.device,
                               "batch_size": job.batch_size, "threads": threads},
        **per_actor)
    writer = files.Assembler(out)
    errs = errors_path(out)
    errs_tmp = errs.with_name(f".{errs.name}.tmp-{os.getpid()}")
    predicted = failed = 0
    try:
        with open(errs_tmp, "w") as ef:
            for batch in labelled.iter_batches(batch_format="pandas", batch_size=None):
                batch = batch.sort_values(_ROW, kind="stable")
                bad = batch["error"].notna().to_numpy()
                for r, e in zip(batch[_ROW].to_numpy()[bad].tolist(), batch["error"][bad].tolist()):
                    ef.write(json.dumps({"id": _plain(ids[r]), "error": e}, default=str) + "\n")
                good = batch[~bad]
                if len(good):
                    proba = good[[f"p{c}" for c in range(len(classes))]].to_numpy(dtype=np.float64)
                    writer.write(output_frame(classes, [ids[r] for r in good[_ROW].tolist()], proba,
                                              good["label_index"].to_numpy(), prep.id_name))
                predicted += int(len(good))
                failed += int(bad.sum())
        if not predicted:
            writer.write(output_frame(classes, [], np.zeros((0, len(classes))), np.zeros(0, np.int64), prep.id_name))
        writer.commit()
    except BaseException:
        writer.abort()
        errs_tmp.unlink(missing_ok=True)
        raise
    if failed:
        os.replace(errs_tmp, errs)
    else:
        errs_tmp.unlink(missing_ok=True)
        errs.unlink(missing_ok=True)
    return JobResult(out, errs if failed else None, prep.rows, predicted, failed,
                     time.perf_counter() - t0, extra={"workers": n_actors, **per_actor})


def _plain(v: Any) -> Any:
    return v.item() if isinstance(v, np.generic) else v
