"""Readers of R's data files, with PyPI `rdata` (the `tart[data]` extra): plain `.rda` files
(mlbench's tables) and the lazy-load databases (`Rdata.rdx` + `Rdata.rdb`) R packages keep their
data in (modeldata's Amazon reviews)."""

from __future__ import annotations

import bz2
import gzip
import lzma
import warnings
import zlib
from pathlib import Path
from typing import Iterable

from tart.extras import require

__all__ = ["read_rda", "read_r_lazyload"]


def read_rda(path: str | Path) -> dict:
    """{name: converted object} of an `.rda` file (data frames become pandas DataFrames)."""
    rdata = require("rdata", "reading R data files")
    with warnings.catch_warnings():  # "Unknown encoding. Assumed ASCII."
        warnings.simplefilter("ignore", UserWarning)
        return rdata.read_rda(path)


def read_r_lazyload(rdx: str | Path, rdb: str | Path | None = None,
                    names: Iterable[str] | None = None) -> dict:
    """Read objects from an R lazy-load database (`Rdata.rdx` + `Rdata.rdb`) with `rdata`.

    The .rdx is a gzip RDS mapping each object name to (offset, length) in the .rdb; each .rdb
    entry is a 4-byte big-endian uncompressed length, a type byte (Z = LZMA, 2 = bzip2,
    1 = zlib, 0 = stored) and the serialized object. Returns {name: converted object}
    (data frames become pandas DataFrames).
    """
    rdata = require("rdata", "reading R data files")
    rdx = Path(rdx)
    rdb = Path(rdb) if rdb is not None else rdx.with_suffix(".rdb")
    index = rdata.conversion.convert(
        rdata.parser.parse_data(gzip.decompress(rdx.read_bytes()), extension=".rds"))
    variables = index["variables"]
    wanted = list(variables) if names is None else list(names)
    blob = rdb.read_bytes()
    out = {}
    for name in wanted:
        if name not in variables:
            raise KeyError(f"{name!r} is not in {rdx} (it holds: {', '.join(variables)})")
        offset, length = (int(v) for v in variables[name])
        entry = blob[offset:offset + length]
        kind, body = entry[4:5], entry[5:]
        if kind == b"Z":
            raw = _unlzma(body)
        elif kind == b"2":
            raw = bz2.decompress(body)
        elif kind == b"1":
            raw = zlib.decompress(body)
        elif kind == b"0":
            raw = body
        else:  # plain zlib entries have no type byte: the zlib header starts right after the length
            raw = zlib.decompress(entry[4:])
        with warnings.catch_warnings():  # tibbles: "missing constructor for tbl_df", read as data.frame
            warnings.simplefilter("ignore", UserWarning)
            out[name] = rdata.conversion.convert(rdata.parser.parse_data(raw, extension=".rds"))
    return out


def _unlzma(body: bytes) -> bytes:
    """R's type-Z entries: an xz stream (R_compress3), or raw LZMA2 as a fallback."""
    try:
        return lzma.decompress(body)
    except lzma.LZMAError:
        return lzma.decompress(body, format=lzma.FORMAT_RAW, filters=[{"id": lzma.FILTER_LZMA2}])
