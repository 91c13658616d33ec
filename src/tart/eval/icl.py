"""In-context learning baseline: the same causal LM reads k labelled examples and the query.

The prompt is TART's template, `Sentence: {text}\\nLabel: {label}\\n` per context example, then
`Sentence: {query}\\nLabel:`; the prediction compares the next-token log-probabilities of the
label words, one per class, any number (their first tokens, with the template's leading space),
never parsed generated text. `predict_proba` renormalises their probabilities over the words.
The k-example prompt runs once and its key/value cache is reused for every batch of queries
(`tart.embed.prompted.PromptedLM`, shared with the text embedder).

Small LMs are biased towards one label word, so `decision_function` also offers contextual
calibration (Zhao et al., 2021) without looking at any test label: the same prompt is scored with
content-free queries ("N/A", "", "[MASK]"), their label probabilities are averaged, and each
class's probability is divided by its content-free probability (then renormalised); for two
classes, the calibrated log-odds are the raw log-odds minus the content-free log-odds.

Legend: B batch, T tokens, V vocabulary, D hidden width, L label words (classes).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from tart.embed.prompted import DEFAULT_TEMPLATE, PromptedLM, Template, clip_chars, label_token_ids
from tart.embed.names import locate
from tart.embed.runtime import resolve_device, resolve_dtype

CONTENT_FREE = ("N/A", "", "[MASK]")


class ICLClassifier:
    """k-shot in-context classification by a causal LM, scored by label-word log-probabilities."""

    def __init__(self, model: str | Path = "smollm2", label_words: Sequence[str] = ("negative", "positive"),
                 template: str = DEFAULT_TEMPLATE, max_chars: int | None = 100, batch_size: int = 16,
                 device: str | None = None, dtype: str | torch.dtype | None = None):
        from transformers import AutoModelForCausalLM, AutoTokenizer

        model = locate(model)
        self.device = resolve_device(device)
        self.dtype = resolve_dtype(dtype, self.device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model))
        lm = AutoModelForCausalLM.from_pretrained(str(model), dtype=self.dtype).to(self.device).eval()
        self.lm = PromptedLM(lm.base_model, self.tokenizer, self.device)
        self.head = lm.get_output_embeddings()
        self.max_chars, self.batch_size = max_chars, batch_size
        self.template = Template.parse(template)
        self.label_words = tuple(label_words)
        if len(self.label_words) < 2:
            raise ValueError(f"label_words needs a word per class, at least 2, got {label_words!r}")
        self.label_ids = label_token_ids(self.tokenizer, self.template, self.label_words)

    def _clip(self, text: str) -> str:
        return clip_chars(text, self.max_chars)

    def prompt_tokens(self, context_texts: Sequence[str], context_y: Sequence[int]) -> list[int]:
        """Token ids of the k-example prompt (BOS included)."""
        text = "".join(self.template.example(self._clip(t), self.label_words[int(y)])
                       for t, y in zip(context_texts, context_y))
        return self.lm.bos + self.tokenizer(text, add_special_tokens=False)["input_ids"]

    def fit(self, context_texts: Sequence[str], context_y: Sequence[int]) -> "ICLClassifier":
        """Run the k-example prompt once and keep its key/value cache."""
        if len(context_texts) != len(context_y) or not len(context_texts):
            raise ValueError("give as many context labels as context texts, at least one")
        ids = self.prompt_tokens(context_texts, context_y)
        self.lm.check_window(len(ids) + 1, f"the {len(context_texts)}-example prompt")
        self._kv = self.lm.prefix(ids)[1]
        self._n_prefix = len(ids)
        return self

    @torch.inference_mode()
    def label_logprobs(self, queries: Sequence[str]) -> np.ndarray:
        """Log-probabilities [m, L] of the label words as the next token after each query."""
        seqs = [self.tokenizer(self.template.question(self._clip(q)), add_special_tokens=False)["input_ids"]
                for q in queries]
        self.lm.check_window(self._n_prefix + max(map(len, seqs)), "prompt + longest query")
        out = np.zeros((len(seqs), len(self.label_ids)))
        for batch, hidden_BTD in self.lm.batches(seqs, self.batch_size, prefix=self._kv):
            last_BD = hidden_BTD[torch.arange(len(batch)), torch.tensor([len(seqs[j]) - 1 for j in batch])]
            logp_BV = torch.log_softmax(self.head(last_BD).float(), dim=-1)
            out[batch] = logp_BV[:, self.label_ids].cpu().numpy()
        return out

    def content_free_probs(self) -> np.ndarray:
        """The label words' probabilities [L] (renormalised) for the content-free queries, averaged."""
        return renormalised(self.label_logprobs(list(CONTENT_FREE))).mean(0)

    def content_free_logodds(self) -> float:
        """Log-odds of label 1 for the content-free queries (two label words)."""
        self._check_two_words()
        p_L = self.content_free_probs()
        return float(np.log(p_L[1]) - np.log(p_L[0]))

    def predict_proba(self, queries: Sequence[str], calibrate: bool = False) -> np.ndarray:
        """Probabilities [m, L] of the classes: the label words' probabilities renormalised over
        the words; `calibrate` divides each by its content-free probability first."""
        lp_ML = self.label_logprobs(queries)
        return calibrated(lp_ML, self.content_free_probs()) if calibrate else renormalised(lp_ML)

    def decision_function(self, queries: Sequence[str], calibrate: bool = False) -> np.ndarray:
        """Log-odds [m] of label 1 over label 0 (two label words); `calibrate` subtracts the
        content-free log-odds."""
        self._check_two_words()
        lp_M2 = self.label_logprobs(queries)
        raw_M = lp_M2[:, 1] - lp_M2[:, 0]
        return raw_M - self.content_free_logodds() if calibrate else raw_M

    def predict(self, queries: Sequence[str], calibrate: bool = False) -> np.ndarray:
        """Class indices [m]: the most probable label word."""
        return self.predict_proba(queries, calibrate).argmax(1)

    def _check_two_words(self) -> None:
        if len(self.label_ids) != 2:
            raise ValueError(f"log-odds need two label words; this classifier has {len(self.label_ids)} "
                             "(use predict_proba)")


def renormalised(lp_ML: np.ndarray) -> np.ndarray:
    """Probabilities renormalised over the label words."""
    p = np.exp(lp_ML - lp_ML.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def calibrated(lp_ML: np.ndarray, content_free_L: np.ndarray) -> np.ndarray:
    """Contextual calibration: each word's probability divided by its content-free one, renormalised."""
    return renormalised(lp_ML - np.log(content_free_L))
