"""Fine-tuning baselines of `tart eval`, trained on the k context examples only.

- `linear_head`: a linear layer trained with torch on the frozen (standardised) embeddings;
- `lora`: LoRA adapters (peft) on the causal LM, trained to put the right label word first after
  `Sentence: {text}\\nLabel:` (cross-entropy over the two label words' next-token logits) and
  classifying by the same two log-probabilities (prompt parts from `tart.embed.prompted`);
- `setfit`: the `setfit` library (contrastive fine-tuning + logistic head) on the packaged MiniLM.

Each has a step budget so a grid cell stays bounded on a CPU.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Sequence

import numpy as np
import torch

from tart.embed.prompted import DEFAULT_TEMPLATE, Template, clip_chars, ensure_pad_token, label_token_ids
from tart.embed.names import locate


def linear_head(Xc: np.ndarray, yc: np.ndarray, Xq: np.ndarray, steps: int = 300, lr: float = 0.05,
                weight_decay: float = 1e-2, seed: int = 0) -> np.ndarray:
    """Full-batch AdamW on a linear layer over standardised embeddings (BCE loss; softmax
    cross-entropy for more than two classes). Probabilities [m, L] (labels 0..L-1)."""
    mu, sd = Xc.mean(0), Xc.std(0) + 1e-6
    L = max(2, int(np.max(yc)) + 1)
    g = torch.Generator().manual_seed(seed)
    x = torch.tensor((Xc - mu) / sd, dtype=torch.float32)
    y = torch.tensor(yc, dtype=torch.float32 if L == 2 else torch.long)
    head = torch.nn.Linear(x.shape[1], 1 if L == 2 else L)
    with torch.no_grad():
        head.weight.normal_(0, 0.01, generator=g)
        head.bias.zero_()
    opt = torch.optim.AdamW(head.parameters(), lr=lr, weight_decay=weight_decay)
    for _ in range(steps):
        opt.zero_grad()
        if L == 2:
            loss = torch.nn.functional.binary_cross_entropy_with_logits(head(x).squeeze(1), y)
        else:
            loss = torch.nn.functional.cross_entropy(head(x), y)
        loss.backward()
        opt.step()
    with torch.no_grad():
        q = torch.tensor((Xq - mu) / sd, dtype=torch.float32)
        if L == 2:
            p1 = torch.sigmoid(head(q).squeeze(1).double()).numpy()
            return np.stack([1.0 - p1, p1], axis=1)
        return torch.softmax(head(q).double(), 1).numpy()


def lora(model_path: str | Path, texts: Sequence[str], y: np.ndarray, queries: Sequence[str],
         label_words: Sequence[str], epochs: int = 4, max_steps: int = 48, batch_size: int = 8,
         lr: float = 1e-3, rank: int = 8, max_chars: int = 200, seed: int = 0,
         template: str = DEFAULT_TEMPLATE) -> np.ndarray:
    """LoRA fine-tuning of a causal LM (a folder, hub id or known name) on the k examples;
    label-word log-prob classification."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    torch.manual_seed(seed)
    model_path = locate(model_path)
    prompt = Template.parse(template)
    tok = AutoTokenizer.from_pretrained(str(model_path))
    ensure_pad_token(tok)
    tok.padding_side = "left"
    lm = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch.float32)
    targets = [n for n in ("q_proj", "v_proj") if any(n in m for m, _ in lm.named_modules())] or None
    model = get_peft_model(lm, LoraConfig(r=rank, lora_alpha=2 * rank, lora_dropout=0.05,
                                          target_modules=targets, task_type="CAUSAL_LM"))
    label_ids = label_token_ids(tok, prompt, label_words)

    def logits2(batch: Sequence[str]) -> torch.Tensor:
        """Next-token logits of the two label words after each prompt, [B, 2]."""
        prompts = [prompt.question(clip_chars(t, max_chars)) for t in batch]
        enc = tok(prompts, return_tensors="pt", padding=True)  # left padding: last position is real
        mask = enc["attention_mask"]
        out = model(input_ids=enc["input_ids"], attention_mask=mask, logits_to_keep=1,
                    position_ids=(mask.cumsum(1) - 1).clamp(min=0)).logits
        return out[:, -1, label_ids]

    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr)
    y_t = torch.as_tensor(np.asarray(y), dtype=torch.long)
    rng = np.random.default_rng(seed)
    model.train()
    batches = [order[s: s + batch_size] for _ in range(epochs)
               for order in [rng.permutation(len(texts))] for s in range(0, len(texts), batch_size)]
    for batch in batches[:max_steps]:
        loss = torch.nn.functional.cross_entropy(logits2([texts[i] for i in batch]), y_t[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    preds = []
    with torch.inference_mode():
        for s in range(0, len(queries), 16):
            lg = logits2(list(queries[s: s + 16]))
            preds.append((lg[:, 1] > lg[:, 0]).long().numpy())
    return np.concatenate(preds)


def setfit(texts: Sequence[str], y: np.ndarray, queries: Sequence[str], model_path: str | Path | None = None,
           num_iterations: int = 5, max_steps: int = 60, batch_size: int = 16, seed: int = 0) -> np.ndarray:
    """SetFit (sentence-pair contrastive fine-tuning + logistic head), default the packaged MiniLM;
    any number of classes (labels 0..L-1, all in the context). Probabilities [m, L]."""
    from datasets import Dataset
    from setfit import SetFitModel, Trainer, TrainingArguments

    model = SetFitModel.from_pretrained(str(locate(model_path or "minilm")))
    train = Dataset.from_dict({"text": list(texts), "label": [int(v) for v in y]})
    with tempfile.TemporaryDirectory() as tmp:  # nothing is saved; keep stray files out of the cwd
        args = TrainingArguments(output_dir=tmp, batch_size=batch_size, num_epochs=1,
                                 num_iterations=num_iterations, max_steps=max_steps, seed=seed,
                                 save_strategy="no", report_to="none", show_progress_bar=False)
        Trainer(model=model, args=args, train_dataset=train).train()
    proba = np.asarray(model.predict_proba(list(queries), as_numpy=True), dtype=np.float64)
    if proba.shape[1] != len(np.unique(y)):
        raise ValueError(f"SetFit's head has {proba.shape[1]} classes, the context {len(np.unique(y))}")
    return proba
