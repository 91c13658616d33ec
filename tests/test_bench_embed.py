"""bench-embed on a tiny random Llama: the batched embedder agrees with the original's loop."""

from __future__ import annotations

import argparse
import json

import pytest

from tart.bench import embed as bench

from test_embed import CORPUS, tiny_path  # noqa: F401  (the tiny model fixture)
from test_embed import _fp32_for_exactness_checks  # noqa: F401  (autouse)

TEXTS = CORPUS * 3


@pytest.mark.parametrize("mode", ["stream", "vanilla"])
@pytest.mark.slow
def test_bench_embed_agrees_with_the_loop(tiny_path, mode):  # noqa: F811
    r = bench.bench_embed(str(tiny_path), mode=mode, n_texts=12, batch_size=4, k=4,
                          texts=TEXTS, device="cpu")
    assert r["loop_texts_timed"] == 12 and r["n_texts"] == 12 and r["k"] == (4 if mode == "vanilla" else 0)
    assert r["max_abs_diff"] < 1e-4
    assert r["ours_texts_per_s"] > 0 and r["loop_texts_per_s"] > 0 and r["speedup"] > 0
    assert r["peak_rss_mib"] >= r["peak_rss_mib_ours"] > 0
    assert "speedup" in bench.format_result(r)
    assert r["rounds"] == 4 and len(r["speedup_per_round"]) == 4
    assert r["compiled"] is False and r["warmup_s"] > 0


def test_bench_embed_rounds(tiny_path):  # noqa: F811
    """One round times each side once; more rounds than loop texts are capped; 0 is an error."""
    one = bench.bench_embed(str(tiny_path), n_texts=6, loop_texts=3, rounds=1, texts=TEXTS,
                            device="cpu")
    assert one["rounds"] == 1 and len(one["speedup_per_round"]) == 1 and one["max_abs_diff"] < 1e-4
    many = bench.bench_embed(str(tiny_path), n_texts=6, loop_texts=3, rounds=9, texts=TEXTS,
                             device="cpu")
    assert many["rounds"] == 3 and many["max_abs_diff"] < 1e-4
    with pytest.raises(ValueError, match="rounds"):
        bench.bench_embed(str(tiny_path), n_texts=6, rounds=0, texts=TEXTS, device="cpu")


def test_bench_embed_cli(tiny_path, capsys, monkeypatch):  # noqa: F811
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command")
    bench.add_parser(sub)
    args = parser.parse_args(["bench-embed", "--model", str(tiny_path), "--n-texts", "6",
                              "--loop-texts", "3", "--max-chars", "none", "--json"])
    monkeypatch.setattr(bench, "_default_texts", lambda n, seed: TEXTS[:n])
    assert bench.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["benchmark"] == "embed" and out["loop_texts_timed"] == 3 and out["max_chars"] is None
    with pytest.raises(ValueError, match="stream"):
        bench.bench_embed(str(tiny_path), mode="loo", texts=TEXTS)
