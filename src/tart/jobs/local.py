"""`tart predict` on one machine: chunked, resumable, atomic.

The rows of the inputs (table files in the order given, or a folder's media files sorted by
relative path) are cut into chunks of `chunk_size` rows. Each finished chunk is written to a part
file in `.<output>.parts/` beside the output (Parquet, written to a temporary name and renamed, so a
part file is complete or absent), with its failed rows in a sibling `.errors.jsonl`. The folder's
`manifest.json` holds the job's fingerprint: the saved classifier's digest, the inputs (path,
size, modification time) and every option that changes the output (not the engine: the Ray engine,
`tart.jobs.ray_engine`, writes the same parts with the functions here, so a job started on one
engine may be finished on the other). Run the same command again after a crash or a kill and the
finished chunks are skipped; any other job finding the folder is refused (or, with `--overwrite`,
starts afresh). At the end the parts are streamed, in order, into a
temporary file beside the output, renamed onto it (the output path never holds a truncated file),
and the parts folder is removed. Rows that failed are listed in `<output>.errors.jsonl` with their
id and the reason; the command then exits with status 3 (`EXIT_ROW_ERRORS`).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterator

from tart.jobs import files
from tart.jobs.files import JobError

__all__ = ["PredictJob", "JobResult", "EXIT_ROW_ERRORS", "run_local", "prepare", "chunks", "claim",
           "already_complete", "finished_chunks", "write_part", "finish", "assemble", "errors_path",
           "parts_dir"]

EXIT_ROW_ERRORS = 3  # the job finished, but some rows could not be read or embedded
MANIFEST = "manifest.json"


@dataclass
class PredictJob:
    model: Path
    inputs: list[str]
    output: Path
    column: str | None = None  # the text (or file path) column of table inputs; default: the fit's
    id_column: str | None = None
    chunk_size: int = 1024
    overwrite: bool = False
    progress: bool = True
    device: str | None = None
    batch_size: int | None = None
    engine: str = "local"
    workers: int | None = None  # ray: actors (default: what the cluster's CPUs / GPUs hold)


@dataclass
class JobResult:
    output: Path
    errors: Path | None
    rows: int
    predicted: int
    failed: int
    seconds: float
    embed_seconds: float = 0.0
    resumed_chunks: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        return EXIT_ROW_ERRORS if self.failed else 0


def errors_path(output: Path) -> Path:
    return output.with_name(output.name + ".errors.jsonl")


def parts_dir(output: Path) -> Path:
    return output.with_name(f".{output.name}.parts")


@dataclass
class Prepared:
    job: PredictJob
    inputs: files.Inputs
    column: str | None
    id_name: str
    rows: int
    fingerprint: str
    config: dict

    @property
    def n_chunks(self) -> int:
        return -(-self.rows // self.job.chunk_size)


def prepare(job: PredictJob) -> Prepared:
    """Check everything that can be checked before any work: inputs, columns, output."""
    from tart import persist
    from tart.fingerprint import folder_digest

    if job.chunk_size < 1:
        raise JobError(f"--chunk-size must be >= 1, got {job.chunk_size}")
    config = persist.read_config(job.model)
    files.output_format(job.output)
    inputs = files.expand_inputs(job.inputs)
    fit_info = config.get("fit") or {}
    column, id_name = job.column, job.id_column
    if inputs.folder is not None:
        if job.id_column:
            raise JobError("--id-column applies to table inputs; a folder's rows are named by their path")
        id_name, rows = "path", len(inputs.media)
    else:
        column = column or fit_info.get("column")
        if column is None:
            raise JobError("name the column to label: --text-column (texts) or --path-column (files)")
        rows = 0
        for t in inputs.tables:
            have = files.table_columns(t)
            for need, flag in ((column, "--text-column/--path-column"), (job.id_column, "--id-column")):
                if need is not None and need not in have:
                    raise JobError(f"{t}: no column {need!r} ({flag}); its columns are {have}")
            rows += files.count_rows(t, column)
        id_name = job.id_column or "row"
    if rows == 0:
        raise JobError(f"the input has no rows: {', '.join(map(str, job.inputs))}")
    from tart.jobs.predictor import LABEL_COLUMN

    if id_name == LABEL_COLUMN or id_name.startswith("proba_"):
        raise JobError(f"the id column {id_name!r} clashes with the output's columns")
    digest = folder_digest(job.model)
    options = {k: v for k, v in asdict(job).items() if k in ("column", "id_column", "chunk_size")}
    options["column"], options["output"] = column, str(job.output.resolve())
    fp = hashlib.sha256(json.dumps({"model": digest, "inputs": inputs.fingerprint_parts(),
                                    "options": options}, sort_keys=True).encode()).hexdigest()
    return Prepared(job, inputs, column, id_name, rows, fp, config)


def chunks(prep: Prepared) -> Iterator[tuple[int, list, list]]:
    """(chunk index, ids, values) of exactly chunk_size rows each (the last may be shorter)."""
    size = prep.job.chunk_size
    if prep.inputs.folder is not None:
        folder = prep.inputs.folder
        media = prep.inputs.media
        for j in range(0, len(media), size):
            part = media[j:j + size]
            yield j // size, [p.relative_to(folder).as_posix() for p in part], [str(p) for p in part]
        return
    ids, values, index, row = [], [], 0, 0
    cols = [prep.column] + ([prep.job.id_column] if prep.job.id_column and prep.job.id_column != prep.column else [])
    for t in prep.inputs.tables:
        base = t.parent
        for df in files.iter_table(t, size, cols):
            vals = df[prep.column].tolist()
            if prep.config["embedder"]["modality"] in ("image", "audio"):  # relative to the table
                vals = [v if not isinstance(v, str) or Path(v).is_absolute() or Path(v).exists()
                        else str(base / v) for v in vals]
            idv = df[prep.job.id_column].tolist() if prep.job.id_column else list(range(row, row + len(df)))
            row += len(df)
            ids += idv
            values += vals
            while len(ids) >= size:
                yield index, ids[:size], values[:size]
                ids, values, index = ids[size:], values[size:], index + 1
    if ids:
        yield index, ids, values


# ---- the job folder -------------------------------------------------------------------------------
def claim(prep: Prepared) -> Path | None:
    """Make or reuse the parts folder; returns None when the output is already complete for this
    very job (a kill between the final rename and the clean-up: see `already_complete`)."""
    job, out = prep.job, prep.job.output
    parts = parts_dir(out)
    manifest = _read_manifest(parts)
    same = manifest is not None and manifest.get("fingerprint") == prep.fingerprint
    n_chunks = prep.n_chunks
    if out.exists() and not job.overwrite:
        # finished: marked so, or killed between the output's rename and the mark (every part is
        # there, and only this job's assembly writes the output while its parts folder exists)
        if same and (manifest.get("complete") or all(_part(parts, j).exists() for j in range(n_chunks))):
            return None
        raise JobError(f"{out} exists: pass --overwrite to replace it")
    if parts.exists() and not same:
        if not job.overwrite:
            raise JobError(f"{parts} holds an unfinished job with other inputs or options: rerun "
                           "that job's command to finish it, or pass --overwrite to start afresh")
        _remove(parts)
    if same and job.overwrite and out.exists() and manifest.get("complete"):
        _remove(parts)
        same = False
    parts.mkdir(parents=True, exist_ok=True)
    for stale in parts.glob(".*.tmp-*"):  # half-written parts of a killed run
        stale.unlink(missing_ok=True)
    for stale in out.parent.glob(f".{out.name}.tmp-*"):
        stale.unlink(missing_ok=True)
    for stale in out.parent.glob(f"{parts.name}.trash-*"):  # a clean-up that was killed
        shutil.rmtree(stale, ignore_errors=True)
    if not same:
        _write_manifest(parts, {"fingerprint": prep.fingerprint, "rows": prep.rows,
                                "chunk_size": job.chunk_size, "complete": False,
                                "model": str(job.model), "inputs": [str(i) for i in job.inputs]})
    return parts


def _remove(parts: Path) -> None:
    """Remove a parts folder: renamed away first (atomic), so a kill midway leaves no half folder."""
    if parts.exists():
        trash = parts.with_name(f"{parts.name}.trash-{os.getpid()}")
        os.replace(parts, trash)
        shutil.rmtree(trash, ignore_errors=True)


def _read_manifest(parts: Path) -> dict | None:
    try:
        return json.loads((parts / MANIFEST).read_text())
    except (OSError, ValueError):
        return None


def _write_manifest(parts: Path, manifest: dict) -> None:
    tmp = parts / f".{MANIFEST}.tmp-{os.getpid()}"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, parts / MANIFEST)


def _part(parts: Path, j: int) -> Path:
    return parts / f"part-{j:06d}.parquet"


def finished_chunks(parts: Path, n_chunks: int) -> set[int]:
    """The chunks whose part file is in the parts folder (written by either engine)."""
    return {j for j in range(n_chunks) if _part(parts, j).exists()}


def write_part(parts: Path, j: int, df, errors: list[dict]) -> None:
    """Write chunk j's part: its error records (if any), then its rows (the completion mark), each
    to a temporary name renamed into place. `df` has the output's columns with the id as "id"."""
    if errors:
        _write_errors(_part(parts, j).with_suffix(".errors.jsonl"), errors)
    files.write_table_atomic(df, _part(parts, j))  # last: the chunk's completion mark


