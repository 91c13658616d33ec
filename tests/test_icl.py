import numpy as np
import pytest
import torch

from conftest import needs_asset
from tart.eval.icl import CONTENT_FREE, ICLClassifier, renormalised
from test_embed import CORPUS, _fp32_for_exactness_checks, tiny_path  # noqa: F401  (fixtures)


def _reference_logprobs(path, prompt: str, label_ids) -> np.ndarray:
    """Independent reference: the whole prompt in one forward of AutoModelForCausalLM."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path)
    lm = AutoModelForCausalLM.from_pretrained(path).eval()
    with torch.no_grad():
        logits = lm(input_ids=torch.tensor([tok(prompt)["input_ids"]])).logits[0, -1]
    return torch.log_softmax(logits, -1)[label_ids].numpy()


@pytest.mark.slow
def test_cached_prompt_scoring_equals_a_full_forward(tiny_path):  # noqa: F811
    icl = ICLClassifier(tiny_path, device="cpu", dtype="float32", batch_size=3).fit(CORPUS[:4], [1, 0, 0, 1])
    queries = CORPUS[4:8]
    lp = icl.label_logprobs(queries)
    words = ["negative", "positive"]
    prompt = "".join(f"Sentence: {t}\nLabel: {words[y]}\n" for t, y in zip(CORPUS[:4], [1, 0, 0, 1]))
    for q, row in zip(queries, lp):
        ref = _reference_logprobs(tiny_path, prompt + f"Sentence: {q}\nLabel:", icl.label_ids)
        np.testing.assert_allclose(row, ref, atol=1e-4)
    raw = icl.decision_function(queries)
    np.testing.assert_allclose(raw, lp[:, 1] - lp[:, 0])
    cf = renormalised(icl.label_logprobs(list(CONTENT_FREE))).mean(0)
    np.testing.assert_allclose(icl.decision_function(queries, calibrate=True), raw - np.log(cf[1] / cf[0]))
    assert set(icl.predict(queries)) <= {0, 1}


def test_any_number_of_label_words(tiny_path):  # noqa: F811
    """Three classes: the words' probabilities renormalised, calibration divides by the
    content-free ones, the prompt shows each example's own word; log-odds refuse three words."""
    words = ("negative", "neutral", "positive")
    icl = ICLClassifier(tiny_path, label_words=words, device="cpu", dtype="float32").fit(CORPUS[:6], [2, 0, 1, 1, 0, 2])
    queries = CORPUS[6:9]
    lp = icl.label_logprobs(queries)
    prompt = "".join(f"Sentence: {t}\nLabel: {words[y]}\n" for t, y in zip(CORPUS[:6], [2, 0, 1, 1, 0, 2]))
    for q, row in zip(queries, lp):
        np.testing.assert_allclose(row, _reference_logprobs(tiny_path, prompt + f"Sentence: {q}\nLabel:", icl.label_ids),
                                   atol=1e-4)
    p = icl.predict_proba(queries)
    assert p.shape == (len(queries), 3) and np.allclose(p.sum(1), 1.0)
    np.testing.assert_allclose(p, np.exp(lp) / np.exp(lp).sum(1, keepdims=True))
    cf = renormalised(icl.label_logprobs(list(CONTENT_FREE))).mean(0)
    cal = p / cf
    np.testing.assert_allclose(icl.predict_proba(queries, calibrate=True), cal / cal.sum(1, keepdims=True))
    assert list(icl.predict(queries)) == list(p.argmax(1))
    with pytest.raises(ValueError, match="two label words"):
        icl.decision_function(queries)
    with pytest.raises(ValueError, match="at least 2"):
        ICLClassifier(tiny_path, label_words=("positive",))


def test_window_and_bad_input(tiny_path):  # noqa: F811
    icl = ICLClassifier(tiny_path, device="cpu", dtype="float32", max_chars=None)
    with pytest.raises(ValueError, match="window"):
        icl.fit(CORPUS * 20, [0, 1] * 80)
    with pytest.raises(ValueError, match="context labels"):
        icl.fit(CORPUS[:3], [0, 1])
    with pytest.raises(ValueError, match="same token"):
        ICLClassifier(tiny_path, label_words=("positive", "positive"))


@needs_asset("smollm2")
def test_real_smollm2_icl_scores_reviews():
    icl = ICLClassifier("smollm2").fit(["Delicious, my kids love it.", "Stale and overpriced."], [1, 0])
    queries = ["Fantastic snack!", "Awful taste.", "It arrived on time and tastes fine, I suppose."]
    lp = icl.label_logprobs(queries)
    assert lp.shape == (3, 2) and np.isfinite(lp).all() and (lp < 0).all()
    assert icl.lm.pack  # the queries ran packed behind the prompt: the same as padded batches
    icl.lm.pack = False
    np.testing.assert_allclose(icl.label_logprobs(queries), lp, atol=1e-4)
