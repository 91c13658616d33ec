"""Evaluation: the few-shot evaluation on real data and the synthetic evaluations.

Few-shot: `methods` (the registry: every method by name, what it needs, its largest k), `runner`
(one loop: setups, nested class-balanced contexts, resumable runs.jsonl), `report` (tables, plots,
verdicts, Markdown reports), `contexts` and `probes`; `demo` is `tart demo` on the runner; `icl`
and `finetune` are the in-context and fine-tuning baselines. Synthetic: `synthetic`, `synthetic_set`.
"""
