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
