"""Rewrite a shipped module's golden predictions (only when shipping a new module).

    .venv/bin/python scripts/update_golden.py          # tests/golden/default_reasoner.json (tart)
    .venv/bin/python scripts/update_golden.py tart2    # tests/golden/tart2_reasoner.json
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from golden_inputs import GOLDEN_FILES, golden_inputs, golden_inputs_tart2  # noqa: E402

from tart import load_reasoner  # noqa: E402
from tart.pretrained import default_model_dir, sha256  # noqa: E402

name = sys.argv[1] if len(sys.argv) > 1 else "tart"
inputs = golden_inputs_tart2() if name == "tart2" else golden_inputs()
logits = load_reasoner(name).predict(*inputs)
out = {
    "weights_sha256": sha256(default_model_dir(name) / "model.safetensors"),
    "logits": logits.tolist() if name == "tart2" else [[round(v, 6) for v in row] for row in logits.tolist()],
}
if name == "tart2":
    out["logits"] = [[[round(v, 6) for v in q] for q in task] for task in out["logits"]]
(ROOT / "tests" / GOLDEN_FILES[name]).write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote tests/{GOLDEN_FILES[name]}")
