"""A causal LM reading TART's prompts, shared by the text embedder's modes (`tart.embed.text`), the
in-context baseline (`tart.eval.icl`) and the LoRA baseline (`tart.eval.finetune`).

- `Template`: `Sentence: {text}\\nLabel: {label}\\n` split into its parts; a labelled example,
  and a question that ends where the label word would start.
- tokenizer facts: the BOS ids it adds, a pad token, the first tokens of the label words.
- `PromptedLM`: the LM's body with its context window, one forward of a prompt prefix that keeps
  the key/value cache, and batches of sequences that continue that prefix (never recomputed):
  packed in one row behind one copy of the cache, each sequence masked to the prefix and itself,
  where the attention takes a prepared mask; else padded, the cache expanded over the batch;
  optionally `torch.compile`d decoder layers.

Legend: B batch, T tokens, P prefix tokens, N a packed row's tokens, K = P + N keys, D hidden
width, H heads, Dh head width.
"""

from __future__ import annotations

import inspect
import warnings
from dataclasses import dataclass
from typing import Any, Iterator, Sequence

import torch
from tqdm.auto import tqdm

__all__ = ["DEFAULT_TEMPLATE", "KV", "Template", "PromptedLM", "clip_chars", "ensure_pad_token",
           "bos_ids", "label_token_ids", "cache_tensors", "expand_cache"]

DEFAULT_TEMPLATE = "Sentence: {text}\nLabel: {label}\n"

KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values) [B, H, T, Dh]
PACKED_ATTENTION = ("sdpa", "eager")  # attention implementations that take a prepared 4-D mask
PACK_TOKENS = 2048  # most tokens in one packed row (besides the prefix)


@dataclass(frozen=True)
class Template:
    """A prompt template cut at `{text}` and `{label}`: pre + text + mid + label + post."""

    pre: str
    mid: str
    post: str

    @classmethod
    def parse(cls, template: str) -> "Template":
        if "{text}" not in template or "{label}" not in template or \
                template.index("{text}") > template.index("{label}"):
            raise ValueError("template must contain {text} and then {label}")
        pre, rest = template.split("{text}", 1)
        mid, post = rest.split("{label}", 1)
        return cls(pre, mid, post)

    @property
    def ask(self) -> str:
        """`mid` without its trailing spaces: a question ends at "Label:"; the label word's first
        token carries the space."""
        return self.mid.rstrip(" ")

    def example(self, text: str, label: str) -> str:
        return self.pre + text + self.mid + label + self.post

    def question(self, text: str) -> str:
        return self.pre + text + self.ask


def clip_chars(text: str, max_chars: int | None) -> str:
    """The stripped text, cut to max_chars characters (None: no cut)."""
    text = text.strip()
    return text if max_chars is None else text[:max_chars]


def ensure_pad_token(tokenizer: Any) -> None:
    """Pad with the EOS token where the tokenizer has no pad token."""
    if tokenizer.pad_token_id is None:
        if tokenizer.eos_token is None:
            raise ValueError("the tokenizer has neither a pad nor an eos token")
        tokenizer.pad_token = tokenizer.eos_token


def bos_ids(tokenizer: Any) -> list[int]:
    """The ids the tokenizer puts before a text's own tokens (e.g. [BOS]), else []."""
    probe = tokenizer("a")["input_ids"]
    bare = tokenizer("a", add_special_tokens=False)["input_ids"]
    return probe[: len(probe) - len(bare)] if probe[-len(bare):] == bare else []


def label_token_ids(tokenizer: Any, template: Template, words: Sequence[str]) -> list[int]:
    """The first token of each label word as it follows a question (with the template's space)."""
    spacer = template.mid[len(template.ask):]
    ids = [tokenizer(spacer + w, add_special_tokens=False)["input_ids"][0] for w in words]
    if len(set(ids)) < len(ids):
        raise ValueError(f"the label words {tuple(words)} start with the same token")
    return ids


def cache_tensors(cache: Any) -> KV:
    """Per-layer (keys, values) [1, H, T, Dh] from a transformers cache (v5 layers or v4 lists)."""
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    if hasattr(cache, "key_cache"):
        return list(zip(cache.key_cache, cache.value_cache))
    return [(k, v) for k, v in cache]  # legacy tuples


