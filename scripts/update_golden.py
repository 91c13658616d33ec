"""Rewrite tests/golden/default_reasoner.json from the shipped module (only when shipping a new one).

    .venv/bin/python scripts/update_golden.py
"""

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from golden_inputs import GOLDEN_FILE, golden_inputs  # noqa: E402

from tart import load_reasoner  # noqa: E402
from tart.pretrained import default_model_dir, sha256  # noqa: E402

logits = load_reasoner().predict(*golden_inputs())
out = {
    "weights_sha256": sha256(default_model_dir() / "model.safetensors"),
    "logits": [[round(v, 6) for v in row] for row in logits.tolist()],
}
(ROOT / "tests" / GOLDEN_FILE).write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote tests/{GOLDEN_FILE}")
