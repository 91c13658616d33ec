"""Faults of the embedding cache: a writer killed mid-write, a damaged database file.

A process SIGKILLed while it writes vectors loses only its unfinished transaction: the rows it
committed before stay, the file stays consistent, and a rerun gives the vectors of a clean run.
A damaged file (garbage, truncated, bytes changed inside a stored vector) is moved aside and
rebuilt with a warning; it never yields a wrong vector.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import signal
import sqlite3
import time

import numpy as np
import pytest

from tart.embed.cache import CachedEmbedder, DamagedCacheWarning

D = 64
TEXTS = [f"review number {i}: {'great' if i % 3 else 'awful'} coffee" for i in range(20_000)]
FIRST = 200  # committed before the big write


class HashEmbedder:
    """Deterministic vectors from each text's sha256; `on_return` runs just before returning."""

    cache_key, context_dependent = "hash-embedder-v1", False

    def __init__(self, on_return=None):
        self.on_return, self.seen = on_return, 0

    def encode(self, items, **kw):
        self.seen += len(items)
        out = np.stack([np.frombuffer(hashlib.sha256(t.encode()).digest() * (D // 32), np.uint8)
                        for t in items]).astype(np.float32) / 255.0
        if self.on_return is not None:
            self.on_return(len(items))
        return out

    def encode_with_context(self, ctx, labels, queries):
        return self.encode(list(ctx)), self.encode(list(queries)) if queries else np.zeros((0, D))


def _writer(cache_dir, at_row, reached):
    """The killed process: commits FIRST vectors, then writes all the others in one transaction.
    `reached` is set when the big write's INSERT `at_row` starts (0: when the vectors are computed,
    before the transaction); the writer then stalls there, so the kill lands at that point."""
    inserts = 0

    def trace(sql: str) -> None:
        nonlocal inserts
        if sql.startswith("INSERT OR IGNORE INTO vec"):
            inserts += 1
            if at_row and inserts == FIRST + at_row:
                reached.set()
                time.sleep(60)

    class Traced(CachedEmbedder):
        def _connect(self):
            con = super()._connect()
            con.set_trace_callback(trace)
            return con

    cached = Traced(HashEmbedder(), cache_dir=cache_dir)
    cached.encode(TEXTS[:FIRST])
    if not at_row:
        cached.embedder.on_return = lambda n: (reached.set(), time.sleep(60))
    cached.encode(TEXTS)
    os._exit(0)


def _rows(path) -> int:
    with sqlite3.connect(path) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        return con.execute("SELECT count(*) FROM vec").fetchone()[0]


@pytest.mark.subprocess
@pytest.mark.parametrize("at_row", [0, 1, 10_000, len(TEXTS) - FIRST - 1])
def test_sigkill_during_a_cache_write_loses_nothing_committed(tmp_path, at_row):
    clean = HashEmbedder().encode(TEXTS)
    ctx = multiprocessing.get_context("fork")  # the child inherits the imports: no start-up cost
    reached = ctx.Event()
    proc = ctx.Process(target=_writer, args=(tmp_path, at_row, reached))
    proc.start()
    assert reached.wait(60), "the writer never reached the point where it is killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(30)
    assert proc.exitcode == -signal.SIGKILL
    path = next(tmp_path.glob("*.sqlite"))
    assert _rows(path) == FIRST  # consistent, the committed rows kept, the unfinished ones absent
    rerun = CachedEmbedder(HashEmbedder(), cache_dir=tmp_path)
    np.testing.assert_array_equal(rerun.encode(TEXTS), clean)  # the vectors of a clean run
    assert rerun.hits == FIRST and rerun.embedder.seen == len(TEXTS) - FIRST  # nothing lost
    assert _rows(path) == len(TEXTS)


def _vector_offset(blob: bytes, vec: np.ndarray) -> int:
    at = blob.find(vec.astype(np.float32).tobytes())
    assert at > 0
    return at


@pytest.mark.parametrize("damage", ["garbage-header", "truncated-half", "truncated-page",
                                    "bytes-in-a-vector", "empty"])
def test_a_damaged_cache_file_is_rebuilt_never_wrong(tmp_path, damage):
    texts = TEXTS[:3000]
    clean = HashEmbedder().encode(texts)
    CachedEmbedder(HashEmbedder(), cache_dir=tmp_path).encode(texts)
    path = next(tmp_path.glob("*.sqlite"))
    blob = bytearray(path.read_bytes())
    if damage == "garbage-header":
        blob[:100] = os.urandom(100)
    elif damage == "truncated-half":
        blob = blob[: len(blob) // 2]
    elif damage == "truncated-page":
        blob = blob[:-4096]
    elif damage == "bytes-in-a-vector":  # a change SQLite cannot see: only the row's checksum can
        at = _vector_offset(bytes(blob), clean[1234])
        blob[at: at + 8] = np.float32([7.0, -7.0]).tobytes()
    else:
        blob = b""
    path.write_bytes(bytes(blob))
    again = CachedEmbedder(HashEmbedder(), cache_dir=tmp_path)
    if damage == "empty":  # an empty file is an empty database: every vector is computed
        out = again.encode(texts)
    else:
        with pytest.warns(DamagedCacheWarning, match="damaged.*rebuilt"):
            out = again.encode(texts)
        assert path.with_name(path.name + ".damaged").is_file()  # kept aside for inspection
    np.testing.assert_array_equal(out, clean)
    assert again.embedder.seen == len(texts)
    third = CachedEmbedder(HashEmbedder(), cache_dir=tmp_path)  # the rebuilt file serves
    np.testing.assert_array_equal(third.encode(texts), clean)
    assert third.hits == len(texts) and third.embedder.seen == 0


def test_a_damaged_context_entry_is_rebuilt(tmp_path):
    cached = CachedEmbedder(HashEmbedder(), cache_dir=tmp_path)
    c, q = cached.encode_with_context(TEXTS[:8], ["yes", "no"] * 4, TEXTS[8:10])
    path = next(tmp_path.glob("*.sqlite"))
    blob = bytearray(path.read_bytes())
    at = _vector_offset(bytes(blob), q[1])
    blob[at: at + 4] = np.float32([9.0]).tobytes()
    path.write_bytes(bytes(blob))
    again = CachedEmbedder(HashEmbedder(), cache_dir=tmp_path)
    with pytest.warns(DamagedCacheWarning):
        c2, q2 = again.encode_with_context(TEXTS[:8], ["yes", "no"] * 4, TEXTS[8:10])
    np.testing.assert_array_equal(c2, c)
    np.testing.assert_array_equal(q2, q)
