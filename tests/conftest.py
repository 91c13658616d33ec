import pytest
import torch

from tart.reasoner import Reasoner, preset
from tart.synthetic import LogisticPrior


@pytest.fixture
def tiny_model() -> Reasoner:
    torch.manual_seed(0)
    return Reasoner(preset("tiny")).eval()


@pytest.fixture
def task():
    """3 tasks of 48 points on 8 active dims, fixed seed."""
    return LogisticPrior().sample(3, 48, 8, generator=torch.Generator().manual_seed(0))


def needs_asset(name: str):
    """Mark a test that uses a packaged asset: it FAILS (not skips) when the asset is missing, so
    a broken install step in scripts/setup.sh cannot pass CI silently."""
    import functools

    from tart import assets

    def deco(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            assert assets.is_installed(name), (
                f"asset {name!r} is not installed: run `tart assets install {name}` "
                "(scripts/setup.sh does)")
            return fn(*args, **kwargs)
        return wrapper
    return deco
