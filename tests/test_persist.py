"""Saved classifiers: save_pretrained / from_pretrained round trips (tart.persist)."""

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import pytest

from tart.classifier import TartClassifier
from tart.persist import FORMAT_VERSION, SavedClassifierError, features_classifier


def _data(n=40, d=12, seed=0, labels=("neg", "pos")):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d))
    y01 = (X[:, 0] + 0.3 * rng.normal(size=n) > 0).astype(int)
    y = np.array(labels, dtype=object)[y01].tolist() if not isinstance(labels[0], (bool, np.bool_)) else [bool(v) for v in y01]
    return X, y, rng.normal(size=(15, d))


@pytest.mark.parametrize("labels", [("neg", "pos"), (3, 7), (False, True)])
def test_round_trip_features_identical_proba(tmp_path, labels):
    X, y, Q = _data(labels=labels)
    clf = TartClassifier(n_estimators=3).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    back = TartClassifier.from_pretrained(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(Q), clf.predict_proba(Q))
    assert back.classes_.tolist() == clf.classes_.tolist()
    assert type(back.classes_.tolist()[0]) is type(clf.classes_.tolist()[0])
    assert back.get_params() == clf.get_params()
    files = sorted(p.name for p in (tmp_path / "m").iterdir())
    assert files == ["config.json", "model.safetensors"]  # no pickle


def test_round_trip_tart2_multiclass_and_embedder(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(45, 10))
    y = np.repeat(["a", "b", "c"], 15)
    X[y == "b", 0] += 3
    X[y == "c", 1] += 3
    clf = TartClassifier(embedder="features", reasoner="tart2", n_estimators=2).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    back = TartClassifier.from_pretrained(tmp_path / "m")
    Q = rng.normal(size=(7, 10))
    np.testing.assert_array_equal(back.predict_proba(Q), clf.predict_proba(Q))
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())
    assert cfg["embedder"]["spec"] == "features" and cfg["reasoner"]["shipped"] == "tart2"
    # the features view gives the same probabilities from embeddings
    view = features_classifier(back)
    np.testing.assert_array_equal(view.predict_proba(back.embedder_.encode(list(Q))), clf.predict_proba(Q))


def test_custom_reasoner_weights_copied(tmp_path, tiny_model):
    X, y, Q = _data()
    clf = TartClassifier(reasoner=tiny_model, n_estimators=2).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    assert (tmp_path / "m" / "reasoner" / "config.json").is_file()
    back = TartClassifier.from_pretrained(tmp_path / "m")
    np.testing.assert_array_equal(back.predict_proba(Q), clf.predict_proba(Q))


def test_newer_format_version_refused(tmp_path):
    X, y, _ = _data()
    TartClassifier(n_estimators=2).fit(X, y).save_pretrained(tmp_path / "m")
    cfg_file = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["format_version"] = FORMAT_VERSION + 1
    cfg_file.write_text(json.dumps(cfg))
    with pytest.raises(SavedClassifierError, match="newer than this tart reads"):
        TartClassifier.from_pretrained(tmp_path / "m")


def test_not_a_saved_classifier(tmp_path):
    with pytest.raises(SavedClassifierError, match="not a saved classifier"):
        TartClassifier.from_pretrained(tmp_path)


def test_different_embedder_weights_refused(tmp_path):
    X, y, _ = _data()
    TartClassifier(embedder="features", n_estimators=2).fit(X, y).save_pretrained(tmp_path / "m")
    cfg_file = tmp_path / "m" / "config.json"
    cfg = json.loads(cfg_file.read_text())
    cfg["embedder"]["fingerprint"] = "sha256:" + "0" * 64
    cfg_file.write_text(json.dumps(cfg))
    with pytest.raises(SavedClassifierError, match="different weights"):
        TartClassifier.from_pretrained(tmp_path / "m")


def test_unfitted_and_object_embedder_refused(tmp_path):
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        TartClassifier().save_pretrained(tmp_path / "m")

    class Emb:
        cache_key = "toy"
        context_dependent = False

        def encode(self, items, **kw):
            return np.asarray(items, dtype=np.float32)

    X, y, _ = _data()
    clf = TartClassifier(embedder=Emb(), n_estimators=2).fit(list(X), y)
    with pytest.raises(SavedClassifierError, match="by name or path"):
        clf.save_pretrained(tmp_path / "m")


def test_a_classifier_saved_with_a_replaced_shipped_module_loads_that_module(tmp_path):
    """Saved (format 2) while the tart2 module now in tart/weights/retired/ was shipped: it loads
    that module, predicts as a classifier built on it, without a warning, and saves again with
    the module's weights copied in (scripts/retire_module.py keeps the module)."""
    from tart.weights import retired_module_dir

    X, y, Q = _data()
    old = sorted((Path(__file__).parents[1] / "src" / "tart" / "weights" / "retired").glob("tart2-*"))[0]
    print_v2 = json.loads((old / "RETIRED.json").read_text())["fingerprints"][0]
    assert retired_module_dir("tart2", print_v2) == old and retired_module_dir("tart2", "sha256:0") is None
    clf = TartClassifier(reasoner=str(old), n_estimators=2).fit(X, y)
    want = clf.predict_proba(Q)
    clf.save_pretrained(tmp_path / "m")  # a folder module is copied in; make it a reference, as
    cfg = json.loads((tmp_path / "m" / "config.json").read_text())  # when it was the shipped one
    shutil.rmtree(tmp_path / "m" / cfg["reasoner"]["folder"])
    cfg["reasoner"] = {"shipped": "tart2", "param": None, "fingerprint": print_v2}
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        back = TartClassifier.from_pretrained(tmp_path / "m")
    np.testing.assert_allclose(back.predict_proba(Q), want, rtol=0, atol=1e-12)
    assert not np.allclose(TartClassifier(n_estimators=2).fit(X, y).predict_proba(Q), want, atol=1e-3)
    back.save_pretrained(tmp_path / "again")
    np.testing.assert_allclose(TartClassifier.from_pretrained(tmp_path / "again").predict_proba(Q), want,
                               rtol=0, atol=1e-12)


