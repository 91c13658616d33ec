"""Fixed inputs for the shipped module's golden predictions (shared by the test and the updater)."""

import torch

from tart.synthetic import LogisticPrior

GOLDEN_FILE = "golden/default_reasoner.json"


def golden_inputs():
    """3 tasks on all 16 dims: contexts of 32 points and 8 queries each, seed 20261126."""
    task = LogisticPrior(n_dims=16).sample(3, 40, generator=torch.Generator().manual_seed(20261126))
    return task.x_BND[:, :32], task.y_BN[:, :32], task.x_BND[:, 32:]
