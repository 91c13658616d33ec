"""The evaluation's temperature helpers: see tart.calibration (re-exported here)."""

from tart.calibration import GRID, apply_temperature, context_temperature

__all__ = ["GRID", "apply_temperature", "context_temperature"]
