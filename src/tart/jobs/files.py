"""The user's files for `tart fit` / `tart predict`: tables (CSV, JSON Lines, Parquet) and folders of
images or audio (one sub-folder per class for `tart fit`, the layout of torchvision's ImageFolder).

Tables are read in chunks (pandas for CSV / JSON Lines, pyarrow for Parquet), so a job's memory is
bounded by its chunk size. Every problem with the inputs is a `JobError` (a ValueError: the command
line prints it without a traceback and exits with status 2) naming the file and what is wrong.
"""

from __future__ import annotations

import glob
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from tart.extras import require

__all__ = ["JobError", "TABLE_FORMATS", "OUTPUT_FORMATS", "IMAGE_SUFFIXES", "AUDIO_SUFFIXES", "Inputs",
           "expand_inputs", "table_format", "table_columns", "count_rows", "iter_table", "read_table",
           "class_folder", "media_files", "output_format", "write_table_atomic", "Assembler"]

TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
                 ".parquet": "parquet", ".pq": "parquet"}
OUTPUT_FORMATS = {".csv": "csv", ".jsonl": "jsonl", ".parquet": "parquet"}
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".npy"}
AUDIO_SUFFIXES = {".wav", ".flac", ".mp3", ".ogg", ".m4a"}
_GLOB = set("*?[")


class JobError(ValueError):
    """Bad input to a fit or predict job (missing column, unknown file type, no rows, ...)."""


def _pandas():
    return require("pandas", "reading tables")


def _pyarrow():
    require("pyarrow.parquet", "reading and writing Parquet")
    import pyarrow as pa
    import pyarrow.parquet as pq

    return pa, pq


@dataclass
class Inputs:
    """What `tart predict --input` named: table files, or one folder of media files."""

    tables: list[Path] = field(default_factory=list)
    folder: Path | None = None
    media: list[Path] = field(default_factory=list)  # the folder's files, sorted by relative path

    def fingerprint_parts(self) -> list:
        files = self.tables if self.folder is None else self.media
        out = []
        for p in files:
            st = p.stat()
            out.append([str(p.resolve()), st.st_size, st.st_mtime_ns])
        return out


def _format(path: Path, formats: dict, what: str, known: str) -> str:
    fmt = formats.get(path.suffix.lower())
    if fmt is None:
        raise JobError(f"{path}: unknown {what} {path.suffix or '(no suffix)'!r}; {known}")
    return fmt


def table_format(path: Path) -> str:
    """The reader of an input table, by its suffix (a JobError naming the known ones)."""
    return _format(path, TABLE_FORMATS, "file type",
                   f"tables are {', '.join(sorted(TABLE_FORMATS))} (or give a folder of images or audio)")


def expand_inputs(specs: list[str | Path]) -> Inputs:
    """Files, globs (sorted) or one folder -> Inputs, each table's type checked."""
    if not specs:
        raise JobError("no inputs given")
    files: list[Path] = []
    folders: list[Path] = []
    for spec in specs:
        s = str(spec)
        if any(c in s for c in _GLOB) and not Path(s).exists():
            matches = sorted(glob.glob(os.path.expanduser(s), recursive=True))
            if not matches:
                raise JobError(f"the pattern {s!r} matches no files")
            files.extend(Path(m) for m in matches if Path(m).is_file())
            continue
        p = Path(s).expanduser()
        if p.is_dir():
            folders.append(p)
        elif p.is_file():
            files.append(p)
        else:
            raise JobError(f"no such file or folder: {s}")
    if folders and (files or len(folders) > 1):
        raise JobError("give either table files or one folder of images / audio, not both")
    if folders:
        media = media_files(folders[0])
        return Inputs(folder=folders[0], media=media)
    for f in files:
        table_format(f)
    return Inputs(tables=files)


def media_files(folder: Path) -> list[Path]:
    """The image and audio files under a folder (recursively), sorted by relative path."""
    known = IMAGE_SUFFIXES | AUDIO_SUFFIXES
    out = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in known
                  and not any(part.startswith(".") for part in p.relative_to(folder).parts)),
                 key=lambda p: p.relative_to(folder).as_posix())
    if not out:
        raise JobError(f"{folder} holds no image or audio files (known suffixes: "
                       f"{', '.join(sorted(known))})")
    return out


def class_folder(folder: Path) -> tuple[list[Path], list[str]]:
    """An ImageFolder-style tree: one sub-folder per class -> (files, labels), sorted."""
    classes = sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not classes:
        raise JobError(f"{folder} has no sub-folders: `tart fit` on a folder needs one sub-folder "
                       "per class (class_a/x.png, class_b/y.png, ...)")
    paths, labels = [], []
    for c in classes:
        try:
            files = media_files(c)
        except JobError:
            continue  # an empty class folder: it has no examples
        paths += files
        labels += [c.name] * len(files)
    if not paths:
        raise JobError(f"the class folders under {folder} hold no image or audio files")
    return paths, labels


