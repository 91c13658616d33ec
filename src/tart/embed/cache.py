"""An on-disk embedding cache, so an evaluation grid embeds each text once per model.

One SQLite file per `embedder.cache_key` (which holds the fingerprint of the model's weights and
its mode, truncation, pooling and dtype) under `tart.assets.home()/embeddings/`. Rows are keyed
by the sha256 of the raw text (or of an array's dtype, shape and bytes, for audio clips and
images).
SQLite transactions make concurrent writers and interrupted runs safe: a row is either stored
whole or not at all, and two processes computing the same text both insert-or-ignore.
Every row also stores a checksum of its key and vector, checked on every read. A damaged file
(not a database, malformed pages, a checksum that does not match) is never trusted: the cache
warns, moves the file aside (`<name>.damaged`) and rebuilds it by computing the vectors again.

An embedder with `cacheable = False` (the identity `features`) is called directly, with no file.

Context-dependent embeddings (vanilla, loo) depend on the whole context, so
`encode_with_context` results are stored as one entry keyed by the sha256 of (context items,
label words, query items): a rerun of the same evaluation is free, a new context is computed.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import warnings
from contextlib import closing
from pathlib import Path
from typing import Any, Sequence

import numpy as np


__all__ = ["CachedEmbedder", "DamagedCacheWarning"]

_VERSION = 2  # v2: a checksum per row (files of other versions have other names)
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vec (h TEXT PRIMARY KEY, v BLOB NOT NULL, s BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ctx (h TEXT PRIMARY KEY, k INTEGER NOT NULL, m INTEGER NOT NULL,
                                c BLOB NOT NULL, q BLOB NOT NULL, s BLOB NOT NULL);
"""
_DAMAGE_CODES = {11, 26}  # SQLITE_CORRUPT, SQLITE_NOTADB


class DamagedCacheWarning(RuntimeWarning):
    """An embedding cache file was damaged; it was moved aside and rebuilt."""


class _Damaged(Exception):
    """A row whose checksum does not match its contents."""


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


def _check(*parts: Any) -> bytes:
    """The checksum stored beside a row: blake2b over its key and blobs."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        b = p if isinstance(p, bytes) else str(p).encode()
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.digest()


def _damage(e: BaseException) -> bool:
    return isinstance(e, _Damaged) or (isinstance(e, sqlite3.DatabaseError) and (
        getattr(e, "sqlite_errorcode", None) in _DAMAGE_CODES
        or "malformed" in str(e) or "not a database" in str(e)))


def _item_key(item: Any) -> str:
    """sha256 of a text, or of an array's dtype, shape and bytes (audio clips, images)."""
    if isinstance(item, str):
        return _sha(item)
    if isinstance(item, tuple) and len(item) == 2 and np.isscalar(item[1]):  # (audio, sample_rate)
        return _sha(f"sr={item[1]}:" + _item_key(item[0]))
    if isinstance(item, np.ndarray):
        a = np.ascontiguousarray(item)
        h = hashlib.sha256(f"array:{a.dtype.str}:{a.shape}:".encode())
        h.update(a.tobytes())
        return h.hexdigest()
    raise TypeError(f"cannot cache items of type {type(item).__name__}: texts or numpy arrays only")


