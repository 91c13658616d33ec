"""Grow a tart-2 module deeper without changing what it computes (`tart.set_reasoner.deepened`).

After each layer come copies of it whose residual projections are zero, so the grown module starts
as the old one and fine-tuning gives the new layers work (does the module's size hold it back?):

    python scripts/deepen_tart2.py --n-layer 12 --out runs/tart2-deep-init
    tart train --recipe tart2-cpu-codes-deep --init-from runs/tart2-deep-init --out runs/tart2-deep
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tart.set_reasoner import deepened
from tart.weights import load_reasoner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tart2", help="a shipped name or a model folder (default: tart2)")
    ap.add_argument("--n-layer", type=int, default=12)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    old = load_reasoner(args.model).float()
    deepened(old, args.n_layer).save_pretrained(args.out)
    print(f"wrote {args.out}: {old.config.n_layer} -> {args.n_layer} layers")


if __name__ == "__main__":
    main()