def _write_errors(path: Path, records: list[dict]) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        for r in records:
            f.write(json.dumps(r, default=str) + "\n")
    os.replace(tmp, path)


def assemble(prep: Prepared, parts: Path, n_chunks: int, empty_like) -> tuple[int, int]:
    """Stream the part files into the output (atomic) and the errors file; (predicted, failed)."""
    import pandas as pd

    out = prep.job.output
    writer = files.Assembler(out)
    predicted = failed = 0
    err_records: list[str] = []
    try:
        for j in range(n_chunks):
            df = pd.read_parquet(_part(parts, j))
            df = df.rename(columns={"id": prep.id_name})
            predicted += len(df)
            if len(df):
                writer.write(df)
            ep = _part(parts, j).with_suffix(".errors.jsonl")
            if ep.exists():
                lines = [ln for ln in ep.read_text().splitlines() if ln.strip()]
                failed += len(lines)
                err_records += lines
        errs = errors_path(out)
        if err_records:
            tmp = errs.with_name(f".{errs.name}.tmp-{os.getpid()}")
            tmp.write_text("".join(ln + "\n" for ln in err_records))
            os.replace(tmp, errs)
        else:
            errs.unlink(missing_ok=True)
        writer.commit(empty_like=None if predicted else empty_like.rename(columns={"id": prep.id_name}))
    except BaseException:
        writer.abort()
        raise
    return predicted, failed


