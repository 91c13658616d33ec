"""Evaluation: the few-shot grid on real data (methods, runner, reports) and the synthetic evaluations."""
