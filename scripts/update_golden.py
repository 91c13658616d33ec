"""Rewrite golden predictions (only when shipping a new module or changing behaviour on purpose).

    .venv/bin/python scripts/update_golden.py             # tests/golden/default_reasoner.json (tart)
    .venv/bin/python scripts/update_golden.py tart2       # tests/golden/tart2_reasoner.json
    .venv/bin/python scripts/update_golden.py classifier  # tests/golden/classifier_proba.json
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from golden_inputs import (  # noqa: E402
    CLASSIFIER_GOLDEN_FILE, GOLDEN_FILES, golden_classifier_cases, golden_inputs, golden_inputs_tart2)

from tart import TartClassifier, load_reasoner  # noqa: E402
from tart.weights import default_model_dir, sha256  # noqa: E402


def _rounded(values, digits=6):
    return [_rounded(v, digits) for v in values] if isinstance(values, list) else round(values, digits)


name = sys.argv[1] if len(sys.argv) > 1 else "tart"
if name == "classifier":
    out = {"weights_sha256": {m: sha256(default_model_dir(m) / "model.safetensors") for m in ("tart", "tart2")},
           "proba": {case: _rounded(TartClassifier(**kwargs).fit(X, y).predict_proba(Xq).tolist(), 9)
                     for case, (kwargs, X, y, Xq) in golden_classifier_cases().items()}}
    target = CLASSIFIER_GOLDEN_FILE
else:
    logits = load_reasoner(name).predict(*(golden_inputs_tart2() if name == "tart2" else golden_inputs()))
    out = {"weights_sha256": sha256(default_model_dir(name) / "model.safetensors"), "logits": _rounded(logits.tolist())}
    target = GOLDEN_FILES[name]
(ROOT / "tests" / target).write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote tests/{target}")
