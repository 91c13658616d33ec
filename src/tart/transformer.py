"""The transformer pieces both module families use: sizes, attention, MLP, pre-norm layers, and
the input checks shared by `Reasoner.predict` and `SetReasoner.predict`.

Shape legend: B batch, T tokens, K context tokens, M queries, C width (n_embd), H heads,
c head width.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from tart import checkpoint


@dataclass
class TransformerShape(checkpoint.ConfigMixin):
    """The transformer's sizes, shared by both module families' configs."""

    n_embd: int = 256
    n_layer: int = 12
    n_head: int = 8
    mlp_ratio: int = 4
    layer_norm_eps: float = 1e-5

    def check_shape(self, *sizes: int) -> None:
        """Heads divide the width, and every size (these and `sizes`) is at least 1."""
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be divisible by n_head ({self.n_head})")
        if min(self.n_embd, self.n_layer, self.n_head, self.mlp_ratio, *sizes) < 1:
            raise ValueError(f"every size in {self} must be >= 1")


class SelfAttention(nn.Module):
    """Multi-head self-attention, run two ways: `context` (a sequence's tokens among themselves,
    causal or full; returns their keys and values) and `query` (each query attends to those cached
    keys/values and to itself, never to other queries)."""

    def __init__(self, cfg: TransformerShape):
        super().__init__()
        self.n_head = cfg.n_head
        self.c_attn = nn.Linear(cfg.n_embd, 3 * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.n_embd, cfg.n_embd)

    def heads(self, h_BTC: torch.Tensor):
        """Queries, keys and values, each [B, n_head, T, C / n_head]."""
        B, T, C = h_BTC.shape
        q, k, v = self.c_attn(h_BTC).split(C, dim=2)
        return (t.view(B, T, self.n_head, C // self.n_head).transpose(1, 2) for t in (q, k, v))

    def _merge(self, out_BHTc: torch.Tensor) -> torch.Tensor:
        B, H, T, c = out_BHTc.shape
        return self.c_proj(out_BHTc.transpose(1, 2).reshape(B, T, H * c))

    def context(self, h_BKC: torch.Tensor, causal: bool):
        """Attention among the context's tokens (causal or full); returns (output, (keys, values))."""
        q, k, v = self.heads(h_BKC)
        return self._merge(F.scaled_dot_product_attention(q, k, v, is_causal=causal)), (k, v)

    def query(self, h_BMC: torch.Tensor, kv) -> torch.Tensor:
        """Each query attends to the context's keys/values and to its own: O(M K), not O((M + K)^2)."""
        k_ctx, v_ctx = kv
        q, k, v = self.heads(h_BMC)
        scale = 1.0 / math.sqrt(q.shape[-1])
        s_ctx_BHMK = q @ k_ctx.transpose(-1, -2) * scale
        s_self_BHM1 = (q * k).sum(-1, keepdim=True) * scale
        p = torch.softmax(torch.cat([s_ctx_BHMK, s_self_BHM1], dim=-1).float(), dim=-1).to(q.dtype)
        return self._merge(p[..., :-1] @ v_ctx + p[..., -1:] * v)


class MLP(nn.Module):
    """The position-wise feed-forward layer: Linear, tanh-GELU, Linear."""

    def __init__(self, cfg: TransformerShape):
        super().__init__()
        self.c_fc = nn.Linear(cfg.n_embd, cfg.mlp_ratio * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.mlp_ratio * cfg.n_embd, cfg.n_embd)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return self.c_proj(F.gelu(self.c_fc(h), approximate="tanh"))


class PreNorm(nn.Module):
    """A pre-norm transformer layer's attention and its two layer norms (both families)."""

    def __init__(self, cfg: TransformerShape, attn: nn.Module):
        super().__init__()
        self.ln_1 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps)
        self.attn = attn
        self.ln_2 = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps)


def batched_inputs(context_x, context_y, query_x, query_chunk: int, validate: bool):
    """The kinds checked (if `validate`) and a batch axis added to unbatched inputs ([K, D], [K],
    [M, D]); returns the three tensors and whether the axis was added."""
    if validate:
        check_kinds(context_x, context_y, query_x, query_chunk)
    unbatched = context_x.dim() == 2
    if unbatched:
        context_x, context_y, query_x = context_x[None], context_y[None], query_x[None]
    return context_x, context_y, query_x, unbatched


def check_kinds(cx: torch.Tensor, cy: torch.Tensor, qx: torch.Tensor, query_chunk: int) -> None:
    """TypeErrors for what is not real-valued tensors, a ValueError for a query_chunk below 1
    (shared by `Reasoner.predict` and `SetReasoner.predict`)."""
    for name, t in (("context_x", cx), ("context_y", cy), ("query_x", qx)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
        if t.is_complex():
            raise TypeError(f"{name} is complex ({t.dtype}): the module reads real values")
    if isinstance(query_chunk, bool) or not hasattr(query_chunk, "__index__") or query_chunk < 1:
        raise ValueError(f"query_chunk must be a positive integer, got {query_chunk!r}")


def check_finite_logits(logits: torch.Tensor, cx: torch.Tensor, qx: torch.Tensor, dtype: torch.dtype) -> None:
    """A ValueError instead of NaN logits: features far beyond the unit scale the module was
    trained on overflow its float32 arithmetic (or the module's own dtype)."""
    if not torch.isfinite(logits).all():
        big = max(float(cx.abs().max()), float(qx.abs().max()))
        raise ValueError(f"the module's logits are not finite: features too large for its {dtype} "
                         f"arithmetic (largest |x| = {big:.3g}); it reads features of about unit scale "
                         "(map them first, e.g. with tart.projection)")
