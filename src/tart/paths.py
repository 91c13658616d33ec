"""Where tart keeps its files (`home`) and a content identity of a file for cache keys
(`file_ident`). Both are re-exported by `tart.assets`; this module imports nothing of tart, so
every package (assets, embed, datasets) can use it without an import circle."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

__all__ = ["home", "file_ident"]


def home() -> Path:
    """The data/cache root: $TART_HOME, default ~/.cache/tart."""
    return Path(os.environ.get("TART_HOME") or Path.home() / ".cache" / "tart").expanduser()


def file_ident(path: Path, name: str | None = None) -> str:
    """A file's name (or `name`), size and a hash of its first and last MiB: a fast,
    content-based identity for cache keys that is the same on every machine."""
    size = path.stat().st_size
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as f:
        h.update(f.read(1 << 20))
        f.seek(max(0, size - (1 << 20)))
        h.update(f.read(1 << 20))
    return f"{name or path.name}-{size}-{h.hexdigest()[:10]}"