def table_columns(path: Path) -> list[str]:
    """The column names of a table (reads its header or schema only)."""
    fmt = table_format(path)
    if fmt == "parquet":
        _, pq = _pyarrow()
        return list(pq.ParquetFile(path).schema_arrow.names)
    first = next(iter_table(path, 1), None)
    if first is None:
        pd = _pandas()
        try:
            return list(pd.read_csv(path, nrows=0, sep="\t" if fmt == "tsv" else ",").columns) if fmt != "jsonl" else []
        except Exception:  # noqa: BLE001 - an empty file has no columns
            return []
    return list(first.columns)


def count_rows(path: Path, column: str | None = None) -> int:
    """Rows of a table (Parquet from its metadata; others by a chunked read of one column)."""
    if table_format(path) == "parquet":
        _, pq = _pyarrow()
        return int(pq.ParquetFile(path).metadata.num_rows)
    return sum(len(df) for df in iter_table(path, 65536, [column] if column else None))


def iter_table(path: Path, chunk_rows: int, columns: list[str] | None = None) -> Iterator[Any]:
    """pandas DataFrames of at most chunk_rows rows, in file order."""
    pd = _pandas()
    fmt = table_format(path)
    try:
        if fmt == "parquet":
            _, pq = _pyarrow()
            for batch in pq.ParquetFile(path).iter_batches(batch_size=chunk_rows, columns=columns):
                yield batch.to_pandas()
        elif fmt in ("csv", "tsv"):
            try:
                reader = pd.read_csv(path, chunksize=chunk_rows, usecols=columns, sep="\t" if fmt == "tsv" else ",")
            except pd.errors.EmptyDataError:
                return
            with reader:
                yield from reader
        else:
            if path.stat().st_size == 0:
                return
            with pd.read_json(path, lines=True, chunksize=chunk_rows, dtype=False) as reader:
                for df in reader:
                    yield df[columns] if columns else df
    except (ValueError, OSError) as e:
        if isinstance(e, JobError):
            raise
        raise JobError(f"{path}: cannot read it as {fmt}: {e}") from None


def read_table(path: Path, columns: list[str]) -> Any:
    """A whole (small) table's columns, checked to exist."""
    have = table_columns(path)
    missing = [c for c in columns if c not in have]
    if missing:
        raise JobError(f"{path}: no column {', '.join(map(repr, missing))}; its columns are {have}")
    pd = _pandas()
    frames = list(iter_table(path, 65536, columns))
    if not frames or sum(len(f) for f in frames) == 0:
        raise JobError(f"{path} has no rows")
    return pd.concat(frames, ignore_index=True)


# ---- outputs ------------------------------------------------------------------------------------
def output_format(path: Path) -> str:
    """The writer of an output file, by its suffix (a JobError naming the known ones)."""
    return _format(path, OUTPUT_FORMATS, "output type", f"write {', '.join(sorted(OUTPUT_FORMATS))}")


def write_table_atomic(df, path: Path) -> None:
    """Write a DataFrame as Parquet to a temporary file, then rename it onto `path`."""
    pa, pq = _pyarrow()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    pq.write_table(pa.Table.from_pandas(df, preserve_index=False), tmp)
    _fsync(tmp)
    os.replace(tmp, path)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Assembler:
    """Streams DataFrames into one output file (Parquet, CSV or JSON Lines) at a temporary path
    beside it; `commit()` renames it onto the output (atomic), `abort()` removes it."""

    def __init__(self, path: Path):
        self.path, self.fmt = path, output_format(path)
        self.tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        self._writer = None
        self._file = None
        self._header = True

    def write(self, df) -> None:
        if self.fmt == "parquet":
            pa, pq = _pyarrow()
            table = pa.Table.from_pandas(df, preserve_index=False)
            if self._writer is None:
                self._writer = pq.ParquetWriter(self.tmp, table.schema)
            self._writer.write_table(table.cast(self._writer.schema))
            return
        if self._file is None:
            self._file = open(self.tmp, "w", newline="")
        if self.fmt == "csv":
            df.to_csv(self._file, index=False, header=self._header)
        else:
            for rec in df.to_dict(orient="records"):
                self._file.write(json.dumps(rec, default=_json_default) + "\n")
        self._header = False

    def commit(self, empty_like=None) -> None:
        if self._writer is None and self._file is None and empty_like is not None:
            self.write(empty_like)  # a job whose rows all failed still writes its columns
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()
        _fsync(self.tmp)
        os.replace(self.tmp, self.path)

    def abort(self) -> None:
        for h in (self._writer, self._file):
            if h is not None:
                h.close()
        self.tmp.unlink(missing_ok=True)


def _json_default(v):
    import numpy as np

    if isinstance(v, np.generic):
        return v.item()
    return str(v)
