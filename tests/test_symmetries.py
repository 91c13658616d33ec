"""tart-2's test-time ensembles over symmetries: the members (class orders through every slot,
sign flips, rotations of the map's residual directions) and the classifier that runs them."""

import numpy as np
import pytest

from tart import TartClassifier
from tart.ensemble import check_symmetries, permutation_members, symmetry_members
from tart.plan import turn_matrix
from test_classifier_tart2 import _blobs, tiny  # noqa: F401  (the tiny module fixture and the blobs)


def test_check_symmetries():
    assert check_symmetries("labels") == "labels"
    assert check_symmetries("classes+signs") == ("classes", "signs")
    assert check_symmetries(("rotations",)) == ("rotations",)
    for bad in ("mirror", "classes+classes", ("signs", "flips")):
        with pytest.raises(ValueError, match="symmetries"):
            check_symmetries(bad)


def test_every_class_goes_through_every_slot():
    y = np.arange(12) % 3
    _, perms, turns = symmetry_members(y, 3, 6, ("classes",), 100, np.random.default_rng(0))
    for block in (perms[:3], perms[3:]):  # each block of L members: a Latin square
        assert all(sorted(block[:, c]) == [0, 1, 2] for c in range(3))
    np.testing.assert_array_equal(perms[0], np.arange(3))
    assert (turns == 0).all()  # no transforms asked for
    # two classes, two members: the legacy members exactly (both label orders)
    y2 = np.arange(10) % 2
    idx, p2, _ = symmetry_members(y2, 2, 2, ("classes",), 100, np.random.default_rng(0))
    idx_old, p_old = permutation_members(y2, 2, 8, 100, np.random.default_rng(0))
    np.testing.assert_array_equal(p2, p_old) and np.testing.assert_array_equal(idx, idx_old)


def test_turns_and_long_contexts():
    y = np.arange(40) % 4
    idx, perms, turns = symmetry_members(y, 4, 10, ("classes", "signs"), 10, np.random.default_rng(1))
    assert (turns[:4] == 0).all() and (turns[4:] > 0).all()  # blocks of L members share a turn
    assert len(set(turns[4:8])) == 1 and len(set(turns[4:])) == 2
    assert idx.shape == (10, 10) and all(len(np.unique(y[i])) == 4 for i in idx)  # every class kept
    _, _, turns = symmetry_members(y, 4, 3, ("signs",), 100, np.random.default_rng(1))
    assert turns[0] == 0 and len(set(turns)) == 3  # without class orders: a turn per member
    _, perms, _ = symmetry_members(y, 4, 3, ("signs",), 100, np.random.default_rng(1))
    assert (perms == np.arange(4)).all()  # class orders only with "classes"


def test_turn_matrix_keeps_the_class_mean_directions():
    rng = np.random.default_rng(0)
    labels = np.arange(60) % 3
    z = rng.normal(size=(60, 8))
    z[:, 5:] = 0.0  # 5 kept dims
    z[:, 2:5] -= np.stack([z[labels == c, 2:5].mean(0) for c in labels])  # dims 2-4: no class-mean signal
    np.testing.assert_array_equal(turn_matrix(z, labels, 0, ("signs", "rotations")), np.eye(8))
    R = turn_matrix(z, labels, 7, ("rotations",))
    np.testing.assert_allclose(R @ R.T, np.eye(8), atol=1e-12)
    np.testing.assert_array_equal(R[:2], np.eye(8)[:2])  # class-mean dims untouched
    np.testing.assert_array_equal(R[5:], np.eye(8)[5:])  # unused dims untouched
    assert np.abs(R[2:5, 2:5] - np.eye(3)).max() > 0.1  # the residual dims rotated
    S = turn_matrix(z, labels, 7, ("signs",))
    assert np.count_nonzero(S - np.diag(np.diag(S))) == 0 and set(np.diag(S)) <= {-1.0, 1.0}
    mapped = z @ turn_matrix(z, labels, 9, ("signs", "rotations"))
    np.testing.assert_allclose(np.linalg.norm(mapped, axis=1), np.linalg.norm(z, axis=1))


@pytest.mark.parametrize("symmetries", ["classes", "classes+signs", "classes+signs+rotations"])
def test_classifier_runs_the_members(tiny, symmetries):
    X, y = _blobs(40, L=3, seed=1)
    Xq, _ = _blobs(15, L=3, seed=2)
    clf = TartClassifier(reasoner=tiny, symmetries=symmetries, n_estimators=6).fit(X, y)
    P = clf.predict_proba(Xq)
    np.testing.assert_allclose(P.sum(1), 1.0, atol=1e-9)
    n_views = len({m.view for m in clf.plan_.maps})
    assert len(clf.plan_.reads) == 6 * n_views
    assert (clf.plan_.turns != ()) == (symmetries != "classes")
    again = TartClassifier(reasoner=tiny, symmetries=symmetries, n_estimators=6).fit(X, y).predict_proba(Xq)
    np.testing.assert_array_equal(P, again)  # seeded: deterministic


def test_two_classes_renamed_change_nothing(tiny):
    X, y = _blobs(30, seed=3)
    Xq, _ = _blobs(10, seed=4)
    kw = dict(reasoner=tiny, symmetries="classes+signs+rotations", n_estimators=4)
    a = TartClassifier(**kw).fit(X, y).predict_proba(Xq)
    b = TartClassifier(**kw).fit(X, 1 - y).predict_proba(Xq)
    np.testing.assert_allclose(a, b[:, ::-1], atol=1e-5)


def test_legacy_members_are_the_old_plan(tiny):
    X, y = _blobs(30, L=3, seed=5)
    Xq, _ = _blobs(10, L=3, seed=6)
    a = TartClassifier(reasoner=tiny, symmetries="labels").fit(X, y)
    assert all(r.turn == 0 for r in a.plan_.reads) and a.plan_.turns == ()
    with pytest.raises(ValueError, match="symmetries"):
        TartClassifier(reasoner=tiny, symmetries="mirror").fit(X, y)


def test_saved_members_round_trip(tiny, tmp_path):
    X, y = _blobs(30, L=3, seed=7)
    Xq, _ = _blobs(10, L=3, seed=8)
    clf = TartClassifier(reasoner=tiny, symmetries="classes+signs+rotations", n_estimators=3).fit(X, y)
    clf.save_pretrained(tmp_path / "clf")
    back = TartClassifier.from_pretrained(tmp_path / "clf")
    np.testing.assert_array_equal(back.predict_proba(Xq), clf.predict_proba(Xq))
    assert [r.turn for r in back.plan_.reads] == [r.turn for r in clf.plan_.reads]
