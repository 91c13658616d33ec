"""Text embedders: a causal LM in TART's three modes, and a sentence-transformers encoder.

Every vector is the mean of the model's last hidden layer over a span of real tokens (never
padding). The causal-LM modes follow the original TART code (HazyResearch/TART, embed_utils.py):

- `stream`: each text alone; mean over all its tokens.
- `vanilla`: one prompt of the k labelled examples, `Sentence: {text}\\nLabel: {label}\\n` each;
  example i's vector is the mean over its span in that prompt (never the label word).
- `loo` (leave-one-out): k prompts, prompt i holds the other k-1 labelled examples in order
  and then example i unlabelled; example i's vector is the mean over its span there.
- test items (vanilla and loo): the k-example prompt followed by `Sentence: {text}`, mean over
  the test text's span. The k-example prompt runs once; its key/value cache is reused for
  every batch of test texts (the original ran one full forward pass per test text).

`span="text"` (default) pools exactly the example's text tokens; `span="segment"` pools the
whole example segment up to the label word (`Sentence: {text}\\nLabel:`), which is the
original's choice except that the newline closing the previous example is not included.
Spans come from the tokenizer's offset mapping; each example segment is tokenised on its own
and the ids concatenated (for byte-level BPE tokenizers, e.g. SmolLM2's, this equals tokenising
the whole prompt, since segments meet at a newline). The prompts run through
`tart.embed.prompted.PromptedLM` (prefix cache, padded batches).

Legend: B batch, T tokens, P prefix (context prompt) tokens, D hidden width.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from tart.embed.prompted import DEFAULT_TEMPLATE, KV, PromptedLM, Template, clip_chars
from tart.embed.protocol import check_texts
from tart.embed.names import locate
from tart.embed.runtime import (dtype_name, model_ident, resolve_device, resolve_dtype,
                                weights_fingerprint)

__all__ = ["CausalLMEmbedder", "SentenceEmbedder", "Piece", "DEFAULT_MAX_CHARS", "MODES"]

# The original cut every text to 100 characters. For `stream` we measured (see
# CausalLMEmbedder) and keep more; in-context modes keep 100 so k=256 prompts fit the window.
DEFAULT_MAX_CHARS = {"stream": 512, "vanilla": 100, "loo": 100}
MODES = ("stream", "vanilla", "loo")
_PROGRESS_TOKENS = 1 << 16  # auto progress bar above this many tokens of work


def _show(flag: bool | None, work_tokens: int) -> bool:
    return work_tokens >= _PROGRESS_TOKENS if flag is None else flag


@dataclass
class Piece:
    """A tokenised prompt segment; spans are [start, end) token indices local to `ids`."""

    ids: list[int]
    text: tuple[int, int]
    segment: tuple[int, int]  # the text's whole segment, up to (not including) any label word
    tail: int = 0  # tokens after the label word (the newline that the next segment's span takes)

    def span(self, kind: str) -> tuple[int, int]:
        return self.text if kind == "text" else self.segment


def _token_span(offsets: list[tuple[int, int]], start: int, end: int) -> tuple[int, int]:
    """Indices [a, b) of the tokens whose characters overlap [start, end)."""
    hit = [i for i, (s, e) in enumerate(offsets) if e > start and s < end and e > s]
    if not hit:
        raise ValueError(f"no token covers characters [{start}, {end})")
    return hit[0], hit[-1] + 1


class CausalLMEmbedder:
    """Mean-pooled last hidden layer of a causal LM (transformers), in TART's text modes.

    model: a local folder or hub id (or a loaded `PreTrainedModel` with `tokenizer=`).
    mode: "stream" | "vanilla" | "loo" (see the module docstring).
    max_chars: cut each stripped text to this many characters; "auto" = 512 for stream and 100
        (the original's cut) for vanilla/loo, so prompts of 256 examples fit the window.
        In a logistic-regression probe on amazon_food reviews (stream mode), longer cuts scored
        higher up to 512, hence 512.
    max_tokens: also cut each text to this many tokens (None = no limit).
    batch_size: sequences per forward pass; batches are also capped at `max_batch_tokens`
        padded tokens (prefix included) to bound memory.
    device / dtype: default cuda if available; bf16 on cuda and on CPUs with AMX bf16 (Sapphire
        Rapids and later, where it is faster than fp32 and scored the same), fp32 on other CPUs.
        Output is float32.
    span: "text" (exactly the text's tokens) or "segment" (up to the label word), in-context modes.
    compile: stream mode only: `torch.compile` each decoder layer (dynamic shapes; the layers
        share one compiled graph). Compiling takes seconds once per process, so it pays for
        thousands of texts (`tart bench-embed --compile` measures it). Needs a C++ compiler on
        CPU; if compiling fails the embedder warns and runs eagerly.
    """

    def __init__(
        self,
        model: str | Path | Any,
        mode: str = "stream",
        max_chars: int | None | str = "auto",
        max_tokens: int | None = None,
        batch_size: int = 16,
        device: str | torch.device | None = None,
        dtype: str | torch.dtype | None = None,
        template: str = DEFAULT_TEMPLATE,
        span: str = "text",
        show_progress_bar: bool | None = None,
        max_batch_tokens: int = 8192,
        tokenizer: Any = None,
        compile: bool = False,
    ):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if span not in ("text", "segment"):
            raise ValueError(f"span must be 'text' or 'segment', not {span!r}")
        self.parts = Template.parse(template)
        for name, v in (("max_tokens", max_tokens), ("batch_size", batch_size)):
            if v is not None and (not isinstance(v, int) or v < 1):
                raise ValueError(f"{name} must be a positive int, not {v!r}")
        self.mode, self.span, self.template = mode, span, template
        self.max_chars = DEFAULT_MAX_CHARS[mode] if max_chars == "auto" else max_chars
        self.max_tokens, self.batch_size = max_tokens, batch_size
        self.max_batch_tokens, self.show_progress_bar = max_batch_tokens, show_progress_bar
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        if compile and mode != "stream":
            raise ValueError("compile=True applies to mode='stream' only (the in-context modes "
                             "extend a key/value cache, which recompiles for every layer)")
        self._load(locate(model), tokenizer)
        if compile:
            self.lm.compile()
        self.context_dependent = mode != "stream"
        self.dim = self.model.config.hidden_size
        self.window = self.lm.window
        tmpl = hashlib.sha256(template.encode()).hexdigest()[:8] if self.context_dependent else "-"
        self.cache_key = (
            f"causal-lm:{self._ident}|mode={mode}|span={span if self.context_dependent else '-'}"
            f"|template={tmpl}|max_chars={self.max_chars}|max_tokens={max_tokens}"
            f"|pool=mean-last|dtype={dtype_name(self.dtype)}"
        )

    # ---------------------------------------------------------------- loading

    def _load(self, model: Any, tokenizer: Any) -> None:
        from transformers import AutoModel, AutoTokenizer

        source = model if isinstance(model, (str, Path)) else None
        if source is not None:
            name = str(model)
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(name)
            model = AutoModel.from_pretrained(name, dtype=self.dtype)
        elif tokenizer is None:
            raise ValueError("pass tokenizer= with a loaded model")
        else:
            name = getattr(model.config, "_name_or_path", "") or type(model).__name__
        self.name_or_path = name
        # the weights as loaded (before any dtype cast): the model folder's sha256, a hub commit,
        # or for a loaded module a digest of its tensors
        self.fingerprint = weights_fingerprint(source, model)
        self.model = model.base_model.to(self.device, self.dtype).eval()  # no LM head needed
        self.lm = PromptedLM(self.model, tokenizer, self.device)
        self.tokenizer = tokenizer
        self._ident = model_ident(name, self.model.config, self.fingerprint)

    @property
    def compiled(self) -> bool:
        """Whether the decoder layers run compiled (False after a failed compile)."""
        return self.lm.compiled

    def __repr__(self) -> str:
        return f"CausalLMEmbedder({self.name_or_path!r}, mode={self.mode!r})"

    # ---------------------------------------------------------------- text -> tokens

    def clip(self, texts: list[str]) -> list[str]:
        """Each text stripped and cut to max_chars characters and max_tokens tokens."""
        texts = [clip_chars(t, self.max_chars) for t in texts]
        for i, t in enumerate(texts):
            if not t:
                raise ValueError(f"item {i} is empty (or only whitespace): nothing to embed")
        if self.max_tokens is None:
            return texts
        enc = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        return [t if len(off) <= self.max_tokens else t[: off[self.max_tokens - 1][1]]
                for t, off in zip(texts, enc["offset_mapping"])]

    def pieces(self, texts: list[str], labels: list[str] | None, query: bool = False) -> list[Piece]:
        """Tokenise one segment per text: labelled, unlabelled (loo: up to `Label:`) or query."""
        t, pieces = self.parts, []
        for i, text in enumerate(texts):
            head = t.pre + text
            if labels is not None:
                s = t.example(text, labels[i])
                label_at = len(head) + len(t.mid)
            elif query:  # a test item: the original appends `Sentence: {text}` only
                s, label_at = head, len(head)
            else:  # loo's held-out example: its segment up to the (absent) label word
                s = t.question(text)
                label_at = len(s)
            pieces.append(self._tokenize_piece(s, len(t.pre), len(head), label_at))
        return pieces

    def _tokenize_piece(self, s: str, t0: int, t1: int, label_at: int) -> Piece:
        if not getattr(self.tokenizer, "is_fast", False):  # no offsets: tokenise parts apart
            parts = [s[:t0], s[t0:t1], s[t1:label_at], s[label_at:]]
            ids = [self.tokenizer(p, add_special_tokens=False)["input_ids"] if p else [] for p in parts]
            a, b, c = len(ids[0]), len(ids[0]) + len(ids[1]), sum(map(len, ids[:3]))
            tail = len(self.tokenizer(self.parts.post, add_special_tokens=False)["input_ids"])
            return Piece(sum(ids, []), (a, b), (0, c), tail if len(ids[3]) else 0)
        enc = self.tokenizer(s, add_special_tokens=False, return_offsets_mapping=True)
        off = [tuple(o) for o in enc["offset_mapping"]]
        seg_end = next((i for i, (st, e) in enumerate(off) if e > label_at and e > st), len(off))
        label_end = len(s) - len(self.parts.post)
        tail = sum(1 for st, e in off if st >= label_end and e > st) if seg_end < len(off) else 0
        return Piece(list(enc["input_ids"]), _token_span(off, t0, t1), (0, seg_end), tail)

    # ---------------------------------------------------------------- pooling

    @torch.inference_mode()
    def _pool(self, seqs: list[list[int]], spans: list[list[tuple[int, int]]], *,
              prefix: KV | None = None, lead_LD: torch.Tensor | None = None,
              batch_size: int | None = None, progress: bool | None = None,
              desc: str = "embedding") -> np.ndarray:
        """Mean hidden state over each span of each sequence -> [sum of spans, D] float32.

        `prefix` is a key/value cache that every sequence continues; `lead_LD` are prefix hidden
        states that every span also averages over (segment spans).
        """
        lead_sum_D = None if lead_LD is None else lead_LD.sum(0)
        n_lead = 0 if lead_LD is None else len(lead_LD)
        P = 0 if prefix is None else prefix[0][0].shape[-2]
        starts = np.cumsum([0] + [len(s) for s in spans])
        out = np.zeros((starts[-1], self.dim), np.float32)
        work = sum(len(s) + P for s in seqs)
        for batch, hidden_BTD in self.lm.batches(
                seqs, batch_size or self.batch_size, prefix=prefix,
                max_batch_tokens=self.max_batch_tokens, progress=_show(progress, work), desc=desc):
            hidden_BTD = hidden_BTD.float()
            for b, j in enumerate(batch):
                for s, (a, e) in enumerate(spans[j]):
                    sum_D = hidden_BTD[b, a:e].sum(0)
                    if lead_sum_D is not None:
                        sum_D = sum_D + lead_sum_D
                    out[starts[j] + s] = (sum_D / (e - a + n_lead)).cpu().numpy()
        return out

    # ---------------------------------------------------------------- public API

    def encode(self, items: Sequence[str], *, batch_size: int | None = None,
               show_progress_bar: bool | None = None) -> np.ndarray:
        """Stream mode: each text alone -> [n, D] float32 (batched, sorted by length)."""
        if self.context_dependent:
            raise TypeError(
                f"mode {self.mode!r} embeds items inside the labelled context: call "
                "encode_with_context(context_items, context_label_words, query_items), "
                "or use mode='stream'"
            )
        texts = self.clip(check_texts(items))
        seqs = self.tokenizer(texts, add_special_tokens=True)["input_ids"]
        for s in seqs:
            self.lm.check_window(len(s), "a text")
        spans = [[(0, len(s))] for s in seqs]
        flag = self.show_progress_bar if show_progress_bar is None else show_progress_bar
        return self._pool(seqs, spans, batch_size=batch_size, progress=flag)

    def _span(self, start: int, piece: Piece, prev: Piece | None) -> tuple[int, int]:
        """Global token span of `piece` placed at `start`; a segment also takes the previous
        segment's tail after its label word (or the prompt's start), as the original did."""
        a, b = piece.span(self.span)
        if self.span == "segment":
            a = start - prev.tail if prev is not None else 0
            return a, start + b
        return start + a, start + b

    def encode_with_context(self, context_items: Sequence[str], context_label_words: Sequence[str],
                            query_items: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
        """Vanilla/loo: vectors of the k context items [k, D] and the m query items [m, D]."""
        ctx = self.clip(check_texts(context_items, "context_items"))
        labels = check_texts(context_label_words, "context_label_words")
        queries = check_texts(query_items, "query_items", allow_empty=True)
        queries = self.clip(queries) if queries else []
        if len(labels) != len(ctx):
            raise ValueError(f"{len(ctx)} context items but {len(labels)} label words")
        if any(not w.strip() for w in labels):
            raise ValueError("context label words must be non-empty")
        pieces = self.pieces(ctx, labels)
        bos = self.lm.bos
        starts = np.cumsum([len(bos)] + [len(p.ids) for p in pieces])
        prompt = bos + sum((p.ids for p in pieces), [])
        self.lm.check_window(len(prompt), f"the prompt of {len(ctx)} labelled examples")
        flag = self.show_progress_bar
        need_prefix = self.mode == "vanilla" or queries
        if need_prefix:
            hidden_PD, kv = self.lm.prefix(prompt)
            hidden_PD = hidden_PD.float()
        if self.mode == "vanilla":
            spans = [self._span(starts[i], p, pieces[i - 1] if i else None)
                     for i, p in enumerate(pieces)]
            ctx_KD = torch.stack([hidden_PD[a:b].mean(0) for a, b in spans]).cpu().numpy()
        else:  # loo: prompt i = the other labelled examples, then example i without its label
            held = self.pieces(ctx, None)
            seqs, spans = [], []
            for i, p in enumerate(held):
                others = [q for j, q in enumerate(pieces) if j != i]
                ids = bos + sum((q.ids for q in others), [])
                spans.append([self._span(len(ids), p, others[-1] if others else None)])
                seqs.append(ids + p.ids)
                self.lm.check_window(len(seqs[-1]), f"leave-one-out prompt {i}")
            ctx_KD = self._pool(seqs, spans, progress=flag, desc="loo prompts")
        if not queries:
            return ctx_KD.astype(np.float32), np.zeros((0, self.dim), np.float32)
        qp = self.pieces(queries, None, query=True)
        self.lm.check_window(len(prompt) + max(len(p.ids) for p in qp), "prompt + longest query")
        lead = hidden_PD[len(prompt) - pieces[-1].tail:] if self.span == "segment" else None
        qry_MD = self._pool([p.ids for p in qp], [[p.span(self.span)] for p in qp], prefix=kv,
                            lead_LD=lead, progress=flag, desc="queries")
        return ctx_KD.astype(np.float32), qry_MD


class SentenceEmbedder:
    """A sentence-transformers model (e.g. all-MiniLM-L6-v2): its own pooling, float32 numpy.

    `max_chars` (default None) cuts stripped texts; the model also truncates at its own
    max_seq_length. `normalize=True` returns unit-length vectors.
    """

    context_dependent = False

    def __init__(self, model: str | Path, batch_size: int = 32, device: str | None = None,
                 normalize: bool = False, max_chars: int | None = None, mode: str = "stream",
                 dtype: str | torch.dtype | None = None, show_progress_bar: bool | None = None):
        from sentence_transformers import SentenceTransformer

        if mode != "stream":
            raise ValueError(f"a sentence encoder embeds each text alone: mode must be 'stream', "
                             f"not {mode!r}")
        self.device = resolve_device(device)
        model = locate(model)
        self.mode, self.batch_size, self.normalize, self.max_chars = mode, batch_size, normalize, max_chars
        self.show_progress_bar = show_progress_bar
        self.model = SentenceTransformer(str(model), device=str(self.device))
        if dtype is not None:
            self.model.to(resolve_dtype(dtype, self.device))
        self.model.eval()
        dim_fn = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dim = dim_fn()
        self.name_or_path = str(model)
        auto = getattr(self.model[0], "auto_model", None)
        self.fingerprint = weights_fingerprint(model, auto if auto is not None else self.model)
        ident = model_ident(str(model), getattr(auto, "config", None), self.fingerprint)
        self.cache_key = (f"sentence:{ident}|max_chars={max_chars}|normalize={normalize}"
                          f"|max_seq_length={self.model.max_seq_length}|dtype={dtype or 'float32'}")

    def __repr__(self) -> str:
        return f"SentenceEmbedder({self.name_or_path!r})"

    def encode(self, items: Sequence[str], *, batch_size: int | None = None,
               show_progress_bar: bool | None = None) -> np.ndarray:
        texts = [clip_chars(t, self.max_chars) for t in check_texts(items)]
        flag = self.show_progress_bar if show_progress_bar is None else show_progress_bar
        vecs = self.model.encode(
            texts, batch_size=batch_size or self.batch_size,
            show_progress_bar=bool(flag) if flag is not None else len(texts) >= 1024,
            convert_to_numpy=True, normalize_embeddings=self.normalize,
        )
        return np.asarray(vecs, dtype=np.float32)
