"""Warm-start a class-count-free tart-2 (`label_codes`) from the shipped module's weights.

Every weight but the label read-in and read-out is copied; the new maps are fitted by least
squares so that class codes 0..9 reproduce the shipped module's label embeddings and read-out rows
(the "unknown" label copied): the new module starts as the shipped one on slots 0..9, and
fine-tuning (`tart train --recipe tart2-cpu-codes --init-from OUT`) teaches it the other slots.

    python scripts/codes_from_shipped.py --out runs/tart2-codes-init
"""

from __future__ import annotations

import argparse
from dataclasses import replace
from pathlib import Path

import torch

from tart.set_reasoner import SetReasoner
from tart.weights import load_reasoner


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--n-classes", type=int, default=64)
    args = ap.parse_args()
    old = load_reasoner("tart2").float()
    L = old.config.n_classes
    new = SetReasoner(replace(old.config, label_codes=True, n_classes=args.n_classes))
    state = {k: v for k, v in old.state_dict().items() if not k.startswith(("label_emb.", "read_out."))}
    missing = new.load_state_dict(state, strict=False).missing_keys
    assert sorted(missing) == ["label_in.weight", "label_out.weight", "unknown"], missing
    with torch.no_grad():
        codes_LC = new.codes[:L]
        # label_in(codes[c]) = codes[c] @ W_in^T = label_emb[c]: the minimum-norm W_in
        new.label_in.weight.copy_(torch.linalg.lstsq(codes_LC, old.label_emb.weight[:L]).solution.T)
        new.unknown.copy_(old.label_emb.weight[L])
        # logit_c = h . label_out(codes[c]) = read_out.weight[c] (its bias has no slot-free home)
        new.label_out.weight.copy_(torch.linalg.lstsq(codes_LC, old.read_out.weight).solution.T)
    new.save_pretrained(args.out)
    print(f"wrote {args.out}: read-out bias dropped (norm {old.read_out.bias.norm():.3f})")


if __name__ == "__main__":
    main()
