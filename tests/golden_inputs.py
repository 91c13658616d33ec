"""Fixed inputs for the shipped modules' golden predictions (shared by the tests and the updater)."""

import torch

from tart.synthetic import LogisticPrior

GOLDEN_FILE = "golden/default_reasoner.json"
GOLDEN_FILES = {"tart": GOLDEN_FILE, "tart2": "golden/tart2_reasoner.json"}


def golden_inputs():
    """3 tasks on all 16 dims: contexts of 32 points and 8 queries each, seed 20261126."""
    task = LogisticPrior(n_dims=16).sample(3, 40, generator=torch.Generator().manual_seed(20261126))
    return task.x_BND[:, :32], task.y_BN[:, :32], task.x_BND[:, 32:]


def golden_inputs_tart2():
    """tart-2: 3 tasks of 40 context points with 3 classes and 8 queries, 64 dims, seed 20261129
    (the module's own inputs, after the map: the map has its own tests)."""
    g = torch.Generator().manual_seed(20261129)
    y = torch.randint(0, 3, (3, 48), generator=g)
    x = torch.randn(3, 48, 64, generator=g)
    x[..., :3] += 3.0 * torch.nn.functional.one_hot(y, 3)  # class c shifts dim c, queries too
    return x[:, :40], y[:, :40], x[:, 40:]
