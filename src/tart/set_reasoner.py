"""tart-2: a permutation-invariant, multi-class reasoning module ("set" layout, as in TabPFN).

One token per example: a read-in of x plus a learned label embedding (index `n_classes` is the
"unknown" label every query carries). Context tokens attend to all context tokens; each query
attends to the context and to itself only. There are no positional embeddings, so the output does
not depend on the order of the context, any number of context points works, and queries never see
each other: predicting m queries together is exactly the same as predicting them one at a time.
A read-out gives `n_classes` logits per query; classes a task does not use are masked out.

With `label_codes`, no weight belongs to one class: class c is a fixed random code (a buffer drawn
from a fixed seed, not stored), read in and out through learned maps (a query's logit for c is
its final state against the mapped code of c), and training puts each task's classes in random
slots of the `n_classes` codes (`assign_slots`). The module then reads any class count up to
`n_classes` in one pass (trained on tasks of 2 to the prior's `max_classes`), every slot alike.

Every layer splits in two: `context` (full attention among the K context tokens, whose keys and
values it returns) and `query` (M queries attend to those keys/values plus their own). So
`predict` encodes the context once and runs any number of query chunks against its cache.

Shape legend: B batch (tasks), K context points, M queries, D feature dims, C width (n_embd),
H heads, c head width, L classes (n_classes).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import torch
import torch.nn as nn
import torch.nn.functional as F

from tart import checkpoint
from tart.projection import WHITEN_MAPS, map_firsts
from tart.transformer import (PreNorm, SelfAttention, TransformerShape, batched_inputs, check_finite_logits,
                              check_kinds)

MODEL_TYPE = "tart-set-reasoner"
CODE_SEED = 20231  # the label codes' seed (`label_codes`): fixed, so the codes need not be stored


@dataclass
class SetReasonerConfig(TransformerShape):
    config_name = "set-reasoner"
    added_keys = ("whiten_map", "label_codes", "map_first")  # absent from folders saved before they existed: the default
    map_keys = ("whiten_map", "map_first")  # how the input map is fitted: they shape what it reads, not the weights

    n_embd: int = 128
    n_layer: int = 6
    n_head: int = 4
    n_dims: int = 64  # feature width d (fewer real dims are zero-filled)
    n_classes: int = 10  # most classes one task can have (C_max)
    # its input map whitens within its dims (fit_set_map(whiten=True)); "both": trained on both
    # maps, it reads each context through both and averages the two predictions
    whiten_map: bool | str = False
    # its input map's leading rows: the class means' directions ("means") or the context's logistic
    # regressions' ("logistic"; fit_set_map(first=...)); "both": trained on the maps of BOTH_FIRSTS,
    # it reads each context through both, weighed on the context as the whitened and unwhitened maps
    map_first: str = "means"
    # class-count-free labels: fixed random codes read in and out by learned maps (module docstring)
    label_codes: bool = False

    def __post_init__(self) -> None:
        self.check_shape(self.n_dims)
        if self.whiten_map not in WHITEN_MAPS:
            raise ValueError(f'whiten_map must be false, true or "both", got {self.whiten_map!r}')
        map_firsts(self.map_first)  # a clear error for an unknown value
        if self.n_classes < 2:
            raise ValueError(f"n_classes must be >= 2, got {self.n_classes}")


TART2_PRESETS: dict[str, SetReasonerConfig] = {
    "tiny": SetReasonerConfig(n_dims=16, n_classes=4, n_embd=32, n_layer=2, n_head=2),
    "cpu": SetReasonerConfig(n_embd=128, n_layer=6, n_head=4),  # what 2 CPU cores train in hours
    "full": SetReasonerConfig(n_embd=256, n_layer=12, n_head=8),  # ~10 min of one H100/H200
}


def tart2_preset(name: str) -> SetReasonerConfig:
    """The config of a named tart-2 preset: `tiny` (tests), `cpu`, `full` (GPU)."""
    return checkpoint.preset_config(TART2_PRESETS, name, "tart-2 preset")


def deepened(model: SetReasoner, n_layer: int) -> SetReasoner:
    """A deeper copy of `model` that computes exactly what it computes: after each of its layers
    come copies of that layer whose residual projections (`c_proj`) are zero, so each new layer
    adds nothing until training moves those projections (function-preserving growth)."""
    old = model.config.n_layer
    if n_layer < old or n_layer % old:
        raise ValueError(f"n_layer must be a multiple of the module's {old} layers, got {n_layer}")
    copies = n_layer // old
    state = model.state_dict()
    grown = {k: v for k, v in state.items() if not k.startswith("h.")}
    for i in range(n_layer):  # layer i of the new module is a copy of layer i // copies
        prefix = f"h.{i // copies}."
        grown.update({f"h.{i}.{k[len(prefix):]}": v for k, v in state.items() if k.startswith(prefix)})
    new = SetReasoner(replace(model.config, n_layer=n_layer)).to(next(model.parameters()).dtype)
    new.load_state_dict(grown)  # strict: every weight of the new module comes from `model`
    with torch.no_grad():
        for block in (b for i, b in enumerate(new.h) if i % copies):
            for proj in (block.attn.c_proj, block.c_proj):
                proj.weight.zero_()
                proj.bias.zero_()
    return new


class SetBlock(PreNorm):
    """A full-attention pre-norm layer (no causal mask): attention, then the MLP."""

    def __init__(self, cfg: SetReasonerConfig):
        super().__init__(cfg, SelfAttention(cfg))
        self.c_fc = nn.Linear(cfg.n_embd, cfg.mlp_ratio * cfg.n_embd)
        self.c_proj = nn.Linear(cfg.mlp_ratio * cfg.n_embd, cfg.n_embd)

    def _mlp(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.c_proj(F.gelu(self.c_fc(self.ln_2(h)), approximate="tanh"))

    def context(self, h_BKC: torch.Tensor):
        out, kv = self.attn.context(self.ln_1(h_BKC), causal=False)
        return self._mlp(h_BKC + out), kv

    def query(self, h_BMC: torch.Tensor, kv) -> torch.Tensor:
        return self._mlp(h_BMC + self.attn.query(self.ln_1(h_BMC), kv))


class SetReasoner(checkpoint.PretrainedMixin, nn.Module):
    """tart-2. `forward(context_x, context_y, query_x, n_classes)` trains; `predict` serves."""

    config_class = SetReasonerConfig
    model_type = MODEL_TYPE

    def __init__(self, cfg: SetReasonerConfig):
        super().__init__()
        self.config = cfg
        self.read_in = nn.Linear(cfg.n_dims, cfg.n_embd)
        if cfg.label_codes:
            g = torch.Generator().manual_seed(CODE_SEED)
            self.register_buffer("codes", torch.randn(cfg.n_classes, cfg.n_embd, generator=g) / math.sqrt(cfg.n_embd),
                                 persistent=False)
            self.label_in = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
            self.label_out = nn.Linear(cfg.n_embd, cfg.n_embd, bias=False)
            self.unknown = nn.Parameter(torch.zeros(cfg.n_embd))
        else:
            self.label_emb = nn.Embedding(cfg.n_classes + 1, cfg.n_embd)  # last row: "unknown"
        self.h = nn.ModuleList(SetBlock(cfg) for _ in range(cfg.n_layer))
        self.ln_f = nn.LayerNorm(cfg.n_embd, eps=cfg.layer_norm_eps)
        if not cfg.label_codes:
            self.read_out = nn.Linear(cfg.n_embd, cfg.n_classes)
        checkpoint.init_gpt2_weights(self, cfg.n_layer)
        if cfg.label_codes:
            nn.init.normal_(self.unknown, std=0.02)

    def _labels(self, y_BK: torch.Tensor) -> torch.Tensor:
        """The label part of context tokens [B, K, C]."""
        if self.config.label_codes:
            return self.label_in(self.codes[y_BK])
        return self.label_emb(y_BK)

    def _unknown(self, shape: torch.Size, device) -> torch.Tensor:
        """The label part of query tokens ("unknown") [B, M, C]."""
        if self.config.label_codes:
            return self.unknown.expand(*shape, -1)
        return self.label_emb(torch.full(shape, self.config.n_classes, device=device))

    def _read_out(self, h_BMC: torch.Tensor) -> torch.Tensor:
        if self.config.label_codes:
            return self.ln_f(h_BMC) @ self.label_out(self.codes).transpose(0, 1)
        return self.read_out(self.ln_f(h_BMC))

    # ---- core ----------------------------------------------------------------------------
    def encode_context(self, cx_BKD: torch.Tensor, cy_BK: torch.Tensor) -> list:
        """Per-layer (keys, values) of the context: computed once, read by every query."""
        h_BKC = self.read_in(cx_BKD) + self._labels(cy_BK.long())
        cache = []
        for block in self.h:
            h_BKC, kv = block.context(h_BKC)
            cache.append(kv)
        return cache

    def decode_queries(self, qx_BMD: torch.Tensor, cache: list) -> torch.Tensor:
        """Logits [B, M, n_classes] of queries against an encoded context."""
        h_BMC = self.read_in(qx_BMD) + self._unknown(qx_BMD.shape[:2], qx_BMD.device)
        for block, kv in zip(self.h, cache):
            h_BMC = block.query(h_BMC, kv)
        return self._read_out(h_BMC)

    def forward(
        self, cx_BKD: torch.Tensor, cy_BK: torch.Tensor, qx_BMD: torch.Tensor,
        n_classes_B: torch.Tensor | None = None, used_BL: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Logits [B, M, n_classes]; with `n_classes_B`, classes >= a task's count are -inf; with
        `used_BL` (bool), the classes it does not mark are (a task's classes in slots)."""
        logits_BML = self.decode_queries(qx_BMD, self.encode_context(cx_BKD, cy_BK))
        if n_classes_B is not None:
            used_BL = torch.arange(self.config.n_classes, device=logits_BML.device) < n_classes_B[:, None]
        if used_BL is None:
            return logits_BML
        return logits_BML.masked_fill(~used_BL[:, None, :], float("-inf"))

    @torch.no_grad()
    def predict(
        self, context_x: torch.Tensor, context_y: torch.Tensor, query_x: torch.Tensor,
        n_classes: int | None = None, query_chunk: int = 2048, *, validate: bool = True,
    ) -> torch.Tensor:
        """Logits [B, M, n_classes] of M queries given K labelled context points.

        context_x [B, K, D] (D <= the module's n_dims; narrower inputs are zero-filled),
        context_y [B, K] integer labels in [0, n_classes), query_x [B, M, D]. `n_classes`
        defaults to max(context_y) + 1. Unbatched inputs ([K, D], [K], [M, D]) give [M, n_classes].
        The context is encoded once; queries run in chunks of `query_chunk` against it.
        With `validate=False` none of these is checked (a caller that checked, e.g. `TartClassifier`,
        then gives `n_classes`).
        """
        context_x, context_y, query_x, unbatched = batched_inputs(
            context_x, context_y, query_x, query_chunk, validate)
        if validate:
            n_classes = self._check_predict_inputs(context_x, context_y, query_x, n_classes, query_chunk)
        elif n_classes is None:
            n_classes = int(context_y.max()) + 1
        p = next(self.parameters())
        cx_BKD, qx_BMD = (self._widen(t.to(p.device, p.dtype)) for t in (context_x, query_x))
        cache = self.encode_context(cx_BKD, context_y.to(p.device).long())
        logits_BML = torch.cat([
            self.decode_queries(qx_BMD[:, i : i + query_chunk], cache)
            for i in range(0, qx_BMD.shape[1], query_chunk)
        ], dim=1)[..., :n_classes].float()
        if validate:
            check_finite_logits(logits_BML, context_x, query_x, p.dtype)
        return logits_BML[0] if unbatched else logits_BML

    def _widen(self, x_BND: torch.Tensor) -> torch.Tensor:
        return F.pad(x_BND, (0, self.config.n_dims - x_BND.shape[-1]))

    def _check_predict_inputs(self, cx, cy, qx, n_classes: int | None, query_chunk: int = 1) -> int:
        check_kinds(cx, cy, qx, query_chunk)
        d, limit = self.config.n_dims, self.config.n_classes
        if cx.dim() != 3 or qx.dim() != 3 or cy.dim() != 2:
            raise ValueError(
                "expected context_x [B, K, D], context_y [B, K], query_x [B, M, D]; got shapes "
                f"{tuple(cx.shape)}, {tuple(cy.shape)}, {tuple(qx.shape)}")
        if cx.shape[-1] != qx.shape[-1]:
            raise ValueError(f"context has D={cx.shape[-1]} features but queries have D={qx.shape[-1]}")
        if cx.shape[-1] > d:
            raise ValueError(f"features are {cx.shape[-1]} wide but this module reads at most {d} "
                             "(project them first, e.g. with tart.projection.SetMap)")
        if cx.shape[:2] != cy.shape or cx.shape[0] != qx.shape[0]:
            raise ValueError(f"batch/context sizes disagree: context_x {tuple(cx.shape)}, "
                             f"context_y {tuple(cy.shape)}, query_x {tuple(qx.shape)}")
        if cx.shape[1] == 0:
            raise ValueError("the context is empty (K = 0): give at least one labelled example")
        if qx.shape[1] == 0:
            raise ValueError("the query set is empty (M = 0): nothing to predict")
        for name, t in (("context_x", cx), ("query_x", qx), ("context_y", cy)):
            if not torch.isfinite(t).all():
                raise ValueError(f"{name} contains NaN or inf values")
        if cy.is_floating_point() and not (cy == cy.round()).all():
            raise ValueError("context_y must hold integer class labels")
        if cy.min() < 0 or cy.max() >= limit:
            raise ValueError(f"context_y must hold labels in [0, {limit}) for this module "
                             f"(it has {limit} classes); found {cy.min().item()}..{cy.max().item()}")
        n_classes = int(cy.max().item()) + 1 if n_classes is None else int(n_classes)
        if not 2 <= n_classes <= limit:
            raise ValueError(f"n_classes must be in [2, {limit}] for this module, got {n_classes}")
        if cy.max() >= n_classes:
            raise ValueError(f"context_y has label {int(cy.max())} but n_classes is {n_classes}")
        return n_classes
