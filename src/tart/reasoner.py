"""The reasoning module: a GPT-2-style transformer that reads (x, y) pairs and predicts labels.

Input sequence (as in TART): x_1, y_1, x_2, y_2, ..., where each x is a d-vector and each y token
is the d-vector [y, 0, ..., 0]. A read-in Linear(d -> width) embeds every token (there is no token
table), learned positions are added, pre-LayerNorm blocks with causal attention follow, and a
read-out Linear(width -> 1) gives the logit of y_i at x_i's position (it sees the i-1 earlier pairs).

Shared-context prediction: every query of a context sits at the same position 2k and, under causal
attention, sees exactly the same prefix, so `predict` encodes the context once and lets all m
queries attend to its cached keys and values (each also to itself): exact, not an approximation,
and O(M K) per layer rather than the O((M + 2K)^2) of one masked pass over context and queries.

Shape legend: B batch, N points, K context points, M queries, D feature dims, T tokens,
C width (n_embd), H heads.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from tart import checkpoint
from tart.transformer import (MLP, PreNorm, SelfAttention, TransformerShape, batched_inputs, check_finite_logits,
                              check_kinds)


@dataclass
class ReasonerConfig(TransformerShape):
    config_name = "reasoner"

    n_dims: int = 16  # feature width d of x (and of the y token)
    n_positions: int = 516  # learned positions, in tokens (2 per labelled point)

    def __post_init__(self) -> None:
        self.check_shape(self.n_dims, self.n_positions)

    @property
    def max_points(self) -> int:
        """Most labelled points a sequence can hold (context points + the one being predicted)."""
        return self.n_positions // 2



TART_PRESETS: dict[str, ReasonerConfig] = {
    "tiny": ReasonerConfig(n_embd=64, n_layer=3, n_head=4),
    "small": ReasonerConfig(n_embd=128, n_layer=6, n_head=4),
    "tart": ReasonerConfig(n_embd=256, n_layer=12, n_head=8),
}


def tart_preset(name: str) -> ReasonerConfig:
    """The config of a named `tart` preset: `tiny` (tests), `small`, `tart` (the original's size)."""
    return checkpoint.preset_config(TART_PRESETS, name, "preset")


class Block(PreNorm):
    """A causal pre-norm layer: attention over the earlier tokens, then the MLP."""

    def __init__(self, cfg: ReasonerConfig):
        super().__init__(cfg, SelfAttention(cfg))
        self.mlp = MLP(cfg)

    def context(self, h_BTC: torch.Tensor):
        """A sequence's tokens, causal (training runs this over whole sequences); also their
        keys/values, which the queries read at prediction."""
        out, kv = self.attn.context(self.ln_1(h_BTC), causal=True)
        h_BTC = h_BTC + out
        return h_BTC + self.mlp(self.ln_2(h_BTC)), kv

    def query(self, h_BMC: torch.Tensor, kv) -> torch.Tensor:
        h_BMC = h_BMC + self.attn.query(self.ln_1(h_BMC), kv)
        return h_BMC + self.mlp(self.ln_2(h_BMC))


class Reasoner(checkpoint.PretrainedMixin, nn.Module):
    """TART's reasoning module. `forward` trains on whole sequences; `predict` serves queries."""

    config_class = ReasonerConfig
    model_type = "tart-reasoner"

    def __init__(self, cfg: ReasonerConfig):
        super().__init__()
        self.config = cfg
        self.read_in = nn.Linear(cfg.n_dims, cfg.n_embd)
        self.wpe = nn.Embedding(cfg.n_positions, cfg.n_embd)
        self.h = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps)
        self.read_out = nn.Linear(cfg.n_embd, 1)
        checkpoint.init_gpt2_weights(self, cfg.n_layer)

    # ---- core ----------------------------------------------------------------------------
    def _y_tokens(self, y_BN: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
        y_BND = torch.zeros_like(like)
        y_BND[..., 0] = y_BN.to(like.dtype)
        return y_BND

    def forward(self, x_BND: torch.Tensor, y_BN: torch.Tensor) -> torch.Tensor:
        """Logits [B, N]: entry i predicts y_i from x_i and the i-1 earlier pairs (causal)."""
        B, N, D = x_BND.shape
        if 2 * N > self.config.n_positions:
            raise ValueError(f"{N} points need {2 * N} positions; model has {self.config.n_positions}")
        tokens_BTD = torch.stack([x_BND, self._y_tokens(y_BN, x_BND)], dim=2).view(B, 2 * N, D)
        h_BTC, _ = self._encode(tokens_BTD)
        return self.read_out(self.ln_f(h_BTC)).squeeze(-1)[:, ::2]

    @torch.no_grad()
    def predict(
        self,
        context_x: torch.Tensor,
        context_y: torch.Tensor,
        query_x: torch.Tensor,
        query_chunk: int = 1024,
        *,
        validate: bool = True,
    ) -> torch.Tensor:
        """Logits [B, M] of M queries given K labelled context points, the context encoded once.

        context_x [B, K, D], context_y [B, K] in {0, 1}, query_x [B, M, D]. Unbatched inputs
        ([K, D], [K], [M, D]) are accepted and give logits [M]. Queries are processed in chunks of
        `query_chunk` to bound memory; each query attends to the context and to itself only.
        `validate=False` skips the input checks (shapes, sizes, finite values, labels) for callers
        that made them already, as `TartClassifier` does.
        """
        context_x, context_y, query_x, unbatched = batched_inputs(
            context_x, context_y, query_x, query_chunk, validate)
        if validate:
            self._check_predict_inputs(context_x, context_y, query_x, query_chunk)
        p = next(self.parameters())
        cx_BKD = context_x.to(p.device, p.dtype)
        cy_BK = context_y.to(p.device, p.dtype)
        qx_BMD = query_x.to(p.device, p.dtype)
        B, K, D = cx_BKD.shape
        ctx_BTD = torch.stack([cx_BKD, self._y_tokens(cy_BK, cx_BKD)], dim=2).view(B, 2 * K, D)
        cache = self._encode(ctx_BTD)[1]
        outs = [
            self._predict_chunk(cache, qx_BMD[:, i : i + query_chunk])
            for i in range(0, qx_BMD.shape[1], query_chunk)
        ]
        logits_BM = torch.cat(outs, dim=1).float()
        if validate:
            check_finite_logits(logits_BM, context_x, query_x, p.dtype)
        return logits_BM[0] if unbatched else logits_BM

    @torch.no_grad()
    def predict_per_query(
        self, context_x: torch.Tensor, context_y: torch.Tensor, query_x: torch.Tensor
    ) -> torch.Tensor:
        """The original's slow way, kept as the reference `predict` is tested and timed against:
        one full forward pass over [context, query] per query. Same inputs and output as predict."""
        self._check_predict_inputs(context_x, context_y, query_x)
        zero_B1 = torch.zeros_like(context_y[:, :1])
        return torch.stack([
            self(torch.cat([context_x, query_x[:, j : j + 1]], 1), torch.cat([context_y, zero_B1], 1))[:, -1]
            for j in range(query_x.shape[1])
        ], dim=1)

    def _encode(self, tokens_BTD: torch.Tensor) -> tuple[torch.Tensor, list]:
        """A sequence's hidden states under causal attention (SDPA picks its flash kernel) and its
        per-layer (keys, values): `forward` reads the first, `predict` the second (once per context)."""
        h_BTC = self.read_in(tokens_BTD) + self.wpe(torch.arange(tokens_BTD.shape[1], device=tokens_BTD.device))
        cache = []
        for block in self.h:
            h_BTC, kv = block.context(h_BTC)
            cache.append(kv)
        return h_BTC, cache

    def _predict_chunk(self, cache: list, qx_BMD: torch.Tensor) -> torch.Tensor:
        """Every query at position T (the context's length), attending to the cache and itself."""
        T = cache[0][0].shape[2]
        h_BMC = self.read_in(qx_BMD) + self.wpe(torch.tensor(T, device=qx_BMD.device))
        for block, kv in zip(self.h, cache):
            h_BMC = block.query(h_BMC, kv)
        return self.read_out(self.ln_f(h_BMC)).squeeze(-1)

    def _check_predict_inputs(self, cx: torch.Tensor, cy: torch.Tensor, qx: torch.Tensor, query_chunk: int = 1) -> None:
        check_kinds(cx, cy, qx, query_chunk)
        d = self.config.n_dims
        if cx.dim() != 3 or qx.dim() != 3 or cy.dim() != 2:
            raise ValueError(
                "expected context_x [B, K, D], context_y [B, K], query_x [B, M, D]; got shapes "
                f"{tuple(cx.shape)}, {tuple(cy.shape)}, {tuple(qx.shape)}"
            )
        if cx.shape[-1] != d or qx.shape[-1] != d:
            raise ValueError(
                f"feature dimension mismatch: model expects D={d}, got context D={cx.shape[-1]}, "
                f"query D={qx.shape[-1]}"
            )
        if cx.shape[:2] != cy.shape or cx.shape[0] != qx.shape[0]:
            raise ValueError(
                f"batch/context sizes disagree: context_x {tuple(cx.shape)}, context_y "
                f"{tuple(cy.shape)}, query_x {tuple(qx.shape)}"
            )
        k, m = cx.shape[1], qx.shape[1]
        if k == 0:
            raise ValueError("the context is empty (K = 0): give at least one labelled example")
        if m == 0:
            raise ValueError("the query set is empty (M = 0): nothing to predict")
        if k + 1 > self.config.max_points:
            raise ValueError(
                f"context of {k} points is too long: this model holds at most "
                f"{self.config.max_points - 1} context points ({self.config.n_positions} positions)"
            )
        for name, t in (("context_x", cx), ("query_x", qx), ("context_y", cy)):
            if not torch.isfinite(t).all():
                raise ValueError(f"{name} contains NaN or inf values")
        if not ((cy == 0) | (cy == 1)).all():
            bad = torch.unique(cy[(cy != 0) & (cy != 1)])[:5].tolist()
            raise ValueError(f"context_y must hold labels in {{0, 1}}; found {bad}")
