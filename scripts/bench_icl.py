"""In-context scoring speed: queries packed behind the cached prompt against padded batches.

`tart.eval.icl.ICLClassifier` (the demo's in-context baseline) runs the k-example prompt once and
scores every query behind its key/value cache. `PromptedLM.pack` (the default where the model's
attention takes a prepared mask) runs a batch's queries in one row behind one copy of that cache;
`pack = False` runs them as a padded batch, whose attention concatenates the cache expanded over
the batch. Both score the same queries behind the same prompt (SmolLM2-135M, Amazon fine-food
reviews, the demo's pool and test set, class-balanced contexts of k examples), taking turns over
`--rounds` rounds; the table gives seconds per query (over all rounds), the ratio and the largest
difference between the two's label log-probabilities.

    python scripts/bench_icl.py --report docs/bench_icl.md
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ks", type=int, nargs="+", default=[16, 32, 64, 128])
    ap.add_argument("--queries", type=int, default=48, help="queries per round")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--report", type=Path, default=None)
    args = ap.parse_args()

    from tart.datasets import load_dataset
    from tart.eval.contexts import balanced_context, balanced_test
    from tart.eval.icl import ICLClassifier

    ds = load_dataset("amazon_food")
    pool = np.random.default_rng(0).permutation(len(ds.train_items))[:800]  # the demo's pool
    tests = [ds.test_items[i] for i in balanced_test(ds.test_labels, 200)]
    icl = ICLClassifier("smollm2", label_words=ds.label_names)
    rows = []
    for k in args.ks:
        idx = balanced_context(ds.train_labels[pool], k, 0)
        icl.fit([ds.train_items[pool[i]] for i in idx], ds.train_labels[pool][idx])
        seconds, logprobs = {True: 0.0, False: 0.0}, {True: [], False: []}
        for r in range(args.rounds):
            queries = tests[r * args.queries: (r + 1) * args.queries]
            for pack in ((True, False) if r % 2 == 0 else (False, True)):
                icl.lm.pack = pack
                t0 = time.perf_counter()
                logprobs[pack].append(icl.label_logprobs(queries))
                seconds[pack] += time.perf_counter() - t0
        n = args.rounds * args.queries
        diff = float(np.abs(np.concatenate(logprobs[True]) - np.concatenate(logprobs[False])).max())
        rows.append((k, icl._n_prefix, seconds[True] / n, seconds[False] / n, diff))
        print(f"k={k}: prompt {icl._n_prefix} tokens, packed {seconds[True] / n:.3f} s/query, "
              f"padded {seconds[False] / n:.3f} s/query, max |diff| {diff:.1e}", flush=True)
    lines = ["# In-context scoring: packed queries against padded batches", "",
             f"Written by `python scripts/bench_icl.py{' --report ' + str(args.report) if args.report else ''}` "
             f"(its docstring says what is timed): {platform.processor() or platform.machine()}, "
             f"{torch.get_num_threads()} torch threads (OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}), "
             f"torch {torch.__version__}; {args.rounds} rounds of {args.queries} queries, turns alternating.", "",
             "| k | prompt tokens | packed (s/query) | padded (s/query) | padded / packed | max abs diff of log-probs |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {k} | {p} | {a:.3f} | {b:.3f} | {b / a:.1f}x | {d:.1e} |" for k, p, a, b, d in rows]
    if args.report:
        args.report.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
