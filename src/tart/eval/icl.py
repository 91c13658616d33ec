"""In-context learning baseline: the same causal LM reads k labelled examples and the query.

The prompt is TART's template, `Sentence: {text}\\nLabel: {label}\\n` per context example, then
`Sentence: {query}\\nLabel:`; the prediction compares the next-token log-probabilities of the two
label words (their first tokens, with the template's leading space), never parsed generated text.
The k-example prompt runs once and its key/value cache is reused for every batch of queries.

Small LMs are biased towards one label word, so `decision_function` also offers contextual
calibration (Zhao et al., 2021) without looking at any test label: the same prompt is scored with
content-free queries ("N/A", "", "[MASK]"), their label probabilities are averaged, and the
calibrated log-odds are the raw log-odds minus the content-free log-odds.

Legend: B batch, T tokens, V vocabulary, D hidden width.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from tart.embed.text import (DEFAULT_TEMPLATE, _cache_tensors, _clip_chars, _expand_cache,
                             resolve_device, resolve_dtype)

CONTENT_FREE = ("N/A", "", "[MASK]")


class ICLClassifier:
    """k-shot in-context classification by a causal LM, scored by label-word log-probabilities."""

    def __init__(self, model: str | Path = "smollm2", label_words: Sequence[str] = ("negative", "positive"),
                 template: str = DEFAULT_TEMPLATE, max_chars: int | None = 100, batch_size: int = 16,
                 device: str | None = None, dtype: str | torch.dtype | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        if str(model) == "smollm2":
            from tart import assets

            model = assets.model_path("smollm2")
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model))
        lm = AutoModelForCausalLM.from_pretrained(str(model), dtype=self.dtype).to(self.device).eval()
        self.body, self.head = lm.base_model, lm.get_output_embeddings()
        self._cache_kw = "cache" if "cache" in inspect.signature(self.body.forward).parameters else "past_key_values"
        self.window = getattr(lm.config, "max_position_embeddings", None)
        self.max_chars, self.batch_size = max_chars, batch_size
        if self.tokenizer.pad_token_id is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token
        pre, rest = template.split("{text}", 1)
        mid, post = rest.split("{label}", 1)
        self._pre, self._mid, self._post = pre, mid, post
        self._ask = mid.rstrip(" ")  # the query ends at "Label:"; the label word's token has the space
        self.label_words = tuple(label_words)
        if len(self.label_words) != 2:
            raise ValueError(f"label_words needs 2 words, got {label_words!r}")
        spacer = mid[len(self._ask):]
        ids = [self.tokenizer(spacer + w, add_special_tokens=False)["input_ids"][0] for w in self.label_words]
        if ids[0] == ids[1]:
            raise ValueError(f"the label words {self.label_words} start with the same token")
        self.label_ids = ids
        probe, bare = self.tokenizer("a")["input_ids"], self.tokenizer("a", add_special_tokens=False)["input_ids"]
        self._bos = probe[: len(probe) - len(bare)]

    def _clip(self, text: str) -> str:
        return _clip_chars(text, self.max_chars)

    def prompt_tokens(self, context_texts: Sequence[str], context_y: Sequence[int]) -> list[int]:
        """Token ids of the k-example prompt (BOS included)."""
        text = "".join(self._pre + self._clip(t) + self._mid + self.label_words[int(y)] + self._post
                       for t, y in zip(context_texts, context_y))
        return self._bos + self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def fit(self, context_texts: Sequence[str], context_y: Sequence[int]) -> "ICLClassifier":
        """Run the k-example prompt once and keep its key/value cache."""
        if len(context_texts) != len(context_y) or not len(context_texts):
            raise ValueError("give as many context labels as context texts, at least one")
        ids = self.prompt_tokens(context_texts, context_y)
        self._check_window(len(ids) + 1, f"the {len(context_texts)}-example prompt")
        with torch.inference_mode():
            out = self.body(input_ids=torch.tensor([ids], device=self.device), use_cache=True)
        self._kv = _cache_tensors(getattr(out, "cache", None) or out.past_key_values)
        self._n_prefix = len(ids)
        return self

    def _check_window(self, n_tokens: int, what: str) -> None:
        if self.window is not None and n_tokens > self.window:
            raise ValueError(f"{what} needs {n_tokens} tokens; the LM's window is {self.window}")

    @torch.inference_mode()
    def label_logprobs(self, queries: Sequence[str]) -> np.ndarray:
        """Log-probabilities [m, 2] of the two label words as the next token after each query."""
        seqs = [self.tokenizer(self._pre + self._clip(q) + self._ask, add_special_tokens=False)["input_ids"]
                for q in queries]
        self._check_window(self._n_prefix + max(map(len, seqs)), "prompt + longest query")
        out = np.zeros((len(seqs), 2))
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
        for s in range(0, len(order), self.batch_size):
            batch = order[s: s + self.batch_size]
            B, T = len(batch), len(seqs[batch[0]])
            ids_BT = torch.full((B, T), self.tokenizer.pad_token_id, dtype=torch.long)
            mask_BT = torch.zeros((B, self._n_prefix + T), dtype=torch.long)
            mask_BT[:, : self._n_prefix] = 1
            for b, j in enumerate(batch):
                ids_BT[b, : len(seqs[j])] = torch.tensor(seqs[j])
                mask_BT[b, self._n_prefix: self._n_prefix + len(seqs[j])] = 1
            past = _expand_cache(self._kv, B, self.body)
            hidden_BTD = self.body(input_ids=ids_BT.to(self.device), attention_mask=mask_BT.to(self.device),
                                   use_cache=True, **{self._cache_kw: past}).last_hidden_state
            last_BD = hidden_BTD[torch.arange(B), torch.tensor([len(seqs[j]) - 1 for j in batch])]
            logp_BV = torch.log_softmax(self.head(last_BD).float(), dim=-1)
            out[batch] = logp_BV[:, self.label_ids].cpu().numpy()
        return out

    def content_free_logodds(self) -> float:
        """Log-odds of label 1 for the content-free queries (their probabilities averaged)."""
        p_C2 = _two_way(self.label_logprobs(list(CONTENT_FREE))).mean(0)
        return float(np.log(p_C2[1]) - np.log(p_C2[0]))

    def decision_function(self, queries: Sequence[str], calibrate: bool = False) -> np.ndarray:
        """Log-odds [m] of label 1 over label 0; `calibrate` subtracts the content-free log-odds."""
        lp_M2 = self.label_logprobs(queries)
        raw_M = lp_M2[:, 1] - lp_M2[:, 0]
        return raw_M - self.content_free_logodds() if calibrate else raw_M

    def predict(self, queries: Sequence[str], calibrate: bool = False) -> np.ndarray:
        return (self.decision_function(queries, calibrate) > 0).astype(int)


def _two_way(lp_M2: np.ndarray) -> np.ndarray:
    """Probabilities renormalised over the two label words."""
    p = np.exp(lp_M2 - lp_M2.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)
