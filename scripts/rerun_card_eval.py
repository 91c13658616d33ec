"""Rerun the synthetic evaluation of a shipped tart-2 module with the current evaluation code and
rewrite its `eval_synthetic.json` and the evaluation section of its model card.

The evaluation is `tart export-model`'s (`tart.export.card_eval_tart2`: the module alone,
`TartClassifier(reasoner=<module>, stack=None)`). Usage:

    python scripts/rerun_card_eval.py [--folder src/tart/weights/tart2] [--n-tasks 64] [--seed 1234]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path

from tart.checkpoint import atomic_write_bytes, atomic_write_json
from tart.export import CARD_FILE, EVAL_FILE, card_eval_section, card_eval_spec, card_eval_tart2
from tart.weights import default_model_dir, load_reasoner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, default=default_model_dir("tart2"))
    ap.add_argument("--n-tasks", type=int, default=64)
    ap.add_argument("--n-queries", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1234)
    args = ap.parse_args()
    model = load_reasoner(str(args.folder))
    rows, tart_rows = card_eval_tart2(model, args.n_tasks, args.n_queries, args.seed)
    spec = {**card_eval_spec(args.n_tasks, args.n_queries, args.seed),
            "predicts_as": "TartClassifier defaults, stack=None"}
    atomic_write_json(args.folder / EVAL_FILE, {"spec": spec, "rows": rows, "tart_tasks": tart_rows})
    card = (args.folder / CARD_FILE).read_text()
    section = card_eval_section(rows, tart_rows, args.n_tasks, args.n_queries, args.seed)
    card = re.sub(r"## Synthetic evaluation.*\Z", section, card, flags=re.S)
    atomic_write_bytes(args.folder / CARD_FILE, card.encode())
    print(json.dumps(spec))


if __name__ == "__main__":
    main()