def finish(prep: Prepared, parts: Path, empty_like=None) -> tuple[int, int]:
    """Assemble every part into the output and the errors file, mark the job complete and remove
    the parts folder; (predicted, failed). `empty_like`: the output's columns when no row was
    labelled (default: those of part 0)."""
    if empty_like is None:
        import pandas as pd

        empty_like = pd.read_parquet(_part(parts, 0)).iloc[:0]
    predicted, failed = assemble(prep, parts, prep.n_chunks, empty_like)
    manifest = _read_manifest(parts) or {}
    _write_manifest(parts, {**manifest, "complete": True})
    _remove(parts)
    return predicted, failed


def already_complete(prep: Prepared) -> JobResult:
    """The result of a job `claim` found complete: only the parts folder was left to remove."""
    job = prep.job
    _remove(parts_dir(job.output))
    errs = errors_path(job.output)
    return JobResult(job.output, errs if errs.exists() else None, prep.rows, -1, -1, 0.0)


def run_local(job: PredictJob, predictor=None) -> JobResult:
    """Run (or resume) a prediction job on this machine; see the module docstring."""
    from tart.jobs.predictor import Predictor

    t0 = time.perf_counter()
    prep = prepare(job)
    parts = claim(prep)
    if parts is None:  # finished before; only the clean-up was left
        return already_complete(prep)
    predictor = predictor or Predictor(job.model, device=job.device, batch_size=job.batch_size)
    done_rows = resumed = 0
    done = finished_chunks(parts, prep.n_chunks)
    from tqdm.auto import tqdm

    bar = tqdm(total=prep.rows, unit="item", desc="tart predict", disable=not job.progress,
               dynamic_ncols=True, smoothing=0.1)
    empty_like = None
    try:
        for j, ids, values in chunks(prep):
            if j in done:
                resumed += 1
                bar.update(len(ids))
                continue
            moved = [0]

            def progress(n, moved=moved):
                moved[0] += n
                bar.update(n)

            predictor.on_progress = progress
            df, errors = predictor.predict(ids, values)
            predictor.on_progress = None
            if empty_like is None:
                empty_like = df.iloc[:0]
            write_part(parts, j, df, errors)
            bar.update(len(ids) - moved[0])  # rows that failed before embedding
            done_rows += len(ids)
    finally:
        bar.close()
    predicted, failed = finish(prep, parts, empty_like)  # none: every chunk was done before
    return JobResult(job.output, errors_path(job.output) if failed else None, prep.rows, predicted,
                     failed, time.perf_counter() - t0, predictor.embed_seconds, resumed,
                     {"predictor_seconds": predictor.total_seconds})
