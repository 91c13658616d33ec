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
the whole prompt, since segments meet at a newline).

Legend: B batch, T tokens, P prefix (context prompt) tokens, D hidden width.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from tart.embed.base import check_texts

__all__ = ["CausalLMEmbedder", "SentenceEmbedder", "DEFAULT_TEMPLATE", "DEFAULT_MAX_CHARS"]

DEFAULT_TEMPLATE = "Sentence: {text}\nLabel: {label}\n"
# The original cut every text to 100 characters. For `stream` we measured (see
# CausalLMEmbedder) and keep more; in-context modes keep 100 so k=256 prompts fit the window.
DEFAULT_MAX_CHARS = {"stream": 512, "vanilla": 100, "loo": 100}
MODES = ("stream", "vanilla", "loo")
_PROGRESS_TOKENS = 1 << 16  # auto progress bar above this many tokens of work


def resolve_device(device: str | torch.device | None) -> torch.device:
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def cpu_has_fast_bf16() -> bool:
    """True on CPUs with AMX tiles and AVX512-BF16 (Intel Sapphire Rapids and later)."""
    try:
        return bool(torch.cpu._is_amx_tile_supported() and torch.cpu._is_avx512_bf16_supported())
    except AttributeError:  # older torch without these probes
        return False


def resolve_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """Auto: bf16 on CUDA and on CPUs with AMX bf16, fp32 elsewhere; or as given ("float32", ...)."""
    if dtype is None or dtype == "auto":
        fast = device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())
        return torch.bfloat16 if fast else torch.float32
    return getattr(torch, dtype) if isinstance(dtype, str) else dtype


def _model_ident(name_or_path: str, config: Any) -> str:
    """A short identity for cache keys: the path or hub id plus a hash of the config."""
    cfg = json.dumps(config.to_dict(), sort_keys=True, default=str)
    return f"{name_or_path}#{hashlib.sha256(cfg.encode()).hexdigest()[:10]}"


def _clip_chars(text: str, max_chars: int | None) -> str:
    text = text.strip()
    return text if max_chars is None else text[:max_chars]


def _show(flag: bool | None, work_tokens: int) -> bool:
    return work_tokens >= _PROGRESS_TOKENS if flag is None else flag


