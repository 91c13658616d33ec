"""Embedders carry the fingerprint of the weights they loaded, and their cache keys include it.

A model folder or file retrained in place (same names, same size) gets a new cache key, so
`CachedEmbedder` computes new vectors instead of serving the old ones. Tiny random models are
built here: a Llama causal LM, a BERT sentence-transformers folder, a MobileNetV2 `.pth`.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch

from tart.embed import CachedEmbedder, get_embedder
from tart.embed.runtime import weights_fingerprint
from tart.fingerprint import model_fingerprint

TEXTS = ["great coffee", "stale chips", "fine tea, fast shipping", "awful"]


@pytest.fixture(autouse=True)
def _home(tmp_path, monkeypatch):
    monkeypatch.setenv("TART_HOME", str(tmp_path / "home"))  # fingerprint memo and caches here


def _vocab_tokenizer(path):
    from transformers import BertTokenizerFast

    words = sorted({w for t in TEXTS for w in t.replace(",", " ,").split()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ",", *words]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n")
    return BertTokenizerFast(vocab_file=str(path / "vocab.txt"))


def _llama_folder(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM

    path = tmp_path / "llama"
    path.mkdir()
    tok = _vocab_tokenizer(path)
    tok.eos_token = "[SEP]"
    cfg = LlamaConfig(vocab_size=len(tok), hidden_size=16, intermediate_size=32,
                      num_hidden_layers=1, num_attention_heads=2, num_key_value_heads=1,
                      max_position_embeddings=64)
    torch.manual_seed(0)
    LlamaForCausalLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _sentence_folder(tmp_path):
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Pooling, Transformer
    from transformers import BertConfig, BertModel

    raw = tmp_path / "raw"
    raw.mkdir()
    tok = _vocab_tokenizer(raw)
    torch.manual_seed(0)
    BertModel(BertConfig(vocab_size=len(tok), hidden_size=16, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=32)).save_pretrained(raw)
    tok.save_pretrained(raw)
    st = SentenceTransformer(modules=[Transformer(str(raw)), Pooling(16)])
    st.save(str(tmp_path / "st"))
    return tmp_path / "st"


def _retrain_in_place(weights_file, scale=1.5):
    """Rewrite a safetensors file with other values: same names, shapes, size."""
    from safetensors.torch import load_file, save_file

    size = os.path.getsize(weights_file)
    tensors = load_file(weights_file)
    save_file({k: (v * scale if v.is_floating_point() else v) for k, v in tensors.items()},
              weights_file, metadata={"format": "pt"})
    assert os.path.getsize(weights_file) == size


@pytest.mark.parametrize("kind", ["causal-lm", "sentence"])
def test_a_folder_retrained_in_place_is_not_served_the_old_vectors(kind, tmp_path):
    folder = (_llama_folder if kind == "causal-lm" else _sentence_folder)(tmp_path)
    opts = {"dtype": "float32"} if kind == "causal-lm" else {}
    before = CachedEmbedder(get_embedder(str(folder), kind=kind, **opts), cache_dir=tmp_path / "c")
    old = before.encode(TEXTS)
    weights = next(folder.rglob("model.safetensors"))
    _retrain_in_place(weights)
    fresh = get_embedder(str(folder), kind=kind, **opts)
    after = CachedEmbedder(fresh, cache_dir=tmp_path / "c")
    new = after.encode(TEXTS)
    assert after.misses == len(TEXTS) and after.hits == 0  # not served from the old key
    assert not np.allclose(new, old, rtol=1e-3, atol=0)
    np.testing.assert_array_equal(new, fresh.encode(TEXTS))
    assert after.cache_key != before.cache_key
    assert after.fingerprint == model_fingerprint(folder) != before.fingerprint


@pytest.mark.slow
def test_a_retrained_pth_gets_a_new_key(tmp_path):
    from tart.embed.vision import MobileNetV2

    torch.manual_seed(0)
    net = MobileNetV2().eval()
    torch.save(net.state_dict(), tmp_path / "w.pth")
    imgs = [np.random.default_rng(i).integers(0, 256, (32, 32, 3), dtype=np.uint8) for i in range(2)]
    before = CachedEmbedder(get_embedder(str(tmp_path / "w.pth"), image_size=32, device="cpu"),
                            cache_dir=tmp_path / "c")
    old = before.encode(imgs)
    with torch.no_grad():
        net.features[9].conv[1][0].weight.mul_(-1.0)  # a layer stored mid-file
    torch.save(net.state_dict(), tmp_path / "w.pth")
    fresh = get_embedder(str(tmp_path / "w.pth"), image_size=32, device="cpu")
    after = CachedEmbedder(fresh, cache_dir=tmp_path / "c")
    assert after.cache_key != before.cache_key
    new = after.encode(imgs)
    assert after.misses == 2 and not np.allclose(new, old, rtol=1e-3, atol=0)
    np.testing.assert_array_equal(new, fresh.encode(imgs))


def test_loaded_modules_are_fingerprinted_by_their_tensors(tmp_path):
    from transformers import AutoModel, AutoTokenizer

    folder = _llama_folder(tmp_path)
    model, tok = AutoModel.from_pretrained(folder), AutoTokenizer.from_pretrained(folder)
    a = get_embedder(folder, dtype="float32")  # by path: the folder's sha256
    b = type(a)(model, tokenizer=tok, dtype="float32")
    assert a.fingerprint.startswith("sha256:") and b.fingerprint.startswith("tensors:")
    with torch.no_grad():
        model.layers[0].mlp.up_proj.weight.add_(1.0)
    c = type(a)(model, tokenizer=tok, dtype="float32")
    assert c.fingerprint != b.fingerprint and c.cache_key != b.cache_key


def test_hub_ids_are_keyed_by_the_commit_they_resolved(tmp_path):
    class Cfg:
        _commit_hash = "0123abcd" * 5

    class Loaded(torch.nn.Linear):
        config = Cfg()

    m = Loaded(2, 2)
    assert weights_fingerprint("org/model", m) == f"hub:org/model@{Cfg._commit_hash}"
    Cfg._commit_hash = None  # unknown revision: fall back to the tensors actually loaded
    assert weights_fingerprint("org/model", m).startswith("tensors:")
    assert get_embedder("features").fingerprint == "identity"


def test_gguf_folder_is_keyed_by_the_whole_file(tmp_path):
    """Two GGUF files of the same name and size that differ only in the middle: two folders."""
    from tart.embed.gguf import _out_dir

    f = tmp_path / "m.gguf"
    blob = bytearray(os.urandom(3 << 20))
    f.write_bytes(bytes(blob))
    first = _out_dir(f)
    blob[len(blob) // 2] ^= 0xFF
    f.write_bytes(bytes(blob))
    assert _out_dir(f) != first and _out_dir(f).name.startswith("m-")
