"""The reference the trainer is measured against: the original's recipe on transformers' GPT2Model.

fp32, eager attention, and the batch of 128 sequences run as 4 micro-batches of 32 with gradient
accumulation, as TART's training code did. Same width, depth, heads and positions as our preset.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from tart.reasoner import ReasonerConfig


class GPT2Reference(nn.Module):
    """read-in Linear(d -> width) -> transformers GPT2Model -> read-out Linear(width -> 1)."""

    def __init__(self, cfg: ReasonerConfig):
        super().__init__()
        from transformers import GPT2Config, GPT2Model

        gcfg = GPT2Config(
            n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head,
            resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0, use_cache=False, vocab_size=1,
            bos_token_id=None, eos_token_id=None,
        )
        gcfg._attn_implementation = "eager"
        self.read_in = nn.Linear(cfg.n_dims, cfg.n_embd)
        self.backbone = GPT2Model(gcfg)
        self.read_out = nn.Linear(cfg.n_embd, 1)

    def forward(self, x_BND: torch.Tensor, y_BN: torch.Tensor) -> torch.Tensor:
        B, N, D = x_BND.shape
        y_BND = torch.zeros_like(x_BND)
        y_BND[..., 0] = y_BN
        tokens = torch.stack([x_BND, y_BND], dim=2).view(B, 2 * N, D)
        h = self.backbone(inputs_embeds=self.read_in(tokens)).last_hidden_state
        return self.read_out(h).squeeze(-1)[:, ::2]


def reference_step(model: GPT2Reference, opt, x_BND, y_BN, micro_batch: int = 32) -> float:
    """One optimiser step as the original ran it: fp32, micro-batches with accumulated grads."""
    opt.zero_grad(set_to_none=True)
    n_micro = max(1, x_BND.shape[0] // micro_batch)
    total = 0.0
    for xb, yb in zip(x_BND.chunk(n_micro), y_BN.chunk(n_micro)):
        loss = F.binary_cross_entropy_with_logits(model(xb, yb), yb) / n_micro
        loss.backward()
        total += loss.item()
    opt.step()
    return total
