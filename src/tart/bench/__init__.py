"""Benchmarks: speed against same-run baselines (ratios, since machines are noisy)."""
