"""Fixed inputs for the shipped modules' golden predictions (shared by the tests and the updater)."""

import numpy as np
import torch

from tart.priors_tart import LogisticPrior

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


CLASSIFIER_GOLDEN_FILE = "golden/classifier_proba.json"


def _gaussian_classes(rng, counts, D, sep=1.5):
    """Points of len(counts) Gaussian classes in D dims; class c is shifted by `sep` along dim c."""
    y = rng.permutation(np.repeat(np.arange(len(counts)), counts))
    X = rng.normal(size=(len(y), D))
    X[:, : len(counts)] += sep * np.eye(len(counts))[y]
    return X, y


def golden_classifier_cases():
    """`TartClassifier.predict_proba` on fixed features, seed 20261129: name -> (kwargs, X, y, queries).
    The shipped `tart` at k = 64 (imbalanced, so the class prior acts), with the original's settings,
    and at k = 300 (longer than the module holds: the subset ensemble; one dim of huge variance, so
    standardize="auto" acts); `tart2` with 4 classes at k = 64 and at k = 200 with max_context=64;
    the default module (tart-2) on two imbalanced classes; these without tart-2's linear member
    (stack=None); then with it, at k = 256 (two classes) and k = 150 (three); all at temperature 1
    (the modules' own probabilities) but those marked "auto"."""
    rng = np.random.default_rng(20261129)
    cases = {}
    for name, kwargs, counts, D in [
        ("tart_k64", {"reasoner": "tart"}, (40, 24), 24),
        ("tart_k64_original", {"reasoner": "tart", "projection": "pca", "standardize": False, "center": "mean",
                               "class_prior": "uniform"}, (40, 24), 24),
        ("tart_k300", {"reasoner": "tart"}, (170, 130), 48),
        ("tart2_k64", {"reasoner": "tart2", "stack": None}, (20, 16, 16, 12), 24),
        ("tart2_k200_max64", {"reasoner": "tart2", "max_context": 64, "stack": None}, (70, 60, 40, 30), 48),
        ("tart_k64_auto", {"reasoner": "tart", "temperature": "auto"}, (40, 24), 24),
        ("tart2_k64_auto", {"reasoner": "tart2", "temperature": "auto", "stack": None}, (20, 16, 16, 12), 24),
        ("default_binary_k48", {"stack": None}, (30, 18), 32),  # the default module (tart-2) on two classes
        # with tart-2's linear member (stack="auto"), long enough contexts for it to get weight
        ("default_binary_k256", {}, (136, 120), 12),
        ("tart2_k150_auto", {"reasoner": "tart2", "temperature": "auto"}, (60, 50, 40), 8),
    ]:
        X, y = _gaussian_classes(rng, counts, D)
        Xq, _ = _gaussian_classes(rng, (4,) * len(counts), D)
        if name == "tart_k300":
            X[:, -1] *= 40.0
            Xq[:, -1] *= 40.0
        cases[name] = ({"device": "cpu", "temperature": 1.0, **kwargs}, X, y, Xq)
    return cases
