"""Optional dependencies: import one, or fail with an error that names the extra to install.

The core install (`pip install tart`) is what `TartClassifier` needs on features and with the
shipped embedders. The rest sits behind extras declared in pyproject.toml:

- `tart[data]`: the packaged and Hugging Face hub data sets (pandas, rdata, datasets);
- `tart[eval]`: the evaluation grid's baselines and plots (peft, setfit, matplotlib) plus `data`;
- `tart[files]`: `tart fit` / `tart predict` on CSV, JSON Lines and Parquet files (pandas, pyarrow);
- `tart[ray]`: `tart predict --engine ray` (Ray Data) plus `files`;
- `tart[all]`: everything (what the README's set-up installs).
"""

from __future__ import annotations

import importlib
from types import ModuleType

# module -> (distribution on PyPI, extra that installs it)
EXTRAS = {
    "pandas": ("pandas", "data"),
    "rdata": ("rdata", "data"),
    "datasets": ("datasets", "data"),
    "matplotlib": ("matplotlib", "eval"),
    "peft": ("peft", "eval"),
    "setfit": ("setfit", "eval"),
    "pyarrow": ("pyarrow", "files"),  # `tart fit` / `tart predict` (tart.jobs): Parquet
    "ray": ("ray[data]", "ray"),  # `tart predict --engine ray` (tart.jobs.ray_engine)
}


class MissingExtra(ImportError):
    """An optional dependency is not installed; the message names the extra that installs it."""


def require(module: str, what: str) -> ModuleType:
    """Import `module` (a key of EXTRAS, or a submodule of one) for `what`, or raise MissingExtra."""
    top = module.split(".")[0]
    if top not in EXTRAS:
        raise KeyError(f"{top!r} is not an optional dependency of tart (known: {sorted(EXTRAS)})")
    dist, extra = EXTRAS[top]
    try:
        return importlib.import_module(module)
    except ImportError as e:
        raise MissingExtra(f"{what} needs {dist}, which is not installed: pip install 'tart[{extra}]' "
                           f"(or 'tart[all]')") from e
