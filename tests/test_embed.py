"""Embedders: pooling, TART's text modes and their spans, key/value reuse, the cache, bad input.

Most tests use a tiny random Llama with a byte-level BPE tokenizer trained here, saved to a
temporary folder and loaded by path like any real model. The last ones use the packaged
SmolLM2 and MiniLM installed by `tart assets install`; they FAIL (not skip) when those are
missing, so a broken set-up step cannot pass CI silently.
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from tart.embed import CachedEmbedder, get_embedder
from tart.embed import runtime
from tart.embed.runtime import resolve_dtype
from tart.embed.text import CausalLMEmbedder
from probe import balanced_slice, probe_accuracy


@pytest.fixture(autouse=True)
def _fp32_for_exactness_checks(request, monkeypatch):
    """The tiny-model checks compare fp32 paths at 1e-5; the automatic bf16 choice on AMX CPUs
    is exercised by the real-model tests and test_auto_dtype."""
    if "real" not in request.node.name and "auto_dtype" not in request.node.name:
        monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: False)


def test_auto_dtype(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_dtype("float32", cpu) == torch.float32
    assert resolve_dtype(None, torch.device("cuda")) == torch.bfloat16
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: True)
    assert resolve_dtype("auto", cpu) == torch.bfloat16
    monkeypatch.setattr(runtime, "cpu_has_fast_bf16", lambda: False)
    assert resolve_dtype(None, cpu) == torch.float32

CORPUS = [
    "I loved this coffee, rich and smooth.",
    "Terrible. Stale chips and the bag was open!",
    "ok",
    "The best dog treats my picky beagle has ever had; she begs for them.",
    "Arrived broken and the seller never answered.",
    "Tastes like cardboard.",
    "Great value, will buy again!!",
    "Not bad, not great: average tea.",
]
LABELS = ["positive", "negative", "negative", "positive"]


def _train_tokenizer():
    from tokenizers import ByteLevelBPETokenizer
    from transformers import PreTrainedTokenizerFast

    bpe = ByteLevelBPETokenizer()
    lines = [f"Sentence: {t}\nLabel: {w}\n" for t in CORPUS for w in ("positive", "negative")]
    bpe.train_from_iterator(lines * 20, vocab_size=400, min_frequency=1,
                            special_tokens=["<|endoftext|>"])
    return PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|endoftext|>")


@pytest.fixture(scope="module")
def tiny_path(tmp_path_factory):
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = _train_tokenizer()
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=32, intermediate_size=64,
                      num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                      max_position_embeddings=512, eos_token_id=tok.eos_token_id)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("tiny_llama")
    LlamaForCausalLM(cfg).eval().save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def lm(tiny_path):
    from transformers import AutoModel, AutoTokenizer

    return AutoModel.from_pretrained(tiny_path).eval(), AutoTokenizer.from_pretrained(tiny_path)


def _mean_over_chars(lm, prompt: str, start: int, end: int) -> np.ndarray:
    """Independent reference: tokenise the whole prompt, one forward, mean over the tokens whose
    characters overlap [start, end)."""
    model, tok = lm
    enc = tok(prompt, return_offsets_mapping=True)
    idx = [i for i, (s, e) in enumerate(enc["offset_mapping"]) if e > start and s < end]
    with torch.no_grad():
        hidden = model(input_ids=torch.tensor([enc["input_ids"]])).last_hidden_state[0]
    return hidden[idx].mean(0).numpy()


def _prompt(texts, labels):
    """The k-example prompt and the character span of each text in it."""
    prompt, spans = "", []
    for t, w in zip(texts, labels):
        prompt += "Sentence: "
        spans.append((len(prompt), len(prompt) + len(t)))
        prompt += f"{t}\nLabel: {w}\n"
    return prompt, spans


# ------------------------------------------------------------------------------- stream


@pytest.mark.slow
def test_stream_batched_equals_one_at_a_time_and_ignores_padding(tiny_path, lm):
    emb = CausalLMEmbedder(tiny_path, mode="stream", batch_size=4)
    batched = emb.encode(CORPUS)
    single = np.stack([emb.encode([t], batch_size=1)[0] for t in CORPUS])
    assert batched.shape == (len(CORPUS), 32) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, single, atol=1e-5)
    for i, t in enumerate(CORPUS):  # the mean covers the text's tokens, nothing else
        np.testing.assert_allclose(batched[i], _mean_over_chars(lm, t, 0, len(t)), atol=1e-5)
    assert emb.cache_key.startswith("causal-lm:") and "mode=stream" in emb.cache_key


@pytest.mark.slow
def test_compile_matches_eager_and_falls_back(tiny_path, monkeypatch):
    """compile=True (stream): compiled decoder layers give the eager vectors; when compiling
    fails the embedder warns and embeds eagerly; in-context modes refuse it."""
    eager = CausalLMEmbedder(tiny_path, batch_size=4).encode(CORPUS)
    emb = CausalLMEmbedder(tiny_path, batch_size=4, compile=True)
    assert emb.compiled
    np.testing.assert_allclose(emb.encode(CORPUS), eager, atol=1e-5)
    np.testing.assert_allclose(emb.encode(CORPUS[:1]), eager[:1], atol=1e-5)  # no padding
    assert emb.compiled or not shutil.which("c++"), "compiling failed despite a C++ compiler"

    def broken(fn, **kw):
        def run(*a, **k):
            raise RuntimeError("no C++ compiler")
        return run
    monkeypatch.setattr(torch, "compile", broken)
    emb = CausalLMEmbedder(tiny_path, batch_size=4, compile=True)
    with pytest.warns(RuntimeWarning, match="no C\\+\\+ compiler"):
        np.testing.assert_allclose(emb.encode(CORPUS), eager, atol=1e-5)
    assert not emb.compiled and "forward" not in vars(emb.lm.layers()[0])
    with pytest.raises(ValueError, match="stream"):
        CausalLMEmbedder(tiny_path, mode="vanilla", compile=True)


def test_truncation_by_chars_and_tokens(tiny_path):
    text = "  " + CORPUS[3] + "  "
    emb = CausalLMEmbedder(tiny_path, max_chars=10)
    np.testing.assert_allclose(emb.encode([text]), emb.encode([CORPUS[3][:10]]), atol=1e-6)
    emb = CausalLMEmbedder(tiny_path, max_chars=None, max_tokens=3)
    ids = emb.tokenizer(CORPUS[3], add_special_tokens=False)["input_ids"][:3]
    cut = emb.tokenizer.decode(ids)
    np.testing.assert_allclose(emb.encode([CORPUS[3]]), emb.encode([cut]), atol=1e-6)
    assert "max_tokens=3" in emb.cache_key


# ------------------------------------------------------------------------------- vanilla / loo


def test_vanilla_spans_cover_the_text_and_not_the_label(tiny_path, lm):
    ctx, queries = CORPUS[:4], CORPUS[4:]
    emb = CausalLMEmbedder(tiny_path, mode="vanilla", batch_size=2)
    c, q = emb.encode_with_context(ctx, LABELS, queries)
    assert c.shape == (4, 32) and q.shape == (4, 32)
    prompt, spans = _prompt(ctx, LABELS)
    for i, (a, b) in enumerate(spans):
        np.testing.assert_allclose(c[i], _mean_over_chars(lm, prompt, a, b), atol=1e-5)
    for j, t in enumerate(queries):  # test items: prompt + "Sentence: {text}", mean over text
        full = prompt + "Sentence: " + t
        np.testing.assert_allclose(q[j], _mean_over_chars(lm, full, len(full) - len(t), len(full)),
                                   atol=1e-5)
    # the label word of example i is outside its span; later examples do see it
    flipped = LABELS[:1] + ["positive"] + LABELS[2:]
    c2, _ = emb.encode_with_context(ctx, flipped, queries[:1])
    np.testing.assert_allclose(c2[:2], c[:2], atol=1e-6)
    assert np.abs(c2[2:] - c[2:]).max() > 1e-4


def test_vanilla_kv_cache_reuse_equals_full_prompt_forward(tiny_path):
    """Queries of different lengths in padded batches behind the cached prompt == one full
    forward of prompt + query each (batch_size=1 and no cache reuse ordering effects)."""
    emb = CausalLMEmbedder(tiny_path, mode="vanilla", batch_size=3)
    _, q = emb.encode_with_context(CORPUS[:4], LABELS, CORPUS)
    pieces = emb.pieces(emb.clip(CORPUS[:4]), LABELS)
    prompt = sum((p.ids for p in pieces), [])
    ref = []
    for p in emb.pieces(emb.clip(CORPUS), None, query=True):
        a, b = p.span("text")
        ref.append(emb._pool([prompt + p.ids], [[(len(prompt) + a, len(prompt) + b)]])[0])
    np.testing.assert_allclose(q, np.stack(ref), atol=1e-5)


def test_packed_continuations_equal_padded_batches(lm):
    """Sequences that continue a cached prefix run packed in one row (the prefix copied once per
    batch): each sees the prefix and its own earlier tokens only, so the hidden states equal
    those of the padded batch, sequence by sequence, at every real token."""
    from tart.embed.prompted import PromptedLM

    model, tok = lm
    plm = PromptedLM(model, tok, torch.device("cpu"))
    assert plm.pack, "the test model's attention should take a prepared mask"
    _, kv = plm.prefix(tok("Sentence: fine\nLabel: positive\n")["input_ids"])
    seqs = [tok(t, add_special_tokens=False)["input_ids"] for t in CORPUS[:5]]
    packed = dict(_hidden_by_seq(plm, seqs, kv))
    plm.pack = False
    padded = dict(_hidden_by_seq(plm, seqs, kv))
    assert len({len(s) for s in seqs}) > 1 and packed.keys() == padded.keys() == set(range(5))
    for j, s in enumerate(seqs):
        np.testing.assert_allclose(packed[j][: len(s)], padded[j][: len(s)], atol=1e-5)


def _hidden_by_seq(plm, seqs, kv):
    for batch, hidden_BTD in plm.batches(seqs, 3, prefix=kv):
        for b, j in enumerate(batch):
            yield j, hidden_BTD[b].numpy()


def test_segment_span_matches_the_original_label_token_rule(tiny_path, lm):
    """span='segment' reproduces HazyResearch/TART: from after the previous label token to
    before this one; test items from after the last label token to the end."""
    model, tok = lm
    pos, neg = (tok(f" {w}", add_special_tokens=False)["input_ids"] for w in ("positive", "negative"))
    assert len(pos) == len(neg) == 1, "the test tokenizer should keep label words whole"
    ctx, queries = CORPUS[:4], CORPUS[4:6]
    emb = CausalLMEmbedder(tiny_path, mode="vanilla", span="segment")
    c, q = emb.encode_with_context(ctx, LABELS, queries)
    prompt, _ = _prompt(ctx, LABELS)
    with torch.no_grad():
        ids = tok(prompt)["input_ids"]
        h = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
        at = [i for i, t in enumerate(ids) if t in (pos[0], neg[0])]
        ref = [h[(at[i - 1] + 1 if i else 0): at[i]].mean(0).numpy() for i in range(4)]
        np.testing.assert_allclose(c, np.stack(ref), atol=1e-5)
        for j, t in enumerate(queries):
            ids = tok(prompt + f"Sentence: {t}")["input_ids"]
            h = model(input_ids=torch.tensor([ids])).last_hidden_state[0]
            np.testing.assert_allclose(q[j], h[at[-1] + 1:].mean(0).numpy(), atol=1e-5)


def test_loo_holds_out_example_i_and_its_label(tiny_path, lm):
    ctx = CORPUS[:4]
    emb = CausalLMEmbedder(tiny_path, mode="loo", batch_size=3)
    c, q = emb.encode_with_context(ctx, LABELS, CORPUS[4:6])
    for i in range(4):  # prompt i: the others, labelled, then example i alone
        others = [j for j in range(4) if j != i]
        prompt, _ = _prompt([ctx[j] for j in others], [LABELS[j] for j in others])
        full = prompt + "Sentence: " + ctx[i]
        np.testing.assert_allclose(c[i], _mean_over_chars(lm, full, len(full) - len(ctx[i]),
                                                           len(full)), atol=1e-5)
    # example i's own label never reaches its vector; it does reach every other example's
    flipped = ["negative"] + LABELS[1:]
    c2, _ = emb.encode_with_context(ctx, flipped, [])
    np.testing.assert_allclose(c2[0], c[0], atol=1e-6)
    assert np.abs(c2[1:] - c[1:]).max() > 1e-4
    # test items are embedded exactly as in vanilla
    _, qv = CausalLMEmbedder(tiny_path, mode="vanilla").encode_with_context(ctx, LABELS, CORPUS[4:6])
    np.testing.assert_allclose(q, qv, atol=1e-6)


def test_context_modes_need_the_context_and_fit_the_window(tiny_path):
    emb = CausalLMEmbedder(tiny_path, mode="vanilla")
    assert emb.context_dependent
    with pytest.raises(TypeError, match="encode_with_context"):
        emb.encode(CORPUS)
    with pytest.raises(ValueError, match="label words"):
        emb.encode_with_context(CORPUS[:4], LABELS[:3], CORPUS[4:])
    long = CausalLMEmbedder(tiny_path, mode="vanilla", max_chars=None)
    with pytest.raises(ValueError, match="window of 512"):
        long.encode_with_context([CORPUS[3] * 4] * 12, ["positive"] * 12, CORPUS[:1])


# ------------------------------------------------------------------------------- bad input, registry


def test_bad_input_errors(tiny_path):
    emb = CausalLMEmbedder(tiny_path)
    with pytest.raises(ValueError, match="no items"):
        emb.encode([])
    with pytest.raises(TypeError, match=r"items\[1\] is a int"):
        emb.encode(["fine", 3])
    with pytest.raises(TypeError, match="list of strings"):
        emb.encode("a single string")
    with pytest.raises(ValueError, match="empty"):
        emb.encode(["fine", "   "])
    with pytest.raises(ValueError, match="mode"):
        CausalLMEmbedder(tiny_path, mode="nope")


def test_get_embedder_registry(tiny_path):
    with pytest.raises(ValueError, match="smollm2.*minilm"):
        get_embedder("no-such-model")
    with pytest.raises(ValueError, match="kind"):
        get_embedder("smollm2", kind="vision")
    with pytest.raises(FileNotFoundError):
        get_embedder("/nowhere/model.gguf")
    emb = get_embedder(str(tiny_path), mode="vanilla", max_chars=50, device="cpu")
    assert isinstance(emb, CausalLMEmbedder) and emb.mode == "vanilla" and emb.max_chars == 50
    assert get_embedder(emb) is emb


# ------------------------------------------------------------------------------- cache


class _Counting:
    def __init__(self, inner):
        self.inner, self.cache_key, self.context_dependent, self.seen = inner, inner.cache_key, False, []

    def encode(self, items, **kw):
        self.seen.extend(items)
        return self.inner.encode(items, **kw)


def test_cache_embeds_each_text_once(tiny_path, tmp_path):
    counting = _Counting(CausalLMEmbedder(tiny_path))
    cached = CachedEmbedder(counting, cache_dir=tmp_path)
    first = cached.encode(CORPUS[:5])
    again = cached.encode([CORPUS[4], CORPUS[6], CORPUS[0], CORPUS[4]])
    assert counting.seen == CORPUS[:5] + [CORPUS[6]]
    np.testing.assert_array_equal(again[0], first[4])
    np.testing.assert_array_equal(again[3], first[4])
    fresh = CachedEmbedder(counting, cache_dir=tmp_path)  # another process: same file
    np.testing.assert_array_equal(fresh.encode(CORPUS[:2]), first[:2])
    assert fresh.hits == 2 and fresh.misses == 0 and len(counting.seen) == 6


def test_cache_context_modes(tiny_path, tmp_path):
    cached = CachedEmbedder(CausalLMEmbedder(tiny_path, mode="vanilla"), cache_dir=tmp_path)
    c1, q1 = cached.encode_with_context(CORPUS[:4], LABELS, CORPUS[4:])
    c2, q2 = cached.encode_with_context(CORPUS[:4], LABELS, CORPUS[4:])
    assert cached.hits == 8 and cached.misses == 8
    np.testing.assert_array_equal(c1, c2)
    np.testing.assert_array_equal(q1, q2)
    with pytest.raises(TypeError, match="encode_with_context"):
        cached.encode(CORPUS)


# ------------------------------------------------------------------------------- real models


def _asset(name):
    from tart import assets

    # a missing asset FAILS: scripts/setup.sh must have installed it
    assert assets.is_installed(name), f"{name} not installed: run `tart assets install {name}`"
    return assets.model_path(name)


REVIEWS = [f"{a} {b}" for a in ("Great", "Awful", "Fine", "Stale", "Lovely", "Bland")
           for b in ("coffee.", "dog food, my dog hated it.", "tea, fast shipping!",
                     "snack bars; would buy again.")]


@pytest.mark.assets
def test_real_smollm2_stream_and_vanilla():
    path = _asset("smollm2")
    emb = get_embedder("smollm2", batch_size=8)
    x = emb.encode(REVIEWS)
    assert x.shape == (24, 576) and x.dtype == np.float32 and np.isfinite(x).all()
    np.testing.assert_array_equal(x, emb.encode(REVIEWS))
    one = CausalLMEmbedder(path, batch_size=1)
    one.model = emb.model
    tol = 0.05 if emb.dtype == torch.bfloat16 else 1e-3  # bf16 on AMX CPUs: batch-dependent rounding
    np.testing.assert_allclose(one.encode(REVIEWS[:6]), x[:6], atol=tol, rtol=tol)
    van = CausalLMEmbedder(path, mode="vanilla")
    van.model = emb.model
    c, q = van.encode_with_context(REVIEWS[:4], LABELS, REVIEWS[4:8])
    assert c.shape == (4, 576) and q.shape == (4, 576) and np.isfinite(c).all()


def _tweets(per_class: int):
    from tart.datasets import load_dataset

    d = load_dataset("tweets")  # packaged: a missing asset fails
    return balanced_slice(d.train_items, d.train_labels, per_class)


@pytest.mark.assets
def test_real_smollm2_accuracy_floor():
    """Negative vs positive tweets, 64 fresh (chance 0.5): measured 0.81 (fp32), random weights
    0.58; reviews (amazon_food) separate too weakly at this size (0.65 on 160) for a clear floor."""
    _asset("smollm2")
    texts, y = _tweets(32)
    acc = probe_accuracy(get_embedder("smollm2", max_chars=100, batch_size=32).encode(texts), y)
    assert acc >= 0.66, f"SmolLM2 probe accuracy {acc:.3f} on 64 tweets (chance 0.5)"


@pytest.mark.assets
def test_real_minilm_accuracy_floor():
    """Negative vs positive tweets, 96 fresh (chance 0.5): measured 0.78, random weights 0.60."""
    _asset("minilm")
    texts, y = _tweets(48)
    acc = probe_accuracy(get_embedder("minilm", max_chars=128).encode(texts), y)
    assert acc >= 0.66, f"MiniLM probe accuracy {acc:.3f} on 96 tweets (chance 0.5)"


@pytest.mark.assets
def test_real_minilm():
    _asset("minilm")
    emb = get_embedder("minilm")
    x = emb.encode(REVIEWS)
    assert x.shape == (24, 384) and x.dtype == np.float32 and np.isfinite(x).all()
    np.testing.assert_allclose(x, emb.encode(REVIEWS), atol=1e-6)
    assert emb.cache_key.startswith("sentence:")


def test_cache_keys_arrays_by_content(tmp_path):
    class Sum:
        cache_key, context_dependent, calls = "sum", False, 0

        def encode(self, items, **kw):
            Sum.calls += len(items)
            return np.array([[float(np.sum(a)), float(len(a))] for a in items], np.float32)

    cached = CachedEmbedder(Sum(), cache_dir=tmp_path)
    a, b = np.arange(5, dtype=np.float32), np.ones(3, np.float32)
    np.testing.assert_array_equal(cached.encode([a, b]), [[10, 5], [3, 3]])
    np.testing.assert_array_equal(cached.encode([b, a.copy()]), [[3, 3], [10, 5]])
    assert Sum.calls == 2  # second call served from disk
    cached.encode([a.astype(np.float64)])  # another dtype is another item
    assert Sum.calls == 3
    with pytest.raises(TypeError, match="cannot cache"):
        cached.encode([object()])