V1 = Path(__file__).parent / "golden" / "saved_v1"


@pytest.mark.parametrize("name", ["tart2_binary", "tart2_4class", "tart_binary", "tart_3class"])
def test_format_version_1_folders_load_and_predict_identically(name):
    """Folders written by format version 1 (tart at 817b8f8, /tmp/make_v1.py in the commit that
    added them): migrated on load (`tart.persist.migrate_v1`), they give the probabilities they
    gave when saved, and save again as version 2 with the same probabilities."""
    saved = json.loads((V1 / "proba.json").read_text())[name]
    assert json.loads((V1 / name / "config.json").read_text())["format_version"] == 1
    with warnings.catch_warnings():  # format 1 fingerprinted the module's folder with its card,
        warnings.simplefilter("ignore")  # which has been rerun since: it may warn, the weights are the same
        back = TartClassifier.from_pretrained(V1 / name)
    proba = back.predict_proba(np.array(saved["queries"]))
    np.testing.assert_allclose(proba, saved["proba"], rtol=0, atol=1e-6)
    assert not hasattr(back, "projection_") and len(back.maps_) == len(back.plan_.maps)


def test_a_version_1_classifier_saved_before_the_temperature_loads_at_temperature_one(tmp_path):
    """Saved by a version without the `temperature` parameter (or without `temperature_`): it
    predicted at temperature 1, and loads that way."""
    shutil.copytree(V1 / "tart2_binary", tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    del config["params"]["temperature"], config["state"]["temperature_"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # as above: the folder's card changed since format 1
        back = TartClassifier.from_pretrained(tmp_path / "m")
    assert back.temperature == 1.0 and back.temperature_ == 1.0


def test_round_trip_writes_format_version_3_with_the_plan_and_the_linear_member(tmp_path):
    rng = np.random.default_rng(3)  # a long, low-dimensional context: the linear member gets weight
    X, Q = rng.normal(size=(200, 6)), rng.normal(size=(20, 6))
    y = (X[:, 0] + 0.5 * rng.normal(size=200) > 0).astype(int)
    clf = TartClassifier(n_estimators=2).fit(X, y)
    assert clf.linear_ is not None and clf.linear_.weight >= 0.01
    clf.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    assert config["format_version"] == 3 and {"plan_", "maps_", "linear_"} <= set(config["state"])
    back = TartClassifier.from_pretrained(tmp_path / "m")
    assert [r.rows.tolist() for r in back.plan_.reads] == [r.rows.tolist() for r in clf.plan_.reads]
    assert back.linear_.weight == clf.linear_.weight and np.array_equal(back.linear_.W_LD, clf.linear_.W_LD)
    assert np.array_equal(back.predict_proba(Q), clf.predict_proba(Q))


def test_format_version_2_folders_load_as_the_module_alone(tmp_path):
    """A folder saved before the linear member (format 2: no `stack`, no `linear_`) predicts as it
    did, and says so: stack=None."""
    X, y, Q = _data()
    clf = TartClassifier(n_estimators=2, stack=None).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    config["format_version"] = 2
    del config["params"]["stack"], config["state"]["linear_"]
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    back = TartClassifier.from_pretrained(tmp_path / "m")
    assert back.stack is None and getattr(back, "linear_", None) is None
    assert np.array_equal(back.predict_proba(Q), clf.predict_proba(Q))


def test_the_shipped_module_fingerprint_covers_its_weights_not_its_card(tmp_path):
    """A saved classifier names a shipped module by the fingerprint of its config and weights: a
    rerun model card does not make loading warn, changed weights do."""
    X, y, Q = _data()
    clf = TartClassifier(n_estimators=2, temperature=1.0).fit(X, y)
    clf.save_pretrained(tmp_path / "m")
    config = json.loads((tmp_path / "m" / "config.json").read_text())
    from tart.fingerprint import folder_digest
    from tart.weights import default_model_dir

    folder = default_model_dir("tart2")
    assert config["reasoner"]["fingerprint"] == "sha256:" + folder_digest(folder, ("config.json", "*.safetensors"))
    assert config["reasoner"]["fingerprint"] != "sha256:" + folder_digest(folder)  # the card is not in it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TartClassifier.from_pretrained(tmp_path / "m")
    config["reasoner"]["fingerprint"] = "sha256:" + "0" * 64
    (tmp_path / "m" / "config.json").write_text(json.dumps(config))
    with pytest.warns(UserWarning, match="changed since this classifier was saved"):
        TartClassifier.from_pretrained(tmp_path / "m")
