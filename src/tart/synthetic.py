"""TRANSITIONAL: the faithful family's prior moved to `tart.priors_tart`. Delete this file once
tests/conftest.py and tart/bench/speed.py import from there."""

from tart.priors_tart import Curriculum, LogisticPrior, Task, prior_from_dict  # noqa: F401
