"""scripts/stacking.py: the stacking weights and the member probabilities it caches."""
import importlib.util
from pathlib import Path

import numpy as np

spec = importlib.util.spec_from_file_location("stacking", Path(__file__).parents[1] / "scripts" / "stacking.py")
stacking = importlib.util.module_from_spec(spec)
spec.loader.exec_module(stacking)


def test_stack_weights_follow_the_held_out_likelihood_and_alpha_keeps_the_module():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 200)
    good = np.where(np.eye(2)[y] > 0, 0.9, 0.1)  # right with probability 0.9
    bad = np.full((200, 2), 0.5)
    held = np.stack([bad, good, bad])
    w = stacking.stack_weights(held, y, alpha=0.0)
    assert w.argmax() == 1 and w[1] > 0.9 and np.isclose(w.sum(), 1.0)
    tie = stacking.stack_weights(np.stack([good, good, bad]), y, alpha=4.0)
    assert tie[0] > 0.9  # members that agree leave the weight where the prior puts it
    few = stacking.stack_weights(held[:, :4], y[:4], alpha=16.0)
    assert few[0] > 0.5  # a few held-out labels do not overturn 16 pseudo-examples


def test_record_gives_held_out_and_query_probabilities_of_each_member():
    rng = np.random.default_rng(1)
    Xc, Xq = rng.normal(size=(24, 5)), rng.normal(size=(7, 5))
    yc = np.repeat([0, 1, 2], 8)
    Xc[:, 0] += yc
    held, test = stacking.record(stacking._members_synthetic, Xc, yc, Xq, 4)
    assert held.shape == (3, 24, 4) and test.shape == (3, 7, 4)
    assert np.allclose(held.sum(-1), 1.0, atol=1e-5) and np.allclose(test.sum(-1), 1.0, atol=1e-5)
    assert np.allclose(test[..., 3], 0.0, atol=1e-6)  # a class absent from the context gets nothing
