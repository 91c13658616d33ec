"""`tart predict --engine ray`: the same job on Ray Data, resumable like the local engine's.

The driver claims the parts folder beside the output exactly as the local engine does
(`tart.jobs.local`: the same manifest and fingerprint, the engine not part of it) and reads the
rows of the chunks not finished yet (table rows or media file paths, not the media themselves)
into a Ray dataset; `map_batches` runs a pool of actors, each of which loads the saved classifier
and its embedder once (`tart.jobs.predictor.Predictor`) and labels each chunk in one call, reading
the files named in it. The labelled rows stream back to the driver in input order; as soon as
every row of a chunk is back, the driver writes that chunk's part file (and its error records) as
the local engine does. At the end the parts are assembled by the local engine's code, so the
output and `<output>.errors.jsonl` are the files the local engine writes. A Ray job that stops
(a crash, Ctrl-C, `kill -9` of the driver) is resumed by running the same command again, with
either engine: the finished chunks are skipped (Ray itself retries failed tasks and restarts
failed actors). The output path is the driver's: on a cluster give a path on shared storage.

The cluster is the one `RAY_ADDRESS` names (`ray job submit` sets it), else a Ray already
initialised in this process, else a local Ray started on the spot. Actors get one GPU each when
the cluster has GPUs, else one CPU each; `--workers` sets their number (default: one per GPU,
else one per 2 CPUs).
"""

from __future__ import annotations

import os
import time

import numpy as np

from tart.extras import require
from tart.jobs.files import JobError
from tart.jobs.local import (JobResult, PredictJob, Prepared, already_complete, chunks, claim, errors_path,
                             finish, finished_chunks, prepare, write_part)
from tart.jobs.predictor import chunk_output

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

    def __init__(self, model_dir: str, device: str | None, batch_size: int | None, threads: int,
                 chunk_size: int):
        import torch

        from tart.jobs.predictor import Predictor

        if threads > 0 and not torch.cuda.is_available():
            torch.set_num_threads(threads)
        self.predictor = Predictor(model_dir, device=device, batch_size=batch_size)
        self.chunk_size = chunk_size

    def __call__(self, batch):
        """Each chunk in the batch labelled in one call, as the local engine labels it."""
        import pandas as pd

        chunk = batch[_ROW].to_numpy() // self.chunk_size
        return pd.concat([self._label(batch[chunk == j]) for j in np.unique(chunk)], ignore_index=True)

    def _label(self, batch):
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
    """Run (or resume) a prediction job on Ray Data (see the module docstring)."""
    import pandas as pd

    t0 = time.perf_counter()
    prep = prepare(job)
    ident = prep.config["embedder"]
    if ident is None or ident.get("context_dependent"):
        raise JobError(f"{job.model}: `tart predict` labels texts, images and audio with an embedder "
                       "whose vectors do not depend on the context")
    parts = claim(prep)
    if parts is None:  # finished before; only the clean-up was left
        return already_complete(prep)
    done = finished_chunks(parts, prep.n_chunks)
    pending: dict[int, list] = {}  # chunk -> its ids: they stay on the driver
    frames = []  # the actors see global row numbers and values
    for j, chunk_ids, values in chunks(prep):
        if j not in done:
            first = j * job.chunk_size
            frames.append(pd.DataFrame({_ROW: np.arange(first, first + len(values)),
                                        "value": pd.Series(values, dtype=object)}))
            pending[j] = chunk_ids
    extra, empty_like = _label_on_ray(prep, parts, frames, pending) if pending else ({}, None)
    predicted, failed = finish(prep, parts, empty_like)
    errs = errors_path(job.output)
    return JobResult(job.output, errs if failed else None, prep.rows, predicted, failed,
                     time.perf_counter() - t0, resumed_chunks=len(done), extra=extra)


def _label_on_ray(prep: Prepared, parts, frames: list, pending: dict[int, list]):
    """Label the pending chunks on Ray, writing each one's part as soon as all its rows are back;
    (the run's facts for JobResult.extra, the first part's columns)."""
    import pandas as pd

    from tart.persist import saved_classes

    job, size = prep.job, prep.job.chunk_size
    classes = saved_classes(prep.config)
    ray = connect()
    import ray.data as rd

    rd.DataContext.get_current().execution_options.preserve_order = True
    n_actors, per_actor = plan_workers(ray.cluster_resources(), job.workers)
    threads = int(per_actor.get("num_cpus", 1)) if "num_gpus" not in per_actor else 0
    labelled = rd.from_pandas(frames).map_batches(
        _RayPredictor, batch_format="pandas", batch_size=size, concurrency=n_actors,
        fn_constructor_kwargs={"model_dir": str(job.model.resolve()), "device": job.device,
                               "batch_size": job.batch_size, "threads": threads, "chunk_size": size},
        **per_actor)
    from tqdm.auto import tqdm

    arrived: dict[int, list] = {}  # chunk -> its labelled rows so far
    empty_like = None
    todo = sum(map(len, pending.values()))
    bar = tqdm(total=prep.rows, initial=prep.rows - todo, unit="item", desc=f"tart predict (ray, {n_actors} "
               "workers)", disable=not job.progress, dynamic_ncols=True, smoothing=0.1)
    batches = iter(labelled.iter_batches(batch_format="pandas", batch_size=None))
    try:
        for batch in batches:
            bar.update(len(batch))
            for j, rows in batch.groupby(batch[_ROW].to_numpy() // size, sort=True):
                arrived.setdefault(j, []).append(rows)
                if sum(map(len, arrived[j])) < len(pending[j]):
                    continue
                rows = pd.concat(arrived.pop(j)).sort_values(_ROW, kind="stable")
                df = _write_chunk(parts, j, j * size, pending.pop(j), rows, classes)
                empty_like = df.iloc[:0] if empty_like is None else empty_like
    finally:
        batches.close()  # stops Ray's executor now, not when the generator is collected
        bar.close()
    if pending:
        raise RuntimeError(f"Ray returned no labels for chunks {sorted(pending)[:5]}: rerun the command")
    return {"workers": n_actors, **per_actor}, empty_like


def _write_chunk(parts, j: int, first: int, ids: list, rows, classes: np.ndarray):
    """Chunk j's part from its labelled rows (in row order), as the local engine writes it."""
    if len(rows) != len(ids) or (rows[_ROW].to_numpy() != first + np.arange(len(ids))).any():
        raise RuntimeError(f"chunk {j}: Ray returned {len(rows)} rows for its {len(ids)}, not each once")
    bad = rows["error"].notna().to_numpy()
    ok = np.flatnonzero(~bad)
    proba = rows[[f"p{c}" for c in range(len(classes))]].to_numpy(dtype=np.float64)[ok]
    errors = {int(i): e for i, e in zip(np.flatnonzero(bad), rows["error"].to_numpy()[bad])}
    df, records = chunk_output(classes, ids, ok.tolist(), proba, rows["label_index"].to_numpy()[ok], errors)
    write_part(parts, j, df, records)
    return df
