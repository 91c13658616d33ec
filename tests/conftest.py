import gzip

import numpy as np
import pytest
import torch

from tart.reasoner import Reasoner, tart_preset
from tart.priors_tart import LogisticPrior


def tiny_set_reasoner():
    """A small tart-2 module (8 dims, 4 classes) with perturbed weights, so it is not near chance
    by symmetry; the same one for every caller (seeded)."""
    from tart.set_reasoner import SetReasoner, SetReasonerConfig

    torch.manual_seed(0)
    m = SetReasoner(SetReasonerConfig(n_dims=8, n_classes=4, n_embd=32, n_layer=2, n_head=4)).eval()
    for p in m.parameters():
        p.data.add_(0.2 * torch.randn_like(p))
    return m


@pytest.fixture
def tiny_model() -> Reasoner:
    torch.manual_seed(0)
    return Reasoner(tart_preset("tiny")).eval()


@pytest.fixture
def task():
    """3 tasks of 48 points on 8 active dims, fixed seed."""
    return LogisticPrior().sample(3, 48, 8, generator=torch.Generator().manual_seed(0))


def write_idx(path, arr: np.ndarray) -> None:
    """An IDX file (gzipped, uint8), the format of the MNIST / Fashion-MNIST files."""
    header = bytes([0, 0, 8, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    path.write_bytes(gzip.compress(header + arr.astype(np.uint8).tobytes()))


@pytest.fixture
def fashion_idx(tmp_path):
    """A folder with Fashion-MNIST's four IDX files: 30 training and 20 test images of noise,
    labels 0..9 in turn."""
    rng = np.random.default_rng(0)
    for prefix, n in (("train", 30), ("t10k", 20)):
        write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return tmp_path


# tests that start a Python process in a file that does not import pytest (its marker is added here)
SUBPROCESS_TESTS = {"test_structure.py::test_import_tart_loads_no_tooling"}


def pytest_collection_modifyitems(items):
    for item in items:
        if item.nodeid.rsplit("/", 1)[-1] in SUBPROCESS_TESTS:
            item.add_marker(pytest.mark.subprocess)


def needs_asset(name: str):
    """Mark a test that uses a packaged asset: it FAILS (not skips) when the asset is missing, so
    a broken install step in scripts/setup.sh cannot pass CI silently. It also carries the `assets`
    marker, so `-m "not assets"` leaves it out of the edit-loop tier (docs/tests.md)."""
    import functools

    from tart import assets

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            assert assets.is_installed(name), (
                f"asset {name!r} is not installed: run `tart assets install {name}` "
                "(scripts/setup.sh does)")
            return fn(*args, **kwargs)
        return pytest.mark.assets(wrapper)
    return deco
