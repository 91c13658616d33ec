"""Rewrite tests/golden/default_reasoner.json from the shipped module (only when shipping a new one).

    .venv/bin/python scripts/update_golden.py
"""

import hashlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from golden_inputs import GOLDEN_FILE, golden_inputs  # noqa: E402

from tart import load_reasoner  # noqa: E402
from tart.pretrained import default_model_dir  # noqa: E402

logits = load_reasoner().predict(*golden_inputs())
weights = default_model_dir() / "model.safetensors"
out = {
    "weights_sha256": hashlib.sha256(weights.read_bytes()).hexdigest(),
    "logits": [[round(v, 6) for v in row] for row in logits.tolist()],
}
(ROOT / "tests" / GOLDEN_FILE).write_text(json.dumps(out, indent=1) + "\n")
print(f"wrote tests/{GOLDEN_FILE}")