def expand_cache(kv: KV, B: int, model: Any) -> Any:
    """A fresh DynamicCache holding the prefix for a batch of B (a view; the forward copies)."""
    from transformers import DynamicCache

    data = [(k.expand(B, -1, -1, -1), v.expand(B, -1, -1, -1)) for k, v in kv]
    try:
        return DynamicCache(ddp_cache_data=data, config=model.config)
    except TypeError:  # transformers 4.x
        return DynamicCache.from_legacy_cache(tuple(data))


class PromptedLM:
    """A causal LM's body (no LM head) and tokenizer, on `device`, running prompts.

    `window`: the model's context length (None if its config does not say); `bos`: the ids the
    tokenizer adds before a text. The tokenizer gets a pad token (its EOS) if it lacks one.
    """

    def __init__(self, body: torch.nn.Module, tokenizer: Any, device: torch.device):
        ensure_pad_token(tokenizer)
        self.model, self.tokenizer, self.device = body, tokenizer, device
        self.bos = bos_ids(tokenizer)
        self.window = (getattr(body.config, "max_position_embeddings", None)
                       or getattr(body.config, "n_positions", None))
        params = inspect.signature(body.forward).parameters
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self.compiled = False
        # sequences that continue a prefix run packed where the attention takes a prepared 4-D
        # additive mask (transformers' eager and SDPA attention do); False: padded batches
        self.pack = getattr(body.config, "_attn_implementation", None) in PACKED_ATTENTION

    def check_window(self, n_tokens: int, what: str) -> None:
        if self.window is not None and n_tokens > self.window:
            raise ValueError(
                f"{what} is {n_tokens} tokens, longer than the model's window of {self.window}: "
                "use fewer context examples or a smaller max_chars / max_tokens"
            )

    # ---------------------------------------------------------------- compiled layers

    def layers(self) -> list[torch.nn.Module]:
        """The decoder layers: the model's ModuleList as long as config.num_hidden_layers."""
        n = getattr(self.model.config, "num_hidden_layers", None)
        for child in self.model.children():
            if isinstance(child, torch.nn.ModuleList) and len(child) == n:
                return list(child)
        raise ValueError(f"compile=True: no list of {n} decoder layers in {type(self.model).__name__}")

    def compile(self) -> None:
        """`torch.compile` each decoder layer (dynamic shapes: the layers share one graph)."""
        for layer in self.layers():  # instance attribute; `del layer.forward` restores eager
            layer.forward = torch.compile(layer.forward, dynamic=True)
        self.compiled = True

    def _uncompile(self, err: Exception) -> None:
        warnings.warn(f"torch.compile failed ({type(err).__name__}: {str(err)[:200]}); "
                      "embedding eagerly", RuntimeWarning, stacklevel=4)
        for layer in self.layers():
            del layer.forward
        self.compiled = False

    # ---------------------------------------------------------------- forward passes

    def forward(self, ids_BT: torch.Tensor, mask_BT: torch.Tensor | None, past: Any = None,
                use_cache: bool = False, position_ids_BT: torch.Tensor | None = None) -> tuple[torch.Tensor, Any]:
        """(hidden_BTD, cache); transformers >= 5.2x names the cache `cache`. `mask_BT` is a 2-D
        padding mask or a prepared 4-D one (with `position_ids_BT`: packed sequences)."""
        if self.compiled and mask_BT is None:
            mask_BT = torch.ones_like(ids_BT)  # one compiled graph, always with a mask
        kwargs = dict(input_ids=ids_BT, attention_mask=mask_BT, use_cache=use_cache,
                      **({self._cache_kw: past} if past is not None else {}),
                      **({"position_ids": position_ids_BT} if position_ids_BT is not None else {}))
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
    def prefix(self, ids: list[int]) -> tuple[torch.Tensor, KV]:
        """One forward of a prompt: (hidden_PD in the model's dtype, its key/value cache)."""
        hidden_BPD, cache = self.forward(torch.tensor([ids], device=self.device), None,
                                         use_cache=True)
        return hidden_BPD[0], cache_tensors(cache)

    @torch.inference_mode()
    def batches(self, seqs: Sequence[list[int]], batch_size: int, *, prefix: KV | None = None,
                max_batch_tokens: int | None = None, progress: bool = False,
                desc: str = "embedding") -> Iterator[tuple[list[int], torch.Tensor]]:
        """(indices into seqs, hidden_BTD) per batch, in the model's dtype.

        Sequences are sorted by length (longest first) and right-padded; a batch holds at most
        batch_size sequences and max_batch_tokens padded tokens (prefix included). `prefix` is a
        key/value cache that every sequence continues: where the model takes a prepared mask (`pack`),
        a batch's sequences run packed in one row after one copy of the prefix.
        """
        P = 0 if prefix is None else prefix[0][0].shape[-2]
        packed = prefix is not None and self.pack
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
        bar = tqdm(total=len(seqs), desc=desc, disable=not progress, leave=False)
        i = 0
        while i < len(order):
            T = len(seqs[order[i]])
            cap = batch_size if max_batch_tokens is None else max_batch_tokens // (T + P)
            if packed:
                cap = min(cap, PACK_TOKENS // T)  # the packed row's mask is N x (P + N)
            B = max(1, min(batch_size, cap, len(order) - i))
            batch = order[i: i + B]
            run = self._packed if packed else self._padded
            yield batch, run([seqs[j] for j in batch], prefix, T)
            bar.update(B)
            i += B
        bar.close()

    def _padded(self, seqs: Sequence[list[int]], prefix: KV | None, T: int) -> torch.Tensor:
        """Sequences right-padded to T in one batch (continuing `prefix`, expanded over it)."""
        B = len(seqs)
        ids_BT = torch.full((B, T), self.tokenizer.pad_token_id, dtype=torch.long)
        mask_BT = torch.zeros((B, T), dtype=torch.long)
        for b, s in enumerate(seqs):
            ids_BT[b, : len(s)] = torch.tensor(s)
            mask_BT[b, : len(s)] = 1
        if prefix is not None:
            mask_BT = torch.cat([torch.ones((B, prefix[0][0].shape[-2]), dtype=torch.long), mask_BT], dim=1)
        mask = None if bool(mask_BT.all()) else mask_BT.to(self.device)
        past = None if prefix is None else expand_cache(prefix, B, self.model)
        return self.forward(ids_BT.to(self.device), mask, past)[0]

    def _packed(self, seqs: Sequence[list[int]], prefix: KV, T: int) -> torch.Tensor:
        """Sequences that continue `prefix`, run as one row: each token sees the prefix and the
        earlier tokens of its own sequence, at the positions it would have right after the prefix.
        Returns hidden_BTD (zeros past each sequence's end) as the padded batch's. The prefix's
        cache is copied once per batch instead of once per sequence (a padded batch's attention
        concatenates an expanded cache: most of its time with a long prompt)."""
        P = prefix[0][0].shape[-2]
        lens = torch.tensor([len(s) for s in seqs])
        owner_N = torch.repeat_interleave(torch.arange(len(seqs)), lens)
        local_N = torch.cat([torch.arange(int(n)) for n in lens])
        sees_NN = (owner_N[:, None] == owner_N[None, :]) & (local_N[None, :] <= local_N[:, None])
        sees_NK = torch.cat([torch.ones(len(owner_N), P, dtype=torch.bool), sees_NN], dim=1)
        dtype = prefix[0][0].dtype
        mask_11NK = torch.zeros(sees_NK.shape, dtype=dtype).masked_fill(~sees_NK, torch.finfo(dtype).min)[None, None]
        ids_1N = torch.tensor([[t for s in seqs for t in s]])
        hidden_1ND = self.forward(ids_1N.to(self.device), mask_11NK.to(self.device), expand_cache(prefix, 1, self.model),
                                  position_ids_BT=(P + local_N)[None].to(self.device))[0]
        hidden_BTD = hidden_1ND.new_zeros(len(seqs), T, hidden_1ND.shape[-1])
        hidden_BTD[owner_N.to(self.device), local_N.to(self.device)] = hidden_1ND[0]
        return hidden_BTD
