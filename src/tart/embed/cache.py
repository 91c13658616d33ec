"""An on-disk embedding cache, so an evaluation grid embeds each text once per model.

One SQLite file per `embedder.cache_key` (which names the model, mode, truncation, pooling and
dtype) under `tart.assets.home()/embeddings/`. Rows are keyed by the sha256 of the raw text
(or of an array's dtype, shape and bytes, for audio clips and images).
SQLite transactions make concurrent writers and interrupted runs safe: a row is either stored
whole or not at all, and two processes computing the same text both insert-or-ignore.

An embedder with `cacheable = False` (the identity `features`) is called directly, with no file.

Context-dependent embeddings (vanilla, loo) depend on the whole context, so
`encode_with_context` results are stored as one entry keyed by the sha256 of (context items,
label words, query items): a rerun of the same evaluation is free, a new context is computed.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any, Sequence

import numpy as np


__all__ = ["CachedEmbedder"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS vec (h TEXT PRIMARY KEY, v BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS ctx (h TEXT PRIMARY KEY, k INTEGER NOT NULL, m INTEGER NOT NULL,
                                c BLOB NOT NULL, q BLOB NOT NULL);
"""


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


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
        self.path = self.cache_dir / f"{_sha(self.cache_key)[:20]}.sqlite"
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
        found: dict[str, np.ndarray] = {}
        with closing(self._connect()) as con:
            uniq = list(dict.fromkeys(keys))
            for i in range(0, len(uniq), 500):
                chunk = uniq[i: i + 500]
                rows = con.execute(f"SELECT h, v FROM vec WHERE h IN ({','.join('?' * len(chunk))})",
                                   chunk).fetchall()
                found.update((h, np.frombuffer(v, dtype=np.float32)) for h, v in rows)
            missing = {h: t for h, t in zip(keys, texts) if h not in found}
            if missing:
                vecs = self.embedder.encode(list(missing.values()), batch_size=batch_size,
                                            show_progress_bar=show_progress_bar)
                vecs = np.ascontiguousarray(vecs, dtype=np.float32)
                with con:  # one transaction: all rows or none
                    con.executemany("INSERT OR IGNORE INTO vec VALUES (?, ?)",
                                    [(h, v.tobytes()) for h, v in zip(missing, vecs)])
                found.update(zip(missing, vecs))
        self.misses += len(missing)
        self.hits += len(texts) - len(missing)
        dims = {v.shape[0] for v in found.values()}
        if len(dims) != 1:
            raise RuntimeError(f"embedding cache {self.path} holds vectors of sizes {sorted(dims)}")
        return np.stack([found[h] for h in keys])

    def encode_with_context(self, context_items: Sequence[str], context_label_words: Sequence[str],
                            query_items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        if not hasattr(self.embedder, "encode_with_context"):
            raise TypeError(f"{self.embedder!r} does not embed items in context")
        ctx, labels = list(context_items), list(context_label_words)
        queries = list(query_items)
        h = _sha(json.dumps([ctx, labels, queries], ensure_ascii=False))
        with closing(self._connect()) as con:
            row = con.execute("SELECT k, m, c, q FROM ctx WHERE h = ?", (h,)).fetchone()
            if row is not None:
                k, m, c, q = row
                self.hits += k + m
                return (np.frombuffer(c, np.float32).reshape(k, -1).copy(),
                        np.frombuffer(q, np.float32).reshape(m, -1).copy())
            c_KD, q_MD = self.embedder.encode_with_context(ctx, labels, queries)
            c_KD = np.ascontiguousarray(c_KD, np.float32)
            q_MD = np.ascontiguousarray(q_MD, np.float32)
            with con:
                con.execute("INSERT OR IGNORE INTO ctx VALUES (?, ?, ?, ?, ?)",
                            (h, len(c_KD), len(q_MD), c_KD.tobytes(), q_MD.tobytes()))
        self.misses += len(c_KD) + len(q_MD)
        return c_KD, q_MD
