"""Fingerprints: the digest of the bytes, remembered by size and mtime, recomputed when they change."""

import hashlib
import json
import os

import pytest

from tart import fingerprint as fp


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("TART_HOME", str(tmp_path / "home"))


def test_file_digest_is_the_sha256_and_is_remembered(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights" * 1000)
    assert fp.file_digest(f) == hashlib.sha256(f.read_bytes()).hexdigest()
    memo = json.loads((tmp_path / "home" / "fingerprints.json").read_text())
    assert list(memo.values()) == [fp.file_digest(f)]


def test_changed_weights_change_the_digest_even_at_the_same_size(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"a" * 100)
    before = fp.file_digest(f)
    st = os.stat(f)
    f.write_bytes(b"b" * 100)  # retrained in place: same size
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    assert fp.file_digest(f) != before


def test_a_copy_that_keeps_the_old_mtime_is_still_rehashed(tmp_path):
    """cp -p / rsync -t of retrained weights: same path, size and mtime, other bytes."""
    f = tmp_path / "w.bin"
    f.write_bytes(b"a" * 100)
    before = fp.file_digest(f)
    st = os.stat(f)
    new = tmp_path / "new.bin"
    new.write_bytes(b"b" * 100)
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.replace(new, f)
    assert os.stat(f).st_mtime_ns == st.st_mtime_ns and os.stat(f).st_size == st.st_size
    assert fp.file_digest(f) == hashlib.sha256(b"b" * 100).hexdigest() != before


def test_folder_digest_covers_names_and_contents_not_hidden_files(tmp_path):
    d = tmp_path / "model"
    d.mkdir()
    (d / "config.json").write_text("{}")
    (d / "model.safetensors").write_bytes(b"x" * 10)
    base = fp.folder_digest(d)
    (d / ".cache").mkdir()
    (d / ".cache" / "lock").write_text("pid")
    assert fp.folder_digest(d) == base
    (d / "model.safetensors").rename(d / "other.safetensors")
    assert fp.folder_digest(d) != base
    with pytest.raises(ValueError, match="no files"):
        fp.folder_digest(tmp_path / "empty_dir_that_exists" if (tmp_path / "empty_dir_that_exists").mkdir() is None else d)


def test_a_damaged_memo_is_recomputed_not_trusted(tmp_path):
    f = tmp_path / "w.bin"
    f.write_bytes(b"abc")
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "fingerprints.json").write_text("{not json")
    assert fp.file_digest(f) == hashlib.sha256(b"abc").hexdigest()


def test_model_fingerprint_forms(tmp_path):
    f = tmp_path / "m.pth"
    f.write_bytes(b"1")
    assert fp.model_fingerprint(f) == "sha256:" + hashlib.sha256(b"1").hexdigest()
    assert fp.model_fingerprint("org/model", revision="abc123") == "hub:org/model@abc123"