class CachedEmbedder:
    """Wraps an embedder: `encode` computes only the texts not yet on disk, in one batch.

    cache_dir: default `tart.assets.home()/embeddings`. `hits` / `misses` count texts served
    from and added to the cache by this object. Other attributes are the wrapped embedder's.
    """

    def __init__(self, embedder: Any, cache_dir: str | Path | None = None):
        if isinstance(embedder, CachedEmbedder):
            embedder = embedder.embedder
        self.embedder = embedder
        self.cache_key: str = embedder.cache_key
        self.context_dependent: bool = bool(getattr(embedder, "context_dependent", False))
        self.cacheable: bool = bool(getattr(embedder, "cacheable", True))
        if cache_dir is None:
            from tart.assets import home

            cache_dir = home() / "embeddings"
        self.cache_dir = Path(cache_dir).expanduser()
        self.path = self.cache_dir / f"{_sha(f'v{_VERSION}|{self.cache_key}')[:20]}.sqlite"
        self.hits = self.misses = 0

    def __getattr__(self, name: str):
        if name == "embedder":  # not yet set (e.g. during unpickling)
            raise AttributeError(name)
        return getattr(self.embedder, name)

    def __repr__(self) -> str:
        return f"CachedEmbedder({self.embedder!r}, path={str(self.path)!r})"

    def _connect(self) -> sqlite3.Connection:
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(self.path, timeout=120)
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(_SCHEMA)
        con.execute("INSERT OR IGNORE INTO meta VALUES ('cache_key', ?)", (self.cache_key,))
        stored = con.execute("SELECT value FROM meta WHERE name='cache_key'").fetchone()[0]
        if stored != self.cache_key:  # a 20-hex-digit prefix collision: refuse, never mix
            raise RuntimeError(f"embedding cache {self.path} belongs to {stored!r}")
        con.commit()
        return con

    def _rebuild(self, error: BaseException) -> None:
        """Move a damaged file aside (its WAL and shared-memory files are dropped) and warn."""
        aside = self.path.with_name(self.path.name + ".damaged")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            pass
        for suffix in ("-wal", "-shm", "-journal"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        warnings.warn(f"embedding cache {self.path} is damaged ({error}): moved aside to {aside} "
                      "and rebuilt; its vectors are computed again", DamagedCacheWarning,
                      stacklevel=3)

    def _guarded(self, fn, *args):
        """fn(*args); on a damaged file, rebuild it and try once more."""
        try:
            return fn(*args)
        except Exception as e:
            if not _damage(e):
                raise
            self._rebuild(e)
            return fn(*args)

    def encode(self, items: Sequence[str], *, batch_size: int | None = None,
               show_progress_bar: bool | None = None) -> np.ndarray:
        if self.context_dependent:
            return self.embedder.encode(items)  # raises the embedder's own clear error
        if not self.cacheable:  # nothing worth storing (the identity): no file, no counting
            return self.embedder.encode(items, batch_size=batch_size,
                                        show_progress_bar=show_progress_bar)
        if isinstance(items, (str, bytes)):
            raise TypeError("items must be a list, not a single string")
        texts = list(items)
        if not texts:
            raise ValueError("no items to embed: items is empty")
        keys = [_item_key(t) for t in texts]
        found = self._guarded(self._lookup, keys)
        missing = {h: t for h, t in zip(keys, texts) if h not in found}
        if missing:
            vecs = self.embedder.encode(list(missing.values()), batch_size=batch_size,
                                        show_progress_bar=show_progress_bar)
            vecs = np.ascontiguousarray(vecs, dtype=np.float32)
            rows = [(h, v.tobytes(), _check(h, v.tobytes())) for h, v in zip(missing, vecs)]
            self._guarded(self._store, "INSERT OR IGNORE INTO vec VALUES (?, ?, ?)", rows)
            found.update(zip(missing, vecs))
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        dims = {v.shape[0] for v in found.values()}
        if len(dims) != 1:
            raise RuntimeError(f"embedding cache {self.path} holds vectors of sizes {sorted(dims)}")
        return np.stack([found[h] for h in keys])

    def _lookup(self, keys: list[str]) -> dict[str, np.ndarray]:
        found: dict[str, np.ndarray] = {}
        with closing(self._connect()) as con:
            uniq = list(dict.fromkeys(keys))
            for i in range(0, len(uniq), 500):
                chunk = uniq[i: i + 500]
                rows = con.execute(f"SELECT h, v, s FROM vec WHERE h IN "
                                   f"({','.join('?' * len(chunk))})", chunk).fetchall()
                for h, v, sum_ in rows:
                    if _check(h, v) != sum_:
                        raise _Damaged(f"the checksum of row {h[:12]} does not match")
                    found[h] = np.frombuffer(v, dtype=np.float32)
        return found

    def _store(self, sql: str, rows: list[tuple]) -> None:
        with closing(self._connect()) as con, con:  # one transaction: all rows or none
            con.executemany(sql, rows)

    def encode_with_context(self, context_items: Sequence[str], context_label_words: Sequence[str],
                            query_items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self.embedder, "encode_with_context"):
            raise TypeError(f"{self.embedder!r} does not embed items in context")
        ctx, labels = list(context_items), list(context_label_words)
        queries = list(query_items)
        h = _sha(json.dumps([ctx, labels, queries], ensure_ascii=False))
        row = self._guarded(self._lookup_ctx, h)
        if row is not None:
            k, m, c, q = row
            self.hits += k + m
            return (np.frombuffer(c, np.float32).reshape(k, -1).copy(),
                    np.frombuffer(q, np.float32).reshape(m, -1).copy())
        c_KD, q_MD = self.embedder.encode_with_context(ctx, labels, queries)
        c_KD = np.ascontiguousarray(c_KD, np.float32)
        q_MD = np.ascontiguousarray(q_MD, np.float32)
        k, m, c, q = len(c_KD), len(q_MD), c_KD.tobytes(), q_MD.tobytes()
        self._guarded(self._store, "INSERT OR IGNORE INTO ctx VALUES (?, ?, ?, ?, ?, ?)",
                      [(h, k, m, c, q, _check(h, k, m, c, q))])
        self.misses += k + m
        return c_KD, q_MD

    def _lookup_ctx(self, h: str) -> tuple | None:
        with closing(self._connect()) as con:
            row = con.execute("SELECT k, m, c, q, s FROM ctx WHERE h = ?", (h,)).fetchone()
        if row is not None and _check(h, *row[:4]) != row[4]:
            raise _Damaged(f"the checksum of context entry {h[:12]} does not match")
        return None if row is None else row[:4]
