"""Packaging: the core runs without the optional extras, and a missing extra is named in the error."""

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from tart import extras

ROOT = Path(__file__).resolve().parents[1]


def _pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_every_optional_module_is_in_the_extra_it_names_and_not_in_the_core():
    project = _pyproject()["project"]
    core = " ".join(project["dependencies"])
    optional = project["optional-dependencies"]
    for module, (dist, extra) in extras.EXTRAS.items():
        assert dist not in core, f"{dist} is optional but listed in the core dependencies"
        assert any(req.startswith(dist) for req in optional[extra]), f"{dist} missing from tart[{extra}]"
    assert "tart[data,eval]" in optional["all"]


def test_missing_extra_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # makes `import peft` fail
    with pytest.raises(extras.MissingExtra, match=r"LoRA baseline needs peft.*tart\[eval\]"):
        extras.require("peft", "the LoRA baseline")
    with pytest.raises(KeyError, match="not an optional dependency"):
        extras.require("torch", "anything")


BLOCKED = [m for m in extras.EXTRAS]
CORE_SCRIPT = f"""
import importlib.abc, sys
class NotInstalled(importlib.abc.MetaPathFinder):  # as if the extras were not installed (a None in
    def find_spec(self, name, path, target=None):  # sys.modules would also fool libraries that
        if name.split(".")[0] in {BLOCKED!r}:      # look a module up there, as scikit-learn does)
            raise ModuleNotFoundError(f"No module named {{name!r}}")
sys.meta_path.insert(0, NotInstalled())
import numpy as np
from tart import TartClassifier
rng = np.random.default_rng(0)
X = rng.normal(size=(40, 12)); y = (X[:, 0] > 0).astype(int)
p = TartClassifier(n_estimators=1).fit(X, y).predict_proba(X[:5])
assert p.shape == (5, 2)
import tart.embed, tart.embed.text, tart.embed.audio, tart.embed.vision  # the shipped embedders' code
print("ok")
"""


@pytest.mark.subprocess
def test_core_runs_without_the_extras():
    out = subprocess.run([sys.executable, "-c", CORE_SCRIPT], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok")
