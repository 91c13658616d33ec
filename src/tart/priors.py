"""TRANSITIONAL: tart-2's prior moved to `tart.priors_tart2`. Delete this file once
tart/bench/speed.py imports from there."""

from tart.priors_tart2 import MixturePrior, SetBatch, SetCurriculum, sample_set_batch  # noqa: F401
