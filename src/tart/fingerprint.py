"""Content fingerprints of model files: the sha256 of what is actually loaded.

Cache keys and saved artefacts that depend on a model carry its fingerprint, so a model folder
retrained in place, or a hub model that moved, never serves vectors computed with other weights.
A file's digest is computed once and remembered in `TART_HOME/fingerprints.json` under its
resolved path, size, modification and change times and inode, so later calls cost a `stat`.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

from tart.paths import home

__all__ = ["file_digest", "folder_digest", "model_fingerprint"]

_CHUNK = 1 << 22
_SKIP = (".", "__pycache__")  # hidden files (.cache, .git, locks) and byte code are not the model


def _store() -> Path:
    return home() / "fingerprints.json"


def _load() -> dict:
    try:
        return json.loads(_store().read_text())
    except (OSError, ValueError):  # missing or damaged: recompute, never trust a broken record
        return {}


def _save(memo: dict) -> None:
    path = _store()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".fingerprints-")
        with os.fdopen(fd, "w") as f:
            json.dump(memo, f)
        os.replace(tmp, path)  # atomic: readers see the old or the new record, never half of one
    except OSError:
        pass  # a read-only home only costs recomputing next time


def file_digest(path: str | Path) -> str:
    """sha256 hex digest of a file's bytes (memoised by resolved path, size, mtime, ctime, inode)."""
    p = Path(path).resolve()
    st = p.stat()
    # ctime and inode too: a copy that keeps the old mtime (cp -p, rsync -t) still changes them
    key = f"{p}|{st.st_size}|{st.st_mtime_ns}|{st.st_ctime_ns}|{st.st_ino}"
    memo = _load()
    if key in memo:
        return memo[key]
    h = hashlib.sha256()
    with open(p, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    memo = _load()  # another process may have added entries meanwhile
    memo[key] = h.hexdigest()
    _save(memo)
    return memo[key]


def _files(folder: Path) -> list[Path]:
    out = []
    for p in sorted(folder.rglob("*")):
        rel = p.relative_to(folder).parts
        if p.is_file() and not any(part.startswith(_SKIP) for part in rel):
            out.append(p)
    return out


def folder_digest(folder: str | Path, patterns: tuple[str, ...] | None = None) -> str:
    """sha256 over the (relative path, file digest) of every file in a folder, hidden ones aside
    (with `patterns`, globs: only the files whose name matches one)."""
    root = Path(folder)
    files = [p for p in _files(root) if patterns is None or any(p.match(g) for g in patterns)]
    if not files:
        raise ValueError(f"{root} holds no files to fingerprint")
    h = hashlib.sha256()
    for p in files:
        h.update(f"{p.relative_to(root).as_posix()}\0{file_digest(p)}\n".encode())
    return h.hexdigest()


def model_fingerprint(name_or_path: str | Path, revision: str | None = None) -> str:
    """The fingerprint of a model: 'sha256:<hex>' of a local file or folder, else 'hub:<id>@<rev>'.

    A hub id is identified by the revision it resolves to (a commit hash when known); pass
    `revision` when the caller resolved it already (e.g. `model.config._commit_hash`).
    """
    p = Path(name_or_path).expanduser()
    if p.is_file():
        return "sha256:" + file_digest(p)
    if p.is_dir():
        return "sha256:" + folder_digest(p)
    return f"hub:{name_or_path}@{revision or 'unresolved'}"