@dataclass
class _Piece:
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
        Measured on amazon_food, SmolLM2 stream, logistic regression on 200 train reviews,
        300 test reviews, mean of 3 draws (majority 0.677): 100 chars 0.643, 256 chars 0.703,
        512 chars 0.739 (median review 283 chars, p90 896), hence 512.
    max_tokens: also cut each text to this many tokens (None = no limit).
    batch_size: sequences per forward pass; batches are also capped at `max_batch_tokens`
        padded tokens (prefix included) to bound memory.
    device / dtype: default cuda if available; bf16 on cuda and on CPUs with AMX bf16 (Sapphire
        Rapids and later: ~3-4x faster than fp32 there, and it scored the same as fp32 in the
        probe above, 0.739 at 512 chars), fp32 on other CPUs. Output is float32.
    span: "text" (exactly the text's tokens) or "segment" (up to the label word), in-context modes.
    compile: stream mode only: `torch.compile` each decoder layer (dynamic shapes; the layers
        share one compiled graph). Worth it for thousands of texts: on 2 CPU cores (AMX)
        compiling took 7-8 s once per process and `tart bench-embed --compile` gave 4.21-5.33x
        where eager runs just before gave 3.60-3.83x (README). Needs a C++ compiler on CPU; if
        compiling fails the embedder warns and runs eagerly.
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
        if "{text}" not in template or "{label}" not in template or \
                template.index("{text}") > template.index("{label}"):
            raise ValueError("template must contain {text} and then {label}")
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
        self._load(model, tokenizer)
        self.compiled = bool(compile)
        if self.compiled:
            self._compile_layers()
        self.context_dependent = mode != "stream"
        self.dim = self.model.config.hidden_size
        self.window = (getattr(self.model.config, "max_position_embeddings", None)
                       or getattr(self.model.config, "n_positions", None))
        tmpl = hashlib.sha256(template.encode()).hexdigest()[:8] if self.context_dependent else "-"
        self.cache_key = (
            f"causal-lm:{self._ident}|mode={mode}|span={span if self.context_dependent else '-'}"
            f"|template={tmpl}|max_chars={self.max_chars}|max_tokens={max_tokens}"
            f"|pool=mean-last|dtype={str(self.dtype).removeprefix('torch.')}"
        )

    # ---------------------------------------------------------------- loading

    def _load(self, model: Any, tokenizer: Any) -> None:
        from transformers import AutoModel, AutoTokenizer

        if isinstance(model, (str, Path)):
            name = str(model)
            tokenizer = tokenizer or AutoTokenizer.from_pretrained(name)
            model = AutoModel.from_pretrained(name, dtype=self.dtype)
        elif tokenizer is None:
            raise ValueError("pass tokenizer= with a loaded model")
        else:
            name = getattr(model.config, "_name_or_path", "") or type(model).__name__
        self.name_or_path = name
        if tokenizer.pad_token_id is None:
            if tokenizer.eos_token is None:
                raise ValueError("the tokenizer has neither a pad nor an eos token")
            tokenizer.pad_token = tokenizer.eos_token
        self.tokenizer = tokenizer
        self.model = model.base_model.to(self.device, self.dtype).eval()  # no LM head needed
        params = inspect.signature(self.model.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._ident = _model_ident(name, self.model.config)
        probe = tokenizer("a")["input_ids"]
        bare = tokenizer("a", add_special_tokens=False)["input_ids"]
        self._bos = probe[: len(probe) - len(bare)] if probe[-len(bare):] == bare else []
        pre, rest = self.template.split("{text}", 1)
        mid, post = rest.split("{label}", 1)
        self._pre, self._mid, self._post = pre, mid, post

    def _layers(self) -> list[torch.nn.Module]:
        """The decoder layers: the model's ModuleList as long as config.num_hidden_layers."""
        n = getattr(self.model.config, "num_hidden_layers", None)
        for child in self.model.children():
            if isinstance(child, torch.nn.ModuleList) and len(child) == n:
                return list(child)
        raise ValueError(f"compile=True: no list of {n} decoder layers in {type(self.model).__name__}")

    def _compile_layers(self) -> None:
        for layer in self._layers():  # instance attribute; `del layer.forward` restores eager
            layer.forward = torch.compile(layer.forward, dynamic=True)

    def _uncompile(self, err: Exception) -> None:
        warnings.warn(f"torch.compile failed ({type(err).__name__}: {str(err)[:200]}); "
                      "embedding eagerly", RuntimeWarning, stacklevel=3)
        for layer in self._layers():
            del layer.forward
        self.compiled = False

    def __repr__(self) -> str:
        return f"CausalLMEmbedder({self._ident.split('#')[0]!r}, mode={self.mode!r})"

    # ---------------------------------------------------------------- text -> tokens

    def _clip(self, texts: list[str]) -> list[str]:
        texts = [_clip_chars(t, self.max_chars) for t in texts]
        for i, t in enumerate(texts):
            if not t:
                raise ValueError(f"item {i} is empty (or only whitespace): nothing to embed")
        if self.max_tokens is None:
            return texts
        enc = self.tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True)
        return [t if len(off) <= self.max_tokens else t[: off[self.max_tokens - 1][1]]
                for t, off in zip(texts, enc["offset_mapping"])]

    def _pieces(self, texts: list[str], labels: list[str] | None, query: bool = False) -> list[_Piece]:
        """Tokenise one segment per text: labelled, unlabelled (loo: up to `Label:`) or query."""
        pieces = []
        for i, text in enumerate(texts):
            head = self._pre + text
            if labels is not None:
                s = head + self._mid + labels[i] + self._post
                label_at = len(head) + len(self._mid)
            elif query:  # a test item: the original appends `Sentence: {text}` only
                s, label_at = head, len(head)
            else:  # loo's held-out example: its segment up to the (absent) label word
                s = head + self._mid.rstrip(" ")
                label_at = len(s)
            pieces.append(self._tokenize_piece(s, len(self._pre), len(head), label_at))
        return pieces

    def _tokenize_piece(self, s: str, t0: int, t1: int, label_at: int) -> _Piece:
        if not getattr(self.tokenizer, "is_fast", False):  # no offsets: tokenise parts apart
            parts = [s[:t0], s[t0:t1], s[t1:label_at], s[label_at:]]
            ids = [self.tokenizer(p, add_special_tokens=False)["input_ids"] if p else [] for p in parts]
            a, b, c = len(ids[0]), len(ids[0]) + len(ids[1]), sum(map(len, ids[:3]))
            tail = len(self.tokenizer(self._post, add_special_tokens=False)["input_ids"])
            return _Piece(sum(ids, []), (a, b), (0, c), tail if len(ids[3]) else 0)
        enc = self.tokenizer(s, add_special_tokens=False, return_offsets_mapping=True)
        off = [tuple(o) for o in enc["offset_mapping"]]
        seg_end = next((i for i, (st, e) in enumerate(off) if e > label_at and e > st), len(off))
        label_end = len(s) - len(self._post)
        tail = sum(1 for st, e in off if st >= label_end and e > st) if seg_end < len(off) else 0
        return _Piece(list(enc["input_ids"]), _token_span(off, t0, t1), (0, seg_end), tail)

    def _check_window(self, n_tokens: int, what: str) -> None:
        if self.window is not None and n_tokens > self.window:
            raise ValueError(
                f"{what} is {n_tokens} tokens, longer than the model's window of {self.window}: "
                "use fewer context examples or a smaller max_chars / max_tokens"
            )

    # ---------------------------------------------------------------- forward + pooling

    def _forward(self, ids_BT: torch.Tensor, mask_BT: torch.Tensor | None, past=None,
                 use_cache: bool = False):
        """Returns (hidden_BTD, cache); transformers >= 5.2x names the cache `cache`."""
        if self.compiled and mask_BT is None:
            mask_BT = torch.ones_like(ids_BT)  # one compiled graph, always with a mask
        kwargs = dict(input_ids=ids_BT, attention_mask=mask_BT, use_cache=use_cache,
                      **({self._cache_kw: past} if past is not None else {}))
        try:
            out = self.model(**kwargs)
        except Exception as err:  # compiled: no C++ compiler, unsupported op, ...
            if not self.compiled:
                raise
            self._uncompile(err)
            out = self.model(**kwargs)
        if not use_cache:
            return out.last_hidden_state, None
        key = "cache" if "cache" in out.keys() else "past_key_values"  # keys, not the v4 alias
        return out.last_hidden_state, out.get(key)

    @torch.inference_mode()
    def _pool(self, seqs: list[list[int]], spans: list[list[tuple[int, int]]], *,
              prefix: list[tuple[torch.Tensor, torch.Tensor]] | None = None,
              lead_LD: torch.Tensor | None = None, batch_size: int | None = None,
              progress: bool | None = None, desc: str = "embedding") -> np.ndarray:
        """Mean hidden state over each span of each sequence -> [sum of spans, D] float32.

        Sequences are sorted by length (longest first), right-padded and batched; `prefix` is a
        key/value cache that every sequence continues (expanded over the batch, never recomputed);
        `lead_LD` are prefix hidden states that every span also averages over (segment spans).
        """
        lead_sum_D = None if lead_LD is None else lead_LD.sum(0)
        n_lead = 0 if lead_LD is None else len(lead_LD)
        P = 0 if prefix is None else prefix[0][0].shape[-2]
        batch_size = batch_size or self.batch_size
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
        starts = np.cumsum([0] + [len(s) for s in spans])
        out = np.zeros((starts[-1], self.dim), np.float32)
        work = sum(len(s) + P for s in seqs)
        bar = tqdm(total=len(seqs), desc=desc, disable=not _show(progress, work), leave=False)
        i = 0
        while i < len(order):
            T = len(seqs[order[i]])
            B = max(1, min(batch_size, self.max_batch_tokens // (T + P), len(order) - i))
            batch = order[i: i + B]
            ids_BT = torch.full((B, T), self.tokenizer.pad_token_id, dtype=torch.long)
            mask_BT = torch.zeros((B, T), dtype=torch.long)
            for b, j in enumerate(batch):
                ids_BT[b, : len(seqs[j])] = torch.tensor(seqs[j])
                mask_BT[b, : len(seqs[j])] = 1
            if prefix is not None:
                mask_BT = torch.cat([torch.ones((B, P), dtype=torch.long), mask_BT], dim=1)
            mask = None if bool(mask_BT.all()) else mask_BT.to(self.device)
            past = None if prefix is None else _expand_cache(prefix, B, self.model)
            hidden_BTD = self._forward(ids_BT.to(self.device), mask, past)[0].float()
            for b, j in enumerate(batch):
                for s, (a, e) in enumerate(spans[j]):
                    sum_D = hidden_BTD[b, a:e].sum(0)
                    if lead_sum_D is not None:
                        sum_D = sum_D + lead_sum_D
                    out[starts[j] + s] = (sum_D / (e - a + n_lead)).cpu().numpy()
            bar.update(B)
            i += B
        bar.close()
        return out

    @torch.inference_mode()
    def _prefix(self, ids: list[int]):
        """One forward of the context prompt: (hidden [T, D], key/value cache per layer)."""
        hidden_BTD, cache = self._forward(torch.tensor([ids], device=self.device), None,
                                          use_cache=True)
        return hidden_BTD[0].float(), _cache_tensors(cache)

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
        texts = self._clip(check_texts(items))
        seqs = self.tokenizer(texts, add_special_tokens=True)["input_ids"]
        for s in seqs:
            self._check_window(len(s), "a text")
        spans = [[(0, len(s))] for s in seqs]
        flag = self.show_progress_bar if show_progress_bar is None else show_progress_bar
        return self._pool(seqs, spans, batch_size=batch_size, progress=flag)

    def _span(self, start: int, piece: _Piece, prev: _Piece | None) -> tuple[int, int]:
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
        ctx = self._clip(check_texts(context_items, "context_items"))
        labels = check_texts(context_label_words, "context_label_words")
        queries = check_texts(query_items, "query_items", allow_empty=True)
        queries = self._clip(queries) if queries else []
        if len(labels) != len(ctx):
            raise ValueError(f"{len(ctx)} context items but {len(labels)} label words")
        if any(not w.strip() for w in labels):
            raise ValueError("context label words must be non-empty")
        pieces = self._pieces(ctx, labels)
        starts = np.cumsum([len(self._bos)] + [len(p.ids) for p in pieces])
        prompt = self._bos + sum((p.ids for p in pieces), [])
        self._check_window(len(prompt), f"the prompt of {len(ctx)} labelled examples")
        flag = self.show_progress_bar
        need_prefix = self.mode == "vanilla" or queries
        if need_prefix:
            hidden_PD, kv = self._prefix(prompt)
        if self.mode == "vanilla":
            spans = [self._span(starts[i], p, pieces[i - 1] if i else None)
                     for i, p in enumerate(pieces)]
            ctx_KD = torch.stack([hidden_PD[a:b].mean(0) for a, b in spans]).cpu().numpy()
        else:  # loo: prompt i = the other labelled examples, then example i without its label
            held = self._pieces(ctx, None)
            seqs, spans = [], []
            for i, p in enumerate(held):
                others = [q for j, q in enumerate(pieces) if j != i]
                ids = self._bos + sum((q.ids for q in others), [])
                spans.append([self._span(len(ids), p, others[-1] if others else None)])
                seqs.append(ids + p.ids)
                self._check_window(len(seqs[-1]), f"leave-one-out prompt {i}")
            ctx_KD = self._pool(seqs, spans, progress=flag, desc="loo prompts")
        if not queries:
            return ctx_KD.astype(np.float32), np.zeros((0, self.dim), np.float32)
        qp = self._pieces(queries, None, query=True)
        self._check_window(len(prompt) + max(len(p.ids) for p in qp), "prompt + longest query")
        lead = hidden_PD[len(prompt) - pieces[-1].tail:] if self.span == "segment" else None
        qry_MD = self._pool([p.ids for p in qp], [[p.span(self.span)] for p in qp], prefix=kv,
                            lead_LD=lead, progress=flag, desc="queries")
        return ctx_KD.astype(np.float32), qry_MD


def _cache_tensors(cache) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Per-layer (keys, values) [1, H, T, Dh] from a transformers cache (v5 layers or v4 lists)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache))
    return [(k, v) for k, v in cache]  # legacy tuples


def _expand_cache(kv: list[tuple[torch.Tensor, torch.Tensor]], B: int, model):
    """A fresh DynamicCache holding the prefix for a batch of B (a view; the forward copies)."""
    from transformers import DynamicCache

    data = [(k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1)) for k, v in kv]
    try:
        return DynamicCache(ddp_cache_data=data, config=model.config)
    except TypeError:  # transformers 4.x
        return DynamicCache.from_legacy_cache(tuple(data))


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
        self.mode, self.batch_size, self.normalize, self.max_chars = mode, batch_size, normalize, max_chars
        self.show_progress_bar = show_progress_bar
        self.model = SentenceTransformer(str(model), device=str(self.device))
        if dtype is not None:
            self.model.to(resolve_dtype(dtype, self.device))
        self.model.eval()
        dim_fn = getattr(self.model, "get_embedding_dimension", None) or \
            self.model.get_sentence_embedding_dimension
        self.dim = dim_fn()
        first = self.model[0]
        cfg = getattr(getattr(first, "auto_model", None), "config", None)
        ident = _model_ident(str(model), cfg) if cfg is not None else str(model)
        self.cache_key = (f"sentence:{ident}|max_chars={max_chars}|normalize={normalize}"
                          f"|max_seq_length={self.model.max_seq_length}|dtype={dtype or 'float32'}")

    def __repr__(self) -> str:
        return f"SentenceEmbedder({self.cache_key.split('#')[0]!r})"

    def encode(self, items: Sequence[str], *, batch_size: int | None = None,
               show_progress_bar: bool | None = None) -> np.ndarray:
        texts = [_clip_chars(t, self.max_chars) for t in check_texts(items)]
        flag = self.show_progress_bar if show_progress_bar is None else show_progress_bar
        vecs = self.model.encode(
            texts, batch_size=batch_size or self.batch_size,
            show_progress_bar=bool(flag) if flag is not None else len(texts) >= 1024,
            convert_to_numpy=True, normalize_embeddings=self.normalize,
        )
        return np.asarray(vecs, dtype=np.float32)
