"""TRANSITIONAL: loading shipped weights moved to `tart.weights`, exporting a run to
`tart.export`. Delete this file once tart/classifier.py, tart/persist.py and
tests/test_classifier.py import from `tart.weights`."""

from tart.weights import SHIPPED, default_model_dir, load_reasoner, module_class, sha256  # noqa: F401
